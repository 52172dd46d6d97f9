//! The guild facts' way to the store: one queue, written in order by one task.
//!
//! Guild events are handled in the shard loop, which never waits on the
//! database (a loop that waits stops heartbeating): each handler changes the
//! facts in memory and queues the same change here ([`Writes::send`], never
//! waiting). One task ([`run`]) applies the queue to the store in gateway order,
//! so a role written after its guild's GUILD_CREATE is never overwritten by it.
//! A write that fails is tried again a few times, then dropped with a warning:
//! memory stays right, and the next GUILD_CREATE (after any IDENTIFY) writes the
//! guild whole again.
//!
//! Member counts are the exception to "memory first": joins and departures are
//! counted by the store, once each whatever Discord replays, so the count in
//! memory moves here, after the store answered, in queue order; a
//! GUILD_CREATE's count too, so it lands between the joins before and after it
//! as Discord sent them.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use keeper_store::{Delivery, GuildFacts, GuildRole, Store, StoreResult};
use tokio::sync::{mpsc, oneshot};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker, UserMarker},
};

use super::Facts;

/// One change to a guild's stored facts.
#[derive(Debug)]
pub enum Write {
    Save(Box<GuildFacts>),
    Update {
        guild: Id<GuildMarker>,
        name: String,
        icon: Option<String>,
        owner: Option<Id<UserMarker>>,
    },
    SaveRole(Id<GuildMarker>, GuildRole),
    DeleteRole(Id<GuildMarker>, Id<RoleMarker>),
    BotRoles(Id<GuildMarker>, Vec<Id<RoleMarker>>),
    /// A member joined; answered with the new count, or `None` for a join
    /// counted before.
    Join {
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
        seen: Delivery,
        reply: oneshot::Sender<Option<u64>>,
    },
    /// A member left.
    Leave {
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        seen: Delivery,
    },
    Left(Id<GuildMarker>),
    /// Answered once everything queued before it was written (or given up).
    Flushed(oneshot::Sender<()>),
}

/// How often a failed write is tried, and the wait before each retry.
const RETRIES: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// The sending end of the queue; cheap, never waits.
#[derive(Clone)]
pub struct Writes(mpsc::UnboundedSender<Write>);

impl Writes {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Write>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), rx)
    }

    pub fn send(&self, write: Write) {
        // The writer ends only with the process: a failed send loses nothing
        // that would have been written.
        let _ = self.0.send(write);
    }

    /// Wait (until `deadline`) for what was queued so far to be written.
    pub async fn flushed(&self, deadline: tokio::time::Instant) -> bool {
        let (tx, rx) = oneshot::channel();
        self.send(Write::Flushed(tx));
        matches!(tokio::time::timeout_at(deadline, rx).await, Ok(Ok(())))
    }
}

/// Apply the queue to `store`, in order, until every sender is gone; member
/// counts move in `facts` as they do in the store, in the same order.
pub async fn run(store: Arc<dyn Store>, facts: Facts, mut queue: mpsc::UnboundedReceiver<Write>) {
    while let Some(write) = queue.recv().await {
        if let Write::Flushed(done) = write {
            let _ = done.send(());
            continue;
        }
        let mut retries = RETRIES.iter();
        let outcome = loop {
            match apply(store.as_ref(), &write).await {
                Ok(new) => break Some(new),
                Err(err) => match retries.next() {
                    Some(wait) => {
                        tracing::debug!(error = %err, ?wait, "could not store a guild fact; retrying");
                        tokio::time::sleep(*wait).await;
                    }
                    None => {
                        tracing::warn!(error = %err, write = ?write,
                            "could not store a guild fact; kept in memory, stored again at the next GUILD_CREATE");
                        break None;
                    }
                },
            }
        };
        // A join or departure the store could not check is taken as new: a
        // count one off until the next GUILD_CREATE beats a newcomer unwelcomed.
        count(&facts, write, outcome.unwrap_or(true));
    }
}

/// Write one change; false for a join or departure counted before.
async fn apply(store: &dyn Store, write: &Write) -> StoreResult<bool> {
    let now = Utc::now();
    match write {
        Write::Save(facts) => store.save_guild(facts, now).await,
        Write::Update {
            guild,
            name,
            icon,
            owner,
        } => {
            store
                .update_guild(*guild, name, icon.as_deref(), *owner, now)
                .await
        }
        Write::SaveRole(guild, role) => store.save_role(*guild, role, now).await,
        Write::DeleteRole(guild, role) => store.delete_role(*guild, *role, now).await,
        Write::BotRoles(guild, roles) => store.set_bot_roles(*guild, roles, now).await,
        Write::Join {
            guild,
            user,
            joined_at,
            seen,
            ..
        } => return store.count_join(*guild, *user, *joined_at, seen, now).await,
        Write::Leave { guild, user, seen } => {
            return store.count_leave(*guild, *user, seen, now).await;
        }
        Write::Left(guild) => store.mark_left(*guild, now).await,
        Write::Flushed(_) => Ok(()),
    }
    .map(|()| true)
}

/// After a write: the member count in memory follows the store's, and a join
/// is answered.
fn count(facts: &Facts, write: Write, new: bool) {
    let mut facts = facts.write().expect("facts lock");
    let mut count = |guild: Id<GuildMarker>, to: &dyn Fn(u64) -> u64| {
        let known = facts
            .entry(guild)
            .or_insert_with(|| GuildFacts::unknown(guild));
        known.member_count = to(known.member_count);
        known.member_count
    };
    match write {
        Write::Save(saved) => {
            count(saved.guild_id, &|_| saved.member_count);
        }
        Write::Join { guild, reply, .. } => {
            let counted = new.then(|| count(guild, &|n| n.saturating_add(1)));
            let _ = reply.send(counted);
        }
        Write::Leave { guild, .. } if new => {
            count(guild, &|n| n.saturating_sub(1));
        }
        _ => {}
    }
}
