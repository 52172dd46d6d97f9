//! Keeper's export format: every table as gzip-compressed JSON lines, readable
//! by any Keeper of the same or a later schema into either backend
//! (`keeper export --out FILE`; `keeper import FILE` or `keeper restore FILE`).
//!
//! ```text
//! {"format":"keeper-export","version":1,"schema_version":11,"backend":"sqlite","exported_at":"2026-12-01T05:00:00Z"}
//! {"table":"guild_settings","rows":[{"guild_id":"1","prefix":"?",...}]}
//! {"table":"member_xp","rows":[{"guild_id":"1","user_id":"10","xp":120,...}, ...]}
//! ...
//! {"end":{"rows":{"guild_settings":1,"member_xp":12004,...}}}
//! ```
//!
//! The first line says what the file is; then pages of at most 1,000 rows,
//! tables in `Table::ALL`'s order, each row as `keeper_store::transfer` has it
//! (snowflakes as strings, times as RFC 3339 UTC); the last line counts every
//! table's rows, so a truncated file is told from a whole one. A file is read
//! whole and checked before anything is written ([`check`]): every line must
//! parse, tables come in order, and the counts must match.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    path::Path,
};

use chrono::{DateTime, Utc};
use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use keeper_store::{
    Store,
    transfer::{Pages, Rows, Table},
};
use serde::{Deserialize, Serialize};

/// What the first line names.
pub const FORMAT: &str = "keeper-export";
/// This format's version; a later Keeper reads every earlier one.
pub const VERSION: u32 = 1;
/// Rows per line.
const PAGE: u32 = 1_000;
/// A line longer than this is refused rather than held in memory: no page of
/// 1,000 rows comes near it (a row's strings are capped at 2,000 characters).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub schema_version: i64,
    pub backend: String,
    pub exported_at: DateTime<Utc>,
}

/// The last line: every table's rows.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    end: Counts,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counts {
    rows: BTreeMap<String, u64>,
}

/// A whole, checked export: its header and every table's rows.
#[derive(Debug)]
pub struct Checked {
    pub header: Header,
    pub rows: BTreeMap<Table, u64>,
}

/// Write every table of `store` to `out` (a new file, owner-only, written
/// under a temporary name and renamed when whole). The rows written.
pub async fn write(store: &dyn Store, out: &Path) -> Result<u64, String> {
    let name = out
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", out.display()))?;
    let partial = out.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let written = write_to(store, &partial).await;
    let renamed = written.and_then(|rows| {
        if out.exists() {
            return Err(format!(
                "{} exists already; nothing was replaced",
                out.display()
            ));
        }
        std::fs::rename(&partial, out)
            .map(|()| rows)
            .map_err(|e| format!("can't name the export {}: {e}", out.display()))
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    renamed
}

async fn write_to(store: &dyn Store, path: &Path) -> Result<u64, String> {
    crate::backups::private_empty_file(path)
        .map_err(|e| format!("can't write {}: {e}", path.display()))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("can't write {}: {e}", path.display()))?;
    // The buffer sits above the compressor: serde_json writes token by token,
    // and each small write into the compressor costs a call into deflate.
    // Level 1: faster than the default for a few percent more bytes.
    let mut out =
        std::io::BufWriter::with_capacity(1 << 20, GzEncoder::new(file, Compression::fast()));
    let io = |e: std::io::Error| format!("can't write {}: {e}", path.display());
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        schema_version: store.schema_version().await.map_err(|e| e.to_string())?,
        backend: store.backend().into(),
        exported_at: Utc::now(),
    };
    line(&mut out, &header).map_err(io)?;
    let mut counts = Counts::default();
    let mut total = 0;
    for table in Table::ALL {
        let mut pages = Pages::new(store, table, PAGE);
        let mut count = 0;
        while let Some(rows) = pages.next().await.map_err(|e| e.to_string())? {
            count += rows.len() as u64;
            line(&mut out, &rows).map_err(io)?;
        }
        counts.rows.insert(table.name().to_owned(), count);
        total += count;
    }
    line(&mut out, &End { end: counts }).map_err(io)?;
    let encoder = out.into_inner().map_err(|e| io(e.into_error()))?;
    let file = encoder.finish().map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(total)
}

fn line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Whether `head` (a file's first bytes) is gzip, as exports are.
pub fn is_export(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Read the export at `path` whole and check it (see the module docs),
/// handing each page to `page` in order. Nothing but `page` sees the rows, so
/// a first pass with a no-op `page` checks a file before a second one writes.
pub fn read(path: &Path, page: impl FnMut(Rows)) -> Result<Checked, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("can't read it: {e}"))?;
    read_from(file, page)
}

/// [`read`] from any reader (the parser the property tests run).
pub fn read_from(input: impl Read, mut page: impl FnMut(Rows)) -> Result<Checked, String> {
    let mut lines = BufReader::new(GzDecoder::new(input));
    let mut buf = Vec::new();
    let mut number = 0;
    let mut next = |buf: &mut Vec<u8>| -> Result<bool, String> {
        buf.clear();
        number += 1;
        let read = (&mut lines)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', buf)
            .map_err(|e| format!("line {number}: not a whole gzip stream ({e})"))?;
        if buf.len() > MAX_LINE {
            return Err(format!("line {number}: longer than {MAX_LINE} bytes"));
        }
        Ok(read > 0)
    };
    if !next(&mut buf)? {
        return Err("empty: no header line".into());
    }
    let header: Header = serde_json::from_slice(&buf)
        .map_err(|e| format!("line 1: not a Keeper export header ({e})"))?;
    if header.format != FORMAT {
        return Err(format!(
            "line 1: format {:?}, not {FORMAT:?}",
            header.format
        ));
    }
    if header.version > VERSION {
        return Err(format!(
            "written in export format {} by a newer Keeper (this one reads up to {VERSION})",
            header.version
        ));
    }
    let mut rows: BTreeMap<Table, u64> = BTreeMap::new();
    let mut last: Option<usize> = None;
    let mut line_number = 1;
    loop {
        if !next(&mut buf)? {
            return Err(format!(
                "truncated: it ends after line {line_number} without its closing counts"
            ));
        }
        line_number += 1;
        if buf.starts_with(b"{\"end\"") {
            let end: End = serde_json::from_slice(&buf)
                .map_err(|e| format!("line {line_number}: bad closing counts ({e})"))?;
            check_counts(&end.end, &rows)?;
            if next(&mut buf)? && !buf.iter().all(u8::is_ascii_whitespace) {
                return Err(format!(
                    "line {}: data after the closing counts",
                    line_number + 1
                ));
            }
            return Ok(Checked { header, rows });
        }
        let parsed: Rows = serde_json::from_slice(&buf)
            .map_err(|e| format!("line {line_number}: not a page of rows ({e})"))?;
        let table = parsed.table();
        let at = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
        if last.is_some_and(|l| at < l) {
            return Err(format!(
                "line {line_number}: {} after a later table; tables come in order",
                table.name()
            ));
        }
        last = Some(at);
        *rows.entry(table).or_default() += parsed.len() as u64;
        page(parsed);
    }
}

fn check_counts(end: &Counts, rows: &BTreeMap<Table, u64>) -> Result<(), String> {
    for (name, count) in &end.rows {
        let table = Table::named(name).ok_or_else(|| format!("unknown table {name:?}"))?;
        let found = rows.get(&table).copied().unwrap_or(0);
        if found != *count {
            return Err(format!(
                "{name}: the closing counts say {count} rows, the file holds {found}"
            ));
        }
    }
    if let Some((table, _)) = rows
        .iter()
        .find(|(t, n)| **n > 0 && !end.rows.contains_key(t.name()))
    {
        return Err(format!(
            "{}: rows the closing counts do not list",
            table.name()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keeper_store::conformance::sample_rows;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// An export of the sample rows, built as `write` builds it.
    fn sample_export() -> Vec<u8> {
        let mut out = GzEncoder::new(Vec::new(), Compression::fast());
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            schema_version: 11,
            backend: "sqlite".into(),
            exported_at: DateTime::from_timestamp(1_796_083_200, 0).unwrap(),
        };
        line(&mut out, &header).unwrap();
        let mut counts = Counts::default();
        for rows in sample_rows() {
            counts
                .rows
                .insert(rows.table().name().into(), rows.len() as u64);
            line(&mut out, &rows).unwrap();
        }
        line(&mut out, &End { end: counts }).unwrap();
        out.finish().unwrap()
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut out = GzEncoder::new(Vec::new(), Compression::fast());
        out.write_all(text.as_bytes()).unwrap();
        out.finish().unwrap()
    }

    #[test]
    fn a_whole_export_reads_back_every_row_in_order() {
        let mut pages = Vec::new();
        let checked = read_from(&sample_export()[..], |p| pages.push(p)).unwrap();
        assert_eq!(pages, sample_rows());
        assert_eq!(checked.header.schema_version, 11);
        assert_eq!(checked.rows.len(), Table::ALL.len());
    }

    #[test]
    fn each_kind_of_bad_file_is_one_clear_error() {
        let whole = String::from_utf8(
            {
                let mut text = String::new();
                GzDecoder::new(&sample_export()[..])
                    .read_to_string(&mut text)
                    .unwrap();
                text
            }
            .into_bytes(),
        )
        .unwrap();
        let lines: Vec<&str> = whole.lines().collect();
        let without = |n: usize| {
            let mut l = lines.clone();
            l.remove(n);
            l.join("\n") + "\n"
        };
        let cases = [
            (gz(""), "empty"),
            (b"not gzip at all".to_vec(), "gzip"),
            (
                sample_export()[..sample_export().len() / 2].to_vec(),
                "gzip",
            ),
            (gz(&(lines[..5].join("\n") + "\n")), "truncated"),
            (gz(&without(3)), "closing counts say"),
            (gz(&without(0)), "line 1"),
            (
                gz(&format!("{}\n{}\n{}\n", lines[0], lines[5], lines[2])),
                "in order",
            ),
            (
                gz(&whole.replace("\"format\":\"keeper-export\"", "\"format\":\"mee6\"")),
                "format",
            ),
            (
                gz(&whole.replace("\"version\":1", "\"version\":2")),
                "newer Keeper",
            ),
            (
                gz(&whole.replace("\"last_case\":3", "\"last_case\":99999999999999999999999")),
                "line",
            ),
            (
                gz(&whole.replace("\"last_case\":3", "\"last_case\":\"three\"")),
                "line",
            ),
            (
                gz(&whole.replace("\"guild_id\":\"1\"", "\"guild_id\":\"0\"")),
                "line",
            ),
            (
                gz(&format!(
                    "{}\n{}{}\n",
                    lines[0],
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                )),
                "line 2",
            ),
            (
                gz(&format!("{whole}{{\"table\":\"guilds\",\"rows\":[]}}\n")),
                "after the closing counts",
            ),
        ];
        for (i, (bytes, expected)) in cases.iter().enumerate() {
            let err = read_from(&bytes[..], |_| {}).expect_err(&format!("case {i} read"));
            assert!(err.contains(expected), "case {i}: {err}");
            assert!(!err.contains('\n'), "case {i}: one line: {err}");
        }
        // Invalid UTF-8 inside a string.
        let mut bad = whole.clone().into_bytes();
        let at = whole.find("Первый").unwrap();
        bad[at] = 0xff;
        let mut out = GzEncoder::new(Vec::new(), Compression::fast());
        out.write_all(&bad).unwrap();
        let err = read_from(&out.finish().unwrap()[..], |_| {}).unwrap_err();
        assert!(err.starts_with("line "), "{err}");
    }

    /// Thousands of damaged exports (cut short, bytes flipped, garbage
    /// spliced in, before and after decompression): the parser answers each
    /// with an error or, when the damage left a valid file, the counts it
    /// checked, and never panics.
    #[test]
    fn damaged_exports_never_panic() {
        let compressed = sample_export();
        let mut plain = String::new();
        GzDecoder::new(&compressed[..])
            .read_to_string(&mut plain)
            .unwrap();
        let plain = plain.into_bytes();
        let mut rng = StdRng::seed_from_u64(14);
        let mut accepted = 0;
        for round in 0..3_000 {
            let mut bytes = if round % 2 == 0 {
                compressed.clone()
            } else {
                plain.clone()
            };
            match rng.random_range(0..4) {
                0 => bytes.truncate(rng.random_range(0..bytes.len())),
                1 => {
                    for _ in 0..rng.random_range(1..8) {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] ^= rng.random::<u8>() | 1;
                    }
                }
                2 => {
                    let at = rng.random_range(0..bytes.len());
                    let junk: Vec<u8> =
                        (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                    bytes.splice(at..at, junk);
                }
                _ => {
                    let at = rng.random_range(0..bytes.len());
                    let len = rng.random_range(0..(bytes.len() - at).min(200));
                    bytes.drain(at..at + len);
                }
            }
            if round % 2 == 1 {
                let mut out = GzEncoder::new(Vec::new(), Compression::fast());
                out.write_all(&bytes).unwrap();
                bytes = out.finish().unwrap();
            }
            if read_from(&bytes[..], |_| {}).is_ok() {
                accepted += 1;
            }
        }
        // Most damage is caught; a flip inside a reason's text is not damage
        // the format can see, so some files stay valid.
        assert!(accepted < 300, "{accepted} of 3000 damaged files accepted");
    }
}
