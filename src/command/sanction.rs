//! What `/timeout`, `/untimeout`, `/kick`, `/ban` and `/unban` share: check the
//! target, record the case pending, carry it out at Discord, write the mod-log
//! and answer naming the case (and what Discord refused). The target check
//! ([`may_act`]) serves `/note` too.

use chrono::Utc;
use keeper_store::{ActionStatus, Applied, Case, CaseKind, GuildFacts, NewCase};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use super::{ALREADY_DONE, Invocation, Reply, missing, warn};
use crate::{
    acts,
    context::Context,
    error::{BotError, BotResult},
    moderation::{self, Moderator, Needs, Target},
    modlog,
};

/// One act a command asks for.
pub struct Act {
    pub kind: CaseKind,
    /// The act needs the target to be a member (all but bans and unbans).
    pub member: bool,
    /// How long it lasts (a timeout, a temporary ban).
    pub duration: Option<std::time::Duration>,
    /// What a ban deletes of the member's recent messages.
    pub delete_message_seconds: u32,
}

/// Check, record, carry out, log and answer; the recorded case with the answer.
pub async fn run(
    ctx: &Context,
    inv: &Invocation<'_>,
    act: Act,
) -> BotResult<(Reply, Option<Case>)> {
    let opts = inv.options();
    let user = opts.user("user").ok_or_else(|| missing("user"))?;
    let reason = match opts.string("reason") {
        Some(text) => Some(warn::reason(text)?.to_owned()),
        None => None,
    };
    let needs = Needs {
        member: act.member,
        keeper_acts: true,
    };
    may_act(ctx, inv, user, needs)?;

    let now = Utc::now();
    let mut case = NewCase::new(inv.guild_id, user, inv.user.id, act.kind, now);
    case.reason = reason;
    if let Some(length) = act.duration {
        let length = chrono::Duration::from_std(length)
            .map_err(|_| BotError::user("That duration is too long."))?;
        case.duration_secs = Some(length.num_seconds());
        case.expires_at = Some(now + length);
    }
    let Applied::Now(recorded) = ctx.store.add_case(&case, Some(inv.interaction_id)).await? else {
        return Ok((Reply::ephemeral(ALREADY_DONE), None));
    };
    let done = acts::carry_out(ctx, &recorded, act.delete_message_seconds).await;
    let mut answer = match done.action_status {
        ActionStatus::Failed => format!(
            "Case #{} is recorded, but Discord refused: {}",
            done.number,
            done.action_error.as_deref().unwrap_or("no reason given")
        ),
        _ => {
            let mut text = format!("{} <@{user}>: case #{}.", past(act.kind), done.number);
            if let Some(ends) = done.expires_at {
                text.push_str(&format!(" It ends {}.", modlog::timestamp(ends)));
            }
            text
        }
    };
    if let Some(note) = modlog::write(ctx, &done).await.note() {
        answer.push(' ');
        answer.push_str(note);
    }
    Ok((Reply::ephemeral(answer), Some(done)))
}

/// Refuse, with a clear answer, an act the interaction's member may not make
/// on `user` ([`may`], the two read from the interaction).
pub fn may_act(
    ctx: &Context,
    inv: &Invocation<'_>,
    user: Id<UserMarker>,
    needs: Needs,
) -> BotResult<()> {
    let target = Target {
        id: user,
        bot: inv.resolved_user(user).is_some_and(|u| u.bot),
        roles: inv.resolved_member_roles(user),
    };
    let moderator = Moderator {
        id: inv.user.id,
        roles: inv.roles,
    };
    may(ctx, inv.guild_id, &moderator, &target, needs).map(drop)
}

/// Refuse, with a clear answer, an act `moderator` may not make on `target`
/// in `guild` ([`moderation::check`] on the guild's facts), whichever form
/// (slash or typed) the command came in; the facts it checked, when allowed.
pub fn may(
    ctx: &Context,
    guild: Id<GuildMarker>,
    moderator: &Moderator<'_>,
    target: &Target<'_>,
    needs: Needs,
) -> BotResult<GuildFacts> {
    let facts = ctx.guilds.facts(guild).ok_or_else(|| {
        BotError::user("I don't know this server's roles yet; try again in a moment.")
    })?;
    moderation::check(&facts, moderator, target, needs)
        .map_err(|refusal| BotError::user(refusal.answer()))?;
    Ok(facts)
}

fn past(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Timeout => "Timed out",
        CaseKind::Untimeout => "Removed the timeout of",
        CaseKind::Kick => "Kicked",
        CaseKind::Ban => "Banned",
        CaseKind::Unban => "Unbanned",
        CaseKind::Warn => "Warned",
        CaseKind::Unwarn => "Revoked a warning of",
        CaseKind::Note => "Noted",
    }
}
