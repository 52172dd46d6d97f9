//! Guilds, members, roles and bans, with Discord's permission and role
//! hierarchy checks: the bot needs the permission, and its highest role
//! must be above the target member's highest role (and above any role it
//! assigns); nobody acts on the owner.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, audit_reason, no_content, ok, parse_json, snowflake};
use crate::config::intents;
use crate::core::Core;
use crate::model::{MemberRec, RoleRec};
use crate::permissions::bits;
use crate::state::{Action, GuildRec, World};

/// Longest timeout Discord allows.
const MAX_TIMEOUT_DAYS: i64 = 28;

fn guild<'a>(world: &'a World, guild_id: &str) -> ApiResult<&'a GuildRec> {
    let id = snowflake("guild_id", guild_id)?;
    world.guilds.get(&id).ok_or_else(ApiError::unknown_guild)
}

/// The bot needs `perm` in the guild.
fn require(world: &World, g: &GuildRec, perm: u64) -> ApiResult<()> {
    if g.permissions_of(world.bot.id) & perm != perm {
        return Err(ApiError::missing_permissions());
    }
    Ok(())
}

/// The bot must outrank `user_id` (and `user_id` must not be the owner).
fn require_above(world: &World, g: &GuildRec, user_id: u64) -> ApiResult<()> {
    if user_id == g.owner_id || g.top_position(world.bot.id) <= g.top_position(user_id) {
        return Err(ApiError::missing_permissions());
    }
    Ok(())
}

pub async fn get_guild(State(core): State<Arc<Core>>, Path(guild_id): Path<String>) -> ApiResult {
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    Ok(ok(world.guild_json(g.id).unwrap_or_default()))
}

pub async fn channels(State(core): State<Arc<Core>>, Path(guild_id): Path<String>) -> ApiResult {
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    Ok(ok(Value::Array(
        g.channels
            .iter()
            .filter_map(|c| world.channel_json(*c))
            .collect(),
    )))
}

pub async fn roles(State(core): State<Arc<Core>>, Path(guild_id): Path<String>) -> ApiResult {
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    Ok(ok(Value::Array(
        g.roles.iter().map(RoleRec::json).collect(),
    )))
}

pub async fn list_members(
    State(core): State<Arc<Core>>,
    Path(guild_id): Path<String>,
) -> ApiResult {
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    Ok(ok(Value::Array(
        g.members
            .values()
            .take(1000)
            .filter_map(|m| world.users.get(&m.user_id).map(|u| m.json(u)))
            .collect(),
    )))
}

pub async fn get_member(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    world
        .member_json(g.id, user_id)
        .map(ok)
        .ok_or_else(ApiError::unknown_member)
}

pub async fn modify_member(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    if !body.is_object() {
        return Err(ApiError::not_an_object(&[]));
    }
    let mut world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    let member = g
        .members
        .get(&user_id)
        .ok_or_else(ApiError::unknown_member)?;
    let mut edit = MemberEdit {
        world: &world,
        g,
        user_id,
        before: member,
        after: member.clone(),
        actions: Vec::new(),
    };
    if let Some(nick) = body.get("nick") {
        edit.nick(nick)?;
    }
    if let Some(roles) = body.get("roles").filter(|v| !v.is_null()) {
        edit.roles(roles)?;
    }
    if let Some(until) = body.get("communication_disabled_until") {
        edit.timeout(until)?;
    }
    let (guild_id, after, actions) = (g.id, edit.after, edit.actions);

    if let Some(gm) = world.guilds.get_mut(&guild_id) {
        gm.members.insert(user_id, after);
    }
    for a in actions {
        world.record(a);
    }
    world.dispatch_member_update(guild_id, user_id);
    Ok(ok(world.member_json(guild_id, user_id).unwrap_or_default()))
}

/// A `PATCH` to a member, checked field by field: nothing changes unless
/// every field passes, as on Discord.
struct MemberEdit<'a> {
    world: &'a World,
    g: &'a GuildRec,
    user_id: u64,
    before: &'a MemberRec,
    after: MemberRec,
    /// What the change does, recorded once it is applied.
    actions: Vec<Action>,
}

impl MemberEdit<'_> {
    /// `nick`: MANAGE_NICKNAMES, and outranking the member unless it is the
    /// bot's own; empty or null clears it.
    fn nick(&mut self, nick: &Value) -> ApiResult<()> {
        let (world, g, user_id) = (self.world, self.g, self.user_id);
        require(world, g, bits::MANAGE_NICKNAMES)?;
        if user_id != world.bot.id {
            require_above(world, g, user_id)?;
        }
        let nick = nick.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        if nick.as_ref().is_some_and(|n| n.chars().count() > 32) {
            return Err(ApiError::bad_length(&["nick".into()], 1, 32));
        }
        self.after.nick = nick.clone();
        self.actions.push(Action::NickChanged {
            guild_id: g.id,
            user_id,
            nick,
        });
        Ok(())
    }

    /// `roles`, the complete new list: MANAGE_ROLES, every role known (not
    /// @everyone), and every role added or removed below the bot's highest.
    fn roles(&mut self, roles: &Value) -> ApiResult<()> {
        let (world, g, user_id) = (self.world, self.g, self.user_id);
        require(world, g, bits::MANAGE_ROLES)?;
        let Some(list) = roles.as_array() else {
            return Err(ApiError::not_an_array(&["roles".into()]));
        };
        let mut new_roles = Vec::new();
        for r in list {
            let id = r
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(ApiError::unknown_role)?;
            if g.role(id).is_none() || id == g.id {
                return Err(ApiError::unknown_role());
            }
            if !new_roles.contains(&id) {
                new_roles.push(id);
            }
        }
        let top = g.top_position(world.bot.id);
        let manageable = |r: &u64| g.role(*r).is_some_and(|r| r.position < top);
        let old_roles = &self.before.roles;
        let added = new_roles.iter().filter(|r| !old_roles.contains(r));
        let removed = old_roles.iter().filter(|r| !new_roles.contains(r));
        for (r, on) in added.map(|r| (r, true)).chain(removed.map(|r| (r, false))) {
            if !manageable(r) {
                return Err(ApiError::missing_permissions());
            }
            self.actions.push(role_action(g.id, user_id, *r, on));
        }
        self.after.roles = new_roles;
        Ok(())
    }

    /// `communication_disabled_until`: MODERATE_MEMBERS, outranking the
    /// member, who must not be an administrator; at most 28 days ahead, or
    /// null to lift the timeout.
    fn timeout(&mut self, until: &Value) -> ApiResult<()> {
        let (world, g, user_id) = (self.world, self.g, self.user_id);
        require(world, g, bits::MODERATE_MEMBERS)?;
        require_above(world, g, user_id)?;
        // Administrators cannot be timed out.
        if g.permissions_of(user_id) & bits::ADMINISTRATOR != 0 {
            return Err(ApiError::missing_permissions());
        }
        let path = ["communication_disabled_until".to_owned()];
        let until = match until {
            Value::Null => None,
            Value::String(s) => {
                let Ok(t) = DateTime::parse_from_rfc3339(s) else {
                    return Err(ApiError::invalid_form(
                        &path,
                        "DATE_TIME_TYPE_PARSE",
                        "Could not parse datetime.",
                    ));
                };
                let t = t.with_timezone(&Utc);
                if t > Utc::now() + chrono::Duration::days(MAX_TIMEOUT_DAYS) {
                    return Err(ApiError::invalid_form(
                        &path,
                        "BASE_TYPE_BAD_DATE",
                        "Timeouts can only be up to 28 days in the future.",
                    ));
                }
                Some(s.clone())
            }
            _ => return Err(ApiError::not_a_string(&path)),
        };
        self.after.communication_disabled_until = until.clone();
        self.actions.push(Action::TimedOut {
            guild_id: g.id,
            user_id,
            until,
        });
        Ok(())
    }
}

/// Remove a member and dispatch GUILD_MEMBER_REMOVE.
fn remove_member(world: &mut World, guild_id: u64, user_id: u64) {
    if let Some(g) = world.guilds.get_mut(&guild_id) {
        g.members.remove(&user_id);
    }
    world.dispatch_guild_user(
        guild_id,
        user_id,
        "GUILD_MEMBER_REMOVE",
        intents::GUILD_MEMBERS,
    );
}

pub async fn kick(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let mut world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    if !g.members.contains_key(&user_id) {
        return Err(ApiError::unknown_member());
    }
    require(&world, g, bits::KICK_MEMBERS)?;
    require_above(&world, g, user_id)?;
    let guild_id = g.id;
    remove_member(&mut world, guild_id, user_id);
    world.record(Action::Kicked {
        guild_id,
        user_id,
        reason: audit_reason(&headers),
    });
    Ok(no_content())
}

pub async fn get_ban(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    require(&world, g, bits::BAN_MEMBERS)?;
    let user_id = snowflake("user_id", &user_id)?;
    let reason = g.bans.get(&user_id).ok_or_else(ApiError::unknown_ban)?;
    Ok(ok(
        json!({"user": world.user_json(user_id), "reason": reason}),
    ))
}

pub async fn ban(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let mut world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    if !world.users.contains_key(&user_id) {
        return Err(ApiError::unknown_user());
    }
    require(&world, g, bits::BAN_MEMBERS)?;
    if g.members.contains_key(&user_id) || user_id == g.owner_id {
        require_above(&world, g, user_id)?;
    }
    let seconds = match body.get("delete_message_seconds") {
        None | Some(Value::Null) => body
            .get("delete_message_days")
            .and_then(Value::as_u64)
            .map_or(0, |d| d * 86_400),
        Some(v) => v.as_u64().unwrap_or(u64::MAX),
    };
    if seconds > 604_800 {
        return Err(ApiError::invalid_form(
            &["delete_message_seconds".into()],
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 604800.",
        ));
    }
    let guild_id = g.id;
    let was_member = g.members.contains_key(&user_id);
    let reason = audit_reason(&headers);
    if let Some(gm) = world.guilds.get_mut(&guild_id) {
        gm.bans.insert(user_id, reason.clone());
    }
    if was_member {
        remove_member(&mut world, guild_id, user_id);
    }
    world.dispatch_guild_user(
        guild_id,
        user_id,
        "GUILD_BAN_ADD",
        intents::GUILD_MODERATION,
    );
    world.record(Action::Banned {
        guild_id,
        user_id,
        reason,
        delete_message_seconds: seconds,
    });
    Ok(no_content())
}

pub async fn unban(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let mut world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    require(&world, g, bits::BAN_MEMBERS)?;
    if !g.bans.contains_key(&user_id) {
        return Err(ApiError::unknown_ban());
    }
    let guild_id = g.id;
    if let Some(gm) = world.guilds.get_mut(&guild_id) {
        gm.bans.remove(&user_id);
    }
    world.dispatch_guild_user(
        guild_id,
        user_id,
        "GUILD_BAN_REMOVE",
        intents::GUILD_MODERATION,
    );
    world.record(Action::Unbanned { guild_id, user_id });
    Ok(no_content())
}

/// Shared checks for adding/removing one role.
fn role_change(
    world: &World,
    guild_id: &str,
    user_id: &str,
    role_id: &str,
) -> ApiResult<(u64, u64, u64)> {
    let g = guild(world, guild_id)?;
    let user_id = snowflake("user_id", user_id)?;
    let role_id = snowflake("role_id", role_id)?;
    let role = g
        .role(role_id)
        .filter(|_| role_id != g.id)
        .ok_or_else(ApiError::unknown_role)?;
    if !g.members.contains_key(&user_id) {
        return Err(ApiError::unknown_member());
    }
    require(world, g, bits::MANAGE_ROLES)?;
    if role.position >= g.top_position(world.bot.id) {
        return Err(ApiError::missing_permissions());
    }
    Ok((g.id, user_id, role_id))
}

/// `(guild_id, user_id, role_id)` from `/guilds/{guild_id}/members/{user_id}/roles/{role_id}`.
type RoleIds = (String, String, String);

pub async fn add_role(State(core): State<Arc<Core>>, Path(ids): Path<RoleIds>) -> ApiResult {
    set_role(&mut core.world.lock(), &ids, true)
}

pub async fn remove_role(State(core): State<Arc<Core>>, Path(ids): Path<RoleIds>) -> ApiResult {
    set_role(&mut core.world.lock(), &ids, false)
}

/// Give (`on`) or take a member's role; the action and GUILD_MEMBER_UPDATE
/// only when that changed something.
fn set_role(world: &mut World, (guild_id, user_id, role_id): &RoleIds, on: bool) -> ApiResult {
    let (guild_id, user_id, role_id) = role_change(world, guild_id, user_id, role_id)?;
    let changed = world
        .guilds
        .get_mut(&guild_id)
        .and_then(|g| g.members.get_mut(&user_id))
        .is_some_and(|m| {
            let had = m.roles.contains(&role_id);
            if on && !had {
                m.roles.push(role_id);
            } else if !on && had {
                m.roles.retain(|r| *r != role_id);
            }
            had != on
        });
    if changed {
        world.record(role_action(guild_id, user_id, role_id, on));
        world.dispatch_member_update(guild_id, user_id);
    }
    Ok(no_content())
}

/// The action for a role given (`on`) or taken.
fn role_action(guild_id: u64, user_id: u64, role_id: u64, on: bool) -> Action {
    if on {
        Action::RoleAdded {
            guild_id,
            user_id,
            role_id,
        }
    } else {
        Action::RoleRemoved {
            guild_id,
            user_id,
            role_id,
        }
    }
}
