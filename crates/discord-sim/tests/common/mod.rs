//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod bot;
pub mod http;
pub mod schema;
pub mod ws;

use std::path::PathBuf;
use std::time::Duration;

/// Generous deadline for anything awaited in tests (loaded 2-core CI).
pub const WAIT: Duration = Duration::from_secs(20);

/// `../shared/discord` from the workspace root, or `$DISCORD_SPEC_DIR`.
/// `None` (after printing why) when absent, unless `KEEPER_REQUIRE_SPEC=1`.
pub fn spec_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("DISCORD_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/discord")
        });
    if dir.join("openapi.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("KEEPER_REQUIRE_SPEC").as_deref() != Ok("1"),
        "{test}: Discord spec not found at {} and KEEPER_REQUIRE_SPEC=1",
        dir.display()
    );
    eprintln!(
        "{test}: skipped, Discord spec not found at {}",
        dir.display()
    );
    None
}

pub fn load_json(dir: &std::path::Path, file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(file)).expect("read spec file");
    serde_json::from_str(&text).expect("spec file is JSON")
}
