//! A fresh database file in its own temporary directory, per test.

#![allow(dead_code)] // each test binary uses a different part

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use keeper_store::{conformance::Fixture, prelude::*};
use keeper_store_sqlite::{SqliteConfig, SqliteStore};

/// A directory under the system temp dir, unique to this process and call,
/// removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "keeper-sqlite-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The URL of `name` inside the directory.
    pub fn url(&self, name: &str) -> String {
        format!("sqlite://{}", self.0.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn open(url: &str) -> SqliteStore {
    SqliteStore::connect(&SqliteConfig::new(url))
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

pub struct SqliteFixture {
    dir: TempDir,
    url: String,
    store: Arc<SqliteStore>,
    reopened: std::sync::Mutex<Vec<Arc<SqliteStore>>>,
}

impl Fixture for SqliteFixture {
    async fn create() -> Self {
        let dir = TempDir::new();
        let url = dir.url("keeper.db");
        let store = Arc::new(open(&url).await);
        Self {
            dir,
            url,
            store,
            reopened: Default::default(),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        let store = Arc::new(open(&self.url).await);
        self.reopened.lock().unwrap().push(store.clone());
        store
    }

    async fn cleanup(self) {
        let reopened = std::mem::take(&mut *self.reopened.lock().unwrap());
        for store in reopened {
            store.close().await;
        }
        self.store.close().await;
        drop(self.dir);
    }

    async fn xp_bucket_counts(&self) -> [Vec<(i64, i64, i64)>; 2] {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
        let stored = sqlx::query!(
            r#"SELECT guild_id AS "guild_id!", xp_bucket AS "xp_bucket!", members AS "members!"
               FROM member_xp_buckets ORDER BY guild_id, xp_bucket"#
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let counted = sqlx::query!(
            r#"SELECT guild_id AS "guild_id!", xp_bucket AS "xp_bucket!", COUNT(*) AS "members!: i64"
               FROM member_xp GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket"#
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        [
            stored
                .into_iter()
                .map(|r| (r.guild_id, r.xp_bucket, r.members))
                .collect(),
            counted
                .into_iter()
                .map(|r| (r.guild_id, r.xp_bucket, r.members))
                .collect(),
        ]
    }
}
