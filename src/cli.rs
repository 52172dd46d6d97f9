//! The subcommands other than the bot itself, and how start-up failures are told.

use std::process::ExitCode;

use crate::{backups, bot, config::Config, db, error::Fatal};

/// clap prints help and version itself; its errors are cut to their first line
/// (they name the flag and the variable), with exit code 2.
pub fn clap_exit(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let rendered = err.render().to_string();
    let line = rendered.lines().next().unwrap_or("invalid arguments");
    eprintln!("keeper: {}", line.trim_start_matches("error: "));
    eprintln!("keeper: see `keeper --help` for every setting and its variable");
    ExitCode::from(2)
}

/// `keeper run`: the bot.
pub async fn run(config: &Config) -> Result<(), Fatal> {
    if config.discord.token.is_none() {
        // Say it before touching the database: nothing else can work without it.
        return Err(Fatal::Config(
            "DISCORD_TOKEN: not set; put the bot's token in .env or the environment (or try `keeper demo`)".into(),
        ));
    }
    let store = db::open(&config.database).await.map_err(Fatal::database)?;
    tracing::info!(backend = store.backend(), database = %config.database.database_url, "database ready");
    match store.advisories().await {
        Ok(advisories) => advisories.iter().for_each(|a| tracing::warn!("{a}")),
        Err(err) => tracing::warn!(error = %err, "could not read the database's configuration"),
    }
    bot::run(config, store, tokio_util::sync::CancellationToken::new()).await
}

/// `keeper demo`: the bot against the simulator; see `demo.rs`.
pub async fn demo() -> Result<(), Fatal> {
    crate::demo::run().await
}

/// `keeper migrate`.
pub async fn migrate(config: &Config) -> Result<(), Fatal> {
    let store = db::open(&config.database).await.map_err(Fatal::database)?;
    let version = store.schema_version().await.map_err(Fatal::database)?;
    println!("{}: schema at version {version}", store.backend());
    store.close().await;
    Ok(())
}

/// `keeper check`.
pub async fn check(config: &Config) -> Result<(), Fatal> {
    let url = &config.database.database_url;
    let store = db::open(&config.database).await.map_err(Fatal::database)?;
    store.health_check().await.map_err(Fatal::database)?;
    let version = store.schema_version().await.map_err(Fatal::database)?;
    let counts = store.table_counts().await.map_err(Fatal::database)?;
    println!("backend:        {}", store.backend());
    println!("database:       {url}");
    println!(
        "schema version: {version} (this build knows up to {})",
        db::binary_schema_version(url)
    );
    let advisories = store.advisories().await.map_err(Fatal::database)?;
    println!("rows:");
    let width = counts
        .iter()
        .map(|(table, _)| table.len())
        .max()
        .unwrap_or(0);
    for (table, count) in counts {
        println!("  {table:<width$}  {count}");
    }
    let runs = store.backup_runs(3).await.map_err(Fatal::database)?;
    if !runs.is_empty() {
        println!("scheduled backups (newest first):");
        for run in runs {
            let how = match (&run.file, &run.error, run.finished_at) {
                (Some(file), _, _) => format!("written: {file}"),
                (_, Some(error), _) => format!("FAILED: {error}"),
                (_, _, None) => "under way, or its process stopped".to_owned(),
                _ => "finished without a file".to_owned(),
            };
            println!(
                "  {}  by {}  {how}",
                run.period_start.format("%Y-%m-%d %H:%M:%S UTC"),
                run.claimed_by
            );
        }
    }
    if !advisories.is_empty() {
        println!("warnings:");
        for advice in advisories {
            println!("  - {advice}");
        }
    }
    store.close().await;
    Ok(())
}

/// `keeper backup`: a copy of the database in `out` (see `backups::write`).
pub async fn backup(config: &Config, out: &std::path::Path) -> Result<(), Fatal> {
    let store = db::open(&config.database).await.map_err(Fatal::database)?;
    let started = std::time::Instant::now();
    println!(
        "backing up the {} database into {}",
        store.backend(),
        out.display()
    );
    // No hint is no reason to fail a backup: the bar then counts bytes only.
    let hint = store.backup_size_hint().await.ok().flatten();
    let mut progress = crate::progress::Progress::bytes(hint);
    let written = backups::write_telling(&*store, out, Some(&mut progress)).await;
    store.close().await;
    let done = written?;
    let size = std::fs::metadata(&done).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({} bytes) in {:.1} s",
        done.display(),
        size,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `keeper forget-user`: an operator answering a deletion request.
pub async fn forget_user(config: &Config, user: std::num::NonZeroU64) -> Result<(), Fatal> {
    let store = db::open(&config.database).await.map_err(Fatal::database)?;
    let user = twilight_model::id::Id::from(user);
    let deleted = store.delete_user(user).await;
    store.close().await;
    let deleted = deleted.map_err(|e| Fatal::Runtime(format!("nothing was deleted: {e}")))?;
    println!(
        "deleted user {user}'s data: {} XP rows, {} saved names and avatars and {} cases \
         about them, with their joins; cases they made as a moderator are kept",
        deleted.xp_rows, deleted.profiles, deleted.cases
    );
    Ok(())
}
