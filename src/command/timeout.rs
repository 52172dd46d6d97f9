//! `/timeout user duration [reason]`: time a member out (Timeout Members), at
//! most 28 days, recorded as the guild's next case and done at Discord.

use futures_util::FutureExt as _;
use keeper_store::CaseKind;
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, UserBuilder};

use super::{
    Invocation, Reply, Spec, missing,
    sanction::{self, Act},
    warn::MAX_REASON,
};
use crate::{
    context::Context,
    duration,
    error::{BotError, BotResult},
};

pub const NAME: &str = "timeout";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

/// Discord's longest timeout.
pub const MAX: std::time::Duration = std::time::Duration::from_secs(28 * 24 * 3600);

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Time a member out", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(UserBuilder::new("user", "The member to time out").required(true))
        .option(
            StringBuilder::new("duration", "How long, at most 28 days: 10m, 1h, 1d, 2w")
                .required(true),
        )
        .option(StringBuilder::new("reason", "Why").max_length(MAX_REASON as u16))
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let text = inv
        .options()
        .string("duration")
        .ok_or_else(|| missing("duration"))?;
    let length = duration::parse(text).map_err(|e| BotError::user(e.to_string()))?;
    if length > MAX {
        return Err(BotError::user(
            "A timeout lasts at most 28 days (Discord's limit); ban them instead for longer.",
        ));
    }
    let act = Act {
        kind: CaseKind::Timeout,
        member: true,
        duration: Some(length),
        delete_message_seconds: 0,
    };
    Ok(sanction::run(ctx, inv, act).await?.0)
}
