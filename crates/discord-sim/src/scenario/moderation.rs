//! Moderation in a [`Guild`] besides the bot's: a moderator banning, kicking
//! and timing out from Discord's own UI (the same events and audit log
//! entries as the bot's REST calls, `state/moderation.rs`), and what a test
//! reads back: bans, timeouts, the audit log.

use chrono::{DateTime, Utc};

use super::{AsUser, Guild};
use crate::model::discord_time;
use crate::permissions::bits;
use crate::state::{AuditEntry, GuildRec, World, timeout_too_long};

/// A ban in a guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    pub user_id: u64,
    /// The reason given with it, if any.
    pub reason: Option<String>,
}

impl Guild {
    /// Run `act` on the world if Discord lets `moderator` act on `user` with
    /// `perm` (`check`); panics otherwise: Discord's UI would not have
    /// offered it, so the test is wrong, not the bot.
    fn moderate(
        &self,
        moderator: &impl AsUser,
        user: &impl AsUser,
        what: &str,
        check: impl FnOnce(&GuildRec, u64, u64) -> bool,
        act: impl FnOnce(&mut World, u64, u64, u64),
    ) {
        let (gid, by, target) = (self.id(), moderator.user_id(), user.user_id());
        let allowed = self.sim.with_world(|w| {
            let allowed = w.guilds.get(&gid).is_some_and(|g| check(g, by, target));
            if allowed {
                act(w, gid, by, target);
            }
            allowed
        });
        assert!(
            allowed,
            "Discord would refuse {by} to {what} {target} in guild {gid}: \
             missing permission, not above them, or they are the owner"
        );
    }

    /// `moderator` bans `user` (a member or not) from Discord's UI: as when
    /// the bot bans over REST, the member is removed (GUILD_MEMBER_REMOVE),
    /// then GUILD_BAN_ADD, and a MEMBER_BAN_ADD audit log entry naming the
    /// moderator (GUILD_AUDIT_LOG_ENTRY_CREATE to a bot holding
    /// VIEW_AUDIT_LOG).
    ///
    /// # Panics
    /// If Discord would refuse: the moderator lacks BAN_MEMBERS, is not above
    /// the member, or the target is the owner.
    pub fn ban_by(&self, moderator: &impl AsUser, user: &impl AsUser, reason: Option<&str>) {
        let reason = reason.map(str::to_owned);
        self.moderate(
            moderator,
            user,
            "ban",
            |g, by, target| g.may_moderate(by, target, bits::BAN_MEMBERS),
            |w, gid, by, target| w.ban(gid, (by, target), 0, reason),
        );
    }

    /// `moderator` lifts `user`'s ban: GUILD_BAN_REMOVE and a
    /// MEMBER_BAN_REMOVE entry.
    ///
    /// # Panics
    /// If the moderator lacks BAN_MEMBERS or `user` is not banned.
    pub fn unban_by(&self, moderator: &impl AsUser, user: &impl AsUser, reason: Option<&str>) {
        let reason = reason.map(str::to_owned);
        self.moderate(
            moderator,
            user,
            "unban",
            |g, by, target| {
                g.permissions_of(by) & bits::BAN_MEMBERS != 0 && g.bans.contains_key(&target)
            },
            |w, gid, by, target| w.unban(gid, by, target, reason),
        );
    }

    /// `moderator` kicks member `user`: GUILD_MEMBER_REMOVE and a
    /// MEMBER_KICK entry.
    ///
    /// # Panics
    /// If `user` is no member, or Discord would refuse (KICK_MEMBERS,
    /// hierarchy, the owner).
    pub fn kick_by(&self, moderator: &impl AsUser, user: &impl AsUser, reason: Option<&str>) {
        let reason = reason.map(str::to_owned);
        self.moderate(
            moderator,
            user,
            "kick",
            |g, by, target| {
                g.members.contains_key(&target) && g.may_moderate(by, target, bits::KICK_MEMBERS)
            },
            |w, gid, by, target| w.kick(gid, by, target, reason),
        );
    }

    /// `moderator` times member `user` out until `until`: GUILD_MEMBER_UPDATE
    /// carrying `communication_disabled_until`, and a MEMBER_UPDATE entry with
    /// that change.
    ///
    /// # Panics
    /// If `until` is more than 28 days ahead, `user` is no member, or Discord
    /// would refuse (MODERATE_MEMBERS, hierarchy, the owner, an
    /// administrator).
    pub fn timeout_by(
        &self,
        moderator: &impl AsUser,
        user: &impl AsUser,
        until: DateTime<Utc>,
        reason: Option<&str>,
    ) {
        assert!(
            !timeout_too_long(until),
            "Discord refuses a timeout more than 28 days ahead"
        );
        self.set_timeout(moderator, user, Some(discord_time(until)), reason);
    }

    /// `moderator` lifts `user`'s timeout (as [`Guild::timeout_by`], the
    /// change's new value left out).
    ///
    /// # Panics
    /// As [`Guild::timeout_by`].
    pub fn untimeout_by(&self, moderator: &impl AsUser, user: &impl AsUser, reason: Option<&str>) {
        self.set_timeout(moderator, user, None, reason);
    }

    fn set_timeout(
        &self,
        moderator: &impl AsUser,
        user: &impl AsUser,
        until: Option<String>,
        reason: Option<&str>,
    ) {
        let reason = reason.map(str::to_owned);
        self.moderate(
            moderator,
            user,
            "time out",
            |g, by, target| g.members.contains_key(&target) && g.may_time_out(by, target),
            |w, gid, by, target| w.time_out(gid, by, target, until, reason),
        );
    }

    fn read<T>(&self, f: impl FnOnce(&GuildRec) -> T) -> T {
        f(&self.sim.core().world.lock().guilds[&self.id()])
    }

    /// The bans now, by user ID.
    pub fn bans(&self) -> Vec<Ban> {
        self.read(|g| {
            g.bans
                .iter()
                .map(|(user_id, reason)| Ban {
                    user_id: *user_id,
                    reason: reason.clone(),
                })
                .collect()
        })
    }

    /// Whether `user` is banned here.
    pub fn is_banned(&self, user: &impl AsUser) -> bool {
        self.read(|g| g.bans.contains_key(&user.user_id()))
    }

    /// The audit log, oldest first: what the bot and moderators did.
    pub fn audit_log(&self) -> Vec<AuditEntry> {
        self.read(|g| g.audit_log.clone())
    }

    /// Give the bot's role exactly `permissions` (GUILD_ROLE_UPDATE): take
    /// BAN_MEMBERS away, say, to make Discord refuse the bot.
    pub fn set_bot_permissions(&self, permissions: u64) {
        self.set_role_permissions(&self.bot_role(), permissions);
    }
}
