//! `GET /gateway`, `GET /gateway/bot`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::ok;
use crate::core::Core;

pub async fn gateway(State(core): State<Arc<Core>>) -> Response {
    ok(json!({"url": core.gateway_url()}))
}

pub async fn gateway_bot(State(core): State<Arc<Core>>) -> Response {
    let c = core.config();
    ok(json!({
        "url": core.gateway_url(),
        "shards": c.shards,
        "session_start_limit": {
            "total": 1000,
            "remaining": 1000,
            "reset_after": 0,
            "max_concurrency": c.max_concurrency,
        },
    }))
}
