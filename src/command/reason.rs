//! `/reason case text`: amend a case's reason (Timeout Members). The history
//! keeps who changed it from what, and when (`/case` shows it); the case's
//! mod-log message is edited.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::Applied;
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

pub const NAME: &str = "reason";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Change a case's reason", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(
            IntegerBuilder::new("case", "The case number")
                .required(true)
                .min_value(1),
        )
        .option(
            StringBuilder::new("text", "The new reason")
                .required(true)
                .max_length(MAX_REASON as u16),
        )
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let number = opts.integer("case").ok_or_else(|| missing("case"))?;
    let text = super::warn::reason(opts.string("text").ok_or_else(|| missing("text"))?)?;
    let (now, once) = (Utc::now(), Some(inv.interaction_id));
    let Applied::Now(amended) = ctx
        .store
        .amend_reason(inv.guild_id, number, text, inv.user.id, now, once)
        .await?
    else {
        return Ok(Reply::ephemeral(ALREADY_DONE));
    };
    let case =
        amended.ok_or_else(|| BotError::user(format!("There is no case #{number} here.")))?;
    let mut answer = format!("Case #{number}'s reason is now: {text}");
    if let Some(note) = modlog::write(ctx, &case).await.note() {
        answer.push(' ');
        answer.push_str(note);
    }
    Ok(Reply::ephemeral(answer))
}
