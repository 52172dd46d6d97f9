//! `/case number`: one case in full, as the mod-log shows it, with the history
//! of its reason (Timeout Members).

use futures_util::FutureExt as _;
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, IntegerBuilder};

use super::{Invocation, Reply, Spec, missing};
use crate::{
    context::Context,
    error::{BotError, BotResult},
    modlog,
};

pub const NAME: &str = "case";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Show a moderation case", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(
            IntegerBuilder::new("number", "The case number")
                .required(true)
                .min_value(1),
        )
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let number = inv
        .options()
        .integer("number")
        .ok_or_else(|| missing("number"))?;
    let case = ctx
        .store
        .case(inv.guild_id, number)
        .await?
        .ok_or_else(|| BotError::user(format!("There is no case #{number} here.")))?;
    let amendments = ctx.store.amendments(inv.guild_id, number).await?;
    let mut reply = Reply {
        ephemeral: true,
        ..Reply::embed(modlog::embed(&case))
    };
    if !amendments.is_empty() {
        let history: Vec<String> = amendments
            .iter()
            .map(|a| {
                format!(
                    "<t:{}:f> <@{}> changed the reason from “{}”",
                    a.amended_at.timestamp(),
                    a.amended_by,
                    a.old_reason.as_deref().unwrap_or("none")
                )
            })
            .collect();
        reply.content = Some(format!("Reason history:\n{}", history.join("\n")));
    }
    Ok(reply)
}
