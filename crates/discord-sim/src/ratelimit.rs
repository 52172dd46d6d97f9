//! Discord's REST rate limits: per-route buckets, the global limit, and the
//! count of invalid requests.
//!
//! As Discord documents them: each route belongs to a bucket (several routes
//! may share one, and then share its `X-RateLimit-Bucket` hash), counted
//! separately per top-level resource in the path (`channel_id`, `guild_id`,
//! `webhook_id` + token; interaction callbacks per interaction). A bucket
//! allows `limit` requests per window, the window starting at its first
//! request. Every request but interaction callbacks and webhooks also counts
//! against the global limit (50 a second). Discord does not say when its
//! second starts, so the simulator takes the strictest reading: no more than
//! 50 in *any* second (a sliding window). A client that keeps to that keeps to
//! every other reading; one that sends 50 at the start of each of its own
//! seconds does not, as those need not be Discord's. A request over either
//! limit is answered 429 and not served; it does not use up the bucket.
//!
//! Responses carry `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds),
//! `-Reset-After` (seconds) and `-Bucket`; `X-RateLimit-Scope` (`user` or
//! `global`) and `X-RateLimit-Global` come only with a 429, as Discord's docs
//! say. Invalid requests (401, 403, and 429 except `shared` ones) are counted,
//! as Discord counts them toward its 10,000 per 10 minutes ban.
//!
//! Plain data and arithmetic on an [`Instant`] the caller passes, so the rules
//! are unit-tested without a server.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// One route's limit: requests with `method` on `route` (an axum route as in
/// `rest::ROUTES`, under `/api/v10`) share the bucket called `bucket`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteLimit {
    pub method: &'static str,
    pub route: &'static str,
    /// Routes naming the same bucket share it (and its hash).
    pub bucket: &'static str,
    pub limit: u32,
    pub per: Duration,
}

/// The limits a simulator enforces. [`Default`] is Discord-like; tests may
/// set small ones (see [`RateLimits::route`]) to exercise them.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Requests per second in all, interactions and webhooks excepted;
    /// `None` turns the global limit off.
    pub global_per_second: Option<u32>,
    /// Routes with their own limits; first match wins.
    pub routes: Vec<RouteLimit>,
    /// The limit of every other route, each its own bucket; `None`: unlimited.
    pub default: Option<(u32, Duration)>,
}

impl Default for RateLimits {
    /// Close to what Discord answers today (its docs say not to hard-code
    /// them, and neither should a bot tested here): 5 messages per 5 s per
    /// channel, member role changes sharing 10 per 10 s per guild, 50 per
    /// second for the rest, 50 per second in all.
    fn default() -> Self {
        let s = Duration::from_secs;
        let route = |method, route, bucket, limit, per| RouteLimit {
            method,
            route,
            bucket,
            limit,
            per,
        };
        Self {
            global_per_second: Some(50),
            routes: vec![
                route(
                    "POST",
                    "/channels/{channel_id}/messages",
                    "message-create",
                    5,
                    s(5),
                ),
                route(
                    "PATCH",
                    "/channels/{channel_id}/messages/{message_id}",
                    "message-edit",
                    5,
                    s(5),
                ),
                route(
                    "DELETE",
                    "/channels/{channel_id}/messages/{message_id}",
                    "message-delete",
                    5,
                    s(1),
                ),
                // Adding and removing a member's role share one bucket, as on
                // Discord: the same X-RateLimit-Bucket for both routes.
                route(
                    "PUT",
                    "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
                    "member-role",
                    10,
                    s(10),
                ),
                route(
                    "DELETE",
                    "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
                    "member-role",
                    10,
                    s(10),
                ),
                route(
                    "PATCH",
                    "/guilds/{guild_id}/members/{user_id}",
                    "member-edit",
                    10,
                    s(10),
                ),
            ],
            default: Some((50, s(1))),
        }
    }
}

impl RateLimits {
    /// No limits at all (the simulator before it had them).
    pub fn off() -> Self {
        Self {
            global_per_second: None,
            routes: Vec::new(),
            default: None,
        }
    }

    /// These limits with `method route` limited to `limit` per `per` in its
    /// own bucket (replacing what it had).
    pub fn route(
        mut self,
        method: &'static str,
        route: &'static str,
        limit: u32,
        per: Duration,
    ) -> Self {
        self.routes
            .retain(|r| !(r.method == method && r.route == route));
        self.routes.insert(
            0,
            RouteLimit {
                method,
                route,
                bucket: route,
                limit,
                per,
            },
        );
        self
    }

    /// The bucket name and limit of `method route`, if it is limited.
    fn limit_of(&self, method: &str, route: &str) -> Option<(String, u32, Duration)> {
        if let Some(r) = self
            .routes
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method) && r.route == route)
        {
            return Some((r.bucket.to_owned(), r.limit, r.per));
        }
        self.default
            .map(|(limit, per)| (format!("{method} {route}"), limit, per))
    }
}

/// Whether a request counts against the global limit: Discord exempts
/// interaction callbacks and webhooks (interaction follow-ups) from it.
pub fn is_global(route: &str) -> bool {
    !(route.starts_with("/interactions/") || route.starts_with("/webhooks/"))
}

/// The top-level resource of `path` that `route` names (the values of
/// `{channel_id}`, `{guild_id}`, `{webhook_id}` with `{webhook_token}`, or
/// `{interaction_id}`), which a bucket is counted per.
pub fn major_parameter(route: &str, path: &str) -> String {
    const MAJOR: [&str; 5] = [
        "{channel_id}",
        "{guild_id}",
        "{webhook_id}",
        "{webhook_token}",
        "{interaction_id}",
    ];
    route
        .split('/')
        .zip(path.split('/'))
        .filter(|(r, _)| MAJOR.contains(r))
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join("/")
}

/// The `X-RateLimit-Bucket` hash of a bucket name: opaque and stable, the
/// same for every route sharing the bucket (and not naming the major
/// parameter, as on Discord).
pub fn bucket_hash(bucket: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bucket.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A bucket's state as its headers tell it.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketState {
    pub hash: String,
    pub limit: u32,
    pub remaining: u32,
    /// Until the window resets.
    pub reset_after: Duration,
}

/// What the limiter decided for one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Serve it; `bucket` (when the route is limited) gives the headers.
    Allow { bucket: Option<BucketState> },
    /// 429: over the route's bucket.
    Bucket { bucket: BucketState },
    /// 429: over the global limit, for `retry_after`.
    Global { retry_after: Duration },
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started: Instant,
    used: u32,
}

impl Window {
    /// The window at `now`: a fresh one once `per` has passed.
    fn current(slot: &mut Option<Window>, now: Instant, per: Duration) -> &mut Window {
        let stale = slot.is_none_or(|w| now >= w.started + per);
        if stale {
            *slot = Some(Window {
                started: now,
                used: 0,
            });
        }
        slot.as_mut().expect("just set")
    }
}

/// The running state: the limits, every bucket's window, the global window,
/// and the invalid requests seen.
#[derive(Debug, Default)]
pub struct Limiter {
    pub limits: RateLimits,
    buckets: HashMap<(String, String), Option<Window>>,
    /// When the global requests of the last second were allowed, oldest first.
    global: VecDeque<Instant>,
    /// 401, 403 and 429 answers so far.
    pub invalid: u64,
    /// The same, by method, matched route, status and a 429's scope (`user`,
    /// `global`; empty for the others): which requests earn them is what a
    /// bot's author needs to know.
    pub invalid_by_route: BTreeMap<(String, String, u16, String), u64>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// New limits; the windows already open start afresh, the count of
    /// invalid requests stays.
    pub fn set_limits(&mut self, limits: RateLimits) {
        *self = Self {
            invalid: self.invalid,
            invalid_by_route: std::mem::take(&mut self.invalid_by_route),
            ..Self::new(limits)
        };
    }

    /// Decide `method route` (matched route) on `path` at `now`, counting it
    /// when allowed.
    pub fn check(&mut self, method: &str, route: &str, path: &str, now: Instant) -> Decision {
        let limits = &self.limits;
        let bucket = limits.limit_of(method, route);
        // Look before counting: a request refused by one limit uses neither.
        if let Some(per_second) = limits.global_per_second.filter(|_| is_global(route)) {
            let second = Duration::from_secs(1);
            while self.global.front().is_some_and(|t| now >= *t + second) {
                self.global.pop_front();
            }
            if self.global.len() >= per_second as usize {
                // Room again when the oldest of the last second leaves it.
                let retry_after = (self.global[0] + second).saturating_duration_since(now);
                return Decision::Global { retry_after };
            }
        }
        let state = match &bucket {
            Some((name, limit, per)) => {
                let key = (name.clone(), major_parameter(route, path));
                let slot = self.buckets.entry(key).or_default();
                let w = Window::current(slot, now, *per);
                let reset_after = (w.started + *per).saturating_duration_since(now);
                let state = |used: u32| BucketState {
                    hash: bucket_hash(name),
                    limit: *limit,
                    remaining: limit.saturating_sub(used),
                    reset_after,
                };
                if w.used >= *limit {
                    return Decision::Bucket {
                        bucket: state(w.used),
                    };
                }
                w.used += 1;
                Some(state(w.used))
            }
            None => None,
        };
        if self.limits.global_per_second.is_some() && is_global(route) {
            self.global.push_back(now);
        }
        Decision::Allow { bucket: state }
    }

    /// Count an answer to `method route` toward the invalid requests if it is
    /// one.
    pub fn answered(&mut self, method: &str, route: &str, status: u16, scope: Option<&str>) {
        let invalid = match status {
            401 | 403 => true,
            429 => scope != Some("shared"),
            _ => false,
        };
        if invalid {
            self.invalid += 1;
            *self
                .invalid_by_route
                .entry((
                    method.to_owned(),
                    route.to_owned(),
                    status,
                    scope.unwrap_or_default().to_owned(),
                ))
                .or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "/channels/{channel_id}/messages";
    const ADD: &str = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}";

    fn allowed(d: &Decision) -> Option<&BucketState> {
        match d {
            Decision::Allow { bucket } => bucket.as_ref(),
            other => panic!("refused: {other:?}"),
        }
    }

    #[test]
    fn a_bucket_counts_down_refuses_then_resets() {
        let mut l = Limiter::new(RateLimits::default());
        let t0 = Instant::now();
        for remaining in (0..5).rev() {
            let d = l.check("POST", POST, "/channels/1/messages", t0);
            let b = allowed(&d).expect("limited route");
            assert_eq!((b.limit, b.remaining), (5, remaining));
            assert_eq!(b.reset_after, Duration::from_secs(5));
        }
        let later = t0 + Duration::from_secs(2);
        match l.check("POST", POST, "/channels/1/messages", later) {
            Decision::Bucket { bucket } => {
                assert_eq!(bucket.remaining, 0);
                assert_eq!(bucket.reset_after, Duration::from_secs(3));
            }
            other => panic!("{other:?}"),
        }
        // Another channel is another bucket.
        let d = l.check("POST", POST, "/channels/2/messages", later);
        assert_eq!(allowed(&d).map(|b| b.remaining), Some(4));
        // After the window, the first channel may post again.
        let reset = t0 + Duration::from_secs(5);
        let d = l.check("POST", POST, "/channels/1/messages", reset);
        assert_eq!(allowed(&d).map(|b| b.remaining), Some(4));
    }

    #[test]
    fn shared_buckets_share_their_count_and_hash() {
        let mut l = Limiter::new(RateLimits::default());
        let now = Instant::now();
        let add = l.check("PUT", ADD, "/guilds/1/members/2/roles/3", now);
        let remove = l.check("DELETE", ADD, "/guilds/1/members/4/roles/5", now);
        let (add, remove) = (
            allowed(&add).unwrap().clone(),
            allowed(&remove).unwrap().clone(),
        );
        assert_eq!(add.hash, remove.hash);
        assert_eq!((add.remaining, remove.remaining), (9, 8));
        // The hash does not name the guild; the count is per guild.
        let other = l.check("PUT", ADD, "/guilds/9/members/2/roles/3", now);
        let other = allowed(&other).unwrap();
        assert_eq!(
            (other.hash.as_str(), other.remaining),
            (add.hash.as_str(), 9)
        );
        let post = l.check("POST", POST, "/channels/1/messages", now);
        assert_ne!(allowed(&post).unwrap().hash, add.hash);
    }

    #[test]
    fn the_global_limit_spares_interactions_and_refusals_use_nothing() {
        let mut l = Limiter::new(RateLimits {
            global_per_second: Some(3),
            ..RateLimits::default()
        });
        let t0 = Instant::now();
        for i in 0..3 {
            let path = format!("/channels/{i}/messages");
            allowed(&l.check("POST", POST, &path, t0));
        }
        let half = t0 + Duration::from_millis(400);
        match l.check("POST", POST, "/channels/9/messages", half) {
            Decision::Global { retry_after } => {
                assert_eq!(retry_after, Duration::from_millis(600));
            }
            other => panic!("{other:?}"),
        }
        // The refused request did not use channel 9's bucket.
        let callback = "/interactions/{interaction_id}/{interaction_token}/callback";
        allowed(&l.check("POST", callback, "/interactions/5/tok/callback", half));
        let next = t0 + Duration::from_secs(1);
        let d = l.check("POST", POST, "/channels/9/messages", next);
        assert_eq!(allowed(&d).map(|b| b.remaining), Some(4));
    }

    /// Any second holds at most the limit: a burst at the start of the
    /// client's next second is refused while the end of its last one is still
    /// inside Discord's.
    #[test]
    fn the_global_limit_holds_over_any_second() {
        let mut l = Limiter::new(RateLimits {
            global_per_second: Some(3),
            ..RateLimits::default()
        });
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        allowed(&l.check("POST", POST, "/channels/1/messages", at(0)));
        allowed(&l.check("POST", POST, "/channels/2/messages", at(900)));
        allowed(&l.check("POST", POST, "/channels/3/messages", at(900)));
        // t0's request has left the last second; the two at 900 ms have not.
        allowed(&l.check("POST", POST, "/channels/4/messages", at(1_000)));
        match l.check("POST", POST, "/channels/5/messages", at(1_050)) {
            Decision::Global { retry_after } => {
                assert_eq!(retry_after, Duration::from_millis(850));
            }
            other => panic!("{other:?}"),
        }
        allowed(&l.check("POST", POST, "/channels/5/messages", at(1_900)));
    }

    #[test]
    fn major_parameters_are_the_top_level_resources() {
        assert_eq!(major_parameter(POST, "/channels/12/messages"), "12");
        assert_eq!(
            major_parameter(
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                "/webhooks/1/abc/messages/7"
            ),
            "1/abc"
        );
        assert_eq!(major_parameter("/users/@me", "/users/@me"), "");
    }

    #[test]
    fn invalid_requests_are_401_403_and_unshared_429() {
        let mut l = Limiter::default();
        for (status, scope) in [
            (200, None),
            (404, None),
            (401, None),
            (403, None),
            (429, Some("user")),
            (429, Some("global")),
            (429, Some("shared")),
        ] {
            l.answered("POST", POST, status, scope);
        }
        l.answered("PUT", ADD, 403, None);
        assert_eq!(l.invalid, 5);
        let key =
            |m: &str, r: &str, s, scope: &str| (m.to_owned(), r.to_owned(), s, scope.to_owned());
        assert_eq!(
            l.invalid_by_route,
            BTreeMap::from([
                (key("POST", POST, 401, ""), 1),
                (key("POST", POST, 403, ""), 1),
                (key("POST", POST, 429, "global"), 1),
                (key("POST", POST, 429, "user"), 1),
                (key("PUT", ADD, 403, ""), 1),
            ])
        );
    }

    #[test]
    fn the_defaults_are_discords() {
        let d = RateLimits::default();
        assert_eq!(d.global_per_second, Some(50));
        assert_eq!(
            d.limit_of("POST", POST),
            Some(("message-create".to_owned(), 5, Duration::from_secs(5)))
        );
    }

    #[test]
    fn off_limits_nothing() {
        let mut l = Limiter::new(RateLimits::off());
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(
                l.check("POST", POST, "/channels/1/messages", now),
                Decision::Allow { bucket: None }
            );
        }
    }
}
