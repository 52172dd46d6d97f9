//! `/clearwarnings user [reason]`: revoke every active warning of a member
//! (Timeout Members). They stay on record, marked revoked; each one's mod-log
//! message is edited.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::Applied;
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, UserBuilder};

use super::{ALREADY_DONE, Invocation, Reply, Spec, missing, warn::MAX_REASON};
use crate::{context::Context, error::BotResult, modlog};

pub const NAME: &str = "clearwarnings";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "Revoke all of a member's active warnings",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(UserBuilder::new("user", "Whose warnings").required(true))
    .option(StringBuilder::new("reason", "Why").max_length(MAX_REASON as u16))
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let user = opts.user("user").ok_or_else(|| missing("user"))?;
    let (now, once) = (Utc::now(), Some(inv.interaction_id));
    let Applied::Now(revoked) = ctx
        .store
        .clear_warnings(inv.guild_id, user, inv.user.id, now, once)
        .await?
    else {
        return Ok(Reply::ephemeral(ALREADY_DONE));
    };
    if revoked.is_empty() {
        return Ok(Reply::ephemeral(format!(
            "<@{user}> has no active warnings."
        )));
    }
    let mut notes = Vec::new();
    for mut case in revoked.iter().cloned() {
        if let Some(reason) = opts
            .string("reason")
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let text = format!(
                "{} (revoked: {reason})",
                case.reason.as_deref().unwrap_or("no reason given")
            );
            if let Ok(Applied::Now(Some(amended))) = ctx
                .store
                .amend_reason(inv.guild_id, case.number, &text, inv.user.id, now, None)
                .await
            {
                case = amended;
            }
        }
        if let Some(note) = modlog::write(ctx, &case).await.note() {
            notes.push(note.to_owned());
        }
    }
    let numbers: Vec<String> = revoked.iter().map(|c| format!("#{}", c.number)).collect();
    let mut answer = format!(
        "Revoked <@{user}>'s {} active warning{}: {}.",
        revoked.len(),
        if revoked.len() == 1 { "" } else { "s" },
        numbers.join(", ")
    );
    // One failure to write the mod-log says it all.
    if let Some(note) = notes.first() {
        answer.push(' ');
        answer.push_str(note);
    }
    Ok(Reply::ephemeral(answer))
}
