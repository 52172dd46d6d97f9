//! [`ImportStore`](crate::ImportStore): another bot's data merged in one
//! transaction, the same on every backend.

use super::{Fixture, channel, guild, new_case, t, user};
use crate::{
    CaseKind, CaseSource, SettingsPatch,
    import::{
        GuildImported, ImportGuild, ImportMember, ImportSettings, ImportWarning, SettingMerge,
    },
    levels::level_for_xp,
};

fn member(u: u64, xp: i64, messages: i64, warnings: Vec<ImportWarning>) -> ImportMember {
    ImportMember {
        user_id: user(u),
        xp,
        messages,
        warnings,
    }
}

/// Guild 1 as another bot had it: a prefix and welcome channel, four members,
/// two warnings for member 13.
fn file() -> ImportGuild {
    ImportGuild {
        guild_id: guild(1),
        settings: ImportSettings {
            prefix: Some("$".into()),
            welcome_channel: Some(channel(5)),
            ..Default::default()
        },
        members: vec![
            member(10, 300, 3, vec![]),
            member(11, 1_000, 7, vec![]),
            member(12, 255, 0, vec![]),
            member(
                13,
                0,
                0,
                vec![
                    ImportWarning {
                        reason: Some("spam".into()),
                        moderator_id: Some(user(9)),
                        created_at: Some(t(5)),
                    },
                    ImportWarning::default(),
                ],
            ),
        ],
    }
}

/// Keeper already knows guild 1: a prefix of its own, members 10 (more XP than
/// the file) and 11 (less), and one case.
async fn keeper_before<F: Fixture>(fixture: &F) {
    let store = fixture.store();
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
        .set_xp(guild(1), user(10), 500, t(1), None)
        .await
        .unwrap();
    store
        .set_xp(guild(1), user(11), 50, t(1), None)
        .await
        .unwrap();
    store
        .add_case(&new_case(1, 11, CaseKind::Note, "known", 2), None)
        .await
        .unwrap();
}

pub async fn imports_merge_and_a_second_run_changes_nothing<F: Fixture>(fixture: &F) {
    keeper_before(fixture).await;
    let store = fixture.store();
    let done = store.import_guilds(&[file()], t(100), false).await.unwrap();
    assert_eq!(
        done,
        vec![GuildImported {
            guild_id: guild(1),
            settings: vec![
                SettingMerge::Kept {
                    setting: "prefix",
                    keeper: "?".into()
                },
                SettingMerge::Set {
                    setting: "welcome channel"
                },
            ],
            members_new: 1,
            members_raised: 1,
            members_kept: 1,
            warnings_added: 2,
            warnings_present: 0,
        }]
    );

    let settings = store.settings(guild(1)).await.unwrap();
    assert_eq!(settings.prefix, "?", "the guild's own prefix is kept");
    assert_eq!(settings.welcome_channel, Some(channel(5)));
    let xp = |u: u64| {
        let store = store.clone();
        async move {
            let rank = store.member_rank(guild(1), user(u)).await.unwrap().unwrap();
            (rank.member.xp, rank.member.level, rank.member.messages)
        }
    };
    assert_eq!(xp(10).await, (500, level_for_xp(500), 0), "Keeper had more");
    assert_eq!(xp(11).await, (1_000, level_for_xp(1_000), 7), "raised");
    assert_eq!(xp(12).await, (255, 2, 0), "new, level by the curve");
    // The leaderboard orders by the imported totals (the XP bucket followed).
    let board: Vec<u64> = store
        .leaderboard(guild(1), 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.user_id.get())
        .collect();
    assert_eq!(board, vec![11, 10, 12], "13 has only warnings: no XP row");

    // Numbered after the guild's case 1; imported, and counting.
    let cases = store.cases(guild(1), Some(user(13)), 10).await.unwrap();
    let mut cases: Vec<_> = cases
        .iter()
        .map(|c| {
            (
                c.number,
                c.kind,
                c.source,
                c.moderator_id,
                c.reason.clone(),
                c.created_at,
            )
        })
        .collect();
    cases.sort_unstable_by_key(|c| c.0);
    assert_eq!(
        cases,
        vec![
            (
                2,
                CaseKind::Warn,
                CaseSource::Import,
                Some(user(9)),
                Some("spam".into()),
                t(5)
            ),
            (3, CaseKind::Warn, CaseSource::Import, None, None, t(100)),
        ]
    );
    assert_eq!(
        store
            .active_warnings(guild(1), user(13), t(200))
            .await
            .unwrap(),
        2
    );

    // Again: nothing changes, and the report says why.
    let counts = store.table_counts().await.unwrap();
    let again = store.import_guilds(&[file()], t(300), false).await.unwrap();
    assert_eq!(again[0].members_new + again[0].members_raised, 0);
    assert_eq!(again[0].members_kept, 3);
    assert_eq!((again[0].warnings_added, again[0].warnings_present), (0, 2));
    assert!(again[0].settings.contains(&SettingMerge::Same {
        setting: "welcome channel"
    }));
    assert_eq!(store.table_counts().await.unwrap(), counts);
    assert_eq!(xp(11).await, (1_000, level_for_xp(1_000), 7));

    // A later file with a third warning for 13 adds only that one.
    let mut more = file();
    more.members[3].warnings.push(ImportWarning {
        reason: Some("third".into()),
        ..Default::default()
    });
    let third = store.import_guilds(&[more], t(400), false).await.unwrap();
    assert_eq!((third[0].warnings_added, third[0].warnings_present), (1, 2));
    let case = store.case(guild(1), 4).await.unwrap().unwrap();
    assert_eq!(
        (case.reason.as_deref(), case.source),
        (Some("third"), CaseSource::Import)
    );
}

pub async fn a_dry_run_reports_the_same_and_writes_nothing<F: Fixture>(fixture: &F) {
    keeper_before(fixture).await;
    let store = fixture.store();
    let counts = store.table_counts().await.unwrap();
    let dry = store.import_guilds(&[file()], t(100), true).await.unwrap();
    assert_eq!(store.table_counts().await.unwrap(), counts);
    assert_eq!(
        store.settings(guild(1)).await.unwrap().welcome_channel,
        None
    );
    let rank = store
        .member_rank(guild(1), user(11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rank.member.xp, 50);
    let real = store.import_guilds(&[file()], t(100), false).await.unwrap();
    assert_eq!(dry, real);
}

pub async fn an_import_that_fails_writes_nothing<F: Fixture>(fixture: &F) {
    keeper_before(fixture).await;
    let store = fixture.store();
    let counts = store.table_counts().await.unwrap();
    // The second guild's prefix is too long for Keeper: found only after the
    // first guild was written, in the same transaction.
    let bad = ImportGuild {
        guild_id: guild(2),
        settings: ImportSettings {
            prefix: Some("far-too-long".into()),
            ..Default::default()
        },
        members: vec![member(20, 10, 1, vec![])],
    };
    store
        .import_guilds(&[file(), bad], t(100), false)
        .await
        .unwrap_err();
    assert_eq!(store.table_counts().await.unwrap(), counts);
    assert_eq!(store.member_rank(guild(1), user(12)).await.unwrap(), None);
    assert_eq!(
        store.settings(guild(1)).await.unwrap().welcome_channel,
        None
    );
}
