//! [`ProfileStore`](crate::ProfileStore): members' names and avatars, written
//! only when they change, found by name with their place; and, since they are
//! personal data, shown and deleted with the rest of a member's data.

use twilight_model::id::Id;

use super::{Fixture, award, guild, t, user};
use crate::MemberProfile;

fn profile(g: u64, u: u64, name: &str, avatar: Option<&str>, at: i64) -> MemberProfile {
    MemberProfile {
        guild_id: guild(g),
        user_id: user(u),
        display_name: name.to_owned(),
        avatar: avatar.map(str::to_owned),
        seen_at: t(at),
    }
}

/// Read back as written (any script, markup and invisible characters kept
/// verbatim: escaping is the page's job); a profile that says the same is not
/// rewritten; an older sighting never replaces a newer one; of two for one
/// member in a batch the later wins.
pub async fn profiles_are_written_when_they_change<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let hostile = "<script>alert('x')</script> \u{202e}evil\u{200b} \"q\" & 名前 🎉";
    let huge = u64::MAX - 3;
    let batch = [
        profile(1, 10, "Ann", None, 0),
        profile(
            1,
            11,
            hostile,
            Some("a_0123456789abcdef0123456789abcdef"),
            0,
        ),
        profile(1, huge, "Ünïcödé", Some("ff"), 0),
        profile(2, 10, "Ann elsewhere", None, 0),
    ];
    assert_eq!(store.save_profiles(&batch).await.unwrap(), 4);
    let mut read = store
        .profiles(guild(1), &[user(10), user(11), user(huge), user(99)])
        .await
        .unwrap();
    read.sort_by_key(|p| p.user_id);
    assert_eq!(read, batch[..3].to_vec());
    assert!(store.profiles(guild(1), &[]).await.unwrap().is_empty());

    // The same again, later: nothing written.
    let same: Vec<MemberProfile> = batch
        .iter()
        .map(|p| MemberProfile {
            seen_at: t(100),
            ..p.clone()
        })
        .collect();
    assert_eq!(store.save_profiles(&same).await.unwrap(), 0);
    // A new name, and a new avatar: written.
    let changed = [
        profile(1, 10, "Annie", None, 200),
        profile(1, 11, hostile, None, 200),
    ];
    assert_eq!(store.save_profiles(&changed).await.unwrap(), 2);
    // An older sighting (a replay) does not undo them.
    assert_eq!(
        store
            .save_profiles(&[profile(1, 10, "Ann", None, 150)])
            .await
            .unwrap(),
        0
    );
    // Two in one batch: the one seen last wins.
    let two = [
        profile(1, 10, "Later", None, 400),
        profile(1, 10, "Earlier", None, 300),
    ];
    assert_eq!(store.save_profiles(&two).await.unwrap(), 1);
    let mut read = store
        .profiles(guild(1), &[user(10), user(11)])
        .await
        .unwrap();
    read.sort_by_key(|p| p.user_id);
    assert_eq!(
        read,
        [
            profile(1, 10, "Later", None, 400),
            profile(1, 11, hostile, None, 200)
        ]
    );
    // The other guild's profile of the same user is its own.
    assert_eq!(
        store.profiles(guild(2), &[user(10)]).await.unwrap()[0].display_name,
        "Ann elsewhere"
    );
}

/// The search finds members on the leaderboard whose name contains the text,
/// whatever its case (in any script), highest XP first, with the place `/rank`
/// gives them; members without XP, other guilds' members and names that don't
/// match are not found; `limit` bounds it.
pub async fn members_are_found_by_name_with_their_place<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    // 40 members in guild 1: member i has i * 10 XP; every third is an "Élodie".
    let awards: Vec<_> = (1..=40).map(|i| award(1, i, (i * 10) as i64, 0)).collect();
    store.award_xp(&awards, &[]).await.unwrap();
    store.award_xp(&[award(2, 500, 999, 0)], &[]).await.unwrap();
    let mut profiles: Vec<MemberProfile> = (1..=40)
        .map(|i| {
            let name = if i % 3 == 0 {
                format!("ÉLODIE #{i}")
            } else {
                format!("member {i}")
            };
            profile(1, i, &name, None, 0)
        })
        .collect();
    // Named but without XP; and a match in another guild.
    profiles.push(profile(1, 99, "élodie without xp", None, 0));
    profiles.push(profile(2, 500, "Élodie elsewhere", None, 0));
    store.save_profiles(&profiles).await.unwrap();

    let found = store.search_members(guild(1), "élodie", 100).await.unwrap();
    let users: Vec<u64> = found.iter().map(|r| r.member.user_id.get()).collect();
    let expected: Vec<u64> = (1..=40).rev().filter(|i| i % 3 == 0).collect();
    assert_eq!(users, expected);
    for rank in &found {
        let own = store
            .member_rank(guild(1), rank.member.user_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rank, &own, "the place /rank gives");
    }
    assert_eq!(found[0].position, 2, "member 39 is second after 40");
    assert_eq!(found[0].out_of, 40);

    let upper = store.search_members(guild(1), "ÉLO", 3).await.unwrap();
    assert_eq!(
        upper
            .iter()
            .map(|r| r.member.user_id.get())
            .collect::<Vec<_>>(),
        [39, 36, 33]
    );
    assert!(
        store
            .search_members(guild(1), "nobody", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Text that means something in SQL's patterns means nothing here.
    assert!(
        store
            .search_members(guild(1), "%", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let threes = store.search_members(guild(1), "#3", 10).await.unwrap();
    assert_eq!(
        threes
            .iter()
            .map(|r| r.member.user_id.get())
            .collect::<Vec<_>>(),
        [39, 36, 33, 30, 3]
    );
    assert!(
        store
            .search_members(guild(3), "élodie", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `/mydata show` lists a member's profiles, `/mydata delete` and
/// `keeper forget-user` delete them in every guild, and a guild's reset takes
/// its members' profiles with it.
pub async fn profiles_go_with_a_members_data<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let alice = 1_000_000_000_000_000_001;
    store
        .award_xp(&[award(1, alice, 50, 0), award(2, alice, 5, 0)], &[])
        .await
        .unwrap();
    store
        .save_profiles(&[
            profile(1, alice, "Alice", Some("abc123"), 0),
            profile(2, alice, "Al", None, 0),
            profile(1, 7, "Bob", None, 0),
            profile(3, 7, "Bob", None, 0),
        ])
        .await
        .unwrap();

    let export = store.export_user(user(alice)).await.unwrap();
    let names: Vec<&str> = export
        .profiles
        .iter()
        .map(|p| p.display_name.as_str())
        .collect();
    assert_eq!(names, ["Alice", "Al"]);
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["profiles"][0]["user_id"], alice.to_string());
    assert_eq!(json["profiles"][0]["avatar"], "abc123");

    store
        .delete_user_xp(user(alice), guild(1), Some(Id::new(5)), t(10))
        .await
        .unwrap();
    assert!(
        store
            .export_user(user(alice))
            .await
            .unwrap()
            .profiles
            .is_empty()
    );
    assert_eq!(store.profiles(guild(1), &[user(7)]).await.unwrap().len(), 1);

    let deleted = store.delete_user(user(7)).await.unwrap();
    assert_eq!(deleted.profiles, 2);
    assert!(
        store
            .profiles(guild(3), &[user(7)])
            .await
            .unwrap()
            .is_empty()
    );

    store
        .save_profiles(&[profile(1, 8, "Cy", None, 0), profile(2, 8, "Cy", None, 0)])
        .await
        .unwrap();
    store
        .reset_guild_data(guild(1), Some(Id::new(6)), t(20))
        .await
        .unwrap();
    assert!(
        store
            .profiles(guild(1), &[user(8)])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.profiles(guild(2), &[user(8)]).await.unwrap().len(), 1);
}
