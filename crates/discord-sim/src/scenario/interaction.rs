//! [`Interaction`]: a slash command a member ran, and what the bot answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{Sim, SimError};
use crate::state::{Action, InteractionState, SentMessage};

/// The bot's first callback to an interaction.
#[derive(Clone, Debug, PartialEq)]
pub struct InteractionResponse {
    /// Callback type: 4 message, 5 deferred, 9 modal, ...
    pub kind: u8,
    /// The callback's `data`.
    pub data: Value,
}

/// An interaction sent to the bot.
#[derive(Clone)]
pub struct Interaction {
    sim: Sim,
    id: u64,
    channel_id: u64,
    cursor: Arc<AtomicUsize>,
    followups: Arc<AtomicUsize>,
}

impl Interaction {
    /// A handle on an interaction just dispatched, `lag` after it was made,
    /// which fails it if no callback arrives within the deadline counted from
    /// its making: the user then saw "The application did not respond".
    pub(super) fn sent(sim: Sim, id: u64, channel_id: u64, lag: Duration) -> Self {
        let core = sim.core().clone();
        let deadline = core.config().interaction_deadline.saturating_sub(lag);
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            let mut w = core.world.lock();
            if let Some(r) = w.interactions.get_mut(&id)
                && r.state == InteractionState::Pending
            {
                r.state = InteractionState::Failed;
                w.record(Action::InteractionFailed { interaction_id: id });
                drop(w);
                core.notify();
            }
        });
        Self {
            sim,
            id,
            channel_id,
            cursor: Arc::new(AtomicUsize::new(0)),
            followups: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// INTERACTION_CREATE delivered again, unchanged (same ID and token), as a
    /// resumed session replays it after a crash.
    pub fn delivered_again(&self) {
        let id = self.id;
        self.sim.with_world(|w| {
            if let Some(rec) = w.interactions.get(&id) {
                let (guild, payload) = (rec.guild_id, rec.payload.clone());
                if let Some(guild) = guild {
                    w.dispatch_guild(guild, "INTERACTION_CREATE", 0, &payload, None);
                }
            }
        });
    }

    /// The first callback (type 4/5/...). Fails with
    /// [`SimError::InteractionFailed`] when the deadline passed without one.
    pub async fn response(&self, timeout: Duration) -> Result<InteractionResponse, SimError> {
        let id = self.id;
        let what = format!("a response to interaction {id}");
        self.unless_failed(&self.cursor, timeout, &what, |a| match a {
            Action::InteractionResponded {
                interaction_id,
                kind,
                data,
            } if *interaction_id == id => Some(InteractionResponse {
                kind: *kind,
                data: data.clone(),
            }),
            _ => None,
        })
        .await
    }

    /// The message the user sees as the answer: the type-4 response, or the
    /// original message created by editing `@original` after a deferral.
    pub async fn message(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        let id = self.id;
        let what = format!("the answer to interaction {id}");
        self.unless_failed(&AtomicUsize::new(0), timeout, &what, |a| match a {
            Action::MessageCreated(m) if m.interaction_id == Some(id) => Some(m.clone()),
            _ => None,
        })
        .await
    }

    /// The next action after `cursor` that `pick` takes, unless the
    /// interaction failed first: then [`SimError::InteractionFailed`].
    async fn unless_failed<T>(
        &self,
        cursor: &AtomicUsize,
        timeout: Duration,
        what: &str,
        mut pick: impl FnMut(&Action) -> Option<T>,
    ) -> Result<T, SimError> {
        let id = self.id;
        self.sim
            .next_from(cursor, timeout, what, |_, a| match a {
                Action::InteractionFailed { interaction_id } if *interaction_id == id => {
                    Some(Err(SimError::InteractionFailed(id)))
                }
                _ => pick(a).map(Ok),
            })
            .await?
    }

    /// Follow-up messages in order (the n-th call returns the n-th
    /// follow-up; the original answer is not a follow-up).
    pub async fn followup(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        let id = self.id;
        let wanted = self.followups.fetch_add(1, Ordering::Relaxed);
        let cursor = AtomicUsize::new(0);
        let mut seen = 0;
        self.sim
            .next_from(
                &cursor,
                timeout,
                &format!("follow-up {wanted} to interaction {id}"),
                |w, a| match a {
                    Action::MessageCreated(m) if m.interaction_id == Some(id) => {
                        // Follow-ups are kind 0; the original answer is kind 20.
                        let is_original = w.messages.get(&m.id).is_some_and(|r| r.kind == 20);
                        if is_original {
                            return None;
                        }
                        seen += 1;
                        (seen == wanted + 1).then(|| m.clone())
                    }
                    _ => None,
                },
            )
            .await
    }

    /// Where the interaction stands now.
    pub fn state(&self) -> InteractionState {
        self.sim.core().world.lock().interactions[&self.id].state
    }

    /// The channel it was run in.
    pub fn channel_id(&self) -> u64 {
        self.channel_id
    }
}
