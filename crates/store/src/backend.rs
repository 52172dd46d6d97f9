//! What every backend crate shares, so that a backend is its SQL and little
//! else: reading stored values into domain types, and the schema version of the
//! migrations it embeds. Only backends use this (the `backend` feature); the bot
//! never does.

use std::borrow::Cow;

use sqlx::migrate::{Migration, Migrator};

use std::collections::HashMap;

use twilight_model::id::{Id, marker::GuildMarker};

use crate::{GuildFacts, GuildRole, MemberRank, MemberXp, StoreError, StoreResult};

/// A stored 64-bit integer that must fit a narrower Rust type (levels, counts).
pub fn narrow<T: TryFrom<i64>>(value: i64, what: &str) -> StoreResult<T> {
    T::try_from(value)
        .map_err(|_| StoreError::Internal(format!("stored {what} {value} is out of range").into()))
}

/// A member's place from the stored counts: `ahead` of them in leaderboard
/// order, `out_of` on the leaderboard (both as SQL counts them, in `i64`).
pub fn rank_from_counts(member: MemberXp, ahead: i64, out_of: i64) -> StoreResult<MemberRank> {
    Ok(MemberRank {
        member,
        position: narrow::<u64>(ahead, "rank")? + 1,
        out_of: narrow(out_of, "member count")?,
    })
}

/// Every row of a read as its domain type (each row struct has a `TryFrom`).
pub fn from_rows<R, T>(rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// Each guild read with its roles (`(guild, held by Keeper, role)`, in the order
/// they should be listed); roles of a guild without a row are left out.
pub fn attach_roles(
    mut guilds: Vec<GuildFacts>,
    roles: impl IntoIterator<Item = (Id<GuildMarker>, bool, GuildRole)>,
) -> Vec<GuildFacts> {
    let index: HashMap<Id<GuildMarker>, usize> = guilds
        .iter()
        .enumerate()
        .map(|(i, g)| (g.guild_id, i))
        .collect();
    for (guild, held, role) in roles {
        let Some(&i) = index.get(&guild) else {
            continue;
        };
        if held {
            guilds[i].bot_roles.push(role.role_id);
        }
        guilds[i].roles.push(role);
    }
    guilds
}

/// The highest version among `migrator`'s migrations: the schema version a
/// build knows. A `const fn`, so a backend states it as a constant.
pub const fn highest_version(migrator: &Migrator) -> i64 {
    let migrations: &[Migration] = match &migrator.migrations {
        Cow::Borrowed(migrations) => migrations,
        Cow::Owned(_) => panic!("sqlx::migrate!() embeds its migrations as a borrowed slice"),
    };
    let mut highest = 0;
    let mut i = 0;
    while i < migrations.len() {
        if migrations[i].version > highest {
            highest = migrations[i].version;
        }
        i += 1;
    }
    highest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_refuses_what_does_not_fit() {
        assert_eq!(narrow::<i32>(7, "level").unwrap(), 7);
        let err = narrow::<u32>(-1, "count").unwrap_err();
        assert!(err.to_string().contains("count -1"), "{err}");
    }
}
