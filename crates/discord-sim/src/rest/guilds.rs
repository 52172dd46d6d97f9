//! Guilds, members, roles, bans and the audit log, with Discord's permission
//! and role hierarchy checks: the bot needs the permission, and its highest
//! role must be above the target member's highest role (and above any role it
//! assigns); nobody acts on the owner. What a ban, kick or timeout does (its
//! events and audit log entry) is the world's (`state/moderation.rs`), the
//! same whether the bot or a moderator acts.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, audit_reason, int_in, no_content, ok, parse_json, query_int,
    query_snowflake, snowflake,
};
use crate::core::Core;
use crate::model::{MemberRec, RoleRec, discord_time};
use crate::permissions::bits;
use crate::state::{
    Action, AuditEntry, GuildRec, World, audit_action, change, roles_change, timeout_change,
    timeout_too_long,
};

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
    headers: HeaderMap,
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
        changes: Vec::new(),
        role_changes: Vec::new(),
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
    let entries = [
        (audit_action::MEMBER_UPDATE, edit.changes),
        (audit_action::MEMBER_ROLE_UPDATE, edit.role_changes),
    ];

    if let Some(gm) = world.guilds.get_mut(&guild_id) {
        gm.members.insert(user_id, after);
    }
    for a in actions {
        world.record(a);
    }
    world.dispatch_member_update(guild_id, user_id);
    let by = (world.bot.id, user_id);
    for (kind, changes) in entries.into_iter().filter(|(_, c)| !c.is_empty()) {
        world.audit(guild_id, kind, by, audit_reason(&headers), changes);
    }
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
    /// The audit log's MEMBER_UPDATE changes (nick, timeout), of what changed.
    changes: Vec<Value>,
    /// The audit log's MEMBER_ROLE_UPDATE changes (`$add`, `$remove`).
    role_changes: Vec<Value>,
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
        let old = self.before.nick.as_deref();
        if old != nick.as_deref() {
            self.changes.push(change("nick", old, nick.as_deref()));
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
        let mut moved: [Vec<u64>; 2] = Default::default();
        for (r, on) in added.map(|r| (r, true)).chain(removed.map(|r| (r, false))) {
            if !manageable(r) {
                return Err(ApiError::missing_permissions());
            }
            self.actions.push(role_action(g.id, user_id, *r, on));
            moved[usize::from(on)].push(*r);
        }
        for (on, ids) in [(true, &moved[1]), (false, &moved[0])] {
            if !ids.is_empty() {
                self.role_changes.push(roles_change(g, on, ids));
            }
        }
        self.after.roles = new_roles;
        Ok(())
    }

    /// `communication_disabled_until`: MODERATE_MEMBERS, outranking the
    /// member, who must not be an administrator nor the owner; at most 28
    /// days ahead, or null to lift the timeout. Stored (and answered) in
    /// Discord's own timestamp format, whatever ISO 8601 form it came in.
    fn timeout(&mut self, until: &Value) -> ApiResult<()> {
        let (world, g, user_id) = (self.world, self.g, self.user_id);
        if !g.may_time_out(world.bot.id, user_id) {
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
                if timeout_too_long(t) {
                    // What Discord answers (as bots report it).
                    return Err(ApiError::invalid_form(
                        &path,
                        "INVALID_COMMUNICATION_DISABLED_TIMESTAMP",
                        "Invalid communication disabled timestamp",
                    ));
                }
                Some(discord_time(t))
            }
            _ => return Err(ApiError::not_a_string(&path)),
        };
        let old = self.before.communication_disabled_until.as_deref();
        if old != until.as_deref() {
            self.changes.push(timeout_change(old, until.as_deref()));
        }
        self.after.communication_disabled_until = until.clone();
        self.actions.push(Action::TimedOut {
            guild_id: g.id,
            user_id,
            until,
        });
        Ok(())
    }
}

/// The bot may act on `user_id` with `perm`: it holds `perm`, and outranks
/// them unless they are no member (see [`GuildRec::may_moderate`]).
fn require_moderate(world: &World, g: &GuildRec, user_id: u64, perm: u64) -> ApiResult<()> {
    if !g.may_moderate(world.bot.id, user_id, perm) {
        return Err(ApiError::missing_permissions());
    }
    Ok(())
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
    require_moderate(&world, g, user_id, bits::KICK_MEMBERS)?;
    let (guild_id, bot) = (g.id, world.bot.id);
    let reason = audit_reason(&headers);
    world.kick(guild_id, bot, user_id, reason.clone());
    world.record(Action::Kicked {
        guild_id,
        user_id,
        reason,
    });
    Ok(no_content())
}

/// `{user, reason}`, a ban as the ban routes answer it.
fn ban_json(world: &World, user_id: u64, reason: &Option<String>) -> Value {
    json!({"user": world.user_json(user_id), "reason": reason})
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
    Ok(ok(ban_json(&world, user_id, reason)))
}

/// `GET /guilds/{id}/bans`: BAN_MEMBERS; bans by user ID, ascending, at most
/// `limit` (1..=1000, default 1000) of those `before` and/or `after` a user
/// ID (with `before` alone, the last ones before it).
pub async fn list_bans(
    State(core): State<Arc<Core>>,
    Path(guild_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let limit = query_int(&q, "limit", 1, 1000)?.unwrap_or(1000) as usize;
    let before = query_snowflake(&q, "before")?;
    let after = query_snowflake(&q, "after")?;
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    require(&world, g, bits::BAN_MEMBERS)?;
    let bans: Vec<(&u64, &Option<String>)> = g
        .bans
        .iter()
        .filter(|(u, _)| before.is_none_or(|b| **u < b) && after.is_none_or(|a| **u > a))
        .collect();
    let skip = match (before, after) {
        (Some(_), None) => bans.len().saturating_sub(limit),
        _ => 0,
    };
    Ok(ok(Value::Array(
        bans.into_iter()
            .skip(skip)
            .take(limit)
            .map(|(u, r)| ban_json(&world, *u, r))
            .collect(),
    )))
}

/// `delete_message_seconds` (0..=604800) or the deprecated
/// `delete_message_days` (0..=7), checked as Discord checks them.
fn delete_message_seconds(body: &Value) -> ApiResult<u64> {
    let int = |key: &str, max: i64| -> ApiResult<Option<u64>> {
        let Some(v) = body.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let n = v
            .as_i64()
            .or_else(|| v.as_u64().map(|_| i64::MAX))
            .ok_or_else(|| {
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                ApiError::not_an_int(&[key.to_owned()], &shown)
            })?;
        Ok(Some(int_in(key, n, 0, max)? as u64))
    };
    let seconds = int("delete_message_seconds", 604_800)?;
    let days = int("delete_message_days", 7)?;
    Ok(seconds.or(days.map(|d| d * 86_400)).unwrap_or(0))
}

/// `PUT /guilds/{id}/bans/{user}`: a known user, BAN_MEMBERS, outranking
/// them if they are a member, never the owner; their messages of the last
/// `delete_message_seconds` go too. Banning someone already banned changes
/// nothing (no event, no entry).
pub async fn ban(
    State(core): State<Arc<Core>>,
    Path((guild_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    if !body.is_object() {
        return Err(ApiError::not_an_object(&[]));
    }
    let seconds = delete_message_seconds(&body)?;
    let mut world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    if !world.users.contains_key(&user_id) {
        return Err(ApiError::unknown_user());
    }
    require_moderate(&world, g, user_id, bits::BAN_MEMBERS)?;
    if g.bans.contains_key(&user_id) {
        return Ok(no_content());
    }
    let (guild_id, bot) = (g.id, world.bot.id);
    let reason = audit_reason(&headers);
    world.ban(guild_id, (bot, user_id), seconds, reason.clone());
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
    headers: HeaderMap,
) -> ApiResult {
    let mut world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    let user_id = snowflake("user_id", &user_id)?;
    require(&world, g, bits::BAN_MEMBERS)?;
    if !g.bans.contains_key(&user_id) {
        return Err(ApiError::unknown_ban());
    }
    let (guild_id, bot) = (g.id, world.bot.id);
    world.unban(guild_id, bot, user_id, audit_reason(&headers));
    world.record(Action::Unbanned { guild_id, user_id });
    Ok(no_content())
}

/// `GET /guilds/{id}/audit-logs`: VIEW_AUDIT_LOG; entries newest first,
/// filtered by `user_id` (who acted), `target_id`, `action_type`, `before`
/// and `after` (entry IDs; with `after` alone, the first ones after it), at
/// most `limit` (1..=100, default 50); with the users they name.
pub async fn audit_log(
    State(core): State<Arc<Core>>,
    Path(guild_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let by = query_snowflake(&q, "user_id")?;
    let target = query_snowflake(&q, "target_id")?;
    let kind = query_int(&q, "action_type", 1, 255)?;
    let before = query_snowflake(&q, "before")?;
    let after = query_snowflake(&q, "after")?;
    let limit = query_int(&q, "limit", 1, 100)?.unwrap_or(50) as usize;
    let world = core.world.lock();
    let g = guild(&world, &guild_id)?;
    require(&world, g, bits::VIEW_AUDIT_LOG)?;
    let picked: Vec<&AuditEntry> = g
        .audit_log
        .iter()
        .filter(|e| by.is_none_or(|u| e.user_id == u))
        .filter(|e| target.is_none_or(|t| e.target_id == t))
        .filter(|e| kind.is_none_or(|k| i64::from(e.action_type) == k))
        .filter(|e| before.is_none_or(|b| e.id < b) && after.is_none_or(|a| e.id > a))
        .collect();
    let mut entries: Vec<&AuditEntry> = match (before, after) {
        (None, Some(_)) => picked.into_iter().take(limit).collect(),
        _ => picked.into_iter().rev().take(limit).collect(),
    };
    entries.sort_by_key(|e| std::cmp::Reverse(e.id));
    let mut users: Vec<u64> = Vec::new();
    for e in &entries {
        for u in [e.user_id, e.target_id] {
            if !users.contains(&u) {
                users.push(u);
            }
        }
    }
    Ok(ok(json!({
        "audit_log_entries": entries.iter().map(|e| e.json()).collect::<Vec<_>>(),
        "users": users.iter().filter_map(|u| world.user_json(*u)).collect::<Vec<_>>(),
        "integrations": [],
        "webhooks": [],
        "guild_scheduled_events": [],
        "threads": [],
        "application_commands": [],
        "auto_moderation_rules": [],
    })))
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

pub async fn add_role(
    State(core): State<Arc<Core>>,
    Path(ids): Path<RoleIds>,
    headers: HeaderMap,
) -> ApiResult {
    let reason = audit_reason(&headers);
    set_role(&mut core.world.lock(), &ids, true, reason)
}

pub async fn remove_role(
    State(core): State<Arc<Core>>,
    Path(ids): Path<RoleIds>,
    headers: HeaderMap,
) -> ApiResult {
    let reason = audit_reason(&headers);
    set_role(&mut core.world.lock(), &ids, false, reason)
}

/// Give (`on`) or take a member's role; the action, GUILD_MEMBER_UPDATE and
/// a MEMBER_ROLE_UPDATE entry only when that changed something.
fn set_role(
    world: &mut World,
    (guild_id, user_id, role_id): &RoleIds,
    on: bool,
    reason: Option<String>,
) -> ApiResult {
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
        let change = world
            .guilds
            .get(&guild_id)
            .map(|g| roles_change(g, on, &[role_id]));
        let kind = audit_action::MEMBER_ROLE_UPDATE;
        let by = (world.bot.id, user_id);
        world.audit(guild_id, kind, by, reason, change.into_iter().collect());
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
