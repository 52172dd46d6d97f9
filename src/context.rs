//! What every handler shares: the Discord client, the store, and the small
//! in-memory state Keeper keeps per process (settings cache, guild names and member
//! counts, level rewards, XP cooldowns, the write-behind XP buffer).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use keeper_store::{GuildSettings, LevelReward, SettingsPatch, Store, StoreResult};
use twilight_http::Client;
use twilight_model::id::{
    Id,
    marker::{ApplicationMarker, GuildMarker, RoleMarker, UserMarker},
};

use crate::{announce::Announcer, cooldown::Cooldowns, xp_buffer::XpBuffer};

pub struct Context {
    pub http: Arc<Client>,
    /// For interaction responses only: no rate limiter (see `bot::interaction_client`).
    pub interactions: Arc<Client>,
    pub store: Arc<dyn Store>,
    pub application_id: Id<ApplicationMarker>,
    pub bot_id: Id<UserMarker>,
    pub xp: XpBuffer,
    /// Level-up announcements, combined per channel when Discord holds them back.
    pub announcer: Announcer,
    pub cooldowns: Mutex<Cooldowns>,
    settings: RwLock<HashMap<Id<GuildMarker>, GuildSettings>>,
    /// Level rewards per guild, read on every level-up (thousands a second in busy
    /// guilds) and changed only through [`Context::set_level_reward`] and
    /// [`Context::remove_level_reward`]: cached like the settings.
    rewards: RwLock<HashMap<Id<GuildMarker>, Arc<[LevelReward]>>>,
    /// Bumped by every settings or rewards change (under the cache's write lock), so
    /// a read that raced a change doesn't put the older value back in the cache.
    changes: AtomicU64,
    guilds: RwLock<HashMap<Id<GuildMarker>, GuildInfo>>,
    /// Role rewards Keeper could not grant, already reported in the mod-log: a
    /// missing permission is said once, not on every level-up.
    reported_roles: Mutex<HashSet<(Id<GuildMarker>, Id<RoleMarker>)>>,
}

/// What the gateway told us about a guild, for templates.
#[derive(Clone, Debug, Default)]
pub struct GuildInfo {
    pub name: String,
    pub member_count: u64,
}

impl Context {
    pub fn new(
        http: Arc<Client>,
        interactions: Arc<Client>,
        store: Arc<dyn Store>,
        application_id: Id<ApplicationMarker>,
        bot_id: Id<UserMarker>,
    ) -> Self {
        Self {
            announcer: Announcer::new(Arc::clone(&http)),
            http,
            interactions,
            store,
            application_id,
            bot_id,
            xp: XpBuffer::default(),
            cooldowns: Mutex::default(),
            settings: RwLock::default(),
            rewards: RwLock::default(),
            changes: AtomicU64::new(0),
            guilds: RwLock::default(),
            reported_roles: Mutex::default(),
        }
    }

    /// A guild's settings, from memory when we have read them before. Each guild is
    /// served by one process (its shard's), and every change goes through
    /// [`Context::update_settings`], so the cache can't go stale.
    pub async fn settings(&self, guild: Id<GuildMarker>) -> StoreResult<GuildSettings> {
        if let Some(settings) = self.settings.read().expect("settings lock").get(&guild) {
            return Ok(settings.clone());
        }
        let seen = self.changes.load(Ordering::Acquire);
        let settings = self.store.settings(guild).await?;
        let mut cache = self.settings.write().expect("settings lock");
        // A change that landed while we read may be newer than what we read.
        if self.changes.load(Ordering::Acquire) == seen {
            cache.insert(guild, settings.clone());
        }
        Ok(settings)
    }

    /// Change settings in the store, then forget the cached ones.
    pub async fn update_settings(
        &self,
        guild: Id<GuildMarker>,
        patch: &SettingsPatch,
    ) -> StoreResult<GuildSettings> {
        let settings = self
            .store
            .update_settings(guild, patch, chrono::Utc::now())
            .await?;
        // Dropped rather than replaced: two changes racing could otherwise leave
        // the older one cached; the next read fetches what the store holds.
        let mut cache = self.settings.write().expect("settings lock");
        self.changes.fetch_add(1, Ordering::AcqRel);
        cache.remove(&guild);
        Ok(settings)
    }

    /// A guild's level rewards, lowest level first; from memory when read before.
    pub async fn level_rewards(&self, guild: Id<GuildMarker>) -> StoreResult<Arc<[LevelReward]>> {
        if let Some(rewards) = self.rewards.read().expect("rewards lock").get(&guild) {
            return Ok(Arc::clone(rewards));
        }
        let seen = self.changes.load(Ordering::Acquire);
        let rewards: Arc<[LevelReward]> = self.store.level_rewards(guild).await?.into();
        let mut cache = self.rewards.write().expect("rewards lock");
        if self.changes.load(Ordering::Acquire) == seen {
            cache.insert(guild, Arc::clone(&rewards));
        }
        Ok(rewards)
    }

    /// Give `role` at `level` (replacing that level's role), in the store and the cache.
    pub async fn set_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
        role: Id<RoleMarker>,
    ) -> StoreResult<()> {
        let result = self.store.set_level_reward(guild, level, role).await;
        let mut cache = self.rewards.write().expect("rewards lock");
        self.changes.fetch_add(1, Ordering::AcqRel);
        cache.remove(&guild);
        result
    }

    /// Stop giving a role at `level`; whether there was one.
    pub async fn remove_level_reward(
        &self,
        guild: Id<GuildMarker>,
        level: i32,
    ) -> StoreResult<bool> {
        let result = self.store.remove_level_reward(guild, level).await;
        let mut cache = self.rewards.write().expect("rewards lock");
        self.changes.fetch_add(1, Ordering::AcqRel);
        cache.remove(&guild);
        result
    }

    pub fn guild_info(&self, guild: Id<GuildMarker>) -> GuildInfo {
        self.guilds
            .read()
            .expect("guilds lock")
            .get(&guild)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_guild_info(&self, guild: Id<GuildMarker>, info: GuildInfo) {
        self.guilds
            .write()
            .expect("guilds lock")
            .insert(guild, info);
    }

    /// Adjust a guild's member count by `delta`, returning the new count.
    pub fn add_members(&self, guild: Id<GuildMarker>, delta: i64) -> u64 {
        let mut guilds = self.guilds.write().expect("guilds lock");
        let info = guilds.entry(guild).or_default();
        info.member_count = info.member_count.saturating_add_signed(delta);
        info.member_count
    }

    pub fn forget_guild(&self, guild: Id<GuildMarker>) {
        self.guilds.write().expect("guilds lock").remove(&guild);
        self.settings.write().expect("settings lock").remove(&guild);
        self.rewards.write().expect("rewards lock").remove(&guild);
    }

    /// Whether this is the first time a role reward failed in this guild (so it is
    /// worth a mod-log message).
    pub fn first_role_failure(&self, guild: Id<GuildMarker>, role: Id<RoleMarker>) -> bool {
        self.reported_roles
            .lock()
            .expect("reported lock")
            .insert((guild, role))
    }

    /// A role was granted again after an admin fixed its permissions: report the next
    /// failure afresh.
    pub fn role_granted(&self, guild: Id<GuildMarker>, role: Id<RoleMarker>) {
        self.reported_roles
            .lock()
            .expect("reported lock")
            .remove(&(guild, role));
    }
}
