//! Members' avatars for rank cards, from Discord's CDN (`DISCORD_CDN_URL`, so
//! the simulator can serve them), kept in a cache bounded by bytes.
//!
//! A card must not wait on the CDN: a fetch gets [`FETCH_BUDGET`], and when it
//! is slow, fails or the member has no avatar, the card is drawn with the
//! member's initials and sent in time. A failure is remembered for a minute
//! (a CDN that is down is not asked again for every `/rank`); a slow answer is
//! not, and goes on into the cache in the background, so the next card has it.
//! The cache is keyed by the avatar's hash, which changes with the picture,
//! so nothing in it goes stale.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::ConfigBuilderExt as _;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use parking_lot::Mutex;
use twilight_model::id::{Id, marker::UserMarker};

/// Discord's CDN.
pub const DISCORD_CDN: &str = "https://cdn.discordapp.com";
/// How long a card waits for an avatar before drawing initials.
pub const FETCH_BUDGET: Duration = Duration::from_millis(400);
/// How long a fetch may go on in the background after the card gave up.
const FETCH_LIMIT: Duration = Duration::from_secs(5);
/// Avatars kept, in bytes (at 128 px, 5-30 KB each: some hundreds).
pub const CACHE_BYTES: usize = 8 << 20;
/// The largest avatar accepted: a 128 px PNG is far smaller.
const MAX_AVATAR_BYTES: usize = 1 << 20;
/// How long a failed avatar is not asked for again.
const FAILURE_MEMORY: Duration = Duration::from_secs(60);
/// The size asked for: the card draws the avatar at about this size.
const SIZE: u32 = 128;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The avatars of members, fetched once and kept.
#[derive(Clone)]
pub struct Avatars {
    client: HttpsClient,
    base: Arc<str>,
    cache: Arc<Mutex<Cache>>,
}

impl Avatars {
    /// A cache of `capacity` bytes in front of the CDN at `base` (no
    /// trailing slash needed).
    pub fn new(base: &str, capacity: usize) -> Self {
        let tls = rustls::ClientConfig::builder()
            .with_webpki_roots()
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(FETCH_BUDGET));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: base.trim_end_matches('/').into(),
            cache: Arc::new(Mutex::new(Cache::new(capacity))),
        }
    }

    /// The avatar of `user` whose hash is `hash` (as PNG), within
    /// [`FETCH_BUDGET`]; `None` to draw initials instead.
    pub async fn get(&self, user: Id<UserMarker>, hash: &str) -> Option<Bytes> {
        let path = avatar_path(user, hash)?;
        match self.cache.lock().lookup(&path, Instant::now()) {
            Lookup::Hit(bytes) => return Some(bytes),
            Lookup::Failed => return None,
            Lookup::Miss => {}
        }
        let fetch = tokio::spawn({
            let this = self.clone();
            let path = path.clone();
            async move {
                let fetched = tokio::time::timeout(FETCH_LIMIT, this.fetch(&path))
                    .await
                    .unwrap_or(None);
                this.cache
                    .lock()
                    .store(&path, fetched.clone(), Instant::now());
                fetched
            }
        });
        // The fetch goes on (and fills the cache) if the card stops waiting.
        tokio::time::timeout(FETCH_BUDGET, fetch)
            .await
            .ok()?
            .ok()
            .flatten()
    }

    async fn fetch(&self, path: &str) -> Option<Bytes> {
        let uri: hyper::Uri = format!("{}{path}", self.base).parse().ok()?;
        let response = match self.client.get(uri).await {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(error = %e, path, "avatar fetch failed");
                return None;
            }
        };
        if !response.status().is_success() {
            tracing::debug!(status = %response.status(), path, "avatar not served");
            return None;
        }
        let body = Limited::new(response.into_body(), MAX_AVATAR_BYTES);
        body.collect().await.ok().map(|b| b.to_bytes())
    }
}

/// Where the CDN keeps a user's avatar, as PNG at the card's size; `None`
/// for a hash that is not one (it came from a payload: never put in a URL
/// unchecked).
pub fn avatar_path(user: Id<UserMarker>, hash: &str) -> Option<String> {
    is_cdn_hash(hash).then(|| format!("/avatars/{user}/{hash}.png?size={SIZE}"))
}

/// Whether `hash` is a CDN hash as Discord writes them: hex, `a_` before an
/// animated one.
pub fn is_cdn_hash(hash: &str) -> bool {
    let hex = hash.strip_prefix("a_").unwrap_or(hash);
    !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

enum Lookup {
    Hit(Bytes),
    /// Failed lately: don't ask again yet.
    Failed,
    Miss,
}

/// Avatars by path, least recently used first out when over `capacity`
/// bytes; failures remembered for [`FAILURE_MEMORY`].
struct Cache {
    capacity: usize,
    used: usize,
    tick: u64,
    entries: HashMap<String, (Bytes, u64)>,
    /// Entries by last use.
    order: BTreeMap<u64, String>,
    failed: HashMap<String, Instant>,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            failed: HashMap::new(),
        }
    }

    fn lookup(&mut self, path: &str, now: Instant) -> Lookup {
        self.tick += 1;
        if let Some((bytes, used)) = self.entries.get_mut(path) {
            self.order.remove(used);
            *used = self.tick;
            self.order.insert(self.tick, path.to_owned());
            return Lookup::Hit(bytes.clone());
        }
        match self.failed.get(path) {
            Some(at) if now.duration_since(*at) < FAILURE_MEMORY => Lookup::Failed,
            _ => Lookup::Miss,
        }
    }

    fn store(&mut self, path: &str, fetched: Option<Bytes>, now: Instant) {
        let Some(bytes) = fetched else {
            // Bounded as the avatars are: forget the oldest failures first.
            self.failed
                .retain(|_, at| now.duration_since(*at) < FAILURE_MEMORY);
            if self.failed.len() < 10_000 {
                self.failed.insert(path.to_owned(), now);
            }
            return;
        };
        self.failed.remove(path);
        if bytes.len() > self.capacity || self.entries.contains_key(path) {
            return;
        }
        self.tick += 1;
        self.used += bytes.len();
        self.entries.insert(path.to_owned(), (bytes, self.tick));
        self.order.insert(self.tick, path.to_owned());
        while self.used > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((bytes, _)) = self.entries.remove(&oldest) {
                self.used -= bytes.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Option<Bytes> {
        Some(Bytes::from(vec![0; n]))
    }

    #[test]
    fn only_hashes_make_paths() {
        let user = Id::new(42);
        assert_eq!(
            avatar_path(user, "0123abcdef0123abcdef0123abcdef01").as_deref(),
            Some("/avatars/42/0123abcdef0123abcdef0123abcdef01.png?size=128")
        );
        assert!(avatar_path(user, "a_0123abcd").is_some(), "animated");
        for bad in [
            "",
            "a_",
            "../../x",
            "abc?size=4096",
            "abc/def",
            &"a".repeat(65),
        ] {
            assert_eq!(avatar_path(user, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_cache_keeps_the_recently_used_within_its_bytes() {
        let now = Instant::now();
        let mut cache = Cache::new(100);
        cache.store("a", bytes(40), now);
        cache.store("b", bytes(40), now);
        // `a` used since `b`: `b` goes first.
        assert!(matches!(cache.lookup("a", now), Lookup::Hit(_)));
        cache.store("c", bytes(40), now);
        assert!(matches!(cache.lookup("b", now), Lookup::Miss));
        assert!(matches!(cache.lookup("a", now), Lookup::Hit(_)));
        assert!(matches!(cache.lookup("c", now), Lookup::Hit(_)));
        assert_eq!(cache.used, 80);
        // Larger than the whole cache: not kept, nothing evicted for it.
        cache.store("huge", bytes(101), now);
        assert!(matches!(cache.lookup("huge", now), Lookup::Miss));
        assert_eq!(cache.used, 80);
    }

    #[test]
    fn failures_are_remembered_for_a_while() {
        let now = Instant::now();
        let mut cache = Cache::new(100);
        cache.store("gone", None, now);
        assert!(matches!(cache.lookup("gone", now), Lookup::Failed));
        let later = now + FAILURE_MEMORY + Duration::from_secs(1);
        assert!(matches!(cache.lookup("gone", later), Lookup::Miss));
        cache.store("gone", bytes(10), later);
        assert!(matches!(cache.lookup("gone", later), Lookup::Hit(_)));
    }
}
