//! Identify pacing shared by every process of the bot: twilight's [`Queue`]
//! over the store.
//!
//! Discord starts at most `max_concurrency` sessions per 5 s, one per bucket
//! (`shard id % max_concurrency`), across the whole bot; one IDENTIFY too many
//! is refused and counts toward the invalid requests that get a bot banned for
//! an hour. twilight's in-memory queue paces one process only: two processes
//! starting together (a deployment, a rolling restart) identify inside one
//! window. So each IDENTIFY first claims its bucket in the database
//! ([`keeper_store::SessionStore::claim_identify`]): one conditional upsert
//! that only one process wins per window, on PostgreSQL's clock, or on SQLite
//! under the file's write lock (several processes on one host). A database
//! that does not answer delays the IDENTIFY; it never lets one through
//! unclaimed.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use keeper_store::Store;
use tokio::{sync::oneshot, time::Instant};
use twilight_gateway::queue::Queue;

/// Discord's window: one IDENTIFY per bucket per 5 s.
pub const WINDOW: Duration = Duration::from_secs(5);

/// How long to wait before asking a database that failed again.
const RETRY: Duration = Duration::from_secs(1);

/// The queue every shard of this process identifies through.
#[derive(Clone)]
pub struct StoreQueue {
    store: Arc<dyn Store>,
    max_concurrency: u32,
    window: Duration,
    /// Sessions Discord still lets this bot start today, and when that count
    /// is whole again (`session_start_limit`): at none left, wait for it.
    remaining: Arc<AtomicU32>,
    resets_at: Instant,
}

impl fmt::Debug for StoreQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreQueue")
            .field("max_concurrency", &self.max_concurrency)
            .field("window", &self.window)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl StoreQueue {
    pub fn new(
        store: Arc<dyn Store>,
        max_concurrency: u32,
        window: Duration,
        remaining: u32,
        reset_after: Duration,
    ) -> Self {
        Self {
            store,
            max_concurrency: max_concurrency.max(1),
            window,
            remaining: Arc::new(AtomicU32::new(remaining)),
            resets_at: Instant::now() + reset_after,
        }
    }

    /// The claim loop of one IDENTIFY of `shard`: `ready` is told when it
    /// may go; nothing is claimed for a shard that stopped waiting.
    async fn claim(self, shard: u32, ready: oneshot::Sender<()>) {
        let bucket = bucket(shard, self.max_concurrency);
        if self
            .remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_err()
        {
            tracing::warn!(%shard, "Discord's daily session starts are used up; waiting for them to reset");
            tokio::time::sleep_until(self.resets_at).await;
        }
        let mut failing = false;
        while !ready.is_closed() {
            match self.store.claim_identify(bucket, self.window).await {
                Ok(None) => {
                    if failing {
                        tracing::info!(%shard, "the database answers again; identifying");
                    }
                    let _ = ready.send(());
                    return;
                }
                Ok(Some(wait)) => tokio::time::sleep(wait).await,
                Err(err) => {
                    if !failing {
                        tracing::warn!(%shard, error = %err,
                            "cannot claim an identify slot in the database; the shard waits");
                        failing = true;
                    }
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

/// Discord's identify bucket of a shard.
pub fn bucket(shard: u32, max_concurrency: u32) -> u32 {
    shard % max_concurrency.max(1)
}

impl Queue for StoreQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let (ready, wait) = oneshot::channel();
        tokio::spawn(self.clone().claim(shard, ready));
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_share_buckets_by_their_remainder() {
        assert_eq!(bucket(0, 1), 0);
        assert_eq!(bucket(7, 1), 0);
        assert_eq!(bucket(17, 16), 1);
        assert_eq!(bucket(5, 0), 0, "a max_concurrency of 0 is read as 1");
    }
}
