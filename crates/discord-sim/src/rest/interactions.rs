//! Interaction callbacks and the interaction webhook: first response,
//! follow-ups, original-message edits.
//!
//! These routes take no `Authorization`: the interaction token is the
//! credential. The first callback must come within the deadline (3 s on
//! Discord) and only once (40060 afterwards); the token is then valid for
//! follow-ups for 15 minutes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::channels::{self, MessageBody, apply_body, read_body, stored_message};
use super::{ApiError, ApiResult, no_content, ok, snowflake};
use crate::core::Core;
use crate::state::{Action, InteractionState, SentMessage, World};

/// How long an interaction token accepts follow-ups and edits.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub async fn callback(
    State(core): State<Arc<Core>>,
    Path((interaction_id, token)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let id = snowflake("interaction_id", &interaction_id)?;
    let with_response = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "with_response=true"));
    let mut body = read_body(&core, req).await?;
    let Some(kind) = body.json.get("type").and_then(Value::as_u64) else {
        return Err(ApiError::required(&["type".into()]));
    };
    let mut world = core.world.lock();
    check_first_callback(&world, id, &token)?;
    if !matches!(kind, 1 | 4..=10 | 12) {
        return Err(ApiError::invalid_form(
            &["type".into()],
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
        ));
    }
    let data = body.json.get("data").cloned().unwrap_or(Value::Null);
    let mut message_id = None;
    // UPDATE_MESSAGE (7) and DEFERRED_UPDATE_MESSAGE (6) answer a click on a
    // message's component: only a component interaction has a message to
    // update, and 7 replaces it now (6 leaves it for a later edit).
    if matches!(kind, 6 | 7) {
        let Some(target) = world.interactions[&id].original_message else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                50035,
                "Invalid Form Body: this interaction has no message to update",
            ));
        };
        if kind == 7 {
            let inner = MessageBody {
                json: if data.is_object() {
                    data.clone()
                } else {
                    json!({})
                },
                files: std::mem::take(&mut body.files),
            };
            channels::edit_stored(&mut world, target, inner)?;
        }
    }
    if kind == 4 {
        let inner = MessageBody {
            json: if data.is_object() {
                data.clone()
            } else {
                json!({})
            },
            files: body.files,
        };
        message_id = Some(post_interaction_message(&mut world, id, inner, true)?);
    }
    if let Some(r) = world.interactions.get_mut(&id) {
        if kind == 5 {
            r.deferred_flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
        }
        r.state = InteractionState::Responded;
        r.responded_after = Some(r.created.elapsed());
        if message_id.is_some() {
            r.original_message = message_id;
        }
    }
    world.record(Action::InteractionResponded {
        interaction_id: id,
        kind: kind as u8,
        data,
    });
    if with_response {
        return Ok(ok(callback_response(&world, id, kind, message_id)));
    }
    Ok(no_content())
}

/// A first callback needs a known interaction, its token, and no answer
/// yet: a second is 40060, and one after the deadline is too late.
fn check_first_callback(world: &World, id: u64, token: &str) -> ApiResult<()> {
    let Some(rec) = world.interactions.get(&id) else {
        return Err(ApiError::unknown_interaction());
    };
    if rec.token != token {
        return Err(ApiError::unknown_interaction());
    }
    match rec.state {
        InteractionState::Responded => Err(ApiError::already_acknowledged()),
        // Too late: the user already saw "The application did not respond".
        InteractionState::Failed => Err(ApiError::unknown_interaction()),
        InteractionState::Pending => Ok(()),
    }
}

/// The `?with_response=true` body: the interaction callback, and the
/// message it created, if any.
fn callback_response(world: &World, id: u64, kind: u64, message_id: Option<u64>) -> Value {
    let resource = message_id
        .and_then(|m| world.messages.get(&m))
        .map(|m| json!({"type": kind, "message": world.message_json(m, false)}));
    let mut v = json!({
        "interaction": {
            "id": id.to_string(),
            "type": 2,
            "response_message_id": message_id.map(|m| m.to_string()),
            "response_message_loading": kind == 5,
            "response_message_ephemeral": false,
        }
    });
    if let Some(r) = resource {
        v["resource"] = r;
    }
    v
}

/// The EPHEMERAL message flag.
const EPHEMERAL: u64 = 1 << 6;

/// Create a message answering interaction `id` (original response when
/// `original`, else a follow-up). Ephemeral messages are not dispatched.
fn post_interaction_message(
    world: &mut World,
    id: u64,
    body: MessageBody,
    original: bool,
) -> ApiResult<u64> {
    let rec = world
        .interactions
        .get(&id)
        .cloned()
        .ok_or_else(ApiError::unknown_interaction)?;
    let mut m = world.new_message(rec.channel_id, world.bot.id, String::new());
    m.interaction_id = Some(id);
    m.webhook_id = Some(world.app_id);
    m.kind = if original { 20 } else { 0 };
    apply_body(world, &mut m, body, false)?;
    let sent = SentMessage::from_rec(&m);
    let message_id = m.id;
    if sent.ephemeral {
        world.messages.insert(m.id, m);
    } else {
        world.store_and_dispatch_message(m);
    }
    world.record(Action::MessageCreated(sent));
    Ok(message_id)
}

/// The interaction behind a webhook `(application_id, token)`, if the
/// token is still valid.
fn interaction_for(world: &World, webhook_id: &str, token: &str) -> ApiResult<u64> {
    let app = snowflake("webhook_id", webhook_id)?;
    if app != world.app_id {
        return Err(ApiError::unknown_webhook());
    }
    let id = *world
        .interaction_tokens
        .get(token)
        .ok_or_else(ApiError::unknown_webhook)?;
    let rec = &world.interactions[&id];
    if rec.created.elapsed() > TOKEN_LIFETIME {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            50027,
            "Invalid Webhook Token",
        ));
    }
    Ok(id)
}

/// `POST /webhooks/{app}/{token}`: a follow-up message.
pub async fn followup(
    State(core): State<Arc<Core>>,
    Path((webhook_id, token)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let body = read_body(&core, req).await?;
    let mut world = core.world.lock();
    let id = interaction_for(&world, &webhook_id, &token)?;
    if world.interactions[&id].state != InteractionState::Responded {
        // Discord only accepts follow-ups after the initial response.
        return Err(ApiError::unknown_webhook());
    }
    let message_id = post_interaction_message(&mut world, id, body, false)?;
    Ok(stored_message(&world, message_id))
}

/// Resolve `@original` or a message ID under an interaction webhook.
fn webhook_message(world: &World, id: u64, message: &str) -> ApiResult<Option<u64>> {
    if message == "@original" {
        return Ok(world.interactions[&id].original_message);
    }
    let mid = snowflake("message_id", message)?;
    match world.messages.get(&mid) {
        Some(m) if m.interaction_id == Some(id) => Ok(Some(mid)),
        _ => Err(ApiError::unknown_message()),
    }
}

pub async fn get_webhook_message(
    State(core): State<Arc<Core>>,
    Path((webhook_id, token, message)): Path<(String, String, String)>,
) -> ApiResult {
    let world = core.world.lock();
    let id = interaction_for(&world, &webhook_id, &token)?;
    let mid = webhook_message(&world, id, &message)?.ok_or_else(ApiError::unknown_message)?;
    Ok(stored_message(&world, mid))
}

/// `PATCH .../messages/@original` after a deferred response creates the
/// original message (what the user sees replace "thinking..."); otherwise
/// it edits.
pub async fn edit_webhook_message(
    State(core): State<Arc<Core>>,
    Path((webhook_id, token, message)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let body = read_body(&core, req).await?;
    let mut world = core.world.lock();
    let id = interaction_for(&world, &webhook_id, &token)?;
    let rec = &world.interactions[&id];
    if rec.state != InteractionState::Responded || (message == "@original" && rec.original_deleted)
    {
        return Err(ApiError::unknown_message());
    }
    let deferred_flags = rec.deferred_flags;
    match webhook_message(&world, id, &message)? {
        Some(mid) => channels::edit_stored(&mut world, mid, body),
        None => {
            // The visibility was fixed by the deferral.
            let mut body = body;
            if deferred_flags & EPHEMERAL != 0 && body.json.is_object() {
                let flags = body.json.get("flags").and_then(Value::as_u64).unwrap_or(0);
                body.json["flags"] = json!(flags | EPHEMERAL);
            }
            let mid = post_interaction_message(&mut world, id, body, true)?;
            if let Some(r) = world.interactions.get_mut(&id) {
                r.original_message = Some(mid);
            }
            Ok(stored_message(&world, mid))
        }
    }
}

pub async fn delete_webhook_message(
    State(core): State<Arc<Core>>,
    Path((webhook_id, token, message)): Path<(String, String, String)>,
) -> ApiResult {
    let mut world = core.world.lock();
    let id = interaction_for(&world, &webhook_id, &token)?;
    let rec = &world.interactions[&id];
    // Deleting the "thinking..." of a deferral that was never edited removes it.
    if message == "@original"
        && rec.original_message.is_none()
        && rec.state == InteractionState::Responded
        && !rec.original_deleted
    {
        if let Some(r) = world.interactions.get_mut(&id) {
            r.original_deleted = true;
        }
        return Ok(no_content());
    }
    let mid = webhook_message(&world, id, &message)?.ok_or_else(ApiError::unknown_message)?;
    channels::delete_stored(&mut world, mid);
    if message == "@original"
        && let Some(r) = world.interactions.get_mut(&id)
    {
        r.original_deleted = true;
    }
    Ok(no_content())
}
