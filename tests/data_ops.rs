//! Moving whole databases as an operator does, through the `keeper` binary:
//! `keeper restore` of a backup into any backend and `keeper copy` between
//! them, each compared table by table with what it came from; and every way a
//! file or a target is refused, the target left as it was.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::Arc,
};

use keeper_store::{
    Store, XpAward,
    conformance::sample_rows,
    transfer::{self, Table, TableDigest},
};
use twilight_model::id::Id;

use common::Db;

fn keeper(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keeper"));
    cmd.current_dir(std::env::temp_dir())
        .args(args)
        .env("KEEPER_LOG", "warn");
    for var in [
        "DATABASE_URL",
        "KEEPER_PG_POOL",
        "KEEPER_SQLITE_SYNC",
        "KEEPER_MYSQL_POOL",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run keeper")
}

fn said(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Members enough for several pages of 5,000 rows, beside a row in every table.
const MEMBERS: u64 = 12_000;

/// A database of `db` holding the sample rows of every table and
/// [`MEMBERS`] more members.
async fn filled(db: Db) -> (common::Backend, String) {
    let (backend, url) = common::Backend::create(db).await;
    let store = common::open_store(&url).await;
    for rows in sample_rows() {
        store.write_rows(&rows).await.unwrap();
    }
    let awards: Vec<_> = (1..=MEMBERS)
        .map(|user| XpAward {
            guild_id: Id::new(77),
            user_id: Id::new(1_000 + user),
            xp: (user * 37 % 5_000) as i64,
            messages: 1,
            at: chrono::DateTime::from_timestamp_millis(1_760_000_000_000 + user as i64).unwrap(),
        })
        .collect();
    store.award_xp(&awards, &[]).await.unwrap();
    store.close().await;
    (backend, url)
}

/// Every table's row count and checksum, as `keeper copy` compares them.
async fn digests(url: &str) -> Vec<TableDigest> {
    let store = common::open_store(url).await;
    let digests = digests_of(&store).await;
    store.close().await;
    digests
}

async fn digests_of(store: &Arc<dyn Store>) -> Vec<TableDigest> {
    let mut all = Vec::new();
    for table in Table::ALL {
        all.push(
            transfer::digest_table(&**store, table, 1_000)
                .await
                .unwrap(),
        );
    }
    all
}

/// `keeper backup` of `url` into a new directory; the file written.
fn backup(url: &str) -> PathBuf {
    let dir = scratch_dir();
    let out = keeper(
        &["backup", "--out", dir.to_str().unwrap()],
        &[("DATABASE_URL", url)],
    );
    assert!(out.status.success(), "{}", said(&out));
    std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keeper-data-ops-{}-{}",
        std::process::id(),
        common::unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn member_rows(digests: &[TableDigest]) -> u64 {
    digests
        .iter()
        .find(|d| d.table == Table::MemberXp)
        .unwrap()
        .rows
}

/// Yesterday's SQLite backup becomes today's database, on any backend:
/// every table equal to the original, row for row. A second restore over it is
/// refused (nothing written) until `--force`, which replaces it whole.
async fn a_sqlite_backup_restores_into(db: Db) {
    let (source, source_url) = filled(Db::Sqlite).await;
    let expected = digests(&source_url).await;
    assert_eq!(member_rows(&expected), MEMBERS + 4);
    let file = backup(&source_url);

    let (target, target_url) = common::Backend::create(db).await;
    let restore = |force: bool| {
        let mut args = vec!["restore", file.to_str().unwrap(), "--to", &target_url];
        if force {
            args.push("--force");
        }
        keeper(&args, &[])
    };
    let out = restore(false);
    assert!(out.status.success(), "{}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("member_xp") && text.contains("12,004"),
        "{text}"
    );
    assert!(text.contains("restored"), "{text}");
    assert_eq!(digests(&target_url).await, expected);

    let again = restore(false);
    assert_eq!(again.status.code(), Some(2), "{}", said(&again));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already holds") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(digests(&target_url).await, expected);

    // --force over a target that changed since: replaced whole.
    let store = common::open_store(&target_url).await;
    store.clear_all().await.unwrap();
    store
        .award_xp(
            &[XpAward {
                guild_id: Id::new(5),
                user_id: Id::new(5),
                xp: 1,
                messages: 1,
                at: chrono::Utc::now(),
            }],
            &[],
        )
        .await
        .unwrap();
    store.close().await;
    let forced = restore(true);
    assert!(forced.status.success(), "{}", said(&forced));
    assert_eq!(digests(&target_url).await, expected);

    target.drop().await;
    source.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_restores_into_sqlite() {
    a_sqlite_backup_restores_into(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_restores_into_postgres() {
    a_sqlite_backup_restores_into(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_restores_into_mysql() {
    a_sqlite_backup_restores_into(Db::MySql).await;
}

/// A `pg_dump` archive restores into PostgreSQL, equal table for table, and
/// is refused for SQLite with what to do instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_restores_into_postgres() {
    a_dump_restores_into_its_own_backend(Db::Postgres, ".dump").await;
}

/// A `mariadb-dump` script restores into MySQL the same way (through the
/// `mariadb` client), and a cut one is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_dump_restores_into_mysql() {
    let file = a_dump_restores_into_its_own_backend(Db::MySql, ".sql").await;
    let bytes = std::fs::read(&file).unwrap();
    let cut = scratch_dir().join("cut.sql");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (target, target_url) = common::Backend::create(Db::MySql).await;
    let out = keeper(
        &["restore", cut.to_str().unwrap(), "--to", &target_url],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("Dump completed"), "{}", said(&out));
    target.drop().await;
}

/// `db`'s backup (named `*{extension}`) into an empty, migrated database of
/// the same backend: equal table for table; again without `--force`: refused;
/// into SQLite: refused, saying to copy instead. The backup file, kept.
async fn a_dump_restores_into_its_own_backend(db: Db, extension: &str) -> PathBuf {
    let (source, source_url) = filled(db).await;
    let expected = digests(&source_url).await;
    let file = backup(&source_url);
    assert!(file.to_str().unwrap().ends_with(extension), "{file:?}");

    let (target, target_url) = common::Backend::create(db).await;
    // A target already migrated (empty) is fine: Keeper's tables are replaced.
    common::open_store(&target_url).await.close().await;
    let out = keeper(
        &["restore", file.to_str().unwrap(), "--to", &target_url],
        &[],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(digests(&target_url).await, expected);

    let again = keeper(
        &["restore", file.to_str().unwrap()],
        &[("DATABASE_URL", &target_url)],
    );
    assert_eq!(again.status.code(), Some(2), "{}", said(&again));
    assert!(said(&again).contains("--force"), "{}", said(&again));

    let sqlite = scratch_dir().join("k.db");
    let sqlite_url = format!("sqlite://{}", sqlite.display());
    let out = keeper(
        &["restore", file.to_str().unwrap(), "--to", &sqlite_url],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("keeper copy"), "{}", said(&out));
    assert!(!sqlite.exists(), "nothing was created");

    target.drop().await;
    source.drop().await;
    file
}

/// What is not a whole Keeper backup at a schema this Keeper knows is one
/// clear line, exit code 2, and the target untouched: a text file, a truncated
/// backup, bytes flipped inside one, a SQLite database of someone else's, and a
/// backup from a newer Keeper (both versions named).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backups_are_refused_and_the_target_is_untouched() {
    let (source, source_url) = filled(Db::Sqlite).await;
    let file = backup(&source_url);
    let bytes = std::fs::read(&file).unwrap();
    let dir = scratch_dir();
    let (target, target_url) = common::Backend::create(Db::Sqlite).await;
    let before = digests(&target_url).await;

    let write = |name: &str, content: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let mut flipped = bytes.clone();
    // Inside the pages holding member rows, well past the header.
    for at in (bytes.len() / 2..bytes.len() / 2 + 4096).step_by(7) {
        flipped[at] ^= 0x5a;
    }
    let newer = write("newer.db", &bytes);
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", newer.display()))
            .await
            .unwrap();
        sqlx::raw_sql(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from the future', true, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let foreign = dir.join("foreign.db");
    {
        use sqlx::{Connection, sqlite::SqliteConnectOptions};
        let options = SqliteConnectOptions::new()
            .filename(&foreign)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, xp INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let cases: [(PathBuf, &str); 5] = [
        (
            write("data.json", b"{\"guilds\": {}}"),
            "not a Keeper backup",
        ),
        (write("truncated.db", &bytes[..bytes.len() / 3]), "damaged"),
        (write("flipped.db", &flipped), "damaged"),
        (foreign, "not Keeper's"),
        (newer, "schema version 9999"),
    ];
    for (path, expected) in &cases {
        let out = keeper(
            &["restore", path.to_str().unwrap(), "--to", &target_url],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            path.display(),
            said(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        let line: Vec<_> = err.lines().filter(|l| l.starts_with("keeper: ")).collect();
        assert_eq!(line.len(), 1, "{}: {err}", path.display());
        assert!(line[0].contains(expected), "{}: {err}", path.display());
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(digests(&target_url).await, before, "{}", path.display());
    }
    let out = keeper(
        &[
            "restore",
            dir.join("missing.db").to_str().unwrap(),
            "--to",
            &target_url,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("missing.db"), "{}", said(&out));
    target.drop().await;
    source.drop().await;
}

/// `keeper copy` SQLite -> PostgreSQL -> MySQL -> SQLite: each step equal
/// table for table (ids above i64::MAX, times to the millisecond, every
/// column), every backend copied from and into once; a copy of a database onto
/// itself is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_goes_every_way_between_backends() {
    let (source, source_url) = filled(Db::Sqlite).await;
    let expected = digests(&source_url).await;
    let (pg, pg_url) = common::Backend::create(Db::Postgres).await;
    let out = keeper(&["copy", "--from", &source_url, "--to", &pg_url], &[]);
    assert!(out.status.success(), "{}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("checksum") && text.contains("rows/s"),
        "{text}"
    );
    assert_eq!(digests(&pg_url).await, expected);

    let (mysql, mysql_url) = common::Backend::create(Db::MySql).await;
    let out = keeper(&["copy", "--from", &pg_url, "--to", &mysql_url], &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(digests(&mysql_url).await, expected);

    let (back, back_url) = common::Backend::create(Db::Sqlite).await;
    let out = keeper(&["copy", "--from", &mysql_url, "--to", &back_url], &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(digests(&back_url).await, expected);

    for url in [&pg_url, &mysql_url] {
        let same = keeper(&["copy", "--from", url, "--to", url], &[]);
        assert_eq!(same.status.code(), Some(2), "{}", said(&same));
    }
    back.drop().await;
    mysql.drop().await;
    pg.drop().await;
    source.drop().await;
}

/// A copy cut off half-way leaves a target with some tables: the next run
/// says so and what to do, writes nothing; with `--force` it completes, equal.
/// Into each server backend (PostgreSQL, MySQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_is_finished_with_force() {
    let (source, source_url) = filled(Db::Sqlite).await;
    let expected = digests(&source_url).await;
    for db in [Db::Postgres, Db::MySql] {
        let (target, target_url) = common::Backend::create(db).await;
        // What a copy killed during member_xp leaves: the tables before it, and
        // the first page of it.
        let from = common::open_store(&source_url).await;
        let to = common::open_store(&target_url).await;
        for table in [Table::GuildSettings, Table::Guilds, Table::GuildRoles] {
            transfer::copy_table(&*from, &*to, table, 5_000, |_| {})
                .await
                .unwrap();
        }
        let page = from.read_rows(Table::MemberXp, None, 5_000).await.unwrap();
        to.write_rows(&page).await.unwrap();
        let half = digests_of(&to).await;
        from.close().await;
        to.close().await;

        let out = keeper(&["copy", "--from", &source_url, "--to", &target_url], &[]);
        assert_eq!(out.status.code(), Some(2), "{db:?}: {}", said(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("member_xp 5000") && err.contains("--force"),
            "{db:?}: {err}"
        );
        assert_eq!(digests(&target_url).await, half, "{db:?}: nothing written");

        let out = keeper(
            &[
                "copy",
                "--from",
                &source_url,
                "--to",
                &target_url,
                "--force",
            ],
            &[],
        );
        assert!(out.status.success(), "{db:?}: {}", said(&out));
        assert_eq!(digests(&target_url).await, expected, "{db:?}");
        target.drop().await;
    }
    source.drop().await;
}

/// `keeper export` of every backend and `keeper import` into every backend
/// (its own too): every table equal to the original, row for row. An export
/// cut short, or from a newer Keeper, is refused whole and nothing is written;
/// and an existing file is never overwritten by an export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_import_into_every_backend() {
    for from in Db::ALL {
        let (source, source_url) = filled(from).await;
        let expected = digests(&source_url).await;
        let file = scratch_dir().join("keeper.jsonl.gz");
        let file_arg = file.to_str().unwrap();
        let out = keeper(
            &["export", "--out", file_arg],
            &[("DATABASE_URL", &source_url)],
        );
        assert!(out.status.success(), "{}", said(&out));
        assert!(said(&out).contains("12,0"), "{}", said(&out));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = keeper(
            &["export", "--out", file_arg],
            &[("DATABASE_URL", &source_url)],
        );
        assert_ne!(again.status.code(), Some(0), "{}", said(&again));

        for into in Db::ALL {
            let (target, target_url) = common::Backend::create(into).await;
            let out = keeper(&["import", file_arg, "--to", &target_url], &[]);
            assert!(out.status.success(), "{}", said(&out));
            assert_eq!(digests(&target_url).await, expected, "{from:?} -> {into:?}");
            let twice = keeper(&["restore", file_arg, "--to", &target_url], &[]);
            assert_eq!(twice.status.code(), Some(2), "{}", said(&twice));
            target.drop().await;
        }

        // Cut short: refused before anything is written.
        let bytes = std::fs::read(&file).unwrap();
        let cut = file.with_file_name("cut.jsonl.gz");
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let (target, target_url) = common::Backend::create(Db::Sqlite).await;
        let out = keeper(&["import", cut.to_str().unwrap(), "--to", &target_url], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", said(&out));
        assert!(said(&out).contains("gzip"), "{}", said(&out));
        assert_eq!(
            member_rows(&digests(&target_url).await),
            0,
            "nothing written"
        );
        target.drop().await;
        source.drop().await;
    }
}

/// `keeper forget-user` deletes one person's XP, joins and the cases about
/// them, in every guild, and nothing of anyone else's; a bad id is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_user_deletes_one_persons_data_only() {
    let (source, url) = filled(Db::Sqlite).await;
    let before = digests(&url).await;
    let out = keeper(&["forget-user", "11"], &[("DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("1 XP rows, 0 saved names and avatars and 2 cases"),
        "{}",
        said(&out)
    );
    let store = common::open_store(&url).await;
    let left = store.export_user(Id::new(11)).await.unwrap();
    assert!(left.xp.is_empty() && left.cases.is_empty(), "{left:?}");
    let after = digests_of(&store).await;
    store.close().await;
    for (b, a) in before.iter().zip(&after) {
        let gone = match b.table {
            Table::MemberXp | Table::WelcomedMembers => 1,
            Table::ModCases => 2,
            Table::CaseAmendments => 2,
            _ => 0,
        };
        assert_eq!(a.rows + gone, b.rows, "{:?}", b.table);
    }
    for bad in ["0", "-5", "abc"] {
        let out = keeper(&["forget-user", bad], &[("DATABASE_URL", &url)]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", said(&out));
    }
    source.drop().await;
}

/// Guild 111... as a tutorial bot's data.json has it, with ids as strings and
/// as numbers (one as JavaScript rounds them), and five entries Keeper can't
/// use.
const DATA_JSON: &str = r#"{
  "111111111111111111": {
    "prefix": "?",
    "welcome_channel": 444444444444444444,
    "modlog_channel": 1234567890123456800,
    "users": {
      "222222222222222222": {"xp": 1200, "warnings": 2},
      "333333333333333333": {"level": 3, "messages": 40, "warnings": [{"reason": "spam", "moderator": "222222222222222222"}]},
      "abc": {"xp": 5},
      "555555555555555555": {"xp": -10}
    }
  },
  "111111111111111111:666666666666666666": {"xp": 90},
  "111111111111111111:0": {"xp": 1},
  "666666666666666666": {"xp": 1, "colour": "red"}
}"#;

/// `keeper import-json` into an empty database of any backend: a dry run
/// writes nothing, the import writes what the report says, a second run adds
/// nothing, and every damaged file is refused with exit code 2 and one line,
/// the database unchanged.
async fn import_json_into(db: Db) {
    let (target, url) = common::Backend::create(db).await;
    let dir = scratch_dir();
    let data = dir.join("data.json");
    std::fs::write(&data, DATA_JSON).unwrap();
    let env = [("DATABASE_URL", url.as_str())];
    // The store migrates the new database; nothing else is in it.
    let empty = digests(&url).await;

    let out = keeper(&["import-json", data.to_str().unwrap(), "--dry-run"], &env);
    assert!(out.status.success(), "{}", said(&out));
    let text = said(&out);
    for expected in [
        "read ",
        "1 guild(s), 3 member(s), 3 warning(s)",
        "bad id (3)",
        "2^53",
        "bad XP (1)",
        "no guild (1)",
        "would import into",
        "3 new member(s)",
        "3 warning(s) added",
        "prefix: set",
        "Dry run: nothing was written",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert_eq!(digests(&url).await, empty, "a dry run writes nothing");

    let out = keeper(&["import-json", data.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", said(&out));
    let store = common::open_store(&url).await;
    let guild = Id::new(111_111_111_111_111_111);
    let settings = store.settings(guild).await.unwrap();
    assert_eq!(settings.prefix, "?");
    assert_eq!(
        settings.welcome_channel,
        Some(Id::new(444_444_444_444_444_444))
    );
    let board: Vec<(u64, i64, i32)> = store
        .leaderboard(guild, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.user_id.get(), m.xp, m.level))
        .collect();
    assert_eq!(
        board,
        vec![
            (222_222_222_222_222_222, 1_200, 5),
            (333_333_333_333_333_333, 475, 3),
            (666_666_666_666_666_666, 90, 0),
        ]
    );
    let cases = store.cases(guild, None, 10).await.unwrap();
    assert_eq!(cases.len(), 3);
    assert!(
        cases
            .iter()
            .all(|c| c.source == keeper_store::CaseSource::Import
                && c.kind == keeper_store::CaseKind::Warn)
    );
    assert_eq!(
        store
            .active_warnings(guild, Id::new(222_222_222_222_222_222), chrono::Utc::now())
            .await
            .unwrap(),
        2
    );
    store.close().await;
    let imported = digests(&url).await;

    let out = keeper(&["import-json", data.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("0 new member(s), 0 raised to the file's XP, 3 kept"),
        "{}",
        said(&out)
    );
    assert!(said(&out).contains("0 warning(s) added as imported cases, 3 imported before"));
    assert_eq!(
        digests(&url).await,
        imported,
        "a second run changes nothing"
    );

    // MEE6 pages in a folder: the second page's player gets more XP.
    let pages = dir.join("mee6");
    std::fs::create_dir_all(&pages).unwrap();
    for (page, players) in [
        (
            0,
            r#"[{"id": "222222222222222222", "xp": 5000, "level": 10, "message_count": 300}]"#,
        ),
        (
            1,
            r#"[{"id": "777777777777777777", "xp": 100, "level": 1, "message_count": 3}]"#,
        ),
    ] {
        std::fs::write(
            pages.join(format!("{page}.json")),
            format!(r#"{{"players": {players}, "guild": {{"id": "111111111111111111"}}, "page": {page}}}"#),
        )
        .unwrap();
    }
    let out = keeper(
        &[
            "import-json",
            pages.to_str().unwrap(),
            "--guild",
            "999999999999999999",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(
        said(&out).contains("--guild says 999999999999999999"),
        "{}",
        said(&out)
    );
    let out = keeper(&["import-json", pages.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("1 new member(s), 1 raised"),
        "{}",
        said(&out)
    );
    let store = common::open_store(&url).await;
    let rank = store
        .member_rank(guild, Id::new(222_222_222_222_222_222))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (rank.member.xp, rank.member.level, rank.member.messages),
        (5_000, 10, 300)
    );
    store.close().await;
    let merged = digests(&url).await;

    // Hostile files: each exit code 2, one line, nothing written.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.json",
            DATA_JSON.as_bytes()[..200].to_vec(),
            "not valid JSON",
        ),
        (
            "utf8.json",
            b"{\"111111111111111111\": {\"prefix\": \"\xff\"}}".to_vec(),
            "not valid JSON",
        ),
        ("deep.json", deep.into_bytes(), "recursion limit"),
        ("list.json", b"[1, 2, 3]".to_vec(), "not a JSON object"),
        ("empty.json", Vec::new(), "not valid JSON"),
        (
            "nothing.json",
            b"{\"abc\": 1}".to_vec(),
            "nothing Keeper can import",
        ),
    ];
    for (name, bytes, why) in bad {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = keeper(&["import-json", path.to_str().unwrap()], &env);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", said(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{name}: {}", said(&out));
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {}", said(&out));
    }
    let out = keeper(
        &["import-json", dir.join("missing.json").to_str().unwrap()],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert_eq!(digests(&url).await, merged, "refused files write nothing");

    // Keeper's own export: told by its first bytes, read as `keeper import`
    // reads it; a dry run lists it, a real run refuses a database with rows.
    let export = dir.join("keeper.jsonl.gz");
    let out = keeper(&["export", "--out", export.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", said(&out));
    let out = keeper(
        &["import-json", export.to_str().unwrap(), "--dry-run"],
        &env,
    );
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("is a whole Keeper export"),
        "{}",
        said(&out)
    );
    assert!(said(&out).contains("member_xp"), "{}", said(&out));
    let out = keeper(&["import-json", export.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("--force"), "{}", said(&out));
    let export_arg = export.to_str().unwrap();
    let out = keeper(
        &["import-json", export_arg, "--guild", "111111111111111111"],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert_eq!(digests(&url).await, merged);

    let _ = std::fs::remove_dir_all(&dir);
    target.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_json_into_sqlite() {
    import_json_into(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_json_into_postgres() {
    import_json_into(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_json_into_mysql() {
    import_json_into(Db::MySql).await;
}

/// The issue's scale: a SQLite database of 1,000,000 members copied into
/// PostgreSQL by the binary, killed with SIGKILL half-way; the next run
/// refuses the half-filled target and says what to do, and `--force`
/// completes it, every table's rows and checksum equal to the source.
/// (Rates at this scale, from a release build, are in BENCHMARKS.md.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_members_copy_whole_after_a_kill_9() {
    const GUILDS: u64 = 100;
    const PER_GUILD: u64 = 10_000;
    let (source, source_url) = common::Backend::create(Db::Sqlite).await;
    let store = common::open_store(&source_url).await;
    for guild in 1..=GUILDS {
        let rows: Vec<_> = (1..=PER_GUILD)
            .map(|user| transfer::MemberXpRow {
                guild_id: Id::new(guild),
                user_id: Id::new(1_000_000 + user),
                xp: ((guild * 7_919 + user * 104_729) % 250_000) as i64,
                messages: (user % 500) as i64,
                last_award_at: chrono::DateTime::from_timestamp_millis(
                    1_760_000_000_000 + (user * guild) as i64,
                ),
            })
            .collect();
        store
            .write_rows(&transfer::Rows::MemberXp(rows))
            .await
            .unwrap();
    }
    let expected = digests_of(&store).await;
    store.close().await;
    assert_eq!(member_rows(&expected), GUILDS * PER_GUILD);

    let (target, target_url) = common::Backend::create(Db::Postgres).await;
    let mut copy = Command::new(env!("CARGO_BIN_EXE_keeper"))
        .args(["copy", "--from", &source_url, "--to", &target_url])
        .env("KEEPER_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once a good part of member_xp is in.
    let mut admin = common::connect_admin(&target_url).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let copied: Option<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM member_xp")
            .fetch_one(&mut admin)
            .await
            .ok();
        if copied.is_some_and(|n| n >= 200_000) {
            break;
        }
        assert!(
            copy.try_wait().unwrap().is_none(),
            "the copy ended before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the copy made no progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    copy.kill().unwrap();
    copy.wait().unwrap();
    drop(admin);

    let out = keeper(&["copy", "--from", &source_url, "--to", &target_url], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        said(&out)
    );
    let out = keeper(
        &[
            "copy",
            "--from",
            &source_url,
            "--to",
            &target_url,
            "--force",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(digests(&target_url).await, expected);
    target.drop().await;
    source.drop().await;
}
