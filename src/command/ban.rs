//! `/ban user [duration] [delete_messages] [reason]`: ban a user, member or not
//! (Ban Members), recorded as the guild's next case and done at Discord. A ban
//! with a duration is lifted when it ends (`lifts`), even across restarts.

use futures_util::FutureExt as _;
use keeper_store::CaseKind;
use twilight_model::application::{
    command::{Command, CommandType},
    interaction::InteractionContextType,
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, UserBuilder};

use super::{
    Invocation, Reply, Spec,
    sanction::{self, Act},
    warn::MAX_REASON,
};
use crate::{
    context::Context,
    duration,
    error::{BotError, BotResult},
};

pub const NAME: &str = "ban";

pub const SPEC: Spec = Spec::banners(NAME, command, |ctx, inv| run(ctx, inv).boxed());

/// The `delete_messages` choices: their value is the seconds deleted.
const DELETE: [(&str, &str); 4] = [
    ("none", "0"),
    ("1 hour", "3600"),
    ("1 day", "86400"),
    ("7 days", "604800"),
];

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Ban a user", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(UserBuilder::new("user", "The user to ban").required(true))
        .option(StringBuilder::new(
            "duration",
            "How long: 1h, 7d, 2w (default: until unbanned)",
        ))
        .option(
            StringBuilder::new("delete_messages", "Delete their recent messages").choices(DELETE),
        )
        .option(StringBuilder::new("reason", "Why").max_length(MAX_REASON as u16))
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let duration = match opts.string("duration") {
        Some(text) => Some(duration::parse(text).map_err(|e| BotError::user(e.to_string()))?),
        None => None,
    };
    let delete_message_seconds = opts
        .string("delete_messages")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0)
        .min(604_800);
    let act = Act {
        kind: CaseKind::Ban,
        member: false,
        duration,
        delete_message_seconds,
    };
    Ok(sanction::run(ctx, inv, act).await?.0)
}
