//! Keeper's commands: the registry ([`COMMANDS`]), their registration with
//! Discord, and how an interaction reaches one. Each command lives in
//! `command/<name>.rs` with its `NAME`, its `SPEC` (the row of the registry), its
//! slash definition (`command()`) and handler (`run()`), and, when it has a text
//! twin (`!rank`), that twin's pure argument parsing and handler (`run_text()`).
//! `!help` and the slash definitions are made from the registry, and so are the
//! permission checks: a command's permission is stated once, in its `SPEC`.

pub mod ban;
pub mod case;
pub mod clearwarnings;
mod click;
pub mod config;
pub mod help;
mod invocation;
pub mod kick;
pub mod leaderboard;
pub mod levels;
pub mod mydata;
pub mod note;
pub mod rank;
pub mod reason;
mod reply;
mod sanction;
pub mod text;
pub mod timeout;
pub mod unban;
pub mod untimeout;
pub mod unwarn;
pub mod warn;
pub mod warnings;
pub mod xp;

use std::{pin::pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use twilight_model::{
    application::{
        command::Command,
        interaction::{Interaction, InteractionData},
    },
    guild::Permissions,
    id::{
        Id,
        marker::{GuildMarker, InteractionMarker},
    },
};

pub use click::{Click, custom_id};
pub use invocation::{Invocation, Options, missing};
pub use reply::Reply;
pub use text::TextInvocation;

use crate::{
    context::Context,
    error::{BotError, BotResult},
    metrics::Outcome,
    snowflake,
};

/// Every command Keeper has, in the order `!help` lists them.
pub const COMMANDS: &[Spec] = &[
    rank::SPEC,
    leaderboard::SPEC,
    help::SPEC,
    config::SPEC,
    xp::SPEC,
    levels::SPEC,
    mydata::SPEC,
    warn::SPEC,
    warnings::SPEC,
    unwarn::SPEC,
    clearwarnings::SPEC,
    case::SPEC,
    reason::SPEC,
    note::SPEC,
    timeout::SPEC,
    untimeout::SPEC,
    kick::SPEC,
    ban::SPEC,
    unban::SPEC,
];

/// The answer to a command Discord delivered twice (a session replayed after a
/// restart): its change was made the first time, not again.
pub const ALREADY_DONE: &str =
    "Done already: Discord delivered this command twice, and it was applied once.";

/// One command of the registry.
pub struct Spec {
    /// The slash command's name, or the text command's when it has no slash form.
    pub name: &'static str,
    /// Who may run it. Discord's client hides a slash command from members
    /// without it (`default_member_permissions`), but that is only a display
    /// rule: Keeper checks it again on every run, slash or text.
    pub permission: Option<Permission>,
    /// Only the person who ran it sees the answers (settings, corrections), so a
    /// deferral is private from the start: Discord fixes a deferred answer's
    /// visibility when it is deferred.
    pub private: bool,
    pub slash: Option<Slash>,
    pub text: Option<Text>,
    /// What its buttons do (`command/click.rs`): a click on a button whose
    /// `custom_id` starts with the command's name.
    pub button: Option<ButtonRun>,
}

/// A permission a command needs, and its name as Discord's client shows it.
#[derive(Clone, Copy, Debug)]
pub struct Permission {
    pub bits: Permissions,
    pub name: &'static str,
}

pub const MANAGE_SERVER: Permission = Permission {
    bits: Permissions::MANAGE_GUILD,
    name: "Manage Server",
};

pub const MODERATE_MEMBERS: Permission = Permission {
    bits: Permissions::MODERATE_MEMBERS,
    name: "Timeout Members",
};

pub const KICK_MEMBERS: Permission = Permission {
    bits: Permissions::KICK_MEMBERS,
    name: "Kick Members",
};

pub const BAN_MEMBERS: Permission = Permission {
    bits: Permissions::BAN_MEMBERS,
    name: "Ban Members",
};

/// The slash form of a command.
pub struct Slash {
    /// Its definition, without `default_member_permissions` (the registry adds it
    /// from [`Spec::permission`]).
    pub definition: fn() -> Command,
    pub run: SlashRun,
}

/// The text form of a command: `{prefix}{name} {usage}`.
pub struct Text {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Its arguments as `!help` shows them, e.g. `[page]`.
    pub usage: &'static str,
    /// An example of the arguments, for the answer to a malformed call.
    pub example: &'static str,
    /// What it does, in a few words, for `!help`.
    pub help: &'static str,
    pub run: for<'a> fn(&'a Context, &'a TextInvocation<'a>) -> BoxFuture<'a, BotResult<Reply>>,
}

impl Text {
    /// The answer to arguments the command can't read.
    pub fn usage_error(&self, prefix: &str) -> BotError {
        BotError::user(format!(
            "Usage: `{prefix}{} {}`, e.g. `{prefix}{} {}`.",
            self.name, self.usage, self.name, self.example
        ))
    }

    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// What a button's handler is.
pub type ButtonRun = for<'a> fn(&'a Context, &'a Click<'a>) -> BoxFuture<'a, BotResult<Reply>>;

/// What a slash command's handler is.
pub type SlashRun = for<'a> fn(&'a Context, &'a Invocation<'a>) -> BoxFuture<'a, BotResult<Reply>>;

impl Spec {
    /// A slash command anyone may run, answered in the channel.
    pub const fn everyone(name: &'static str, definition: fn() -> Command, run: SlashRun) -> Self {
        Self {
            name,
            permission: None,
            private: false,
            slash: Some(Slash { definition, run }),
            text: None,
            button: None,
        }
    }

    /// A slash command for the server's managers (settings, corrections),
    /// answered privately.
    pub const fn managers(name: &'static str, definition: fn() -> Command, run: SlashRun) -> Self {
        Self {
            permission: Some(MANAGE_SERVER),
            private: true,
            ..Self::everyone(name, definition, run)
        }
    }

    /// A slash command for moderators (Discord's Timeout Members, the
    /// permission it asks for warnings and timeouts), answered privately.
    pub const fn moderators(
        name: &'static str,
        definition: fn() -> Command,
        run: SlashRun,
    ) -> Self {
        Self {
            permission: Some(MODERATE_MEMBERS),
            private: true,
            ..Self::everyone(name, definition, run)
        }
    }

    /// A slash command for moderators who may kick (Discord's Kick Members),
    /// answered privately.
    pub const fn kickers(name: &'static str, definition: fn() -> Command, run: SlashRun) -> Self {
        Self {
            permission: Some(KICK_MEMBERS),
            ..Self::moderators(name, definition, run)
        }
    }

    /// A slash command for moderators who may ban (Discord's Ban Members),
    /// answered privately.
    pub const fn banners(name: &'static str, definition: fn() -> Command, run: SlashRun) -> Self {
        Self {
            permission: Some(BAN_MEMBERS),
            ..Self::moderators(name, definition, run)
        }
    }

    /// The command's buttons are handled by `run`.
    pub const fn with_button(self, run: ButtonRun) -> Self {
        Self {
            button: Some(run),
            ..self
        }
    }

    /// The command also answers as a text command.
    pub const fn with_text(self, text: Text) -> Self {
        Self {
            text: Some(text),
            ..self
        }
    }

    /// Refuse a member without the command's permission (Administrator has all).
    fn check(&self, permissions: Permissions) -> BotResult<()> {
        match self.permission {
            Some(needed)
                if !permissions.contains(needed.bits)
                    && !permissions.contains(Permissions::ADMINISTRATOR) =>
            {
                Err(BotError::Forbidden(needed.name))
            }
            _ => Ok(()),
        }
    }
}

/// The slash command named `name`.
fn slash(name: &str) -> Option<(&'static Spec, &'static Slash)> {
    COMMANDS
        .iter()
        .find(|spec| spec.name == name)
        .and_then(|spec| Some((spec, spec.slash.as_ref()?)))
}

/// The buttons of the command named `name`.
fn button(name: &str) -> Option<(&'static Spec, ButtonRun)> {
    COMMANDS
        .iter()
        .find(|spec| spec.name == name)
        .and_then(|spec| Some((spec, spec.button?)))
}

/// The text command answering to `name` (or an alias).
fn text_command(name: &str) -> Option<(&'static Spec, &'static Text)> {
    COMMANDS.iter().find_map(|spec| {
        let text = spec.text.as_ref()?;
        text.answers_to(name).then_some((spec, text))
    })
}

/// The slash definitions Keeper registers.
pub fn definitions() -> Vec<Command> {
    COMMANDS
        .iter()
        .filter_map(|spec| {
            let mut command = (spec.slash.as_ref()?.definition)();
            command.default_member_permissions = spec.permission.map(|p| p.bits);
            Some(command)
        })
        .collect()
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

/// Discord shows "The application did not respond" 3 s after the member ran
/// the command; a command not done 2 s after that moment is deferred and its
/// answer edited in when ready.
const DEFER_AFTER: Duration = Duration::from_millis(2_000);

/// How long Keeper may work on an interaction before deferring it, at `now` by
/// Discord's clock: the 3 s window counts from when the member ran the command
/// (the interaction's ID says), not from when Keeper got to it, which may be
/// later (gateway lag, a busy shard).
pub fn defer_after(interaction: Id<InteractionMarker>, now: DateTime<Utc>) -> Duration {
    // Whole milliseconds: an ID's moment is no finer.
    let age_ms = snowflake::age(interaction.get(), now).num_milliseconds();
    DEFER_AFTER.saturating_sub(Duration::from_millis(age_ms.max(0) as u64))
}

/// Whether the interaction's 3 s window has passed at `now` (Discord's clock):
/// the member has already seen it fail, and running it now (it was delivered
/// late, or replayed after a restart) would do what they think was not done.
pub fn window_passed(interaction: Id<InteractionMarker>, now: DateTime<Utc>) -> bool {
    snowflake::age(interaction.get(), now) >= snowflake::ANSWER_WINDOW
}

/// Answer one interaction. Never fails: errors are logged with their context and
/// turned into a short ephemeral answer for the person.
pub async fn handle(ctx: Arc<Context>, interaction: Interaction) {
    let data = match &interaction.data {
        Some(InteractionData::ApplicationCommand(data)) => data,
        Some(InteractionData::MessageComponent(data)) => {
            return handle_click(&ctx, &interaction, data).await;
        }
        _ => return,
    };
    let Some(inv) = Invocation::new(&interaction, data) else {
        reply::respond(
            &ctx,
            &interaction,
            Reply::ephemeral("Keeper's commands work in servers only."),
        )
        .await;
        return;
    };
    let now = ctx.clock.now();
    if window_passed(interaction.id, now) {
        tracing::warn!(guild = %inv.guild_id, user = %inv.user.id, command = %data.name,
            age_ms = snowflake::age(interaction.id.get(), now).num_milliseconds(),
            "not run: past its 3 s answer window (delivered late, or replayed after a restart); the member saw it fail");
        ctx.metrics
            .command(known(slash(&data.name)), Outcome::Late, None);
        return;
    }
    let found = slash(&data.name);
    let private = found.is_some_and(|(spec, _)| spec.private);
    let started = std::time::Instant::now();
    let mut work = pin!(run(&ctx, &inv, found));
    let defer_in = defer_after(interaction.id, now);
    let (result, deferred) = match tokio::time::timeout(defer_in, &mut work).await {
        Ok(result) => (result, false),
        Err(_) => {
            reply::defer(&ctx, &interaction, private).await;
            (work.await, true)
        }
    };
    let handled_ms = started.elapsed().as_secs_f64() * 1e3;
    ctx.metrics
        .command(known(found), outcome(&result), Some(started.elapsed()));
    let reply = result.unwrap_or_else(|err| {
        log_error(&err, &inv);
        Reply::ephemeral(err.reply())
    });
    reply::answer(&ctx, &interaction, reply, deferred, private).await;
    tracing::debug!(guild = %inv.guild_id, command = %inv.data.name,
        handled_ms, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "answered");
}

/// Answer a click on one of Keeper's buttons, as [`handle`] answers a
/// command: late deliveries are not run, the command's permission is checked
/// again, slow work is deferred, errors become a short answer.
async fn handle_click(
    ctx: &Context,
    interaction: &Interaction,
    data: &twilight_model::application::interaction::message_component::MessageComponentInteractionData,
) {
    let Some((name, click)) = Click::new(interaction, data) else {
        return;
    };
    let now = ctx.clock.now();
    if window_passed(interaction.id, now) {
        tracing::warn!(guild = %click.guild_id, user = %click.user.id, button = %data.custom_id,
            "click not run: past its 3 s answer window");
        ctx.metrics
            .command(known(button(name)), Outcome::Late, None);
        return;
    }
    let found = button(name);
    let work = async {
        let Some((spec, run)) = found else {
            return Err(BotError::user("This button no longer works."));
        };
        spec.check(click.permissions)?;
        if click.expired(now) {
            return Err(BotError::user(
                "This button has expired: run the command again.",
            ));
        }
        run(ctx, &click).await
    };
    let started = std::time::Instant::now();
    let mut work = pin!(work);
    let (result, deferred) =
        match tokio::time::timeout(defer_after(interaction.id, now), &mut work).await {
            Ok(result) => (result, false),
            Err(_) => {
                reply::defer_update(ctx, interaction).await;
                (work.await, true)
            }
        };
    ctx.metrics
        .command(known(found), outcome(&result), Some(started.elapsed()));
    let reply = result.unwrap_or_else(|err| {
        if err.is_internal() {
            tracing::error!(guild = %click.guild_id, user = %click.user.id,
                button = %data.custom_id, error = %err, "button failed");
        }
        Reply::ephemeral(err.reply())
    });
    reply::update(ctx, interaction, reply, deferred).await;
}

async fn run(
    ctx: &Context,
    inv: &Invocation<'_>,
    found: Option<(&Spec, &Slash)>,
) -> BotResult<Reply> {
    let Some((spec, slash)) = found else {
        return Err(BotError::user(format!(
            "I don't know the command `/{}` any more.",
            inv.data.name
        )));
    };
    spec.check(inv.permissions)?;
    (slash.run)(ctx, inv).await
}

/// A command's name for the metrics: one of Keeper's, never what was sent
/// (a label per made-up name would grow without bound).
fn known<T>(found: Option<(&Spec, T)>) -> &'static str {
    found.map_or("unknown", |(spec, _)| spec.name)
}

/// How a command's run ended, for `keeper_commands_total`.
pub fn outcome<T>(result: &BotResult<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Done,
        Err(err) if err.is_internal() => Outcome::Failed,
        Err(_) => Outcome::Refused,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_is_valid_and_carries_its_permission() {
        let definitions = definitions();
        assert_eq!(
            definitions.len(),
            COMMANDS.iter().filter(|s| s.slash.is_some()).count()
        );
        for (command, spec) in definitions
            .iter()
            .zip(COMMANDS.iter().filter(|s| s.slash.is_some()))
        {
            twilight_validate::command::command(command).unwrap();
            assert_eq!(command.name, spec.name);
            assert_eq!(
                command.default_member_permissions,
                spec.permission.map(|p| p.bits),
                "/{}",
                spec.name
            );
        }
    }

    #[test]
    fn names_and_aliases_are_unique() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "two commands share a name");
        let mut words: Vec<&str> = COMMANDS
            .iter()
            .filter_map(|s| s.text.as_ref())
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
            .collect();
        let all = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), all, "two text commands answer to one word");
    }

    #[test]
    fn lookups_find_commands_by_name_and_alias() {
        assert_eq!(slash("rank").map(|(s, _)| s.name), Some(rank::NAME));
        assert!(slash("help").is_none(), "help has no slash form");
        assert_eq!(
            text_command("lb").map(|(s, _)| s.name),
            Some(leaderboard::NAME)
        );
        assert!(text_command("config").is_none());
    }

    /// The ID of an interaction made `ago_ms` before `now`.
    fn made(now: DateTime<Utc>, ago_ms: i64) -> Id<InteractionMarker> {
        const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
        let ms = (now.timestamp_millis() - ago_ms - DISCORD_EPOCH_MS) as u64;
        Id::new((ms << 22) | 7)
    }

    #[test]
    fn the_answer_window_counts_from_the_interactions_making() {
        let now = Utc::now();
        assert_eq!(defer_after(made(now, 0), now), Duration::from_secs(2));
        assert_eq!(
            defer_after(made(now, 1_500), now),
            Duration::from_millis(500)
        );
        // Delivered 2.5 s late: defer at once, there is no time to lose.
        assert_eq!(defer_after(made(now, 2_500), now), Duration::ZERO);
        // Keeper's clock behind Discord's: no age, the full 2 s.
        assert_eq!(defer_after(made(now, -4_000), now), Duration::from_secs(2));
    }

    #[test]
    fn the_window_closes_three_seconds_after_the_command_was_run() {
        let now = Utc::now();
        assert!(!window_passed(made(now, 0), now));
        assert!(!window_passed(made(now, 2_999), now));
        assert!(window_passed(made(now, 3_000), now));
        assert!(
            window_passed(made(now, 60_000), now),
            "a replay after a restart"
        );
    }

    #[test]
    fn permissions_are_checked_from_the_spec() {
        let needs = config::SPEC;
        assert!(matches!(
            needs.check(Permissions::SEND_MESSAGES),
            Err(BotError::Forbidden("Manage Server"))
        ));
        assert!(needs.check(Permissions::MANAGE_GUILD).is_ok());
        assert!(needs.check(Permissions::ADMINISTRATOR).is_ok());
        assert!(rank::SPEC.check(Permissions::empty()).is_ok());
    }
}
