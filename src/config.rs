//! Keeper's configuration: one clap struct, every setting both a flag and an
//! environment variable (read from `.env` too), so `keeper --help` is the reference
//! and `.env.example` the template.

use std::fmt;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeper: a Discord bot with durable per-guild state (settings, XP, levels and
/// level rewards) on SQLite or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "keeper", version, about, long_about = None)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub discord: DiscordConfig,

    #[command(flatten)]
    pub backups: BackupConfig,

    /// Log filter, in tracing's syntax: `info`, `keeper=debug,sqlx=warn`...
    /// [default: info; warn for `keeper demo`, whose story is the output]
    #[arg(long, env = "KEEPER_LOG", global = true)]
    pub log: Option<String>,

    /// How log lines are written on stderr: `text` (colours only on a
    /// terminal) or `json`, one object per line, for log shippers.
    #[arg(
        long,
        env = "KEEPER_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Serve `/healthz`, `/readyz` and `/metrics` (Prometheus) over HTTP on this
    /// address while the bot runs, e.g. `0.0.0.0:8080`; off when not set.
    #[arg(long, env = "KEEPER_HTTP_ADDR", global = true)]
    pub http_addr: Option<std::net::SocketAddr>,

    /// The address at which people reach `KEEPER_HTTP_ADDR`, behind whatever
    /// proxy serves it, e.g. `https://keeper.example.org`: the web
    /// leaderboard's links are made from it. Not set: Keeper does not know
    /// its own address and makes no absolute link.
    #[arg(long, env = "KEEPER_PUBLIC_URL", global = true)]
    pub public_url: Option<PublicUrl>,

    /// How long to keep the data of a guild Keeper left or was removed from
    /// (`30d`, `12h`...), then delete it; `0` keeps it forever. Coming back
    /// before then keeps everything.
    #[arg(long, env = "KEEPER_GUILD_RETENTION", default_value = "30d", global = true,
          value_parser = parse_retention)]
    pub guild_retention: Retention,

    /// Threads that run Keeper's async work [default: twice the CPUs]. Under a
    /// flood of chat each shard's loop keeps a thread busy; threads beyond the
    /// CPUs let the system share them out as commands arrive, so a `/rank`
    /// does not wait for a loop to yield.
    #[arg(long, env = "KEEPER_WORKER_THREADS", global = true,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,

    /// How often buffered XP is written, in milliseconds. Hidden, not a setting:
    /// Keeper promises 250 ms. The tests stretch it so that the write at shutdown
    /// is the only one, which makes that path testable.
    #[arg(long, env = "KEEPER_XP_FLUSH_MS", default_value_t = 250, global = true, hide = true,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub xp_flush_ms: u64,
}

impl Config {
    /// The async runtime's threads: `KEEPER_WORKER_THREADS`, or
    /// [`default_worker_threads`] of the CPUs this process may use.
    pub fn worker_threads(&self) -> usize {
        self.worker_threads.map_or_else(
            || default_worker_threads(std::thread::available_parallelism().map_or(1, usize::from)),
            usize::from,
        )
    }

    /// The log filter: `KEEPER_LOG` when set; otherwise `info`, except for the
    /// demo, where log lines would interleave with the story it prints.
    pub fn log_filter(&self) -> &str {
        match (&self.log, &self.command) {
            (Some(filter), _) => filter,
            (None, Some(Command::Demo)) => "warn",
            (None, _) => "info",
        }
    }
}

/// Twice the CPUs. With one thread a CPU (tokio's default), the shards' loops
/// held both threads of a 2-CPU machine under the load bench's half rate, and
/// a command waited for one of them to yield: `/rank`'s p99 was 44-76 ms
/// against 15-49 ms with four threads, run for run (BENCHMARKS.md, session 23).
pub fn default_worker_threads(cpus: usize) -> usize {
    cpus.max(1).saturating_mul(2)
}

/// What to do. Without a subcommand Keeper runs the bot.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the bot (the default).
    Run,
    /// Run the bot against a Discord simulator, in this process, with a temporary
    /// database, and print what members would see. No Discord account needed.
    Demo,
    /// Apply the database migrations and exit.
    Migrate,
    /// Connect to the database, migrate it, and print the backend, the schema
    /// version and how many rows each table holds.
    Check,
    /// Write a consistent copy of the database, safe while the bot runs:
    /// `keeper-<backend>-<UTC time>.db` (SQLite, through `VACUUM INTO`) or
    /// `.dump` (PostgreSQL, through `pg_dump --format=custom`), readable by
    /// its owner only.
    Backup {
        /// The directory to write it in (the working directory by default).
        #[arg(long, default_value = ".")]
        out: std::path::PathBuf,
    },
    /// Restore a backup: a SQLite backup or a Keeper export into any backend (it is checked,
    /// migrated to this Keeper's schema on a private copy, and moved table by
    /// table), or a pg_dump archive into PostgreSQL (through pg_restore). Prints
    /// every table's rows; refuses a target that holds rows unless --force.
    Restore {
        /// The backup file (`keeper-sqlite-....db` or `keeper-postgres-....dump`).
        file: std::path::PathBuf,
        /// The database to restore into (DATABASE_URL by default).
        #[arg(long)]
        to: Option<DatabaseUrl>,
        /// Replace everything the target holds.
        #[arg(long)]
        force: bool,
    },
    /// Write every table to FILE: Keeper's own export, gzip-compressed JSON
    /// lines (docs/OPERATIONS.md describes it), readable into either backend by
    /// `keeper import` (or `keeper restore`).
    Export {
        /// The file to write (it must not exist).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Import a Keeper export into DATABASE_URL or --to: checked whole first,
    /// refused when newer than this Keeper or when the target holds rows
    /// (unless --force); the same as `keeper restore` of an export.
    Import {
        /// The export file.
        file: std::path::PathBuf,
        /// The database to import into (DATABASE_URL by default).
        #[arg(long)]
        to: Option<DatabaseUrl>,
        /// Replace everything the target holds.
        #[arg(long)]
        force: bool,
    },
    /// Merge another bot's data into Keeper: a data.json as tutorial bots write
    /// it, MEE6's leaderboard pages (a file or a folder of them), or Keeper's own
    /// export. docs/IMPORTING.md shows the shapes read. Prints what was
    /// imported, merged and skipped, and why; in one transaction, and safe to
    /// run twice (XP is the larger of the two totals, settings Keeper has are
    /// kept, warnings imported before are not added again).
    ImportJson {
        /// The file, or a folder of MEE6 pages.
        file: std::path::PathBuf,
        /// What the file is.
        #[arg(long, value_enum, default_value = "auto")]
        format: ImportFormat,
        /// Only this guild; and the guild of members listed without one (MEE6
        /// pages that don't name theirs, a data.json keyed by user).
        #[arg(long)]
        guild: Option<std::num::NonZeroU64>,
        /// Read, check and report, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// The database to import into (DATABASE_URL by default).
        #[arg(long)]
        to: Option<DatabaseUrl>,
    },
    /// Delete what Keeper keeps about one person, in every guild: their XP,
    /// their joins, and the cases about them (cases they made as a moderator
    /// stay: they are the guild's record). For answering a deletion request.
    ForgetUser {
        /// Their Discord user id.
        user: std::num::NonZeroU64,
    },
    /// Copy every table from one database to another, of either backend, then
    /// compare each table's rows and checksum. Refuses a target that holds rows
    /// unless --force.
    Copy {
        /// The database to read (`sqlite://...` or `postgres://...`).
        #[arg(long)]
        from: DatabaseUrl,
        /// The database to write.
        #[arg(long)]
        to: DatabaseUrl,
        /// Replace everything the target holds.
        #[arg(long)]
        force: bool,
    },
}

/// How log lines are written (`KEEPER_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; colours only when stderr is a terminal.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON formatter).
    Json,
}

/// What `keeper import-json` reads (`import_json/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Decide from the content: gzip is Keeper's export, a "players" list is
    /// MEE6, a folder is MEE6 pages, anything else a data.json.
    Auto,
    /// A data.json as tutorial bots write it.
    Datajson,
    /// MEE6's leaderboard pages (one file, or a folder of them).
    Mee6,
    /// Keeper's own export (`keeper export`).
    Keeper,
}

/// Where and how Keeper stores its data.
#[derive(Debug, clap::Args)]
pub struct DatabaseConfig {
    /// The database: `sqlite://path/to/file.db` (created when missing),
    /// `postgres://user:password@host:5432/dbname` or
    /// `mysql://user:password@host:3306/dbname` (`mariadb://` alike).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://keeper.db",
        global = true
    )]
    pub database_url: DatabaseUrl,

    /// SQLite durability: `normal` (WAL, fsync at checkpoints: a power cut can lose
    /// the last moments of writes, never corrupt the file) or `full` (fsync on every
    /// commit: nothing acknowledged is ever lost, slower writes).
    #[arg(
        long,
        env = "KEEPER_SQLITE_SYNC",
        default_value = "normal",
        global = true
    )]
    pub sqlite_sync: SqliteSyncArg,

    /// PostgreSQL: connections in the pool.
    #[arg(long, env = "KEEPER_PG_POOL", default_value_t = keeper_store_postgres::DEFAULT_POOL_SIZE, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pg_pool: u32,

    /// PostgreSQL: attempts to reach the server at start-up, with backoff between
    /// them (about 30 s in all for the default), before giving up.
    #[arg(long, env = "KEEPER_PG_CONNECT_ATTEMPTS",
          default_value_t = keeper_store_postgres::DEFAULT_CONNECT_ATTEMPTS, global = true,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub pg_connect_attempts: u32,

    /// PostgreSQL: what sits between Keeper and the server. `none`: Keeper
    /// connects to it directly (or through a pooler in session mode).
    /// `transaction`: through a pooler in transaction mode, such as PgBouncer
    /// with `pool_mode = transaction`; every operation then runs in a
    /// transaction of its own, without cached statements or startup options
    /// (docs/SCALING.md).
    #[arg(long, env = "KEEPER_PG_POOLER", default_value = "none", global = true)]
    pub pg_pooler: PgPoolerArg,

    /// MySQL and MariaDB: connections in the pool.
    #[arg(long, env = "KEEPER_MYSQL_POOL", default_value_t = keeper_store_mysql::DEFAULT_POOL_SIZE, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub mysql_pool: u32,

    /// MySQL and MariaDB: attempts to reach the server at start-up, with backoff
    /// between them (about 30 s in all for the default), before giving up.
    #[arg(long, env = "KEEPER_MYSQL_CONNECT_ATTEMPTS",
          default_value_t = keeper_store_mysql::DEFAULT_CONNECT_ATTEMPTS, global = true,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub mysql_connect_attempts: u32,
}

/// Backups the running bot takes on its own.
#[derive(Clone, Debug, clap::Args)]
pub struct BackupConfig {
    /// Take a backup every this long while the bot runs (`24h`, `12h`, `7d`);
    /// off when not set. Periods count from the Unix epoch (`24h`: each UTC
    /// day), the first at start-up unless this period's is taken; with several
    /// processes on one database exactly one takes each.
    #[arg(long = "backup-every", env = "KEEPER_BACKUP_EVERY", global = true,
          value_parser = parse_backup_every)]
    pub every: Option<std::time::Duration>,

    /// Where scheduled backups are written (created, readable by its owner only).
    #[arg(
        long = "backup-dir",
        env = "KEEPER_BACKUP_DIR",
        default_value = "backups",
        global = true
    )]
    pub dir: std::path::PathBuf,

    /// How many backups to keep in that directory: the newest, older ones deleted.
    #[arg(long = "backup-keep", env = "KEEPER_BACKUP_KEEP", default_value_t = 7, global = true,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub keep: u32,
}

/// `KEEPER_GUILD_RETENTION`: how long, or forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention(pub Option<std::time::Duration>);

fn parse_retention(text: &str) -> Result<Retention, String> {
    if text.trim() == "0" {
        return Ok(Retention(None));
    }
    crate::duration::parse(text)
        .map(|d| Retention(Some(d)))
        .map_err(|e| format!("{e} (e.g. 30d, or 0 to keep forever)"))
}

fn parse_backup_every(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(text).map_err(|e| format!("{e} (e.g. 24h, 12h, 7d)"))
}

/// How Keeper talks to Discord.
#[derive(Debug, clap::Args)]
pub struct DiscordConfig {
    /// The bot's token (developer portal, Bot tab). Never logged.
    #[arg(long, env = "DISCORD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<Secret>,

    /// Discord's REST API, e.g. `http://127.0.0.1:5000` for a simulator (default:
    /// Discord itself).
    #[arg(long, env = "DISCORD_API_URL", global = true)]
    pub api_url: Option<ApiUrl>,

    /// Discord's CDN, where rank cards get avatars, e.g. `http://127.0.0.1:5000`
    /// for a simulator (default: Discord's).
    #[arg(long, env = "DISCORD_CDN_URL", global = true, default_value = crate::avatars::DISCORD_CDN)]
    pub cdn_url: String,

    /// Discord's gateway, e.g. `ws://127.0.0.1:5000` for a simulator (default: the URL
    /// Discord gives).
    #[arg(long, env = "DISCORD_GATEWAY_URL", global = true)]
    pub gateway_url: Option<String>,

    /// The shards this process runs, `0-7` or `3` (default: all of them). Several
    /// processes split the shards between them with the same --total-shards.
    #[arg(long, env = "KEEPER_SHARDS", global = true)]
    pub shards: Option<ShardRange>,

    /// The total number of shards across all processes (default: Discord's
    /// recommendation).
    #[arg(long, env = "KEEPER_TOTAL_SHARDS", global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub total_shards: Option<u32>,

    /// Register the slash commands on this one guild (updates show at once) instead
    /// of globally; for development.
    #[arg(long, env = "KEEPER_DEV_GUILD", global = true)]
    pub dev_guild: Option<std::num::NonZeroU64>,

    /// Ask for the privileged MESSAGE_CONTENT intent, needed by prefix commands
    /// (`!rank`). Without it, mentioning the bot still works (`@Keeper rank`).
    #[arg(long, env = "KEEPER_MESSAGE_CONTENT", global = true, default_value_t = true,
          action = clap::ArgAction::Set)]
    pub message_content: bool,

    /// Ask for the privileged GUILD_MEMBERS intent, needed by welcome messages.
    #[arg(long, env = "KEEPER_MEMBER_EVENTS", global = true, default_value_t = true,
          action = clap::ArgAction::Set)]
    pub member_events: bool,

    /// Record bans and timeouts made in Discord's own menus as cases (asks for
    /// the GUILD_MODERATION intent; timeouts also need the member events).
    #[arg(long, env = "KEEPER_RECORD_DISCORD_MODERATION", global = true,
          default_value_t = true, action = clap::ArgAction::Set)]
    pub record_discord_moderation: bool,

    /// Milliseconds between two IDENTIFYs of one bucket, across all processes.
    /// Hidden, not a setting: Discord's is 5 s. The tests run a simulator whose
    /// window is shorter, under the same rule.
    #[arg(long, env = "KEEPER_IDENTIFY_WINDOW_MS", default_value_t = 5_000, global = true,
          hide = true, value_parser = clap::value_parser!(u64).range(100..))]
    pub identify_window_ms: u64,
}

impl DiscordConfig {
    /// The REST API Keeper talks to, as an operator would write it.
    pub fn api_url_shown(&self) -> String {
        match &self.api_url {
            Some(api) => {
                let scheme = if api.use_http { "http" } else { "https" };
                format!("{scheme}://{}", api.host)
            }
            None => "https://discord.com/api".to_owned(),
        }
    }
}

/// A token that never shows in logs or debug output.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = s.strip_prefix("Bot ").unwrap_or(s);
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err("a bot token is one word without spaces (copy it from the Bot tab)".into());
        }
        Ok(Secret(s.to_owned()))
    }
}

/// Where the REST API lives: twilight wants the host and port, and whether to use
/// plain http.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiUrl {
    pub host: String,
    pub use_http: bool,
}

impl std::str::FromStr for ApiUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (use_http, rest) = match s.trim().split_once("://") {
            Some(("http", rest)) => (true, rest),
            Some(("https", rest)) => (false, rest),
            _ => return Err("use http://host:port or https://host".into()),
        };
        let host = rest
            .trim_end_matches('/')
            .trim_end_matches("/api/v10")
            .trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err("use http://host:port or https://host, without a path".into());
        }
        Ok(ApiUrl {
            host: host.to_owned(),
            use_http,
        })
    }
}

/// `KEEPER_PUBLIC_URL`: an http or https URL with a host, kept without its
/// trailing slash so a path can be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let help =
            "the http(s) URL at which KEEPER_HTTP_ADDR is reached, e.g. https://keeper.example.org";
        let s = s.trim().trim_end_matches('/');
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(format!("not a URL; use {help}"));
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(format!("'{scheme}' is not http or https; use {help}"));
        }
        let host = &rest[..rest.find('/').unwrap_or(rest.len())];
        if host.is_empty() || host.contains('@') {
            return Err(format!(
                "a URL needs a host (and no user or password); use {help}"
            ));
        }
        // It goes into links and headers whole: nothing that would end or
        // change one.
        if s.contains(['?', '#']) || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("no query, fragment or spaces in it; use {help}"));
        }
        Ok(PublicUrl(s.to_owned()))
    }
}

/// A range of shard ids, `0-7` (inclusive) or a single `3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
}

impl std::str::FromStr for ShardRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a shard range; use e.g. 0-7 or 3");
        let (first, last) = match s.trim().split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let n = s.trim().parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        if first > last {
            return Err(format!("'{s}': the first shard comes after the last"));
        }
        Ok(ShardRange { first, last })
    }
}

impl ShardRange {
    /// Check the range against the total, naming the flags in the message.
    pub fn within(self, total: u32) -> Result<Self, String> {
        if self.last >= total {
            return Err(format!(
                "KEEPER_SHARDS: shard {} does not exist with {total} shards in total (ids are 0 to {})",
                self.last,
                total - 1
            ));
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PgPoolerArg {
    None,
    Transaction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSyncArg {
    Normal,
    Full,
}

/// A database URL whose scheme we have already checked, so a typo fails at start-up
/// with the variable named, not later with a driver error.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
    /// `mysql://` or `mariadb://`: MySQL 8 or MariaDB 10.6 and later.
    MySql(String),
}

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(url) | DatabaseUrl::Postgres(url) | DatabaseUrl::MySql(url) => url,
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let scheme = s
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => {
                let path = s["sqlite:".len()..].trim_start_matches("//");
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err("a sqlite URL needs a file path, e.g. sqlite://keeper.db".into());
                }
                if path == ":memory:" {
                    return Err(
                        "an in-memory SQLite database would lose everything at exit; \
                         give a file path, e.g. sqlite://keeper.db"
                            .into(),
                    );
                }
                Ok(DatabaseUrl::Sqlite(s.to_owned()))
            }
            Some("postgres" | "postgresql") => {
                let rest = s
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                if rest.is_empty() || rest.starts_with('/') {
                    return Err(
                        "a postgres URL needs a host, e.g. postgres://keeper@localhost/keeper"
                            .into(),
                    );
                }
                Ok(DatabaseUrl::Postgres(s.to_owned()))
            }
            Some(scheme @ ("mysql" | "mariadb")) => {
                let rest = s
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                if rest.is_empty() || rest.starts_with('/') {
                    return Err(format!(
                        "a {scheme} URL needs a host, e.g. {scheme}://keeper@localhost/keeper"
                    ));
                }
                let database = rest
                    .split_once('/')
                    .map(|(_, path)| path.split('?').next().unwrap_or_default())
                    .unwrap_or_default();
                if database.is_empty() {
                    return Err(format!(
                        "a {scheme} URL needs a database name, e.g. {scheme}://keeper@localhost/keeper"
                    ));
                }
                Ok(DatabaseUrl::MySql(s.to_owned()))
            }
            Some(other) if !other.is_empty() => Err(format!(
                "unsupported scheme '{other}'; use sqlite://path/to/keeper.db, \
                 postgres://user@host/dbname or mysql://user@host/dbname"
            )),
            _ => Err(
                "not a URL; use sqlite://path/to/keeper.db, postgres://user@host/dbname or \
                 mysql://user@host/dbname"
                    .into(),
            ),
        }
    }
}

/// Passwords in a URL never reach logs or error messages.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.as_str()))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.as_str()))
    }
}

/// `postgres://user:secret@host/db?sslpassword=x` ->
/// `postgres://user:***@host/db?sslpassword=***`: a password in the user-info
/// part or in a query parameter never reaches a log or a terminal.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = redact_userinfo(base);
    let Some(query) = query else {
        return base;
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// A query parameter whose value is a credential (libpq's `password`,
/// `sslpassword`, and anything named like one).
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("keeper").chain(args.iter().copied()))
    }

    #[test]
    fn worker_threads_default_to_twice_the_cpus() {
        assert_eq!(default_worker_threads(0), 2);
        assert_eq!(default_worker_threads(1), 2);
        assert_eq!(default_worker_threads(2), 4);
        assert_eq!(default_worker_threads(16), 32);
        let set = parse(&["--worker-threads", "3"]).expect("parses");
        assert_eq!(set.worker_threads(), 3);
        assert!(parse(&["--worker-threads", "0"]).is_err());
        assert!(parse(&["--worker-threads", "many"]).is_err());
    }

    #[test]
    fn database_urls() {
        assert!(matches!(
            "sqlite://keeper.db".parse(),
            Ok(DatabaseUrl::Sqlite(_))
        ));
        assert!(matches!(
            "sqlite:data/k.db?mode=rwc".parse(),
            Ok(DatabaseUrl::Sqlite(_))
        ));
        assert!(matches!(
            "postgres://k@localhost/k".parse(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(matches!(
            "POSTGRESQL://k@db:5432/k".parse(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(matches!(
            "mysql://root@localhost/k".parse(),
            Ok(DatabaseUrl::MySql(_))
        ));
        assert!(matches!(
            "MariaDB://k:pw@db:3306/k?ssl-mode=required".parse(),
            Ok(DatabaseUrl::MySql(_))
        ));
        let err = "mysql://root@localhost".parse::<DatabaseUrl>().unwrap_err();
        assert!(err.contains("needs a database name"), "{err}");
        assert!("mariadb:///k".parse::<DatabaseUrl>().is_err());
        let err = "mongodb://root@localhost/k"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(err.contains("unsupported scheme 'mongodb'"), "{err}");
        assert!(
            "keeper.db"
                .parse::<DatabaseUrl>()
                .unwrap_err()
                .contains("not a URL")
        );
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
        assert!("sqlite::memory:".parse::<DatabaseUrl>().is_err());
        assert!("postgres:///db".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://k:hunter2@db:5432/k"),
            "postgres://k:***@db:5432/k"
        );
        assert_eq!(redact_url("postgres://k@db/k"), "postgres://k@db/k");
        assert_eq!(redact_url("sqlite://keeper.db"), "sqlite://keeper.db");
        let url: DatabaseUrl = "postgres://k:hunter2@db/k".parse().unwrap();
        assert!(!format!("{url:?} {url}").contains("hunter2"));
        // In the query string too, as libpq and sqlx accept them.
        assert_eq!(
            redact_url("postgres://k@db/k?password=hunter2&sslmode=require&sslpassword=x"),
            "postgres://k@db/k?password=***&sslmode=require&sslpassword=***"
        );
        assert_eq!(
            redact_url("postgres://db?user=k&PASSWORD=hunter2"),
            "postgres://db?user=k&PASSWORD=***"
        );
        let url: DatabaseUrl = "postgres://db/k?password=hunter2".parse().unwrap();
        assert!(!format!("{url:?} {url}").contains("hunter2"));
    }

    #[test]
    fn public_urls() {
        let url: PublicUrl = "https://keeper.example.org/".parse().unwrap();
        assert_eq!(url.as_str(), "https://keeper.example.org");
        let url: PublicUrl = " HTTP://127.0.0.1:8080/keeper ".parse().unwrap();
        assert_eq!(url.as_str(), "HTTP://127.0.0.1:8080/keeper");
        for bad in [
            "keeper.example.org",
            "ftp://keeper.example.org",
            "https://",
            "https:///path",
            "https://user:pw@keeper.example.org",
            "https://keeper.example.org/?a=1",
            "https://keeper.example.org/#top",
            "https://keeper example.org",
        ] {
            let err = bad.parse::<PublicUrl>().unwrap_err();
            assert!(err.contains("https://keeper.example.org"), "{bad}: {err}");
        }
        let config = parse(&["--public-url", "https://k.example"]).unwrap();
        assert_eq!(
            config.public_url.as_ref().map(PublicUrl::as_str),
            Some("https://k.example")
        );
        assert!(parse(&["--public-url", "k.example"]).is_err());
        assert_eq!(parse(&[]).unwrap().public_url, None);
    }

    #[test]
    fn shard_ranges() {
        assert_eq!("0-7".parse(), Ok(ShardRange { first: 0, last: 7 }));
        assert_eq!(" 3 ".parse(), Ok(ShardRange { first: 3, last: 3 }));
        assert!("7-0".parse::<ShardRange>().is_err());
        assert!("a-b".parse::<ShardRange>().is_err());
        assert!(ShardRange { first: 0, last: 15 }.within(16).is_ok());
        assert!(
            ShardRange { first: 0, last: 16 }
                .within(16)
                .unwrap_err()
                .contains("KEEPER_SHARDS")
        );
    }

    #[test]
    fn api_urls_and_tokens() {
        assert_eq!(
            "http://127.0.0.1:5000".parse(),
            Ok(ApiUrl {
                host: "127.0.0.1:5000".into(),
                use_http: true
            })
        );
        assert_eq!(
            "https://discord.com/api/v10".parse(),
            Ok(ApiUrl {
                host: "discord.com".into(),
                use_http: false
            })
        );
        assert!("127.0.0.1:5000".parse::<ApiUrl>().is_err());
        assert!("http://h/some/path".parse::<ApiUrl>().is_err());
        let token: Secret = "Bot abc.def".parse().unwrap();
        assert_eq!(token.0, "abc.def");
        assert_eq!(format!("{token:?}"), "***");
        assert!("two words".parse::<Secret>().is_err());
    }

    #[test]
    fn defaults_and_flags() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.command, None);
        assert_eq!(config.database.pg_pool, 10);
        assert_eq!(config.database.sqlite_sync, SqliteSyncArg::Normal);
        assert_eq!(config.database.pg_pooler, PgPoolerArg::None);
        assert_eq!(config.log_filter(), "info");
        assert_eq!(parse(&["demo"]).unwrap().log_filter(), "warn");
        let asked = parse(&["demo", "--log", "keeper=debug"]).unwrap();
        assert_eq!(asked.log_filter(), "keeper=debug");
        let config = parse(&[
            "check",
            "--database-url",
            "postgres://a@b/c",
            "--pg-pool",
            "3",
            "--pg-pooler",
            "transaction",
        ])
        .unwrap();
        assert_eq!(config.database.pg_pooler, PgPoolerArg::Transaction);
        assert_eq!(config.command, Some(Command::Check));
        assert!(matches!(
            config.database.database_url,
            DatabaseUrl::Postgres(_)
        ));
        assert_eq!(config.database.pg_pool, 3);
        assert!(parse(&["--pg-pool", "0"]).is_err());
        assert!(parse(&["--sqlite-sync", "sometimes"]).is_err());
    }
}
