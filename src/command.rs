//! Keeper's slash commands: the list, their registration, and how an interaction
//! reaches one. Each command lives in `command/<name>.rs` with its `NAME`, its
//! definition (`command()`) and its handler (`run()`).

pub mod config;
pub mod leaderboard;
pub mod levels;
pub mod rank;
pub mod xp;

use std::{pin::pin, sync::Arc, time::Duration};

use twilight_model::{
    application::{
        command::Command,
        interaction::{
            Interaction, InteractionData,
            application_command::{CommandData, CommandDataOption, CommandOptionValue},
        },
    },
    channel::message::{AllowedMentions, Embed, MessageFlags},
    guild::Permissions,
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker},
    },
    user::User,
};

use crate::{
    context::Context,
    error::{BotError, BotResult},
};

/// Every command Keeper registers.
pub fn definitions() -> Vec<Command> {
    vec![
        config::command(),
        rank::command(),
        leaderboard::command(),
        xp::command(),
        levels::command(),
    ]
}

/// Register the commands: on one guild (instant, for development) or globally.
pub async fn register(ctx: &Context, dev_guild: Option<Id<GuildMarker>>) -> BotResult<()> {
    let commands = definitions();
    let client = ctx.http.interaction(ctx.application_id);
    match dev_guild {
        Some(guild) => client.set_guild_commands(guild, &commands).await?,
        None => client.set_global_commands(&commands).await?,
    };
    tracing::info!(count = commands.len(), guild = ?dev_guild, "commands registered");
    Ok(())
}

/// Discord shows "The application did not respond" after 3 s; a command not done
/// by this time is deferred and its answer edited in when ready.
const DEFER_AFTER: Duration = Duration::from_millis(2_000);

/// One run of a slash command, with what the handler needs to know about it.
pub struct Invocation<'a> {
    pub guild_id: Id<GuildMarker>,
    pub channel_id: Id<ChannelMarker>,
    pub user: &'a User,
    /// The member's permissions in the channel as Discord computed them: the
    /// command's `default_member_permissions` only hides it in the client, so
    /// every privileged handler checks these again.
    pub permissions: Permissions,
    pub data: &'a CommandData,
}

impl Invocation<'_> {
    pub fn require(&self, permission: Permissions, name: &'static str) -> BotResult<()> {
        if self.permissions.contains(permission)
            || self.permissions.contains(Permissions::ADMINISTRATOR)
        {
            Ok(())
        } else {
            Err(BotError::Forbidden(name))
        }
    }

    /// For the settings commands: refuse members without Manage Server, then name
    /// the subcommand (or group) that was run, with its options.
    pub fn manage_server_subcommand(&self) -> BotResult<(&str, Options<'_>)> {
        self.require(Permissions::MANAGE_GUILD, "Manage Server")?;
        self.options()
            .subcommand()
            .ok_or_else(|| missing("subcommand"))
    }

    pub fn options(&self) -> Options<'_> {
        Options(&self.data.options)
    }

    /// The display name of a user given as an option, from the interaction's
    /// resolved data.
    pub fn resolved_user(&self, id: Id<UserMarker>) -> Option<&User> {
        self.data.resolved.as_ref()?.users.get(&id)
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

/// What a command answers.
#[derive(Debug, Default, Clone)]
pub struct Reply {
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
    /// Only the person who ran the command sees it.
    pub ephemeral: bool,
}

impl Reply {
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            ..Self::default()
        }
    }

    pub fn ephemeral(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            ephemeral: true,
            ..Self::default()
        }
    }

    pub fn embed(embed: Embed) -> Self {
        Self {
            embeds: vec![embed],
            ..Self::default()
        }
    }

    fn data(self) -> InteractionResponseData {
        InteractionResponseData {
            content: self.content,
            embeds: Some(self.embeds),
            // Replies never ping: a command's answer names people, it doesn't call them.
            allowed_mentions: Some(AllowedMentions::default()),
            flags: self.ephemeral.then_some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }
    }
}

/// Whether a command's answers are only for the person who ran it (settings and
/// corrections), so a deferral is private from the start: Discord fixes a deferred
/// answer's visibility when it is deferred.
fn answers_privately(name: &str) -> bool {
    matches!(name, config::NAME | xp::NAME | levels::NAME)
}

async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    match inv.data.name.as_str() {
        config::NAME => config::run(ctx, inv).await,
        rank::NAME => rank::run(ctx, inv).await,
        leaderboard::NAME => leaderboard::run(ctx, inv).await,
        xp::NAME => xp::run(ctx, inv).await,
        levels::NAME => levels::run(ctx, inv).await,
        other => Err(BotError::user(format!(
            "I don't know the command `/{other}` any more."
        ))),
    }
}

/// Answer one interaction. Never fails: errors are logged with their context and
/// turned into a short ephemeral answer for the person.
pub async fn handle(ctx: Arc<Context>, interaction: Interaction) {
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        return;
    };
    let Some(guild_id) = interaction.guild_id else {
        respond(
            &ctx,
            &interaction,
            Reply::ephemeral("Keeper's commands work in servers only."),
        )
        .await;
        return;
    };
    let Some(member) = &interaction.member else {
        return;
    };
    let Some(user) = member.user.as_ref().or(interaction.user.as_ref()) else {
        return;
    };
    let Some(channel) = &interaction.channel else {
        return;
    };
    let inv = Invocation {
        guild_id,
        channel_id: channel.id,
        user,
        permissions: member.permissions.unwrap_or_else(Permissions::empty),
        data,
    };

    let started = std::time::Instant::now();
    let mut work = pin!(run(&ctx, &inv));
    let (result, deferred) = match tokio::time::timeout(DEFER_AFTER, &mut work).await {
        Ok(result) => (result, false),
        Err(_) => {
            defer(&ctx, &interaction, answers_privately(&data.name)).await;
            (work.await, true)
        }
    };
    let handled_ms = started.elapsed().as_secs_f64() * 1e3;
    let reply = result.unwrap_or_else(|err| {
        log_error(&err, &inv);
        Reply::ephemeral(err.reply())
    });
    if deferred && reply.ephemeral && !answers_privately(&data.name) {
        // A public deferral can't become private: remove it, answer privately.
        replace_deferred(&ctx, &interaction, reply).await;
    } else if deferred {
        edit_deferred(&ctx, &interaction, reply).await;
    } else {
        respond(&ctx, &interaction, reply).await;
    }
    tracing::debug!(guild = %inv.guild_id, command = %inv.data.name,
        handled_ms, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "answered");
}

fn log_error(err: &BotError, inv: &Invocation<'_>) {
    if err.is_internal() {
        tracing::error!(guild = %inv.guild_id, channel = %inv.channel_id, user = %inv.user.id,
            command = %inv.data.name, error = %err, "command failed");
    } else {
        tracing::debug!(guild = %inv.guild_id, user = %inv.user.id, command = %inv.data.name,
            refusal = %err, "command refused");
    }
}

async fn respond(ctx: &Context, interaction: &Interaction, reply: Reply) {
    let response = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(reply.data()),
    };
    let client = ctx.interactions.interaction(ctx.application_id);
    if let Err(err) = client
        .create_response(interaction.id, &interaction.token, &response)
        .await
    {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not answer an interaction");
    }
}

async fn defer(ctx: &Context, interaction: &Interaction, ephemeral: bool) {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: ephemeral.then(|| InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    };
    let client = ctx.interactions.interaction(ctx.application_id);
    if let Err(err) = client
        .create_response(interaction.id, &interaction.token, &response)
        .await
    {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not defer an interaction");
    }
}

async fn edit_deferred(ctx: &Context, interaction: &Interaction, reply: Reply) {
    let client = ctx.interactions.interaction(ctx.application_id);
    let none = AllowedMentions::default();
    let result = client
        .update_response(&interaction.token)
        .content(reply.content.as_deref())
        .embeds(Some(&reply.embeds))
        .allowed_mentions(Some(&none))
        .await;
    if let Err(err) = result {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not edit a deferred answer");
    }
}

/// Delete the public "thinking..." of a deferral and answer in a private follow-up
/// (an error must not be shown to the whole channel).
async fn replace_deferred(ctx: &Context, interaction: &Interaction, reply: Reply) {
    let client = ctx.interactions.interaction(ctx.application_id);
    if let Err(err) = client.delete_response(&interaction.token).await {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not remove a deferred answer");
    }
    let none = AllowedMentions::default();
    let result = client
        .create_followup(&interaction.token)
        .content(reply.content.as_deref().unwrap_or_default())
        .embeds(&reply.embeds)
        .flags(MessageFlags::EPHEMERAL)
        .allowed_mentions(Some(&none))
        .await;
    if let Err(err) = result {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not answer a deferred interaction");
    }
}
