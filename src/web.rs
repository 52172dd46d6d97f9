//! The web leaderboard, on `KEEPER_HTTP_ADDR` beside the health and metrics
//! endpoints (`http.rs`): a JSON API and the page people open.
//!
//! - `GET /api/v1/guilds/{guild_id}/leaderboard?page=1&per_page=100`: one
//!   page of the guild's members by XP, highest first (`per_page` 1-100).
//! - `GET /api/v1/guilds/{guild_id}/members/{user_id}`: one member's place.
//! - `GET /leaderboard/{guild_id}?page=1&q=text`: the same leaderboard as an
//!   HTML page of 100 members ([`page`]), or the members whose name matches
//!   `q`. Its errors are pages too, saying what a person can do.
//!
//! A guild is served only when it chose to be (`/config web public`). Every
//! other guild, one Keeper never saw included, answers 404 alike: probing
//! tells nothing. Settings are read from the database at each request, not
//! from this process's memory, so a guild made private in another process of
//! the bot is private here at once.
//!
//! Answers carry an `ETag` (a hash of the body) and `Cache-Control`; a request
//! with a matching `If-None-Match` gets 304 and no body. Any path or query
//! Keeper can't read is a 404 or a 400 (with a JSON `error`, or a page),
//! never a 500; a database that fails is a 503, its details in the log only.
//! The page's answers also carry a Content-Security-Policy that allows
//! nothing but its inline style, images from Discord's CDN and its own
//! search form.

pub mod page;

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, IntoResponseParts, Response},
    routing::get,
};
use keeper_store::{GuildProfile, MemberProfile, MemberXp, Store, StoreError, levels};
use serde_json::{Value, json};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use self::page::{Board, Row};
use crate::avatars;

/// Members on a page when the request does not say (and always on the page).
pub const PER_PAGE: u32 = 100;
/// The deepest page asked for that is read at all (a million members at 100
/// a page is 10,000 pages).
const MAX_PAGE: u64 = 1_000_000;
/// How long a browser or a proxy may keep an answer: a leaderboard moves by
/// the minute, not the second.
const CACHE_CONTROL: &str = "public, max-age=30";
/// The longest search, in characters (Discord's names are at most 32).
pub const MAX_SEARCH: usize = 100;
/// The size asked of the CDN for a member's avatar: drawn at 40 CSS pixels,
/// sharp on a screen of density 1.5.
const AVATAR_SIZE: u32 = 64;
/// The size asked for a guild's icon, drawn at 56 CSS pixels.
const ICON_SIZE: u32 = 128;

/// What the web routes read: the store, and where the pictures and the page
/// itself are found.
#[derive(Clone)]
pub struct Web {
    store: Arc<dyn Store>,
    /// Discord's CDN (`DISCORD_CDN_URL`), without a trailing slash.
    cdn_url: Arc<str>,
    /// `KEEPER_PUBLIC_URL`, without a trailing slash: where people reach
    /// these routes, for the page's canonical link.
    public_url: Option<Arc<str>>,
    /// The page's Content-Security-Policy, which names the CDN's origin.
    csp: HeaderValue,
}

impl Web {
    /// The routes' state: `cdn_url` as `DISCORD_CDN_URL` says,
    /// `public_url` as `KEEPER_PUBLIC_URL` does.
    pub fn new(store: Arc<dyn Store>, cdn_url: &str, public_url: Option<&str>) -> Self {
        let cdn_url = cdn_url.trim_end_matches('/');
        Self {
            store,
            csp: content_security_policy(cdn_url),
            cdn_url: cdn_url.into(),
            public_url: public_url.map(|u| u.trim_end_matches('/').into()),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// The page may show its inline style, images from the CDN, and submit its
/// form to itself; nothing else, nor be framed. A CDN URL that is not a plain
/// `scheme://host[:port]` allows no images rather than a policy it could
/// widen.
fn content_security_policy(cdn_url: &str) -> HeaderValue {
    let img = origin(cdn_url).unwrap_or_else(|| "'none'".to_owned());
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src {img}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

/// `https://cdn.example:8443/x` → `https://cdn.example:8443`, for http and https.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let host = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let plain = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    ((scheme == "http" || scheme == "https") && !host.is_empty() && plain)
        .then(|| format!("{scheme}://{host}"))
}

/// The API's routes and the page's, for the HTTP server's router.
pub fn routes(web: Web) -> Router {
    Router::new()
        .route("/api/v1/guilds/{guild_id}/leaderboard", get(leaderboard))
        .route("/api/v1/guilds/{guild_id}/members/{user_id}", get(member))
        .route("/leaderboard/{guild_id}", get(leaderboard_page))
        .with_state(web)
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

/// Why a request gets no leaderboard, before each surface says it its own
/// way: the API as JSON, the page as a page.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// An unknown guild, a private one, or a path that names none: alike, so
    /// probing tells nothing.
    NotFound,
    /// A query Keeper can't read; the message says why.
    BadRequest(String),
    /// Past the last page: the leaderboard has `pages`.
    NoSuchPage { page: u64, pages: u64 },
    /// The database failed; what it said is in the log (see [`unavailable`]).
    Unavailable,
}

/// A store failure: logged in full, the client told only that it may retry.
fn unavailable(err: StoreError) -> Refusal {
    tracing::warn!(error = %err, "the web leaderboard could not read the database");
    Refusal::Unavailable
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// A refusal as the API gives it.
fn json_refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::NotFound => error(StatusCode::NOT_FOUND, "not found"),
        Refusal::BadRequest(message) => error(StatusCode::BAD_REQUEST, &message),
        Refusal::NoSuchPage { page, pages } => error(
            StatusCode::NOT_FOUND,
            &format!("there is no page {page}: the leaderboard has {pages}"),
        ),
        Refusal::Unavailable => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the leaderboard can't be read right now; try again shortly",
        ),
    }
}

/// The headers of every HTML answer: its type, and a policy that lets the
/// page do nothing but show itself (no script, no frame, no referrer, no
/// content sniffed into something else).
fn page_headers(web: &Web) -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CONTENT_SECURITY_POLICY, web.csp.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// A refusal as the page gives it: what happened and, where there is one,
/// the way on. A 404 for a guild says the same whether it exists or not.
fn page_refusal(web: &Web, refusal: Refusal) -> Response {
    let (status, body) = match refusal {
        Refusal::NotFound => (
            StatusCode::NOT_FOUND,
            page::message(
                "Not found",
                "There is no public leaderboard at this address.",
                None,
            ),
        ),
        Refusal::BadRequest(message) => (
            StatusCode::BAD_REQUEST,
            page::message(
                "Bad request",
                &format!("This address can't be read: {message}."),
                Some(("?page=1", "Go to the first page")),
            ),
        ),
        Refusal::NoSuchPage { page, pages } => {
            let last = pages.max(1);
            let plural = if last == 1 { "" } else { "s" };
            (
                StatusCode::NOT_FOUND,
                page::message(
                    "No such page",
                    &format!("There is no page {page}: the leaderboard has {last} page{plural}."),
                    Some((&format!("?page={last}"), &format!("Go to page {last}"))),
                ),
            )
        }
        Refusal::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            page::message(
                "Try again shortly",
                "The leaderboard can't be read right now.",
                None,
            ),
        ),
    };
    (status, page_headers(web), body).into_response()
}

/// `body` as the answer, with its ETag and `Cache-Control`, or 304 when the
/// client has it already.
fn cached(request: &HeaderMap, body: String, headers: impl IntoResponseParts) -> Response {
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
    if not_modified(request, &tag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, headers, body).into_response()
}

/// `value` as the API's answer.
fn answer(request: &HeaderMap, value: &Value) -> Response {
    cached(
        request,
        value.to_string(),
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
    )
}

/// The guild, when it is public.
async fn public_guild(store: &dyn Store, text: &str) -> Result<Id<GuildMarker>, Refusal> {
    let guild = snowflake::<GuildMarker>(text).ok_or(Refusal::NotFound)?;
    match store.settings(guild).await {
        Ok(settings) if settings.web_public => Ok(guild),
        Ok(_) => Err(Refusal::NotFound),
        Err(err) => Err(unavailable(err)),
    }
}

/// One page of a leaderboard as the store ranks it, with the names and
/// pictures it shows.
struct Slice {
    /// Members on the leaderboard, and pages of them.
    members: u64,
    pages: u64,
    /// The page's members, with their ranks.
    rows: Vec<(u64, MemberXp)>,
    /// The names and avatars Keeper saw of them (members it never saw speak
    /// have none).
    profiles: HashMap<Id<UserMarker>, MemberProfile>,
    /// The guild's name and icon; `None` if Keeper never saw it.
    guild: Option<GuildProfile>,
}

impl Slice {
    /// `rows` with the profiles and the guild's own, read from the store.
    async fn named(
        store: &dyn Store,
        guild: Id<GuildMarker>,
        members: u64,
        pages: u64,
        rows: Vec<(u64, MemberXp)>,
    ) -> Result<Slice, Refusal> {
        let users: Vec<Id<UserMarker>> = rows.iter().map(|(_, m)| m.user_id).collect();
        let (profiles, profile) =
            tokio::join!(store.profiles(guild, &users), store.guild_profile(guild));
        let profiles = profiles.map_err(unavailable)?;
        Ok(Slice {
            members,
            pages,
            rows,
            profiles: profiles.into_iter().map(|p| (p.user_id, p)).collect(),
            guild: profile.map_err(unavailable)?,
        })
    }

    /// A member's name and avatar hash, when Keeper has them.
    fn profile(&self, user: Id<UserMarker>) -> (Option<&str>, Option<&str>) {
        shown(self.profiles.get(&user))
    }
}

/// The name and avatar hash a profile gives, both `None` without one.
fn shown(profile: Option<&MemberProfile>) -> (Option<&str>, Option<&str>) {
    profile.map_or((None, None), |p| {
        (Some(p.display_name.as_str()), p.avatar.as_deref())
    })
}

/// Read page `page` of `per_page` members; past the last is a refusal (an
/// empty leaderboard has an empty page 1).
async fn read_page(
    store: &dyn Store,
    guild: Id<GuildMarker>,
    PageQuery { page, per_page }: PageQuery,
) -> Result<Slice, Refusal> {
    let members = store.leaderboard_len(guild).await.map_err(unavailable)?;
    let pages = members.div_ceil(u64::from(per_page));
    if page > pages.max(1) {
        return Err(Refusal::NoSuchPage { page, pages });
    }
    let offset = (page - 1) * u64::from(per_page);
    let rows = store
        .leaderboard(guild, offset, per_page)
        .await
        .map_err(unavailable)?;
    Slice::named(
        store,
        guild,
        members,
        pages,
        (offset + 1..).zip(rows).collect(),
    )
    .await
}

/// One member as the API shows them: `name` and `avatar_url` are null when
/// Keeper never saw them speak (or they deleted their data).
fn entry(
    web: &Web,
    rank: u64,
    m: &MemberXp,
    (name, avatar): (Option<&str>, Option<&str>),
) -> Value {
    let (into, needed) = levels::progress(m.xp);
    json!({
        "rank": rank,
        "user_id": m.user_id.to_string(),
        "name": name,
        "avatar_url": avatar.and_then(|hash| avatar_url(&web.cdn_url, m.user_id, hash)),
        "level": m.level,
        "xp": m.xp,
        "xp_into_level": into,
        "xp_for_level": needed,
        "messages": m.messages,
    })
}

async fn leaderboard(
    State(web): State<Web>,
    Path(guild): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let read = async {
        let guild = public_guild(&*web.store, &guild).await?;
        let asked = page_query(&query).map_err(Refusal::BadRequest)?;
        let slice = read_page(&*web.store, guild, asked).await?;
        Ok::<_, Refusal>((guild, asked, slice))
    };
    let (guild, PageQuery { page, per_page }, slice) = match read.await {
        Ok(read) => read,
        Err(refusal) => return json_refusal(refusal),
    };
    let entries: Vec<Value> = slice
        .rows
        .iter()
        .map(|(rank, m)| entry(&web, *rank, m, slice.profile(m.user_id)))
        .collect();
    let (name, icon) = slice
        .guild
        .as_ref()
        .map_or((None, None), |g| (Some(g.name.as_str()), g.icon.as_deref()));
    answer(
        &headers,
        &json!({
            "guild_id": guild.to_string(),
            "name": name,
            "icon_url": icon.and_then(|hash| icon_url(&web.cdn_url, guild, hash)),
            "page": page,
            "per_page": per_page,
            "pages": slice.pages,
            "members": slice.members,
            "entries": entries,
        }),
    )
}

async fn member(
    State(web): State<Web>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let guild = match public_guild(&*web.store, &guild).await {
        Ok(guild) => guild,
        Err(refusal) => return json_refusal(refusal),
    };
    let Some(user) = snowflake::<UserMarker>(&user) else {
        return json_refusal(Refusal::NotFound);
    };
    let users = [user];
    let (rank, profile) = tokio::join!(
        web.store.member_rank(guild, user),
        web.store.profiles(guild, &users)
    );
    let profile = match profile {
        Ok(mut found) => found.pop(),
        Err(err) => return json_refusal(unavailable(err)),
    };
    let seen = shown(profile.as_ref());
    match rank {
        Ok(Some(rank)) => {
            let mut value = entry(&web, rank.position, &rank.member, seen);
            value["guild_id"] = json!(guild.to_string());
            value["out_of"] = json!(rank.out_of);
            answer(&headers, &value)
        }
        Ok(None) => json_refusal(Refusal::NotFound),
        Err(err) => json_refusal(unavailable(err)),
    }
}

/// The search in a query: trimmed, absent when blank, refused when longer
/// than [`MAX_SEARCH`] characters.
fn search_text(query: &HashMap<String, String>) -> Result<Option<String>, Refusal> {
    let Some(text) = query.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_SEARCH {
        return Err(Refusal::BadRequest(format!(
            "a search is at most {MAX_SEARCH} characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// What the page shows, from what the store holds: the one place a member
/// or the guild becomes what a person sees.
fn board(
    web: &Web,
    guild: Id<GuildMarker>,
    page: u64,
    slice: &Slice,
    search: Option<String>,
) -> Board {
    let (guild_name, guild_icon) = slice.guild.as_ref().map_or((None, None), |g| {
        // A guild whose GUILD_CREATE had no name yet is shown as "Leaderboard".
        let name = (!g.name.is_empty()).then(|| g.name.clone());
        (name, g.icon.as_deref())
    });
    let rows = slice
        .rows
        .iter()
        .map(|(rank, m)| {
            let (xp_into_level, xp_for_level) = levels::progress(m.xp);
            let (name, avatar) = slice.profile(m.user_id);
            Row {
                rank: *rank,
                user_id: m.user_id,
                name: name.map(str::to_owned),
                avatar_url: avatar.and_then(|hash| avatar_url(&web.cdn_url, m.user_id, hash)),
                level: m.level,
                xp: m.xp,
                xp_into_level,
                xp_for_level,
            }
        })
        .collect();
    Board {
        guild_id: guild,
        guild_name,
        guild_icon_url: guild_icon.and_then(|hash| icon_url(&web.cdn_url, guild, hash)),
        page,
        pages: slice.pages,
        members: slice.members,
        per_page: PER_PAGE,
        canonical_url: web.public_url.as_ref().map(|base| match &search {
            Some(_) => format!("{base}/leaderboard/{guild}"),
            None => format!("{base}/leaderboard/{guild}?page={page}"),
        }),
        search,
        rows,
    }
}

/// A member's avatar at the CDN, at the page's size; `None` for a hash that
/// is not one (never put in a URL unchecked).
fn avatar_url(cdn: &str, user: Id<UserMarker>, hash: &str) -> Option<String> {
    avatars::valid_hash(hash).then(|| format!("{cdn}/avatars/{user}/{hash}.png?size={AVATAR_SIZE}"))
}

/// A guild's icon at the CDN, likewise checked.
fn icon_url(cdn: &str, guild: Id<GuildMarker>, hash: &str) -> Option<String> {
    avatars::valid_hash(hash).then(|| format!("{cdn}/icons/{guild}/{hash}.png?size={ICON_SIZE}"))
}

/// The leaderboard page, or the members a search found.
async fn leaderboard_page(
    State(web): State<Web>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let read = async {
        // A path that is not text (`%FF`) names no guild.
        let Path(guild) = path.map_err(|_| Refusal::NotFound)?;
        // The guild first: a private guild answers alike whatever the query.
        let guild = public_guild(&*web.store, &guild).await?;
        let Query(mut query) =
            query.map_err(|_| Refusal::BadRequest("its query is not valid".to_owned()))?;
        // The page always shows 100: a `per_page` meant for the API is no error.
        query.remove("per_page");
        let asked = page_query(&query).map_err(Refusal::BadRequest)?;
        let Some(text) = search_text(&query)? else {
            let slice = read_page(&*web.store, guild, asked).await?;
            return Ok(board(&web, guild, asked.page, &slice, None));
        };
        let members = web
            .store
            .leaderboard_len(guild)
            .await
            .map_err(unavailable)?;
        let found = web
            .store
            .search_members(guild, &text, PER_PAGE)
            .await
            .map_err(unavailable)?;
        let rows = found.into_iter().map(|r| (r.position, r.member)).collect();
        let pages = members.div_ceil(u64::from(PER_PAGE));
        let slice = Slice::named(&*web.store, guild, members, pages, rows).await?;
        Ok(board(&web, guild, 1, &slice, Some(text)))
    };
    match read.await {
        Ok(board) => cached(&headers, page::render(&board), page_headers(&web)),
        Err(refusal) => page_refusal(&web, refusal),
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
    fn the_policy_allows_images_from_the_cdn_origin_only() {
        assert_eq!(
            origin("https://cdn.discordapp.com").as_deref(),
            Some("https://cdn.discordapp.com")
        );
        assert_eq!(
            origin("HTTP://127.0.0.1:5000/cdn/").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        for bad in [
            "cdn.example",
            "ftp://cdn.example",
            "https://",
            "https://cdn example",
            "https://x; script-src *",
            "https://x,y",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
        let csp = content_security_policy("https://x; script-src *");
        assert!(csp.to_str().unwrap().contains("img-src 'none';"));
        assert!(!csp.to_str().unwrap().contains("script-src"));
    }

    #[test]
    fn searches_are_trimmed_and_bounded() {
        assert_eq!(search_text(&query(&[])), Ok(None));
        assert_eq!(search_text(&query(&[("q", " \t ")])), Ok(None));
        assert_eq!(
            search_text(&query(&[("q", "  ann ")])),
            Ok(Some("ann".to_owned()))
        );
        let longest = "é".repeat(MAX_SEARCH);
        assert_eq!(
            search_text(&query(&[("q", &longest)])),
            Ok(Some(longest.clone()))
        );
        assert!(matches!(
            search_text(&query(&[("q", &format!("{longest}x"))])),
            Err(Refusal::BadRequest(_))
        ));
    }

    #[test]
    fn pictures_get_urls_only_for_real_hashes() {
        let cdn = "https://cdn.example";
        assert_eq!(
            avatar_url(cdn, Id::new(5), "a_0f3c").as_deref(),
            Some("https://cdn.example/avatars/5/a_0f3c.png?size=64")
        );
        assert_eq!(
            icon_url(cdn, Id::new(7), "abc123").as_deref(),
            Some("https://cdn.example/icons/7/abc123.png?size=128")
        );
        for bad in ["", "../x", "abc\"><script>", "zz"] {
            assert_eq!(avatar_url(cdn, Id::new(5), bad), None, "{bad}");
            assert_eq!(icon_url(cdn, Id::new(7), bad), None, "{bad}");
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
