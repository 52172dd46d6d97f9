//! The web leaderboard's JSON API, on `KEEPER_HTTP_ADDR` beside the health and
//! metrics endpoints (`http.rs`):
//!
//! - `GET /api/v1/guilds/{guild_id}/leaderboard?page=1&per_page=100`: one
//!   page of the guild's members by XP, highest first (`per_page` 1-100).
//! - `GET /api/v1/guilds/{guild_id}/members/{user_id}`: one member's place.
//!
//! A guild is served only when it chose to be (`/config web public`). Every
//! other guild, one Keeper never saw included, answers 404 alike: probing
//! tells nothing. Settings are read from the database at each request, not
//! from this process's memory, so a guild made private in another process of
//! the bot is private here at once.
//!
//! Answers carry an `ETag` (a hash of the body) and `Cache-Control`; a request
//! with a matching `If-None-Match` gets 304 and no body. Any path or query
//! Keeper can't read is a 404 or a 400 with a JSON `error`, never a 500; a
//! database that fails is a 503, its details in the log only.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use keeper_store::{MemberXp, Store, StoreError, levels};
use serde_json::{Value, json};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

/// Members on a page when the request does not say.
pub const PER_PAGE: u32 = 100;
/// The deepest page asked for that is read at all (a million members at 100
/// a page is 10,000 pages).
const MAX_PAGE: u64 = 1_000_000;
/// How long a browser or a proxy may keep an answer: a leaderboard moves by
/// the minute, not the second.
const CACHE_CONTROL: &str = "public, max-age=30";

/// The API's routes, for the HTTP server's router.
pub fn routes(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/api/v1/guilds/{guild_id}/leaderboard", get(leaderboard))
        .route("/api/v1/guilds/{guild_id}/members/{user_id}", get(member))
        .with_state(store)
}

/// Which page, and how many a page: `page` from 1, `per_page` 1-100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageQuery {
    pub page: u64,
    pub per_page: u32,
}

/// Read `page` and `per_page` from a query; other parameters are ignored.
pub fn page_query(query: &HashMap<String, String>) -> Result<PageQuery, String> {
    let page = match query.get("page") {
        None => 1,
        Some(text) => match text.parse::<u64>() {
            Ok(page) if (1..=MAX_PAGE).contains(&page) => page,
            _ => return Err(format!("page must be a whole number from 1 to {MAX_PAGE}")),
        },
    };
    let per_page = match query.get("per_page") {
        None => PER_PAGE,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=PER_PAGE).contains(&n) => n,
            _ => {
                return Err(format!(
                    "per_page must be a whole number from 1 to {PER_PAGE}"
                ));
            }
        },
    };
    Ok(PageQuery { page, per_page })
}

/// A snowflake as it appears in a path: digits, not zero.
fn snowflake<T>(text: &str) -> Option<Id<T>> {
    text.parse::<u64>().ok().and_then(Id::new_checked)
}

/// The strong validator of a body: FNV-1a, quoted as HTTP wants it.
pub fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn not_modified(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// A store failure: logged in full, the client told only that it may retry.
fn unavailable(err: &StoreError) -> Response {
    tracing::warn!(error = %err, "the web API could not read the database");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the leaderboard can't be read right now; try again shortly",
    )
}

/// `value` as the answer, or 304 when the client has it already.
fn answer(headers: &HeaderMap, value: &Value) -> Response {
    let body = value.to_string();
    let tag = etag(body.as_bytes());
    let cache = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];
    if not_modified(headers, &tag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The guild, when it is public; `Err` is the answer to give instead.
async fn public_guild(store: &dyn Store, text: &str) -> Result<Id<GuildMarker>, Response> {
    let guild = snowflake::<GuildMarker>(text).ok_or_else(not_found)?;
    match store.settings(guild).await {
        Ok(settings) if settings.web_public => Ok(guild),
        Ok(_) => Err(not_found()),
        Err(err) => Err(unavailable(&err)),
    }
}

/// One member as the API shows them.
fn entry(rank: u64, m: &MemberXp) -> Value {
    let (into, needed) = levels::progress(m.xp);
    json!({
        "rank": rank,
        "user_id": m.user_id.to_string(),
        "level": m.level,
        "xp": m.xp,
        "xp_into_level": into,
        "xp_for_level": needed,
        "messages": m.messages,
    })
}

async fn leaderboard(
    State(store): State<Arc<dyn Store>>,
    Path(guild): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let guild = match public_guild(&*store, &guild).await {
        Ok(guild) => guild,
        Err(answer) => return answer,
    };
    let PageQuery { page, per_page } = match page_query(&query) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let members = match store.leaderboard_len(guild).await {
        Ok(n) => n,
        Err(err) => return unavailable(&err),
    };
    let pages = members.div_ceil(u64::from(per_page));
    if page > pages.max(1) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("there is no page {page}: the leaderboard has {pages}"),
        );
    }
    let offset = (page - 1) * u64::from(per_page);
    let rows = match store.leaderboard(guild, offset, per_page).await {
        Ok(rows) => rows,
        Err(err) => return unavailable(&err),
    };
    let entries: Vec<Value> = rows
        .iter()
        .zip(offset + 1..)
        .map(|(m, rank)| entry(rank, m))
        .collect();
    answer(
        &headers,
        &json!({
            "guild_id": guild.to_string(),
            "page": page,
            "per_page": per_page,
            "pages": pages,
            "members": members,
            "entries": entries,
        }),
    )
}

async fn member(
    State(store): State<Arc<dyn Store>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let guild = match public_guild(&*store, &guild).await {
        Ok(guild) => guild,
        Err(answer) => return answer,
    };
    let Some(user) = snowflake::<UserMarker>(&user) else {
        return not_found();
    };
    match store.member_rank(guild, user).await {
        Ok(Some(rank)) => {
            let mut value = entry(rank.position, &rank.member);
            value["guild_id"] = json!(guild.to_string());
            value["out_of"] = json!(rank.out_of);
            answer(&headers, &value)
        }
        Ok(None) => not_found(),
        Err(err) => unavailable(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pages_default_and_are_bounded() {
        assert_eq!(
            page_query(&query(&[])),
            Ok(PageQuery {
                page: 1,
                per_page: 100
            })
        );
        assert_eq!(
            page_query(&query(&[("page", "3"), ("per_page", "25"), ("x", "y")])),
            Ok(PageQuery {
                page: 3,
                per_page: 25
            })
        );
        for bad in [
            ("page", "0"),
            ("page", "-1"),
            ("page", "two"),
            ("page", ""),
            ("page", "1000001"),
            ("page", "99999999999999999999999"),
            ("per_page", "0"),
            ("per_page", "101"),
            ("per_page", "1e2"),
        ] {
            assert!(page_query(&query(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn snowflakes_are_digits_and_not_zero() {
        assert_eq!(snowflake::<GuildMarker>("42"), Some(Id::new(42)));
        assert_eq!(
            snowflake::<GuildMarker>("18446744073709551615"),
            Some(Id::new(u64::MAX))
        );
        for bad in ["0", "-1", "abc", "", "18446744073709551616", "4 2", "%34"] {
            assert_eq!(snowflake::<GuildMarker>(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn etags_follow_the_body_and_match_if_none_match() {
        let tag = etag(b"{}");
        assert_eq!(tag, etag(b"{}"));
        assert_ne!(tag, etag(b"{ }"));
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 18);
        let mut headers = HeaderMap::new();
        assert!(!not_modified(&headers, &tag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{tag}")).unwrap(),
        );
        assert!(not_modified(&headers, &tag));
        assert!(!not_modified(&headers, "\"else\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&headers, &tag));
    }
}
