//! `/unwarn case [reason]`: revoke a warning (Moderate Members). It stays on
//! record, marked revoked by whom and when; it no longer counts, and its
//! mod-log message is edited to say so.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::{Applied, CaseKind};
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, IntegerBuilder, StringBuilder};

use super::{ALREADY_DONE, Invocation, Reply, Spec, missing, warn::MAX_REASON};
use crate::{
    context::Context,
    error::{BotError, BotResult},
    modlog,
};

pub const NAME: &str = "unwarn";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Revoke a warning", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(
            IntegerBuilder::new("case", "The warning's case number")
                .required(true)
                .min_value(1),
        )
        .option(StringBuilder::new("reason", "Why").max_length(MAX_REASON as u16))
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let number = opts.integer("case").ok_or_else(|| missing("case"))?;
    let no_such = || BotError::user(format!("There is no case #{number} here."));
    let case = ctx
        .store
        .case(inv.guild_id, number)
        .await?
        .ok_or_else(no_such)?;
    if case.kind != CaseKind::Warn {
        return Err(BotError::user(format!(
            "Case #{number} is a {}, not a warning: only warnings can be revoked.",
            modlog::action(case.kind).to_lowercase()
        )));
    }
    if case.revoked_at.is_some() {
        return Ok(Reply::ephemeral(format!(
            "Case #{number} was revoked already."
        )));
    }
    let (now, once) = (Utc::now(), Some(inv.interaction_id));
    let Applied::Now(revoked) = ctx
        .store
        .revoke_case(inv.guild_id, number, inv.user.id, now, once)
        .await?
    else {
        return Ok(Reply::ephemeral(ALREADY_DONE));
    };
    let mut revoked = revoked.ok_or_else(no_such)?;
    if let Some(reason) = opts
        .string("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        let note = format!(
            "{} (revoked: {reason})",
            revoked.reason.as_deref().unwrap_or("no reason given")
        );
        // The revocation's reason joins the case's, with its history kept.
        if let Applied::Now(Some(amended)) = ctx
            .store
            .amend_reason(inv.guild_id, number, &note, inv.user.id, now, None)
            .await?
        {
            revoked = amended;
        }
    }
    let mut answer = format!(
        "Case #{number} (<@{}>) is revoked: it no longer counts.",
        revoked.target_id
    );
    if let Some(note) = modlog::write(ctx, &revoked).await.note() {
        answer.push(' ');
        answer.push_str(note);
    }
    Ok(Reply::ephemeral(answer))
}
