//! [`CaseStore`](crate::CaseStore): numbering, listing, revoking and expiry,
//! warnings and their escalations, at most once per interaction, reason
//! history, acts pending at Discord, temporary bans' lifts, acts seen on the
//! gateway, pages of a member's cases. `reasons_stored_verbatim` also writes a
//! settings message: it is about text reaching the database unchanged, and case
//! reasons are most of that text.

use std::{collections::HashSet, sync::Arc};

use chrono::Duration;
use twilight_model::id::{
    Id,
    marker::{InteractionMarker, MessageMarker},
};

use super::{Fixture, channel, guild, new_case, t, user};
use crate::{
    ActionOutcome, ActionStatus, Applied, Case, CaseKind, CaseSource, DmStatus, EscalationAction,
    EscalationRule, LiftOutcome, LiftStatus, NewCase, SettingsPatch, Store, StoreError, Warned,
};

/// Record a case (not for an interaction).
async fn add(store: &Arc<dyn Store>, case: NewCase) -> Case {
    store
        .add_case(&case, None)
        .await
        .expect("add case")
        .now()
        .expect("applied")
}

/// A warning of `target` in guild `g` at `at`, ending at `expires` when given.
fn warning(g: u64, target: u64, at: i64, expires: Option<i64>) -> NewCase {
    NewCase {
        expires_at: expires.map(t),
        ..new_case(g, target, CaseKind::Warn, "warned", at)
    }
}

/// Record a warning counted at `now` (not for an interaction).
async fn warn(store: &Arc<dyn Store>, case: NewCase, now: i64) -> Warned {
    store
        .add_warning(&case, t(now), None)
        .await
        .expect("add warning")
        .now()
        .expect("applied")
}

async fn set_rule(
    store: &Arc<dyn Store>,
    g: u64,
    warnings: i32,
    action: EscalationAction,
    duration_secs: Option<i64>,
) {
    let rule = EscalationRule {
        guild_id: guild(g),
        warnings,
        action,
        duration_secs,
    };
    store.set_escalation(&rule).await.expect("set rule");
}

fn interaction(n: u64) -> Option<Id<InteractionMarker>> {
    Some(Id::new(n))
}

fn numbers(cases: &[Case]) -> Vec<i64> {
    cases.iter().map(|c| c.number).collect()
}

pub async fn cases_numbered_and_listed<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let mut made = Vec::new();
    for (i, kind) in CaseKind::ALL.into_iter().enumerate() {
        let mut case = new_case(1, 10 + (i as u64 % 2), kind, kind.as_str(), i as i64);
        if kind == CaseKind::Timeout {
            case.expires_at = Some(t(600));
        }
        let stored = add(&store, case).await;
        assert_eq!(stored.number, i as i64 + 1);
        assert_eq!(stored.source, CaseSource::Keeper);
        let status = if kind.acts_at_discord() {
            ActionStatus::Pending
        } else {
            ActionStatus::Done
        };
        assert_eq!(stored.action_status, status, "{kind}");
        assert_eq!(
            (stored.lift_status, stored.dm_status, stored.log_message_id),
            (None, None, None)
        );
        assert_eq!(stored.kind, kind);
        assert_eq!(stored.reason.as_deref(), Some(kind.as_str()));
        assert_eq!(stored.created_at, t(i as i64));
        assert_eq!(stored.revoked_by, None);
        made.push(stored);
    }
    assert_eq!(store.case(g, 2).await.unwrap().as_ref(), Some(&made[1]));
    assert_eq!(made[1].expires_at, Some(t(600)));
    assert_eq!(store.case(g, 99).await.unwrap(), None);
    let all = store.cases(g, None, 100).await.unwrap();
    let numbers: Vec<_> = all.iter().map(|c| c.number).collect();
    assert_eq!(numbers, vec![8, 7, 6, 5, 4, 3, 2, 1], "newest first");
    let about_11 = store.cases(g, Some(user(11)), 100).await.unwrap();
    assert_eq!(
        about_11.iter().map(|c| c.number).collect::<Vec<_>>(),
        vec![8, 6, 4, 2]
    );
    assert_eq!(store.cases(g, None, 2).await.unwrap().len(), 2);
    let no_reason = add(
        &store,
        NewCase {
            reason: None,
            ..new_case(1, 10, CaseKind::Kick, "", 9)
        },
    )
    .await;
    assert_eq!(
        store
            .case(g, no_reason.number)
            .await
            .unwrap()
            .unwrap()
            .reason,
        None
    );
}

pub async fn concurrent_cases_have_no_gaps<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_case(
                        &new_case(1, 100 + i, CaseKind::Warn, "race", i as i64),
                        None,
                    )
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap().expect("add case").now().unwrap().number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
    let stored: Vec<_> = store
        .cases(guild(1), None, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.number)
        .collect();
    assert_eq!(stored, (1..=50).rev().collect::<Vec<_>>());
}

pub async fn case_revoke_and_clear_warnings<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    for i in 0..3 {
        add(&store, new_case(1, 10, CaseKind::Warn, "w", i)).await;
    }
    add(&store, new_case(1, 10, CaseKind::Note, "n", 3)).await;
    add(&store, new_case(1, 11, CaseKind::Warn, "other", 4)).await;
    assert_eq!(store.active_warnings(g, user(10), t(10)).await.unwrap(), 3);

    let revoke = |number: i64, by: u64, at: i64| {
        let store = store.clone();
        async move {
            store
                .revoke_case(g, number, user(by), t(at), None)
                .await
                .unwrap()
                .now()
                .unwrap()
        }
    };
    let revoked = revoke(2, 8, 20).await.unwrap();
    assert_eq!(
        (revoked.revoked_by, revoked.revoked_at),
        (Some(user(8)), Some(t(20)))
    );
    // Revoking again keeps the first revocation.
    let again = revoke(2, 7, 30).await.unwrap();
    assert_eq!(again, revoked);
    assert_eq!(store.active_warnings(g, user(10), t(40)).await.unwrap(), 2);
    assert!(revoke(77, 8, 20).await.is_none());

    let cleared = store
        .clear_warnings(g, user(10), user(8), t(50), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!(
        numbers(&cleared),
        vec![1, 3],
        "the warnings revoked, as stored"
    );
    assert!(
        cleared
            .iter()
            .all(|c| c.revoked_by == Some(user(8)) && c.revoked_at == Some(t(50)))
    );
    assert_eq!(store.active_warnings(g, user(10), t(60)).await.unwrap(), 0);
    let none = store
        .clear_warnings(g, user(10), user(8), t(50), None)
        .await
        .unwrap();
    assert_eq!(none, Applied::Now(vec![]));
    assert_eq!(
        store.active_warnings(g, user(11), t(60)).await.unwrap(),
        1,
        "others untouched"
    );
    let note = store.case(g, 4).await.unwrap().unwrap();
    assert_eq!(
        note.revoked_by, None,
        "clearing warnings leaves notes alone"
    );
    assert_eq!(
        store.cases(g, Some(user(10)), 10).await.unwrap().len(),
        4,
        "revoked cases stay on record"
    );
}

pub async fn active_warnings_respect_expiry<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let mut w = new_case(1, 10, CaseKind::Warn, "expires", 0);
    w.expires_at = Some(t(0) + Duration::hours(1));
    add(&store, w).await;
    add(&store, new_case(1, 10, CaseKind::Warn, "forever", 0)).await;
    add(
        &store,
        new_case(1, 10, CaseKind::Timeout, "not a warning", 0),
    )
    .await;
    assert_eq!(store.active_warnings(g, user(10), t(60)).await.unwrap(), 2);
    assert_eq!(
        store.active_warnings(g, user(10), t(3_599)).await.unwrap(),
        2,
        "counts to its last second"
    );
    assert_eq!(
        store.active_warnings(g, user(10), t(3_600)).await.unwrap(),
        1,
        "expired at its instant"
    );
    assert_eq!(
        store.active_warnings(g, user(10), t(7_200)).await.unwrap(),
        1
    );
}

pub async fn reasons_stored_verbatim<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let long: String = "ab\u{1F600}'\"".chars().cycle().take(4_000).collect();
    let reasons = [
        r#"He said "hi" and 'bye'"#.to_owned(),
        "'; DROP TABLE mod_cases; --".to_owned(),
        "Robert'); DROP TABLE member_xp;--".to_owned(),
        "emoji \u{1F525}\u{1F44D}\u{1F3FD} and NUL-free unicode: \u{00E9}\u{4E2D}\u{6587}"
            .to_owned(),
        "line one\nline two\ttabbed \\ backslash %_ like wildcards".to_owned(),
        long,
    ];
    for (i, reason) in reasons.iter().enumerate() {
        let case = add(&store, new_case(1, 10, CaseKind::Note, reason, i as i64)).await;
        let read = store.case(guild(1), case.number).await.unwrap().unwrap();
        assert_eq!(read.reason.as_deref(), Some(reason.as_str()));
        assert_eq!(
            read.reason.as_ref().unwrap().chars().count(),
            reason.chars().count()
        );
    }
    assert_eq!(
        store.cases(guild(1), None, 100).await.unwrap().len(),
        reasons.len()
    );
    // The tables the injections name are still there and working.
    store
        .add_xp(guild(1), user(10), 5, t(0), None)
        .await
        .unwrap();
    let patch = SettingsPatch {
        welcome_message: Some(Some("'; DROP TABLE guild_settings; -- {user}".into())),
        ..Default::default()
    };
    let s = store.update_settings(guild(1), &patch, t(0)).await.unwrap();
    assert_eq!(
        store.settings(guild(1)).await.unwrap().welcome_message,
        s.welcome_message
    );
}

/// 50 warnings of one member at once, a rule at 3: numbers 1..=51 (the
/// escalation takes one), each warning counted once, the rule fired once, by
/// warning 3. Another guild's warnings, concurrent, never mix in.
pub async fn concurrent_warnings_escalate_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    set_rule(&store, 1, 3, EscalationAction::Timeout, Some(600)).await;
    set_rule(&store, 2, 3, EscalationAction::Kick, None).await;
    let handles: Vec<_> = (0..70u64)
        .map(|i| {
            let store = store.clone();
            let g = if i < 50 { 1 } else { 2 };
            tokio::spawn(async move {
                let w = store
                    .add_warning(&warning(g, 10, i as i64, None), t(100), None)
                    .await;
                (g, w)
            })
        })
        .collect();
    let mut seen = [Vec::new(), Vec::new()];
    for h in handles {
        let (g, warned) = h.await.unwrap();
        seen[g as usize - 1].push(warned.expect("add warning").now().unwrap());
    }
    for (g, warned) in [(1u64, &seen[0]), (2, &seen[1])] {
        let n = warned.len() as i64;
        let mut actives: Vec<i64> = warned.iter().map(|w| w.active).collect();
        actives.sort_unstable();
        assert_eq!(
            actives,
            (1..=n).collect::<Vec<_>>(),
            "guild {g}: each counted once"
        );
        let escalations: Vec<&Case> = warned
            .iter()
            .filter_map(|w| w.escalation.as_ref())
            .collect();
        assert_eq!(escalations.len(), 1, "guild {g}: the rule fires once");
        let escalation = escalations[0];
        assert_eq!(escalation.escalated_from, Some(3), "guild {g}");
        assert_eq!(escalation.number, 4, "guild {g}: right after warning 3");
        assert_eq!(escalation.source, CaseSource::Escalation);
        assert_eq!(escalation.action_status, ActionStatus::Pending);
        assert_eq!(escalation.target_id, user(10));
        let trigger = warned.iter().find(|w| w.escalation.is_some()).unwrap();
        assert_eq!((trigger.warning.number, trigger.active), (3, 3));
        let stored = store.cases(guild(g), None, 200).await.unwrap();
        assert_eq!(
            numbers(&stored),
            (1..=n + 1).rev().collect::<Vec<_>>(),
            "guild {g}: no gap, no duplicate"
        );
        assert!(stored.iter().all(|c| c.guild_id == guild(g)));
        let kinds: Vec<_> = stored.iter().filter(|c| c.kind != CaseKind::Warn).collect();
        assert_eq!(kinds.len(), 1);
        assert_eq!(
            store
                .active_warnings(guild(g), user(10), t(100))
                .await
                .unwrap(),
            n
        );
    }
    let timeout = store.case(guild(1), 4).await.unwrap().unwrap();
    assert_eq!(timeout.kind, CaseKind::Timeout);
    assert_eq!(
        (timeout.duration_secs, timeout.expires_at),
        (Some(600), Some(t(700)))
    );
    let kick = store.case(guild(2), 4).await.unwrap().unwrap();
    assert_eq!((kick.kind, kick.expires_at), (CaseKind::Kick, None));
}

/// Warnings 3 and 4 of a member landing at the same moment, in many guilds at
/// once: each guild escalates exactly once, from warning 3.
pub async fn warnings_three_and_four_together_escalate_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    const GUILDS: u64 = 20;
    for g in 1..=GUILDS {
        set_rule(&store, g, 3, EscalationAction::Ban, None).await;
        warn(&store, warning(g, 10, 0, None), 1).await;
        warn(&store, warning(g, 10, 1, None), 1).await;
    }
    let handles: Vec<_> = (1..=GUILDS)
        .flat_map(|g| [(g, 2), (g, 3)])
        .map(|(g, at)| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_warning(&warning(g, 10, at, None), t(5), None)
                    .await
                    .unwrap()
                    .now()
                    .unwrap()
            })
        })
        .collect();
    let mut escalations = Vec::new();
    for h in handles {
        escalations.extend(h.await.unwrap().escalation);
    }
    assert_eq!(escalations.len(), GUILDS as usize, "once per guild");
    for g in 1..=GUILDS {
        let stored = store.cases(guild(g), None, 10).await.unwrap();
        assert_eq!(numbers(&stored), vec![5, 4, 3, 2, 1]);
        let bans: Vec<_> = stored.iter().filter(|c| c.kind == CaseKind::Ban).collect();
        assert_eq!(bans.len(), 1, "guild {g}");
        assert_eq!((bans[0].number, bans[0].escalated_from), (4, Some(3)));
        assert_eq!(bans[0].lift_status, None, "a permanent ban has no lift");
    }
}

/// A warning counts until the second it expires; a member who fell below a rule
/// and reaches it again is escalated again; revoked and already-expired
/// warnings don't count.
pub async fn expired_and_revoked_warnings_stop_counting<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let (g, m) = (guild(1), user(10));
    set_rule(&store, 1, 2, EscalationAction::Ban, Some(86_400)).await;
    let first = warn(&store, warning(1, 10, 0, Some(100)), 0).await;
    assert_eq!((first.active, first.escalation.is_none()), (1, true));
    // At expires_at - 1 s the first still counts: this one makes 2.
    let second = warn(&store, warning(1, 10, 99, Some(1_000)), 99).await;
    assert_eq!(second.active, 2);
    let ban = second.escalation.expect("escalated at 2");
    assert_eq!((ban.kind, ban.escalated_from), (CaseKind::Ban, Some(2)));
    assert_eq!(
        ban.lift_status,
        Some(LiftStatus::Scheduled),
        "a temporary ban"
    );
    assert_eq!(ban.expires_at, Some(t(99 + 86_400)));
    assert_eq!(store.active_warnings(g, m, t(99)).await.unwrap(), 2);
    assert_eq!(
        store.active_warnings(g, m, t(100)).await.unwrap(),
        1,
        "expired to the second"
    );
    // Fell below 2; reaching it again escalates again.
    let third = warn(&store, warning(1, 10, 100, None), 100).await;
    assert_eq!(third.active, 2);
    let again = third.escalation.expect("escalated again");
    assert_eq!(again.escalated_from, Some(third.warning.number));
    // Above the rule: nothing more.
    let fourth = warn(&store, warning(1, 10, 101, None), 101).await;
    assert_eq!((fourth.active, fourth.escalation), (3, None));
    // Revoked warnings stop counting: back to 1, then 2 fires again.
    for n in [second.warning.number, third.warning.number] {
        store
            .revoke_case(g, n, user(8), t(102), None)
            .await
            .unwrap();
    }
    assert_eq!(store.active_warnings(g, m, t(103)).await.unwrap(), 1);
    let note = new_case(1, 10, CaseKind::Note, "not a warning", 103);
    let err = store.add_warning(&note, t(103), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    // A warning already expired when counted counts for nothing.
    let stale = warn(&store, warning(1, 10, 103, Some(103)), 103).await;
    assert_eq!((stale.active, stale.escalation), (1, None));
    let fifth = warn(&store, warning(1, 10, 104, None), 104).await;
    assert_eq!(fifth.active, 2);
    assert!(fifth.escalation.is_some());
    assert_eq!(
        store
            .member_cases(g, m, t(104), 0, 100)
            .await
            .unwrap()
            .active_warnings,
        2
    );
}

/// Writes made for an interaction happen once: the replay writes nothing and
/// says so.
pub async fn moderation_writes_are_applied_once_per_interaction<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    set_rule(&store, 1, 1, EscalationAction::Kick, None).await;
    let w = warning(1, 10, 0, None);
    let first = store.add_warning(&w, t(0), interaction(1)).await.unwrap();
    let first = first.now().expect("applied now");
    assert!(first.escalation.is_some());
    assert_eq!(
        store.add_warning(&w, t(0), interaction(1)).await.unwrap(),
        Applied::Before
    );
    assert_eq!(
        store.cases(g, None, 10).await.unwrap().len(),
        2,
        "nothing more"
    );

    let note = new_case(1, 10, CaseKind::Note, "n", 1);
    assert!(matches!(
        store.add_case(&note, interaction(2)).await.unwrap(),
        Applied::Now(_)
    ));
    assert_eq!(
        store.add_case(&note, interaction(2)).await.unwrap(),
        Applied::Before
    );
    assert_eq!(store.cases(g, None, 10).await.unwrap().len(), 3);

    let amend = |text: &'static str| {
        let store = store.clone();
        async move {
            store
                .amend_reason(g, 1, text, user(8), t(2), interaction(3))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        amend("first")
            .await
            .now()
            .unwrap()
            .unwrap()
            .reason
            .as_deref(),
        Some("first")
    );
    assert_eq!(amend("second").await, Applied::Before);
    assert_eq!(
        store.case(g, 1).await.unwrap().unwrap().reason.as_deref(),
        Some("first")
    );
    assert_eq!(store.amendments(g, 1).await.unwrap().len(), 1);

    let revoked = store
        .revoke_case(g, 1, user(8), t(3), interaction(4))
        .await
        .unwrap();
    assert!(matches!(revoked, Applied::Now(Some(_))));
    assert_eq!(
        store
            .revoke_case(g, 1, user(8), t(3), interaction(4))
            .await
            .unwrap(),
        Applied::Before
    );
    let w2 = warn(&store, warning(1, 10, 4, None), 4).await;
    assert_eq!(w2.active, 1);
    let cleared = store
        .clear_warnings(g, user(10), user(8), t(5), interaction(5))
        .await
        .unwrap();
    assert_eq!(numbers(&cleared.now().unwrap()), vec![w2.warning.number]);
    // The replay comes after a new warning: it must not clear that one.
    warn(&store, warning(1, 10, 6, None), 6).await;
    assert_eq!(
        store
            .clear_warnings(g, user(10), user(8), t(7), interaction(5))
            .await
            .unwrap(),
        Applied::Before
    );
    assert_eq!(store.active_warnings(g, user(10), t(7)).await.unwrap(), 1);
}

/// Each change of a reason is kept, oldest first, with who made it and when.
pub async fn amendments_keep_the_reason_history<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let case = add(&store, new_case(1, 10, CaseKind::Ban, "spam", 0)).await;
    let other = add(
        &store,
        NewCase {
            reason: None,
            ..new_case(1, 11, CaseKind::Note, "", 0)
        },
    )
    .await;
    for (i, text) in ["spam links", "scam links", "scam links in #general"]
        .into_iter()
        .enumerate()
    {
        let amended = store
            .amend_reason(
                g,
                case.number,
                text,
                user(20 + i as u64),
                t(10 + i as i64),
                None,
            )
            .await
            .unwrap()
            .now()
            .unwrap()
            .expect("the case exists");
        assert_eq!(amended.reason.as_deref(), Some(text));
    }
    store
        .amend_reason(g, other.number, "now one", user(8), t(5), None)
        .await
        .unwrap();
    let history = store.amendments(g, case.number).await.unwrap();
    let got: Vec<_> = history
        .iter()
        .map(|a| {
            (
                a.number,
                a.old_reason.as_deref(),
                a.new_reason.as_str(),
                a.amended_by,
                a.amended_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("spam"), "spam links", user(20), t(10)),
            (2, Some("spam links"), "scam links", user(21), t(11)),
            (
                3,
                Some("scam links"),
                "scam links in #general",
                user(22),
                t(12)
            ),
        ]
    );
    let other_history = store.amendments(g, other.number).await.unwrap();
    assert_eq!(other_history.len(), 1);
    assert_eq!(other_history[0].old_reason, None);
    assert_eq!(
        store
            .amend_reason(g, 99, "x", user(8), t(1), None)
            .await
            .unwrap(),
        Applied::Now(None)
    );
    assert!(store.amendments(g, 99).await.unwrap().is_empty());
    assert!(
        store
            .amendments(guild(2), case.number)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Acts Discord has not confirmed are listed, oldest first in every guild,
/// until their outcome is recorded; the first outcome wins.
pub async fn pending_actions_are_listed_until_finished<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let ban = add(
        &store,
        NewCase {
            expires_at: Some(t(1_000)),
            duration_secs: Some(995),
            ..new_case(2, 10, CaseKind::Ban, "b", 5)
        },
    )
    .await;
    assert_eq!(ban.lift_status, Some(LiftStatus::Scheduled));
    let timeout = add(
        &store,
        NewCase {
            expires_at: Some(t(600)),
            ..new_case(1, 10, CaseKind::Timeout, "t", 1)
        },
    )
    .await;
    add(&store, new_case(1, 10, CaseKind::Note, "n", 0)).await;
    add(&store, new_case(1, 10, CaseKind::Warn, "w", 0)).await;
    let kick = add(&store, new_case(1, 11, CaseKind::Kick, "k", 9)).await;
    let pending = store.pending_actions(10).await.unwrap();
    let keys: Vec<_> = pending.iter().map(|c| (c.guild_id, c.number)).collect();
    assert_eq!(
        keys,
        vec![
            (guild(1), timeout.number),
            (guild(2), ban.number),
            (guild(1), kick.number)
        ],
        "oldest first, every guild"
    );
    assert_eq!(store.pending_actions(1).await.unwrap().len(), 1);

    let done = store
        .set_action_status(guild(1), timeout.number, ActionOutcome::Done)
        .await
        .unwrap()
        .expect("was pending");
    assert_eq!(
        (done.action_status, done.action_error),
        (ActionStatus::Done, None)
    );
    assert_eq!(
        store
            .set_action_status(
                guild(1),
                timeout.number,
                ActionOutcome::Failed("late".into())
            )
            .await
            .unwrap(),
        None,
        "the first outcome wins"
    );
    let failed = store
        .set_action_status(
            guild(2),
            ban.number,
            ActionOutcome::Failed("Missing Permissions".into()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.action_status, ActionStatus::Failed);
    assert_eq!(failed.action_error.as_deref(), Some("Missing Permissions"));
    assert_eq!(
        failed.lift_status, None,
        "a ban that failed has nothing to lift"
    );
    assert_eq!(
        numbers(&store.pending_actions(10).await.unwrap()),
        vec![kick.number]
    );
    assert_eq!(
        store
            .case(guild(1), timeout.number)
            .await
            .unwrap()
            .unwrap()
            .action_status,
        ActionStatus::Done
    );
    assert_eq!(
        store
            .set_action_status(guild(1), 99, ActionOutcome::Done)
            .await
            .unwrap(),
        None
    );
}

/// A temporary ban of `target` in `g` ending at `end`, done at Discord.
async fn temp_ban(store: &Arc<dyn Store>, g: u64, target: u64, end: i64) -> Case {
    let ban = add(
        store,
        NewCase {
            expires_at: Some(t(end)),
            duration_secs: Some(end.max(1)),
            ..new_case(g, target, CaseKind::Ban, "temp", 0)
        },
    )
    .await;
    store
        .set_action_status(guild(g), ban.number, ActionOutcome::Done)
        .await
        .unwrap()
        .expect("pending");
    ban
}

/// Claims of due lifts: disjoint between claimers at once, taken over after
/// the lease, finished once by the current claimer only, never claimed again.
pub async fn lift_claims_are_exclusive_and_leased<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    assert_eq!(store.next_lift_at().await.unwrap(), None);
    let mut bans = Vec::new();
    for i in 0..10u64 {
        bans.push(temp_ban(&store, 1 + i % 2, 10 + i, 100 + i as i64).await);
    }
    // A ban still pending at Discord, and a permanent one: never claimed.
    add(
        &store,
        NewCase {
            expires_at: Some(t(50)),
            ..new_case(1, 40, CaseKind::Ban, "pending", 0)
        },
    )
    .await;
    add(&store, new_case(1, 41, CaseKind::Ban, "forever", 0)).await;
    assert_eq!(store.next_lift_at().await.unwrap(), Some(t(100)));
    let lease = Duration::seconds(60);
    assert!(
        store
            .claim_due_lifts(t(99), "a", lease, 50)
            .await
            .unwrap()
            .is_empty(),
        "not due"
    );

    let (a, b) = tokio::join!(
        store.claim_due_lifts(t(200), "a", lease, 6),
        store.claim_due_lifts(t(200), "b", lease, 6)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 10, "every due lift claimed");
    let keys = |cases: &[Case]| -> HashSet<(u64, i64)> {
        cases.iter().map(|c| (c.guild_id.get(), c.number)).collect()
    };
    assert!(
        keys(&a).is_disjoint(&keys(&b)),
        "claimed by one claimer each"
    );
    assert!(
        a.iter()
            .all(|c| c.lift_claimed_by.as_deref() == Some("a")
                && c.lift_claimed_until == Some(t(260)))
    );
    assert!(
        a.windows(2).all(|w| w[0].expires_at <= w[1].expires_at),
        "soonest first"
    );
    assert!(
        store
            .claim_due_lifts(t(259), "c", lease, 50)
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    assert_eq!(
        store.next_lift_at().await.unwrap(),
        Some(t(260)),
        "when the leases pass"
    );

    // "a" lifts its first; "a" then crashes with the rest.
    let lifted = &a[0];
    let g_of = |c: &Case| c.guild_id;
    assert!(
        store
            .finish_lift(
                g_of(lifted),
                lifted.number,
                "a",
                LiftOutcome::Lifted { at: t(201) }
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_lift(
                g_of(lifted),
                lifted.number,
                "a",
                LiftOutcome::Lifted { at: t(202) }
            )
            .await
            .unwrap(),
        "recorded once"
    );
    let stored = store
        .case(g_of(lifted), lifted.number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.lift_status, stored.lifted_at),
        (Some(LiftStatus::Lifted), Some(t(201)))
    );
    assert_eq!(stored.lift_claimed_by, None);
    // "b" fails one of its own.
    assert!(
        store
            .finish_lift(
                g_of(&b[0]),
                b[0].number,
                "b",
                LiftOutcome::Failed("Unknown Ban".into())
            )
            .await
            .unwrap()
    );
    let failed = store.case(g_of(&b[0]), b[0].number).await.unwrap().unwrap();
    assert_eq!(failed.lift_status, Some(LiftStatus::Failed));
    assert_eq!(failed.lift_error.as_deref(), Some("Unknown Ban"));

    // Past the leases, "c" takes over every unfinished lift.
    let taken = store.claim_due_lifts(t(260), "c", lease, 50).await.unwrap();
    assert_eq!(taken.len(), 8);
    assert!(
        !keys(&taken).contains(&(g_of(lifted).get(), lifted.number)),
        "lifted: never again"
    );
    assert!(
        !keys(&taken).contains(&(g_of(&b[0]).get(), b[0].number)),
        "failed: never again"
    );
    let lost = &a[1];
    assert!(
        !store
            .finish_lift(
                g_of(lost),
                lost.number,
                "a",
                LiftOutcome::Lifted { at: t(261) }
            )
            .await
            .unwrap(),
        "the claim was lost"
    );
    assert_eq!(
        store
            .case(g_of(lost), lost.number)
            .await
            .unwrap()
            .unwrap()
            .lift_claimed_by
            .as_deref(),
        Some("c")
    );
    // A moderator unbans one by hand first: its lift is dropped.
    let cancelled = &taken[0];
    assert!(
        store
            .cancel_lift(g_of(cancelled), cancelled.number)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_lift(g_of(cancelled), cancelled.number)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_lift(
                g_of(cancelled),
                cancelled.number,
                "c",
                LiftOutcome::Lifted { at: t(262) }
            )
            .await
            .unwrap()
    );
    for c in &taken[1..] {
        assert!(
            store
                .finish_lift(g_of(c), c.number, "c", LiftOutcome::Lifted { at: t(263) })
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .claim_due_lifts(t(10_000), "d", lease, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.next_lift_at().await.unwrap(),
        None,
        "only the pending ban's, not due"
    );
    let _ = bans;
}

/// Acts moderators made in Discord's menus, seen on the gateway: recorded once,
/// and only when they change the member's state.
pub async fn discord_acts_are_recorded_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let act = |kind: CaseKind, target: u64, at: i64, end: Option<i64>| NewCase {
        expires_at: end.map(t),
        source: CaseSource::Discord,
        ..new_case(1, target, kind, "menus", at)
    };
    let record = |case: NewCase| {
        let store = store.clone();
        async move { store.record_discord_act(&case).await.unwrap() }
    };
    let ban = record(act(CaseKind::Ban, 10, 1, None))
        .await
        .expect("recorded");
    assert_eq!(
        (ban.source, ban.action_status),
        (CaseSource::Discord, ActionStatus::Done)
    );
    assert_eq!(
        record(act(CaseKind::Ban, 10, 1, None)).await,
        None,
        "a replay"
    );
    assert!(record(act(CaseKind::Unban, 10, 2, None)).await.is_some());
    assert_eq!(
        record(act(CaseKind::Unban, 10, 2, None)).await,
        None,
        "a replay"
    );

    // Keeper's own ban comes back as GUILD_BAN_ADD, even before Discord answered.
    let own = add(
        &store,
        NewCase {
            expires_at: Some(t(500)),
            ..new_case(1, 11, CaseKind::Ban, "keeper", 3)
        },
    )
    .await;
    assert_eq!(
        record(act(CaseKind::Ban, 11, 3, None)).await,
        None,
        "Keeper's own ban"
    );
    // A hand unban before the ban's end: recorded, and the lift dropped.
    let unban = record(act(CaseKind::Unban, 11, 4, None))
        .await
        .expect("recorded");
    assert_eq!(unban.kind, CaseKind::Unban);
    assert_eq!(
        store
            .case(g, own.number)
            .await
            .unwrap()
            .unwrap()
            .lift_status,
        None
    );
    // A ban whose act failed at Discord does not count.
    let failed = add(&store, new_case(1, 12, CaseKind::Ban, "failed", 5)).await;
    store
        .set_action_status(g, failed.number, ActionOutcome::Failed("no".into()))
        .await
        .unwrap();
    assert!(record(act(CaseKind::Ban, 12, 6, None)).await.is_some());

    // Timeouts: the same end once; another end is a change; an untimeout only
    // while one is in effect.
    assert!(
        record(act(CaseKind::Timeout, 13, 10, Some(600)))
            .await
            .is_some()
    );
    assert_eq!(
        record(act(CaseKind::Timeout, 13, 10, Some(600))).await,
        None
    );
    assert!(
        record(act(CaseKind::Timeout, 13, 11, Some(900)))
            .await
            .is_some()
    );
    assert!(
        record(act(CaseKind::Untimeout, 13, 12, None))
            .await
            .is_some()
    );
    assert_eq!(record(act(CaseKind::Untimeout, 13, 12, None)).await, None);
    assert!(
        record(act(CaseKind::Timeout, 13, 20, Some(30)))
            .await
            .is_some()
    );
    assert_eq!(
        record(act(CaseKind::Untimeout, 13, 30, None)).await,
        None,
        "ended already"
    );
    assert_eq!(
        record(act(CaseKind::Untimeout, 14, 1, None)).await,
        None,
        "never timed out"
    );

    let err = store
        .record_discord_act(&act(CaseKind::Kick, 10, 1, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let all = store.cases(g, None, 100).await.unwrap();
    assert_eq!(
        numbers(&all),
        (1..=10).rev().collect::<Vec<_>>(),
        "no number lost"
    );

    // Replays delivered at once are recorded once.
    let replays: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let case = act(CaseKind::Ban, 15, 40, None);
            tokio::spawn(async move { store.record_discord_act(&case).await.unwrap() })
        })
        .collect();
    let mut recorded = 0;
    for r in replays {
        recorded += usize::from(r.await.unwrap().is_some());
    }
    assert_eq!(recorded, 1);

    // Keeper's own lift comes back as GUILD_BAN_REMOVE, maybe before the lift
    // is recorded: not a moderator's unban, and the lift is still recorded.
    let temp = temp_ban(&store, 1, 16, 50).await;
    let claimed = store
        .claim_due_lifts(t(60), "k", Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(numbers(&claimed), vec![temp.number]);
    assert_eq!(
        record(act(CaseKind::Unban, 16, 61, None)).await,
        None,
        "the echo of Keeper's lift"
    );
    assert!(
        store
            .finish_lift(g, temp.number, "k", LiftOutcome::Lifted { at: t(61) })
            .await
            .unwrap()
    );
    assert_eq!(
        record(act(CaseKind::Unban, 16, 62, None)).await,
        None,
        "lifted already"
    );
    assert!(
        record(act(CaseKind::Ban, 16, 63, None)).await.is_some(),
        "banned again"
    );
}

/// A member's cases by pages, newest first, with the total and their active
/// warnings.
pub async fn member_cases_come_in_pages_with_totals<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    for i in 0..5 {
        add(&store, warning(1, 10, i, Some(50))).await;
        add(&store, new_case(1, 11, CaseKind::Note, "other", i)).await;
    }
    add(&store, new_case(1, 10, CaseKind::Note, "n", 6)).await;
    add(&store, new_case(1, 10, CaseKind::Warn, "w", 7)).await;
    store.revoke_case(g, 1, user(8), t(8), None).await.unwrap();
    add(&store, new_case(2, 10, CaseKind::Warn, "elsewhere", 0)).await;
    let page = |offset: u64, now: i64| {
        let store = store.clone();
        async move {
            store
                .member_cases(g, user(10), t(now), offset, 3)
                .await
                .unwrap()
        }
    };
    let first = page(0, 10).await;
    assert_eq!(numbers(&first.cases), vec![12, 11, 9]);
    assert_eq!((first.total, first.active_warnings), (7, 5));
    assert_eq!(numbers(&page(3, 10).await.cases), vec![7, 5, 3]);
    assert_eq!(numbers(&page(6, 10).await.cases), vec![1]);
    let past = page(9, 60).await;
    assert!(past.cases.is_empty());
    assert_eq!(
        (past.total, past.active_warnings),
        (7, 1),
        "expired ones stop counting"
    );
    let none = store.member_cases(g, user(99), t(0), 0, 3).await.unwrap();
    assert_eq!(
        (none.cases.len(), none.total, none.active_warnings),
        (0, 0, 0)
    );
}

/// A case's mod-log message and its DM status are remembered.
pub async fn log_message_and_dm_status_are_kept<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let case = add(&store, new_case(1, 10, CaseKind::Warn, "w", 0)).await;
    let message: Id<MessageMarker> = Id::new(555);
    assert!(
        store
            .set_log_message(g, case.number, channel(77), message)
            .await
            .unwrap()
    );
    assert!(store.set_dm_status(g, case.number, false).await.unwrap());
    let read = store.case(g, case.number).await.unwrap().unwrap();
    assert_eq!(
        (read.log_channel_id, read.log_message_id, read.dm_status),
        (Some(channel(77)), Some(message), Some(DmStatus::Failed))
    );
    assert!(store.set_dm_status(g, case.number, true).await.unwrap());
    assert_eq!(
        store.case(g, case.number).await.unwrap().unwrap().dm_status,
        Some(DmStatus::Sent)
    );
    assert!(
        !store
            .set_log_message(g, 99, channel(77), message)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_dm_status(guild(2), case.number, true)
            .await
            .unwrap()
    );
}

/// The seconds since the Unix epoch of `t(0)`, for backends seeding an old
/// schema by hand ([`check_upgraded_cases`]).
pub const T0_SECS: i64 = 1_750_000_000;

/// After a database at schema v6 holding, in guild 1, case 1 (a warning of user
/// 10 by 9, reason "old", made at `t(0)`, ending at `t(3600)`), case 2 (a ban of
/// user 10 by 9, no reason, made at `t(0)`, revoked by 8 at `t(60)`) and the
/// counter at 2 was opened (and so migrated through 0008): both cases read
/// back as they were, Keeper's own and done, and numbering and the new kinds
/// go on.
pub async fn check_upgraded_cases(store: &dyn Store) {
    let g = guild(1);
    let warning = store.case(g, 1).await.unwrap().expect("case 1 kept");
    assert_eq!(
        (
            warning.kind,
            warning.reason.as_deref(),
            warning.created_at,
            warning.expires_at
        ),
        (CaseKind::Warn, Some("old"), t(0), Some(t(3_600)))
    );
    assert_eq!(
        (warning.source, warning.action_status, warning.lift_status),
        (CaseSource::Keeper, ActionStatus::Done, None)
    );
    let ban = store.case(g, 2).await.unwrap().expect("case 2 kept");
    assert_eq!(
        (ban.kind, ban.reason, ban.revoked_by, ban.revoked_at),
        (CaseKind::Ban, None, Some(user(8)), Some(t(60)))
    );
    assert_eq!(store.active_warnings(g, user(10), t(10)).await.unwrap(), 1);
    let unban = store
        .add_case(&new_case(1, 10, CaseKind::Unban, "new kind", 100), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!(
        (unban.number, unban.action_status),
        (3, ActionStatus::Pending)
    );
    assert_eq!(
        numbers(&store.cases(g, Some(user(10)), 10).await.unwrap()),
        vec![3, 2, 1]
    );
}

/// Four claimers at once, over several rounds: no lift is ever claimed twice,
/// and every due one is claimed.
pub async fn concurrent_lift_claims_are_disjoint<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    for round in 0..5u64 {
        let now = 1_000 * (round as i64 + 1);
        for i in 0..12 {
            temp_ban(&store, 1 + round, 10 + i, now - 10).await;
        }
        let claims: Vec<_> = (0..4)
            .map(|c| {
                let store = store.clone();
                tokio::spawn(async move {
                    let claimer = format!("p{c}");
                    store
                        .claim_due_lifts(t(now), &claimer, Duration::seconds(60), 12)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for claim in claims {
            for case in claim.await.unwrap() {
                assert!(
                    seen.insert((case.guild_id, case.number)),
                    "round {round}: claimed twice: {case:?}"
                );
                let claimer = case.lift_claimed_by.clone().unwrap();
                let lifted = LiftOutcome::Lifted { at: t(now) };
                let finished = store.finish_lift(case.guild_id, case.number, &claimer, lifted);
                assert!(finished.await.unwrap(), "round {round}: {case:?}");
            }
        }
        assert_eq!(seen.len(), 12, "round {round}: every due lift claimed");
    }
}

/// An act from Discord's menus is recorded before its audit log entry is read:
/// its moderator unknown (`None`, and only for such a case), then named once.
pub async fn unknown_moderators_are_named_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let unknown = NewCase {
        moderator_id: None,
        reason: None,
        source: CaseSource::Discord,
        ..new_case(1, 10, CaseKind::Ban, "", 1)
    };
    let ban = store
        .record_discord_act(&unknown)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(ban, Case::recorded(unknown, ban.number));
    assert_eq!(store.case(g, ban.number).await.unwrap().unwrap(), ban);

    let named = store
        .attribute_discord_act(g, ban.number, user(7), Some("spam bot"))
        .await
        .unwrap()
        .expect("named");
    assert_eq!(
        (named.moderator_id, named.reason.as_deref()),
        (Some(user(7)), Some("spam bot"))
    );
    assert_eq!(
        store
            .attribute_discord_act(g, ban.number, user(8), Some("again"))
            .await
            .unwrap(),
        None,
        "named once"
    );
    // Keeper's own cases always have their moderator: never renamed.
    let temp_ban = NewCase {
        expires_at: Some(t(100)),
        duration_secs: Some(98),
        ..new_case(1, 11, CaseKind::Ban, "keeper", 2)
    };
    let own = add(&store, temp_ban.clone()).await;
    assert_eq!(
        own,
        Case::recorded(temp_ban, own.number),
        "pending, its lift scheduled"
    );
    assert_eq!(
        store
            .attribute_discord_act(g, own.number, user(8), None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .attribute_discord_act(g, 99, user(8), None)
            .await
            .unwrap(),
        None,
        "no such case"
    );
    assert_eq!(store.case(g, own.number).await.unwrap().unwrap(), own);
    assert_eq!(
        store.case(g, ban.number).await.unwrap().unwrap(),
        named,
        "read back as named"
    );
}
