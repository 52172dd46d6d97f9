//! The write-behind XP buffer.
//!
//! Every guild message would otherwise be one database write. Instead, handlers
//! record awards here (coalesced per guild and member: ten messages are one row),
//! and one task flushes everything at least every 250 ms as a single batch
//! statement ([`keeper_store::Store::award_xp`]).
//!
//! What a crash can lose: with each batch the store writes, in the same
//! transaction, the gateway sequence number up to which the dispatcher had recorded
//! events when the batch was taken. A process killed before a flush loses the
//! unflushed awards *and* does not move the stored sequence past them, so on
//! restart the shard resumes from the stored sequence and Discord replays those
//! messages: they are awarded again, once. A flush that fails (database down)
//! puts its batch back and is retried; nothing is dropped while the process lives.

use std::{
    collections::{HashMap, hash_map::Entry},
    mem,
    sync::Mutex,
};

use chrono::{DateTime, Utc};
use keeper_store::{AwardOutcome, GatewaySession, Store, StoreResult, XpAward};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, UserMarker},
};

/// Awards and checkpoints not yet written.
#[derive(Debug, Default)]
pub struct Pending {
    awards: HashMap<(Id<GuildMarker>, Id<UserMarker>), PendingAward>,
    checkpoints: HashMap<u32, GatewaySession>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingAward {
    xp: i64,
    messages: i64,
    at: DateTime<Utc>,
    /// Where the member last spoke: level-ups set to "here" are announced there.
    channel: Id<ChannelMarker>,
}

impl PendingAward {
    /// Fold a later award into this one.
    fn absorb(&mut self, later: PendingAward) {
        self.xp += later.xp;
        self.messages += later.messages;
        if later.at >= self.at {
            self.at = later.at;
            self.channel = later.channel;
        }
    }
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.awards.is_empty() && self.checkpoints.is_empty()
    }

    pub fn len(&self) -> usize {
        self.awards.len()
    }

    fn record(&mut self, award: &XpAward, channel: Id<ChannelMarker>) {
        let new = PendingAward {
            xp: award.xp,
            messages: award.messages,
            at: award.at,
            channel,
        };
        match self.awards.entry((award.guild_id, award.user_id)) {
            Entry::Occupied(mut e) => e.get_mut().absorb(new),
            Entry::Vacant(e) => {
                e.insert(new);
            }
        }
    }

    fn checkpoint(&mut self, session: GatewaySession) {
        match self.checkpoints.entry(session.shard_id) {
            Entry::Occupied(mut e) if e.get().sequence <= session.sequence => {
                e.insert(session);
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(e) => {
                e.insert(session);
            }
        }
    }

    /// Put back a batch that failed to flush, under what was recorded since: awards
    /// add up, and each shard keeps its newest checkpoint.
    fn merge_older(&mut self, older: Pending) {
        for (key, old) in older.awards {
            match self.awards.entry(key) {
                Entry::Occupied(mut e) => {
                    let newer = *e.get();
                    let mut merged = old;
                    merged.absorb(newer);
                    e.insert(merged);
                }
                Entry::Vacant(e) => {
                    e.insert(old);
                }
            }
        }
        for (_, session) in older.checkpoints {
            self.checkpoint(session);
        }
    }

    fn batch(&self) -> (Vec<XpAward>, Vec<GatewaySession>) {
        let awards = self
            .awards
            .iter()
            .map(|(&(guild_id, user_id), p)| XpAward {
                guild_id,
                user_id,
                xp: p.xp,
                messages: p.messages,
                at: p.at,
            })
            .collect();
        (awards, self.checkpoints.values().cloned().collect())
    }
}

/// A level-up to announce: the outcome and the channel the member spoke in.
#[derive(Debug, Clone, Copy)]
pub struct LevelUp {
    pub outcome: AwardOutcome,
    pub channel: Id<ChannelMarker>,
}

#[derive(Debug, Default)]
pub struct XpBuffer {
    pending: Mutex<Pending>,
}

impl XpBuffer {
    /// Record an award (cheap: a map update under a lock held for microseconds).
    pub fn record(&self, award: &XpAward, channel: Id<ChannelMarker>) {
        self.pending
            .lock()
            .expect("xp buffer lock")
            .record(award, channel);
    }

    /// Record that every event of `session.shard_id` up to `session.sequence` has
    /// been handed to the buffer (or needed nothing from it).
    pub fn checkpoint(&self, session: GatewaySession) {
        self.pending
            .lock()
            .expect("xp buffer lock")
            .checkpoint(session);
    }

    /// Members with unflushed awards.
    pub fn pending_members(&self) -> usize {
        self.pending.lock().expect("xp buffer lock").len()
    }

    /// Write everything pending as one batch. On failure the batch goes back into
    /// the buffer, to be retried by the next flush.
    pub async fn flush(&self, store: &dyn Store) -> StoreResult<Vec<LevelUp>> {
        let taken = mem::take(&mut *self.pending.lock().expect("xp buffer lock"));
        if taken.is_empty() {
            return Ok(Vec::new());
        }
        let (awards, checkpoints) = taken.batch();
        match store.award_xp(&awards, &checkpoints).await {
            Ok(outcomes) => Ok(outcomes
                .into_iter()
                .filter(AwardOutcome::levelled_up)
                .filter_map(|outcome| {
                    let channel = taken
                        .awards
                        .get(&(outcome.guild_id, outcome.user_id))?
                        .channel;
                    Some(LevelUp { outcome, channel })
                })
                .collect()),
            Err(err) => {
                self.pending
                    .lock()
                    .expect("xp buffer lock")
                    .merge_older(taken);
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn award(user: u64, xp: i64, secs: i64) -> XpAward {
        XpAward {
            guild_id: Id::new(1),
            user_id: Id::new(user),
            xp,
            messages: 1,
            at: at(secs),
        }
    }

    fn session(shard: u32, sequence: u64) -> GatewaySession {
        GatewaySession {
            shard_id: shard,
            shard_total: 2,
            session_id: "s".into(),
            resume_url: "ws://x".into(),
            sequence,
            updated_at: at(0),
        }
    }

    #[test]
    fn coalesces_per_member() {
        let mut p = Pending::default();
        p.record(&award(2, 20, 1), Id::new(10));
        p.record(&award(2, 0, 3), Id::new(11));
        p.record(&award(3, 15, 2), Id::new(10));
        let (mut awards, _) = p.batch();
        awards.sort_by_key(|a| a.user_id);
        assert_eq!(awards.len(), 2);
        assert_eq!(
            (awards[0].xp, awards[0].messages, awards[0].at),
            (20, 2, at(3))
        );
        assert_eq!(p.awards[&(Id::new(1), Id::new(2))].channel, Id::new(11));
    }

    #[test]
    fn checkpoints_only_move_forward() {
        let mut p = Pending::default();
        p.checkpoint(session(0, 5));
        p.checkpoint(session(0, 3));
        p.checkpoint(session(1, 1));
        assert_eq!(p.checkpoints[&0].sequence, 5);
        assert_eq!(p.checkpoints.len(), 2);
    }

    #[test]
    fn failed_batch_merges_back_without_loss() {
        let mut older = Pending::default();
        older.record(&award(2, 20, 1), Id::new(10));
        older.checkpoint(session(0, 5));
        let mut newer = Pending::default();
        newer.record(&award(2, 15, 9), Id::new(12));
        newer.record(&award(4, 25, 9), Id::new(12));
        newer.checkpoint(session(0, 8));
        newer.merge_older(older);
        let two = newer.awards[&(Id::new(1), Id::new(2))];
        assert_eq!(
            (two.xp, two.messages, two.at, two.channel),
            (35, 2, at(9), Id::new(12))
        );
        assert_eq!(newer.awards.len(), 2);
        assert_eq!(newer.checkpoints[&0].sequence, 8);
    }
}
