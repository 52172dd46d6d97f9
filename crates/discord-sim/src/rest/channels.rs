//! Channels and messages: `GET /channels/{id}`, message create (JSON and
//! multipart with files), get, list, edit, delete. Message bodies are parsed
//! here for webhooks and interaction responses as well.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, no_content, ok, parse_json, snowflake};
use crate::core::Core;
use crate::model::{Attachment, ChannelKind, MessageRec, now_iso};
use crate::permissions::bits;
use crate::state::{Action, SentMessage, World};

/// A message body as sent to create/edit endpoints, with uploaded files.
#[derive(Debug, Default)]
pub struct MessageBody {
    pub json: Value,
    pub files: Vec<(usize, Attachment)>,
}

/// Read a JSON or `multipart/form-data` message body (`payload_json` plus
/// `files[n]` parts).
pub async fn read_body(core: &Core, req: Request) -> ApiResult<MessageBody> {
    let multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|_| ApiError::invalid_json())?;
        return Ok(MessageBody {
            json: parse_json(&bytes)?,
            files: Vec::new(),
        });
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| bad_multipart())?;
    let mut body = MessageBody {
        json: json!({}),
        files: Vec::new(),
    };
    while let Some(field) = form.next_field().await.map_err(|_| bad_multipart())? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let data = field.bytes().await.map_err(|_| bad_multipart())?;
        if name == "payload_json" {
            body.json = parse_json(&data)?;
        } else if let Some(index) = name
            .strip_prefix("files[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse::<usize>().ok())
        {
            body.files.push((
                index,
                Attachment {
                    id: core.world.lock().ids.next(),
                    filename: filename.unwrap_or_else(|| format!("file{index}")),
                    size: data.len(),
                    content_type,
                    data: data.to_vec(),
                },
            ));
        }
    }
    Ok(body)
}

fn bad_multipart() -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body")
}

/// Who a message pings once `allowed_mentions` is applied, per Discord's
/// rules: without `allowed_mentions` everything parsed from the content
/// pings; with it, only the `parse` types and the listed IDs do.
fn apply_mentions(world: &World, m: &mut MessageRec, allowed: Option<&Value>) -> ApiResult<()> {
    let (users, roles, everyone) = parse_mentions(&m.content);
    let guild = m.guild_id.and_then(|g| world.guilds.get(&g));
    let (mut allow_all_users, mut allow_all_roles, mut allow_everyone) = (true, true, true);
    let (mut user_list, mut role_list) = (Vec::new(), Vec::new());
    if let Some(a) = allowed.filter(|a| !a.is_null()) {
        let parse: Vec<&str> = a
            .get("parse")
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        allow_all_users = parse.contains(&"users");
        allow_all_roles = parse.contains(&"roles");
        allow_everyone = parse.contains(&"everyone");
        let ids = |key: &str| -> Vec<u64> {
            a.get(key)
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                        .collect()
                })
                .unwrap_or_default()
        };
        user_list = ids("users");
        role_list = ids("roles");
        if (allow_all_users && !user_list.is_empty()) || (allow_all_roles && !role_list.is_empty())
        {
            return Err(ApiError::invalid_form(
                &["allowed_mentions".into()],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                "parse:[\"users\"] and users: [ids...] are mutually exclusive.",
            ));
        }
    }
    m.mentions = users
        .into_iter()
        .filter(|u| world.users.contains_key(u))
        .filter(|u| allow_all_users || user_list.contains(u))
        .collect();
    m.mention_roles = roles
        .into_iter()
        .filter(|r| guild.is_some_and(|g| g.role(*r).is_some()))
        .filter(|r| allow_all_roles || role_list.contains(r))
        .collect();
    m.mention_everyone = everyone && allow_everyone;
    Ok(())
}

/// `<@id>`, `<@!id>`, `<@&id>` and `@everyone`/`@here` in `content`.
pub fn parse_mentions(content: &str) -> (Vec<u64>, Vec<u64>, bool) {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let (is_role, tail) = match rest.as_bytes().first() {
            Some(b'&') => (true, &rest[1..]),
            Some(b'!') => (false, &rest[1..]),
            _ => (false, rest),
        };
        if let Some(end) = tail.find('>')
            && let Ok(id) = tail[..end].parse::<u64>()
        {
            let list = if is_role { &mut roles } else { &mut users };
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }
    let everyone = content.contains("@everyone") || content.contains("@here");
    (users, roles, everyone)
}

/// Fill a message from a create/edit body and validate it as Discord does.
/// `editing` allows an otherwise empty body.
pub fn apply_body(
    world: &World,
    m: &mut MessageRec,
    body: MessageBody,
    editing: bool,
) -> ApiResult<()> {
    let j = &body.json;
    if !j.is_object() {
        return Err(ApiError::not_an_object(&[]));
    }
    apply_content(m, j)?;
    apply_embeds(m, j)?;
    if let Some(c) = j.get("components").and_then(Value::as_array) {
        m.components = c.clone();
    }
    if let Some(f) = j.get("flags").and_then(Value::as_u64) {
        m.flags = f;
    }
    if j.get("message_reference").is_some_and(|r| !r.is_null()) {
        m.kind = 19;
    }
    apply_attachments(m, j, body.files, editing);
    if !editing
        && m.content.is_empty()
        && m.embeds.is_empty()
        && m.attachments.is_empty()
        && m.components.is_empty()
        && j.get("sticker_ids").is_none()
        && j.get("poll").is_none()
    {
        return Err(ApiError::empty_message());
    }
    apply_mentions(world, m, j.get("allowed_mentions"))
}

/// `content`: a string of at most 2000 characters.
fn apply_content(m: &mut MessageRec, j: &Value) -> ApiResult<()> {
    let Some(c) = j.get("content").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let path = ["content".to_owned()];
    let Some(c) = c.as_str() else {
        return Err(ApiError::not_a_string(&path));
    };
    if c.chars().count() > 2000 {
        return Err(ApiError::too_long(&path, 2000));
    }
    m.content = c.to_owned();
    Ok(())
}

/// `embeds`: at most 10, typed `rich` unless they say otherwise.
fn apply_embeds(m: &mut MessageRec, j: &Value) -> ApiResult<()> {
    let Some(e) = j.get("embeds").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let path = ["embeds".to_owned()];
    let Some(list) = e.as_array() else {
        return Err(ApiError::not_an_array(&path));
    };
    if list.len() > 10 {
        return Err(ApiError::too_long(&path, 10));
    }
    m.embeds = list
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if e.get("type").is_none() && e.is_object() {
                e["type"] = json!("rich");
            }
            e
        })
        .collect();
    Ok(())
}

/// Uploaded `files`, named as the body's `attachments` metadata says; on an
/// edit, `attachments` also lists the existing files to keep.
fn apply_attachments(
    m: &mut MessageRec,
    j: &Value,
    files: Vec<(usize, Attachment)>,
    editing: bool,
) {
    // Attachment metadata (descriptions, filenames) refers to files by id.
    let meta = j
        .get("attachments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if editing && j.get("attachments").is_some_and(Value::is_array) {
        let keep: Vec<u64> = meta
            .iter()
            .filter_map(|a| {
                a.get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
            })
            .collect();
        m.attachments.retain(|a| keep.contains(&a.id));
    }
    let mut files = files;
    files.sort_by_key(|(i, _)| *i);
    for (index, mut a) in files {
        let described = meta.iter().find(|m| match m.get("id") {
            Some(Value::Number(n)) => n.as_u64() == Some(index as u64),
            Some(Value::String(s)) => s == &index.to_string(),
            _ => false,
        });
        if let Some(name) = described.and_then(|m| m.get("filename").and_then(Value::as_str)) {
            a.filename = name.to_owned();
        }
        m.attachments.push(a);
    }
}

/// The bot's permissions in guild channel `channel_id` (its overwrites
/// applied); `None` for DMs and unknown channels.
pub fn bot_permissions_in(world: &World, channel_id: u64) -> Option<u64> {
    let channel = world.channels.get(&channel_id)?;
    let g = world.guilds.get(&channel.guild_id?)?;
    Some(g.permissions_in(channel, world.bot.id))
}

/// A guild channel the bot can't see is Discord's 403 50001 Missing Access.
fn check_can_view(world: &World, channel_id: u64) -> ApiResult<()> {
    match bot_permissions_in(world, channel_id) {
        Some(p) if p & bits::VIEW_CHANNEL == 0 => Err(ApiError::missing_access()),
        _ => Ok(()),
    }
}

/// Can the bot post in `channel_id`? Guild channels need VIEW_CHANNEL and
/// SEND_MESSAGES (and ATTACH_FILES for files) in that channel, its permission
/// overwrites applied; DMs need a user who accepts them.
pub fn check_can_send(world: &World, channel_id: u64, with_files: bool) -> ApiResult<()> {
    let channel = world
        .channels
        .get(&channel_id)
        .ok_or_else(ApiError::unknown_channel)?;
    match channel.kind {
        ChannelKind::GuildText => {
            let p = bot_permissions_in(world, channel_id).ok_or_else(ApiError::unknown_channel)?;
            if p & bits::VIEW_CHANNEL == 0 {
                return Err(ApiError::missing_access());
            }
            if p & bits::SEND_MESSAGES == 0 || (with_files && p & bits::ATTACH_FILES == 0) {
                return Err(ApiError::missing_permissions());
            }
        }
        ChannelKind::Dm => {
            let recipient = channel.recipient.and_then(|r| world.users.get(&r));
            let shares_guild = channel
                .recipient
                .is_some_and(|r| world.guilds.values().any(|g| g.members.contains_key(&r)));
            if recipient.is_none_or(|u| u.blocks_dms || u.bot) || !shares_guild {
                return Err(ApiError::cannot_dm());
            }
        }
    }
    Ok(())
}

pub async fn get_channel(
    State(core): State<Arc<Core>>,
    Path(channel_id): Path<String>,
) -> ApiResult {
    let id = snowflake("channel_id", &channel_id)?;
    let world = core.world.lock();
    check_can_view(&world, id)?;
    world
        .channel_json(id)
        .map(ok)
        .ok_or_else(ApiError::unknown_channel)
}

pub async fn create_message(
    State(core): State<Arc<Core>>,
    Path(channel_id): Path<String>,
    req: Request,
) -> ApiResult {
    let channel_id = snowflake("channel_id", &channel_id)?;
    let body = read_body(&core, req).await?;
    let mut world = core.world.lock();
    check_can_send(&world, channel_id, !body.files.is_empty())?;
    let mut m = world.new_message(channel_id, world.bot.id, String::new());
    apply_body(&world, &mut m, body, false)?;
    let sent = SentMessage::from_rec(&m);
    let v = world.message_json(&m, false);
    world.store_and_dispatch_message(m);
    world.record(Action::MessageCreated(sent));
    Ok(ok(v))
}

pub async fn list_messages(
    State(core): State<Arc<Core>>,
    Path(channel_id): Path<String>,
) -> ApiResult {
    let channel_id = snowflake("channel_id", &channel_id)?;
    let world = core.world.lock();
    if !world.channels.contains_key(&channel_id) {
        return Err(ApiError::unknown_channel());
    }
    check_can_view(&world, channel_id)?;
    let ids = world
        .channel_messages
        .get(&channel_id)
        .cloned()
        .unwrap_or_default();
    // Newest first, at most 50, as Discord's default.
    let list: Vec<Value> = ids
        .iter()
        .rev()
        .take(50)
        .filter_map(|id| world.messages.get(id))
        .map(|m| world.message_json(m, false))
        .collect();
    Ok(ok(Value::Array(list)))
}

fn find_message(world: &World, channel_id: &str, message_id: &str) -> ApiResult<u64> {
    let channel_id = snowflake("channel_id", channel_id)?;
    let message_id = snowflake("message_id", message_id)?;
    if !world.channels.contains_key(&channel_id) {
        return Err(ApiError::unknown_channel());
    }
    check_can_view(world, channel_id)?;
    match world.messages.get(&message_id) {
        Some(m) if m.channel_id == channel_id => Ok(message_id),
        _ => Err(ApiError::unknown_message()),
    }
}

pub async fn get_message(
    State(core): State<Arc<Core>>,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> ApiResult {
    let world = core.world.lock();
    let id = find_message(&world, &channel_id, &message_id)?;
    Ok(stored_message(&world, id))
}

/// `200 OK` with stored message `id` as REST returns it.
pub(super) fn stored_message(world: &World, id: u64) -> Response {
    ok(world.message_json(&world.messages[&id], false))
}

pub async fn edit_message(
    State(core): State<Arc<Core>>,
    Path((channel_id, message_id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let body = read_body(&core, req).await?;
    let mut world = core.world.lock();
    let id = find_message(&world, &channel_id, &message_id)?;
    if world.messages[&id].author_id != world.bot.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user",
        ));
    }
    edit_stored(&mut world, id, body)
}

/// Apply an edit to a stored message, dispatch MESSAGE_UPDATE, record it.
pub fn edit_stored(world: &mut World, id: u64, body: MessageBody) -> ApiResult {
    let mut m = world.messages[&id].clone();
    apply_body(world, &mut m, body, true)?;
    m.edited_timestamp = Some(now_iso());
    m.edits += 1;
    let v = world.message_json(&m, false);
    let sent = SentMessage::from_rec(&m);
    let guild = m.guild_id;
    world.messages.insert(id, m);
    world.dispatch_message_event(guild, "MESSAGE_UPDATE", &v);
    world.record(Action::MessageEdited(sent));
    Ok(ok(v))
}

pub async fn delete_message(
    State(core): State<Arc<Core>>,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> ApiResult {
    let mut world = core.world.lock();
    let id = find_message(&world, &channel_id, &message_id)?;
    let m = world.messages[&id].clone();
    if m.author_id != world.bot.id {
        let p = bot_permissions_in(&world, m.channel_id).unwrap_or(0);
        if p & bits::MANAGE_MESSAGES == 0 {
            return Err(ApiError::missing_permissions());
        }
    }
    delete_stored(&mut world, id);
    Ok(no_content())
}

/// Remove a stored message and dispatch MESSAGE_DELETE.
pub fn delete_stored(world: &mut World, id: u64) {
    let Some(m) = world.messages.remove(&id) else {
        return;
    };
    if let Some(list) = world.channel_messages.get_mut(&m.channel_id) {
        list.retain(|x| *x != id);
    }
    let mut d = json!({"id": id.to_string(), "channel_id": m.channel_id.to_string()});
    if let Some(g) = m.guild_id {
        d["guild_id"] = json!(g.to_string());
    }
    world.dispatch_message_event(m.guild_id, "MESSAGE_DELETE", &d);
    world.record(Action::MessageDeleted {
        channel_id: m.channel_id,
        message_id: id,
    });
}
