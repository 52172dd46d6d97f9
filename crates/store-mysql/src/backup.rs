//! Dumps of Keeper's database: running MySQL's and MariaDB's client tools with
//! the credentials of Keeper's URL ([`Client`], what `backup_to` runs
//! `mariadb-dump` with), and reading a dump for `keeper restore`: checked to be
//! a whole dump of Keeper's, its schema version read from the dump's own
//! migration records (no server needed), and restoring it (`restore_dump`,
//! through `mariadb` or `mysql`).

use std::{
    ffi::OsString,
    fs::File,
    io::{BufRead, BufReader, Read, Seek, SeekFrom},
    path::Path,
    str::FromStr,
};

use keeper_store::{StoreError, StoreResult};
use sqlx::mysql::MySqlConnectOptions;

use crate::connect::mysql_url;

/// How a client tool (`mariadb-dump`, `mysqldump`, later `mariadb`) reaches the
/// database Keeper uses, from Keeper's URL.
pub(crate) struct Client {
    /// How to connect and as whom: `--protocol`, `--host` and `--port` or
    /// `--socket`, `--user`.
    options: Vec<OsString>,
    /// Given to the tool in `MYSQL_PWD`, never on its command line, where any
    /// user of the machine could read it (`ps`).
    password: Option<String>,
    /// The database, the tools' last argument.
    pub(crate) database: String,
}

impl Client {
    /// The connection options of `url`, read as Keeper reads it to connect (the
    /// same defaults: user `root`, port 3306). TLS settings in the URL are not
    /// passed on (`mariadb-dump` and `mysqldump` spell them differently): the
    /// tools take them from their option files (`[client]` in `~/.my.cnf`).
    pub(crate) fn from_url(url: &str) -> StoreResult<Self> {
        let url = mysql_url(url);
        let options = MySqlConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("the MySQL URL is not valid: {e}")))?;
        let database = options
            .get_database()
            .ok_or_else(|| StoreError::Config("the MySQL URL names no database".into()))?
            .to_owned();
        let mut args = Vec::new();
        match options.get_socket() {
            Some(socket) => {
                args.push("--protocol=SOCKET".into());
                args.push(option("--socket=", socket.as_os_str()));
            }
            None => {
                // The tools take `localhost` for their Unix socket, where sqlx
                // connects over TCP: TCP always, so that the port counts.
                let host = options.get_host();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                args.push("--protocol=TCP".into());
                args.push(format!("--host={host}").into());
                args.push(format!("--port={}", options.get_port()).into());
            }
        }
        args.push(format!("--user={}", options.get_username()).into());
        Ok(Self {
            options: args,
            password: url_password(&url)?,
            database,
        })
    }

    /// `tool` with the connection options as its first arguments and the
    /// password in its environment. Without a password in the URL, a
    /// `MYSQL_PWD` of Keeper's own environment is not passed on either: the
    /// tool connects as Keeper does.
    pub(crate) fn command(&self, tool: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(tool);
        command.args(&self.options);
        match &self.password {
            Some(password) => command.env("MYSQL_PWD", password),
            None => command.env_remove("MYSQL_PWD"),
        };
        command
    }
}

/// `--name=value` for a value that may not be UTF-8 (a path).
pub(crate) fn option(name: &str, value: &std::ffi::OsStr) -> OsString {
    let mut option = OsString::from(name);
    option.push(value);
    option
}

/// The password of a `mysql://user:password@host/...` URL, percent-decoded as
/// sqlx decodes it (sqlx parses it but does not give it back).
fn url_password(url: &str) -> StoreResult<Option<String>> {
    let Some((_, rest)) = url.split_once("://") else {
        return Ok(None);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return Ok(None);
    };
    let Some((_, password)) = userinfo.split_once(':') else {
        return Ok(None);
    };
    percent_decode(password)
        .map(Some)
        .ok_or_else(|| StoreError::Config("the password in the MySQL URL is not valid".into()))
}

/// `%XX` escapes decoded; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The schema version of the `mariadb-dump` or `mysqldump` file at `path`: a
/// whole dump (it has the tools' header and their last line), of Keeper's
/// database (it creates `_sqlx_migrations` and fills it). Anything else is a
/// `Config` error saying what it is instead.
pub async fn inspect_dump(path: &Path) -> StoreResult<i64> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || inspect_file(&path))
        .await
        .map_err(StoreError::internal)?
}

/// [`inspect_dump`], blocking: the head of the file up to the migration
/// records, and its last bytes.
fn inspect_file(path: &Path) -> StoreResult<i64> {
    let unreadable = |e: std::io::Error| StoreError::Config(format!("can't read it: {e}"));
    let mut file = File::open(path).map_err(unreadable)?;
    let mut failed = None;
    let lines = BufReader::new(&mut file)
        .split(b'\n')
        .map_while(|line| line.map_err(|e| failed = Some(e)).ok());
    let version = dump_version(lines);
    if let Some(e) = failed {
        return Err(unreadable(e));
    }
    let version = version?;
    let length = file.seek(SeekFrom::End(0)).map_err(unreadable)?;
    file.seek(SeekFrom::Start(length.saturating_sub(TAIL)))
        .map_err(unreadable)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(unreadable)?;
    if !completed(&tail) {
        return Err(StoreError::Config(
            "damaged: it ends before the dump's last line (\"-- Dump completed\"), so the \
             tool that wrote it did not finish"
                .into(),
        ));
    }
    Ok(version)
}

/// The first line of a dump, after MariaDB's `/*M!999999\- enable the sandbox
/// mode */` (since 10.5.25, 10.6.18, 10.11.8, 11.x) or any blank line.
const HEADERS: [&[u8]; 2] = [b"-- MariaDB dump", b"-- MySQL dump"];
/// What the tools write last (with the date unless `--skip-dump-date`).
const COMPLETED: &[u8] = b"-- Dump completed";
/// The bytes of the file's end searched for [`COMPLETED`].
const TAIL: u64 = 4096;

const CREATE_MIGRATIONS: &[u8] = b"CREATE TABLE `_sqlx_migrations`";
const INSERT_MIGRATIONS: &[u8] = b"INSERT INTO `_sqlx_migrations`";

/// The highest successful migration recorded in a dump, read from its lines:
/// its header, the `CREATE TABLE` of `_sqlx_migrations` and the `INSERT`s
/// filling it. The lines are read up to the end of those `INSERT`s only (the
/// tools dump a table's rows together, and `_sqlx_migrations` sorts first), so
/// a large dump is not read whole. Both tools escape a newline in a string
/// (`\n`), so a line never ends inside one and a statement ends at a line
/// ending in `;`.
fn dump_version<L: AsRef<[u8]>>(lines: impl IntoIterator<Item = L>) -> StoreResult<i64> {
    let mut lines = lines.into_iter();
    let header = lines.by_ref().find(|line| {
        let line = trim(line.as_ref());
        !(line.is_empty() || line.starts_with(b"/*M!"))
    });
    if !header.is_some_and(|line| HEADERS.iter().any(|h| trim(line.as_ref()).starts_with(h))) {
        return Err(StoreError::Config(
            "not a dump of mariadb-dump or mysqldump: it does not start with their \
             \"-- MariaDB dump\" or \"-- MySQL dump\" header"
                .into(),
        ));
    }
    let mut created = false;
    let mut statement: Option<Vec<u8>> = None;
    let mut versions: Vec<(i64, bool)> = Vec::new();
    let mut read_rows = false;
    for line in lines {
        let line = trim(line.as_ref());
        if let Some(mut text) = statement.take() {
            text.push(b'\n');
            text.extend_from_slice(line);
            statement = Some(text);
        } else if line.starts_with(INSERT_MIGRATIONS) {
            statement = Some(line.to_vec());
        } else if line.starts_with(CREATE_MIGRATIONS) {
            created = true;
            continue;
        } else if read_rows && !line.is_empty() {
            // Past the table's rows.
            break;
        } else {
            continue;
        }
        if line.ends_with(b";") {
            let text = statement.take().unwrap_or_default();
            versions.extend(migration_rows(&text).ok_or_else(|| {
                StoreError::Config("damaged: its rows of `_sqlx_migrations` can't be read".into())
            })?);
            read_rows = true;
        }
    }
    if statement.is_some() {
        return Err(StoreError::Config(
            "damaged: it ends in the middle of its rows of `_sqlx_migrations`".into(),
        ));
    }
    let version = versions
        .iter()
        .filter(|(_, success)| *success)
        .map(|(version, _)| *version)
        .max();
    match (created, version) {
        (true, Some(version)) => Ok(version),
        (false, Some(_)) => Err(StoreError::Config(
            "a dump of rows only (made with --no-create-info): a restore needs the tables too"
                .into(),
        )),
        (_, None) => Err(StoreError::Config(
            "a MySQL dump, but not of Keeper's database: it holds no record of Keeper's \
             migrations"
                .into(),
        )),
    }
}

/// `(version, success)` of each row of one `INSERT INTO `_sqlx_migrations`
/// [(columns)] VALUES (...), (...);`; `None` when it can't be read. Without a
/// column list the columns are sqlx's: version, description, installed_on,
/// success, checksum, execution_time.
fn migration_rows(statement: &[u8]) -> Option<Vec<(i64, bool)>> {
    let rest = trim(statement.strip_prefix(INSERT_MIGRATIONS)?);
    let (columns, rest) = match rest.strip_prefix(b"(") {
        Some(list) => {
            let end = list.iter().position(|&b| b == b')')?;
            let names: Vec<&[u8]> = list[..end]
                .split(|&b| b == b',')
                .map(trim)
                .map(|name| name.strip_prefix(b"`").unwrap_or(name))
                .map(|name| name.strip_suffix(b"`").unwrap_or(name))
                .collect();
            let at = |column: &[u8]| names.iter().position(|name| *name == column);
            ((at(b"version")?, at(b"success")?), trim(&list[end + 1..]))
        }
        None => ((0, 3), rest),
    };
    let rows = tuples(trim(rest.strip_prefix(b"VALUES")?))?;
    rows.iter()
        .map(|row| {
            let version = std::str::from_utf8(row.get(columns.0)?)
                .ok()?
                .parse()
                .ok()?;
            let success = match *row.get(columns.1)? {
                b"1" | b"TRUE" | b"true" => true,
                b"0" | b"FALSE" | b"false" => false,
                _ => return None,
            };
            Some((version, success))
        })
        .collect()
}

/// The fields of each `(...)` of a `VALUES` list as written (a string with its
/// quotes), up to the closing `;`; `None` when it is not such a list.
fn tuples(text: &[u8]) -> Option<Vec<Vec<&[u8]>>> {
    let mut rows = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while text.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if text.get(i) != Some(&b'(') {
            return None;
        }
        i += 1;
        let mut row = Vec::new();
        loop {
            skip_space(&mut i);
            let start = i;
            // A field may be a string or hold one (MySQL's `_binary '...'`).
            while let Some(&b) = text.get(i) {
                match b {
                    b'\'' => i = string_end(text, i)?,
                    b',' | b')' => break,
                    _ => i += 1,
                }
            }
            row.push(trim(&text[start..i]));
            skip_space(&mut i);
            match text.get(i) {
                Some(b',') => i += 1,
                Some(b')') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
        rows.push(row);
        skip_space(&mut i);
        match text.get(i) {
            Some(b',') => i += 1,
            Some(b';') | None => return Some(rows),
            _ => return None,
        }
    }
}

/// The index just past the string literal opening at `start`: backslash
/// escapes (`\'`, `\\`) and doubled quotes (`''`) stay inside it.
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' => i += 2,
            b'\'' if text.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Whether the last bytes of a dump hold the line the tools write last.
fn completed(tail: &[u8]) -> bool {
    tail.split(|&b| b == b'\n')
        .any(|line| trim(line).starts_with(COMPLETED))
}

/// `line` without the spaces and line ends around it (`\r` of a dump that went
/// through Windows).
fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// The clients that read a dump back, in the order tried: MariaDB's, then MySQL's.
const CLIENT_TOOLS: [&str; 2] = ["mariadb", "mysql"];

/// Replace Keeper's tables in the database at `url` with the dump's: the file
/// fed to `mariadb` (or `mysql`) as it was written, each table dropped and
/// created again with its rows and triggers. Checked with [`inspect_dump`]
/// first by the caller.
///
/// Not one transaction: MySQL commits each `CREATE TABLE` by itself, so a
/// restore stopped half way (the server gone) leaves some tables restored and
/// others not; running it again finishes it, since every table is dropped
/// first. The triggers' `DEFINER` clauses are left out on the way, so the
/// triggers belong to the user restoring: naming another account needs a
/// privilege (SUPER, SET_USER_ID) hosted databases do not grant.
pub async fn restore_dump(path: &Path, url: &str) -> StoreResult<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let client = Client::from_url(url)?;
    for tool in CLIENT_TOOLS {
        let spawned = client
            .command(tool)
            .args([
                "--default-character-set=utf8mb4",
                "--binary-mode",
                "--batch",
            ])
            .arg(&client.database)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(StoreError::Internal(
                    format!("could not run {tool}: {e}").into(),
                ));
            }
        };
        let mut stdin = child.stdin.take().expect("piped");
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::Config(format!("can't read it: {e}")))?;
        let mut lines = tokio::io::BufReader::new(file).split(b'\n');
        // A write fails when the client stopped early (a bad statement): its
        // own message, read below, says why.
        let fed: std::io::Result<()> = async {
            while let Some(line) = lines.next_segment().await? {
                stdin.write_all(&without_definer(&line)).await?;
                stdin.write_all(b"\n").await?;
            }
            stdin.shutdown().await
        }
        .await;
        drop(stdin);
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| StoreError::Internal(format!("could not run {tool}: {e}").into()))?;
        if out.status.success() && fed.is_ok() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.trim();
        return Err(StoreError::Unavailable(
            format!(
                "{tool} could not restore the dump ({}): {}",
                out.status,
                if said.is_empty() {
                    fed.err().map_or_else(String::new, |e| e.to_string())
                } else {
                    said.to_owned()
                }
            )
            .into(),
        ));
    }
    Err(StoreError::Config(
        "neither mariadb nor mysql is on PATH: install MariaDB's client tools \
         (Debian and Ubuntu: apt-get install mariadb-client) or MySQL's"
            .into(),
    ))
}

/// A dump's line without the `/*!50017 DEFINER=`user`@`host`*/` of a trigger;
/// any other line as it is. Only a line that starts a trigger's definition is
/// touched (`/*!50003 CREATE*/ /*!50017 DEFINER=...*/ /*!50003 TRIGGER`, as
/// both tools write it), never a row, whatever text a reason holds.
fn without_definer(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const CREATE: &[u8] = b"/*!50003 CREATE*/ ";
    const DEFINER: &[u8] = b"/*!50017 DEFINER=";
    let Some(rest) = line.strip_prefix(CREATE) else {
        return line.into();
    };
    if !rest.starts_with(DEFINER) {
        return line.into();
    }
    let Some(end) = rest.windows(2).position(|w| w == b"*/") else {
        return line.into();
    };
    let mut out = CREATE.to_vec();
    out.extend_from_slice(rest[end + 2..].trim_ascii_start());
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head of a dump as mariadb-dump 10.11 writes it (one row per line).
    const MARIADB: &str = "/*M!999999\\- enable the sandbox mode */ \n\
        -- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
        --\n\
        -- Host: 127.0.0.1    Database: keeper\n\
        \n\
        DROP TABLE IF EXISTS `_sqlx_migrations`;\n\
        CREATE TABLE `_sqlx_migrations` (\n\
        \x20 `version` bigint(20) NOT NULL,\n\
        \x20 PRIMARY KEY (`version`)\n\
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n\
        \n\
        LOCK TABLES `_sqlx_migrations` WRITE;\n\
        /*!40000 ALTER TABLE `_sqlx_migrations` DISABLE KEYS */;\n\
        INSERT INTO `_sqlx_migrations` VALUES\n\
        (19,'init','2026-12-02 13:50:55',1,0xA1B2C3,12345),\n\
        (20,'it\\'s (\"next\"), ok;','2026-12-02 13:50:55',1,0x00FF,1),\n\
        (21,'broken','2026-12-02 13:50:55',0,0x00FF,1);\n\
        /*!40000 ALTER TABLE `_sqlx_migrations` ENABLE KEYS */;\n\
        UNLOCK TABLES;\n";

    fn version(dump: &str) -> StoreResult<i64> {
        dump_version(dump.lines())
    }

    fn refused(dump: &str) -> String {
        match version(dump) {
            Err(StoreError::Config(message)) => message,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn the_version_is_the_highest_successful_migration() {
        assert_eq!(version(MARIADB).unwrap(), 20);
    }

    #[test]
    fn mysql_rows_on_one_line_and_column_lists_are_read() {
        let dump = "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n\
            CREATE TABLE `_sqlx_migrations` (\n) ENGINE=InnoDB;\n\
            INSERT INTO `_sqlx_migrations` VALUES (19,'a,b','x',1,_binary '\\0\\'',1),(22,'c','x',1,0x00,1);\n\
            INSERT INTO `_sqlx_migrations` (`success`, `version`) VALUES (0,30),(1,23);\n\
            UNLOCK TABLES;\n\
            INSERT INTO `_sqlx_migrations` VALUES (99,'later','x',1,0x00,1);\n";
        assert_eq!(
            version(dump).unwrap(),
            23,
            "rows after the table's are not read"
        );
    }

    #[test]
    fn what_is_not_a_keeper_dump_says_what_it_is() {
        assert!(refused("CREATE TABLE t (a INT);\n").contains("not a dump"));
        assert!(refused("").contains("not a dump"));
        let other = "-- MariaDB dump 10.19\nCREATE TABLE `guilds` (\n);\n";
        assert!(refused(other).contains("not of Keeper's"));
        let empty = MARIADB.replace(",1,0x", ",0,0x");
        assert!(
            refused(&empty).contains("not of Keeper's"),
            "no successful row"
        );
        let data_only = MARIADB.replace("CREATE TABLE `_sqlx_migrations`", "-- none");
        assert!(refused(&data_only).contains("rows only"));
        let cut = MARIADB.split("(21,").next().unwrap();
        assert!(refused(cut).contains("ends in the middle"));
        let garbled = MARIADB.replace("(19,'init'", "(nineteen,'init'");
        assert!(refused(&garbled).contains("damaged"));
    }

    #[test]
    fn a_dump_is_whole_when_it_ends_with_the_tools_last_line() {
        assert!(completed(
            b"/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-12-02 13:50:55\n"
        ));
        assert!(completed(b"\n-- Dump completed\r\n"));
        assert!(!completed(b"INSERT INTO `member_xp` VALUES (1,2"));
    }

    #[test]
    fn the_password_comes_from_the_url_decoded() {
        let password = |url| url_password(url).unwrap();
        assert_eq!(
            password("mysql://keeper:p%40ss%3Aw%2Fd@db:3306/keeper").as_deref(),
            Some("p@ss:w/d")
        );
        assert_eq!(
            password("mysql://keeper:a:b@db/k?x=@").as_deref(),
            Some("a:b")
        );
        assert_eq!(password("mysql://keeper@db/k"), None);
        assert_eq!(password("mysql://db/k"), None);
        assert!(url_password("mysql://k:%zz@db/k").is_err());
    }

    #[test]
    fn the_tools_connect_as_keeper_does() {
        let client =
            Client::from_url("mariadb://keeper:secret@localhost:3307/kdb?ssl-mode=DISABLED")
                .unwrap();
        assert_eq!(
            client.options,
            [
                "--protocol=TCP",
                "--host=localhost",
                "--port=3307",
                "--user=keeper"
            ]
        );
        assert_eq!(
            (client.password.as_deref(), client.database.as_str()),
            (Some("secret"), "kdb")
        );
        let socket =
            Client::from_url("mysql://root@localhost/k?socket=/run/mysqld/mysqld.sock").unwrap();
        assert_eq!(
            socket.options,
            [
                "--protocol=SOCKET",
                "--socket=/run/mysqld/mysqld.sock",
                "--user=root"
            ]
        );
        assert!(
            Client::from_url("mysql://root@localhost").is_err(),
            "no database"
        );
    }

    #[test]
    fn a_triggers_definer_is_left_out() {
        let line = b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`127.0.0.1`*/ /*!50003 TRIGGER t AFTER INSERT ON member_xp FOR EACH ROW";
        assert_eq!(
            &*without_definer(line),
            &b"/*!50003 CREATE*/ /*!50003 TRIGGER t AFTER INSERT ON member_xp FOR EACH ROW"[..]
        );
        // Rows stay as they are, whatever a reason holds.
        let row =
            b"INSERT INTO `mod_cases` VALUES (1,1,2,3,'warn','/*!50017 DEFINER=`a`@`b`*/ x');";
        assert_eq!(&*without_definer(row), &row[..]);
        let table = b"CREATE TABLE `guilds` (";
        assert_eq!(&*without_definer(table), &table[..]);
    }
}
