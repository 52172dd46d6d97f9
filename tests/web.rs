//! The web leaderboard's JSON API and its HTML page on every backend: pages
//! and members as the store ranks them, private guilds indistinguishable from
//! unknown ones, bad paths and queries refused with 400 or 404 (never a 500),
//! ETags, and the page's security headers.

mod common;

use std::sync::Arc;

use axum::{
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use keeper::web::Web;
use keeper_store::{SettingsPatch, Store, XpAward};
use serde_json::Value;
use tower::ServiceExt as _;
use twilight_model::id::Id;

use common::Db;

const PUBLIC: u64 = 10;
const PRIVATE: u64 = 11;
const MEMBERS: u64 = 250;
/// Discord's CDN as the page is told it: the origin its images may come from.
const CDN: &str = "http://127.0.0.1:9/cdn";

/// A store with [`MEMBERS`] members in a public guild (member `1_000 + i`
/// has `i * 10` XP) and one member in a private one.
async fn seeded(db: Db) -> (common::Backend, Arc<dyn Store>) {
    let (backend, url) = common::Backend::create(db).await;
    let store = common::open_store(&url).await;
    common::public_leaderboard(&*store, PUBLIC, MEMBERS).await;
    let at = chrono::Utc::now();
    let private = XpAward {
        guild_id: Id::new(PRIVATE),
        user_id: Id::new(1_001),
        xp: 500,
        messages: 1,
        at,
    };
    store.award_xp(&[private], &[]).await.unwrap();
    // Configured, but private: must look exactly like a guild never seen.
    let other = SettingsPatch {
        prefix: Some("?".into()),
        ..Default::default()
    };
    store
        .update_settings(Id::new(PRIVATE), &other, at)
        .await
        .unwrap();
    (backend, store)
}

struct Got {
    status: StatusCode,
    etag: Option<String>,
    cache: Option<String>,
    headers: HeaderMap,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn get(store: &Arc<dyn Store>, path: &str, if_none_match: Option<&str>) -> Got {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let web = Web::new(Arc::clone(store), CDN, None);
    let response = keeper::web::routes(web)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (status, etag, cache) = (
        response.status(),
        header(header::ETAG),
        header(header::CACHE_CONTROL),
    );
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Got {
        status,
        etag,
        cache,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn the_api_serves_public_guilds_only(db: Db) {
    let (backend, store) = seeded(db).await;

    // Page 2 of 100: ranks 101-200, highest XP first.
    let page = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=2"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let json = page.json();
    assert_eq!(json["members"], MEMBERS);
    assert_eq!(json["pages"], 3);
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 100);
    assert_eq!(entries[0]["rank"], 101);
    assert_eq!(entries[0]["user_id"], (1_000 + MEMBERS - 100).to_string());
    assert_eq!(entries[0]["xp"], ((MEMBERS - 100) * 10) as i64);
    assert_eq!(entries[99]["rank"], 200);
    for pair in entries.windows(2) {
        assert!(pair[0]["xp"].as_i64() > pair[1]["xp"].as_i64());
    }
    // Names and avatars as Keeper saw them, raw (JSON escapes; a page must too).
    let i = MEMBERS - 100;
    assert_eq!(entries[0]["name"], common::web_name(i));
    assert_eq!(
        entries[0]["avatar_url"],
        format!(
            "http://127.0.0.1:9/cdn/avatars/{}/{}.png?size=64",
            1_000 + i,
            common::web_avatar(i).unwrap()
        )
    );
    assert_eq!(entries[1]["avatar_url"], Value::Null, "an odd one has none");
    assert_eq!(json["name"], common::WEB_GUILD_NAME);
    assert_eq!(
        json["icon_url"],
        format!(
            "http://127.0.0.1:9/cdn/icons/{PUBLIC}/{}.png?size=128",
            common::WEB_GUILD_ICON
        )
    );
    // The same ranks as `/rank` gives.
    let rank = store
        .member_rank(Id::new(PUBLIC), Id::new(1_000 + MEMBERS - 100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rank.position, 101);
    assert_eq!(page.cache.as_deref(), Some("public, max-age=30"));

    // Unchanged: 304 without a body; changed: the new page with a new tag.
    let tag = page.etag.clone().expect("an ETag");
    let again = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=2"),
        Some(&tag),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.etag.as_deref(), Some(tag.as_str()));
    store
        .award_xp(
            &[XpAward {
                guild_id: Id::new(PUBLIC),
                user_id: Id::new(1_000 + MEMBERS - 100),
                xp: 5,
                messages: 1,
                at: chrono::Utc::now(),
            }],
            &[],
        )
        .await
        .unwrap();
    let moved = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=2"),
        Some(&tag),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_ne!(moved.etag, Some(tag));

    // The last page is short; one past it is a 404 that says so.
    let last = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=3"),
        None,
    )
    .await;
    assert_eq!(last.json()["entries"].as_array().unwrap().len(), 50);
    let past = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=4"),
        None,
    )
    .await;
    assert_eq!(past.status, StatusCode::NOT_FOUND);
    assert!(past.json()["error"].as_str().unwrap().contains("page 4"));

    // One member.
    let member = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/members/{}", 1_000 + MEMBERS),
        None,
    )
    .await;
    let json = member.json();
    assert_eq!(
        (json["rank"].as_u64(), json["out_of"].as_u64()),
        (Some(1), Some(MEMBERS))
    );
    assert_eq!(json["xp"], (MEMBERS * 10) as i64);
    assert_eq!(json["name"], Value::Null, "the top member never spoke");
    assert!(member.etag.is_some());
    let named = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/members/{}", 1_000 + 243),
        None,
    )
    .await;
    assert_eq!(named.json()["name"], common::web_name(243));
    let stranger = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/members/999"),
        None,
    )
    .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);

    // A private guild and one Keeper never saw answer alike.
    let private = get(
        &store,
        &format!("/api/v1/guilds/{PRIVATE}/leaderboard"),
        None,
    )
    .await;
    let unknown = get(&store, "/api/v1/guilds/12345/leaderboard", None).await;
    assert_eq!(private.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (private.status, &private.body, &private.etag),
        (unknown.status, &unknown.body, &unknown.etag)
    );
    let private_member = get(
        &store,
        &format!("/api/v1/guilds/{PRIVATE}/members/1001"),
        None,
    )
    .await;
    assert_eq!(
        (private_member.status, &private_member.body),
        (unknown.status, &unknown.body)
    );

    // Made private again: gone at once.
    store
        .update_settings(
            Id::new(PUBLIC),
            &SettingsPatch {
                web_public: Some(false),
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let hidden = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard"),
        None,
    )
    .await;
    assert_eq!(
        (hidden.status, &hidden.body),
        (unknown.status, &unknown.body)
    );
    store
        .update_settings(
            Id::new(PUBLIC),
            &SettingsPatch {
                web_public: Some(true),
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();

    // Whatever the path or query, a 400 or a 404, never a 500.
    for path in [
        "/api/v1/guilds/0/leaderboard".to_owned(),
        "/api/v1/guilds/-1/leaderboard".to_owned(),
        "/api/v1/guilds/abc/leaderboard".to_owned(),
        "/api/v1/guilds/18446744073709551616/leaderboard".to_owned(),
        "/api/v1/guilds/%00/leaderboard".to_owned(),
        "/api/v1/guilds/%FF%FE/leaderboard".to_owned(),
        format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=0"),
        format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=x"),
        format!("/api/v1/guilds/{PUBLIC}/leaderboard?per_page=1000"),
        format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=%FF"),
        format!("/api/v1/guilds/{PUBLIC}/leaderboard?page=99999999999999999999"),
        format!("/api/v1/guilds/{PUBLIC}/members/0"),
        format!("/api/v1/guilds/{PUBLIC}/members/%3Cscript%3E"),
        format!("/api/v1/guilds/{PUBLIC}/members/1/2"),
        "/api/v1/guilds//leaderboard".to_owned(),
        "/api/v2/guilds/1/leaderboard".to_owned(),
    ] {
        refused(&store, &path).await;
    }
    let bad = get(
        &store,
        &format!("/api/v1/guilds/{PUBLIC}/leaderboard?per_page=101"),
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("per_page"));

    store.close().await;
    backend.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_public_guilds_only_on_sqlite() {
    the_api_serves_public_guilds_only(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_public_guilds_only_on_postgres() {
    the_api_serves_public_guilds_only(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_public_guilds_only_on_mysql() {
    the_api_serves_public_guilds_only(Db::MySql).await;
}

/// `path`'s answer, which must be a 400 or a 404 (a 500 never).
async fn refused(store: &Arc<dyn Store>, path: &str) -> Got {
    let got = get(store, path, None).await;
    assert!(
        matches!(got.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
        "{path}: {} {}",
        got.status,
        got.body
    );
    got
}

/// `path`'s answer, which must be `status` and say `words`.
async fn says(store: &Arc<dyn Store>, path: &str, status: StatusCode, words: &str) -> Got {
    let got = get(store, path, None).await;
    assert_eq!(got.status, status, "{path}: {}", got.body);
    assert!(got.body.contains(words), "{path}: {}", got.body);
    got
}

/// The ranks a page shows, in its order.
fn ranks(html: &str) -> Vec<u64> {
    html.split("<span class=\"sr\">Rank </span>#")
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap()
        })
        .collect()
}

async fn the_page_serves_public_guilds_only(db: Db) {
    let (backend, store) = seeded(db).await;
    let path = format!("/leaderboard/{PUBLIC}");

    // Page 1: the top 100, highest XP first, as the API ranks them.
    let first = get(&store, &path, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let html = &first.body;
    assert_eq!(html.matches("<li class=\"row").count(), 100);
    assert_eq!(ranks(html), (1..=100).collect::<Vec<_>>());
    // Members by the names Keeper saw, in the order of XP; one it never saw
    // speak by the end of their id.
    let top = html.find(&format!(">User {}<", 1_000 + MEMBERS)).unwrap();
    let next = html.find(&format!(">Member {}<", MEMBERS - 1)).unwrap();
    assert!(top < next);
    // Hostile names are text: escaped, never markup.
    assert!(
        html.contains(">&lt;script&gt;alert(243)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;<"),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<b>"));
    assert!(html.contains("\u{202e}RTL 247\u{200b} &quot;q&quot; &amp; 'a'"));
    // Avatars from the CDN (even members), the guild's name and icon.
    assert!(html.contains(&format!(
        "src=\"http://127.0.0.1:9/cdn/avatars/1248/{}.png?size=64\"",
        common::web_avatar(248).unwrap()
    )));
    assert!(html.contains("Rust &amp; &lt;Friends&gt;"));
    assert!(html.contains(&format!(
        "http://127.0.0.1:9/cdn/icons/{PUBLIC}/{}.png?size=128",
        common::WEB_GUILD_ICON
    )));
    assert!(html.contains("250 members"));
    assert!(html.contains("page 1 of 3"));
    assert!(html.contains("href=\"?page=2\" rel=\"next\""));
    assert!(html.contains("href=\"?page=3\">Last"));
    assert!(!html.contains("rel=\"prev\""));
    assert!(html.contains("<form class=\"search\" method=\"get\""));

    // The headers: HTML, cached like the API, and locked down.
    let header = |got: &Got, name: header::HeaderName| {
        got.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&first, header::CONTENT_TYPE).as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(first.cache.as_deref(), Some("public, max-age=30"));
    assert_eq!(
        header(&first, header::CONTENT_SECURITY_POLICY).as_deref(),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; img-src http://127.0.0.1:9; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    );
    assert_eq!(
        header(&first, header::X_CONTENT_TYPE_OPTIONS).as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        header(&first, header::REFERRER_POLICY).as_deref(),
        Some("no-referrer")
    );
    let tag = first.etag.clone().expect("an ETag");
    let again = get(&store, &path, Some(&tag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.etag.as_deref(), Some(tag.as_str()));

    // Page 2 starts at rank 101 and links both ways; the API's `per_page`
    // changes nothing here.
    let second = get(&store, &format!("{path}?page=2&per_page=1000"), None).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(ranks(&second.body), (101..=200).collect::<Vec<_>>());
    assert!(second.body.contains("href=\"?page=1\" rel=\"prev\""));
    assert!(second.body.contains("href=\"?page=3\" rel=\"next\""));
    assert_eq!(
        ranks(&get(&store, &format!("{path}?page=3"), None).await.body).len(),
        50
    );

    // Past the last page: a 404 that names the last and links to it.
    let past = says(
        &store,
        &format!("{path}?page=4"),
        StatusCode::NOT_FOUND,
        "There is no page 4: the leaderboard has 3 pages.",
    )
    .await;
    assert!(past.body.contains("href=\"?page=3\""), "{}", past.body);
    assert_eq!(
        header(&past, header::CONTENT_TYPE).as_deref(),
        Some("text/html; charset=utf-8")
    );

    // A search by name, whatever the case: the Anns, best placed first, with
    // their places.
    let anns = get(&store, &format!("{path}?q=aNn"), None).await;
    assert_eq!(anns.status, StatusCode::OK, "{}", anns.body);
    let expected: Vec<u64> = (1..MEMBERS)
        .rev()
        .filter(|i| i % 10 == 0)
        .map(|i| MEMBERS - i + 1)
        .collect();
    assert_eq!(ranks(&anns.body), expected);
    assert!(anns.body.contains(">Ann #240<"));
    // Markup found by its text, and shown as text.
    let scripts = get(&store, &format!("{path}?q=%3Cscript%3E"), None).await;
    assert_eq!(ranks(&scripts.body).len(), 25);
    assert!(!scripts.body.contains("<script"));
    // Nobody: the text is shown back as text.
    let found = get(&store, &format!("{path}?q=%20%3Cscript%3Eann%20"), None).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert!(
        found
            .body
            .contains("No member matches “<bdi>&lt;script&gt;ann</bdi>”.")
    );
    assert!(!found.body.contains("<script"));
    let longest = "x".repeat(100);
    let ok = get(&store, &format!("{path}?q={longest}"), None).await;
    assert_eq!(ok.status, StatusCode::OK);
    says(
        &store,
        &format!("{path}?q={longest}x"),
        StatusCode::BAD_REQUEST,
        "at most 100 characters",
    )
    .await;
    let blank = get(&store, &format!("{path}?q=%20%20"), None).await;
    assert_eq!(ranks(&blank.body).len(), 100);

    // A private guild and an unknown one: the same page, word for word.
    let private = get(&store, &format!("/leaderboard/{PRIVATE}"), None).await;
    let unknown = get(&store, "/leaderboard/12345", None).await;
    assert_eq!(private.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (private.status, &private.body, &private.headers),
        (unknown.status, &unknown.body, &unknown.headers)
    );
    let private_bad = get(&store, &format!("/leaderboard/{PRIVATE}?page=x"), None).await;
    assert_eq!(
        (private_bad.status, &private_bad.body),
        (unknown.status, &unknown.body)
    );

    // Whatever the path or query, a 400 or a 404 page, never a 500.
    for path in [
        "/leaderboard/abc".to_owned(),
        "/leaderboard/0".to_owned(),
        "/leaderboard/-1".to_owned(),
        "/leaderboard/99999999999999999999999".to_owned(),
        "/leaderboard/%00".to_owned(),
        "/leaderboard/%FF%FE".to_owned(),
        "/leaderboard/%3Cscript%3E".to_owned(),
        format!("{path}?page=x"),
        format!("{path}?page=0"),
        format!("{path}?page=-1"),
        format!("{path}?page=%FF"),
        format!("{path}?page=99999999999999999999"),
        format!("{path}?q={}", "%3C".repeat(101)),
        format!("{path}?q={}", "é".repeat(101)),
    ] {
        let got = refused(&store, &path).await;
        assert_eq!(
            header(&got, header::CONTENT_TYPE).as_deref(),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert!(!got.body.contains("<script"), "{path}");
    }
    for path in ["/leaderboard/", "/leaderboard", &format!("{path}/x")] {
        let got = get(&store, path, None).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{path}");
    }
    says(
        &store,
        &format!("{path}?page=x"),
        StatusCode::BAD_REQUEST,
        "page must be a whole number",
    )
    .await;

    // A database that fails: 503, a page that says to come back, no details.
    store.close().await;
    let down = get(&store, &path, None).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(down.body.contains("can't be read right now"));
    assert_eq!(
        header(&down, header::CONTENT_TYPE).as_deref(),
        Some("text/html; charset=utf-8")
    );
    backend.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_serves_public_guilds_only_on_sqlite() {
    the_page_serves_public_guilds_only(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_serves_public_guilds_only_on_postgres() {
    the_page_serves_public_guilds_only(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_serves_public_guilds_only_on_mysql() {
    the_page_serves_public_guilds_only(Db::MySql).await;
}
