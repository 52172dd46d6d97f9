//! The rules of role rewards, pure: which roles Keeper may hand out as rewards
//! ([`may_reward`] when a manager adds one, [`grantable`] again at every grant),
//! and which rewards a member should hold at a level ([`reconcile`]).
//!
//! Keeper never does for a member what Discord would refuse that member: a role
//! reward is a grant Keeper makes on the manager's behalf, again and again, so
//! it needs what Discord would ask of the manager to give the role by hand
//! (Manage Roles, the role strictly below their highest role unless they own
//! the server, not @everyone, not a role an integration manages), and more: a
//! role that carries a dangerous permission is never a reward, since levels are
//! earned by chatting and `/xp set` moves them at will. The checks run again at
//! grant time, on the roles as they are then: a role edited later into a
//! dangerous one, moved above Keeper, or deleted is not granted.

use std::cmp::Reverse;

use keeper_store::{GuildFacts, GuildRole, LevelReward};
use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{RoleMarker, UserMarker},
    },
};

/// Permissions a reward role must not carry, with their names in Discord's
/// client: each is a key to the server or its members.
pub const DANGEROUS: [(Permissions, &str); 9] = [
    (Permissions::ADMINISTRATOR, "Administrator"),
    (Permissions::MANAGE_GUILD, "Manage Server"),
    (Permissions::MANAGE_ROLES, "Manage Roles"),
    (Permissions::MANAGE_CHANNELS, "Manage Channels"),
    (Permissions::MANAGE_WEBHOOKS, "Manage Webhooks"),
    (Permissions::BAN_MEMBERS, "Ban Members"),
    (Permissions::KICK_MEMBERS, "Kick Members"),
    (Permissions::MODERATE_MEMBERS, "Timeout Members"),
    (
        Permissions::MENTION_EVERYONE,
        "Mention @everyone, @here, and All Roles",
    ),
];

/// The first dangerous permission `permissions` carries, by name.
pub fn dangerous_permission(permissions: Permissions) -> Option<&'static str> {
    DANGEROUS
        .iter()
        .find(|(bit, _)| permissions.contains(*bit))
        .map(|(_, name)| *name)
}

/// Discord's order of roles: the higher position first; of two at the same
/// position, the one with the lower id (the older) is higher.
fn rank(role: &GuildRole) -> (i64, Reverse<u64>) {
    (role.position, Reverse(role.role_id.get()))
}

/// The highest of `roles` that the guild has (`None`: only @everyone).
pub fn highest<'a>(facts: &'a GuildFacts, roles: &[Id<RoleMarker>]) -> Option<&'a GuildRole> {
    roles
        .iter()
        .filter_map(|id| facts.role(*id))
        .max_by_key(|role| rank(role))
}

/// Whether `role` is strictly below `top` (a member's highest role; `None`,
/// only @everyone, is below everything).
pub fn strictly_below(role: &GuildRole, top: Option<&GuildRole>) -> bool {
    top.is_some_and(|top| rank(role) < rank(top))
}

/// Why a role can't be a reward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The manager lacks Manage Roles.
    NoManageRoles,
    Everyone,
    /// Managed by an integration: Discord lets nobody give it.
    Managed,
    /// It carries this dangerous permission.
    Dangerous(&'static str),
    /// Not strictly below the manager's highest role.
    NotBelowMember,
    /// Not strictly below Keeper's highest role: Discord would refuse Keeper.
    NotBelowKeeper,
    /// The guild has no such role (deleted), or Keeper doesn't know its roles.
    Unknown,
}

impl Refusal {
    /// Why, as the manager (or the mod-log) is told it.
    pub fn reason(&self) -> String {
        match self {
            Refusal::NoManageRoles => {
                "giving roles needs the **Manage Roles** permission, which you don't have".into()
            }
            Refusal::Everyone => "it is @everyone, which everyone already has".into(),
            Refusal::Managed => {
                "it is managed by an integration; Discord lets nobody give it by hand".into()
            }
            Refusal::Dangerous(name) => format!(
                "it carries the **{name}** permission, too much for a reward earned by chatting"
            ),
            Refusal::NotBelowMember => "it is not below your highest role".into(),
            Refusal::NotBelowKeeper => {
                "it is not below my highest role, so Discord won't let me give it".into()
            }
            Refusal::Unknown => "it is not a role of this server that I know of".into(),
        }
    }
}

/// Whether Keeper may grant `role` as a reward, by the guild's roles as they
/// are now: checked at every grant.
pub fn grantable(facts: &GuildFacts, role: Id<RoleMarker>) -> Result<&GuildRole, Refusal> {
    if role.get() == facts.guild_id.get() {
        return Err(Refusal::Everyone);
    }
    let found = facts.role(role).ok_or(Refusal::Unknown)?;
    check_role(found)?;
    if !strictly_below(found, highest(facts, &facts.bot_roles)) {
        return Err(Refusal::NotBelowKeeper);
    }
    Ok(found)
}

/// The checks on the role alone.
fn check_role(role: &GuildRole) -> Result<(), Refusal> {
    if role.managed {
        return Err(Refusal::Managed);
    }
    if let Some(name) = dangerous_permission(role.permissions) {
        return Err(Refusal::Dangerous(name));
    }
    Ok(())
}

/// The member who adds a reward, as the interaction describes them.
pub struct Manager<'a> {
    pub user: Id<UserMarker>,
    pub roles: &'a [Id<RoleMarker>],
    /// Their permissions as Discord computed them.
    pub permissions: Permissions,
}

/// Whether `manager` may make `role` a reward: what Discord would ask of them
/// to give it by hand, and what Keeper asks of every grant ([`grantable`]).
/// `role` is the role as the interaction resolved it, fresher than `facts`
/// when it was just made or edited.
pub fn may_reward(
    facts: &GuildFacts,
    role: &GuildRole,
    manager: &Manager<'_>,
) -> Result<(), Refusal> {
    let permissions = manager.permissions;
    if !permissions.intersects(Permissions::MANAGE_ROLES | Permissions::ADMINISTRATOR) {
        return Err(Refusal::NoManageRoles);
    }
    if role.role_id.get() == facts.guild_id.get() {
        return Err(Refusal::Everyone);
    }
    check_role(role)?;
    let owner = facts.owner_id == Some(manager.user);
    if !owner && !strictly_below(role, highest(facts, manager.roles)) {
        return Err(Refusal::NotBelowMember);
    }
    if !strictly_below(role, highest(facts, &facts.bot_roles)) {
        return Err(Refusal::NotBelowKeeper);
    }
    Ok(())
}

/// What Keeper knows of the roles a member holds.
#[derive(Clone, Debug)]
pub enum Held {
    /// Their roles, as Discord just said (an interaction's resolved member).
    Known(Vec<Id<RoleMarker>>),
    /// Unknown: assume they hold what this level entitled them to, which is what
    /// Keeper keeps true (a chat level-up only knows the level it came from).
    AtLevel(i32),
}

/// The reward roles to give and to take so that a member at `level` holds
/// exactly the rewards at or below it. Only rewards are touched: a role that
/// is no reward is never taken. A role given at two levels is kept from the
/// lower one on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChanges {
    /// Each with the level it is the reward of (the lowest, when several).
    pub add: Vec<(i32, Id<RoleMarker>)>,
    pub remove: Vec<Id<RoleMarker>>,
}

pub fn reconcile(level: i32, rewards: &[LevelReward], held: &Held) -> RoleChanges {
    let due_at = |level: i32, role: Id<RoleMarker>| {
        rewards
            .iter()
            .filter(|r| r.role_id == role && r.level <= level)
            .map(|r| r.level)
            .min()
    };
    let holds = |role: Id<RoleMarker>| match held {
        Held::Known(roles) => roles.contains(&role),
        Held::AtLevel(had) => due_at(*had, role).is_some(),
    };
    let mut changes = RoleChanges::default();
    let mut rewards: Vec<&LevelReward> = rewards.iter().collect();
    rewards.sort_by_key(|r| (r.level, r.role_id));
    for reward in rewards {
        let role = reward.role_id;
        let seen = changes.add.iter().any(|(_, r)| *r == role) || changes.remove.contains(&role);
        if seen {
            continue;
        }
        match due_at(level, role) {
            Some(at) if !holds(role) => changes.add.push((at, role)),
            None if holds(role) => changes.remove.push(role),
            _ => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use keeper_store::GuildFacts;

    use super::*;

    const GUILD: u64 = 1;
    const OWNER: u64 = 900;

    fn role(id: u64, position: i64, permissions: Permissions) -> GuildRole {
        GuildRole {
            role_id: Id::new(id),
            name: format!("role {id}"),
            position,
            permissions,
            managed: false,
        }
    }

    /// @everyone 0, Regular 1, Mods 2 (Manage Roles), Keeper 3 (managed, held by
    /// Keeper), Admin 4 (Administrator).
    fn guild() -> GuildFacts {
        GuildFacts {
            owner_id: Some(Id::new(OWNER)),
            roles: vec![
                role(GUILD, 0, Permissions::SEND_MESSAGES),
                role(10, 1, Permissions::empty()),
                role(11, 2, Permissions::MANAGE_ROLES),
                GuildRole {
                    managed: true,
                    ..role(12, 3, Permissions::MANAGE_ROLES)
                },
                role(13, 4, Permissions::ADMINISTRATOR),
            ],
            bot_roles: vec![Id::new(12)],
            ..GuildFacts::unknown(Id::new(GUILD))
        }
    }

    fn manager(roles: &[Id<RoleMarker>]) -> Manager<'_> {
        Manager {
            user: Id::new(5),
            roles,
            permissions: Permissions::MANAGE_GUILD | Permissions::MANAGE_ROLES,
        }
    }

    #[test]
    fn every_dangerous_bit_is_named() {
        for (bit, name) in DANGEROUS {
            assert_eq!(
                dangerous_permission(bit | Permissions::SEND_MESSAGES),
                Some(name)
            );
        }
        let harmless = Permissions::SEND_MESSAGES
            | Permissions::VIEW_CHANNEL
            | Permissions::ATTACH_FILES
            | Permissions::CHANGE_NICKNAME;
        assert_eq!(dangerous_permission(harmless), None);
        assert_eq!(
            dangerous_permission(Permissions::all()),
            Some("Administrator")
        );
    }

    #[test]
    fn roles_rank_by_position_then_by_age() {
        let facts = guild();
        let ids = |ids: &[u64]| ids.iter().map(|i| Id::new(*i)).collect::<Vec<_>>();
        assert_eq!(
            highest(&facts, &ids(&[10, 13, 11])).unwrap().role_id,
            Id::new(13)
        );
        assert!(highest(&facts, &[]).is_none(), "only @everyone");
        assert!(
            highest(&facts, &ids(&[77])).is_none(),
            "a role the guild lacks"
        );
        // Same position: the older (lower id) role is the higher.
        let (old, new) = (
            role(20, 5, Permissions::empty()),
            role(21, 5, Permissions::empty()),
        );
        assert!(strictly_below(&new, Some(&old)));
        assert!(!strictly_below(&old, Some(&new)));
        assert!(!strictly_below(&old, Some(&old)), "not below itself");
        assert!(!strictly_below(&old, None));
    }

    #[test]
    fn a_manager_gives_only_what_discord_would_let_them() {
        let facts = guild();
        let regular = facts.role(Id::new(10)).unwrap().clone();
        let mods = [Id::new(11)];
        assert_eq!(may_reward(&facts, &regular, &manager(&mods)), Ok(()));
        let without = Manager {
            permissions: Permissions::MANAGE_GUILD,
            ..manager(&mods)
        };
        assert_eq!(
            may_reward(&facts, &regular, &without),
            Err(Refusal::NoManageRoles)
        );
        let admin = Manager {
            permissions: Permissions::ADMINISTRATOR,
            ..manager(&mods)
        };
        assert_eq!(
            may_reward(&facts, &regular, &admin),
            Ok(()),
            "Administrator has all"
        );
        // Their own highest role, or one above it: no.
        let low = [Id::new(10)];
        assert_eq!(
            may_reward(&facts, &regular, &manager(&low)),
            Err(Refusal::NotBelowMember)
        );
        assert_eq!(
            may_reward(&facts, &regular, &manager(&[])),
            Err(Refusal::NotBelowMember)
        );
        // The owner outranks every role, but not Keeper's limits.
        let owner = Manager {
            user: Id::new(OWNER),
            ..manager(&[])
        };
        assert_eq!(may_reward(&facts, &regular, &owner), Ok(()));
        // At Keeper's position but newer than Keeper's role: below it.
        let beside_keeper = role(30, 3, Permissions::empty());
        assert_eq!(may_reward(&facts, &beside_keeper, &owner), Ok(()));
        let above_keeper = role(31, 4, Permissions::empty());
        assert_eq!(
            may_reward(&facts, &above_keeper, &owner),
            Err(Refusal::NotBelowKeeper)
        );
        let everyone = facts.role(Id::new(GUILD)).unwrap().clone();
        assert_eq!(
            may_reward(&facts, &everyone, &owner),
            Err(Refusal::Everyone)
        );
        let managed = GuildRole {
            managed: true,
            ..regular.clone()
        };
        assert_eq!(may_reward(&facts, &managed, &owner), Err(Refusal::Managed));
        let dangerous = GuildRole {
            permissions: Permissions::BAN_MEMBERS,
            ..regular
        };
        assert_eq!(
            may_reward(&facts, &dangerous, &owner),
            Err(Refusal::Dangerous("Ban Members"))
        );
    }

    #[test]
    fn a_grant_is_checked_on_the_roles_as_they_are_now() {
        let mut facts = guild();
        assert!(grantable(&facts, Id::new(10)).is_ok());
        assert_eq!(grantable(&facts, Id::new(GUILD)), Err(Refusal::Everyone));
        assert_eq!(
            grantable(&facts, Id::new(11)),
            Err(Refusal::Dangerous("Manage Roles"))
        );
        assert_eq!(grantable(&facts, Id::new(12)), Err(Refusal::Managed));
        assert_eq!(grantable(&facts, Id::new(77)), Err(Refusal::Unknown));
        // Edited to Administrator, moved above Keeper, deleted.
        facts.roles[1].permissions = Permissions::ADMINISTRATOR;
        assert_eq!(
            grantable(&facts, Id::new(10)),
            Err(Refusal::Dangerous("Administrator"))
        );
        facts.roles[1].permissions = Permissions::empty();
        facts.roles[1].position = 9;
        assert_eq!(grantable(&facts, Id::new(10)), Err(Refusal::NotBelowKeeper));
        facts.bot_roles.clear();
        facts.roles[1].position = 1;
        assert_eq!(
            grantable(&facts, Id::new(10)),
            Err(Refusal::NotBelowKeeper),
            "Keeper holds no role"
        );
    }

    fn rewards(list: &[(i32, u64)]) -> Vec<LevelReward> {
        list.iter()
            .map(|(level, role)| LevelReward {
                guild_id: Id::new(GUILD),
                level: *level,
                role_id: Id::new(*role),
            })
            .collect()
    }

    fn ids(list: &[u64]) -> Vec<Id<RoleMarker>> {
        list.iter().map(|i| Id::new(*i)).collect()
    }

    #[test]
    fn a_member_holds_exactly_the_rewards_up_to_their_level() {
        let configured = rewards(&[(5, 50), (10, 100), (20, 200)]);
        // Known roles: 77 is no reward and never touched.
        let held = ids(&[50, 200, 77]);
        let changes = reconcile(12, &configured, &Held::Known(held.clone()));
        assert_eq!(changes.add, vec![(10, Id::new(100))]);
        assert_eq!(changes.remove, ids(&[200]));
        let changes = reconcile(0, &configured, &Held::Known(held.clone()));
        assert_eq!(changes.add, vec![]);
        assert_eq!(changes.remove, ids(&[50, 200]));
        assert_eq!(
            reconcile(25, &configured, &Held::Known(ids(&[50, 100, 200]))),
            RoleChanges::default()
        );
        // Unknown roles: what the old level gave is assumed held.
        let up = reconcile(12, &configured, &Held::AtLevel(4));
        assert_eq!(up.add, vec![(5, Id::new(50)), (10, Id::new(100))]);
        assert!(up.remove.is_empty());
        let down = reconcile(6, &configured, &Held::AtLevel(30));
        assert_eq!(down.remove, ids(&[100, 200]));
        assert!(down.add.is_empty());
    }

    #[test]
    fn a_role_given_at_two_levels_is_kept_from_the_lower() {
        let configured = rewards(&[(10, 100), (5, 100)]);
        let changes = reconcile(7, &configured, &Held::Known(vec![]));
        assert_eq!(changes.add, vec![(5, Id::new(100))]);
        assert!(changes.remove.is_empty());
        assert_eq!(
            reconcile(7, &configured, &Held::Known(ids(&[100]))),
            RoleChanges::default()
        );
    }
}
