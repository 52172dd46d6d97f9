//! The flush loop: the buffer is written every 250 ms while Keeper runs,
//! counted from the start of each flush (a ticker), so an award waits at most
//! one interval plus the write that takes it. A failing database is retried
//! with backoff (up to 5 s), its awards held in memory, and the outage logged
//! once, when it starts and when it ends.

use std::{sync::Arc, time::Duration};

use keeper_store::StoreResult;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Xp;
use crate::metrics::Metrics;

/// The longest pause between two attempts while the database fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Flush `xp` every `every` until `shutdown`; a flush under way when it comes
/// is finished, not abandoned (the shutdown's own last write follows it).
pub async fn run(xp: Arc<Xp>, every: Duration, shutdown: CancellationToken, metrics: Arc<Metrics>) {
    let pending = Arc::clone(&xp);
    let flush = move || {
        let (xp, metrics) = (Arc::clone(&xp), Arc::clone(&metrics));
        async move {
            let members = xp.pending_members();
            let started = Instant::now();
            let result = xp.flush().await;
            let waiting = xp.pending_members();
            metrics.flush(started.elapsed(), members, result.is_err(), waiting);
            // Then the names and avatars taken since the last flush; a failure
            // keeps them for the next and does not hold the awards back (the
            // store's own metrics count it).
            if let Err(err) = xp.flush_profiles().await {
                tracing::debug!(error = %err, "members' names not written; retried next flush");
            }
            result
        }
    };
    run_with(every, shutdown, flush, move || pending.pending_members()).await;
}

/// [`run`] with the flush given, so its timing can be tested alone.
async fn run_with<F, Fut>(
    every: Duration,
    shutdown: CancellationToken,
    mut flush: F,
    pending: impl Fn() -> usize,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<()>>,
{
    let mut delay = every;
    let mut failing_since: Option<Instant> = None;
    let mut next = Instant::now() + every;
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        let started = Instant::now();
        let result = flush().await;
        tracing::debug!(
            since_last_ms = last.map(|l| (started - l).as_secs_f64() * 1e3),
            took_ms = started.elapsed().as_secs_f64() * 1e3,
            "xp flush"
        );
        last = Some(started);
        match result {
            Ok(()) => {
                if let Some(since) = failing_since.take() {
                    tracing::warn!(after = ?since.elapsed(), "database reachable again; held XP written");
                }
                delay = every;
            }
            Err(err) => {
                if failing_since.is_none() {
                    failing_since = Some(Instant::now());
                    tracing::error!(error = %err, members = pending(), "cannot write XP; holding it in memory and retrying");
                }
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
        // From the start of this flush: a slow write does not push every later
        // one back by its own length. A flush longer than `delay` is followed
        // at once by the next.
        next = started + delay;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use keeper_store::StoreError;

    use super::*;

    /// Flushes that take 100 ms start every 250 ms, not every 350; failures back
    /// off (500 ms, 1 s...) and success brings the interval back.
    #[tokio::test(start_paused = true)]
    async fn flushes_start_every_interval_whatever_they_take() {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let outcomes = Arc::new(Mutex::new(vec![true, true, false, false, true, true]));
        let begin = Instant::now();
        let shutdown = CancellationToken::new();
        let flush = {
            let (starts, outcomes, shutdown) = (starts.clone(), outcomes.clone(), shutdown.clone());
            move || {
                let (starts, outcomes, shutdown) =
                    (starts.clone(), outcomes.clone(), shutdown.clone());
                async move {
                    starts.lock().unwrap().push(begin.elapsed().as_millis());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let mut outcomes = outcomes.lock().unwrap();
                    let ok = outcomes.remove(0);
                    if outcomes.is_empty() {
                        shutdown.cancel();
                    }
                    if ok {
                        Ok(())
                    } else {
                        Err(StoreError::Unavailable("down".into()))
                    }
                }
            }
        };
        run_with(Duration::from_millis(250), shutdown, flush, || 0).await;
        assert_eq!(
            *starts.lock().unwrap(),
            [250, 500, 750, 1_250, 2_250, 2_500],
            "250 ms apart from start to start; 500 ms and 1 s after failures"
        );
    }
}
