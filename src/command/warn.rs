//! `/warn user reason [expires]`: a warning, recorded as the guild's next case
//! (Moderate Members). The member is told by DM (unless the guild turned that
//! off) and the mod-log gets the case; the answer names the case and says what
//! could not be done.

use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::{Applied, CaseKind, NewCase, Warned};
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, UserBuilder};

use super::{Invocation, Reply, Spec, missing};
use crate::{
    context::Context,
    duration,
    error::{BotError, BotResult},
    moderation::{self, Moderator, Needs, Target},
    modlog,
};

pub const NAME: &str = "warn";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

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
    let reason = opts
        .string("reason")
        .ok_or_else(|| missing("reason"))?
        .trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(BotError::user(format!(
            "Give a reason of 1 to {MAX_REASON} characters."
        )));
    }
    let settings = ctx.guilds.settings(inv.guild_id);
    let expires = match opts.string("expires") {
        Some(text) => Some(duration::parse(text).map_err(|e| BotError::user(e.to_string()))?),
        None => settings
            .warn_expiry_secs
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
    };
    let facts = ctx.guilds.facts(inv.guild_id).ok_or_else(|| {
        BotError::user("I don't know this server's roles yet; try again in a moment.")
    })?;
    let target = Target {
        id: user,
        bot: inv.resolved_user(user).is_some_and(|u| u.bot),
        roles: inv.resolved_member_roles(user),
    };
    let moderator = Moderator {
        id: inv.user.id,
        roles: inv.roles,
    };
    let needs = Needs {
        member: true,
        keeper_acts: false,
    };
    moderation::check(&facts, &moderator, &target, needs)
        .map_err(|refusal| BotError::user(refusal.answer()))?;

    let now = Utc::now();
    let mut warning = NewCase::new(inv.guild_id, user, inv.user.id, CaseKind::Warn, now);
    warning.reason = Some(reason.to_owned());
    warning.expires_at = match expires {
        Some(d) => Some(now + chrono::Duration::from_std(d).map_err(|_| too_long())?),
        None => None,
    };
    let Applied::Now(Warned {
        warning, active, ..
    }) = ctx
        .store
        .add_warning(&warning, now, Some(inv.interaction_id))
        .await?
    else {
        return Ok(Reply::ephemeral(super::ALREADY_DONE));
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
        if let Err(err) = ctx
            .store
            .set_dm_status(inv.guild_id, warning.number, told)
            .await
        {
            tracing::warn!(guild = %inv.guild_id, case = warning.number, error = %err,
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
    Ok(Reply::ephemeral(answer))
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
async fn tell(ctx: &Context, server: &str, warning: &keeper_store::Case) -> bool {
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
