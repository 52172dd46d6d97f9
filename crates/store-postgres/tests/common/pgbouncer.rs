//! PgBouncer in transaction pooling mode in front of the test server, for the
//! tests that run Keeper through one (`KEEPER_PG_POOLER=transaction`). Shared by
//! this crate's tests and the root's (`tests/common`), which include this file.
//!
//! `KEEPER_TEST_PGBOUNCER_URL` names a PgBouncer that is already running.
//! Without it, `.ci/pgbouncer` starts one on 127.0.0.1:6432 in front of
//! `KEEPER_TEST_POSTGRES_URL`'s server, once, and leaves it running as the
//! server itself is. Where PgBouncer is not installed the tests through it say
//! so and are skipped, unless `KEEPER_REQUIRE_PGBOUNCER=1` (`.ci/run` sets it,
//! and installs Debian's package): then they fail.

use std::{path::PathBuf, str::FromStr, sync::OnceLock};

use sqlx::{ConnectOptions, postgres::PgConnectOptions};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:6432/postgres";

/// PgBouncer's URL for `database` (a database of the test server), or `None`
/// when PgBouncer is not installed and not required (said on stderr).
pub fn url_for(database: &str) -> Option<String> {
    let base = base_url()?;
    let options = PgConnectOptions::from_str(&base)
        .unwrap_or_else(|e| panic!("KEEPER_TEST_PGBOUNCER_URL={base:?} is not a valid URL: {e}"));
    Some(options.database(database).to_url_lossy().to_string())
}

/// Whether the tests through PgBouncer can run here (see the module's text).
pub fn available() -> bool {
    base_url().is_some()
}

fn base_url() -> Option<String> {
    static STARTED: OnceLock<Option<String>> = OnceLock::new();
    STARTED.get_or_init(start).clone()
}

fn start() -> Option<String> {
    if let Ok(url) = std::env::var("KEEPER_TEST_PGBOUNCER_URL") {
        return Some(url);
    }
    let script = script();
    let ours = PgConnectOptions::from_str(DEFAULT_URL).expect("the default URL parses");
    let server = std::env::var("KEEPER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let upstream = PgConnectOptions::from_str(&server)
        .unwrap_or_else(|e| panic!("KEEPER_TEST_POSTGRES_URL={server:?} is not a valid URL: {e}"));
    let out = std::process::Command::new(&script)
        .env("PGBOUNCER_PORT", ours.get_port().to_string())
        .env("PGBOUNCER_UPSTREAM_HOST", upstream.get_host())
        .env("PGBOUNCER_UPSTREAM_PORT", upstream.get_port().to_string())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let said = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Some(DEFAULT_URL.to_owned()),
        Some(3) if std::env::var("KEEPER_REQUIRE_PGBOUNCER").is_ok_and(|v| v == "1") => {
            panic!("KEEPER_REQUIRE_PGBOUNCER=1 but {}", said.trim())
        }
        Some(3) => {
            eprintln!(
                "SKIPPED: the tests through PgBouncer need it: {}",
                said.trim()
            );
            None
        }
        _ => panic!("{} failed ({}): {said}", script.display(), out.status),
    }
}

/// `.ci/pgbouncer` at the workspace's root, found from whichever crate's tests
/// include this file.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join(".ci/pgbouncer"))
        .find(|path| path.exists())
        .expect(".ci/pgbouncer in the workspace")
}
