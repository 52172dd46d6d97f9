//! The rules every moderation command applies before it records anything:
//! whom a moderator may act on, as Discord would judge the same act. Pure:
//! the guild's facts and the interaction say everything needed.

use keeper_store::GuildFacts;
use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{RoleMarker, UserMarker},
    },
};

use crate::rewards::{highest, strictly_below};

/// A member's server-wide permissions as Discord computes them: the owner has
/// every one; anyone else those of @everyone and of each of their roles
/// together, Administrator meaning all. (Interactions carry this computed;
/// messages don't.)
pub fn guild_permissions(
    facts: &GuildFacts,
    user: Id<UserMarker>,
    roles: &[Id<RoleMarker>],
) -> Permissions {
    if facts.owner_id == Some(user) {
        return Permissions::all();
    }
    let everyone = facts.role(facts.guild_id.cast());
    let held = roles.iter().filter_map(|id| facts.role(*id));
    let permissions = everyone
        .into_iter()
        .chain(held)
        .fold(Permissions::empty(), |all, role| all | role.permissions);
    if permissions.contains(Permissions::ADMINISTRATOR) {
        return Permissions::all();
    }
    permissions
}

/// The member a moderator acts on, as the interaction resolved them.
pub struct Target<'a> {
    pub id: Id<UserMarker>,
    pub bot: bool,
    /// Their roles; `None` when they are not a member of the guild.
    pub roles: Option<&'a [Id<RoleMarker>]>,
}

/// The member who runs the command.
pub struct Moderator<'a> {
    pub id: Id<UserMarker>,
    pub roles: &'a [Id<RoleMarker>],
}

/// Why a moderator may not act on a target; each a clear answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Themself,
    Bot,
    Owner,
    NotMember,
    /// The target's highest role is at or above the moderator's.
    NotBelowModerator,
    /// The target's highest role is at or above Keeper's: Discord would refuse
    /// Keeper the act.
    NotBelowKeeper,
}

impl Refusal {
    pub fn answer(self) -> &'static str {
        match self {
            Refusal::Themself => "You can't do that to yourself.",
            Refusal::Bot => "Bots can't be moderated with Keeper.",
            Refusal::Owner => "The server's owner can't be moderated.",
            Refusal::NotMember => "That user is not a member of this server.",
            Refusal::NotBelowModerator => {
                "Their highest role is at or above yours: Discord wouldn't let you, so I won't either."
            }
            Refusal::NotBelowKeeper => {
                "Their highest role is at or above mine: move my role above theirs first."
            }
        }
    }
}

/// What a command needs of its target besides the common rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The act needs the target to be a member (a warning, a timeout, a kick;
    /// not a ban, which Discord takes for anyone).
    pub member: bool,
    /// Keeper itself acts at Discord (timeout, kick, ban), so its own highest
    /// role must be above the target's.
    pub keeper_acts: bool,
}

/// Whether `moderator` may act on `target`: not themself, not a bot, not the
/// owner, a member where the act needs one, below the moderator's highest role
/// (the owner moderates everyone) and, when Keeper acts, below Keeper's.
pub fn check(
    facts: &GuildFacts,
    moderator: &Moderator<'_>,
    target: &Target<'_>,
    needs: Needs,
) -> Result<(), Refusal> {
    if target.id == moderator.id {
        return Err(Refusal::Themself);
    }
    if target.bot {
        return Err(Refusal::Bot);
    }
    if facts.owner_id == Some(target.id) {
        return Err(Refusal::Owner);
    }
    let Some(roles) = target.roles else {
        return match needs.member {
            true => Err(Refusal::NotMember),
            false => Ok(()),
        };
    };
    let top = highest(facts, roles);
    let below = |above: Option<&keeper_store::GuildRole>| match top {
        Some(top) => strictly_below(top, above),
        // Only @everyone: below any role, level with none.
        None => above.is_some(),
    };
    if facts.owner_id != Some(moderator.id) && !below(highest(facts, moderator.roles)) {
        return Err(Refusal::NotBelowModerator);
    }
    if needs.keeper_acts && !below(highest(facts, &facts.bot_roles)) {
        return Err(Refusal::NotBelowKeeper);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use keeper_store::GuildRole;

    use super::*;

    fn role(id: u64, position: i64) -> GuildRole {
        GuildRole {
            role_id: Id::new(id),
            name: format!("r{id}"),
            position,
            permissions: Permissions::empty(),
            managed: false,
        }
    }

    fn facts() -> GuildFacts {
        GuildFacts {
            owner_id: Some(Id::new(1)),
            roles: vec![role(10, 1), role(11, 2), role(12, 3), role(13, 5)],
            // Keeper's role is 12 (position 3).
            bot_roles: vec![Id::new(12)],
            ..GuildFacts::unknown(Id::new(100))
        }
    }

    const WARN: Needs = Needs {
        member: true,
        keeper_acts: false,
    };
    const BAN: Needs = Needs {
        member: false,
        keeper_acts: true,
    };

    fn ids(roles: &[u64]) -> Vec<Id<RoleMarker>> {
        roles.iter().map(|r| Id::new(*r)).collect()
    }

    fn judge(
        moderator: (u64, &[u64]),
        target: (u64, Option<&[u64]>),
        needs: Needs,
    ) -> Result<(), Refusal> {
        let mod_roles = ids(moderator.1);
        let target_roles = target.1.map(ids);
        check(
            &facts(),
            &Moderator {
                id: Id::new(moderator.0),
                roles: &mod_roles,
            },
            &Target {
                id: Id::new(target.0),
                bot: target.0 == 99,
                roles: target_roles.as_deref(),
            },
            needs,
        )
    }

    #[test]
    fn permissions_as_discord_computes_them() {
        let mut facts = facts();
        facts.roles.push(GuildRole {
            permissions: Permissions::SEND_MESSAGES,
            ..role(100, 0)
        });
        facts.roles[1].permissions = Permissions::MODERATE_MEMBERS;
        facts.roles[3].permissions = Permissions::ADMINISTRATOR;
        let of = |user: u64, roles: &[u64]| guild_permissions(&facts, Id::new(user), &ids(roles));
        assert_eq!(of(5, &[]), Permissions::SEND_MESSAGES, "@everyone's");
        assert_eq!(
            of(5, &[11, 999]),
            Permissions::SEND_MESSAGES | Permissions::MODERATE_MEMBERS,
            "a role the guild doesn't have gives nothing"
        );
        assert_eq!(of(5, &[13]), Permissions::all(), "Administrator");
        assert_eq!(of(1, &[]), Permissions::all(), "the owner");
    }

    #[test]
    fn the_common_rules() {
        let moderator = (2, &[11_u64][..]);
        assert_eq!(
            judge(moderator, (2, Some(&[])), WARN),
            Err(Refusal::Themself)
        );
        assert_eq!(judge(moderator, (99, Some(&[])), WARN), Err(Refusal::Bot));
        assert_eq!(judge(moderator, (1, Some(&[])), WARN), Err(Refusal::Owner));
        assert_eq!(judge(moderator, (3, None), WARN), Err(Refusal::NotMember));
        assert_eq!(
            judge(moderator, (3, None), BAN),
            Ok(()),
            "anyone can be banned"
        );
        assert_eq!(judge(moderator, (3, Some(&[])), WARN), Ok(()));
        assert_eq!(judge(moderator, (3, Some(&[10])), WARN), Ok(()));
    }

    #[test]
    fn hierarchy_as_discord_judges_it() {
        let moderator = (2, &[10_u64, 11][..]);
        assert_eq!(
            judge(moderator, (3, Some(&[11])), WARN),
            Err(Refusal::NotBelowModerator),
            "level with the moderator"
        );
        assert_eq!(
            judge(moderator, (3, Some(&[13])), WARN),
            Err(Refusal::NotBelowModerator)
        );
        assert_eq!(
            judge((2, &[]), (3, Some(&[])), WARN),
            Err(Refusal::NotBelowModerator),
            "only @everyone, both"
        );
        assert_eq!(judge((1, &[]), (3, Some(&[13])), WARN), Ok(()), "the owner");
        assert_eq!(
            judge((1, &[]), (3, Some(&[13])), BAN),
            Err(Refusal::NotBelowKeeper),
            "above Keeper: Discord would refuse Keeper"
        );
        assert_eq!(
            judge((1, &[]), (3, Some(&[12])), BAN),
            Err(Refusal::NotBelowKeeper),
            "level with Keeper"
        );
        assert_eq!(judge((1, &[]), (3, Some(&[11])), BAN), Ok(()));
    }
}
