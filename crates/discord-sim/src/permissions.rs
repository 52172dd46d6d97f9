//! Permission bits and Discord's permission computation.

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
}
