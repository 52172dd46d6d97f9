//! `/note user text`: a note on a member's record (Timeout Members). A case
//! like any other, numbered and in the mod-log, that counts for nothing: no
//! warning, no escalation, and the member is not told.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::{Applied, CaseKind, NewCase};
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, UserBuilder};

use super::{ALREADY_DONE, Invocation, Reply, Spec, missing, warn::MAX_REASON};
use crate::{context::Context, error::BotResult, moderation::Needs, modlog};

pub const NAME: &str = "note";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "Note something on a member's record",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(UserBuilder::new("user", "Who it is about").required(true))
    .option(
        StringBuilder::new("text", "The note (the member is not told)")
            .required(true)
            .max_length(MAX_REASON as u16),
    )
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let user = opts.user("user").ok_or_else(|| missing("user"))?;
    let text = super::warn::reason(opts.string("text").ok_or_else(|| missing("text"))?)?;
    // A note about someone who left (or never joined) is still worth keeping.
    let needs = Needs {
        member: false,
        keeper_acts: false,
    };
    super::sanction::may_act(ctx, inv, user, needs)?;
    let mut note = NewCase::new(inv.guild_id, user, inv.user.id, CaseKind::Note, Utc::now());
    note.reason = Some(text.to_owned());
    let Applied::Now(case) = ctx.store.add_case(&note, Some(inv.interaction_id)).await? else {
        return Ok(Reply::ephemeral(ALREADY_DONE));
    };
    let mut answer = format!("Noted on <@{user}>'s record: case #{}.", case.number);
    if let Some(note) = modlog::write(ctx, &case).await.note() {
        answer.push(' ');
        answer.push_str(note);
    }
    Ok(Reply::ephemeral(answer))
}
