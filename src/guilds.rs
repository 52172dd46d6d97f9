//! What Keeper keeps in memory per guild: its settings and level rewards (read on
//! every message and every level-up, so held in front of the store) and what the
//! gateway told about it (its facts: name, owner, member count, roles and the
//! roles Keeper holds; for templates and the role rewards' checks).
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
//!
//! Facts are held whole too: every stored guild's are read at start-up (Discord
//! sends no GUILD_CREATE after a RESUME, so a restarted process knows its guilds
//! only from the store) and changed by the guild, role and member events in the
//! shard loop, in memory at once and in the store through one ordered queue
//! ([`writer`]), so an event never waits on the database.

mod writer;

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, Utc};
use keeper_store::{
    Applied, Delivery, GuildFacts, GuildRole, GuildSettings, LevelReward, SettingsPatch, Store,
    StoreResult,
};
use tokio::sync::{mpsc, oneshot};
use twilight_model::{
    guild::Role,
    id::{
        Id,
        marker::{GuildMarker, InteractionMarker, RoleMarker, UserMarker},
    },
};

use writer::{Write, Writes};

/// Every known guild's facts, by id.
type Facts = Arc<RwLock<HashMap<Id<GuildMarker>, GuildFacts>>>;

/// A role as Keeper keeps it (from GUILD_CREATE, the role events, and an
/// interaction's resolved role).
pub fn guild_role(role: &Role) -> GuildRole {
    GuildRole {
        role_id: role.id,
        name: role.name.clone(),
        position: role.position,
        permissions: role.permissions,
        managed: role.managed,
    }
}

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
    /// What the gateway told of each guild Keeper is in. Shared with the
    /// writer, which alone moves member counts (see [`Guilds::member_joined`]).
    facts: Facts,
    /// Changes to the facts, on their way to the store.
    writes: Writes,
    /// The queue's other end, until [`Guilds::writer`] takes it.
    queue: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Write>>>,
}

impl Guilds {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (writes, queue) = Writes::new();
        Self {
            store,
            settings: RwLock::default(),
            changing: tokio::sync::Mutex::new(()),
            rewards: RwLock::default(),
            changes: AtomicU64::new(0),
            facts: Facts::default(),
            writes,
            queue: std::sync::Mutex::new(Some(queue)),
        }
    }

    /// Read every stored guild's settings and facts (those of guilds Keeper
    /// left stay in the store only); how many guilds had either.
    pub async fn load(&self) -> StoreResult<usize> {
        let stored = self.store.all_settings().await?;
        let known = self.store.all_guilds().await?;
        let mut guilds: std::collections::HashSet<_> = stored.iter().map(|s| s.guild_id).collect();
        self.settings
            .write()
            .expect("settings lock")
            .extend(stored.into_iter().map(|s| (s.guild_id, s)));
        let mut facts = self.facts.write().expect("facts lock");
        for f in known.into_iter().filter(|f| f.left_at.is_none()) {
            guilds.insert(f.guild_id);
            facts.insert(f.guild_id, f);
        }
        Ok(guilds.len())
    }

    /// The task that writes the facts' changes to the store, in order; `None`
    /// when taken already. Spawned at start-up, it ends with the process.
    pub fn writer(&self) -> Option<impl Future<Output = ()> + Send + 'static> {
        let queue = self.queue.lock().expect("queue lock").take()?;
        Some(writer::run(
            Arc::clone(&self.store),
            Arc::clone(&self.facts),
            queue,
        ))
    }

    /// At shutdown: wait (until `deadline`) for the facts' changes to be stored.
    pub async fn finish(&self, deadline: tokio::time::Instant) {
        if !self.writes.flushed(deadline).await {
            tracing::warn!(
                "some guild facts were not stored in time; the next GUILD_CREATE stores them"
            );
        }
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

    /// The name and member count, for templates (empty and 0 for a guild
    /// Keeper knows nothing of).
    pub fn info(&self, guild: Id<GuildMarker>) -> GuildInfo {
        self.read_facts(guild, |f| GuildInfo {
            name: f.name.clone(),
            member_count: f.member_count,
        })
        .unwrap_or_default()
    }

    /// Everything known of a guild (its roles, Keeper's roles...).
    pub fn facts(&self, guild: Id<GuildMarker>) -> Option<GuildFacts> {
        self.read_facts(guild, GuildFacts::clone)
    }

    fn read_facts<T>(
        &self,
        guild: Id<GuildMarker>,
        read: impl FnOnce(&GuildFacts) -> T,
    ) -> Option<T> {
        self.facts.read().expect("facts lock").get(&guild).map(read)
    }

    /// Change a guild's facts in memory (a guild not known yet starts empty) and
    /// queue what to store.
    fn change(
        &self,
        guild: Id<GuildMarker>,
        change: impl FnOnce(&mut GuildFacts) -> Option<Write>,
    ) {
        let write = {
            let mut facts = self.facts.write().expect("facts lock");
            change(
                facts
                    .entry(guild)
                    .or_insert_with(|| GuildFacts::unknown(guild)),
            )
        };
        if let Some(write) = write {
            self.writes.send(write);
        }
    }

    /// GUILD_CREATE: everything about the guild, replacing what was known;
    /// the member count when the writer gets to it, after the joins and
    /// departures queued before it (see [`Guilds::member_joined`]).
    pub fn created(&self, facts: GuildFacts) {
        let guild = facts.guild_id;
        self.change(guild, |known| {
            let count = known.member_count;
            *known = GuildFacts {
                member_count: count,
                ..facts.clone()
            };
            Some(Write::Save(Box::new(facts)))
        });
    }

    /// GUILD_UPDATE: the guild's name, icon and owner.
    pub fn updated(
        &self,
        guild: Id<GuildMarker>,
        name: String,
        icon: Option<String>,
        owner: Option<Id<UserMarker>>,
    ) {
        self.change(guild, |known| {
            known.name.clone_from(&name);
            known.icon.clone_from(&icon);
            known.owner_id = owner.or(known.owner_id);
            Some(Write::Update {
                guild,
                name,
                icon,
                owner,
            })
        });
    }

    /// GUILD_ROLE_CREATE/UPDATE: a role made or changed.
    pub fn role_saved(&self, guild: Id<GuildMarker>, role: GuildRole) {
        self.change(guild, |known| {
            match known.roles.iter_mut().find(|r| r.role_id == role.role_id) {
                Some(old) => *old = role.clone(),
                None => known.roles.push(role.clone()),
            }
            Some(Write::SaveRole(guild, role))
        });
    }

    /// GUILD_ROLE_DELETE: a role gone (Keeper no longer holds it either).
    pub fn role_deleted(&self, guild: Id<GuildMarker>, role: Id<RoleMarker>) {
        self.change(guild, |known| {
            known.roles.retain(|r| r.role_id != role);
            known.bot_roles.retain(|r| *r != role);
            Some(Write::DeleteRole(guild, role))
        });
    }

    /// Keeper's own member changed: the roles it holds. Written only when they
    /// did change (GUILD_MEMBER_UPDATE also comes for nicknames and the like).
    pub fn bot_roles(&self, guild: Id<GuildMarker>, mut roles: Vec<Id<RoleMarker>>) {
        roles.sort_unstable();
        self.change(guild, |known| {
            let mut held = known.bot_roles.clone();
            held.sort_unstable();
            (held != roles).then(|| {
                known.bot_roles.clone_from(&roles);
                Write::BotRoles(guild, roles)
            })
        });
    }

    /// GUILD_MEMBER_ADD: the join counted, once. Answers the new member count,
    /// or `None` when the join was counted before (Discord delivered it again).
    ///
    /// Member counts move in the writer's queue, in gateway order, store and
    /// memory alike: a GUILD_CREATE's count (absolute) and the joins and
    /// departures around it then apply in the order Discord sent them, and
    /// each join is remembered in the transaction that counts it. Without its
    /// database a join can't be told from its replay, and counts.
    pub fn member_joined(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        joined_at: DateTime<Utc>,
        seen: Delivery,
    ) -> oneshot::Receiver<Option<u64>> {
        let (reply, counted) = oneshot::channel();
        self.writes.send(Write::Join {
            guild,
            user,
            joined_at,
            seen,
            reply,
        });
        counted
    }

    /// GUILD_MEMBER_REMOVE: the departure counted, once (as a join is).
    pub fn member_left(&self, guild: Id<GuildMarker>, user: Id<UserMarker>, seen: Delivery) {
        self.writes.send(Write::Leave { guild, user, seen });
    }

    /// Keeper left the guild (or it was deleted): what the gateway said of it
    /// goes from memory, and the store records when. Its settings stay, as in
    /// the store: they are its settings if it comes back.
    pub fn left(&self, guild: Id<GuildMarker>) {
        self.facts.write().expect("facts lock").remove(&guild);
        self.rewards.write().expect("rewards lock").remove(&guild);
        self.writes.send(Write::Left(guild));
    }

    /// `/config reset-data`: delete the guild's data in the store (once per
    /// interaction), then forget its settings and rewards here, under the
    /// settings lock so that no settings change lands in between.
    pub async fn reset_data(
        &self,
        guild: Id<GuildMarker>,
        once: Option<Id<InteractionMarker>>,
        at: DateTime<Utc>,
    ) -> StoreResult<Applied<u64>> {
        let _one_at_a_time = self.changing.lock().await;
        let done = self.store.reset_guild_data(guild, once, at).await?;
        self.settings.write().expect("settings lock").remove(&guild);
        self.rewards.write().expect("rewards lock").remove(&guild);
        self.changes.fetch_add(1, Ordering::AcqRel);
        Ok(done)
    }

    /// The retention policy deleted the left guild's data: its settings go
    /// from memory too (a later return starts from the defaults, as stored).
    pub fn purged(&self, guild: Id<GuildMarker>) {
        self.settings.write().expect("settings lock").remove(&guild);
        self.rewards.write().expect("rewards lock").remove(&guild);
    }
}
