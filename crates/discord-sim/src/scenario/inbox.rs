//! [`Inbox`]: the DMs the bot sends one user, read in order.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::{Sim, SimError};
use crate::state::{Action, SentMessage};

/// The next DM to `user_id` after `cursor`: what [`Inbox::next`] and
/// [`Member::next_dm`](super::Member::next_dm) wait for.
pub(super) async fn next_dm(
    sim: &Sim,
    user_id: u64,
    cursor: &AtomicUsize,
    timeout: Duration,
) -> Result<SentMessage, SimError> {
    sim.next_from(
        cursor,
        timeout,
        &format!("a DM to {user_id}"),
        |w, a| match a {
            Action::MessageCreated(m) if m.guild_id.is_none() => {
                (w.dm_channels.get(&user_id) == Some(&m.channel_id)).then(|| m.clone())
            }
            _ => None,
        },
    )
    .await
}

/// DMs to one user, read in order.
#[derive(Clone)]
pub struct Inbox {
    sim: Sim,
    user_id: u64,
    cursor: Arc<AtomicUsize>,
}

impl Inbox {
    pub(super) fn new(sim: Sim, user_id: u64) -> Self {
        Self {
            sim,
            user_id,
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next DM.
    pub async fn next(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        next_dm(&self.sim, self.user_id, &self.cursor, timeout).await
    }

    /// All DMs so far.
    pub fn all(&self) -> Vec<SentMessage> {
        let w = self.sim.core().world.lock();
        let Some(ch) = w.dm_channels.get(&self.user_id) else {
            return Vec::new();
        };
        w.actions
            .iter()
            .filter_map(|a| match a {
                Action::MessageCreated(m) if m.channel_id == *ch => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}
