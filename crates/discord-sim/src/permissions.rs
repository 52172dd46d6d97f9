//! Permission bits and Discord's permission computation: in a guild (the
//! owner, @everyone, roles, Administrator) and in a channel (its permission
//! overwrites for @everyone, roles and the member, in that order).

/// Permission bit flags, as Discord numbers them.
pub mod bits {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const KICK_MEMBERS: u64 = 1 << 1;
    pub const BAN_MEMBERS: u64 = 1 << 2;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_AUDIT_LOG: u64 = 1 << 7;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const MANAGE_NICKNAMES: u64 = 1 << 27;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    pub const MODERATE_MEMBERS: u64 = 1 << 40;
    /// Every permission bit Discord defines today (up to bit 51).
    pub const ALL: u64 = (1 << 52) - 1;
    /// What @everyone gets in a new guild.
    pub const DEFAULT_EVERYONE: u64 = CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS;
}

/// Guild-level permissions as Discord computes them: the guild owner has
/// everything; otherwise @everyone's permissions OR'ed with each of the
/// member's roles, and ADMINISTRATOR implies every permission.
pub fn compute(is_owner: bool, everyone: u64, member_roles: impl IntoIterator<Item = u64>) -> u64 {
    if is_owner {
        return bits::ALL;
    }
    let perms = member_roles.into_iter().fold(everyone, |acc, p| acc | p);
    if perms & bits::ADMINISTRATOR != 0 {
        bits::ALL
    } else {
        perms
    }
}

/// Whom a channel permission overwrite applies to (Discord's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverwriteKind {
    Role = 0,
    Member = 1,
}

/// A channel's permission overwrite: bits allowed and denied for one role
/// (the @everyone role's ID is the guild's) or one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overwrite {
    pub id: u64,
    pub kind: OverwriteKind,
    pub allow: u64,
    pub deny: u64,
}

impl Overwrite {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id.to_string(),
            "type": self.kind as u8,
            "allow": self.allow.to_string(),
            "deny": self.deny.to_string(),
        })
    }
}

/// Permissions in a channel as Discord computes them, from the member's
/// guild-level permissions `base` ([`compute`]): Administrator (or the owner)
/// keeps everything; otherwise the @everyone overwrite (`everyone` is the
/// guild's ID) applies, then the member's roles' overwrites together (denies,
/// then allows), then the member's own. Without VIEW_CHANNEL in the channel a
/// member can do nothing in it.
pub fn in_channel(
    base: u64,
    everyone: u64,
    member: u64,
    member_roles: &[u64],
    overwrites: &[Overwrite],
) -> u64 {
    if base & bits::ADMINISTRATOR != 0 {
        return bits::ALL;
    }
    let apply = |perms: u64, allow: u64, deny: u64| (perms & !deny) | allow;
    let mut perms = base;
    if let Some(o) = overwrites
        .iter()
        .find(|o| o.kind == OverwriteKind::Role && o.id == everyone)
    {
        perms = apply(perms, o.allow, o.deny);
    }
    let (allow, deny) = overwrites
        .iter()
        .filter(|o| o.kind == OverwriteKind::Role && o.id != everyone)
        .filter(|o| member_roles.contains(&o.id))
        .fold((0, 0), |(a, d), o| (a | o.allow, d | o.deny));
    perms = apply(perms, allow, deny);
    if let Some(o) = overwrites
        .iter()
        .find(|o| o.kind == OverwriteKind::Member && o.id == member)
    {
        perms = apply(perms, o.allow, o.deny);
    }
    if perms & bits::VIEW_CHANNEL == 0 {
        return 0;
    }
    perms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_implies_all_and_owner_has_all() {
        assert_eq!(compute(false, 0, [bits::ADMINISTRATOR]), bits::ALL);
        assert_eq!(compute(true, 0, []), bits::ALL);
        assert_eq!(
            compute(false, bits::VIEW_CHANNEL, [bits::KICK_MEMBERS]),
            bits::VIEW_CHANNEL | bits::KICK_MEMBERS
        );
    }

    const GUILD: u64 = 100;
    const MEMBER: u64 = 7;
    const ROLE_A: u64 = 1;
    const ROLE_B: u64 = 2;
    const BASE: u64 = bits::VIEW_CHANNEL | bits::SEND_MESSAGES | bits::EMBED_LINKS;

    fn role(id: u64, allow: u64, deny: u64) -> Overwrite {
        Overwrite {
            id,
            kind: OverwriteKind::Role,
            allow,
            deny,
        }
    }

    fn member(allow: u64, deny: u64) -> Overwrite {
        Overwrite {
            id: MEMBER,
            kind: OverwriteKind::Member,
            allow,
            deny,
        }
    }

    fn channel(overwrites: &[Overwrite]) -> u64 {
        in_channel(BASE, GUILD, MEMBER, &[ROLE_A, ROLE_B], overwrites)
    }

    #[test]
    fn no_overwrites_keep_the_guild_permissions() {
        assert_eq!(channel(&[]), BASE);
    }

    #[test]
    fn everyone_then_roles_then_the_member() {
        let no_send = role(GUILD, 0, bits::SEND_MESSAGES);
        assert_eq!(channel(&[no_send]), BASE & !bits::SEND_MESSAGES);
        // A role's allow wins over @everyone's deny...
        let a_sends = role(ROLE_A, bits::SEND_MESSAGES, 0);
        assert_eq!(channel(&[no_send, a_sends]), BASE);
        // ...and between roles, an allow wins over a deny.
        let b_denies = role(ROLE_B, 0, bits::SEND_MESSAGES);
        assert_eq!(channel(&[no_send, a_sends, b_denies]), BASE);
        // The member's own overwrite comes last and wins.
        let m = member(0, bits::SEND_MESSAGES);
        assert_eq!(channel(&[a_sends, m]), BASE & !bits::SEND_MESSAGES);
        let m = member(bits::SEND_MESSAGES, 0);
        assert_eq!(channel(&[no_send, b_denies, m]), BASE);
    }

    #[test]
    fn overwrites_of_roles_the_member_lacks_do_not_apply() {
        let other = role(99, 0, bits::SEND_MESSAGES);
        let other_member = Overwrite {
            id: 8,
            ..member(0, bits::SEND_MESSAGES)
        };
        assert_eq!(channel(&[other, other_member]), BASE);
    }

    #[test]
    fn without_view_channel_nothing_is_left() {
        let hidden = role(GUILD, bits::SEND_MESSAGES, bits::VIEW_CHANNEL);
        assert_eq!(channel(&[hidden]), 0);
    }

    #[test]
    fn administrator_ignores_overwrites() {
        let deny_all = role(GUILD, 0, bits::ALL);
        let admin = compute(false, 0, [bits::ADMINISTRATOR]);
        assert_eq!(
            in_channel(admin, GUILD, MEMBER, &[], &[deny_all]),
            bits::ALL
        );
        let owner = compute(true, 0, []);
        assert_eq!(
            in_channel(owner, GUILD, MEMBER, &[], &[deny_all]),
            bits::ALL
        );
    }
}
