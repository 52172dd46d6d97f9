//! The shared store suite (`keeper_store::conformance`) against PostgreSQL
//! through PgBouncer in transaction pooling mode (`.ci/pgbouncer`), Keeper told
//! so with `Pooler::Transaction`: every operation must keep to one transaction,
//! leave no prepared statement another client could trip on, and keep no
//! session state (the identify claims, the migrations' lock).

mod common;

keeper_store::conformance_tests!(common::PooledFixture);
