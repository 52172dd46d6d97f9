//! `/unban user [reason]`: lift a ban (Ban Members), recorded as the guild's
//! next case and done at Discord. Unbanning before a temporary ban ends drops
//! its scheduled lift, and that ban's mod-log message is edited.

use futures_util::FutureExt as _;
use keeper_store::{ActionStatus, CaseKind, LiftStatus};
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
use crate::{context::Context, error::BotResult, modlog};

pub const NAME: &str = "unban";

pub const SPEC: Spec = Spec::banners(NAME, command, |ctx, inv| run(ctx, inv).boxed());

pub fn command() -> Command {
    CommandBuilder::new(NAME, "Lift a ban", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(UserBuilder::new("user", "The user to unban").required(true))
        .option(StringBuilder::new("reason", "Why").max_length(MAX_REASON as u16))
        .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let act = Act {
        kind: CaseKind::Unban,
        member: false,
        duration: None,
        delete_message_seconds: 0,
    };
    let (reply, unban) = sanction::run(ctx, inv, act).await?;
    let Some(unban) = unban.filter(|u| u.action_status == ActionStatus::Done) else {
        return Ok(reply);
    };
    // The ban this ends: its lift, if still scheduled, is not needed any more.
    let cases = ctx
        .store
        .cases(inv.guild_id, Some(unban.target_id), 50)
        .await?;
    if let Some(ban) = cases.into_iter().find(|c| c.kind == CaseKind::Ban)
        && ban.lift_status == Some(LiftStatus::Scheduled)
        && ctx.store.cancel_lift(inv.guild_id, ban.number).await?
        && let Some(ban) = ctx.store.case(inv.guild_id, ban.number).await?
    {
        modlog::write(ctx, &ban).await;
    }
    Ok(reply)
}
