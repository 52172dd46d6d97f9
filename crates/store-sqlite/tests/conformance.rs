//! The shared store suite (`keeper_store::conformance`) against SQLite, one fresh
//! database file per test.

mod common;

keeper_store::conformance_tests!(common::SqliteFixture);
