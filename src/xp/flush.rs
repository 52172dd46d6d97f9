//! The flush loop: the buffer is written every 250 ms while Keeper runs. A
//! failing database is retried with backoff (up to 5 s), its awards held in
//! memory, and the outage logged once, when it starts and when it ends.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::Xp;

/// The longest pause between two attempts while the database fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Flush `xp` every `every` until `shutdown`; a flush under way when it comes
/// is finished, not abandoned (the shutdown's own last write follows it).
pub async fn run(xp: Arc<Xp>, every: Duration, shutdown: CancellationToken) {
    let mut delay = every;
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        match xp.flush().await {
            Ok(()) => {
                if let Some(since) = failing_since.take() {
                    tracing::warn!(after = ?since.elapsed(), "database reachable again; held XP written");
                }
                delay = every;
            }
            Err(err) => {
                if failing_since.is_none() {
                    failing_since = Some(tokio::time::Instant::now());
                    tracing::error!(error = %err, members = xp.pending_members(), "cannot write XP; holding it in memory and retrying");
                }
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}
