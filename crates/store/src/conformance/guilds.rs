//! [`GuildStore`](crate::GuildStore): what the gateway told of each guild,
//! saved whole, changed one fact at a time, and read back after a restart.

use twilight_model::guild::Permissions;

use super::{Fixture, guild, role, t, user};
use crate::{GuildFacts, GuildRole};

fn a_role(id: u64, name: &str, position: i64, permissions: Permissions) -> GuildRole {
    GuildRole {
        role_id: role(id),
        name: name.to_owned(),
        position,
        permissions,
        managed: false,
    }
}

/// A guild as GUILD_CREATE describes it: @everyone, Keeper's role, two others.
fn facts(g: u64) -> GuildFacts {
    GuildFacts {
        guild_id: guild(g),
        name: format!("Guild {g}"),
        // Guild 2 has no icon.
        icon: (g != 2).then(|| format!("{g:032x}")),
        owner_id: Some(user(500)),
        member_count: 42,
        roles: vec![
            a_role(g, "@everyone", 0, Permissions::SEND_MESSAGES),
            a_role(20, "Regular", 1, Permissions::empty()),
            GuildRole {
                managed: true,
                ..a_role(21, "Keeper", 3, Permissions::MANAGE_ROLES)
            },
            // Every bit, the sign bit of the stored integer included.
            a_role(22, "Everything", 2, Permissions::from_bits_retain(u64::MAX)),
        ],
        bot_roles: vec![role(21)],
        joined_at: Some(t(10)),
        left_at: None,
    }
}

/// Roles in a stable order, to compare what was read with what was written.
fn sorted(mut facts: GuildFacts) -> GuildFacts {
    facts.roles.sort_by_key(|r| r.role_id);
    facts.bot_roles.sort();
    facts
}

fn find(all: &[GuildFacts], g: u64) -> GuildFacts {
    let found = all.iter().find(|f| f.guild_id == guild(g)).cloned();
    sorted(found.unwrap_or_else(|| panic!("guild {g} not stored")))
}

/// GUILD_CREATE's facts come back whole, from a restarted process too; a second
/// GUILD_CREATE replaces them (a role gone meanwhile goes), keeping the join
/// time when it has none.
pub async fn guild_facts_are_saved_whole_and_read_back<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    assert!(store.all_guilds().await.unwrap().is_empty());
    store.save_guild(&facts(1), t(20)).await.unwrap();
    store.save_guild(&facts(2), t(20)).await.unwrap();
    let reopened = fixture.reopen().await;
    let all = reopened.all_guilds().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(find(&all, 1), sorted(facts(1)));
    assert_eq!(find(&all, 2), sorted(facts(2)));

    let mut again = facts(1);
    again.name = "Renamed".into();
    again.icon = None;
    again.member_count = 7;
    again.roles.retain(|r| r.role_id != role(20));
    again.bot_roles = vec![role(22)];
    again.joined_at = None;
    store.save_guild(&again, t(30)).await.unwrap();
    let read = find(&store.all_guilds().await.unwrap(), 1);
    assert_eq!(read.joined_at, Some(t(10)), "the join time is kept");
    assert_eq!(
        read,
        sorted(GuildFacts {
            joined_at: Some(t(10)),
            ..again
        })
    );
    assert_eq!(
        find(&store.all_guilds().await.unwrap(), 2),
        sorted(facts(2))
    );
}

/// GUILD_UPDATE, the role events, Keeper's own roles and the member count each
/// change their fact and nothing else, in their guild only.
pub async fn guild_events_change_one_fact_each<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store.save_guild(&facts(1), t(20)).await.unwrap();
    store.save_guild(&facts(2), t(20)).await.unwrap();
    let mut expected = facts(1);

    store
        .update_guild(guild(1), "New name", Some("a_feed"), Some(user(501)), t(21))
        .await
        .unwrap();
    expected.name = "New name".into();
    expected.icon = Some("a_feed".into());
    expected.owner_id = Some(user(501));
    // What the web leaderboard reads of it.
    let profile = store.guild_profile(guild(1)).await.unwrap().unwrap();
    assert_eq!(
        (
            profile.guild_id,
            profile.name.as_str(),
            profile.icon.as_deref()
        ),
        (guild(1), "New name", Some("a_feed"))
    );
    let plain = store.guild_profile(guild(2)).await.unwrap().unwrap();
    assert_eq!((plain.name.as_str(), plain.icon), ("Guild 2", None));
    assert_eq!(store.guild_profile(guild(3)).await.unwrap(), None);
    // A role made, one edited (Keeper's: still held), one deleted.
    let admin = a_role(23, "Admin", 1, Permissions::ADMINISTRATOR);
    store.save_role(guild(1), &admin, t(22)).await.unwrap();
    let keeper = GuildRole {
        position: 5,
        ..expected.roles[2].clone()
    };
    store.save_role(guild(1), &keeper, t(23)).await.unwrap();
    store.delete_role(guild(1), role(20), t(24)).await.unwrap();
    expected.roles = vec![
        expected.roles[0].clone(),
        keeper,
        expected.roles[3].clone(),
        admin,
    ];
    assert_eq!(
        find(&store.all_guilds().await.unwrap(), 1),
        sorted(expected.clone())
    );

    store
        .set_bot_roles(guild(1), &[role(22), role(23)], t(25))
        .await
        .unwrap();
    expected.bot_roles = vec![role(22), role(23)];
    let all = store.all_guilds().await.unwrap();
    assert_eq!(find(&all, 1), sorted(expected));
    assert_eq!(
        find(&all, 2),
        sorted(facts(2)),
        "another guild is untouched"
    );

    // A change to a guild never saved writes no guild row.
    store
        .update_guild(guild(3), "x", None, None, t(27))
        .await
        .unwrap();
    assert_eq!(store.all_guilds().await.unwrap().len(), 2);
}

/// Leaving keeps the guild's row with the time it was left (a retention policy
/// reads it); coming back clears it.
pub async fn a_left_guild_keeps_when_it_was_left<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    store.save_guild(&facts(1), t(20)).await.unwrap();
    store.mark_left(guild(1), t(40)).await.unwrap();
    let left = find(&store.all_guilds().await.unwrap(), 1);
    assert_eq!(left.left_at, Some(t(40)));
    assert_eq!(left.name, "Guild 1", "the facts stay");
    store.save_guild(&facts(1), t(50)).await.unwrap();
    let back = find(&store.all_guilds().await.unwrap(), 1);
    assert_eq!(back.left_at, None);
}
