//! What Keeper keeps in memory per guild: its settings and level rewards (read on
//! every message and every level-up, so cached in front of the store) and what
//! the gateway told about it (name, member count, for templates).
//!
//! Cache coherence: each guild is served by one shard of one process, and every
//! change of settings or rewards goes through this module, which writes the store
//! and then drops the cached entry (dropped, not replaced: two changes racing
//! could otherwise leave the older one cached). A read that raced a change does
//! not put what it read back in the cache: every change bumps a counter under the
//! cache's write lock, and a read caches only if the counter did not move.

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
    settings: RwLock<HashMap<Id<GuildMarker>, GuildSettings>>,
    /// Level rewards, lowest level first.
    rewards: RwLock<HashMap<Id<GuildMarker>, Arc<[LevelReward]>>>,
    /// Bumped by every settings or rewards change (see the module docs).
    changes: AtomicU64,
    info: RwLock<HashMap<Id<GuildMarker>, GuildInfo>>,
}

impl Guilds {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            settings: RwLock::default(),
            rewards: RwLock::default(),
            changes: AtomicU64::new(0),
            info: RwLock::default(),
        }
    }

    /// A guild's settings, from memory when read before.
    pub async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        cached(&self.settings, &self.changes, guild, || {
            self.store.settings(guild)
        })
        .await
    }

    /// Change settings in the store, then forget the cached ones.
    pub async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
    ) -> StoreResult<GuildSettings> {
        let result = self
            .store
            .update_settings(guild, patch, chrono::Utc::now())
            .await;
        self.changed(&self.settings, guild);
        result
    }

    /// A guild's level rewards, lowest level first; from memory when read before.
    pub async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Arc<[LevelReward]>> {
        cached(&self.rewards, &self.changes, guild, || async {
            Ok(self.store.level_rewards(guild).await?.into())
        })
        .await
    }

    /// Give `role` at `level` (replacing that level's role).
    pub async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        let result = self.store.set_level_reward(guild, level, role).await;
        self.changed(&self.rewards, guild);
        result
    }

    /// Stop giving a role at `level`; whether there was one.
    pub async fn remove_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
    ) -> StoreResult<bool> {
        let result = self.store.remove_level_reward(guild, level).await;
        self.changed(&self.rewards, guild);
        result
    }

    /// Drop `guild` from `cache` after a change (whether or not the store took
    /// it: a failed write may still have committed).
    fn changed<V>(&self, cache: &RwLock<HashMap<Id<GuildMarker>, V>>, guild: Id<GuildMarker>) {
        let mut cache = cache.write().expect("guild cache lock");
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

    /// Keeper left the guild (or it was deleted): nothing about it stays in memory.
    pub fn forget(&self, guild: Id<GuildMarker>) {
        self.info.write().expect("guilds lock").remove(&guild);
        self.settings.write().expect("settings lock").remove(&guild);
        self.rewards.write().expect("rewards lock").remove(&guild);
    }
}

/// `cache[guild]`, or what `read` returns, cached unless a change landed while
/// it was read (it may then be older than what the store holds).
async fn cached<V, F>(
    cache: &RwLock<HashMap<Id<GuildMarker>, V>>,
    changes: &AtomicU64,
    guild: Id<GuildMarker>,
    read: impl FnOnce() -> F,
) -> StoreResult<V>
where
    V: Clone,
    F: Future<Output = StoreResult<V>>,
{
    if let Some(value) = cache.read().expect("guild cache lock").get(&guild) {
        return Ok(value.clone());
    }
    let seen = changes.load(Ordering::Acquire);
    let value = read().await?;
    let mut cache = cache.write().expect("guild cache lock");
    if changes.load(Ordering::Acquire) == seen {
        cache.insert(guild, value.clone());
    }
    Ok(value)
}
