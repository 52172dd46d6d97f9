//! `/warn user reason [expires]`: a warning, recorded as the guild's next case
//! (Moderate Members). The member is told by DM (unless the guild turned that
//! off) and the mod-log gets the case; the answer names the case and says what
//! could not be done.

use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::{ActionStatus, Applied, Case, CaseKind, NewCase, Warned};
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    id::{
        Id,
        marker::{GuildMarker, InteractionMarker},
    },
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, UserBuilder};

use super::{Invocation, Reply, Spec, Text, TextInvocation, missing};
use crate::{
    acts,
    context::Context,
    duration,
    error::{BotError, BotResult},
    moderation::{Moderator, Needs, Target},
    modlog,
};

pub const NAME: &str = "warn";

pub const SPEC: Spec =
    Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed()).with_text(Text {
        name: NAME,
        aliases: &[],
        usage: "@member reason",
        example: "@alice spamming the welcome channel",
        help: "warn a member",
        run: |ctx, inv| run_text(ctx, inv).boxed(),
    });

/// Discord's own limit for an audit-log reason; a case's reason fits one.
pub const MAX_REASON: usize = 512;

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Warn a member", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(UserBuilder::new("user", "The member to warn").required(true))
        .option(
            StringBuilder::new("reason", "Why (the member is told)")
                .required(true)
                .max_length(MAX_REASON as u16),
        )
        .option(StringBuilder::new(
            "expires",
            "When it stops counting: 30m, 12h, 7d, 2w, 1d12h (default: the server's setting)",
        ))
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let user = opts.user("user").ok_or_else(|| missing("user"))?;
    let request = Request {
        guild: inv.guild_id,
        moderator: Moderator {
            id: inv.user.id,
            roles: inv.roles,
        },
        target: Target {
            id: user,
            bot: inv.resolved_user(user).is_some_and(|u| u.bot),
            roles: inv.resolved_member_roles(user),
        },
        reason: opts.string("reason").ok_or_else(|| missing("reason"))?,
        expires: opts.string("expires"),
        once: inv.interaction_id,
    };
    warn(ctx, &request).await.map(Reply::ephemeral)
}

/// `warn @member reason`: the same, typed (the server's default expiry).
pub async fn run_text(ctx: &Context, inv: &TextInvocation<'_>) -> BotResult<Reply> {
    let (Some(target), Some(reason)) = (inv.mentions.first(), text_reason(inv.args)) else {
        return Err(inv.usage_error());
    };
    let request = Request {
        guild: inv.guild_id,
        moderator: Moderator {
            id: inv.author.id,
            roles: inv.author.roles.unwrap_or(&[]),
        },
        target: Target {
            id: target.id,
            bot: target.bot,
            roles: target.roles,
        },
        reason,
        expires: None,
        // A message's id is a snowflake, unique among all of Discord's ids:
        // it marks the command's write as an interaction's id does, so a
        // message replayed after a crash warns nobody twice.
        once: inv.message_id.cast(),
    };
    warn(ctx, &request).await.map(Reply::text)
}

/// The reason of a typed `warn`: what follows the first word (the mention).
fn text_reason(args: &str) -> Option<&str> {
    let (mention, reason) = args.split_once(char::is_whitespace)?;
    (mention.starts_with("<@") && !reason.trim().is_empty()).then_some(reason.trim())
}

/// One warning asked for, by either form.
struct Request<'a> {
    guild: Id<GuildMarker>,
    moderator: Moderator<'a>,
    target: Target<'a>,
    reason: &'a str,
    /// As typed; `None`: the server's default.
    expires: Option<&'a str>,
    /// What the write is recorded under, so it happens once.
    once: Id<InteractionMarker>,
}

/// Check, record, tell, log: the answer to the moderator.
async fn warn(ctx: &Context, request: &Request<'_>) -> BotResult<String> {
    let guild = request.guild;
    let reason = reason(request.reason)?;
    let settings = ctx.guilds.settings(guild);
    let expires = match request.expires {
        Some(text) => Some(duration::parse(text).map_err(|e| BotError::user(e.to_string()))?),
        None => settings
            .warn_expiry_secs
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
    };
    let needs = Needs {
        member: true,
        keeper_acts: false,
    };
    let facts = super::sanction::may(ctx, guild, &request.moderator, &request.target, needs)?;

    let (now, user) = (Utc::now(), request.target.id);
    let mut warning = NewCase::new(guild, user, request.moderator.id, CaseKind::Warn, now);
    warning.reason = Some(reason.to_owned());
    warning.expires_at = match expires {
        Some(d) => Some(now + chrono::Duration::from_std(d).map_err(|_| too_long())?),
        None => None,
    };
    let Applied::Now(Warned {
        warning,
        active,
        escalation,
    }) = ctx
        .store
        .add_warning(&warning, now, Some(request.once))
        .await?
    else {
        return Ok(super::ALREADY_DONE.to_owned());
    };
    let mut answer = format!(
        "Warned <@{user}>: case #{}. They have {active} active warning{}.",
        warning.number,
        if active == 1 { "" } else { "s" }
    );
    if let Some(expires) = warning.expires_at {
        answer.push_str(&format!(
            " It stops counting {}.",
            modlog::timestamp(expires)
        ));
    }
    if settings.dm_on_warn {
        let told = tell(ctx, &facts.name, &warning).await;
        if let Err(err) = ctx.store.set_dm_status(guild, warning.number, told).await {
            tracing::warn!(%guild, case = warning.number, error = %err,
                "could not record whether the warning's DM went out");
        }
        if !told {
            answer.push_str(" I couldn't tell them by DM (their DMs are closed to me).");
        }
    }
    if let Some(note) = modlog::write(ctx, &warning).await.note() {
        answer.push(' ');
        answer.push_str(note);
    }
    // Recorded (pending) in the warning's transaction, so it runs once: here,
    // or at the next start if Keeper stops before Discord answers.
    if let Some(escalation) = escalation {
        answer.push(' ');
        answer.push_str(&escalate(ctx, &escalation).await);
    }
    Ok(answer)
}

/// Carry out the act a warning triggered and log it; what to tell the
/// moderator.
async fn escalate(ctx: &Context, escalation: &Case) -> String {
    let done = acts::carry_out(ctx, escalation, 0).await;
    let act = modlog::action(done.kind).to_lowercase();
    let mut text = match done.action_status {
        ActionStatus::Failed => format!(
            "That reached an escalation rule, recorded as case #{} ({act}), but Discord refused: {}",
            done.number,
            done.action_error.as_deref().unwrap_or("no reason given")
        ),
        _ => format!(
            "That reached an escalation rule: case #{} ({act}{}).",
            done.number,
            done.duration_secs
                .and_then(|s| u64::try_from(s).ok())
                .map(|s| format!(" for {}", duration::describe(Duration::from_secs(s))))
                .unwrap_or_default()
        ),
    };
    if let Some(note) = modlog::write(ctx, &done).await.note() {
        text.push(' ');
        text.push_str(note);
    }
    text
}

/// A case's reason as typed: trimmed, 1 to [`MAX_REASON`] characters.
pub fn reason(text: &str) -> BotResult<&str> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_REASON {
        return Err(BotError::user(format!(
            "Give a reason of 1 to {MAX_REASON} characters."
        )));
    }
    Ok(text)
}

fn too_long() -> BotError {
    BotError::user("That expiry is too far away.")
}

/// Tell the member by DM; whether Discord took the message.
async fn tell(ctx: &Context, server: &str, warning: &Case) -> bool {
    let user = warning.target_id;
    let channel = match ctx.http.create_private_channel(user).await {
        Ok(response) => match response.model().await {
            Ok(channel) => channel,
            Err(err) => {
                tracing::warn!(%user, error = %err, "could not read a DM channel");
                return false;
            }
        },
        Err(err) => {
            tracing::info!(%user, error = %err, "could not open a DM channel");
            return false;
        }
    };
    let mut text = format!(
        "You were warned in **{server}** (case #{}): {}",
        warning.number,
        warning.reason.as_deref().unwrap_or("no reason given")
    );
    if let Some(expires) = warning.expires_at {
        text.push_str(&format!(
            "\nIt stops counting {}.",
            modlog::timestamp(expires)
        ));
    }
    let sent = ctx
        .http
        .create_message(channel.id)
        .content(&text)
        .allowed_mentions(Some(&Default::default()))
        .await;
    if let Err(err) = &sent {
        tracing::info!(%user, error = %err, "could not DM a warned member");
    }
    sent.is_ok()
}

#[cfg(test)]
mod tests {
    use super::text_reason;

    #[test]
    fn a_typed_warning_is_a_mention_then_a_reason() {
        assert_eq!(
            text_reason("<@12> spamming  links "),
            Some("spamming  links")
        );
        assert_eq!(text_reason("<@!12> caps"), Some("caps"));
        assert_eq!(text_reason("<@12>"), None, "no reason");
        assert_eq!(text_reason("<@12>   "), None, "no reason");
        assert_eq!(text_reason("alice spam"), None, "no mention first");
        assert_eq!(text_reason(""), None);
    }
}
