//! A fresh PostgreSQL database per test, on the server named by
//! `KEEPER_TEST_POSTGRES_URL`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

pub mod pgbouncer;

use keeper_store::prelude::*;
use keeper_store_postgres::{PgConfig, PgStore, Pooler};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, postgres::PgConnectOptions};

pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The maintenance database the test databases are created from.
pub fn server_url() -> String {
    std::env::var("KEEPER_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned())
}

/// A new, empty database (not migrated) and the URL to reach it.
pub struct ScratchDb {
    pub name: String,
    pub url: String,
    admin: PgConnectOptions,
}

impl ScratchDb {
    /// `member_xp_buckets` as stored, and as counted from `member_xp`: (guild,
    /// bucket, members) in key order. On the server itself, not through a store's
    /// pool: behind PgBouncer in transaction mode sqlx's named statements need
    /// Keeper's own transactions.
    pub async fn bucket_counts(&self) -> [Vec<(i64, i64, i64)>; 2] {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        let stored = sqlx::query!(
            "SELECT guild_id, xp_bucket, members FROM member_xp_buckets
             ORDER BY guild_id, xp_bucket"
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let counted = sqlx::query!(
            r#"SELECT guild_id, xp_bucket, COUNT(*) AS "members!" FROM member_xp
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

    pub async fn create() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let server = server_url();
        let admin: PgConnectOptions = server.parse().unwrap_or_else(|e| {
            panic!("KEEPER_TEST_POSTGRES_URL={server:?} is not a valid URL: {e}")
        });
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
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("creating test database {name} on {server}: {e}"));
        let _ = conn.close().await;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Self { name, url, admin }
    }

    pub fn config(&self) -> PgConfig {
        PgConfig {
            url: self.url.clone(),
            pool_size: 8,
            connect_attempts: 1,
            pooler: Pooler::None,
        }
    }

    /// The same database through PgBouncer in transaction mode (`None` where
    /// PgBouncer is not here: see [`pgbouncer`]).
    pub fn pooled_config(&self) -> Option<PgConfig> {
        Some(PgConfig {
            url: pgbouncer::url_for(&self.name)?,
            pooler: Pooler::Transaction,
            ..self.config()
        })
    }

    pub async fn drop_db(self) {
        let mut conn = connect_admin(&self.admin, &server_url()).await;
        // Same reason as CREATE above: an identifier can't be bound; the name is ours.
        // FORCE ends connections a failed test may have left open.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("dropping test database {}: {e}", self.name));
        let _ = conn.close().await;
    }
}

async fn connect_admin(admin: &PgConnectOptions, server: &str) -> PgConnection {
    PgConnection::connect_with(admin).await.unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL tests need a server, and none answered at {server} ({e}).\n\
             Start the local one with:\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point KEEPER_TEST_POSTGRES_URL at a server where this user may create databases."
        )
    })
}

/// The conformance suite's fixture: a migrated store on a fresh database.
pub struct PgFixture {
    /// Taken by `cleanup`; still here in `drop` only when the test panicked.
    db: Option<ScratchDb>,
    /// How the stores reach the database: directly, or through PgBouncer.
    config: PgConfig,
    store: Arc<PgStore>,
    reopened: std::sync::Mutex<Vec<Arc<PgStore>>>,
}

impl PgFixture {
    async fn create_with(pooled: bool) -> Self {
        let db = ScratchDb::create().await;
        let config = if pooled {
            db.pooled_config().expect("PgBouncer was found available")
        } else {
            db.config()
        };
        let store = PgStore::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {}: {e}", db.name));
        Self {
            db: Some(db),
            config,
            store: Arc::new(store),
            reopened: Default::default(),
        }
    }
}

impl keeper_store::conformance::Fixture for PgFixture {
    async fn create() -> Self {
        Self::create_with(false).await
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        let db = self.db.as_ref().expect("not cleaned up yet");
        let store = Arc::new(
            PgStore::connect(&self.config)
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

impl Drop for PgFixture {
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

/// The conformance suite through PgBouncer in transaction pooling mode, Keeper
/// told so (`Pooler::Transaction`): the same fixture otherwise.
pub struct PooledFixture(PgFixture);

impl keeper_store::conformance::Fixture for PooledFixture {
    async fn create() -> Self {
        Self(PgFixture::create_with(true).await)
    }

    fn store(&self) -> Arc<dyn Store> {
        self.0.store()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        self.0.reopen().await
    }

    async fn cleanup(self) {
        self.0.cleanup().await;
    }

    fn available() -> bool {
        pgbouncer::available()
    }

    async fn xp_bucket_counts(&self) -> [Vec<(i64, i64, i64)>; 2] {
        self.0.xp_bucket_counts().await
    }
}
