use async_trait::async_trait;

use crate::{
    StoreResult,
    transfer::{RowKey, Rows, Table},
};

/// Every table read and written whole, page by page: what `keeper restore`,
/// `keeper copy` and exports are written against, so that they work between
/// any two backends.
#[async_trait]
pub trait TransferStore: Send + Sync {
    /// Up to `limit` rows of `table` in primary-key order (as stored), starting
    /// after the row whose key is `after` (from the first row when `None`).
    async fn read_rows(&self, table: Table, after: Option<RowKey>, limit: u32)
    -> StoreResult<Rows>;

    /// Insert `rows` in one transaction: all of them or, on any error (a key
    /// already present, a value a CHECK refuses), none. A member's level and
    /// leaderboard bucket are derived from their XP.
    async fn write_rows(&self, rows: &Rows) -> StoreResult<()>;

    /// Delete every row of every table, in one transaction (the schema and its
    /// migrations stay): a restore or copy told to replace what is there.
    async fn clear_all(&self) -> StoreResult<()>;
}
