//! `KEEPER_HTTP_ADDR`: the HTTP endpoints an orchestrator and Prometheus read.
//!
//! - `GET /healthz`: 200 while the process serves requests at all (a
//!   liveness probe: a restart helps only when this fails).
//! - `GET /readyz`: 200 when every shard of this process has its session and
//!   the database answers within [`DB_DEADLINE`]; otherwise 503 and, one a
//!   line, what is not ready (a readiness probe: send no traffic, do not
//!   restart).
//! - `GET /metrics`: [`Metrics`] in the OpenMetrics text format.
//! - `GET /api/v1/...` and `GET /leaderboard/{guild_id}`: the web
//!   leaderboard's JSON API and its page ([`crate::web`]), for the guilds
//!   that made theirs public.
//!
//! The address is bound before any shard connects, so a port already taken
//! ends the start-up with a clear message instead of a bot nobody can probe.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use keeper_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{error::Fatal, metrics::Metrics, web};

/// How long `/readyz` waits for the database before calling it not ready.
pub const DB_DEADLINE: Duration = Duration::from_secs(2);

/// What the handlers read.
#[derive(Clone)]
struct Probe {
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
}

/// Take the address (before the shards start).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Fatal> {
    TcpListener::bind(addr).await.map_err(|e| {
        Fatal::Config(format!(
            "KEEPER_HTTP_ADDR: cannot listen on {addr} ({e}); choose another port or unset it"
        ))
    })
}

/// Serve until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    web: web::Web,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .with_state(Probe {
            metrics,
            store: Arc::clone(web.store()),
        })
        .merge(web::routes(web));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /healthz, /readyz, /metrics and the web leaderboard");
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(err) = served {
        // The bot goes on: its work does not depend on being probed.
        tracing::error!(error = %err, "the HTTP endpoints stopped");
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(probe): State<Probe>) -> impl IntoResponse {
    let mut not_ready: Vec<String> = probe
        .metrics
        .shards_down()
        .into_iter()
        .map(|id| {
            if id == u32::MAX {
                "no shard started yet".to_owned()
            } else {
                format!("shard {id} not connected")
            }
        })
        .collect();
    match tokio::time::timeout(DB_DEADLINE, probe.store.health_check()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => not_ready.push(format!("database: {err}")),
        Err(_) => not_ready.push(format!(
            "database: no answer within {} s",
            DB_DEADLINE.as_secs()
        )),
    }
    if not_ready.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", not_ready.join("\n")),
        )
    }
}

async fn scrape(State(probe): State<Probe>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        probe.metrics.encode(),
    )
}
