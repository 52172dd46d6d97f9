//! The write-behind XP buffer: awards and checkpoints not yet written.
//!
//! Every guild message would otherwise be one database write. Instead awards are
//! recorded here, coalesced per guild and member, and written as batch statements
//! ([`keeper_store::XpStore::award_xp`]) with the checkpoints of the shards they
//! came from. How that keeps every message's XP stored exactly once across
//! crashes is the pipeline's contract, stated in [`crate::xp`].

use std::{
    collections::{BTreeMap, HashMap, VecDeque, hash_map::Entry},
    mem,
    sync::Mutex,
    time::Duration,
};

use chrono::{DateTime, Utc};
use keeper_store::{AwardOutcome, GatewaySession, Store, StoreError, StoreResult, XpAward};
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
    /// When the member last earned XP (see [`XpAward::at`]).
    at: DateTime<Utc>,
    /// Where the member last spoke: level-ups set to "here" are announced there.
    channel: Id<ChannelMarker>,
    spoke_at: DateTime<Utc>,
}

impl PendingAward {
    /// Fold a later award into this one.
    fn absorb(&mut self, later: PendingAward) {
        self.xp += later.xp;
        self.messages += later.messages;
        self.at = self.at.max(later.at);
        if later.spoke_at >= self.spoke_at {
            self.spoke_at = later.spoke_at;
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

    fn record(&mut self, award: &XpAward, channel: Id<ChannelMarker>, spoke_at: DateTime<Utc>) {
        let new = PendingAward {
            xp: award.xp,
            messages: award.messages,
            at: award.at,
            channel,
            spoke_at,
        };
        match self.awards.entry((award.guild_id, award.user_id)) {
            Entry::Occupied(mut e) => e.get_mut().absorb(new),
            Entry::Vacant(e) => {
                e.insert(new);
            }
        }
    }

    /// Record the shard's latest checkpoint. A checkpoint is a (session,
    /// sequence) pair: within one session it only moves forward; a new session
    /// (after an op 9 or a re-identify its sequence starts again at 1) replaces
    /// the old one, whose sequence means nothing to it.
    fn checkpoint(&mut self, session: GatewaySession) {
        match self.checkpoints.entry(session.shard_id) {
            Entry::Occupied(e)
                if e.get().session_id == session.session_id
                    && e.get().sequence > session.sequence => {}
            Entry::Occupied(mut e) => {
                e.insert(session);
            }
            Entry::Vacant(e) => {
                e.insert(session);
            }
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

    /// Split into at most `parts` batches that can be written independently,
    /// each with the index of its group of shards (the same shards get the same
    /// index every time). Each holds whole shards: the awards of the guilds a
    /// shard carries and that shard's checkpoint. Without checkpoints (nothing
    /// says how many shards there are) or with `parts` below 2, everything stays
    /// in one batch.
    fn split(self, parts: usize) -> Vec<(usize, Pending)> {
        let total = self.checkpoints.values().map(|s| s.shard_total).max();
        let (parts, total) = match total {
            Some(total) if parts > 1 && total > 1 => (parts.min(total as usize), total),
            _ if self.is_empty() => return Vec::new(),
            _ => return vec![(0, self)],
        };
        let mut out: Vec<Pending> = (0..parts).map(|_| Pending::default()).collect();
        for (key, award) in self.awards {
            out[shard_of(key.0, total) as usize % parts]
                .awards
                .insert(key, award);
        }
        for (shard, session) in self.checkpoints {
            out[shard as usize % parts]
                .checkpoints
                .insert(shard, session);
        }
        out.into_iter()
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .collect()
    }

    /// The level-ups among a written batch's outcomes, with where to announce them.
    fn level_ups(&self, outcomes: Vec<AwardOutcome>) -> impl Iterator<Item = LevelUp> + '_ {
        outcomes
            .into_iter()
            .filter(AwardOutcome::levelled_up)
            .filter_map(|outcome| {
                let channel = self
                    .awards
                    .get(&(outcome.guild_id, outcome.user_id))?
                    .channel;
                Some(LevelUp { outcome, channel })
            })
    }
}

/// The shard that carries a guild's events: Discord's `(guild_id >> 22) % shards`.
fn shard_of(guild: Id<GuildMarker>, total: u32) -> u32 {
    ((guild.get() >> 22) % u64::from(total.max(1))) as u32
}

/// What a flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Level-ups in what was written, to announce.
    pub level_ups: Vec<LevelUp>,
    /// Why a part could not be written (the first such error). It waits, with
    /// everything after it of its shards, for the next flush; other groups of
    /// shards may have been written.
    pub error: Option<StoreError>,
}

/// A level-up to announce: the outcome and the channel the member spoke in.
#[derive(Debug, Clone, Copy)]
pub struct LevelUp {
    pub outcome: AwardOutcome,
    pub channel: Id<ChannelMarker>,
}

/// How long one part's write may take before it is abandoned (and written
/// again by the next flush): a connection that went silent must not hold the
/// flush for ever. Above PostgreSQL's statement timeout, so a server that is
/// merely slow answers first.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Default)]
pub struct XpBuffer {
    pending: Mutex<Pending>,
    /// Parts whose write failed, per group of shards, oldest first. Each is
    /// written again as it was, before anything newer of its shards, and never
    /// merged with newer awards: a write whose answer was lost may have
    /// committed, and the store recognises the retry only by the part's own
    /// checkpoints ([`keeper_store::XpStore::award_xp`]).
    failed: Mutex<BTreeMap<usize, VecDeque<Pending>>>,
    /// Held for a whole flush, so flushes (the 250 ms loop, `/xp`, the shutdown)
    /// write in the order their awards and checkpoints were taken.
    flushing: tokio::sync::Mutex<()>,
}

impl XpBuffer {
    /// Record an award of a message sent at `spoke_at` in `channel` (cheap: a
    /// map update under a lock held for microseconds).
    pub fn record(&self, award: &XpAward, channel: Id<ChannelMarker>, spoke_at: DateTime<Utc>) {
        self.pending
            .lock()
            .expect("xp buffer lock")
            .record(award, channel, spoke_at);
    }

    /// Record that every event of `session.shard_id` up to `session.sequence` has
    /// been handed to the buffer (or needed nothing from it).
    pub fn checkpoint(&self, session: GatewaySession) {
        self.pending
            .lock()
            .expect("xp buffer lock")
            .checkpoint(session);
    }

    /// Awards not yet written (a member counts once per part waiting).
    pub fn pending_members(&self) -> usize {
        let failed: usize = self
            .failed
            .lock()
            .expect("xp buffer lock")
            .values()
            .flatten()
            .map(Pending::len)
            .sum();
        self.pending.lock().expect("xp buffer lock").len() + failed
    }

    /// Write everything pending: one batch, or one per group of shards written
    /// side by side when the store can ([`keeper_store::XpStore::parallel_writes`]),
    /// each group after the parts of its shards that failed before.
    pub async fn flush(&self, store: &dyn Store) -> Flushed {
        self.flush_with(store.parallel_writes(), |awards, checkpoints| async move {
            store.award_xp(&awards, &checkpoints).await
        })
        .await
    }

    /// [`XpBuffer::flush`] with the write given: tests pass one that fails.
    async fn flush_with<W, F>(&self, parallel: usize, write: W) -> Flushed
    where
        W: Fn(Vec<XpAward>, Vec<GatewaySession>) -> F,
        F: Future<Output = StoreResult<Vec<AwardOutcome>>>,
    {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = mem::take(&mut *self.pending.lock().expect("xp buffer lock"));
        let mut queues = mem::take(&mut *self.failed.lock().expect("xp buffer lock"));
        for (group, part) in taken.split(parallel) {
            queues.entry(group).or_default().push_back(part);
        }
        let written = futures_util::future::join_all(queues.into_iter().map(|(group, queue)| {
            let write = &write;
            async move { (group, write_in_order(queue, write).await) }
        }))
        .await;
        let mut flushed = Flushed::default();
        let mut failed = self.failed.lock().expect("xp buffer lock");
        for (group, (level_ups, left, error)) in written {
            flushed.level_ups.extend(level_ups);
            if !left.is_empty() {
                failed.insert(group, left);
            }
            if let Some(err) = error {
                flushed.error.get_or_insert(err);
            }
        }
        flushed
    }
}

/// Write a group's parts in order until one fails (or hangs past
/// [`WRITE_TIMEOUT`]): the level-ups written, the parts left (the failed one
/// first), and the failure.
async fn write_in_order<W, F>(
    mut queue: VecDeque<Pending>,
    write: &W,
) -> (Vec<LevelUp>, VecDeque<Pending>, Option<StoreError>)
where
    W: Fn(Vec<XpAward>, Vec<GatewaySession>) -> F,
    F: Future<Output = StoreResult<Vec<AwardOutcome>>>,
{
    let mut level_ups = Vec::new();
    while let Some(part) = queue.pop_front() {
        let (awards, checkpoints) = part.batch();
        let error = match tokio::time::timeout(WRITE_TIMEOUT, write(awards, checkpoints)).await {
            Ok(Ok(outcomes)) => {
                level_ups.extend(part.level_ups(outcomes));
                continue;
            }
            Ok(Err(err)) => err,
            Err(_) => StoreError::Unavailable(
                format!(
                    "writing XP took over {} s; the connection is abandoned",
                    WRITE_TIMEOUT.as_secs()
                )
                .into(),
            ),
        };
        queue.push_front(part);
        return (level_ups, queue, Some(error));
    }
    (level_ups, queue, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A message's award, spoken in channel `channel` when it earned.
    trait Put {
        fn put(&self, award: &XpAward, channel: u64);
    }

    impl Put for XpBuffer {
        fn put(&self, award: &XpAward, channel: u64) {
            self.record(award, Id::new(channel), award.at);
        }
    }

    impl Pending {
        fn put(&mut self, award: &XpAward, channel: u64) {
            self.record(award, Id::new(channel), award.at);
        }
    }

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
        session_of(shard, 2, sequence)
    }

    fn session_of(shard: u32, total: u32, sequence: u64) -> GatewaySession {
        GatewaySession {
            shard_id: shard,
            shard_total: total,
            session_id: "s".into(),
            resume_url: "ws://x".into(),
            sequence,
            updated_at: at(0),
        }
    }

    #[test]
    fn coalesces_per_member() {
        let mut p = Pending::default();
        p.put(&award(2, 20, 1), 10);
        p.put(&award(2, 0, 3), 11);
        p.put(&award(3, 15, 2), 10);
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

    fn in_session(id: &str, shard: u32, sequence: u64) -> GatewaySession {
        GatewaySession {
            session_id: id.into(),
            ..session(shard, sequence)
        }
    }

    #[test]
    fn a_new_session_replaces_the_old_one_whatever_its_sequence() {
        let mut p = Pending::default();
        p.checkpoint(in_session("old", 0, 900));
        // Op 9, identify: the new session counts from 1 again.
        p.checkpoint(in_session("new", 0, 1));
        assert_eq!(
            (
                p.checkpoints[&0].session_id.as_str(),
                p.checkpoints[&0].sequence
            ),
            ("new", 1)
        );
        p.checkpoint(in_session("new", 0, 5));
        p.checkpoint(in_session("new", 0, 4));
        assert_eq!(
            p.checkpoints[&0].sequence, 5,
            "forward only within a session"
        );
    }

    /// A guild id whose events shard `shard` of `total` carries.
    fn guild_on(shard: u64, total: u64, n: u64) -> Id<GuildMarker> {
        Id::new(((n * total + shard) << 22) | 7)
    }

    fn award_in(guild: Id<GuildMarker>, user: u64, xp: i64) -> XpAward {
        XpAward {
            guild_id: guild,
            ..award(user, xp, 1)
        }
    }

    #[test]
    fn shard_of_is_discords_formula() {
        assert_eq!(shard_of(Id::new(81_384_788_765_712_384), 16), 2);
        assert_eq!(shard_of(guild_on(3, 4, 5), 4), 3);
        assert_eq!(shard_of(Id::new(1), 1), 0);
    }

    #[test]
    fn split_keeps_each_shard_whole() {
        let mut p = Pending::default();
        for shard in 0..4 {
            for n in 0..3 {
                p.put(&award_in(guild_on(shard, 4, n), 100 + n, 10), 9);
            }
            p.checkpoint(session_of(shard as u32, 4, 50 + shard));
        }
        let parts = p.split(2);
        assert_eq!(parts.len(), 2);
        let mut awards = 0;
        for (group, part) in &parts {
            assert!(
                part.checkpoints
                    .keys()
                    .all(|shard| *shard as usize % 2 == *group),
                "group {group} is the same shards every time"
            );
            let shards: std::collections::BTreeSet<u32> =
                part.checkpoints.keys().copied().collect();
            assert_eq!(shards.len(), 2, "{shards:?}");
            for (guild, _) in part.awards.keys() {
                assert!(
                    shards.contains(&shard_of(*guild, 4)),
                    "an award of shard {} travels without its checkpoint {shards:?}",
                    shard_of(*guild, 4)
                );
            }
            awards += part.awards.len();
        }
        assert_eq!(awards, 12);
    }

    #[test]
    fn split_stays_whole_without_shards_to_split_by() {
        let mut p = Pending::default();
        p.put(&award_in(guild_on(1, 4, 0), 1, 10), 9);
        p.put(&award_in(guild_on(2, 4, 0), 1, 10), 9);
        // No checkpoint: the number of shards is unknown.
        assert_eq!(p.split(4).len(), 1);
        let mut p = Pending::default();
        p.put(&award_in(guild_on(1, 4, 0), 1, 10), 9);
        p.checkpoint(session_of(1, 4, 3));
        p.checkpoint(session_of(2, 4, 3));
        // One part asked for; and shards without anything pending make no part.
        assert_eq!(p.split(1).len(), 1);
        let mut p = Pending::default();
        p.put(&award_in(guild_on(1, 4, 0), 1, 10), 9);
        p.checkpoint(session_of(1, 4, 3));
        assert_eq!(p.split(4).len(), 1);
    }

    /// Shard 1's part fails while shard 0's is written: shard 0's level-up is
    /// still reported, shard 1's awards and checkpoint go back, nothing else does.
    #[tokio::test]
    async fn a_failed_part_goes_back_and_the_others_count() {
        let buffer = XpBuffer::default();
        let (g0, g1) = (guild_on(0, 2, 1), guild_on(1, 2, 1));
        buffer.put(&award_in(g0, 5, 150), 10);
        buffer.put(&award_in(g1, 6, 150), 11);
        buffer.checkpoint(session_of(0, 2, 40));
        buffer.checkpoint(session_of(1, 2, 41));
        let writes = Mutex::new(Vec::new());
        let flushed = buffer
            .flush_with(
                2,
                |awards: Vec<XpAward>, checkpoints: Vec<GatewaySession>| {
                    writes
                        .lock()
                        .unwrap()
                        .push((awards.len(), checkpoints[0].shard_id));
                    let failed = checkpoints.iter().any(|c| c.shard_id == 1);
                    async move {
                        if failed {
                            return Err(StoreError::Unavailable("down".into()));
                        }
                        Ok(awards
                            .iter()
                            .map(|a| AwardOutcome {
                                guild_id: a.guild_id,
                                user_id: a.user_id,
                                xp: a.xp,
                                old_level: 0,
                                new_level: 1,
                            })
                            .collect())
                    }
                },
            )
            .await;
        let mut writes = writes.into_inner().unwrap();
        writes.sort();
        assert_eq!(writes, vec![(1, 0), (1, 1)], "one batch per shard");
        assert!(flushed.error.is_some());
        assert_eq!(flushed.level_ups.len(), 1);
        assert_eq!(flushed.level_ups[0].outcome.guild_id, g0);
        assert_eq!(flushed.level_ups[0].channel, Id::new(10));
        assert!(buffer.pending.lock().unwrap().is_empty());
        let failed = buffer.failed.lock().unwrap();
        assert_eq!(
            failed.keys().collect::<Vec<_>>(),
            vec![&1],
            "shard 1's group"
        );
        let part = &failed[&1][0];
        assert_eq!(
            part.awards.keys().collect::<Vec<_>>(),
            vec![&(g1, Id::new(6))]
        );
        assert_eq!(part.checkpoints.keys().collect::<Vec<_>>(), vec![&1]);
        assert_eq!(part.checkpoints[&1].sequence, 41);
    }

    /// Records the batches written (awards' XP, checkpoints' sequences); fails
    /// while `down` says so.
    #[derive(Default)]
    struct Recorder {
        writes: Mutex<Vec<(Vec<i64>, Vec<u64>)>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl Recorder {
        async fn write(
            &self,
            awards: Vec<XpAward>,
            checkpoints: Vec<GatewaySession>,
        ) -> StoreResult<Vec<AwardOutcome>> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            let xp = awards.iter().map(|a| a.xp).collect();
            let seqs = checkpoints.iter().map(|c| c.sequence).collect();
            self.writes.lock().unwrap().push((xp, seqs));
            Ok(Vec::new())
        }
    }

    /// A part that failed is written again as it was, before what came after it
    /// and not merged into it: had its answer only been lost, the store tells the
    /// retry by its checkpoint, which a merged part would no longer carry.
    #[tokio::test]
    async fn a_failed_part_is_written_again_as_it_was_before_newer_ones() {
        let buffer = XpBuffer::default();
        let store = Recorder::default();
        let write = |a, c| store.write(a, c);
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        buffer.put(&award(2, 20, 1), 9);
        buffer.checkpoint(session(0, 5));
        assert!(buffer.flush_with(1, write).await.error.is_some());
        buffer.put(&award(2, 15, 2), 9);
        buffer.checkpoint(session(0, 8));
        assert!(buffer.flush_with(1, write).await.error.is_some());
        assert_eq!(
            buffer.pending_members(),
            2,
            "one member in each of two parts"
        );
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        buffer.put(&award(2, 25, 3), 9);
        buffer.checkpoint(session(0, 9));
        assert!(buffer.flush_with(1, write).await.error.is_none());
        assert_eq!(
            *store.writes.lock().unwrap(),
            vec![
                (vec![20], vec![5]),
                (vec![15], vec![8]),
                (vec![25], vec![9])
            ]
        );
        assert_eq!(buffer.pending_members(), 0);
    }

    /// A write that never answers (a connection gone silent) is abandoned after
    /// [`WRITE_TIMEOUT`], so the flush ends, and its part is written by the next.
    #[tokio::test(start_paused = true)]
    async fn a_write_that_hangs_is_abandoned_and_written_again() {
        let buffer = XpBuffer::default();
        let store = Recorder::default();
        let hung = std::sync::atomic::AtomicBool::new(true);
        let write = |a, c| {
            let hang = hung.swap(false, std::sync::atomic::Ordering::SeqCst);
            let written = store.write(a, c);
            async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                written.await
            }
        };
        buffer.put(&award(2, 20, 1), 9);
        buffer.checkpoint(session(0, 5));
        let started = tokio::time::Instant::now();
        let flushed = buffer.flush_with(1, write).await;
        assert!(flushed.error.is_some_and(|e| e.is_unavailable()));
        assert_eq!(started.elapsed(), WRITE_TIMEOUT);
        assert!(buffer.flush_with(1, write).await.error.is_none());
        assert_eq!(*store.writes.lock().unwrap(), vec![(vec![20], vec![5])]);
    }

    /// A flush that starts while another is writing waits for it, so their
    /// checkpoints are stored in the order they were taken.
    #[tokio::test]
    async fn flushes_take_turns() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let buffer = XpBuffer::default();
        buffer.put(&award(1, 10, 1), 9);
        let (in_flight, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let write = |_: Vec<XpAward>, _: Vec<GatewaySession>| {
            let (in_flight, most) = (&in_flight, &most);
            async move {
                most.fetch_max(in_flight.fetch_add(1, SeqCst) + 1, SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                in_flight.fetch_sub(1, SeqCst);
                Ok(Vec::new())
            }
        };
        let second = async {
            tokio::task::yield_now().await;
            buffer.put(&award(2, 10, 2), 9);
            buffer.flush_with(1, write).await
        };
        tokio::join!(buffer.flush_with(1, write), second);
        assert_eq!(most.load(SeqCst), 1, "two flushes wrote at once");
        assert_eq!(buffer.pending_members(), 0);
    }
}
