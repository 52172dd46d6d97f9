//! `keeper import-json FILE [--format auto|datajson|mee6|keeper] [--guild ID]
//! [--dry-run]`: what users bring from the bot they leave, merged into Keeper.
//!
//! The readers (`datajson`, `mee6`) are pure: bytes in, [`Parsed`] out, every
//! entry they can't use listed with where it was and why (`collect::Skip`),
//! never a panic (a property test feeds them thousands of damaged files). The
//! store merges the rest in one transaction (`ImportStore::import_guilds`), so
//! an error writes nothing, a dry run is the same work rolled back, and a second
//! run changes nothing. Keeper's own export goes the way of `keeper import`.
//! docs/IMPORTING.md documents the shapes read.

pub mod collect;
pub mod datajson;
pub mod ids;
pub mod mee6;

use std::{
    fmt::Write as _,
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use keeper_store::import::{GuildImported, SettingMerge};
use serde_json::Value;

use crate::{
    config::{Config, DatabaseUrl, ImportFormat as Format},
    error::Fatal,
    progress::grouped,
};
use collect::{Collector, Parsed};

/// The most read from the input, in all: a data.json beyond this is no
/// tutorial bot's, and reading it whole would only exhaust memory.
pub const MAX_INPUT_BYTES: u64 = 512 * 1024 * 1024;

/// The input's files: one, or a folder's `*.json`, by name.
pub struct Input {
    pub files: Vec<(String, Vec<u8>)>,
    pub folder: bool,
}

/// Read `path` (a file, or a folder of `*.json` files) whole, within
/// [`MAX_INPUT_BYTES`].
pub fn read_input(path: &Path) -> Result<Input, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (paths, folder): (Vec<PathBuf>, bool) = if meta.is_dir() {
        let mut paths: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(format!("{}: a folder without a .json file", path.display()));
        }
        (paths, true)
    } else {
        (vec![path.to_path_buf()], false)
    };
    let mut left = MAX_INPUT_BYTES;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let file = fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut bytes = Vec::new();
        file.take(left + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() as u64 > left {
            return Err(format!(
                "{}: the input is larger than {} MiB, more than any bot's data file; \
                 nothing was imported",
                path.display(),
                MAX_INPUT_BYTES / 1024 / 1024
            ));
        }
        left -= bytes.len() as u64;
        files.push((path.display().to_string(), bytes));
    }
    Ok(Input { files, folder })
}

/// Whether `file` is a file beginning as Keeper's export does (gzip).
fn starts_as_export(file: &Path) -> bool {
    let mut head = [0; 2];
    fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| crate::export::is_export(&head))
}

/// The format `auto` means for `input`.
pub fn detect(input: &Input) -> Format {
    if input.folder {
        return Format::Mee6;
    }
    let bytes = input.files.first().map_or(&[][..], |(_, b)| b.as_slice());
    if crate::export::is_export(bytes) {
        return Format::Keeper;
    }
    // Cheap: MEE6's pages have a "players" key; a data.json keyed by ids
    // holds none at its top.
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(top)) if top.get("players").is_some_and(Value::is_array) => Format::Mee6,
        _ => Format::Datajson,
    }
}

/// Read `input` as `format` (not [`Format::Keeper`], which is no JSON).
/// `Err`: the input as a whole can't be read (one line, for the person).
pub fn parse(
    input: &Input,
    format: Format,
    guild: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Parsed, String> {
    let mut c = Collector::new(now);
    let mut page_guild = None;
    for (name, bytes) in &input.files {
        let root: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("{name}: not valid JSON: {e}"))?;
        match format {
            Format::Mee6 => {
                let guild = mee6::read_page(&root, name, guild, &mut c)?;
                match page_guild {
                    Some(first) if first != guild => {
                        return Err(format!(
                            "{name}: a page of guild {guild}, but the first page was of guild \
                             {first}; import one guild's pages at a time"
                        ));
                    }
                    _ => page_guild = Some(guild),
                }
            }
            Format::Datajson if input.folder => {
                return Err("a folder is read as MEE6 pages only; give one data.json".into());
            }
            Format::Datajson => datajson::read(&root, guild, &mut c)?,
            Format::Auto | Format::Keeper => {
                return Err(format!("{name}: not read as JSON ({format:?})"));
            }
        }
    }
    Ok(c.finish())
}

/// `keeper import-json`.
pub async fn run(
    config: &Config,
    file: &Path,
    format: Format,
    guild: Option<std::num::NonZeroU64>,
    dry_run: bool,
    to: Option<&DatabaseUrl>,
) -> Result<(), Fatal> {
    // A Keeper export is read as `keeper import` reads it, page by page: it
    // may be far larger than any JSON file read whole here.
    if format == Format::Keeper || (format == Format::Auto && starts_as_export(file)) {
        return keeper_export(config, file, guild.is_some(), dry_run, to).await;
    }
    let path = file.to_path_buf();
    let input = tokio::task::spawn_blocking(move || read_input(&path))
        .await
        .map_err(|e| Fatal::Runtime(e.to_string()))?
        .map_err(Fatal::Config)?;
    let format = match format {
        Format::Auto => detect(&input),
        given => given,
    };
    let now = Utc::now();
    let guild = guild.map(std::num::NonZeroU64::get);
    let parsed = tokio::task::spawn_blocking(move || parse(&input, format, guild, now))
        .await
        .map_err(|e| Fatal::Runtime(e.to_string()))?
        .map_err(Fatal::Config)?;
    print!("{}", describe(file, format, &parsed));
    if parsed.guilds.is_empty() {
        return Err(Fatal::Config(format!(
            "{}: nothing Keeper can import (see what was skipped, above); nothing was written",
            file.display()
        )));
    }
    let target = to.unwrap_or(&config.database.database_url);
    let store = crate::transfer::open_target(config, target).await?;
    let done = store.import_guilds(&parsed.guilds, now, dry_run).await;
    store.close().await;
    let done = done.map_err(|e| {
        Fatal::Runtime(format!(
            "importing into {target} failed, and nothing was written: {e}"
        ))
    })?;
    print!("{}", report(&done, dry_run, target));
    Ok(())
}

/// A Keeper export: checked whole; a dry run stops there, a real one is
/// `keeper import` (which refuses a target holding rows).
async fn keeper_export(
    config: &Config,
    file: &Path,
    guild: bool,
    dry_run: bool,
    to: Option<&DatabaseUrl>,
) -> Result<(), Fatal> {
    if guild {
        return Err(Fatal::Config(
            "--guild does not apply to a Keeper export, which moves a whole database".into(),
        ));
    }
    if !dry_run {
        return crate::transfer::restore(config, file, to, false).await;
    }
    let checked = crate::transfer::check_export(file).await?;
    println!(
        "{} is a whole Keeper export (schema version {}); it holds:",
        file.display(),
        checked.header.schema_version
    );
    for (table, rows) in &checked.rows {
        println!("  {:<22} {:>12} rows", table.name(), grouped(*rows));
    }
    println!("Dry run: nothing was written (`keeper import-json` without --dry-run imports it).");
    Ok(())
}

/// What was read, and what was skipped, grouped by why (five examples each).
pub fn describe(file: &Path, format: Format, parsed: &Parsed) -> String {
    let mut out = String::new();
    let what = match format {
        Format::Mee6 => "MEE6 leaderboard pages",
        _ => "a data.json",
    };
    let _ = writeln!(
        out,
        "read {} as {what}: {} guild(s), {} member(s), {} warning(s)",
        file.display(),
        grouped(parsed.guilds.len() as u64),
        grouped(parsed.members() as u64),
        grouped(parsed.warnings() as u64),
    );
    let mut kinds: Vec<&str> = parsed.skipped.iter().map(|s| s.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    if !parsed.skipped.is_empty() {
        let _ = writeln!(out, "skipped {}:", grouped(parsed.skipped.len() as u64));
    }
    for kind in kinds {
        let all: Vec<_> = parsed.skipped.iter().filter(|s| s.kind == kind).collect();
        let _ = writeln!(out, "  {kind} ({}):", grouped(all.len() as u64));
        for skip in all.iter().take(5) {
            let _ = writeln!(out, "    {}: {}", skip.at, skip.why);
        }
        if all.len() > 5 {
            let _ = writeln!(out, "    ... and {} more", grouped(all.len() as u64 - 5));
        }
    }
    if parsed.levels_differing > 0 {
        let _ = writeln!(
            out,
            "{} member(s) had a level that is not what their XP gives by Keeper's curve \
             (5L² + 50L + 100 per level, as MEE6); their level follows their XP",
            grouped(parsed.levels_differing)
        );
    }
    for note in &parsed.notes {
        let _ = writeln!(out, "{note}");
    }
    out
}

/// What the store did (or would do), guild by guild.
pub fn report(done: &[GuildImported], dry_run: bool, target: &DatabaseUrl) -> String {
    let mut out = String::new();
    let verb = if dry_run { "would import" } else { "imported" };
    let _ = writeln!(out, "{verb} into {target}:");
    for guild in done {
        let _ = writeln!(
            out,
            "  guild {}: {} new member(s), {} raised to the file's XP, {} kept (Keeper had at \
             least as much); {} warning(s) added as imported cases, {} imported before",
            guild.guild_id,
            grouped(guild.members_new),
            grouped(guild.members_raised),
            grouped(guild.members_kept),
            grouped(guild.warnings_added),
            grouped(guild.warnings_present),
        );
        for setting in &guild.settings {
            let line = match setting {
                SettingMerge::Set { setting } => format!("{setting}: set"),
                SettingMerge::Same { setting } => format!("{setting}: already the same"),
                SettingMerge::Kept { setting, keeper } => {
                    format!("{setting}: kept Keeper's ({keeper}), set by the guild's admins")
                }
            };
            let _ = writeln!(out, "    {line}");
        }
    }
    if dry_run {
        let _ = writeln!(out, "Dry run: nothing was written.");
    } else {
        let _ = writeln!(
            out,
            "Levels follow the imported XP; run /levels sync in each server to give reward roles \
             now (otherwise each member gets them at their next level-up). A running bot reads \
             imported settings at its next start."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    fn input(bytes: Vec<u8>) -> Input {
        Input {
            files: vec![("data.json".into(), bytes)],
            folder: false,
        }
    }

    fn samples() -> Vec<Vec<u8>> {
        [
            json!({"111111111111111111": {"prefix": "?", "welcome_channel": "444444444444444444",
                "users": {"222222222222222222": {"xp": 120, "warnings": [{"reason": "spam",
                "moderator": "333333333333333333", "date": 1700000000}]}}}}),
            json!({"111111111111111111:222222222222222222": {"level": 4, "messages": 9}}),
            json!({"players": [{"id": "222222222222222222", "xp": 1234, "level": 5,
                "message_count": 99}], "guild": {"id": "111111111111111111"}}),
        ]
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect()
    }

    /// A random JSON value of at most `depth` levels, with the keys and
    /// values the readers look for mixed with anything else.
    fn random_value(rng: &mut StdRng, depth: u32) -> Value {
        const KEYS: &[&str] = &[
            "111111111111111111",
            "222222222222222222:333333333333333333",
            "users",
            "xp",
            "level",
            "warnings",
            "prefix",
            "players",
            "id",
            "guild",
            "members",
            "reason",
            "moderator",
            "date",
            "welcome_channel",
            "settings",
            "",
            "0",
            "-1",
            "x",
        ];
        let leaf = |rng: &mut StdRng| match rng.random_range(0..9) {
            0 => Value::Null,
            1 => json!(rng.random::<bool>()),
            2 => json!(rng.random::<u64>()),
            3 => json!(rng.random::<i64>()),
            4 => json!(rng.random::<f64>() * 1e300),
            5 => json!(rng.random_range(0..1_000)),
            6 => json!(rng.random::<u64>().to_string()),
            7 => json!("x".repeat(rng.random_range(0..3_000))),
            _ => json!(KEYS[rng.random_range(0..KEYS.len())]),
        };
        if depth == 0 || rng.random_range(0..3) == 0 {
            return leaf(rng);
        }
        if rng.random::<bool>() {
            let n = rng.random_range(0..5);
            Value::Array((0..n).map(|_| random_value(rng, depth - 1)).collect())
        } else {
            let n = rng.random_range(0..5);
            Value::Object(
                (0..n)
                    .map(|_| {
                        let key = KEYS[rng.random_range(0..KEYS.len())].to_owned();
                        (key, random_value(rng, depth - 1))
                    })
                    .collect(),
            )
        }
    }

    /// Every outcome is a result: a parse, or one line saying what is wrong.
    fn check(bytes: Vec<u8>, guild: Option<u64>) -> Result<Parsed, String> {
        let input = input(bytes);
        let format = detect(&input);
        let format = if format == Format::Keeper {
            Format::Datajson
        } else {
            format
        };
        let result = parse(&input, format, guild, now());
        if let Err(err) = &result {
            assert!(!err.contains('\n') && err.len() < 400, "{err}");
        }
        result
    }

    #[test]
    fn damaged_files_never_panic_and_errors_are_one_line() {
        let mut rng = StdRng::seed_from_u64(14);
        let samples = samples();
        for round in 0..3_000 {
            let mut bytes = samples[round % samples.len()].clone();
            match rng.random_range(0..5) {
                0 => bytes.truncate(rng.random_range(0..bytes.len())),
                1 => {
                    for _ in 0..rng.random_range(1..8) {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] = rng.random();
                    }
                }
                2 => {
                    let at = rng.random_range(0..bytes.len());
                    let junk: Vec<u8> =
                        (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                    bytes.splice(at..at, junk);
                }
                3 => {
                    // A digit run: huge numbers, or ids turned into others.
                    let at = rng.random_range(0..bytes.len());
                    let digits = "9".repeat(rng.random_range(1..400));
                    bytes.splice(at..at, digits.into_bytes());
                }
                _ => bytes = serde_json::to_vec(&random_value(&mut rng, 6)).unwrap(),
            }
            let guild = rng.random::<bool>().then_some(111_111_111_111_111_111);
            let _ = check(bytes, guild);
        }
    }

    #[test]
    fn hostile_shapes_get_one_clear_line() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = check(deep.into_bytes(), None).unwrap_err();
        assert!(err.contains("recursion limit"), "{err}");
        let err = check(b"{\"1\": \"\xff\xfe\"}".to_vec(), None).unwrap_err();
        assert!(err.contains("not valid JSON"), "{err}");
        let err = check(b"{\"111111111111111111\": {\"xp\": 1".to_vec(), None).unwrap_err();
        assert!(err.contains("EOF"), "{err}");
        let err = check(b"".to_vec(), None).unwrap_err();
        assert!(err.contains("not valid JSON"), "{err}");
        let err = check(b"42".to_vec(), None).unwrap_err();
        assert!(err.contains("not a JSON object"), "{err}");
        // A 20 MB string where a prefix goes: skipped in one short line.
        let huge = format!(
            "{{\"111111111111111111\": {{\"prefix\": \"{}\", \"users\": {{\"2\": 5}}}}}}",
            "p".repeat(20_000_000)
        );
        let parsed = check(huge.into_bytes(), None).unwrap();
        assert!(parsed.skipped[0].why.len() < 100, "{:?}", parsed.skipped[0]);
    }

    #[test]
    fn a_folder_is_mee6_pages_of_one_guild() {
        let dir = std::env::temp_dir().join(format!("keeper-mee6-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for (page, guild, user) in [
            (0, "111111111111111111", "2"),
            (1, "111111111111111111", "3"),
        ] {
            let body = json!({"players": [{"id": user, "xp": 10}], "guild": {"id": guild}});
            fs::write(dir.join(format!("page-{page}.json")), body.to_string()).unwrap();
        }
        let input = read_input(&dir).unwrap();
        assert_eq!(detect(&input), Format::Mee6);
        let parsed = parse(&input, Format::Mee6, None, now()).unwrap();
        assert_eq!(parsed.members(), 2);
        let other = json!({"players": [], "guild": {"id": "444444444444444444"}});
        fs::write(dir.join("page-2.json"), other.to_string()).unwrap();
        let err = parse(&read_input(&dir).unwrap(), Format::Mee6, None, now()).unwrap_err();
        assert!(err.contains("one guild's pages at a time"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_report_says_what_happened() {
        let url: DatabaseUrl = "sqlite://k.db".parse().unwrap();
        let done = GuildImported {
            members_new: 1_200,
            members_raised: 3,
            members_kept: 2,
            warnings_added: 4,
            settings: vec![
                SettingMerge::Set { setting: "prefix" },
                SettingMerge::Kept {
                    setting: "mod-log channel",
                    keeper: "channel 5".into(),
                },
            ],
            ..GuildImported::new(twilight_model::id::Id::new(111))
        };
        let text = report(std::slice::from_ref(&done), false, &url);
        assert!(
            text.contains("guild 111: 1,200 new member(s), 3 raised"),
            "{text}"
        );
        assert!(text.contains("prefix: set"), "{text}");
        assert!(
            text.contains("mod-log channel: kept Keeper's (channel 5)"),
            "{text}"
        );
        let dry = report(&[done], true, &url);
        assert!(dry.starts_with("would import") && dry.contains("Dry run: nothing was written"));
    }
}
