//! Shared by the end-to-end tests and the load benchmark: a scratch database on
//! any backend, and the real `keeper` binary as a child process.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use discord_sim::Sim;

/// PgBouncer in front of the test server (shared with the PostgreSQL store's
/// tests, which keep the file).
#[path = "../../crates/store-postgres/tests/common/pgbouncer.rs"]
pub mod pgbouncer;

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
    /// MySQL or MariaDB, on `KEEPER_TEST_MYSQL_URL`.
    MySql,
}

impl Db {
    /// Every backend, in the order tests and benchmarks run them.
    pub const ALL: [Db; 3] = [Db::Sqlite, Db::Postgres, Db::MySql];

    /// As Keeper names the backend (`keeper check`, backup files).
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
            Db::MySql => "mysql",
        }
    }

    /// A server reached over TCP (PostgreSQL, MySQL), which a [`DbProxy`] can
    /// stand in front of; SQLite is a file.
    pub fn is_server(self) -> bool {
        self != Db::Sqlite
    }
}

/// A database that exists for one test (or one benchmark run) and is dropped after.
pub enum Backend {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
    MySql { admin_url: String, name: String },
}

impl Backend {
    /// A fresh database: a SQLite file in a new temp directory, or a uniquely
    /// named database on `KEEPER_TEST_POSTGRES_URL` or `KEEPER_TEST_MYSQL_URL`.
    /// Returns its URL too.
    pub async fn create(db: Db) -> (Self, String) {
        let name = format!("keeper_e2e_{}_{}", std::process::id(), unique());
        match db {
            Db::Sqlite => {
                let dir = std::env::temp_dir().join(format!(
                    "keeper-e2e-{}-{}",
                    std::process::id(),
                    unique()
                ));
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite://{}/keeper.db", dir.display());
                (Backend::Sqlite(dir), url)
            }
            Db::Postgres => {
                let admin_url = admin_url();
                let mut conn = connect_admin(&admin_url).await;
                // Identifiers can't be bound parameters; the name is generated above.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let url = with_database(&admin_url, &name);
                (Backend::Postgres { admin_url, name }, url)
            }
            Db::MySql => {
                let admin_url = mysql_admin_url();
                let mut conn = connect_mysql_admin(&admin_url).await;
                // As for PostgreSQL: the name is generated, not bound. Binary
                // collation, as Keeper's own migrations expect.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|err| panic!("creating {name} on {admin_url}: {err}"));
                let url = with_database(&admin_url, &name);
                (Backend::MySql { admin_url, name }, url)
            }
        }
    }

    /// A fresh PostgreSQL database as [`Backend::create`] makes one, its URL
    /// through PgBouncer in transaction mode, and its direct URL; `None` where
    /// PgBouncer is not here (see [`pgbouncer`]). Keeper must be run with
    /// `--pg-pooler=transaction`.
    pub async fn create_pooled() -> Option<(Self, String, String)> {
        if !pgbouncer::available() {
            return None;
        }
        let (backend, direct) = Self::create(Db::Postgres).await;
        let Backend::Postgres { name, .. } = &backend else {
            unreachable!("created on PostgreSQL")
        };
        let pooled = pgbouncer::url_for(name).expect("available");
        Some((backend, pooled, direct))
    }

    pub fn db(&self) -> Db {
        match self {
            Backend::Sqlite(_) => Db::Sqlite,
            Backend::Postgres { .. } => Db::Postgres,
            Backend::MySql { .. } => Db::MySql,
        }
    }

    pub fn name(&self) -> &'static str {
        self.db().name()
    }

    /// A directory for the test's own files (logs): the SQLite directory, or a
    /// new temp directory for a server's database.
    pub fn scratch_dir(&self) -> PathBuf {
        match self {
            Backend::Sqlite(dir) => dir.clone(),
            Backend::Postgres { name, .. } | Backend::MySql { name, .. } => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir).unwrap();
                dir
            }
        }
    }

    pub async fn drop(self) {
        match self {
            Backend::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Backend::Postgres { admin_url, name } => {
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&name));
                let mut conn = connect_admin(&admin_url).await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
            }
            Backend::MySql { admin_url, name } => {
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&name));
                let mut conn = connect_mysql_admin(&admin_url).await;
                // MySQL has no `WITH (FORCE)`: a connection left in a transaction
                // (a killed Keeper's, before the server noticed) would hold the
                // DROP on its metadata locks, so the database's connections go first.
                // (The ID is unsigned on MySQL, signed on MariaDB.)
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
                     WHERE DB = ? AND ID <> CONNECTION_ID()",
                )
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                for id in ids {
                    // It may have ended meanwhile.
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL {id}")))
                        .execute(&mut conn)
                        .await;
                }
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }
    }
}

/// `url` (a server's, any database or none) naming database `name` instead,
/// its query string kept.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let query = path.split_once('?').map(|(_, q)| format!("?{q}"));
    format!("{scheme}://{authority}/{name}{}", query.unwrap_or_default())
}

pub fn admin_url() -> String {
    std::env::var("KEEPER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "no PostgreSQL at {url} ({err}). Start the local server with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
                 or point KEEPER_TEST_POSTGRES_URL at one"
            )
        })
}

/// The MySQL or MariaDB server the tests create their databases on: a user who
/// may create and drop databases (`mysql://` or `mariadb://`).
pub fn mysql_admin_url() -> String {
    std::env::var("KEEPER_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned())
}

/// A connection to the MySQL server at `url` (`mariadb://` taken as
/// `mysql://`, which is all sqlx knows), or a panic saying how to start one.
pub async fn connect_mysql_admin(url: &str) -> sqlx::MySqlConnection {
    use sqlx::Connection;
    sqlx::MySqlConnection::connect(&mysql_scheme(url))
        .await
        .unwrap_or_else(|err| {
            panic!(
                "no MySQL or MariaDB at {url} ({err}). Start the local MariaDB with \
                 `service mariadb start` (or `mysqld_safe &`), or point KEEPER_TEST_MYSQL_URL \
                 at a server where the user may create databases"
            )
        })
}

/// `mysql://` for a `mariadb://` URL (sqlx knows only the first); others as they are.
pub fn mysql_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => format!("mysql://{rest}"),
        _ => url.to_owned(),
    }
}

/// Load `dump` (SQL text, as `keeper backup` writes it on MySQL) into the
/// database at `url` with the server's own client, `mariadb` (or `mysql`), as
/// an operator restores a dump by hand: the reference a restore is compared to.
pub fn load_mysql_dump(url: &str, dump: &Path) {
    let options: sqlx::mysql::MySqlConnectOptions = mysql_scheme(url)
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let database = options.get_database().expect("the URL names a database");
    // The password, if the URL has one, goes in the environment, as the tools read it.
    let authority = url.split_once("://").map_or(url, |(_, rest)| {
        rest.split(['/', '?']).next().unwrap_or(rest)
    });
    let password = authority
        .rsplit_once('@')
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| percent_decode(password));
    let mut said = Vec::new();
    for tool in ["mariadb", "mysql"] {
        let mut command = std::process::Command::new(tool);
        command
            .arg("--protocol=TCP")
            .arg(format!("--host={}", options.get_host()))
            .arg(format!("--port={}", options.get_port()))
            .arg(format!("--user={}", options.get_username()))
            .arg(database)
            .stdin(std::fs::File::open(dump).expect("the dump"));
        match &password {
            Some(password) => command.env("MYSQL_PWD", password),
            None => command.env_remove("MYSQL_PWD"),
        };
        match command.output() {
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "{tool} < {}: {}",
                    dump.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            Err(err) => said.push(format!("{tool}: {err}")),
        }
    }
    panic!(
        "no MySQL client to load {} with ({}): install mariadb-client",
        dump.display(),
        said.join("; ")
    );
}

/// `%xx` escapes in a URL's part decoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn unique() -> u128 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    nanos % 1_000_000_000_000 * 1000 + u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Keeper's identify window for a simulator with `SimConfig::fast()`'s: its
/// 1 s and a quarter more, so that two IDENTIFYs claimed a window apart never
/// reach the simulator inside one of its windows (Keeper waits Discord's 5 s
/// otherwise, which would only make the tests slower).
pub fn identify_window_ms() -> String {
    (discord_sim::config::FAST_IDENTIFY_INTERVAL.as_millis() * 5 / 4).to_string()
}

/// The real `keeper` binary, run as an operator would run it, pointed at a
/// simulator. Its output goes to a log file that failures print.
pub struct KeeperProcess {
    child: tokio::process::Child,
    pub log: PathBuf,
}

impl KeeperProcess {
    /// `keeper run` with the simulator's URLs and token, `database_url`, and
    /// `extra` environment variables. The working directory is `dir`, so no
    /// developer's `.env` is picked up.
    pub fn spawn(sim: &Sim, database_url: &str, dir: &Path, extra: &[(&str, &str)]) -> Self {
        let log = dir.join(format!("keeper-{}.log", unique()));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_keeper"));
        command
            .arg("run")
            .current_dir(dir)
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("DISCORD_TOKEN", sim.token())
            .env("DISCORD_API_URL", format!("http://{}", sim.http_addr()))
            .env("DISCORD_CDN_URL", format!("http://{}", sim.http_addr()))
            .env("DISCORD_GATEWAY_URL", sim.gateway_url())
            .env("KEEPER_LOG", "info")
            .env("KEEPER_IDENTIFY_WINDOW_MS", identify_window_ms())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("start the keeper binary");
        Self { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// What the process has logged so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no handler runs, nothing is flushed.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// SIGTERM, as systemd or docker stop sends it; the exit status, or a panic
    /// if the process is still running after `within`.
    pub async fn terminate(mut self, within: Duration) -> (ExitStatus, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exited = tokio::time::timeout(within, self.child.wait()).await;
        let output = self.output();
        match exited {
            Ok(status) => (status.expect("wait"), output),
            Err(_) => panic!("keeper still running {within:?} after SIGTERM; its log:\n{output}"),
        }
    }

    /// Whether the process is still running (it must survive what tests do to it).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl KeeperProcess {
    /// The binary with exactly `args` and `env` and nothing inherited, as a
    /// container runs its entrypoint with a service's `command:` and
    /// `environment:` (`tests/deploy.rs`). The working directory is `dir`, so
    /// no developer's `.env` is picked up; stdout and stderr go to a log file
    /// there.
    pub fn spawn_with(dir: &Path, args: &[String], env: &[(String, String)]) -> Self {
        let log = dir.join(format!("keeper-{}.log", unique()));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_keeper"))
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("start the keeper binary");
        Self { child, log }
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }
}

/// Keeper's own store on `url`, opened (and migrated) as `keeper migrate` would.
pub async fn open_store(url: &str) -> std::sync::Arc<dyn keeper_store::Store> {
    use clap::Parser;
    let url = format!("--database-url={url}");
    let config = keeper::config::Config::try_parse_from(["keeper", "migrate", &url]).unwrap();
    keeper::db::open(&config.database)
        .await
        .expect("open the store")
}

/// The name member `1_000 + i` of [`public_leaderboard`] is seen with: every
/// tenth an "Ann" (for searches), others hostile (markup, an override and
/// zero-width marks, quotes), most plain.
pub fn web_name(i: u64) -> String {
    match i % 10 {
        0 => format!("Ann #{i}"),
        3 => format!("<script>alert({i})</script><b>bold</b>"),
        7 => format!("\u{202e}RTL {i}\u{200b} \"q\" & 'a'"),
        _ => format!("Member {i}"),
    }
}

/// The avatar hash member `1_000 + i` has: every even one has one, whose
/// first six digits (the colour a test CDN draws) go round a palette.
pub fn web_avatar(i: u64) -> Option<String> {
    const PALETTE: [u32; 6] = [
        0xE0_5A_47, 0x3B_82_F6, 0x10_B9_81, 0xF5_9E_0B, 0x8B_5C_F6, 0xEC_48_99,
    ];
    let colour = PALETTE[(i / 2 % 6) as usize];
    i.is_multiple_of(2).then(|| format!("{colour:06x}{i:026x}"))
}

/// The public guild's name in [`public_leaderboard`]: markup too.
pub const WEB_GUILD_NAME: &str = "Rust & <Friends>";
/// Its icon hash.
pub const WEB_GUILD_ICON: &str = "a_5865f2000000000000000000000abc";

/// A leaderboard to read on the web: members `1_001..=1_000 + members` of
/// `guild`, member `1_000 + i` with `i * 10` XP (so ranks follow ids), the
/// name [`web_name`] and the avatar [`web_avatar`] (the last member never
/// spoke: no name), the guild named [`WEB_GUILD_NAME`] with an icon, and
/// made public as `/config web public` does.
pub async fn public_leaderboard(store: &dyn keeper_store::Store, guild: u64, members: u64) {
    use twilight_model::id::Id;
    let at = chrono::Utc::now();
    let profiles: Vec<keeper_store::MemberProfile> = (1..members)
        .map(|i| keeper_store::MemberProfile {
            guild_id: Id::new(guild),
            user_id: Id::new(1_000 + i),
            display_name: web_name(i),
            avatar: web_avatar(i),
            seen_at: at,
        })
        .collect();
    store.save_profiles(&profiles).await.unwrap();
    let facts = keeper_store::GuildFacts {
        name: WEB_GUILD_NAME.to_owned(),
        icon: Some(WEB_GUILD_ICON.to_owned()),
        ..keeper_store::GuildFacts::unknown(Id::new(guild))
    };
    store.save_guild(&facts, at).await.unwrap();
    let awards: Vec<keeper_store::XpAward> = (1..=members)
        .map(|i| keeper_store::XpAward {
            guild_id: Id::new(guild),
            user_id: Id::new(1_000 + i),
            xp: (i * 10) as i64,
            messages: 1,
            at,
        })
        .collect();
    store.award_xp(&awards, &[]).await.unwrap();
    let public = keeper_store::SettingsPatch {
        web_public: Some(true),
        ..Default::default()
    };
    store
        .update_settings(Id::new(guild), &public, at)
        .await
        .unwrap();
}

/// XP rules whose outcome is exact (every message earns the same, no cooldown),
/// so a run can compare every member's total with what the simulator sent.
pub const EXACT_RULES: discord_sim::load::XpRules = discord_sim::load::XpRules {
    min: 10,
    max: 10,
    cooldown: Duration::ZERO,
};

/// Configure `rules` in every guild, before the bot starts.
pub async fn set_rules(
    store: &dyn keeper_store::Store,
    guilds: impl IntoIterator<Item = u64>,
    rules: &discord_sim::load::XpRules,
) {
    let patch = keeper_store::SettingsPatch {
        xp_min: Some(rules.min as i32),
        xp_max: Some(rules.max as i32),
        xp_cooldown_secs: Some(rules.cooldown.as_secs() as i32),
        ..Default::default()
    };
    for guild in guilds {
        store
            .update_settings(
                twilight_model::id::Id::new(guild),
                &patch,
                chrono::Utc::now(),
            )
            .await
            .expect("set the XP rules");
    }
}

/// Every stored member of `guilds`: `(guild, user) -> (xp, messages)`.
pub async fn stored_xp(
    store: &dyn keeper_store::Store,
    guilds: &[u64],
) -> Result<std::collections::BTreeMap<(u64, u64), (i64, i64)>, keeper_store::StoreError> {
    let mut all = std::collections::BTreeMap::new();
    for &guild in guilds {
        let rows = store
            .leaderboard(twilight_model::id::Id::new(guild), 0, u32::MAX)
            .await?;
        for m in rows {
            all.insert((guild, m.user_id.get()), (m.xp, m.messages));
        }
    }
    Ok(all)
}

/// How the stored XP differs from `expected` (empty: it matches exactly): every
/// member who spoke has exactly their messages counted and XP in the expected
/// range; nobody else has a row.
pub fn xp_mismatches(
    stored: &std::collections::BTreeMap<(u64, u64), (i64, i64)>,
    expected: &std::collections::BTreeMap<(u64, u64), discord_sim::load::ExpectedXp>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (key, e) in expected {
        let (xp, messages) = stored.get(key).copied().unwrap_or((0, 0));
        if messages != e.messages as i64 || !e.allows(xp) {
            wrong.push(format!(
                "member {key:?}: stored {xp} XP / {messages} messages, expected {}..={} XP / {} messages",
                e.min_xp, e.max_xp, e.messages
            ));
        }
    }
    for key in stored.keys() {
        if !expected.contains_key(key) {
            wrong.push(format!("member {key:?} has a row but never spoke"));
        }
    }
    wrong
}

/// Add up what several load runs expect, member by member.
pub fn merge_expected(
    runs: &[&std::collections::BTreeMap<(u64, u64), discord_sim::load::ExpectedXp>],
) -> std::collections::BTreeMap<(u64, u64), discord_sim::load::ExpectedXp> {
    let mut all: std::collections::BTreeMap<(u64, u64), discord_sim::load::ExpectedXp> =
        std::collections::BTreeMap::new();
    for run in runs {
        for (key, e) in *run {
            let a = all.entry(*key).or_default();
            a.messages += e.messages;
            a.awards += e.awards;
            a.min_xp += e.min_xp;
            a.max_xp += e.max_xp;
        }
    }
    // Members who never spoke have no row.
    all.retain(|_, e| e.messages > 0);
    all
}

/// Wait until the database holds exactly what `expected` says; the mismatches
/// if it still doesn't after `timeout`.
pub async fn await_expected_xp(
    store: &dyn keeper_store::Store,
    guilds: &[u64],
    expected: &std::collections::BTreeMap<(u64, u64), discord_sim::load::ExpectedXp>,
    timeout: Duration,
) -> Result<(), Vec<String>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let wrong = match stored_xp(store, guilds).await {
            Ok(stored) => xp_mismatches(&stored, expected),
            Err(err) => vec![format!("reading the store: {err}")],
        };
        if wrong.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(wrong);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP proxy (in front of a database server, or Discord's API) that the test can
/// switch off: while down it drops every open connection and refuses new ones,
/// which is what the bot sees when the server stops (without stopping the server
/// the other tests share). Frozen, it is a black hole: connections stay open and
/// new ones are accepted, but no byte goes through either way, as when a network
/// drops packets silently.
pub struct DbProxy {
    pub addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Cancelled on `down()` to cut the open connections; replaced on `up()`.
    cut: std::sync::Arc<std::sync::Mutex<tokio_util::sync::CancellationToken>>,
    frozen: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    /// Freeze right after forwarding a client write of at least this many bytes
    /// (0: not armed), so a statement is caught in flight.
    freeze_after: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

/// What makes the client-to-server pump freeze the proxy after a large write.
#[derive(Clone)]
struct FreezeTrigger {
    after: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    frozen: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

/// Copy `from` to `to` until either closes, holding every byte while `frozen`;
/// with a `trigger`, freeze after forwarding a write as large as it asks.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
    trigger: Option<FreezeTrigger>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|f| !f).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(trigger) = &trigger {
            let after = trigger.after.load(std::sync::atomic::Ordering::SeqCst);
            if after > 0 && n >= after {
                trigger.after.store(0, std::sync::atomic::Ordering::SeqCst);
                trigger.frozen.send_replace(true);
            }
        }
    }
}

impl DbProxy {
    pub async fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cut = std::sync::Arc::new(std::sync::Mutex::new(
            tokio_util::sync::CancellationToken::new(),
        ));
        let (frozen, frozen_rx) = tokio::sync::watch::channel(false);
        let frozen = std::sync::Arc::new(frozen);
        let freeze_after = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let trigger = FreezeTrigger {
            after: freeze_after.clone(),
            frozen: frozen.clone(),
        };
        let accept = {
            let (up, cut) = (up.clone(), cut.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client); // refused: the client reads EOF at once
                        continue;
                    }
                    let token = cut.lock().unwrap().clone();
                    let upstream = upstream.clone();
                    let frozen = frozen_rx.clone();
                    let trigger = trigger.clone();
                    tokio::spawn(async move {
                        let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::select! {
                            () = pump(client_read, server_write, frozen.clone(), Some(trigger)) => {}
                            () = pump(server_read, client_write, frozen, None) => {}
                            () = token.cancelled() => {}
                        }
                    });
                }
            })
        };
        Self {
            addr,
            up,
            cut,
            frozen,
            freeze_after,
            accept,
        }
    }

    /// Rewrite a `postgres://user@host:port/db` URL (or `mysql://`) to go
    /// through the proxy.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap();
        let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
        format!(
            "{scheme}://{}{}/{path}",
            user.unwrap_or_default(),
            self.addr
        )
    }

    /// The database "stops": open connections are cut, new ones refused.
    pub fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut cut = self.cut.lock().unwrap();
        cut.cancel();
        *cut = tokio_util::sync::CancellationToken::new();
    }

    /// The database is back.
    pub fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// A black hole: nothing goes through, nothing is closed.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Freeze as soon as the client has sent a write of `bytes` or more (a
    /// statement, not a ping): that statement reaches the server, its answer and
    /// everything after it are held.
    pub fn freeze_after_write_of(&self, bytes: usize) {
        self.freeze_after
            .store(bytes, std::sync::atomic::Ordering::SeqCst);
    }

    /// What was held goes through, and the connections live on.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut.lock().unwrap().cancel();
    }
}

/// `host:port` of a server's URL (`postgres://`, `mysql://`, `mariadb://`),
/// the scheme's default port when it names none.
pub fn host_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = match host.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'), // [::1]:5432
        None => host.contains(':'),
    };
    if has_port {
        return host.to_owned();
    }
    let port = match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "mariadb" => 3306,
        _ => 5432,
    };
    format!("{host}:{port}")
}

/// How a test takes the database away from Keeper: on a server (PostgreSQL,
/// MySQL) through its [`DbProxy`]; on SQLite (a file, no network) by holding the write lock from
/// another connection, which is how it is unavailable in practice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Connections cut, new ones refused (the server stopped).
    Down,
    /// Nothing answers, nothing is closed (the network dropped packets).
    Silent,
    /// Like `Silent`, but from the moment a statement is in flight.
    SilentMidWrite,
}

/// An outage under way; [`OutageGuard::end`] gives the database back.
pub struct OutageGuard {
    lock: Option<sqlx::SqliteConnection>,
}

impl Outage {
    /// Begin the outage for Keeper's database at `url` (SQLite) or behind `proxy`.
    pub async fn begin(self, proxy: Option<&DbProxy>, url: &str) -> OutageGuard {
        use sqlx::Connection;
        match proxy {
            Some(proxy) => {
                match self {
                    Outage::Down => proxy.down(),
                    Outage::Silent => proxy.freeze(),
                    // A statement, not a ping: larger than any of sqlx's.
                    Outage::SilentMidWrite => proxy.freeze_after_write_of(300),
                }
                OutageGuard { lock: None }
            }
            None => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::raw_sql("BEGIN EXCLUSIVE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                OutageGuard { lock: Some(conn) }
            }
        }
    }
}

impl OutageGuard {
    /// The database is back: the proxy passes everything again, the lock is gone.
    pub async fn end(mut self, proxy: Option<&DbProxy>) {
        use sqlx::Connection;
        if let Some(proxy) = proxy {
            proxy.thaw();
            proxy.up();
        }
        if let Some(mut conn) = self.lock.take() {
            sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// A free port on 127.0.0.1 (bound and released; the process started next
/// binds it).
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `GET path` over HTTP/1.1: the status and the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|err| err.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}
