use async_trait::async_trait;

use crate::StoreResult;

/// The store as a whole: which backend it is, whether it answers, its schema, and
/// closing it.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Which backend this is, for `keeper check` and logs: `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// A cheap round trip proving the database answers.
    async fn health_check(&self) -> StoreResult<()>;

    /// The highest migration version applied to the database.
    async fn schema_version(&self) -> StoreResult<i64>;

    /// Row counts per table, for `keeper check`.
    async fn table_counts(&self) -> StoreResult<Vec<(&'static str, i64)>>;

    /// What in the database's own configuration an operator should change, one
    /// sentence each; empty when nothing. `keeper check` prints them and `keeper
    /// run` logs them at start-up.
    async fn advisories(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// Close the pool, waiting for connections in use to be returned.
    async fn close(&self);
}
