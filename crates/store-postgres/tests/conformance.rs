//! The shared store suite (`keeper_store::conformance`) against PostgreSQL, one
//! fresh database per test.

mod common;

keeper_store::conformance_tests!(common::PgFixture);
