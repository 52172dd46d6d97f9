//! REST API (`/api/v10`): routing, auth, rate limits (`ratelimit.rs`: buckets,
//! the global limit, 429s and their headers), scripted faults, Discord-style
//! errors, and a record of every request.
//!
//! The routes' handlers are one file per resource (`applications.rs`,
//! `channels.rs`, `gateway.rs`, `guilds.rs`, `interactions.rs`, `users.rs`);
//! the errors they answer with are in `error.rs`.

pub mod applications;
pub mod cdn;
pub mod channels;
mod error;
pub mod gateway;
pub mod guilds;
pub mod interactions;
pub mod users;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use crate::core::Core;
use crate::faults::FaultRule;
use crate::ratelimit::{BucketState, Decision};
use crate::state::{Action, RequestRec};

pub use error::{ApiError, ApiResult, ErrorCode};
// Scripted faults are the core's, below REST; their old path still works.
pub use crate::faults;

/// Largest request body accepted (Discord's upload limit is 25 MiB).
const MAX_BODY: usize = 26 * 1024 * 1024;

/// Every `(method, route)` the simulator serves under `/api/v10`; the
/// fidelity tests check each against Discord's OpenAPI description.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/gateway"),
    ("GET", "/gateway/bot"),
    ("GET", "/users/@me"),
    ("POST", "/users/@me/channels"),
    ("GET", "/users/{user_id}"),
    ("GET", "/applications/@me"),
    ("GET", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/commands"),
    (
        "GET",
        "/applications/{application_id}/guilds/{guild_id}/commands",
    ),
    (
        "PUT",
        "/applications/{application_id}/guilds/{guild_id}/commands",
    ),
    (
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
    ),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
    (
        "GET",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    ),
    (
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    ),
    (
        "DELETE",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    ),
    ("GET", "/channels/{channel_id}"),
    ("GET", "/channels/{channel_id}/messages"),
    ("POST", "/channels/{channel_id}/messages"),
    ("GET", "/channels/{channel_id}/messages/{message_id}"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"),
    ("GET", "/guilds/{guild_id}"),
    ("GET", "/guilds/{guild_id}/channels"),
    ("GET", "/guilds/{guild_id}/roles"),
    ("GET", "/guilds/{guild_id}/members"),
    ("GET", "/guilds/{guild_id}/members/{user_id}"),
    ("PATCH", "/guilds/{guild_id}/members/{user_id}"),
    ("DELETE", "/guilds/{guild_id}/members/{user_id}"),
    (
        "PUT",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    ),
    (
        "DELETE",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    ),
    ("GET", "/guilds/{guild_id}/bans"),
    ("GET", "/guilds/{guild_id}/bans/{user_id}"),
    ("PUT", "/guilds/{guild_id}/bans/{user_id}"),
    ("DELETE", "/guilds/{guild_id}/bans/{user_id}"),
    ("GET", "/guilds/{guild_id}/audit-logs"),
];

pub fn router(core: Arc<Core>) -> Router<Arc<Core>> {
    use applications as apps;
    use channels as ch;
    use guilds as g;
    use interactions as i;
    Router::new()
        .route("/gateway", get(gateway::gateway))
        .route("/gateway/bot", get(gateway::gateway_bot))
        .route("/users/@me", get(users::me))
        .route("/users/@me/channels", post(users::create_dm))
        .route("/users/{user_id}", get(users::get_user))
        .route("/applications/@me", get(apps::me))
        .route(
            "/applications/{application_id}/commands",
            get(apps::get_global).put(apps::put_global),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands",
            get(apps::get_guild).put(apps::put_guild),
        )
        .route(
            "/interactions/{interaction_id}/{interaction_token}/callback",
            post(i::callback),
        )
        .route("/webhooks/{webhook_id}/{webhook_token}", post(i::followup))
        .route(
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            get(i::get_webhook_message)
                .patch(i::edit_webhook_message)
                .delete(i::delete_webhook_message),
        )
        .route("/channels/{channel_id}", get(ch::get_channel))
        .route(
            "/channels/{channel_id}/messages",
            get(ch::list_messages).post(ch::create_message),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}",
            get(ch::get_message)
                .patch(ch::edit_message)
                .delete(ch::delete_message),
        )
        .route("/guilds/{guild_id}", get(g::get_guild))
        .route("/guilds/{guild_id}/channels", get(g::channels))
        .route("/guilds/{guild_id}/roles", get(g::roles))
        .route("/guilds/{guild_id}/members", get(g::list_members))
        .route(
            "/guilds/{guild_id}/members/{user_id}",
            get(g::get_member).patch(g::modify_member).delete(g::kick),
        )
        .route(
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            put(g::add_role).delete(g::remove_role),
        )
        .route("/guilds/{guild_id}/bans", get(g::list_bans))
        .route(
            "/guilds/{guild_id}/bans/{user_id}",
            get(g::get_ban).put(g::ban).delete(g::unban),
        )
        .route("/guilds/{guild_id}/audit-logs", get(g::audit_log))
        .route_layer(middleware::from_fn_with_state(core, around))
}

/// Every route's common behaviour, in Discord's order: auth, scripted
/// faults, the handler, rate-limit headers; and a record of the request.
async fn around(State(core): State<Arc<Core>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_owned());
    let short = path.strip_prefix("/api/v10").unwrap_or(&path).to_owned();

    // Buffer the body so the request log can keep it for fidelity checks.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                40005,
                "Request entity too large",
            )
            .into_response();
        }
    };
    let is_json = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let logged_body = if is_json {
        serde_json::from_slice::<Value>(&bytes).ok()
    } else {
        None
    };

    // Interaction callbacks and webhooks authenticate by their token.
    let tokenless = short.starts_with("/interactions/") || short.starts_with("/webhooks/");
    let authorized = tokenless
        || parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bot {}", core.config().token));

    let short_route = route.strip_prefix("/api/v10").unwrap_or(&route).to_owned();
    // Discord's order: who is asking, then their rate limits, then the route.
    let decision = authorized.then(|| {
        core.limiter
            .lock()
            .check(&method, &short_route, &short, Instant::now())
    });
    let mut response = match &decision {
        None => ApiError::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized").into_response(),
        Some(Decision::Global { retry_after }) => rate_limited(*retry_after, None),
        Some(Decision::Bucket { bucket }) => rate_limited(bucket.reset_after, Some(bucket)),
        Some(Decision::Allow { .. }) => {
            let fault = core.faults.lock().take(&method, &short);
            match fault {
                Some(fault) if fault.status == faults::NO_ANSWER => {
                    core.notify();
                    // Dropped with the connection when the client goes away.
                    return std::future::pending().await;
                }
                Some(fault) => fault_response(&fault),
                None => {
                    let req = Request::from_parts(parts, Body::from(bytes));
                    next.run(req).await
                }
            }
        }
    };
    if let Some(Decision::Allow {
        bucket: Some(bucket),
    }) = &decision
    {
        add_rate_limit_headers(response.headers_mut(), bucket);
    }
    let scope = response
        .headers()
        .get("x-ratelimit-scope")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    core.limiter.lock().answered(
        &method,
        &short_route,
        response.status().as_u16(),
        scope.as_deref(),
    );

    let status = response.status().as_u16();
    {
        let mut world = core.world.lock();
        world.requests.push(RequestRec {
            method: method.clone(),
            path: path.clone(),
            route,
            status,
            body: logged_body,
        });
        if status >= 400
            && let Some(code) = response.extensions().get::<ErrorCode>()
        {
            world.record(Action::Rejected {
                method,
                path,
                status,
                code: code.0,
            });
        }
    }
    core.notify();
    response
}

fn fault_response(fault: &FaultRule) -> Response {
    if fault.status == 429 {
        let body = json!({
            "message": "You are being rate limited.",
            "retry_after": fault.retry_after,
            "global": fault.global,
            "code": 0,
        });
        let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let h = r.headers_mut();
        let secs = format!("{}", fault.retry_after.ceil() as u64);
        h.insert(
            "retry-after",
            HeaderValue::from_str(&secs).unwrap_or(HeaderValue::from_static("1")),
        );
        if fault.global {
            h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
            h.insert("x-ratelimit-scope", HeaderValue::from_static("global"));
        } else {
            h.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
        }
        r.extensions_mut().insert(ErrorCode(0));
        r
    } else {
        let status =
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (
            status,
            axum::Json(json!({"message": format!("{}: {}", status.as_u16(), status.canonical_reason().unwrap_or("Server Error")), "code": 0})),
        )
            .into_response();
        r.extensions_mut().insert(ErrorCode(0));
        r
    }
}

/// A 429 as Discord sends it: for a bucket (`bucket`, scope `user`, with the
/// bucket's headers) or for the global limit (scope `global`). `retry_after`
/// in the body is in seconds with decimals; `Retry-After` is whole seconds.
fn rate_limited(retry_after: Duration, bucket: Option<&BucketState>) -> Response {
    let secs = (retry_after.as_secs_f64() * 1000.0).ceil() / 1000.0;
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": secs,
        "global": bucket.is_none(),
        "code": 0,
    });
    let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = r.headers_mut();
    set(
        h,
        "retry-after",
        &format!("{}", secs.ceil().max(1.0) as u64),
    );
    match bucket {
        Some(b) => {
            add_rate_limit_headers(h, b);
            set(h, "x-ratelimit-scope", "user");
        }
        None => {
            set(h, "x-ratelimit-global", "true");
            set(h, "x-ratelimit-scope", "global");
        }
    }
    r.extensions_mut().insert(ErrorCode(0));
    r
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// A bucket's headers, as Discord sends them with every answer on a limited
/// route (a scripted fault's own headers win). No `X-RateLimit-Scope`: Discord
/// sends that with a 429 only.
fn add_rate_limit_headers(h: &mut HeaderMap, bucket: &BucketState) {
    let after = bucket.reset_after.as_secs_f64();
    let reset = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + after;
    let pairs = [
        ("x-ratelimit-limit", bucket.limit.to_string()),
        ("x-ratelimit-remaining", bucket.remaining.to_string()),
        ("x-ratelimit-reset", format!("{reset:.3}")),
        ("x-ratelimit-reset-after", format!("{after:.3}")),
        ("x-ratelimit-bucket", bucket.hash.clone()),
    ];
    for (k, v) in pairs {
        if !h.contains_key(k) {
            set(h, k, &v);
        }
    }
}

/// Any path we do not serve.
pub async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, 0, "404: Not Found").into_response()
}

/// Parse a JSON body; malformed JSON is Discord's 50109.
pub fn parse_json(bytes: &Bytes) -> ApiResult<Value> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|_| ApiError::invalid_json())
}

/// Parse a snowflake path segment; garbage is a 50035 on that field.
pub fn snowflake(field: &str, s: &str) -> ApiResult<u64> {
    s.parse::<u64>().map_err(|_| {
        ApiError::invalid_form(
            &[field.to_owned()],
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{s}\" is not snowflake."),
        )
    })
}

/// An optional snowflake query parameter (`?before=...`); garbage is a 50035
/// on that field.
pub fn query_snowflake(
    q: &std::collections::HashMap<String, String>,
    field: &str,
) -> ApiResult<Option<u64>> {
    q.get(field).map(|s| snowflake(field, s)).transpose()
}

/// An optional integer query parameter within `min..=max`, checked as Discord
/// checks one (50035 naming the field).
pub fn query_int(
    q: &std::collections::HashMap<String, String>,
    field: &str,
    min: i64,
    max: i64,
) -> ApiResult<Option<i64>> {
    let Some(raw) = q.get(field) else {
        return Ok(None);
    };
    let n: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_an_int(&[field.to_owned()], raw))?;
    int_in(field, n, min, max).map(Some)
}

/// `n`, given for `field`, if within `min..=max`; else Discord's 50035
/// naming the field.
pub fn int_in(field: &str, n: i64, min: i64, max: i64) -> ApiResult<i64> {
    let path = [field.to_owned()];
    if n < min {
        let message = format!("int value should be greater than or equal to {min}.");
        return Err(ApiError::invalid_form(&path, "NUMBER_TYPE_MIN", &message));
    }
    if n > max {
        let message = format!("int value should be less than or equal to {max}.");
        return Err(ApiError::invalid_form(&path, "NUMBER_TYPE_MAX", &message));
    }
    Ok(n)
}

/// `200 OK` with a JSON body.
pub fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The audit-log reason header, percent-decoded.
pub fn audit_reason(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get("x-audit-log-reason")?.to_str().ok()?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            )
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
