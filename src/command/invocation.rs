//! One run of a slash command, and its options looked up by name.

use twilight_model::{
    application::interaction::{
        Interaction,
        application_command::{CommandData, CommandDataOption, CommandOptionValue},
    },
    guild::{Permissions, Role},
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, InteractionMarker, RoleMarker, UserMarker},
    },
    user::User,
};

use crate::error::{BotError, BotResult};

/// One run of a slash command, with what the handler needs to know about it.
pub struct Invocation<'a> {
    /// Discord's ID of this run: a write made for it is applied once, however
    /// often Discord delivers it.
    pub interaction_id: Id<InteractionMarker>,
    pub guild_id: Id<GuildMarker>,
    pub channel_id: Id<ChannelMarker>,
    pub user: &'a User,
    /// The member's permissions in the channel as Discord computed them.
    pub permissions: Permissions,
    /// The roles the member holds.
    pub roles: &'a [Id<RoleMarker>],
    pub data: &'a CommandData,
}

impl<'a> Invocation<'a> {
    /// `None` outside a guild (a DM, or a payload without its member).
    pub fn new(interaction: &'a Interaction, data: &'a CommandData) -> Option<Self> {
        let member = interaction.member.as_ref()?;
        Some(Self {
            interaction_id: interaction.id,
            guild_id: interaction.guild_id?,
            channel_id: interaction.channel.as_ref()?.id,
            user: member.user.as_ref().or(interaction.user.as_ref())?,
            permissions: member.permissions.unwrap_or_else(Permissions::empty),
            roles: &member.roles,
            data,
        })
    }

    pub fn options(&self) -> Options<'_> {
        Options(&self.data.options)
    }

    /// The subcommand (or group) that was run, with its options.
    pub fn subcommand(&self) -> BotResult<(&str, Options<'_>)> {
        self.options()
            .subcommand()
            .ok_or_else(|| missing("subcommand"))
    }

    /// The display name of a user given as an option, from the interaction's
    /// resolved data.
    pub fn resolved_user(&self, id: Id<UserMarker>) -> Option<&User> {
        self.data.resolved.as_ref()?.users.get(&id)
    }

    /// The roles of a member given as an option, as Discord resolved them
    /// (`None` when the user is not a member here).
    pub fn resolved_member_roles(&self, id: Id<UserMarker>) -> Option<&[Id<RoleMarker>]> {
        let member = self.data.resolved.as_ref()?.members.get(&id)?;
        Some(&member.roles)
    }

    /// A role given as an option, as Discord resolved it (fresher than what the
    /// gateway said of it, when it was just made or edited).
    pub fn resolved_role(&self, id: Id<RoleMarker>) -> Option<&Role> {
        self.data.resolved.as_ref()?.roles.get(&id)
    }
}

/// The options of a command or subcommand, looked up by name.
#[derive(Clone, Copy)]
pub struct Options<'a>(pub &'a [CommandDataOption]);

impl<'a> Options<'a> {
    fn get(&self, name: &str) -> Option<&'a CommandOptionValue> {
        self.0.iter().find(|o| o.name == name).map(|o| &o.value)
    }

    /// The subcommand (or subcommand group) chosen, and its options.
    pub fn subcommand(&self) -> Option<(&'a str, Options<'a>)> {
        self.0.iter().find_map(|o| match &o.value {
            CommandOptionValue::SubCommand(opts) | CommandOptionValue::SubCommandGroup(opts) => {
                Some((o.name.as_str(), Options(opts)))
            }
            _ => None,
        })
    }

    pub fn string(&self, name: &str) -> Option<&'a str> {
        match self.get(name)? {
            CommandOptionValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            CommandOptionValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            CommandOptionValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn user(&self, name: &str) -> Option<Id<UserMarker>> {
        match self.get(name)? {
            CommandOptionValue::User(id) => Some(*id),
            _ => None,
        }
    }

    pub fn channel(&self, name: &str) -> Option<Id<ChannelMarker>> {
        match self.get(name)? {
            CommandOptionValue::Channel(id) => Some(*id),
            _ => None,
        }
    }

    pub fn role(&self, name: &str) -> Option<Id<RoleMarker>> {
        match self.get(name)? {
            CommandOptionValue::Role(id) => Some(*id),
            _ => None,
        }
    }
}

/// A missing required option: Discord enforces them, so this only happens with an
/// outdated command definition; say so rather than guess.
pub fn missing(name: &str) -> BotError {
    BotError::user(format!(
        "The `{name}` option is missing; the command may be out of date, try again in a minute."
    ))
}
