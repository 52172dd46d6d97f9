//! [`TransferStore`](crate::TransferStore): every table read and written whole,
//! what restore, copy and export stand on. Two databases per test: a copy
//! needs somewhere to go.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;

use super::{Fixture, guild, user};
use crate::{
    levels::level_for_xp,
    transfer::{self, *},
};

/// A time with milliseconds, as every backend keeps them.
fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_000 + ms).expect("a valid time")
}

/// An id above `i64::MAX`: stored negative, it must still come back and sort as
/// stored.
const HUGE: u64 = u64::MAX - 7;

/// Rows for every table, in key order, using every column (NULL and not),
/// within what each table's CHECKs allow.
pub fn sample_rows() -> Vec<Rows> {
    let g = guild;
    vec![
        Rows::GuildSettings(vec![
            GuildSettingsRow {
                guild_id: g(1),
                prefix: "?".into(),
                welcome_channel_id: Some(Id::new(11)),
                welcome_message: Some("Hi {user} ✨, 'quoted'".into()),
                modlog_channel_id: Some(Id::new(12)),
                levelup_mode: "channel".into(),
                levelup_channel_id: Some(Id::new(13)),
                levelup_message: Some("GG {user}".into()),
                xp_min: 5,
                xp_max: 50,
                xp_cooldown_secs: 30,
                warn_expiry_secs: Some(86_400),
                dm_on_warn: false,
                rank_card: false,
                rank_card_accent: Some(0xFF_88_00),
                web_public: true,
                created_at: at(1),
                updated_at: at(2),
            },
            GuildSettingsRow {
                guild_id: g(2),
                prefix: "!".into(),
                welcome_channel_id: None,
                welcome_message: None,
                modlog_channel_id: None,
                levelup_mode: "here".into(),
                levelup_channel_id: None,
                levelup_message: None,
                xp_min: 15,
                xp_max: 25,
                xp_cooldown_secs: 60,
                warn_expiry_secs: None,
                dm_on_warn: true,
                rank_card: true,
                rank_card_accent: None,
                web_public: false,
                created_at: at(3),
                updated_at: at(3),
            },
        ]),
        Rows::Guilds(vec![
            GuildRow {
                guild_id: g(1),
                name: "Первый".into(),
                icon: Some("a_0123456789abcdef0123456789abcdef".into()),
                owner_id: Some(user(HUGE)),
                member_count: 1_000_000,
                joined_at: Some(at(4)),
                left_at: None,
                updated_at: at(5),
            },
            GuildRow {
                guild_id: g(2),
                name: "left".into(),
                icon: None,
                owner_id: None,
                member_count: 0,
                joined_at: None,
                left_at: Some(at(6)),
                updated_at: at(7),
            },
        ]),
        Rows::GuildRoles(vec![
            GuildRoleRow {
                guild_id: g(1),
                role_id: Id::new(1),
                name: "@everyone".into(),
                position: 0,
                permissions: 0,
                managed: false,
                held_by_bot: false,
            },
            GuildRoleRow {
                guild_id: g(1),
                role_id: Id::new(50),
                name: "Keeper".into(),
                position: 9,
                permissions: -1,
                managed: true,
                held_by_bot: true,
            },
        ]),
        Rows::MemberXp(vec![
            MemberXpRow {
                guild_id: g(1),
                user_id: user(10),
                xp: 0,
                messages: 3,
                last_award_at: None,
            },
            MemberXpRow {
                guild_id: g(1),
                user_id: user(11),
                xp: 12_345,
                messages: 700,
                last_award_at: Some(at(8)),
            },
            MemberXpRow {
                guild_id: g(1),
                user_id: user(12),
                xp: 100,
                messages: 1,
                last_award_at: Some(at(9)),
            },
            MemberXpRow {
                guild_id: g(2),
                user_id: user(10),
                xp: 5,
                messages: 1,
                last_award_at: Some(at(10)),
            },
        ]),
        // Keys as stored: the id above i64::MAX is negative, so it comes first.
        Rows::MemberProfiles(vec![
            MemberProfileRow {
                guild_id: g(1),
                user_id: user(HUGE),
                display_name: "名前".into(),
                avatar: None,
                seen_at: at(12),
            },
            MemberProfileRow {
                guild_id: g(1),
                user_id: user(10),
                display_name: "<b>Ann</b> \u{202e}\u{200b} 'Ω' \"✨\"".into(),
                avatar: Some("0123456789abcdef0123456789abcdef".into()),
                seen_at: at(11),
            },
            MemberProfileRow {
                guild_id: g(2),
                user_id: user(10),
                display_name: "Ann".into(),
                avatar: None,
                seen_at: at(13),
            },
        ]),
        Rows::LevelRewards(vec![
            LevelRewardRow {
                guild_id: g(1),
                level: 5,
                role_id: Id::new(51),
            },
            LevelRewardRow {
                guild_id: g(1),
                level: 10,
                role_id: Id::new(52),
            },
        ]),
        Rows::CaseCounters(vec![CaseCounterRow {
            guild_id: g(1),
            last_case: 3,
        }]),
        Rows::ModCases(vec![
            ModCaseRow {
                guild_id: g(1),
                case_number: 1,
                target_id: user(11),
                moderator_id: Some(user(99)),
                kind: "warn".into(),
                reason: Some("spam\nwith a newline".into()),
                created_at: at(11),
                expires_at: Some(at(100_000)),
                revoked_by: Some(user(98)),
                revoked_at: Some(at(12)),
                source: "keeper".into(),
                escalated_from: None,
                duration_secs: None,
                action_status: "done".into(),
                action_error: None,
                lift_status: None,
                lift_error: None,
                lift_claimed_by: None,
                lift_claimed_until: None,
                lifted_at: None,
                log_channel_id: Some(Id::new(12)),
                log_message_id: Some(Id::new(500)),
                dm_status: Some("failed".into()),
            },
            ModCaseRow {
                guild_id: g(1),
                case_number: 2,
                target_id: user(11),
                moderator_id: Some(user(99)),
                kind: "ban".into(),
                reason: None,
                created_at: at(13),
                expires_at: Some(at(14)),
                revoked_by: None,
                revoked_at: None,
                source: "escalation".into(),
                escalated_from: Some(1),
                duration_secs: Some(3_600),
                action_status: "failed".into(),
                action_error: Some("Missing Permissions".into()),
                lift_status: Some("scheduled".into()),
                lift_error: None,
                lift_claimed_by: Some("host:42".into()),
                lift_claimed_until: Some(at(15)),
                lifted_at: None,
                log_channel_id: None,
                log_message_id: None,
                dm_status: None,
            },
            ModCaseRow {
                guild_id: g(1),
                case_number: 3,
                target_id: user(HUGE),
                moderator_id: None,
                kind: "timeout".into(),
                reason: Some("from Discord's menus".into()),
                created_at: at(16),
                expires_at: Some(at(17)),
                revoked_by: None,
                revoked_at: None,
                source: "discord".into(),
                escalated_from: None,
                duration_secs: None,
                action_status: "pending".into(),
                action_error: None,
                lift_status: None,
                lift_error: None,
                lift_claimed_by: None,
                lift_claimed_until: None,
                lifted_at: None,
                log_channel_id: None,
                log_message_id: None,
                dm_status: Some("sent".into()),
            },
        ]),
        Rows::CaseAmendments(vec![
            CaseAmendmentRow {
                guild_id: g(1),
                case_number: 1,
                amendment: 1,
                amended_at: at(18),
                amended_by: user(99),
                old_reason: None,
                new_reason: "spam".into(),
            },
            CaseAmendmentRow {
                guild_id: g(1),
                case_number: 1,
                amendment: 2,
                amended_at: at(19),
                amended_by: user(98),
                old_reason: Some("spam".into()),
                new_reason: "spam\nwith a newline".into(),
            },
        ]),
        Rows::EscalationRules(vec![
            EscalationRuleRow {
                guild_id: g(1),
                warnings: 1,
                action: "ban".into(),
                duration_secs: Some(3_600),
            },
            EscalationRuleRow {
                guild_id: g(1),
                warnings: 3,
                action: "kick".into(),
                duration_secs: None,
            },
        ]),
        Rows::WelcomedMembers(vec![
            WelcomedMemberRow {
                guild_id: g(1),
                user_id: user(10),
                joined_at: at(20),
                left_at: Some(at(21)),
                session_id: Some("abc".into()),
                sequence: Some(77),
            },
            WelcomedMemberRow {
                guild_id: g(1),
                user_id: user(11),
                joined_at: at(22),
                left_at: None,
                session_id: None,
                sequence: None,
            },
        ]),
        Rows::GatewaySessions(vec![
            GatewaySessionRow {
                shard_id: 0,
                shard_total: 2,
                session_id: "s0".into(),
                resume_url: "wss://gateway.example/".into(),
                sequence: 1_000,
                updated_at: at(23),
            },
            GatewaySessionRow {
                shard_id: 1,
                shard_total: 2,
                session_id: "s1".into(),
                resume_url: "wss://gateway.example/".into(),
                sequence: 0,
                updated_at: at(24),
            },
        ]),
        // Keys as stored: the id above i64::MAX is negative, so it comes first.
        Rows::AppliedInteractions(vec![
            AppliedInteractionRow {
                interaction_id: Id::new(HUGE),
                guild_id: g(2),
                applied_at: at(26),
            },
            AppliedInteractionRow {
                interaction_id: Id::new(900),
                guild_id: g(1),
                applied_at: at(25),
            },
        ]),
    ]
}

/// Every table read whole, two rows a page (so pages are cut inside tables).
async fn read_all(store: &dyn crate::Store) -> Vec<Rows> {
    let mut tables = Vec::new();
    for table in Table::ALL {
        let mut all = table.empty();
        let mut after = None;
        loop {
            let page = store.read_rows(table, after, 2).await.unwrap();
            assert_eq!(page.table(), table);
            assert!(page.len() <= 2, "{table:?}: a page over its limit");
            let done = page.len() < 2;
            after = page.last_key();
            append(&mut all, page);
            if done {
                break;
            }
        }
        tables.push(all);
    }
    tables
}

fn append(all: &mut Rows, page: Rows) {
    macro_rules! join {
        ($($variant:ident),*) => {
            match (all, page) {
                $((Rows::$variant(a), Rows::$variant(b)) => a.extend(b),)*
                (a, b) => panic!("{:?} and {:?} mixed", a.table(), b.table()),
            }
        };
    }
    join!(
        GuildSettings,
        Guilds,
        GuildRoles,
        MemberXp,
        MemberProfiles,
        LevelRewards,
        CaseCounters,
        ModCases,
        CaseAmendments,
        EscalationRules,
        WelcomedMembers,
        GatewaySessions,
        AppliedInteractions
    );
}

/// Rows written are read back the same, every column, in key order as stored;
/// the store's own
/// reads see them (levels derived from XP); a copy to a second database
/// matches table for table; a batch that collides writes nothing; and
/// `clear_all` empties every table.
pub async fn every_table_moves_whole<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let written = sample_rows();
    for rows in &written {
        store.write_rows(rows).await.unwrap();
    }
    let counts = store.table_counts().await.unwrap();
    assert_eq!(
        counts.len(),
        Table::ALL.len(),
        "table_counts names every table"
    );
    for (name, count) in &counts {
        let table = Table::named(name).expect("a known table");
        let expected = written.iter().find(|r| r.table() == table).unwrap().len();
        assert_eq!(*count, expected as i64, "{name}");
    }
    assert_eq!(read_all(&*store).await, written);

    // The store's own reads: the level is derived from the XP written.
    let rank = store
        .member_rank(guild(1), user(11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (rank.member.xp, rank.member.level),
        (12_345, level_for_xp(12_345))
    );
    let case = store.case(guild(1), 3).await.unwrap().expect("case 3");
    assert_eq!(case.target_id, user(HUGE));
    assert_eq!(case.moderator_id, None);

    // A copy into a second database, in pages of 3.
    let target = F::create().await;
    let to = target.store();
    for table in Table::ALL {
        let mut seen = 0;
        let copied = transfer::copy_table(&*store, &*to, table, 3, |n| seen = n)
            .await
            .unwrap();
        assert_eq!(seen, copied.rows, "{table:?}: progress reached the end");
        let there = transfer::digest_table(&*to, table, 1).await.unwrap();
        assert_eq!(there, copied, "{table:?}");
    }
    assert_eq!(to.table_counts().await.unwrap(), counts);

    // All or nothing: a batch with one new and one present row writes neither.
    let before = transfer::digest_table(&*to, Table::MemberXp, 100)
        .await
        .unwrap();
    let mut clash = match &written[3] {
        Rows::MemberXp(rows) => rows.clone(),
        other => panic!("sample order changed: {:?}", other.table()),
    };
    clash[0].user_id = user(4_242);
    assert!(to.write_rows(&Rows::MemberXp(clash)).await.is_err());
    let after = transfer::digest_table(&*to, Table::MemberXp, 100)
        .await
        .unwrap();
    assert_eq!(after, before, "a failed batch left nothing behind");

    to.clear_all().await.unwrap();
    for (name, count) in to.table_counts().await.unwrap() {
        assert_eq!(count, 0, "{name} after clear_all");
    }
    assert!(
        to.read_rows(Table::ModCases, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    target.cleanup().await;
}

/// `rows` without those of `guild`.
/// `/config reset-data`: the guild's data goes whole, in one transaction, at
/// most once per interaction; what the gateway told of it (facts, roles), the
/// other guilds, sessions and applied interactions stay.
pub async fn a_guilds_data_is_reset_whole_and_once<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    for rows in sample_rows() {
        store.write_rows(&rows).await.unwrap();
    }
    let kept = |table: Table| {
        matches!(
            table,
            Table::Guilds | Table::GuildRoles | Table::GatewaySessions | Table::AppliedInteractions
        )
    };
    let expected: Vec<Rows> = sample_rows()
        .into_iter()
        .map(|r| {
            if kept(r.table()) {
                r
            } else {
                without_guild(r, 1)
            }
        })
        .collect();
    let gone: usize = sample_rows().iter().map(Rows::len).sum::<usize>()
        - expected.iter().map(Rows::len).sum::<usize>();
    assert!(gone > 5, "the sample has guild 1's data in several tables");

    let once = Some(Id::new(4_242));
    let done = store
        .reset_guild_data(guild(1), once, at(50))
        .await
        .unwrap();
    assert_eq!(done.now(), Some(gone as u64));
    let after = read_all(&*store).await;
    for (got, want) in after.iter().zip(&expected) {
        if got.table() == Table::AppliedInteractions {
            // One more: the reset's own.
            assert_eq!(got.len(), want.len() + 1);
        } else {
            assert_eq!(got, want, "{:?}", got.table());
        }
    }
    // Delivered again: nothing more is deleted (guild 1 has new XP by then).
    store
        .set_xp(guild(1), user(5), 40, at(60), None)
        .await
        .unwrap();
    let again = store
        .reset_guild_data(guild(1), once, at(70))
        .await
        .unwrap();
    assert!(again.now().is_none(), "applied once");
    assert_eq!(store.leaderboard_len(guild(1)).await.unwrap(), 1);
}

fn without_guild(rows: Rows, guild: u64) -> Rows {
    let keep = |g: Id<twilight_model::id::marker::GuildMarker>| g.get() != guild;
    match rows {
        Rows::GuildSettings(r) => {
            Rows::GuildSettings(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::Guilds(r) => Rows::Guilds(r.into_iter().filter(|r| keep(r.guild_id)).collect()),
        Rows::GuildRoles(r) => {
            Rows::GuildRoles(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::MemberXp(r) => Rows::MemberXp(r.into_iter().filter(|r| keep(r.guild_id)).collect()),
        Rows::MemberProfiles(r) => {
            Rows::MemberProfiles(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::LevelRewards(r) => {
            Rows::LevelRewards(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::CaseCounters(r) => {
            Rows::CaseCounters(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::ModCases(r) => Rows::ModCases(r.into_iter().filter(|r| keep(r.guild_id)).collect()),
        Rows::CaseAmendments(r) => {
            Rows::CaseAmendments(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::EscalationRules(r) => {
            Rows::EscalationRules(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::WelcomedMembers(r) => {
            Rows::WelcomedMembers(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
        Rows::GatewaySessions(r) => Rows::GatewaySessions(r),
        Rows::AppliedInteractions(r) => {
            Rows::AppliedInteractions(r.into_iter().filter(|r| keep(r.guild_id)).collect())
        }
    }
}

/// The retention policy's store side (`GuildStore::guilds_left_before`,
/// `purge_left_guild`), here because it spans every table: a guild left
/// before the limit loses every row of every table, and no other guild loses
/// any; a guild still in, left later, or rejoined meanwhile is kept whole.
pub async fn a_left_guild_is_purged_whole_after_retention<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    // Guild 2 was left at at(6); guild 1 is in.
    for rows in sample_rows() {
        store.write_rows(&rows).await.unwrap();
    }
    assert!(
        store
            .guilds_left_before(at(6), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.guilds_left_before(at(7), 10).await.unwrap(),
        [guild(2)]
    );
    assert_eq!(
        store.purge_left_guild(guild(1), at(1_000)).await.unwrap(),
        None
    );
    assert_eq!(store.purge_left_guild(guild(2), at(6)).await.unwrap(), None);
    assert_eq!(
        read_all(&*store).await,
        sample_rows(),
        "nothing purged early"
    );

    let purged = store.purge_left_guild(guild(2), at(7)).await.unwrap();
    let expected: Vec<Rows> = sample_rows()
        .into_iter()
        .map(|r| without_guild(r, 2))
        .collect();
    let gone: usize = sample_rows().iter().map(Rows::len).sum::<usize>()
        - expected.iter().map(Rows::len).sum::<usize>();
    assert_eq!(purged, Some(gone as u64));
    assert_eq!(read_all(&*store).await, expected);
    assert!(
        store
            .guilds_left_before(at(1_000), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.purge_left_guild(guild(2), at(7)).await.unwrap(),
        None,
        "once"
    );

    // Left, then back before the purge ran: kept.
    store.mark_left(guild(1), at(100)).await.unwrap();
    let facts = store.all_guilds().await.unwrap().remove(0);
    store.save_guild(&facts, at(101)).await.unwrap();
    assert_eq!(
        store.purge_left_guild(guild(1), at(1_000)).await.unwrap(),
        None
    );
    assert_eq!(
        read_all(&*store).await.iter().map(Rows::len).sum::<usize>(),
        expected.iter().map(Rows::len).sum::<usize>()
    );
}
