//! Backups: writing one (`keeper backup`, and the schedule), and the schedule
//! inside the bot (`KEEPER_BACKUP_EVERY`, `KEEPER_BACKUP_DIR`,
//! `KEEPER_BACKUP_KEEP`).
//!
//! Periods are counted from the Unix epoch (with `24h`, each UTC day), so every
//! process on one database agrees on them; at the start of each, and at
//! start-up for the period under way, every process asks the store to claim
//! it, and only the one whose claim is recorded writes the backup (a row of
//! `backup_runs`, which also keeps the file written or the error). Then the
//! newest `KEEPER_BACKUP_KEEP` backups in the directory are kept and older
//! ones deleted. A failing backup or database is logged and never stops the
//! bot.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use keeper_store::Store;
use tokio_util::sync::CancellationToken;

use crate::{config::BackupConfig, error::Fatal, progress::Progress};

/// Write a backup of `store` in `dir`: under a temporary name (readable by its
/// owner only from the start, as the data is members' and moderators') and
/// renamed once complete, so a file with the final name is always a whole
/// backup. The file written.
pub async fn write(store: &dyn Store, dir: &Path) -> Result<PathBuf, Fatal> {
    write_telling(store, dir, None).await
}

/// [`write`], telling `progress` the bytes written so far (the file's size,
/// read every 100 ms) on the way.
pub async fn write_telling(
    store: &dyn Store,
    dir: &Path,
    mut progress: Option<&mut Progress>,
) -> Result<PathBuf, Fatal> {
    let name = backup_name(store.backend(), Utc::now(), store.backup_extension());
    let (partial, done) = (dir.join(format!(".{name}.partial")), dir.join(&name));
    let written = async {
        private_empty_file(&partial)
            .map_err(|e| Fatal::Config(format!("can't write in {}: {e}", dir.display())))?;
        let mut backup = std::pin::pin!(store.backup_to(&partial));
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let backed_up = loop {
            tokio::select! {
                result = &mut backup => break result,
                _ = tick.tick() => {
                    if let Some(progress) = progress.as_deref_mut() {
                        let size = std::fs::metadata(&partial).map_or(0, |m| m.len());
                        progress.update("backup", 0, size);
                    }
                }
            }
        };
        if let Some(progress) = progress.as_deref_mut() {
            match &backed_up {
                Ok(()) => {
                    let size = std::fs::metadata(&partial).map_or(0, |m| m.len());
                    progress.complete("backup", size);
                }
                Err(_) => progress.finish(),
            }
        }
        backed_up.map_err(Fatal::database)?;
        std::fs::rename(&partial, &done)
            .map_err(|e| Fatal::Runtime(format!("can't name the backup {}: {e}", done.display())))
    }
    .await;
    if let Err(err) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    Ok(done)
}

/// `keeper-sqlite-20261201T001500Z.db`: the backend and the UTC time, so
/// backups sort by age.
pub fn backup_name(backend: &str, at: DateTime<Utc>, extension: &str) -> String {
    format!(
        "keeper-{backend}-{}.{extension}",
        at.format("%Y%m%dT%H%M%SZ")
    )
}

/// A new empty file only its owner may read and write (refusing to replace one).
pub fn private_empty_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// The scheduled backups, until `shutdown`; does nothing without
/// `KEEPER_BACKUP_EVERY`.
pub async fn run(store: Arc<dyn Store>, config: BackupConfig, shutdown: CancellationToken) {
    let Some(every) = config.every else {
        return;
    };
    let me = format!(
        "{}:{}:{:08x}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "keeper".to_owned()),
        std::process::id(),
        rand::random::<u32>()
    );
    tracing::info!(every = %crate::duration::describe(every), dir = %config.dir.display(), keep = config.keep, "scheduled backups on");
    loop {
        let period = period_start(Utc::now(), every);
        take(&*store, period, &me, &config).await;
        let next = period + every;
        let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Claim `period`; when this process got it, write the backup, record how it
/// went and prune the directory.
async fn take(store: &dyn Store, period: DateTime<Utc>, me: &str, config: &BackupConfig) {
    match store.claim_backup(period, me, Utc::now()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(%period, "this period's backup is another process's");
            return;
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not claim the scheduled backup; trying next period");
            return;
        }
    }
    let written = match private_dir(&config.dir) {
        Ok(()) => write(store, &config.dir).await,
        Err(err) => Err(Fatal::Config(format!(
            "KEEPER_BACKUP_DIR: can't create {}: {err}",
            config.dir.display()
        ))),
    };
    let outcome = match &written {
        Ok(file) => {
            tracing::info!(
                period = period.timestamp(),
                file = %file.display(),
                "scheduled backup written"
            );
            let pruned = prune(&config.dir, config.keep);
            if !pruned.is_empty() {
                tracing::info!(
                    deleted = pruned.len(),
                    keep = config.keep,
                    "older backups deleted"
                );
            }
            Ok(file.display().to_string())
        }
        Err(err) => {
            tracing::error!(error = %err, "the scheduled backup failed");
            Err(err.to_string())
        }
    };
    let outcome = outcome.as_deref().map_err(String::as_str);
    if let Err(err) = store.finish_backup(period, outcome, Utc::now()).await {
        tracing::warn!(error = %err, "could not record how the scheduled backup went");
    }
}

/// The directory, created when missing, readable by its owner only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The start of the period `now` is in: periods of `every` counted from the
/// Unix epoch, the same in every process.
pub fn period_start(now: DateTime<Utc>, every: Duration) -> DateTime<Utc> {
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    let ms = now.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(every_ms)).unwrap_or(now)
}

/// Delete all but the newest `keep` backups in `dir`; the names deleted.
fn prune(dir: &Path, keep: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let doomed = to_prune(&names, keep);
    for name in &doomed {
        if let Err(err) = std::fs::remove_file(dir.join(name)) {
            tracing::warn!(file = name, error = %err, "could not delete an old backup");
        }
    }
    doomed
}

/// Of `names`, the backups (as [`backup_name`] names them) beyond the newest
/// `keep`, oldest first. Other files are never touched.
pub fn to_prune(names: &[String], keep: u32) -> Vec<String> {
    let mut backups: Vec<&String> = names.iter().filter(|n| is_backup_name(n)).collect();
    // The name sorts by time within a backend; across backends (a directory
    // shared by a move to PostgreSQL) by the time too, which follows the dash.
    backups.sort_by_key(|n| time_part(n).to_owned());
    let excess = backups.len().saturating_sub(keep as usize);
    backups.into_iter().take(excess).cloned().collect()
}

/// `keeper-<backend>-YYYYMMDDTHHMMSSZ.<db|dump>`.
fn is_backup_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("keeper-") else {
        return false;
    };
    let Some((_, tail)) = rest.split_once('-') else {
        return false;
    };
    let Some((time, extension)) = tail.split_once('.') else {
        return false;
    };
    matches!(extension, "db" | "dump" | "sql")
        && time.len() == 16
        && time.as_bytes()[8] == b'T'
        && time.ends_with('Z')
        && time
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit())
}

fn time_part(name: &str) -> &str {
    name.rsplit_once('-').map_or(name, |(_, time)| time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_named_by_backend_and_utc_time() {
        let at = DateTime::from_timestamp(1_796_083_200, 0).unwrap();
        assert_eq!(
            backup_name("sqlite", at, "db"),
            "keeper-sqlite-20261201T000000Z.db"
        );
        assert_eq!(
            backup_name("postgres", at, "dump"),
            "keeper-postgres-20261201T000000Z.dump"
        );
        assert!(is_backup_name(&backup_name("sqlite", at, "db")));
        assert!(is_backup_name(&backup_name("mysql", at, "sql")));
    }

    #[test]
    fn periods_start_at_multiples_of_the_interval_from_the_epoch() {
        let day = Duration::from_secs(86_400);
        let noon = DateTime::from_timestamp(1_796_083_200 + 43_200, 0).unwrap();
        let midnight = DateTime::from_timestamp(1_796_083_200, 0).unwrap();
        assert_eq!(period_start(noon, day), midnight);
        assert_eq!(period_start(midnight, day), midnight, "a start is its own");
        let hour = Duration::from_secs(3_600);
        let t = DateTime::from_timestamp(1_796_083_200 + 5_399, 999_000_000).unwrap();
        assert_eq!(
            period_start(t, hour),
            DateTime::from_timestamp(1_796_083_200 + 3_600, 0).unwrap()
        );
    }

    #[test]
    fn pruning_keeps_the_newest_backups_and_nothing_else_is_touched() {
        let names: Vec<String> = [
            "keeper-sqlite-20261203T000000Z.db",
            "keeper-sqlite-20261201T000000Z.db",
            "notes.txt",
            ".keeper-sqlite-20261204T000000Z.db.partial",
            "keeper-postgres-20261202T000000Z.dump",
            "keeper-sqlite-2026120T000000Z.db",
            "keeper-sqlite-20261204T000000Z.db",
            "keeper.db",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            to_prune(&names, 2),
            [
                "keeper-sqlite-20261201T000000Z.db",
                "keeper-postgres-20261202T000000Z.dump"
            ]
        );
        assert!(to_prune(&names, 4).is_empty());
        assert_eq!(to_prune(&names, 1).len(), 3);
    }
}
