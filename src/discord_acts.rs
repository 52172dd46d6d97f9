//! Moderation done in Discord's own menus (a ban, an unban, a timeout set or
//! lifted), seen on the gateway and recorded as cases, posted to the mod-log
//! like Keeper's own.
//!
//! The events don't say who acted or why: the guild's audit log does, when
//! Keeper may read it (View Audit Log); otherwise the moderator stays unknown.
//! The case is recorded first, with its moderator unknown, and named after:
//! Keeper's own acts come back as the same events, and the store records an
//! act only when it changes the member's state as the cases have it
//! ([`keeper_store::moderation::discord_act_changes_state`]), so an echo or a
//! replay costs one query and no call to Discord.
//!
//! Acts are recorded one at a time, in gateway order, by one task ([`run`]),
//! from the queue the shard loops fill (`seen_acts.rs`): a ban and the unban
//! right after it must be decided in that order.

use std::sync::Arc;

use chrono::Duration;
use keeper_store::Case;
use tokio_util::sync::CancellationToken;
use twilight_model::{
    guild::audit_log::{AuditLogChange, AuditLogEntry, AuditLogEventType},
    id::Id,
};

use crate::{context::Context, modlog, seen_acts::Seen, snowflake};

/// How far before the event its audit log entry may be dated: Discord writes
/// the entry as it acts, and the event follows within moments. An older entry
/// about the same member is an earlier act.
const ENTRY_WINDOW_SECS: i64 = 120;

/// The audit log entry (of `seen`'s action, newest first as Discord lists
/// them) that records `seen`: about the same member, dated within
/// [`ENTRY_WINDOW_SECS`] of it and, for a timeout, changing
/// `communication_disabled_until` (a member update may change a nickname).
pub fn entry_for<'a>(entries: &'a [AuditLogEntry], seen: &Seen) -> Option<&'a AuditLogEntry> {
    let action = seen.audit_action();
    entries.iter().find(|entry| {
        let dated = snowflake::created_at(entry.id.get());
        entry.action_type == action
            && entry.target_id.map(Id::get) == Some(seen.user_id.get())
            && dated >= seen.at - Duration::seconds(ENTRY_WINDOW_SECS)
            && (action != AuditLogEventType::MemberUpdate
                || entry
                    .changes
                    .iter()
                    .any(|c| matches!(c, AuditLogChange::CommunicationDisabledUntil { .. })))
    })
}

/// Record the acts seen, in order, until `shutdown`; then what was queued
/// before it. Runs once per process.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let Some(mut queue) = ctx.discord_acts.take_receiver() else {
        return;
    };
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            seen = queue.recv() => match seen {
                Some(seen) => record(&ctx, &seen).await,
                None => return,
            },
        }
    }
    queue.close();
    while let Ok(seen) = queue.try_recv() {
        record(&ctx, &seen).await;
    }
}

/// How often recording an act is tried while the database fails.
const ATTEMPTS: u32 = 5;

/// Record one act, name its moderator and post it to the mod-log. A failing
/// database is retried a few times, then the act is logged as lost: an
/// event is never worth stopping the bot.
async fn record(ctx: &Context, seen: &Seen) {
    let act = seen.case();
    let mut wait = std::time::Duration::from_millis(250);
    let mut attempt = 1;
    let recorded = loop {
        match ctx.store.record_discord_act(&act).await {
            Ok(recorded) => break recorded,
            Err(err) if attempt < ATTEMPTS => {
                tracing::warn!(guild = %seen.guild_id, user = %seen.user_id, kind = %seen.kind,
                    error = %err, "could not record an act from Discord's menus; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(err) => {
                tracing::error!(guild = %seen.guild_id, user = %seen.user_id, kind = %seen.kind,
                    error = %err, "could not record an act from Discord's menus; it is not in the cases");
                return;
            }
        }
    };
    let Some(case) = recorded else {
        // Keeper's own act, a replay, or nothing changed.
        tracing::debug!(guild = %seen.guild_id, user = %seen.user_id, kind = %seen.kind,
            "an act on the gateway changes nothing recorded");
        return;
    };
    let case = attribute(ctx, seen, case).await;
    if let modlog::Logged::Failed(why) = modlog::write(ctx, &case).await {
        tracing::info!(guild = %case.guild_id, case = case.number, why, "mod-log not written");
    }
}

/// The case with its moderator and reason from the audit log, when Keeper may
/// read it and the entry is there; as it was otherwise.
async fn attribute(ctx: &Context, seen: &Seen, case: Case) -> Case {
    let Some(entry) = audit_entry(ctx, seen).await else {
        return case;
    };
    let Some(moderator) = entry.user_id else {
        return case;
    };
    match ctx
        .store
        .attribute_discord_act(
            case.guild_id,
            case.number,
            moderator,
            entry.reason.as_deref(),
        )
        .await
    {
        Ok(Some(named)) => named,
        Ok(None) => case,
        Err(err) => {
            tracing::warn!(guild = %case.guild_id, case = case.number, error = %err,
                "could not record who made an act from the audit log");
            case
        }
    }
}

/// The audit log entry recording `seen`: looked for again once, a moment
/// later, in case Discord wrote it after sending the event. `None` when Keeper
/// may not read the audit log (View Audit Log) or finds no entry.
async fn audit_entry(ctx: &Context, seen: &Seen) -> Option<AuditLogEntry> {
    for look in 0..2 {
        if look > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let read = ctx
            .http
            .audit_log(seen.guild_id)
            .action_type(seen.audit_action())
            .limit(10)
            .await;
        let log = match read {
            Ok(response) => response.model().await.ok()?,
            Err(err) => {
                tracing::debug!(guild = %seen.guild_id, error = %err,
                    "cannot read the audit log; the moderator stays unknown");
                return None;
            }
        };
        if let Some(entry) = entry_for(&log.entries, seen) {
            return Some(entry.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    use chrono::{DateTime, Utc};
    use keeper_store::CaseKind;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn seen(kind: CaseKind, at_secs: i64) -> Seen {
        Seen {
            guild_id: Id::new(1),
            user_id: Id::new(42),
            kind,
            until: None,
            at: at(at_secs),
        }
    }

    /// An entry dated `secs` (its snowflake), in Discord's JSON.
    fn entry(action: u8, target: u64, secs: i64, changes: serde_json::Value) -> AuditLogEntry {
        let ms = u64::try_from(secs * 1000 - snowflake::DISCORD_EPOCH_MS).unwrap();
        serde_json::from_value(json!({
            "id": (ms << 22).to_string(),
            "action_type": action,
            "target_id": target.to_string(),
            "user_id": "7",
            "reason": "spam",
            "changes": changes,
        }))
        .unwrap()
    }

    #[test]
    fn the_entry_is_the_newest_about_the_member_and_recent() {
        let ban = seen(CaseKind::Ban, 1_800_000_000);
        let entries = [
            entry(22, 99, 1_800_000_000, json!([])),
            entry(22, 42, 1_799_999_990, json!([])),
            entry(22, 42, 1_799_999_900, json!([])),
        ];
        let found = entry_for(&entries, &ban).expect("found");
        assert_eq!(snowflake::created_at(found.id.get()), at(1_799_999_990));
        assert_eq!(found.reason.as_deref(), Some("spam"));

        let old = [entry(
            22,
            42,
            1_800_000_000 - ENTRY_WINDOW_SECS - 1,
            json!([]),
        )];
        assert!(entry_for(&old, &ban).is_none(), "an earlier ban");
        let unban = [entry(23, 42, 1_800_000_000, json!([]))];
        assert!(entry_for(&unban, &ban).is_none(), "another action");
        assert!(entry_for(&unban, &seen(CaseKind::Unban, 1_800_000_000)).is_some());
    }

    #[test]
    fn a_timeouts_entry_changes_the_timeout() {
        let timeout = seen(CaseKind::Timeout, 1_800_000_000);
        let nick = json!([{ "key": "nick", "new_value": "x" }]);
        let until = json!([{ "key": "communication_disabled_until",
                              "new_value": "2027-01-15T08:00:00.000000+00:00" }]);
        let entries = [
            entry(24, 42, 1_800_000_000, nick),
            entry(24, 42, 1_799_999_999, until),
        ];
        let found = entry_for(&entries, &timeout).expect("found");
        assert_eq!(snowflake::created_at(found.id.get()), at(1_799_999_999));
        assert!(entry_for(&entries[..1], &timeout).is_none(), "a nickname");
    }
}
