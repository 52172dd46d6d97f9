//! The shared store suite (`keeper_store::conformance`) against MySQL or
//! MariaDB, one fresh database per test.

mod common;

keeper_store::conformance_tests!(common::MySqlFixture);
