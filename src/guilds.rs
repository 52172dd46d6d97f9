//! What Keeper keeps in memory per guild: its settings and level rewards (read on
//! every message and every level-up, so held in front of the store) and what the
//! gateway told about it (name, member count, for templates).
//!
//! Settings are held whole: every stored guild's are read at start-up
//! ([`Guilds::load`]), and a guild without a row has the defaults, so a message
//! never waits on the database to know its guild's rules (a shard that waits
//! stops heartbeating). Coherence: each guild is served by one shard of one
//! process, and every change goes through [`Guilds::update_settings`], one at a
//! time, which writes the store and then puts what the store returned in memory.
//!
//! Rewards are read lazily (on a guild's first level-up) and cached; a change
//! writes the store and drops the cached entry (dropped, not replaced: two
//! changes racing could otherwise leave the older one cached), and a read that
//! raced a change does not put what it read back: every change bumps a counter
//! under the cache's write lock, and a read caches only if it did not move.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use keeper_store::{GuildSettings, LevelReward, SettingsPatch, Store, StoreResult};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, RoleMarker},
};

/// What the gateway told us about a guild, for templates.
#[derive(Clone, Debug, Default)]
pub struct GuildInfo {
    pub name: String,
    pub member_count: u64,
}

pub struct Guilds {
    store: Arc<dyn Store>,
    /// Every guild's stored settings; a guild absent here has the defaults.
    settings: RwLock<HashMap<Id<GuildMarker>, GuildSettings>>,
    /// Held across a settings change, store and memory: changes apply in the
    /// same order to both.
    changing: tokio::sync::Mutex<()>,
    /// Level rewards, lowest level first.
    rewards: RwLock<HashMap<Id<GuildMarker>, Arc<[LevelReward]>>>,
    /// Bumped by every rewards change (see the module docs).
    changes: AtomicU64,
    info: RwLock<HashMap<Id<GuildMarker>, GuildInfo>>,
}

impl Guilds {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            settings: RwLock::default(),
            changing: tokio::sync::Mutex::new(()),
            rewards: RwLock::default(),
            changes: AtomicU64::new(0),
            info: RwLock::default(),
        }
    }

    /// Read every stored guild's settings; how many there were.
    pub async fn load(&self) -> StoreResult<usize> {
        let stored = self.store.all_settings().await?;
        let count = stored.len();
        let mut settings = self.settings.write().expect("settings lock");
        settings.extend(stored.into_iter().map(|s| (s.guild_id, s)));
        Ok(count)
    }

    /// A guild's settings, from memory: never waits.
    pub fn settings(&self, guild: Id<GuildMarker>) -> GuildSettings {
        self.settings
            .read()
            .expect("settings lock")
            .get(&guild)
            .cloned()
            .unwrap_or_else(|| GuildSettings::defaults(guild))
    }

    /// Change settings in the store, then hold what it returned.
    pub async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
    ) -> StoreResult<GuildSettings> {
        let _one_at_a_time = self.changing.lock().await;
        let result = self
            .store
            .update_settings(guild, patch, chrono::Utc::now())
            .await;
        // A write that failed may have committed all the same (the answer was
        // lost): read back what is stored rather than trust either version.
        let stored = match &result {
            Ok(settings) => Some(settings.clone()),
            Err(_) => self.store.settings(guild).await.ok(),
        };
        if let Some(stored) = stored {
            self.settings
                .write()
                .expect("settings lock")
                .insert(guild, stored);
        }
        result
    }

    /// A guild's level rewards, lowest level first; from memory when read before.
    pub async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Arc<[LevelReward]>> {
        if let Some(rewards) = self.rewards.read().expect("rewards lock").get(&guild) {
            return Ok(Arc::clone(rewards));
        }
        let seen = self.changes.load(Ordering::Acquire);
        let rewards: Arc<[LevelReward]> = self.store.level_rewards(guild).await?.into();
        let mut cache = self.rewards.write().expect("rewards lock");
        // A change that landed while we read may be newer than what we read.
        if self.changes.load(Ordering::Acquire) == seen {
            cache.insert(guild, Arc::clone(&rewards));
        }
        Ok(rewards)
    }

    /// Give `role` at `level` (replacing that level's role).
    pub async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        let result = self.store.set_level_reward(guild, level, role).await;
        self.rewards_changed(guild);
        result
    }

    /// Stop giving a role at `level`; whether there was one.
    pub async fn remove_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
    ) -> StoreResult<bool> {
        let result = self.store.remove_level_reward(guild, level).await;
        self.rewards_changed(guild);
        result
    }

    /// Drop the guild's cached rewards after a change (whether or not the store
    /// took it: a failed write may still have committed).
    fn rewards_changed(&self, guild: Id<GuildMarker>) {
        let mut cache = self.rewards.write().expect("rewards lock");
        self.changes.fetch_add(1, Ordering::AcqRel);
        cache.remove(&guild);
    }

    pub fn info(&self, guild: Id<GuildMarker>) -> GuildInfo {
        self.info
            .read()
            .expect("guilds lock")
            .get(&guild)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_info(&self, guild: Id<GuildMarker>, info: GuildInfo) {
        self.info.write().expect("guilds lock").insert(guild, info);
    }

    /// Adjust a guild's member count by `delta`, returning the new count.
    pub fn add_members(&self, guild: Id<GuildMarker>, delta: i64) -> u64 {
        let mut guilds = self.info.write().expect("guilds lock");
        let info = guilds.entry(guild).or_default();
        info.member_count = info.member_count.saturating_add_signed(delta);
        info.member_count
    }

    /// Keeper left the guild (or it was deleted): what the gateway said of it goes.
    /// Its settings stay, as in the store: they are its settings if it comes back.
    pub fn forget(&self, guild: Id<GuildMarker>) {
        self.info.write().expect("guilds lock").remove(&guild);
        self.rewards.write().expect("rewards lock").remove(&guild);
    }
}
