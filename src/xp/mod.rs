//! The XP pipeline: what happens to a message's XP, from the shard loop to a
//! committed row and its effects. Everything that touches an award lives here.
//!
//! 1. [`Xp::on_message`], in the shard loop, in gateway order, never waiting:
//!    the cooldown ([`cooldown`]) decides whether the message earns XP, by
//!    Discord's clock (the message's ID), and the award goes into the
//!    write-behind buffer ([`buffer`]), coalesced per member (ten messages are
//!    one row).
//! 2. After every event, the dispatcher records how far its shard got
//!    ([`Xp::checkpoint`]: session id and sequence number) in the same buffer.
//! 3. Every 250 ms ([`flush`]) the buffer is written as batch statements: one per
//!    group of shards where the store writes well in parallel (PostgreSQL), one
//!    in all on SQLite. [`Xp::flush`] is the one way to write it: the loop, `/xp`
//!    (which writes pending awards before correcting a total) and the shutdown
//!    all go through it.
//! 4. Level-ups among what was written get their effects ([`level_up`]): reward
//!    roles first, then the announcement, queued per channel and combined when
//!    Discord holds messages back ([`crate::outbox`]).
//!
//! # The crash contract: every message's XP is stored exactly once
//!
//! With each batch the store writes, in the same transaction, the sequence
//! number up to which the dispatcher had handed events to the buffer when the
//! batch was taken. A process killed before a flush loses the unflushed awards
//! *and* does not move the stored sequence past them, so on restart the shard
//! resumes from the stored sequence and Discord replays those messages: they are
//! awarded again, once. A flush that fails (database down) puts its batch back
//! and is retried; nothing is dropped while the process lives. Replayed
//! messages earn what they earned live: the cooldown map is seeded from the
//! store at start-up and amounts are drawn from message IDs ([`cooldown`]). A split flush
//! keeps each shard whole (its awards with its checkpoint), so a part that fails
//! while another commits leaves every stored sequence true for its own shard.
//! Flushes take turns, so checkpoints are stored in the order they were taken.
//! The effects of a level-up are not part of the contract: they follow a
//! committed write, at most once, and a shutdown gives them a short grace.

pub mod buffer;
pub mod cooldown;
pub mod flush;
pub mod level_up;
pub mod profiles;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use keeper_store::{GatewaySession, GuildSettings, Store, StoreResult, XpAward};
use tokio_util::task::TaskTracker;
use twilight_http::Client;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, MessageMarker, UserMarker},
};

use crate::{guilds::Guilds, outbox::Outbox, snowflake};
use buffer::{LevelUp, XpBuffer};
use cooldown::Cooldowns;
use level_up::LevelUps;
use profiles::Profiles;

/// How long a shutdown waits for level-up effects held back by rate limits: the
/// XP they follow from is stored, so they are not worth the whole budget.
const EFFECTS_GRACE: Duration = Duration::from_secs(2);

/// How far back, beyond each guild's cooldown, the start-up reads last awards:
/// Discord replays a resumed session's events from before the restart, and no
/// session stays resumable for an hour.
const REPLAY_MARGIN_SECS: i64 = 3_600;

pub struct Xp {
    store: Arc<dyn Store>,
    buffer: XpBuffer,
    cooldowns: Mutex<Cooldowns>,
    effects: Arc<LevelUps>,
    /// Where level-up effects run, so that the shutdown waits for them.
    tasks: TaskTracker,
    /// Members' names and avatars waiting to be written ([`profiles`]).
    pub profiles: Profiles,
}

impl Xp {
    pub fn new(
        store: Arc<dyn Store>,
        http: Arc<Client>,
        guilds: Arc<Guilds>,
        outbox: Arc<Outbox>,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            store,
            buffer: XpBuffer::default(),
            cooldowns: Mutex::default(),
            effects: Arc::new(LevelUps::new(http, guilds, outbox)),
            tasks,
            profiles: Profiles::default(),
        }
    }

    /// Read what the store knows of members still cooling down, so decisions
    /// after a restart are the ones the run before it made (see
    /// [`cooldown`]); how many there were.
    pub async fn load_cooldowns(&self) -> StoreResult<usize> {
        let awards = self
            .store
            .cooling_down(Utc::now(), REPLAY_MARGIN_SECS)
            .await?;
        let count = awards.len();
        self.cooldowns.lock().expect("cooldowns lock").seed(awards);
        Ok(count)
    }

    /// A guild message by a member: its XP (0 inside the cooldown, but the
    /// message still counts) goes into the buffer. Never waits: two short locks.
    /// Whether it earned XP (the moment to offer the member's profile, at
    /// most once per cooldown: [`profiles`]).
    pub fn on_message(
        &self,
        settings: &GuildSettings,
        message: Id<MessageMarker>,
        user: Id<UserMarker>,
        channel: Id<ChannelMarker>,
    ) -> bool {
        // Discord's moment for the message (its ID), not our clock: a message
        // replayed after a restart gets the decision it had live.
        let at = snowflake::created_at(message.get());
        let guild = settings.guild_id;
        let (xp, awarded_at, earned) = {
            let mut cooldowns = self.cooldowns.lock().expect("cooldowns lock");
            if cooldowns.try_award(guild, user, at, settings.xp_cooldown_secs) {
                let xp = cooldown::roll_xp(message.get(), settings.xp_min, settings.xp_max);
                (xp, at, true)
            } else {
                // Inside the cooldown there is a last award to keep.
                (0, cooldowns.last(guild, user).unwrap_or(at), false)
            }
        };
        let award = XpAward {
            guild_id: guild,
            user_id: user,
            xp,
            messages: 1,
            at: awarded_at,
        };
        self.buffer.record(&award, channel, at);
        earned
    }

    /// Every event of the session's shard up to its sequence has been handed
    /// over (or needed nothing from the pipeline).
    pub fn checkpoint(&self, session: GatewaySession) {
        self.buffer.checkpoint(session);
    }

    /// Members with awards not yet written.
    pub fn pending_members(&self) -> usize {
        self.buffer.pending_members()
    }

    /// Write everything pending now; the level-ups in what was written get their
    /// effects (in tasks, even when another part of the write failed). The error
    /// is the first part's that failed; its awards wait for the next flush.
    pub async fn flush(&self) -> StoreResult<()> {
        let flushed = self.buffer.flush(self.store.as_ref()).await;
        self.spawn_effects(flushed.level_ups);
        flushed.error.map_or(Ok(()), Err)
    }

    /// Write the members' profiles taken since the last time (after the
    /// awards, by the flush loop and the shutdown). A failed write keeps them
    /// for the next; how many were waiting.
    pub async fn flush_profiles(&self) -> StoreResult<usize> {
        let profiles = self.profiles.take();
        let count = profiles.len();
        if count == 0 {
            return Ok(0);
        }
        match self.store.save_profiles(&profiles).await {
            Ok(_) => Ok(count),
            Err(err) => {
                self.profiles.put_back(profiles);
                Err(err)
            }
        }
    }

    /// A moderator reset the member's XP: their next message earns at once.
    pub fn forget_cooldown(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) {
        self.cooldowns
            .lock()
            .expect("cooldowns lock")
            .forget(guild, user);
    }

    /// A moderator set or changed the member's XP at `at`: the store moved their
    /// last award there (when later), and so does the cooldown.
    pub fn corrected(&self, guild: Id<GuildMarker>, user: Id<UserMarker>, at: DateTime<Utc>) {
        self.cooldowns
            .lock()
            .expect("cooldowns lock")
            .corrected(guild, user, at);
    }

    /// The member's XP was changed by hand (`/xp`, an import): their reward
    /// roles follow their level now (see [`LevelUps::sync_rewards`]); whether
    /// any was due to move.
    pub async fn sync_rewards(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        level: i32,
        held: &crate::rewards::Held,
    ) -> crate::error::BotResult<bool> {
        self.effects.sync_rewards(guild, user, level, held).await
    }

    /// At shutdown, once nothing records any more: the last write (with the
    /// final checkpoints), then a short grace for the effects still waiting on
    /// Discord, all by `deadline`.
    pub async fn finish(&self, deadline: tokio::time::Instant) {
        let pending = self.pending_members();
        let written =
            tokio::time::timeout_at(deadline + Duration::from_millis(500), self.flush()).await;
        match written {
            Ok(Ok(())) => tracing::info!(members = pending, "final XP written; sessions saved"),
            Ok(Err(err)) => {
                tracing::error!(members = pending, error = %err, "could not write the final XP; Discord will replay it on resume")
            }
            Err(_) => tracing::error!(
                members = pending,
                "the final XP write timed out; Discord will replay it on resume"
            ),
        }
        // Names wait for no one: a profile lost here is taken again from the
        // member's next message.
        let profiles = tokio::time::timeout_at(deadline, self.flush_profiles()).await;
        if !matches!(profiles, Ok(Ok(_))) {
            tracing::debug!("members' latest names were not written before the shutdown");
        }
        let grace = deadline.min(tokio::time::Instant::now() + EFFECTS_GRACE);
        if tokio::time::timeout_at(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.tasks.len(),
                "shutting down before every level-up's rewards were granted"
            );
        }
        self.effects.finish(grace).await;
    }

    fn spawn_effects(&self, level_ups: Vec<LevelUp>) {
        for level_up in level_ups {
            let effects = Arc::clone(&self.effects);
            self.tasks
                .spawn(async move { effects.apply_logged(level_up).await });
        }
    }
}
