//! [`UserDataStore`](crate::UserDataStore): export and deletion of one user's data
//! across guilds.

use twilight_model::id::Id;

use super::{Fixture, award, guild, new_case, t, user};
use crate::{CaseKind, NewCase};

pub async fn export_and_delete_user<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let alice = user(1_000_000_000_000_000_001);
    store
        .award_xp(
            &[
                award(1, alice.get(), 150, 0),
                award(2, alice.get(), 30, 0),
                award(1, 5, 10, 0),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .add_case(&new_case(1, alice.get(), CaseKind::Warn, "spam", 1), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    store
        .add_case(&new_case(2, alice.get(), CaseKind::Note, "nice", 2), None)
        .await
        .unwrap()
        .now()
        .unwrap();
    store
        .add_case(
            &NewCase {
                moderator_id: Some(alice),
                ..new_case(1, 5, CaseKind::Kick, "by alice", 3)
            },
            None,
        )
        .await
        .unwrap()
        .now()
        .unwrap();

    let export = store.export_user(alice).await.unwrap();
    assert_eq!(export.user_id, alice);
    let mut xp: Vec<_> = export.xp.iter().map(|m| (m.guild_id.get(), m.xp)).collect();
    xp.sort_unstable();
    assert_eq!(xp, vec![(1, 150), (2, 30)]);
    assert_eq!(export.cases.len(), 2);
    assert_eq!(export.moderated.len(), 1);
    assert_eq!(export.moderated[0].target_id, user(5));
    // Ids are strings in JSON, as in Discord's own payloads.
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["user_id"], "1000000000000000001");
    assert_eq!(json["xp"][0]["user_id"], "1000000000000000001");

    let deleted = store.delete_user(alice).await.unwrap();
    assert_eq!((deleted.xp_rows, deleted.cases), (2, 2));
    let export = store.export_user(alice).await.unwrap();
    assert!(export.xp.is_empty() && export.cases.is_empty());
    assert_eq!(
        export.moderated.len(),
        1,
        "cases alice issued stay on the guild's record"
    );
    assert_eq!(store.leaderboard_len(guild(1)).await.unwrap(), 1);
    // Case numbers are not reused after a deletion.
    assert_eq!(
        store
            .add_case(&new_case(1, 5, CaseKind::Note, "next", 4), None)
            .await
            .unwrap()
            .now()
            .unwrap()
            .number,
        3
    );
}

/// `/mydata delete`: the user's XP goes in every guild, the cases about them
/// stay, other members are untouched; once per interaction.
pub async fn a_members_xp_is_deleted_everywhere_and_cases_kept<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let alice = user(1_000_000_000_000_000_001);
    store
        .award_xp(
            &[
                award(1, alice.get(), 150, 0),
                award(2, alice.get(), 30, 0),
                award(1, 5, 10, 0),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .add_case(&new_case(1, alice.get(), CaseKind::Warn, "spam", 1), None)
        .await
        .unwrap();
    let once = Some(Id::new(777));
    let deleted = store
        .delete_user_xp(alice, guild(1), once, t(10))
        .await
        .unwrap();
    assert_eq!(deleted.now(), Some(2));
    let left = store.export_user(alice).await.unwrap();
    assert!(left.xp.is_empty(), "{left:?}");
    assert_eq!(left.cases.len(), 1, "cases about them are kept");
    assert_eq!(
        store.leaderboard_len(guild(1)).await.unwrap(),
        1,
        "member 5 stays"
    );
    // Delivered again after they earned XP anew: not deleted twice.
    store
        .award_xp(&[award(1, alice.get(), 20, 20)], &[])
        .await
        .unwrap();
    let again = store
        .delete_user_xp(alice, guild(1), once, t(30))
        .await
        .unwrap();
    assert!(again.now().is_none());
    assert_eq!(store.export_user(alice).await.unwrap().xp.len(), 1);
}
