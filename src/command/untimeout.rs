//! `/untimeout user [reason]`: remove a member's timeout (Timeout Members), recorded as the guild's next case and done
//! at Discord.

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
use crate::{context::Context, error::BotResult};

pub const NAME: &str = "untimeout";

pub const SPEC: Spec = Spec::moderators(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Remove a member's timeout", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(UserBuilder::new("user", "The member whose timeout ends").required(true))
        .option(StringBuilder::new("reason", "Why").max_length(MAX_REASON as u16))
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let act = Act {
        kind: CaseKind::Untimeout,
        member: true,
        duration: None,
        delete_message_seconds: 0,
    };
    Ok(sanction::run(ctx, inv, act).await?.0)
}
