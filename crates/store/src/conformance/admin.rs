//! The store as a whole (health, counts, reopening), and the tests that span
//! every entity: guild isolation and snowflake round trips write through each
//! trait, so they live here rather than with any one of them.

use std::collections::HashMap;

use super::{Fixture, award, channel, guild, new_case, role, session, t, user};
use crate::{CaseKind, EscalationAction, EscalationRule, LevelUpTarget, NewCase, SettingsPatch};

pub async fn health_version_and_counts<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store.health_check().await.expect("health check");
    assert!(["sqlite", "postgres", "mysql"].contains(&store.backend()));
    assert!(store.schema_version().await.unwrap() >= 1);
    let counts: HashMap<_, _> = store.table_counts().await.unwrap().into_iter().collect();
    for table in [
        "guild_settings",
        "member_xp",
        "mod_cases",
        "level_rewards",
        "escalation_rules",
        "gateway_sessions",
        "guilds",
        "guild_roles",
    ] {
        assert_eq!(counts.get(table), Some(&0), "{table} in {counts:?}");
    }
    store
        .award_xp(&[award(1, 2, 10, 0), award(1, 3, 10, 0)], &[])
        .await
        .unwrap();
    let counts: HashMap<_, _> = store.table_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["member_xp"], 2);
}

pub async fn guild_isolation<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store
        .award_xp(&[award(1, 7, 100, 0), award(2, 7, 5, 0)], &[])
        .await
        .unwrap();
    store
        .update_settings(
            guild(1),
            &SettingsPatch {
                prefix: Some("?".into()),
                ..Default::default()
            },
            t(0),
        )
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 7, CaseKind::Warn, "a", 0), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    store.set_level_reward(guild(1), 5, role(50)).await.unwrap();
    store
        .set_escalation(&EscalationRule {
            guild_id: guild(1),
            warnings: 3,
            action: EscalationAction::Kick,
            duration_secs: None,
        })
        .await
        .unwrap();

    assert_eq!(store.settings(guild(2)).await.unwrap().prefix, "!");
    assert_eq!(
        store
            .member_rank(guild(2), user(7))
            .await
            .unwrap()
            .unwrap()
            .member
            .xp,
        5
    );
    assert!(store.cases(guild(2), None, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .active_warnings(guild(2), user(7), t(1))
            .await
            .unwrap(),
        0
    );
    assert!(store.level_rewards(guild(2)).await.unwrap().is_empty());
    assert!(store.escalations(guild(2)).await.unwrap().is_empty());
    // Case numbers are per guild.
    let case = store
        .add_case(&new_case(2, 7, CaseKind::Warn, "b", 0), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    assert_eq!(case.number, 1);
    assert!(
        store
            .revoke_case(guild(2), 2, user(9), t(1), None)
            .await
            .unwrap()
            .now()
            .unwrap()
            .is_none()
    );
}

pub async fn snowflakes_round_trip_exactly<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let ids: [u64; 5] = [
        1,
        i64::MAX as u64,
        1_234_567_890_123_456_789,
        81_384_788_765_712_384,
        175_928_847_299_117_063,
    ];
    for (i, &id) in ids.iter().enumerate() {
        let g = guild(id);
        store
            .add_xp(g, user(id), 10 + i as i64, t(0), None)
            .await
            .unwrap();
        let board = store.leaderboard(g, 0, 10).await.unwrap();
        assert_eq!(board[0].guild_id.get(), id);
        assert_eq!(board[0].user_id.get(), id);
        let s = store
            .update_settings(
                g,
                &SettingsPatch {
                    welcome_channel: Some(Some(channel(id))),
                    levelup: Some(LevelUpTarget::Channel(channel(id))),
                    ..Default::default()
                },
                t(0),
            )
            .await
            .unwrap();
        assert_eq!(store.settings(g).await.unwrap(), s);
        assert_eq!(s.welcome_channel.unwrap().get(), id);
        assert_eq!(s.levelup, LevelUpTarget::Channel(channel(id)));
        store.set_level_reward(g, 1, role(id)).await.unwrap();
        assert_eq!(store.level_rewards(g).await.unwrap()[0].role_id.get(), id);
        let case = store
            .add_case(
                &NewCase {
                    moderator_id: Some(user(id)),
                    ..new_case(id, id, CaseKind::Note, "x", 0)
                },
                None,
            )
            .await
            .unwrap()
            .now()
            .unwrap();
        let read = store.case(g, case.number).await.unwrap().unwrap();
        assert_eq!(
            (read.target_id.get(), read.moderator_id.map(|m| m.get())),
            (id, Some(id))
        );
    }
}

pub async fn reopen_keeps_data_and_reruns_migrations<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store
        .award_xp(&[award(1, 2, 120, 0)], &[session(0, 5)])
        .await
        .unwrap();
    let version = store.schema_version().await.unwrap();
    let again = fixture.reopen().await;
    assert_eq!(again.schema_version().await.unwrap(), version);
    let rank = again.member_rank(guild(1), user(2)).await.unwrap().unwrap();
    assert_eq!((rank.member.xp, rank.member.level), (120, 1));
    assert_eq!(again.session(0).await.unwrap().unwrap().sequence, 5);
    again.close().await;
}

/// Eight processes' schedulers waking for the same period: one claim is
/// recorded, the others are told no; the next period is free again; the
/// outcome is recorded on the claim (a reopened store sees the claim too).
pub async fn a_backup_period_is_claimed_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let period = t(3_600);
    let claims = (0..8).map(|n| {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move {
            store
                .claim_backup(period, &format!("host:{n}"), t(3_601))
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one claim of the period");
    store
        .finish_backup(period, Ok("/backups/keeper-x.db"), t(3_602))
        .await
        .unwrap();
    let again = fixture.reopen().await;
    assert!(!again.claim_backup(period, "late", t(3_700)).await.unwrap());
    assert!(
        again
            .claim_backup(t(7_200), "late", t(7_200))
            .await
            .unwrap()
    );
    again
        .finish_backup(t(7_200), Err("disk full"), t(7_201))
        .await
        .unwrap();
    let runs = again.backup_runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (
            runs[0].period_start,
            runs[0].claimed_by.as_str(),
            runs[0].error.as_deref()
        ),
        (t(7_200), "late", Some("disk full"))
    );
    assert_eq!(runs[0].finished_at, Some(t(7_201)));
    assert_eq!(runs[1].file.as_deref(), Some("/backups/keeper-x.db"));
    assert!(runs[1].claimed_by.starts_with("host:"));
    assert_eq!(again.backup_runs(1).await.unwrap().len(), 1);
    again.close().await;
}
