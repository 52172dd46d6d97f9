//! `/users/@me`, `/users/{id}`, `POST /users/@me/channels` (open a DM).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::{ApiError, ApiResult, ok, parse_json, snowflake};
use crate::core::Core;
use crate::state::Action;

pub async fn me(State(core): State<Arc<Core>>) -> Response {
    ok(core.world.lock().current_user_json())
}

pub async fn get_user(State(core): State<Arc<Core>>, Path(user_id): Path<String>) -> ApiResult {
    let id = snowflake("user_id", &user_id)?;
    let world = core.world.lock();
    world
        .user_json(id)
        .map(ok)
        .ok_or_else(ApiError::unknown_user)
}

pub async fn create_dm(State(core): State<Arc<Core>>, body: Bytes) -> ApiResult {
    let body = parse_json(&body)?;
    let Some(raw) = body.get("recipient_id") else {
        return Err(ApiError::required(&["recipient_id".into()]));
    };
    let raw = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let user_id = snowflake("recipient_id", &raw)?;
    let mut world = core.world.lock();
    if !world.users.contains_key(&user_id) {
        return Err(ApiError::unknown_user());
    }
    let existed = world.dm_channels.contains_key(&user_id);
    let channel_id = world.dm_channel(user_id);
    if !existed {
        world.record(Action::DmOpened {
            user_id,
            channel_id,
        });
    }
    Ok(ok(world.channel_json(channel_id).unwrap_or_default()))
}
