//! What an operator's Prometheus scrapes from `/metrics` (served by `http.rs`),
//! and the shard states `/readyz` answers from.
//!
//! Everything is kept by `prometheus-client`, the Prometheus project's own
//! crate, and encoded by it in the OpenMetrics text format (which Prometheus
//! reads); nothing here formats text by hand. Recording is a few atomic adds,
//! cheap enough for every gateway event. Names are `keeper_*`; what each counts
//! is its help text, and `docs/SCALING.md` lists them.

use std::{fmt, sync::atomic::AtomicU64, time::Duration};

use keeper_store::StoreError;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    command: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    operation: &'static str,
    /// [`failure_kind`]'s, or abandoned: the caller stopped waiting (a
    /// deadline such as `/readyz`'s 2 s) before the database answered.
    kind: &'static str,
}

/// A store error's kind, as `keeper_database_errors_total` labels it: what the
/// operator can do differs (unavailable: the database; invalid: nothing, a
/// person asked for something refused; the others: a bug or the setup).
pub fn failure_kind(err: &StoreError) -> &'static str {
    match err {
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Invalid(_) => "invalid",
        StoreError::SchemaTooNew { .. } => "schema",
        StoreError::Config(_) => "config",
        StoreError::Internal(_) => "internal",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    shard: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    shard: u32,
    how: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RestLabels {
    route: &'static str,
    status: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latencies from 0.1 ms to about 6.5 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 17))
}

/// Batch sizes from 1 to about 65,000 members.
fn sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 4.0, 9))
}

/// How a command ended, for `keeper_commands_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with what was asked.
    Done,
    /// Refused with a reason for the person (bad input, a permission missing).
    Refused,
    /// Failed inside Keeper or at Discord (the person was told it failed).
    Failed,
    /// Not run: delivered after Discord's answer window.
    Late,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Late => "late",
        }
    }
}

/// What became of a `/rank` card, for `keeper_rank_cards_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardOutcome {
    /// Drawn and sent.
    Drawn,
    /// Not drawn: too many cards waited to be drawn; the facts went as text.
    Busy,
    /// The drawing failed (logged); the facts went as text.
    Failed,
}

impl CardOutcome {
    fn label(self) -> &'static str {
        match self {
            CardOutcome::Drawn => "drawn",
            CardOutcome::Busy => "busy",
            CardOutcome::Failed => "failed",
        }
    }
}

/// A shard's connection, as `/readyz` and `keeper_shard_up` see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardUp {
    /// Identified or resumed: events flow.
    Connected,
    /// Connecting, reconnecting or closed.
    Down,
}

/// Every metric Keeper keeps, registered once.
pub struct Metrics {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    commands: Family<CommandLabels, Counter>,
    command_seconds: Histograms<NameLabels>,
    database_seconds: Histograms<OperationLabels>,
    database_errors: Family<FailureLabels, Counter>,
    flush_seconds: Histogram,
    flush_members: Histogram,
    flush_failures: Counter,
    awards_waiting: Gauge,
    shard_up: Family<ShardLabels, Gauge>,
    sessions: Family<SessionLabels, Counter>,
    disconnects: Family<ShardLabels, Counter>,
    rest: Family<RestLabels, Counter>,
    rate_limit_wait: Counter<f64, AtomicU64>,
    rank_cards: Family<OutcomeLabels, Counter>,
    /// This process's shards, for `/readyz`.
    shards: std::sync::Mutex<Vec<u32>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("keeper");
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "gateway_events",
            "Gateway events received, by type",
            events.clone(),
        );
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Commands run (slash, text and buttons), by name and outcome: done, refused (the person was told why), failed, late (past Discord's answer window)",
            commands.clone(),
        );
        let command_seconds: Histograms<NameLabels> = Family::new_with_constructor(latency);
        registry.register(
            "command_duration_seconds",
            "Time from reading a command to its answer being ready, by name",
            command_seconds.clone(),
        );
        let database_seconds: Histograms<OperationLabels> = Family::new_with_constructor(latency);
        registry.register(
            "database_duration_seconds",
            "Store operations, by operation (the store method: member_rank, award_xp, add_warning...), failed ones included",
            database_seconds.clone(),
        );
        let database_errors = Family::<FailureLabels, Counter>::default();
        registry.register(
            "database_errors",
            "Store operations that failed, by operation and kind: unavailable, invalid, schema, config, internal, abandoned (the caller stopped waiting)",
            database_errors.clone(),
        );
        let flush_seconds = latency();
        registry.register(
            "xp_flush_duration_seconds",
            "XP flushes: the write of the buffered awards and checkpoints",
            flush_seconds.clone(),
        );
        let flush_members = sizes();
        registry.register(
            "xp_flush_members",
            "Members whose XP one flush wrote",
            flush_members.clone(),
        );
        let flush_failures = Counter::default();
        registry.register(
            "xp_flush_failures",
            "XP flushes that failed (their awards are held and written again)",
            flush_failures.clone(),
        );
        let awards_waiting = Gauge::default();
        registry.register(
            "xp_awards_waiting",
            "Members with XP in the buffer, not yet written, after the last flush",
            awards_waiting.clone(),
        );
        let shard_up = Family::<ShardLabels, Gauge>::default();
        registry.register(
            "shard_up",
            "1 while the shard's session is identified or resumed, 0 while it connects or is closed",
            shard_up.clone(),
        );
        let sessions = Family::<SessionLabels, Counter>::default();
        registry.register(
            "shard_sessions",
            "Sessions started, by shard and how: identify (a new session) or resume",
            sessions.clone(),
        );
        let disconnects = Family::<ShardLabels, Counter>::default();
        registry.register(
            "shard_disconnects",
            "Gateway connections closed by Discord or lost, by shard (the shard reconnects)",
            disconnects.clone(),
        );
        let rest = Family::<RestLabels, Counter>::default();
        registry.register(
            "rest_requests",
            "REST requests Keeper made, by route and HTTP status (\"error\" when no answer came)",
            rest.clone(),
        );
        let rate_limit_wait = Counter::<f64, AtomicU64>::default();
        registry.register(
            "rate_limit_wait_seconds",
            "Time Keeper's senders waited for a channel's rate limit to reset before posting again",
            rate_limit_wait.clone(),
        );
        let rank_cards = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "rank_cards",
            "Rank cards, by outcome: drawn, busy (too many waited to be drawn; the facts went as text) or failed",
            rank_cards.clone(),
        );
        Self {
            registry,
            events,
            commands,
            command_seconds,
            database_seconds,
            database_errors,
            flush_seconds,
            flush_members,
            flush_failures,
            awards_waiting,
            shard_up,
            sessions,
            disconnects,
            rest,
            rate_limit_wait,
            rank_cards,
            shards: std::sync::Mutex::default(),
        }
    }

    /// The text of a scrape.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// One gateway event (no allocation: every label is static).
    pub fn event(&self, name: &'static str) {
        self.events
            .get_or_create(&EventLabels { event: name })
            .inc();
    }

    pub fn command(&self, name: &'static str, outcome: Outcome, took: Option<Duration>) {
        self.commands
            .get_or_create(&CommandLabels {
                command: name,
                outcome: outcome.label(),
            })
            .inc();
        if let Some(took) = took {
            self.command_seconds
                .get_or_create(&NameLabels { command: name })
                .observe(took.as_secs_f64());
        }
    }

    /// One store operation: how long it took, and how it failed if it did
    /// (`kind` from [`failure_kind`], or `abandoned`).
    pub fn database(&self, operation: &'static str, took: Duration, failed: Option<&'static str>) {
        self.database_seconds
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
        if let Some(kind) = failed {
            self.database_errors
                .get_or_create(&FailureLabels { operation, kind })
                .inc();
        }
    }

    /// One flush: how long, how many members, whether it failed, and how many
    /// members wait after it.
    pub fn flush(&self, took: Duration, members: usize, failed: bool, waiting: usize) {
        self.flush_seconds.observe(took.as_secs_f64());
        if members > 0 {
            self.flush_members.observe(members as f64);
        }
        if failed {
            self.flush_failures.inc();
        }
        self.awards_waiting
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// The shards this process runs, all down until they connect.
    pub fn expect_shards(&self, ids: impl IntoIterator<Item = u32>) {
        let mut shards = self.shards.lock().expect("metrics lock");
        for id in ids {
            shards.push(id);
            self.shard(id, ShardUp::Down);
        }
    }

    pub fn shard(&self, id: u32, up: ShardUp) {
        self.shard_up
            .get_or_create(&ShardLabels { shard: id })
            .set(i64::from(up == ShardUp::Connected));
    }

    /// A session started on shard `id`: `resumed` or identified anew.
    pub fn session(&self, id: u32, resumed: bool) {
        self.sessions
            .get_or_create(&SessionLabels {
                shard: id,
                how: if resumed { "resume" } else { "identify" },
            })
            .inc();
        self.shard(id, ShardUp::Connected);
    }

    pub fn disconnected(&self, id: u32) {
        self.disconnects
            .get_or_create(&ShardLabels { shard: id })
            .inc();
        self.shard(id, ShardUp::Down);
    }

    /// The shards of this process not connected (empty: all are).
    pub fn shards_down(&self) -> Vec<u32> {
        let shards = self.shards.lock().expect("metrics lock");
        let mut down: Vec<u32> = shards
            .iter()
            .copied()
            .filter(|&id| {
                self.shard_up
                    .get_or_create(&ShardLabels { shard: id })
                    .get()
                    != 1
            })
            .collect();
        if shards.is_empty() {
            // Not started yet: no shard is running, so none is ready.
            down.push(u32::MAX);
        }
        down
    }

    /// A REST request to `route` and what came of it: the HTTP status, or
    /// `error` when none came (a timeout, a connection refused).
    pub fn rest(&self, route: &'static str, status: Option<u16>) {
        self.rest
            .get_or_create(&RestLabels {
                route,
                status: status.map_or_else(|| "error".to_owned(), |s| s.to_string()),
            })
            .inc();
    }
}

impl Metrics {
    /// What became of a rank card.
    pub fn rank_card(&self, outcome: CardOutcome) {
        self.rank_cards
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
    }

    /// A sender waited `wait` for a rate limit.
    pub fn rate_limited(&self, wait: Duration) {
        self.rate_limit_wait.inc_by(wait.as_secs_f64());
    }
}

/// The HTTP status of a twilight request's result, for [`Metrics::rest`].
pub fn status_of<T>(
    result: &Result<twilight_http::Response<T>, twilight_http::Error>,
) -> Option<u16> {
    match result {
        Ok(response) => Some(response.status().get()),
        Err(err) => match err.kind() {
            twilight_http::error::ErrorType::Response { status, .. } => Some(status.get()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn readiness_follows_every_shard() {
        let metrics = Metrics::new();
        assert!(!metrics.shards_down().is_empty(), "no shard started yet");
        metrics.expect_shards([2, 3]);
        assert_eq!(metrics.shards_down(), vec![2, 3]);
        metrics.session(2, false);
        assert_eq!(metrics.shards_down(), vec![3]);
        metrics.session(3, true);
        assert!(metrics.shards_down().is_empty());
        metrics.disconnected(2);
        assert_eq!(metrics.shards_down(), vec![2]);
        let text = metrics.encode();
        assert_eq!(
            sample(
                &text,
                r#"keeper_shard_sessions_total{shard="3",how="resume"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, r#"keeper_shard_disconnects_total{shard="2"}"#),
            Some(1.0)
        );
        assert_eq!(sample(&text, r#"keeper_shard_up{shard="2"}"#), Some(0.0));
    }
}
