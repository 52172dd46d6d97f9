//! The retention policy for guilds Keeper left (`KEEPER_GUILD_RETENTION`,
//! default 30 days; `0` keeps them forever): once a guild has been left that
//! long, everything Keeper keeps about it is deleted, one guild per
//! transaction. A guild Keeper rejoins before then keeps everything (the
//! store checks, in the transaction that deletes, that it is still left).
//! Runs at start-up and then every tenth of the retention time (at least a
//! second, at most an hour); several processes may run it at once, each
//! guild is purged once.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::context::Context;

/// Guilds purged per pass at most; the next pass takes the rest.
const BATCH: u32 = 100;

/// Purge what is due until `shutdown`; nothing when `keep_for` is `None`.
pub async fn run(ctx: Arc<Context>, keep_for: Option<Duration>, shutdown: CancellationToken) {
    let Some(keep_for) = keep_for else {
        return;
    };
    let every = check_every(keep_for);
    loop {
        purge_due(&ctx, keep_for).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// How often to look: a tenth of the retention, between a second and an hour.
pub fn check_every(keep_for: Duration) -> Duration {
    (keep_for / 10).clamp(Duration::from_secs(1), Duration::from_secs(3_600))
}

async fn purge_due(ctx: &Context, keep_for: Duration) {
    let Ok(keep_for) = chrono::Duration::from_std(keep_for) else {
        return;
    };
    let before = Utc::now() - keep_for;
    let due = match ctx.store.guilds_left_before(before, BATCH).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = %err, "could not list the guilds due to be purged; trying later");
            return;
        }
    };
    for guild in due {
        match ctx.store.purge_left_guild(guild, before).await {
            Ok(Some(rows)) => {
                ctx.guilds.purged(guild);
                tracing::info!(%guild, rows, "purged the data of a guild Keeper left longer ago than KEEPER_GUILD_RETENTION");
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(%guild, error = %err, "could not purge a left guild's data; trying later")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_runs_at_a_tenth_of_the_retention_within_bounds() {
        let day = Duration::from_secs(86_400);
        assert_eq!(check_every(30 * day), Duration::from_secs(3_600));
        assert_eq!(
            check_every(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
        assert_eq!(check_every(Duration::from_secs(2)), Duration::from_secs(1));
    }
}
