//! Carrying out a recorded case at Discord: a timeout, its removal, a kick, a
//! ban or an unban. The case is recorded pending first (so a crash between
//! recording and Discord's answer is completed at start-up), then acted once,
//! and Discord's answer is recorded: done, or failed with what Discord said.
//! One attempt: twilight's ratelimiter waits out a 429, nothing retries more.

use std::time::Duration;

use chrono::Utc;
use keeper_store::{ActionOutcome, ActionStatus, Case, CaseKind, LiftOutcome};
use tokio_util::sync::CancellationToken;
use twilight_http::{api_error::ApiError, error::ErrorType, request::AuditLogReason as _};
use twilight_model::util::Timestamp;

use crate::context::Context;

/// Carry out `case`'s act at Discord if it is still pending, with the case's
/// reason as the audit-log reason (`Case #N: …`), and record the outcome.
/// `delete_message_seconds` is what a ban deletes of the member's recent
/// messages (ignored for other acts). Returns the case as stored after, or as
/// it was when the store could not record the outcome (logged).
pub async fn carry_out(ctx: &Context, case: &Case, delete_message_seconds: u32) -> Case {
    if case.action_status != ActionStatus::Pending || !case.kind.acts_at_discord() {
        return case.clone();
    }
    let outcome = match act(ctx, case, delete_message_seconds).await {
        Ok(()) => ActionOutcome::Done,
        Err(why) => {
            tracing::info!(guild = %case.guild_id, case = case.number, error = %why,
                "Discord refused a case's act");
            ActionOutcome::Failed(why)
        }
    };
    match ctx
        .store
        .set_action_status(case.guild_id, case.number, outcome.clone())
        .await
    {
        Ok(Some(stored)) => {
            if stored.lift_status == Some(keeper_store::LiftStatus::Scheduled) {
                ctx.lifts.notify_one();
            }
            stored
        }
        // Not pending any more: another completion answered first.
        Ok(None) => match ctx.store.case(case.guild_id, case.number).await {
            Ok(Some(stored)) => stored,
            _ => case.clone(),
        },
        Err(err) => {
            tracing::warn!(guild = %case.guild_id, case = case.number, error = %err,
                ?outcome, "could not record how a case's act ended at Discord");
            case.clone()
        }
    }
}

/// Complete what a crash left pending between recording an act and Discord's
/// answer (a ban is completed without deleting messages): how many. Only
/// cases recorded before `started` (before this process took commands): a
/// later one is being carried out by its command.
pub async fn complete_pending(ctx: &Context, started: chrono::DateTime<Utc>) -> usize {
    let pending = match ctx.store.pending_actions(100).await {
        Ok(pending) => pending,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the acts left pending");
            return 0;
        }
    };
    let pending: Vec<Case> = pending
        .into_iter()
        .filter(|c| c.created_at < started)
        .collect();
    for case in &pending {
        let done = carry_out(ctx, case, 0).await;
        crate::modlog::write(ctx, &done).await;
    }
    if !pending.is_empty() {
        tracing::info!(
            acts = pending.len(),
            "completed the acts a stop left pending"
        );
    }
    pending.len()
}

/// The audit-log reason of a case's act: `Case #N: reason`, within Discord's
/// 512 characters.
pub fn audit_reason(case: &Case) -> String {
    let text = match case.reason.as_deref() {
        Some(reason) => format!("Case #{}: {reason}", case.number),
        None => format!("Case #{}", case.number),
    };
    text.chars().take(512).collect()
}

async fn act(ctx: &Context, case: &Case, delete_message_seconds: u32) -> Result<(), String> {
    let reason = audit_reason(case);
    let (guild, user) = (case.guild_id, case.target_id);
    let sent = match case.kind {
        CaseKind::Timeout => {
            let until = case
                .expires_at
                .or_else(|| {
                    case.duration_secs
                        .map(|s| case.created_at + chrono::Duration::seconds(s))
                })
                .ok_or("the timeout has no end")?;
            let until = Timestamp::from_secs(until.timestamp()).map_err(|e| e.to_string())?;
            ctx.http
                .update_guild_member(guild, user)
                .communication_disabled_until(Some(until))
                .reason(&reason)
                .await
                .map(drop)
        }
        CaseKind::Untimeout => ctx
            .http
            .update_guild_member(guild, user)
            .communication_disabled_until(None)
            .reason(&reason)
            .await
            .map(drop),
        CaseKind::Kick => ctx
            .http
            .remove_guild_member(guild, user)
            .reason(&reason)
            .await
            .map(drop),
        CaseKind::Ban => ctx
            .http
            .create_ban(guild, user)
            .delete_message_seconds(delete_message_seconds.min(604_800))
            .reason(&reason)
            .await
            .map(drop),
        CaseKind::Unban => ctx
            .http
            .delete_ban(guild, user)
            .reason(&reason)
            .await
            .map(drop),
        CaseKind::Warn | CaseKind::Unwarn | CaseKind::Note => return Ok(()),
    };
    sent.map_err(|err| describe(&err))
}

/// Discord's refusal, as a moderator can read it.
pub fn describe(err: &twilight_http::Error) -> String {
    match err.kind() {
        ErrorType::Response { error, status, .. } => match error {
            ApiError::General(general) => match general.code {
                50013 => "Missing Permissions (my role must be above theirs, with the permission for this)".to_owned(),
                10007 => "Unknown Member (they are not in the server)".to_owned(),
                10026 => "Unknown Ban (they are not banned)".to_owned(),
                _ => format!("{} (error {})", general.message, general.code),
            },
            _ => format!("HTTP {status}"),
        },
        _ => err.to_string(),
    }
}

/// Whether Discord answered Unknown Ban (10026): the user is not banned.
pub fn is_unknown_ban(err: &twilight_http::Error) -> bool {
    matches!(err.kind(), ErrorType::Response { error: ApiError::General(e), .. } if e.code == 10026)
}

/// The longest the lift loop sleeps: a lift is at most this late after
/// downtime, or after a ban recorded by another process.
const LIFT_LOOK: Duration = Duration::from_secs(30);

/// Until `shutdown`: lift the temporary bans that are due, soonest first, each
/// claimed for a minute so that a process that dies mid-lift loses it to
/// another (or to itself, restarted). First completes the acts a stop left
/// pending (recorded before `started`).
pub async fn lift_bans(
    ctx: std::sync::Arc<Context>,
    started: chrono::DateTime<Utc>,
    shutdown: CancellationToken,
) {
    complete_pending(&ctx, started).await;
    let claimer = format!(
        "{}:{}:{:016x}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "keeper".to_owned()),
        std::process::id(),
        rand::random::<u64>()
    );
    loop {
        let lifted = lift_due(&ctx, &claimer).await;
        let wait = if lifted == BATCH as usize {
            Duration::ZERO
        } else {
            match ctx.store.next_lift_at().await {
                Ok(Some(at)) => (at - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_secs(1), LIFT_LOOK),
                Ok(None) => LIFT_LOOK,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read when the next ban ends");
                    LIFT_LOOK
                }
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = ctx.lifts.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

const BATCH: u32 = 50;

/// Lift the bans due now: how many were claimed.
async fn lift_due(ctx: &Context, claimer: &str) -> usize {
    let due = match ctx
        .store
        .claim_due_lifts(Utc::now(), claimer, chrono::Duration::seconds(60), BATCH)
        .await
    {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = %err, "could not claim the bans due to be lifted");
            return 0;
        }
    };
    for ban in &due {
        let reason = format!("Case #{}: temporary ban ended", ban.number);
        let outcome = match ctx
            .http
            .delete_ban(ban.guild_id, ban.target_id)
            .reason(&reason)
            .await
        {
            Ok(_) => LiftOutcome::Lifted { at: Utc::now() },
            Err(err) if is_unknown_ban(&err) => LiftOutcome::Lifted { at: Utc::now() },
            Err(err) => LiftOutcome::Failed(describe(&err)),
        };
        match ctx
            .store
            .finish_lift(ban.guild_id, ban.number, claimer, outcome)
            .await
        {
            Ok(true) => {
                if let Ok(Some(lifted)) = ctx.store.case(ban.guild_id, ban.number).await {
                    crate::modlog::write(ctx, &lifted).await;
                }
            }
            Ok(false) => {
                tracing::info!(guild = %ban.guild_id, case = ban.number,
                    "a ban's lift was taken over or cancelled meanwhile");
            }
            Err(err) => {
                tracing::warn!(guild = %ban.guild_id, case = ban.number, error = %err,
                    "could not record a ban's lift; it is lifted again when its claim lapses");
            }
        }
    }
    due.len()
}
