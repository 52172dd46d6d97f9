//! The `keeper` binary as an operator meets it: `--help`, `migrate`, `check`, and
//! one clear line with exit code 2 for every bad configuration.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Output},
};

use common::Db;

fn keeper(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = scratch_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keeper"));
    // Run in an empty directory so no developer's .env or keeper.db is picked up,
    // and with none of Keeper's variables inherited from the environment.
    cmd.current_dir(&dir).args(args).env("KEEPER_LOG", "warn");
    for var in [
        "DATABASE_URL",
        "DISCORD_TOKEN",
        "KEEPER_PG_POOL",
        "KEEPER_SQLITE_SYNC",
        "KEEPER_PG_CONNECT_ATTEMPTS",
        "KEEPER_MYSQL_POOL",
        "KEEPER_MYSQL_CONNECT_ATTEMPTS",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run keeper")
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keeper-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code 2, and Keeper's own line (after any log lines) names the variable;
/// no panic, no backtrace.
fn assert_config_error(out: &Output, variable: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let said: Vec<_> = err.lines().filter(|l| l.starts_with("keeper: ")).collect();
    assert!(!said.is_empty(), "{err}");
    assert!(
        said[0].contains(variable),
        "the error should name {variable}: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn help_lists_every_variable() {
    let out = keeper(&["--help"], &[]);
    assert!(out.status.success());
    let help = stdout(&out);
    for var in [
        "DATABASE_URL",
        "KEEPER_SQLITE_SYNC",
        "KEEPER_PG_POOL",
        "KEEPER_PG_CONNECT_ATTEMPTS",
        "KEEPER_MYSQL_POOL",
        "KEEPER_MYSQL_CONNECT_ATTEMPTS",
        "DISCORD_TOKEN",
        "DISCORD_API_URL",
        "DISCORD_GATEWAY_URL",
        "DISCORD_CDN_URL",
        "KEEPER_SHARDS",
        "KEEPER_TOTAL_SHARDS",
        "KEEPER_DEV_GUILD",
        "KEEPER_LOG",
    ] {
        assert!(help.contains(var), "--help does not mention {var}");
    }
    for sub in ["run", "migrate", "check", "demo"] {
        assert!(help.contains(sub), "--help does not list `{sub}`");
    }
}

#[test]
fn env_example_lists_every_variable() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    let help = stdout(&keeper(&["--help"], &[]));
    for word in help.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
        if word.len() > 4
            && (word.starts_with("KEEPER_")
                || word.starts_with("DISCORD_")
                || word == "DATABASE_URL")
        {
            assert!(example.contains(word), ".env.example lacks {word}");
        }
    }
}

#[test]
fn check_and_migrate_on_a_fresh_sqlite_file() {
    let dir = scratch_dir();
    let url = format!("sqlite://{}/data.db", dir.display());
    // The newest migration's number is the schema version.
    let latest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .get(..4)?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap();
    assert!(latest >= 3);
    let out = keeper(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("sqlite: schema at version {latest}")),
        "{}",
        stdout(&out)
    );
    assert!(dir.join("data.db").exists());

    let out = keeper(&["check", "--database-url", &url], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("backend:        sqlite"), "{text}");
    assert!(
        text.contains(&format!("schema version: {latest}")),
        "{text}"
    );
    for table in [
        "guild_settings",
        "member_xp",
        "mod_cases",
        "level_rewards",
        "escalation_rules",
        "gateway_sessions",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(table) && l.trim_end().ends_with(" 0")),
            "{table}: {text}"
        );
    }
}

#[test]
fn the_default_database_is_keeper_db_in_the_working_directory() {
    let dir = scratch_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_keeper"))
        .current_dir(&dir)
        .arg("check")
        .env_remove("DATABASE_URL")
        .env("KEEPER_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("keeper.db").exists());
}

#[test]
fn bad_database_urls_name_the_variable() {
    assert_config_error(
        &keeper(&["check"], &[("DATABASE_URL", "mysql://root@localhost/k")]),
        "DATABASE_URL",
    );
    assert_config_error(
        &keeper(&["check"], &[("DATABASE_URL", "keeper.db")]),
        "DATABASE_URL",
    );
    assert_config_error(
        &keeper(&["check", "--database-url", "sqlite::memory:"], &[]),
        "DATABASE_URL",
    );
}

#[test]
fn unwritable_sqlite_path_names_the_variable() {
    let out = keeper(
        &["check"],
        &[("DATABASE_URL", "sqlite:///nonexistent-dir/sub/keeper.db")],
    );
    assert_config_error(&out, "DATABASE_URL");
    assert!(stderr(&out).contains("nonexistent-dir"), "{}", stderr(&out));
}

#[test]
fn unreachable_servers_fail_after_retries() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    for (attempts, url) in [
        (
            "--pg-connect-attempts",
            "postgres://keeper:secret-password@127.0.0.1:1/keeper",
        ),
        (
            "--mysql-connect-attempts",
            "mysql://keeper:secret-password@127.0.0.1:1/keeper",
        ),
    ] {
        let out = keeper(&["check", attempts, "2"], &[("DATABASE_URL", url)]);
        assert_config_error(&out, "DATABASE_URL");
        assert!(
            !stderr(&out).contains("secret-password"),
            "the password leaked: {}",
            stderr(&out)
        );
    }
}

/// A password given as a query parameter (as libpq and sqlx accept it) is not
/// printed by `keeper check`, nor logged.
#[tokio::test]
async fn check_hides_a_password_in_the_query_string() {
    let (backend, url) = common::Backend::create(Db::Postgres).await;
    // The local server trusts every connection, so any password is accepted.
    let with_password = format!("{url}?password=hunter2-in-the-query");
    let out = keeper(
        &["check", "--database-url", &with_password],
        &[("KEEPER_LOG", "info")],
    );
    backend.drop().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(shown.contains("password=***"), "{shown}");
    assert!(!shown.contains("hunter2"), "the password leaked: {shown}");
}

#[test]
fn bad_numbers_and_choices_name_the_setting() {
    assert_config_error(
        &keeper(&["check"], &[("KEEPER_PG_POOL", "lots")]),
        "pg-pool",
    );
    assert_config_error(
        &keeper(&["check"], &[("KEEPER_SQLITE_SYNC", "sometimes")]),
        "sqlite-sync",
    );
    assert_config_error(&keeper(&["check", "--shards", "9-2"], &[]), "shards");
}

/// `keeper demo` prints the story alone on stdout and ends with how to run the
/// real thing; without `KEEPER_LOG` its log is quiet (warnings only), so a
/// terminal shows the story without log lines woven into it.
#[test]
fn demo_prints_the_story_alone() {
    let out = Command::new(env!("CARGO_BIN_EXE_keeper"))
        .current_dir(scratch_dir())
        .arg("demo")
        .env_remove("KEEPER_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("DISCORD_TOKEN")
        .output()
        .expect("run keeper demo");
    let (story, log) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{story}\n{log}");
    for part in [
        "alice used /config xp",
        "bob used /rank",
        "carol joins",
        "?rank",
    ] {
        assert!(story.contains(part), "the story lacks {part:?}: {story}");
    }
    let last = story.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.contains("keeper run"), "{last}");
    for line in story.lines() {
        assert!(
            !line.contains(" INFO ") && !line.contains(" WARN ") && !line.contains('\x1b'),
            "a log line in the story: {line}"
        );
    }
    assert!(
        !log.contains("INFO"),
        "the demo logs below warn by default: {log}"
    );
}

/// Discord's API unreachable: after a few attempts, one line naming the
/// setting, the URL and the cause, exit code 2 (the operator's to fix), and not
/// mistaken for a rejected token.
#[test]
fn unreachable_discord_is_said_plainly() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let out = keeper(
        &[
            "run",
            "--token",
            "abc.def",
            "--api-url",
            "http://127.0.0.1:1",
        ],
        &[],
    );
    assert_config_error(&out, "DISCORD_API_URL");
    let err = stderr(&out);
    let said = err.lines().find(|l| l.starts_with("keeper: ")).unwrap();
    assert!(
        said.contains("could not reach Discord's API at http://127.0.0.1:1"),
        "{said}"
    );
    assert!(
        said.to_lowercase().contains("refused"),
        "the cause is named: {said}"
    );
    assert!(!said.contains("DISCORD_TOKEN"), "{said}");
}

#[test]
fn run_without_a_token_says_so() {
    let out = keeper(&["run"], &[]);
    assert_config_error(&out, "DISCORD_TOKEN");
    assert!(stderr(&out).contains("keeper demo"));
}

/// `keeper check` on PostgreSQL warns when the server's autovacuum is off (every
/// award leaves a dead row version that only VACUUM reclaims), and only then.
#[tokio::test]
async fn check_on_postgres_warns_when_autovacuum_is_off() {
    let (backend, url) = common::Backend::create(Db::Postgres).await;
    let out = keeper(&["check", "--database-url", &url], &[]);
    // The server's setting, read directly (not through Keeper): the test holds on
    // either kind of server.
    let mut conn = common::connect_admin(&url).await;
    let setting: String = sqlx::query_scalar("SHOW autovacuum")
        .fetch_one(&mut conn)
        .await
        .expect("SHOW autovacuum");
    drop(conn);
    backend.drop().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("backend:        postgres"), "{text}");
    assert_eq!(
        text.contains("autovacuum is off"),
        setting == "off",
        "autovacuum is {setting}: {text}"
    );
}

/// `keeper backup` on any backend: one file named by backend and UTC time,
/// readable by its owner only, nothing left under a temporary name, and a
/// whole copy: it restores (SQLite: opened as is; PostgreSQL: `pg_restore`
/// into an empty database; MySQL: its own client, `mariadb`, into an empty
/// database) with every table's rows.
async fn backup_restores_with_every_row(db: Db) {
    let (backend, url) = common::Backend::create(db).await;
    let store = common::open_store(&url).await;
    let awards: Vec<_> = (1..=50)
        .map(|user| keeper_store::XpAward {
            guild_id: twilight_model::id::Id::new(7),
            user_id: twilight_model::id::Id::new(user),
            xp: 10 * user as i64,
            messages: 1,
            at: chrono::Utc::now(),
        })
        .collect();
    store.award_xp(&awards, &[]).await.unwrap();
    let counts = store.table_counts().await.unwrap();
    store.close().await;

    let out_dir = scratch_dir();
    let out_arg = out_dir.display().to_string();
    let out = keeper(&["backup", "--out", &out_arg], &[("DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let files: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    // Plain progress lines off a terminal, the last one the whole file.
    let size = std::fs::metadata(file).unwrap().len();
    let whole = format!(
        "100%  backup  {size}/{size} bytes",
        size = keeper::progress::grouped(size)
    );
    assert!(
        stderr(&out).contains(&whole),
        "{whole:?} in {}",
        stderr(&out)
    );
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    let (prefix, extension) = match db {
        Db::Sqlite => ("keeper-sqlite-", ".db"),
        Db::Postgres => ("keeper-postgres-", ".dump"),
        Db::MySql => ("keeper-mysql-", ".sql"),
    };
    assert!(
        name.starts_with(prefix) && name.ends_with(extension) && name.contains('T'),
        "{name}"
    );
    assert!(stdout(&out).contains(&name), "{}", stdout(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }

    let (restored_backend, restored_url) = match db {
        Db::Sqlite => (None, format!("sqlite://{}", file.display())),
        Db::MySql => {
            let (target, target_url) = common::Backend::create(Db::MySql).await;
            common::load_mysql_dump(&target_url, file);
            (Some(target), target_url)
        }
        Db::Postgres => {
            let (target, target_url) = common::Backend::create(Db::Postgres).await;
            let restored = Command::new("pg_restore")
                .args(["--no-owner", "--dbname", &target_url])
                .arg(file)
                .output()
                .expect("pg_restore (postgresql-client) is installed");
            assert!(restored.status.success(), "{}", stderr(&restored));
            (Some(target), target_url)
        }
    };
    let copy = common::open_store(&restored_url).await;
    assert_eq!(copy.table_counts().await.unwrap(), counts);
    let top = copy
        .leaderboard(twilight_model::id::Id::new(7), 0, 1)
        .await
        .unwrap();
    assert_eq!((top[0].user_id.get(), top[0].xp), (50, 500));
    copy.close().await;
    if let Some(target) = restored_backend {
        target.drop().await;
    }
    backend.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_sqlite_restores_with_every_row() {
    backup_restores_with_every_row(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_postgres_restores_with_every_row() {
    backup_restores_with_every_row(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_mysql_restores_with_every_row() {
    backup_restores_with_every_row(Db::MySql).await;
}

/// A directory Keeper can't write in is one clear line, exit code 2, and
/// nothing is left behind.
#[test]
fn backup_into_a_missing_directory_says_so() {
    let dir = scratch_dir();
    let url = format!("sqlite://{}/data.db", dir.display());
    let missing = dir.join("no-such-dir").display().to_string();
    let out = keeper(&["backup", "--out", &missing], &[("DATABASE_URL", &url)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    assert!(!dir.join("no-such-dir").exists());
}

/// `KEEPER_LOG_FORMAT=json`: every log line is one JSON object (for log
/// shippers); the default text has no colour codes off a terminal; another
/// value is a configuration error naming the setting.
#[test]
fn logs_are_json_lines_when_asked_and_plain_text_otherwise() {
    let url = format!("sqlite://{}/keeper.db", scratch_dir().display());
    let env = |format: &'static str| {
        [
            ("DATABASE_URL", url.clone()),
            ("KEEPER_LOG", "debug".to_owned()),
            ("KEEPER_LOG_FORMAT", format.to_owned()),
        ]
    };
    let json = env("json");
    let json: Vec<(&str, &str)> = json.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = keeper(&["migrate"], &json);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stderr(&out).lines().map(str::to_owned).collect();
    assert!(lines.len() > 3, "debug logs something: {lines:?}");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["level"].is_string() && value["fields"].is_object(),
            "{line}"
        );
    }

    let text = env("text");
    let text: Vec<(&str, &str)> = text.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = keeper(&["migrate"], &text);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("DEBUG"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "no colour codes in a pipe"
    );

    assert_config_error(
        &keeper(&["check"], &[("KEEPER_LOG_FORMAT", "xml")]),
        "log-format",
    );
}
