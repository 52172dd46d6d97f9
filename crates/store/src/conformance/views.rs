//! The views for people reading the database by hand (migration 0010:
//! `leaderboard`, `active_warnings`, `guild_overview`). They hold no SQL Keeper
//! runs, so no trait states them: each backend queries its own views after
//! [`fill_for_views`] and compares them with [`ViewsExpected`], which the
//! store's own reads computed. Called from each backend's tests, not the
//! conformance macro (the views are read with the backend's SQL).

use chrono::{Duration, Utc};

use super::{guild, user};
use crate::{CaseKind, MemberProfile, NewCase, SettingsPatch, Store, XpAward};

/// What the views must show, as the store's reads say it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ViewsExpected {
    /// (guild, rank, user, xp, level, name), by guild then rank.
    pub leaderboard: Vec<(u64, i64, u64, i64, i64, Option<String>)>,
    /// (guild, case number), by guild then number.
    pub active_warnings: Vec<(u64, i64)>,
    /// (guild, members with XP, total XP, cases, active warnings, prefix), by
    /// guild.
    pub overview: Vec<(u64, i64, i64, i64, i64, Option<String>)>,
}

/// Two guilds with members (ties included), settings in one, and warnings that
/// count, expired, revoked, plus a note; what the store's reads say of them.
pub async fn fill_for_views(store: &dyn Store) -> ViewsExpected {
    let now = Utc::now();
    let award = |g: u64, u: u64, xp: i64| XpAward {
        guild_id: guild(g),
        user_id: user(u),
        xp,
        messages: 1,
        at: now - Duration::minutes(10),
    };
    let awards = [
        award(1, 10, 500),
        award(1, 11, 500),
        award(1, 12, 1_200),
        award(1, 13, 40),
        award(2, 10, 90),
    ];
    store.award_xp(&awards, &[]).await.unwrap();
    let prefix = SettingsPatch {
        prefix: Some("?".into()),
        ..SettingsPatch::default()
    };
    store.update_settings(guild(1), &prefix, now).await.unwrap();

    let warn = |target: u64, expires: Option<Duration>| NewCase {
        reason: Some("views".into()),
        expires_at: expires.map(|d| now + d),
        ..NewCase::new(guild(1), user(target), user(99), CaseKind::Warn, now)
    };
    for case in [
        warn(10, None),
        warn(10, Some(Duration::hours(1))),
        warn(11, Some(Duration::seconds(-1))),
        warn(12, None),
    ] {
        store.add_warning(&case, now, None).await.unwrap();
    }
    store
        .revoke_case(guild(1), 4, user(99), now, None)
        .await
        .unwrap();
    let note = NewCase::new(guild(1), user(13), user(99), CaseKind::Note, now);
    store.add_case(&note, None).await.unwrap();

    // Names for two members of guild 1 (0018); the others have none.
    let named = |u: u64, name: &str| MemberProfile {
        guild_id: guild(1),
        user_id: user(u),
        display_name: name.to_owned(),
        avatar: None,
        seen_at: now,
    };
    store
        .save_profiles(&[named(12, "Top"), named(10, "Ann")])
        .await
        .unwrap();

    let mut expected = ViewsExpected::default();
    for g in [1, 2] {
        let board = store.leaderboard(guild(g), 0, 100).await.unwrap();
        let users: Vec<_> = board.iter().map(|m| m.user_id).collect();
        let profiles = store.profiles(guild(g), &users).await.unwrap();
        let mut active = 0;
        for (i, member) in board.iter().enumerate() {
            let rank = store
                .member_rank(guild(g), member.user_id)
                .await
                .unwrap()
                .expect("ranked");
            assert_eq!(rank.position, i as u64 + 1, "the store's own places agree");
            expected.leaderboard.push((
                g,
                i as i64 + 1,
                member.user_id.get(),
                member.xp,
                i64::from(member.level),
                profiles
                    .iter()
                    .find(|p| p.user_id == member.user_id)
                    .map(|p| p.display_name.clone()),
            ));
            let page = store
                .member_cases(guild(g), member.user_id, Utc::now(), 0, 100)
                .await
                .unwrap();
            active += page.active_warnings;
            for case in page.cases {
                let counts = case.kind == CaseKind::Warn
                    && case.revoked_at.is_none()
                    && case.expires_at.is_none_or(|end| end > Utc::now());
                if counts {
                    expected.active_warnings.push((g, case.number));
                }
            }
        }
        let cases = store.cases(guild(g), None, 100).await.unwrap().len() as i64;
        let prefix = (g == 1).then(|| "?".to_owned());
        let total: i64 = board.iter().map(|m| m.xp).sum();
        expected
            .overview
            .push((g, board.len() as i64, total, cases, active, prefix));
    }
    expected.active_warnings.sort_unstable();
    assert_eq!(
        expected.active_warnings,
        vec![(1, 1), (1, 2)],
        "the warnings that count: not the expired, not the revoked"
    );
    expected
}
