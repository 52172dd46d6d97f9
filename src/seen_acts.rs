//! Bans, unbans and timeouts seen on the gateway ([`Seen`]), whoever made
//! them, and the queue the shard loops put them in ([`DiscordActs`]), for the
//! one task that records them in gateway order (`discord_acts.rs`). Held by
//! the `Context`; uses nothing of the bot.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use keeper_store::{CaseKind, CaseSource, NewCase};
use tokio::sync::mpsc;
use twilight_model::{
    guild::audit_log::AuditLogEventType,
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
    util::Timestamp,
};

/// An act seen on the gateway, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    /// Ban, unban, timeout or untimeout.
    pub kind: CaseKind,
    /// A timeout's end.
    pub until: Option<DateTime<Utc>>,
    /// When it was seen, by Discord's clock (audit log entries are dated by
    /// their snowflakes).
    pub at: DateTime<Utc>,
}

impl Seen {
    /// What a member update says of a member's timeout at `at`: timed out
    /// until a moment still ahead, or not (an end already past is what Discord
    /// leaves on a member after their timeout ran out).
    pub fn timeout(
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        until: Option<Timestamp>,
        at: DateTime<Utc>,
    ) -> Self {
        let until = until
            .and_then(|t| DateTime::from_timestamp_micros(t.as_micros()))
            .filter(|end| *end > at);
        let kind = if until.is_some() {
            CaseKind::Timeout
        } else {
            CaseKind::Untimeout
        };
        Self {
            guild_id,
            user_id,
            kind,
            until,
            at,
        }
    }

    /// A ban (`banned`) or its lift, seen at `at`.
    pub fn ban(
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        banned: bool,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            guild_id,
            user_id,
            kind: if banned {
                CaseKind::Ban
            } else {
                CaseKind::Unban
            },
            until: None,
            at,
        }
    }

    /// The case it records, its moderator and reason unknown until the audit
    /// log is read.
    pub fn case(&self) -> NewCase {
        // Whole seconds, at least one (a timeout always lasts).
        let duration_secs = self.until.map(|end| {
            let millis = (end - self.at).num_milliseconds();
            ((millis + 999) / 1000).max(1)
        });
        NewCase {
            guild_id: self.guild_id,
            target_id: self.user_id,
            moderator_id: None,
            kind: self.kind,
            reason: None,
            created_at: self.at,
            expires_at: self.until,
            source: CaseSource::Discord,
            escalated_from: None,
            duration_secs,
        }
    }

    /// The audit log action that names who made it.
    pub fn audit_action(&self) -> AuditLogEventType {
        match self.kind {
            CaseKind::Ban => AuditLogEventType::MemberBanAdd,
            CaseKind::Unban => AuditLogEventType::MemberBanRemove,
            _ => AuditLogEventType::MemberUpdate,
        }
    }
}

/// The queue of acts seen, and whether Keeper records them at all
/// (`KEEPER_RECORD_DISCORD_MODERATION`).
pub struct DiscordActs {
    on: bool,
    sender: mpsc::UnboundedSender<Seen>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Seen>>>,
}

impl DiscordActs {
    pub fn new(on: bool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            on,
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }

    pub fn on(&self) -> bool {
        self.on
    }

    /// Queue an act seen on the gateway (from the shard loop: never waits).
    pub fn seen(&self, seen: Seen) {
        if self.on {
            // Closed only once the recorder has stopped, at shutdown.
            let _ = self.sender.send(seen);
        }
    }

    /// The queue's receiving end, for the one task recording the acts
    /// (`None` once taken).
    pub fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Seen>> {
        self.receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_member_update_is_a_timeout_only_while_its_end_is_ahead() {
        let now = at(1_800_000_000);
        let (g, u) = (Id::new(1), Id::new(2));
        let ahead = Timestamp::from_secs(1_800_000_600).unwrap();
        let past = Timestamp::from_secs(1_799_999_000).unwrap();
        let timed_out = Seen::timeout(g, u, Some(ahead), now);
        assert_eq!(
            (timed_out.kind, timed_out.until),
            (CaseKind::Timeout, Some(at(1_800_000_600)))
        );
        assert_eq!(timed_out.case().duration_secs, Some(600));
        assert_eq!(timed_out.case().moderator_id, None);
        assert_eq!(timed_out.case().source, CaseSource::Discord);
        for lifted in [None, Some(past)] {
            let seen = Seen::timeout(g, u, lifted, now);
            assert_eq!((seen.kind, seen.until), (CaseKind::Untimeout, None));
            assert_eq!(seen.case().duration_secs, None);
        }
        let brief = Seen::timeout(
            g,
            u,
            Some(Timestamp::from_micros(1_800_000_000_000_100).unwrap()),
            now,
        );
        assert_eq!(brief.case().duration_secs, Some(1), "a timeout lasts");
    }
}
