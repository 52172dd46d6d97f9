//! What a level-up does: the role rewards up to the new level, then the
//! announcement where the guild wants it. The rewards follow any change of
//! level ([`LevelUps::sync_rewards`], also after `/xp`): the member ends up with
//! exactly the rewards at or below their level, each grant checked again on the
//! guild's roles as they are then ([`crate::rewards`]).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use keeper_store::LevelUpTarget;
use twilight_http::Client;
use twilight_model::{
    channel::message::AllowedMentions,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker},
    },
};

use super::buffer::LevelUp;
use crate::{
    error::BotResult,
    guilds::Guilds,
    outbox::{Announcement, Kind, Outbox, Post},
    rewards::{self, Held, Refusal},
    template::{self, Vars},
};

pub struct LevelUps {
    http: Arc<Client>,
    guilds: Arc<Guilds>,
    /// Where announcements and mod-log notes queue, per channel (level-ups
    /// waiting together share a message).
    outbox: Arc<Outbox>,
    /// Role rewards Keeper could not or would not grant, already reported in
    /// the mod-log: a missing permission or a role that became dangerous is said
    /// once, not on every level-up.
    reported_roles: Mutex<HashSet<(Id<GuildMarker>, Id<RoleMarker>)>>,
}

impl LevelUps {
    pub fn new(http: Arc<Client>, guilds: Arc<Guilds>, outbox: Arc<Outbox>) -> Self {
        Self {
            outbox,
            http,
            guilds,
            reported_roles: Mutex::default(),
        }
    }

    /// [`LevelUps::apply`], a failure logged: the XP is stored whatever happens
    /// to the announcement or the role.
    pub async fn apply_logged(&self, level_up: LevelUp) {
        if let Err(err) = self.apply(level_up).await {
            tracing::warn!(guild = %level_up.outcome.guild_id, user = %level_up.outcome.user_id,
                error = %err, "level-up effects failed");
        }
    }

    /// Grant one level-up's rewards, then queue its announcement. Rewards first:
    /// when Discord's rate limits hold requests back (and a shutdown cuts the wait
    /// short), the role matters more than the message.
    pub async fn apply(&self, level_up: LevelUp) -> BotResult<()> {
        let LevelUp { outcome, channel } = level_up;
        let held = self
            .held(outcome.guild_id, outcome.user_id, outcome.old_level)
            .await;
        self.sync_rewards(outcome.guild_id, outcome.user_id, outcome.new_level, &held)
            .await?;
        let settings = self.guilds.settings(outcome.guild_id);
        let target: Option<Id<ChannelMarker>> = match settings.levelup {
            LevelUpTarget::Off => None,
            LevelUpTarget::Here => Some(channel),
            LevelUpTarget::Channel(channel) => Some(channel),
        };
        if let Some(target) = target {
            let info = self.guilds.info(outcome.guild_id);
            let mention = format!("<@{}>", outcome.user_id);
            let text = template::render(
                settings.levelup_template(),
                &Vars {
                    user: Some(&mention),
                    username: None,
                    server: Some(&info.name),
                    level: Some(outcome.new_level),
                    member_count: Some(info.member_count),
                },
            );
            self.outbox.announce(
                outcome.guild_id,
                target,
                Announcement {
                    text,
                    user: outcome.user_id,
                },
            );
        }
        Ok(())
    }

    /// At shutdown: announcements (and whatever else waits in the outbox, which
    /// is drained last) get until `deadline`.
    pub async fn finish(&self, deadline: tokio::time::Instant) {
        self.outbox.finish(deadline).await;
    }

    /// The reward roles a member coming from `old_level` holds. When that
    /// level entitled them to none, none (no need to ask). Otherwise Discord is
    /// asked: XP imported from another bot (`keeper import-json`), a restore or
    /// a role taken by hand may have left them without what their level gives,
    /// and a level-up then grants every reward missing, not only the new one.
    /// If Discord can't say, what the old level gave is assumed held.
    async fn held(&self, guild: Id<GuildMarker>, user: Id<UserMarker>, old_level: i32) -> Held {
        let entitled = self
            .guilds
            .level_rewards(guild)
            .await
            .is_ok_and(|rewards| rewards.iter().any(|r| r.level <= old_level));
        if !entitled {
            return Held::AtLevel(old_level);
        }
        let member = match self.http.guild_member(guild, user).await {
            Ok(response) => response.model().await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match member {
            Ok(member) => Held::Known(member.roles),
            Err(error) => {
                tracing::warn!(%guild, %user, %error,
                    "could not read a member's roles; assuming their level's rewards");
                Held::AtLevel(old_level)
            }
        }
    }

    /// Give and take reward roles so that the member holds exactly the guild's
    /// rewards at or below `level` ([`rewards::reconcile`]); roles that are no
    /// reward are never touched. A grant Keeper must not make (the role is now
    /// dangerous, at or above Keeper's, or gone) or that Discord refuses is
    /// reported in the mod-log once. Whether any role was due to move.
    pub async fn sync_rewards(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        level: i32,
        held: &Held,
    ) -> BotResult<bool> {
        let configured = self.guilds.level_rewards(guild).await?;
        let changes = rewards::reconcile(level, &configured, held);
        if changes.add.is_empty() && changes.remove.is_empty() {
            return Ok(false);
        }
        let facts = self.guilds.facts(guild);
        for (reward_level, role) in changes.add {
            let allowed = facts
                .as_ref()
                .ok_or(Refusal::Unknown)
                .and_then(|facts| rewards::grantable(facts, role).map(|_| ()));
            if let Err(refusal) = allowed {
                tracing::warn!(%guild, %user, %role, reason = %refusal.reason(),
                    "not granting a level reward");
                self.report_once(guild, role, reward_level, Problem::Refused(refusal))
                    .await;
                continue;
            }
            match self.http.add_guild_member_role(guild, user, role).await {
                // Granted (again, perhaps, after an admin fixed the permissions):
                // the next failure is reported afresh.
                Ok(_) => {
                    self.reported().remove(&(guild, role));
                }
                Err(err) => {
                    tracing::warn!(%guild, %user, %role, error = %err,
                        "could not grant a level reward");
                    self.report_once(guild, role, reward_level, Problem::Failed)
                        .await;
                }
            }
        }
        for role in changes.remove {
            if let Err(err) = self.http.remove_guild_member_role(guild, user, role).await {
                tracing::warn!(%guild, %user, %role, error = %err,
                    "could not take back a level reward above the member's level");
            }
        }
        Ok(true)
    }

    fn reported(&self) -> std::sync::MutexGuard<'_, HashSet<(Id<GuildMarker>, Id<RoleMarker>)>> {
        self.reported_roles.lock().expect("reported roles lock")
    }

    /// Tell the guild's moderators that a reward can't be granted, once until
    /// it is granted again.
    async fn report_once(
        &self,
        guild: Id<GuildMarker>,
        role: Id<RoleMarker>,
        level: i32,
        problem: Problem,
    ) {
        if !self.reported().insert((guild, role)) {
            return;
        }
        let Some(modlog) = self.guilds.settings(guild).modlog_channel else {
            return;
        };
        let text = match problem {
            Problem::Failed => format!(
                "I couldn't give the level {level} reward role <@&{role}>: I need the **Manage Roles** \
                 permission and a role above it. I won't repeat this until it works again."
            ),
            Problem::Refused(refusal) => format!(
                "I didn't give the level {level} reward role <@&{role}>: {}. Fix the role or remove the \
                 reward (`/levels reward remove`). I won't repeat this until it works again.",
                refusal.reason()
            ),
        };
        let note = Post::text(Kind::ModLog, text, AllowedMentions::default());
        self.outbox.post(Some(guild), modlog, note);
    }
}

/// Why a reward was not granted.
enum Problem {
    /// Keeper must not grant it (checked before asking Discord).
    Refused(Refusal),
    /// Discord refused the grant.
    Failed,
}
