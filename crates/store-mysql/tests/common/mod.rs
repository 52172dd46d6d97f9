//! A fresh MySQL/MariaDB database per test, on the server named by
//! `KEEPER_TEST_MYSQL_URL`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use keeper_store::prelude::*;
use keeper_store_mysql::{MySqlConfig, MySqlStore};
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, MySqlConnection, mysql::MySqlConnectOptions,
};

pub const DEFAULT_SERVER_URL: &str = "mysql://root@127.0.0.1:3306/";

/// The server the test databases are created on (`mysql://` or `mariadb://`).
pub fn server_url() -> String {
    std::env::var("KEEPER_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned())
}

/// A new, empty database (not migrated) and the URL to reach it.
pub struct ScratchDb {
    pub name: String,
    pub url: String,
    admin: MySqlConnectOptions,
}

impl ScratchDb {
    pub async fn create() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let server = server_url();
        let parsed = server.replacen("mariadb://", "mysql://", 1);
        let admin: MySqlConnectOptions = parsed
            .parse()
            .unwrap_or_else(|e| panic!("KEEPER_TEST_MYSQL_URL={server:?} is not a valid URL: {e}"));
        // Unique across test binaries running at once (pid), tests in one binary
        // (counter) and leftovers of a killed run (random part).
        let name = format!(
            "keeper_test_{}_{}_{:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>(),
        );
        let mut conn = connect_admin(&admin, &server).await;
        // CREATE DATABASE can't take its name as a bound parameter, so it can't be a
        // checked macro; the name is generated above from digits and letters only,
        // never from input, so formatting it into the statement is safe.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("creating test database {name} on {server}: {e}"));
        let _ = conn.close().await;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Self { name, url, admin }
    }

    pub fn config(&self) -> MySqlConfig {
        MySqlConfig {
            pool_size: 8,
            connect_attempts: 1,
            ..MySqlConfig::new(self.url.clone())
        }
    }

    /// `member_xp_buckets` as stored, and as counted from `member_xp`: (guild,
    /// bucket, members) in key order.
    pub async fn bucket_counts(&self) -> [Vec<(i64, i64, i64)>; 2] {
        let mut conn = MySqlConnection::connect(&self.url).await.unwrap();
        let stored = sqlx::query!(
            "SELECT guild_id, xp_bucket, members FROM member_xp_buckets
             ORDER BY guild_id, xp_bucket"
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let counted = sqlx::query!(
            r#"SELECT guild_id, xp_bucket, COUNT(*) AS "members!: i64" FROM member_xp
               GROUP BY guild_id, xp_bucket ORDER BY guild_id, xp_bucket"#
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let _ = conn.close().await;
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

    pub async fn drop_db(self) {
        let mut conn = connect_admin(&self.admin, &server_url()).await;
        // Same reason as CREATE above: an identifier can't be bound; the name is ours.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {}",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("dropping test database {}: {e}", self.name));
        let _ = conn.close().await;
    }
}

async fn connect_admin(admin: &MySqlConnectOptions, server: &str) -> MySqlConnection {
    MySqlConnection::connect_with(admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the MySQL tests need a server, and none answered at {server} ({e}).\n\
             Start the local MariaDB with:\n    \
             service mariadb start   (or: mysqld_safe &)\n\
             or point KEEPER_TEST_MYSQL_URL at a server where this user may create databases."
            )
        })
}

/// The conformance suite's fixture: a migrated store on a fresh database.
pub struct MySqlFixture {
    /// Taken by `cleanup`; still here in `drop` only when the test panicked.
    db: Option<ScratchDb>,
    store: Arc<MySqlStore>,
    reopened: std::sync::Mutex<Vec<Arc<MySqlStore>>>,
}

impl keeper_store::conformance::Fixture for MySqlFixture {
    async fn create() -> Self {
        let db = ScratchDb::create().await;
        let store = MySqlStore::connect(&db.config())
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {}: {e}", db.name));
        Self {
            db: Some(db),
            store: Arc::new(store),
            reopened: Default::default(),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        let db = self.db.as_ref().expect("not cleaned up yet");
        let store = Arc::new(
            MySqlStore::connect(&db.config())
                .await
                .unwrap_or_else(|e| panic!("reopening test database {}: {e}", db.name)),
        );
        self.reopened.lock().unwrap().push(store.clone());
        store
    }

    async fn cleanup(mut self) {
        self.store.close().await;
        let reopened = std::mem::take(&mut *self.reopened.lock().unwrap());
        for store in reopened {
            store.close().await;
        }
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
    }

    async fn xp_bucket_counts(&self) -> [Vec<(i64, i64, i64)>; 2] {
        self.db
            .as_ref()
            .expect("not cleaned up yet")
            .bucket_counts()
            .await
    }
}

impl Drop for MySqlFixture {
    /// A failed test unwinds past `cleanup`: drop its database anyway, on a thread
    /// of its own because `drop` can't await and the test's runtime is unwinding.
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime to drop the test database")
                    .block_on(db.drop_db());
            })
            .join();
            if dropped.is_err() {
                eprintln!("could not drop a test database; remove keeper_test_* databases by hand");
            }
        }
    }
}
