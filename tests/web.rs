//! The web leaderboard's JSON API on both backends: pages and members as the
//! store ranks them, private guilds indistinguishable from unknown ones, bad
//! paths and queries refused with 400 or 404 (never a 500), and ETags.

mod common;

use std::sync::Arc;

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use keeper_store::{SettingsPatch, Store, XpAward};
use serde_json::Value;
use tower::ServiceExt as _;
use twilight_model::id::Id;

const PUBLIC: u64 = 10;
const PRIVATE: u64 = 11;
const MEMBERS: u64 = 250;

/// A store with [`MEMBERS`] members in a public guild (member `i` has `i * 10`
/// XP) and one member in a private one.
async fn seeded(postgres: bool) -> (common::Backend, Arc<dyn Store>) {
    let (backend, url) = common::Backend::create(postgres).await;
    let store = common::open_store(&url).await;
    let at = chrono::Utc::now();
    let awards: Vec<XpAward> = (1..=MEMBERS)
        .map(|i| XpAward {
            guild_id: Id::new(PUBLIC),
            user_id: Id::new(1_000 + i),
            xp: (i * 10) as i64,
            messages: 1,
            at,
        })
        .chain([XpAward {
            guild_id: Id::new(PRIVATE),
            user_id: Id::new(1_001),
            xp: 500,
            messages: 1,
            at,
        }])
        .collect();
    store.award_xp(&awards, &[]).await.unwrap();
    let public = SettingsPatch {
        web_public: Some(true),
        ..Default::default()
    };
    store
        .update_settings(Id::new(PUBLIC), &public, at)
        .await
        .unwrap();
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
    let response = keeper::web::routes(Arc::clone(store))
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
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Got {
        status,
        etag,
        cache,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn the_api_serves_public_guilds_only(postgres: bool) {
    let (backend, store) = seeded(postgres).await;

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
    assert!(member.etag.is_some());
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
        let got = get(&store, &path, None).await;
        assert!(
            matches!(got.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "{path}: {} {}",
            got.status,
            got.body
        );
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
    the_api_serves_public_guilds_only(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_public_guilds_only_on_postgres() {
    the_api_serves_public_guilds_only(true).await;
}
