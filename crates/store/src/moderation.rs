//! The pure rules of moderation, shared by both backends and the bot: which
//! escalation rule a warning triggers, which rules make sense, what an
//! escalation records, and whether an act seen on the gateway changes anything.

use chrono::{DateTime, Duration, Utc};

use crate::{
    ActionStatus, Case, CaseKind, CaseSource, EscalationAction, EscalationRule, LiftStatus,
    NewCase, StoreError, StoreResult,
};

/// Discord's longest timeout: 28 days.
pub const MAX_TIMEOUT_SECS: i64 = 28 * 24 * 3600;

/// The rule a warning triggers when it takes a member's active warnings from
/// `before` to `after`: among the rules whose count is in `(before, after]`,
/// the one with the highest count (`None` when no count was crossed). A member
/// already above a rule's count triggers nothing more; one who fell below it
/// (warnings expired or revoked) and reaches it again triggers it again.
/// `rules` may come in any order.
pub fn escalation_for(
    rules: &[EscalationRule],
    before: i64,
    after: i64,
) -> Option<&EscalationRule> {
    rules
        .iter()
        .filter(|r| i64::from(r.warnings) > before && i64::from(r.warnings) <= after)
        .max_by_key(|r| r.warnings)
}

impl EscalationRule {
    /// Whether the rule can be carried out: at least one warning; a timeout
    /// needs a duration of at most 28 days (Discord's limit); a kick has none;
    /// a ban may have one (then it is lifted when it passes). The message is
    /// for the moderator who set it.
    pub fn validate(&self) -> Result<(), String> {
        if self.warnings < 1 {
            return Err("An escalation needs a warning count of 1 or more.".into());
        }
        if matches!(self.duration_secs, Some(s) if s <= 0) {
            return Err("A duration must be positive.".into());
        }
        match (self.action, self.duration_secs) {
            (EscalationAction::Timeout, None) => Err("A timeout needs a duration.".into()),
            (EscalationAction::Timeout, Some(s)) if s > MAX_TIMEOUT_SECS => {
                Err("A timeout can last at most 28 days.".into())
            }
            (EscalationAction::Kick, Some(_)) => Err("A kick has no duration.".into()),
            _ => Ok(()),
        }
    }

    /// The case this rule records when `warning` triggers it at `now`: by the
    /// warning's moderator, pending, ending `duration_secs` after `now` for a
    /// timeout or a temporary ban.
    pub fn escalation_case(&self, warning: &Case, now: DateTime<Utc>) -> NewCase {
        let kind = match self.action {
            EscalationAction::Timeout => CaseKind::Timeout,
            EscalationAction::Kick => CaseKind::Kick,
            EscalationAction::Ban => CaseKind::Ban,
        };
        NewCase {
            guild_id: warning.guild_id,
            target_id: warning.target_id,
            moderator_id: warning.moderator_id,
            kind,
            reason: Some(format!("Automatic: {} active warnings.", self.warnings)),
            created_at: now,
            expires_at: self.duration_secs.map(|s| now + Duration::seconds(s)),
            source: CaseSource::Escalation,
            escalated_from: Some(warning.number),
            duration_secs: self.duration_secs,
        }
    }
}

/// The escalation `warning` (just recorded) triggers, `active` being the
/// target's active warnings counted at `now` with it: the case to record, or
/// `None`. A warning already expired at `now` counts for nothing, so it crosses
/// no count.
pub fn escalation_after(
    rules: &[EscalationRule],
    warning: &Case,
    active: i64,
    now: DateTime<Utc>,
) -> Option<NewCase> {
    let counted = warning.expires_at.is_none_or(|end| end > now);
    let before = if counted { active - 1 } else { active };
    escalation_for(rules, before, active).map(|rule| rule.escalation_case(warning, now))
}

/// What `add_warning` is given must be a warning (`Invalid` otherwise).
pub fn ensure_warning(case: &NewCase) -> StoreResult<()> {
    if case.kind == CaseKind::Warn {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "A {} is not a warning: record it with add_case.",
            case.kind
        )))
    }
}

/// An act seen on the gateway as it is recorded (source discord, no
/// escalation), and the pair of kinds whose latest case says where the member
/// stands ([`state_kinds`]); `Invalid` for a kind that is not a state change.
pub fn discord_act(act: &NewCase) -> StoreResult<(NewCase, [CaseKind; 2])> {
    let kinds = state_kinds(act.kind).ok_or_else(|| {
        StoreError::Invalid(format!(
            "A {} seen on the gateway is not recorded as a state change.",
            act.kind
        ))
    })?;
    let act = NewCase {
        source: CaseSource::Discord,
        escalated_from: None,
        ..act.clone()
    };
    Ok((act, kinds))
}

/// The kinds whose latest case says where a member stands for `kind`: bans and
/// unbans, or timeouts and untimeouts. `None` for a kind that is not a state.
pub fn state_kinds(kind: CaseKind) -> Option<[CaseKind; 2]> {
    match kind {
        CaseKind::Ban | CaseKind::Unban => Some([CaseKind::Ban, CaseKind::Unban]),
        CaseKind::Timeout | CaseKind::Untimeout => Some([CaseKind::Timeout, CaseKind::Untimeout]),
        _ => None,
    }
}

/// Whether an act seen on the gateway (`act`) changes the member's state as the
/// cases record it, `latest` being their latest case of the same pair
/// ([`state_kinds`]) that did not fail. A ban counts while it is not lifted.
///
/// - a ban: only when not banned already (a replayed event, or the echo of
///   Keeper's own ban, records nothing);
/// - an unban: only when banned, and not while Keeper holds a claim on the
///   ban's lift at `act.created_at` (the echo of Keeper's own lift, which may
///   arrive before [`crate::CaseStore::finish_lift`] records it);
/// - a timeout: unless the latest is a timeout ending at the same moment, to
///   the second (Keeper asks Discord for its timeouts' ends in whole
///   seconds, so the echo of its own ends up to a second before the case's);
/// - an untimeout: only when a timeout is still in effect at `act.created_at`.
pub fn discord_act_changes_state(act: &NewCase, latest: Option<&Case>) -> bool {
    let latest = latest.filter(|c| c.action_status != ActionStatus::Failed);
    let banned = latest
        .is_some_and(|c| c.kind == CaseKind::Ban && c.lift_status != Some(LiftStatus::Lifted));
    let timed_out_until = latest
        .filter(|c| c.kind == CaseKind::Timeout)
        .map(|c| c.expires_at);
    let lifting = latest.is_some_and(|c| {
        c.lift_status == Some(LiftStatus::Scheduled)
            && c.lift_claimed_until
                .is_some_and(|until| until > act.created_at)
    });
    match act.kind {
        CaseKind::Ban => !banned,
        CaseKind::Unban => banned && !lifting,
        CaseKind::Timeout => !matches!(
            (timed_out_until.flatten(), act.expires_at),
            (Some(recorded), Some(seen)) if (recorded - seen).abs() < Duration::seconds(1)
        ),
        CaseKind::Untimeout => {
            matches!(timed_out_until, Some(Some(end)) if end > act.created_at)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use twilight_model::id::Id;

    use super::*;

    fn rule(warnings: i32, action: EscalationAction, duration_secs: Option<i64>) -> EscalationRule {
        EscalationRule {
            guild_id: Id::new(1),
            warnings,
            action,
            duration_secs,
        }
    }

    fn counts(rules: &[EscalationRule], before: i64, after: i64) -> Option<i32> {
        escalation_for(rules, before, after).map(|r| r.warnings)
    }

    #[test]
    fn a_rule_fires_when_its_count_is_crossed() {
        let rules = [rule(3, EscalationAction::Timeout, Some(60))];
        assert_eq!(counts(&rules, 2, 3), Some(3), "crossing");
        assert_eq!(counts(&rules, 1, 2), None, "below");
        assert_eq!(
            counts(&rules, 3, 4),
            None,
            "above the threshold does nothing"
        );
        assert_eq!(counts(&rules, 4, 5), None);
        // Fell below (expiry, revocation), then crossing again fires again.
        assert_eq!(counts(&rules, 2, 3), Some(3));
        assert_eq!(counts(&rules, 3, 3), None, "no new warning counted");
        assert_eq!(counts(&[], 2, 3), None, "no rules");
    }

    #[test]
    fn the_highest_crossed_rule_wins_whatever_the_order() {
        let rules = [
            rule(5, EscalationAction::Ban, None),
            rule(2, EscalationAction::Timeout, Some(60)),
            rule(3, EscalationAction::Kick, None),
        ];
        assert_eq!(counts(&rules, 1, 2), Some(2));
        assert_eq!(counts(&rules, 2, 3), Some(3));
        assert_eq!(counts(&rules, 3, 4), None);
        assert_eq!(counts(&rules, 4, 5), Some(5));
        assert_eq!(counts(&rules, 1, 5), Some(5), "several crossed at once");
        assert_eq!(counts(&rules, 0, 1), None);
    }

    #[test]
    fn rules_are_validated() {
        use EscalationAction::*;
        assert_eq!(rule(3, Timeout, Some(3600)).validate(), Ok(()));
        assert_eq!(rule(3, Timeout, Some(MAX_TIMEOUT_SECS)).validate(), Ok(()));
        assert!(
            rule(3, Timeout, Some(MAX_TIMEOUT_SECS + 1))
                .validate()
                .is_err()
        );
        assert!(rule(3, Timeout, None).validate().is_err());
        assert!(rule(3, Timeout, Some(0)).validate().is_err());
        assert_eq!(rule(3, Kick, None).validate(), Ok(()));
        assert!(rule(3, Kick, Some(60)).validate().is_err());
        assert_eq!(rule(3, Ban, None).validate(), Ok(()));
        assert_eq!(rule(3, Ban, Some(86_400 * 365)).validate(), Ok(()));
        assert!(rule(3, Ban, Some(-1)).validate().is_err());
        assert!(rule(0, Ban, None).validate().is_err());
    }

    fn case(kind: CaseKind, expires_at: Option<i64>) -> Case {
        let new = NewCase {
            expires_at: expires_at.map(at),
            ..NewCase::new(Id::new(1), Id::new(2), Id::new(3), kind, at(0))
        };
        Case {
            action_status: ActionStatus::Done,
            lift_status: None,
            ..Case::recorded(new, 7)
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + secs, 0).unwrap()
    }

    fn act(kind: CaseKind, created: i64, expires_at: Option<i64>) -> NewCase {
        NewCase {
            expires_at: expires_at.map(at),
            source: CaseSource::Discord,
            ..NewCase::new(Id::new(1), Id::new(2), Id::new(3), kind, at(created))
        }
    }

    #[test]
    fn an_act_from_the_gateway_counts_when_it_changes_the_state() {
        use CaseKind::*;
        let ban = case(Ban, None);
        assert!(discord_act_changes_state(&act(Ban, 1, None), None));
        assert!(!discord_act_changes_state(&act(Ban, 1, None), Some(&ban)));
        assert!(discord_act_changes_state(&act(Unban, 1, None), Some(&ban)));
        assert!(!discord_act_changes_state(&act(Unban, 1, None), None));
        let unban = case(Unban, None);
        assert!(discord_act_changes_state(&act(Ban, 1, None), Some(&unban)));
        assert!(!discord_act_changes_state(
            &act(Unban, 1, None),
            Some(&unban)
        ));
        let mut lifted = case(Ban, Some(10));
        lifted.lift_status = Some(LiftStatus::Lifted);
        assert!(discord_act_changes_state(
            &act(Ban, 20, None),
            Some(&lifted)
        ));
        assert!(!discord_act_changes_state(
            &act(Unban, 20, None),
            Some(&lifted)
        ));
        let mut lifting = case(Ban, Some(10));
        lifting.lift_status = Some(LiftStatus::Scheduled);
        lifting.lift_claimed_by = Some("k".into());
        lifting.lift_claimed_until = Some(at(40));
        assert!(
            !discord_act_changes_state(&act(Unban, 20, None), Some(&lifting)),
            "Keeper's lift"
        );
        assert!(
            discord_act_changes_state(&act(Unban, 40, None), Some(&lifting)),
            "claim lapsed"
        );
        let mut failed = case(Ban, None);
        failed.action_status = ActionStatus::Failed;
        assert!(discord_act_changes_state(&act(Ban, 1, None), Some(&failed)));

        let timeout = case(Timeout, Some(100));
        assert!(!discord_act_changes_state(
            &act(Timeout, 1, Some(100)),
            Some(&timeout)
        ));
        assert!(discord_act_changes_state(
            &act(Timeout, 1, Some(200)),
            Some(&timeout)
        ));
        assert!(discord_act_changes_state(&act(Timeout, 1, Some(100)), None));
        let mut precise = case(Timeout, Some(100));
        precise.expires_at = Some(at(100) + Duration::milliseconds(750));
        assert!(
            !discord_act_changes_state(&act(Timeout, 1, Some(100)), Some(&precise)),
            "Keeper's own timeout, its end asked for in whole seconds"
        );
        precise.expires_at = Some(at(101));
        assert!(discord_act_changes_state(
            &act(Timeout, 1, Some(100)),
            Some(&precise)
        ));
        assert!(discord_act_changes_state(
            &act(Untimeout, 99, None),
            Some(&timeout)
        ));
        assert!(
            !discord_act_changes_state(&act(Untimeout, 100, None), Some(&timeout)),
            "ended"
        );
        assert!(!discord_act_changes_state(&act(Untimeout, 1, None), None));
        let untimeout = case(Untimeout, None);
        assert!(!discord_act_changes_state(
            &act(Untimeout, 1, None),
            Some(&untimeout)
        ));
        assert!(
            !discord_act_changes_state(&act(Kick, 1, None), None),
            "not a state"
        );
    }

    #[test]
    fn an_expired_warning_crosses_nothing() {
        let rules = [rule(2, EscalationAction::Kick, None)];
        let mut warning = case(CaseKind::Warn, Some(10));
        assert!(
            escalation_after(&rules, &warning, 2, at(9)).is_some(),
            "counted: 1 -> 2"
        );
        assert!(
            escalation_after(&rules, &warning, 2, at(10)).is_none(),
            "expired: 2 -> 2"
        );
        warning.expires_at = None;
        assert!(
            escalation_after(&rules, &warning, 3, at(10)).is_none(),
            "2 -> 3"
        );
    }

    #[test]
    fn an_escalation_records_the_rule_and_its_warning() {
        let mut warning = case(CaseKind::Warn, None);
        warning.number = 3;
        let now = at(50);
        let timeout = rule(3, EscalationAction::Timeout, Some(600)).escalation_case(&warning, now);
        assert_eq!(timeout.kind, CaseKind::Timeout);
        assert_eq!(timeout.source, CaseSource::Escalation);
        assert_eq!(timeout.escalated_from, Some(3));
        assert_eq!(timeout.expires_at, Some(at(650)));
        assert_eq!(timeout.action_status(), ActionStatus::Pending);
        assert!(!timeout.schedules_lift());
        let ban = rule(4, EscalationAction::Ban, Some(86_400)).escalation_case(&warning, now);
        assert!(ban.schedules_lift());
        let kick = rule(5, EscalationAction::Kick, None).escalation_case(&warning, now);
        assert_eq!((kick.expires_at, kick.duration_secs), (None, None));
    }
}
