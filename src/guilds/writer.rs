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

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use keeper_store::{GuildFacts, GuildRole, Store, StoreResult};
use tokio::sync::{mpsc, oneshot};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker, UserMarker},
};

/// One change to a guild's stored facts.
#[derive(Debug)]
pub enum Write {
    Save(Box<GuildFacts>),
    Update {
        guild: Id<GuildMarker>,
        name: String,
        owner: Option<Id<UserMarker>>,
    },
    SaveRole(Id<GuildMarker>, GuildRole),
    DeleteRole(Id<GuildMarker>, Id<RoleMarker>),
    BotRoles(Id<GuildMarker>, Vec<Id<RoleMarker>>),
    MemberCount(Id<GuildMarker>, u64),
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

/// Apply the queue to `store`, in order, until every sender is gone.
pub async fn run(store: Arc<dyn Store>, mut queue: mpsc::UnboundedReceiver<Write>) {
    while let Some(write) = queue.recv().await {
        if let Write::Flushed(done) = write {
            let _ = done.send(());
            continue;
        }
        let mut retries = RETRIES.iter();
        loop {
            match apply(store.as_ref(), &write).await {
                Ok(()) => break,
                Err(err) => match retries.next() {
                    Some(wait) => {
                        tracing::debug!(error = %err, ?wait, "could not store a guild fact; retrying");
                        tokio::time::sleep(*wait).await;
                    }
                    None => {
                        tracing::warn!(error = %err, write = ?write,
                            "could not store a guild fact; kept in memory, stored again at the next GUILD_CREATE");
                        break;
                    }
                },
            }
        }
    }
}

async fn apply(store: &dyn Store, write: &Write) -> StoreResult<()> {
    let now = Utc::now();
    match write {
        Write::Save(facts) => store.save_guild(facts, now).await,
        Write::Update { guild, name, owner } => store.update_guild(*guild, name, *owner, now).await,
        Write::SaveRole(guild, role) => store.save_role(*guild, role, now).await,
        Write::DeleteRole(guild, role) => store.delete_role(*guild, *role, now).await,
        Write::BotRoles(guild, roles) => store.set_bot_roles(*guild, roles, now).await,
        Write::MemberCount(guild, count) => store.set_member_count(*guild, *count, now).await,
        Write::Left(guild) => store.mark_left(*guild, now).await,
        Write::Flushed(_) => Ok(()),
    }
}
