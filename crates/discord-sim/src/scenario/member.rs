//! People: [`User`] (anyone) and [`Member`] (someone in a guild), who talk,
//! run slash commands, and are what the bot moderates.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::command::{OptionValue, create_click, create_interaction, find_command};
use super::{Channel, Guild, Interaction, Role, Sim, SimError, inbox};
use crate::config::intents;
use crate::model::MemberRec;
use crate::rest::channels::parse_mentions;
use crate::state::{Action, SentMessage};

/// Anything that is a user: [`Member`], [`User`].
pub trait AsUser {
    fn user_id(&self) -> u64;
}

/// Make user `id` refuse DMs from the bot (`closed`) or accept them again.
fn set_dms_closed(sim: &Sim, id: u64, closed: bool) {
    sim.with_world(|w| {
        if let Some(u) = w.users.get_mut(&id) {
            u.blocks_dms = closed;
        }
    });
}

/// A user who is not (yet) a member of a given guild.
#[derive(Clone)]
pub struct User {
    sim: Sim,
    id: u64,
}

impl User {
    pub(super) fn new(sim: Sim, id: u64) -> Self {
        Self { sim, id }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Close DMs to the bot, as [`Member::close_dms`].
    pub fn close_dms(&self) {
        set_dms_closed(&self.sim, self.id, true);
    }

    /// Join `guild`: GUILD_MEMBER_ADD to sessions with GUILD_MEMBERS.
    pub async fn joins(&self, guild: &Guild) -> Member {
        let (gid, uid) = (guild.id(), self.id);
        self.sim.with_world(|w| {
            w.add_member(gid, uid);
            w.dispatch_member_event(gid, uid, "GUILD_MEMBER_ADD");
        });
        Member::new(self.sim.clone(), gid, uid)
    }
}

impl AsUser for User {
    fn user_id(&self) -> u64 {
        self.id
    }
}

/// A guild member.
#[derive(Clone)]
pub struct Member {
    sim: Sim,
    guild_id: u64,
    user_id: u64,
    dm_cursor: Arc<AtomicUsize>,
    change_cursor: Arc<AtomicUsize>,
}

impl AsUser for Member {
    fn user_id(&self) -> u64 {
        self.user_id
    }
}

impl Member {
    pub(super) fn new(sim: Sim, guild_id: u64, user_id: u64) -> Self {
        Self {
            sim,
            guild_id,
            user_id,
            dm_cursor: Arc::new(AtomicUsize::new(0)),
            change_cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn id(&self) -> u64 {
        self.user_id
    }
    pub fn guild_id(&self) -> u64 {
        self.guild_id
    }
    /// `<@id>`.
    pub fn mention(&self) -> String {
        format!("<@{}>", self.user_id)
    }

    /// Give the member a role (GUILD_MEMBER_UPDATE to connected sessions).
    pub fn with_role(self, role: &Role) -> Self {
        let (gid, uid, rid) = (self.guild_id, self.user_id, role.id());
        self.sim.with_world(|w| {
            if let Some(m) = w.guilds.get_mut(&gid).and_then(|g| g.members.get_mut(&uid))
                && !m.roles.contains(&rid)
            {
                m.roles.push(rid);
            }
            w.dispatch_member_update(gid, uid);
        });
        self
    }

    /// Give the member an avatar: a square of `rgb` on the CDN. What the
    /// member sends from now on carries its hash; the previous one is gone.
    pub fn with_avatar(self, rgb: [u8; 3]) -> Self {
        self.set_avatar(Some(rgb));
        self
    }

    /// Change the member's avatar (`None`: Discord's default); the new hash.
    pub fn set_avatar(&self, rgb: Option<[u8; 3]>) -> Option<String> {
        let id = self.user_id;
        self.sim.with_world(|w| {
            let hash = rgb.map(|rgb| crate::rest::cdn::hash_for(rgb, w.ids.next()));
            if let Some(u) = w.users.get_mut(&id) {
                u.avatar.clone_from(&hash);
            }
            hash
        })
    }

    /// Make the member refuse DMs from the bot (50007 when it tries).
    pub fn blocking_dms(self) -> Self {
        self.close_dms();
        self
    }

    /// The member closes DMs (a privacy setting, or blocking the bot): the
    /// bot can still open the DM channel, but posting in it gets 403 50007
    /// "Cannot send messages to this user", as on Discord.
    pub fn close_dms(&self) {
        set_dms_closed(&self.sim, self.user_id, true);
    }

    /// The member accepts DMs again.
    pub fn open_dms(&self) {
        set_dms_closed(&self.sim, self.user_id, false);
    }

    /// Every DM the bot sent this member so far, as sent (the inbox that
    /// [`Member::next_dm`] reads in order).
    pub fn dms(&self) -> Vec<SentMessage> {
        self.sim.dms_to(self).all()
    }

    /// GUILD_MEMBER_ADD for this member's join delivered again, unchanged (its
    /// `joined_at` included), as a resumed session replays it after a crash.
    pub fn join_delivered_again(&self) {
        let (gid, uid) = (self.guild_id, self.user_id);
        self.sim
            .with_world(|w| w.dispatch_member_event(gid, uid, "GUILD_MEMBER_ADD"));
    }

    /// Leave the guild on their own: GUILD_MEMBER_REMOVE to sessions with
    /// GUILD_MEMBERS.
    pub fn leaves(&self) {
        let (gid, uid) = (self.guild_id, self.user_id);
        self.sim.with_world(|w| {
            if let Some(g) = w.guilds.get_mut(&gid) {
                g.members.remove(&uid);
            }
            w.dispatch_guild_user(gid, uid, "GUILD_MEMBER_REMOVE", intents::GUILD_MEMBERS);
        });
    }

    /// Post a message: MESSAGE_CREATE to the guild's shard (with intent
    /// gating). Mentions in `content` (`<@id>`, `<@&id>`) ping. Returns the
    /// message ID.
    pub async fn says(&self, channel: &Channel, content: impl Into<String>) -> u64 {
        self.says_timed(channel, content).await.0
    }

    /// [`Member::says`], also returning the message's timestamp as the bot reads
    /// it (bots that apply cooldowns go by it, so expected-XP checks must too).
    pub async fn says_timed(
        &self,
        channel: &Channel,
        content: impl Into<String>,
    ) -> (u64, chrono::DateTime<chrono::Utc>) {
        let (cid, uid) = (channel.id(), self.user_id);
        let content = content.into();
        self.sim.with_world(|w| {
            let mut m = w.new_message(cid, uid, content);
            let (users, roles, everyone) = parse_mentions(&m.content);
            m.mentions = users
                .into_iter()
                .filter(|u| w.users.contains_key(u))
                .collect();
            m.mention_roles = roles;
            m.mention_everyone = everyone;
            let id = m.id;
            let at = chrono::DateTime::parse_from_rfc3339(&m.timestamp)
                .map_or_else(|_| chrono::Utc::now(), |t| t.to_utc());
            w.store_and_dispatch_message(m);
            (id, at)
        })
    }

    /// Run a slash command: `command` is the command name, optionally
    /// followed by a subcommand group and/or subcommand (`"config xp set"`).
    /// The command must be registered by the bot; this waits up to 10 s for
    /// that. Options are typed ([`OptionValue`]).
    ///
    /// # Panics
    /// If the command is not registered within 10 s, or an option is not
    /// part of the command: the test is wrong, not the bot.
    pub async fn runs<'a>(
        &self,
        channel: &Channel,
        command: &str,
        options: impl IntoIterator<Item = (&'a str, OptionValue)>,
    ) -> Interaction {
        self.runs_delivered_late(channel, command, options, Duration::ZERO)
            .await
    }

    /// [`Member::runs`], delivered `lag` after the member ran the command (as
    /// when the gateway lags): the interaction's ID says when it was made, and
    /// its 3 s answer deadline counts from then, as on Discord.
    pub async fn runs_delivered_late<'a>(
        &self,
        channel: &Channel,
        command: &str,
        options: impl IntoIterator<Item = (&'a str, OptionValue)>,
        lag: Duration,
    ) -> Interaction {
        let command = command.trim_start_matches('/').to_owned();
        let name = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let gid = self.guild_id;
        let registered = self
            .sim
            .wait_until(Duration::from_secs(10), &format!("/{name}"), |w| {
                find_command(w, Some(gid), &name).is_some()
            })
            .await;
        if let Err(e) = registered {
            panic!("/{name} is not registered by the bot: {e}");
        }
        let options: Vec<(String, OptionValue)> = options
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let (cid, uid) = (channel.id(), self.user_id);
        let created = self
            .sim
            .with_world(|w| create_interaction(w, (gid, cid, uid), &command, &options, lag));
        let id = match created {
            Ok(id) => id,
            Err(e) => panic!("{e}"),
        };
        Interaction::sent(self.sim.clone(), id, cid, lag)
    }

    /// Click the button `custom_id` on message `message_id` (an answer of
    /// the bot's): the click is an interaction of its own, answered by
    /// updating that message.
    pub fn click(&self, message_id: u64, custom_id: &str) -> Interaction {
        let (gid, uid) = (self.guild_id, self.user_id);
        let created = self
            .sim
            .with_world(|w| create_click(w, (gid, uid), message_id, custom_id));
        match created {
            Ok((id, channel_id)) => {
                Interaction::sent(self.sim.clone(), id, channel_id, Duration::ZERO)
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn read<T>(&self, f: impl FnOnce(Option<&MemberRec>) -> T) -> T {
        let w = self.sim.core().world.lock();
        f(w.guilds
            .get(&self.guild_id)
            .and_then(|g| g.members.get(&self.user_id)))
    }

    /// Role IDs the member holds now.
    pub fn roles(&self) -> Vec<u64> {
        self.read(|m| m.map(|m| m.roles.clone()).unwrap_or_default())
    }

    pub fn has_role(&self, role: &Role) -> bool {
        self.roles().contains(&role.id())
    }

    /// End of the current timeout, if any.
    pub fn timed_out_until(&self) -> Option<String> {
        self.read(|m| m.and_then(|m| m.communication_disabled_until.clone()))
    }

    /// Timed out now: a timeout that ends in the future (one that has ended
    /// stays in `timed_out_until`, as on Discord, but no longer counts).
    pub fn is_timed_out(&self) -> bool {
        self.timed_out_until()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .is_some_and(|t| t > chrono::Utc::now())
    }

    pub fn nick(&self) -> Option<String> {
        self.read(|m| m.and_then(|m| m.nick.clone()))
    }

    /// Still a member (not kicked/banned)?
    pub fn is_member(&self) -> bool {
        self.read(|m| m.is_some())
    }

    /// Banned from this member's guild?
    pub fn is_banned(&self) -> bool {
        self.sim.core().world.lock().guilds[&self.guild_id]
            .bans
            .contains_key(&self.user_id)
    }

    /// Guild permissions as Discord computes them from the roles.
    pub fn permissions(&self) -> u64 {
        self.sim.core().world.lock().guilds[&self.guild_id].permissions_of(self.user_id)
    }

    /// The next DM the bot sends this member.
    pub async fn next_dm(&self, timeout: Duration) -> Result<SentMessage, SimError> {
        inbox::next_dm(&self.sim, self.user_id, &self.dm_cursor, timeout).await
    }

    /// The next moderation or role action the bot takes on this member.
    pub async fn next_change(&self, timeout: Duration) -> Result<Action, SimError> {
        let (gid, uid) = (self.guild_id, self.user_id);
        self.sim
            .next_from(
                &self.change_cursor,
                timeout,
                "a change to the member",
                |_, a| {
                    let hit = match a {
                        Action::RoleAdded {
                            guild_id, user_id, ..
                        }
                        | Action::RoleRemoved {
                            guild_id, user_id, ..
                        }
                        | Action::TimedOut {
                            guild_id, user_id, ..
                        }
                        | Action::NickChanged {
                            guild_id, user_id, ..
                        }
                        | Action::Kicked {
                            guild_id, user_id, ..
                        }
                        | Action::Banned {
                            guild_id, user_id, ..
                        }
                        | Action::Unbanned { guild_id, user_id } => {
                            *guild_id == gid && *user_id == uid
                        }
                        _ => false,
                    };
                    hit.then(|| a.clone())
                },
            )
            .await
    }
}
