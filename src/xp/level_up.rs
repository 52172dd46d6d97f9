//! What a level-up does: the role rewards up to the new level, then the
//! announcement where the guild wants it.

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
        marker::{ChannelMarker, GuildMarker, RoleMarker},
    },
};

use super::buffer::LevelUp;
use crate::{
    error::BotResult,
    guilds::Guilds,
    outbox::{Announcement, Kind, Outbox, Post},
    template::{self, Vars},
};

pub struct LevelUps {
    http: Arc<Client>,
    guilds: Arc<Guilds>,
    /// Where announcements and mod-log notes queue, per channel (level-ups
    /// waiting together share a message).
    outbox: Arc<Outbox>,
    /// Role rewards Keeper could not grant, already reported in the mod-log: a
    /// missing permission is said once, not on every level-up.
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
        self.grant_rewards(level_up).await?;
        let LevelUp { outcome, channel } = level_up;
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

    async fn grant_rewards(&self, level_up: LevelUp) -> BotResult<()> {
        let outcome = level_up.outcome;
        let rewards = self.guilds.level_rewards(outcome.guild_id).await?;
        for reward in rewards
            .iter()
            .filter(|r| r.level > outcome.old_level && r.level <= outcome.new_level)
        {
            let (guild, role) = (outcome.guild_id, reward.role_id);
            let result = self
                .http
                .add_guild_member_role(guild, outcome.user_id, role)
                .await;
            match result {
                // Granted (again, perhaps, after an admin fixed the permissions):
                // the next failure is reported afresh.
                Ok(_) => {
                    self.reported().remove(&(guild, role));
                }
                Err(err) => {
                    tracing::warn!(%guild, user = %outcome.user_id, %role, error = %err,
                        "could not grant a level reward");
                    let first = self.reported().insert((guild, role));
                    if first {
                        self.report_role_failure(guild, role, reward.level).await;
                    }
                }
            }
        }
        Ok(())
    }

    fn reported(&self) -> std::sync::MutexGuard<'_, HashSet<(Id<GuildMarker>, Id<RoleMarker>)>> {
        self.reported_roles.lock().expect("reported roles lock")
    }

    /// Tell the guild's moderators, once, that a reward can't be granted.
    async fn report_role_failure(&self, guild: Id<GuildMarker>, role: Id<RoleMarker>, level: i32) {
        let Some(modlog) = self.guilds.settings(guild).modlog_channel else {
            return;
        };
        let text = format!(
            "I couldn't give the level {level} reward role <@&{role}>: I need the **Manage Roles** \
             permission and a role above it. I won't repeat this until it works again."
        );
        let note = Post::text(Kind::ModLog, text, AllowedMentions::default());
        self.outbox.post(Some(guild), modlog, note);
    }
}
