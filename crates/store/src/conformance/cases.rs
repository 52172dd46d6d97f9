//! [`CaseStore`](crate::CaseStore): numbering, listing, revoking and expiry.
//! `reasons_stored_verbatim` also writes a settings message: it is about text
//! reaching the database unchanged, and case reasons are most of that text.

use chrono::Duration;

use super::{Fixture, guild, new_case, t, user};
use crate::{CaseKind, NewCase, SettingsPatch};

pub async fn cases_numbered_and_listed<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let mut made = Vec::new();
    for (i, kind) in CaseKind::ALL.into_iter().enumerate() {
        let mut case = new_case(1, 10 + (i as u64 % 2), kind, kind.as_str(), i as i64);
        if kind == CaseKind::Timeout {
            case.expires_at = Some(t(600));
        }
        let stored = store.add_case(&case).await.unwrap();
        assert_eq!(stored.number, i as i64 + 1);
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
    assert_eq!(numbers, vec![6, 5, 4, 3, 2, 1], "newest first");
    let about_11 = store.cases(g, Some(user(11)), 100).await.unwrap();
    assert_eq!(
        about_11.iter().map(|c| c.number).collect::<Vec<_>>(),
        vec![6, 4, 2]
    );
    assert_eq!(store.cases(g, None, 2).await.unwrap().len(), 2);
    let no_reason = store
        .add_case(&NewCase {
            reason: None,
            ..new_case(1, 10, CaseKind::Kick, "", 9)
        })
        .await
        .unwrap();
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
                    .add_case(&new_case(1, 100 + i, CaseKind::Warn, "race", i as i64))
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap().expect("add case").number);
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
        store
            .add_case(&new_case(1, 10, CaseKind::Warn, "w", i))
            .await
            .unwrap();
    }
    store
        .add_case(&new_case(1, 10, CaseKind::Note, "n", 3))
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 11, CaseKind::Warn, "other", 4))
        .await
        .unwrap();
    assert_eq!(store.active_warnings(g, user(10), t(10)).await.unwrap(), 3);

    let revoked = store
        .revoke_case(g, 2, user(8), t(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (revoked.revoked_by, revoked.revoked_at),
        (Some(user(8)), Some(t(20)))
    );
    // Revoking again keeps the first revocation.
    let again = store
        .revoke_case(g, 2, user(7), t(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.revoked_by, again.revoked_at),
        (Some(user(8)), Some(t(20)))
    );
    assert_eq!(store.active_warnings(g, user(10), t(40)).await.unwrap(), 2);
    assert!(
        store
            .revoke_case(g, 77, user(8), t(20))
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        store
            .clear_warnings(g, user(10), user(8), t(50))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.active_warnings(g, user(10), t(60)).await.unwrap(), 0);
    assert_eq!(
        store
            .clear_warnings(g, user(10), user(8), t(50))
            .await
            .unwrap(),
        0
    );
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
    store.add_case(&w).await.unwrap();
    store
        .add_case(&new_case(1, 10, CaseKind::Warn, "forever", 0))
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 10, CaseKind::Timeout, "not a warning", 0))
        .await
        .unwrap();
    assert_eq!(store.active_warnings(g, user(10), t(60)).await.unwrap(), 2);
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
        let case = store
            .add_case(&new_case(1, 10, CaseKind::Note, reason, i as i64))
            .await
            .unwrap();
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
