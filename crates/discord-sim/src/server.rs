//! The HTTP server: gateway WebSocket and REST on one port, and the
//! listener's life (start, stop, restart on the same port).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::core::RESUME_PATH;
use crate::{gateway, rest};

/// Re-exported from [`crate::core`], where it moved, so `server::Core` keeps working.
pub use crate::core::Core;

/// A running simulator. Dropping it stops the server.
pub struct SimServer {
    core: Arc<Core>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SimServer {
    /// Bind `127.0.0.1:0` and serve the gateway (`/`, and `/resume` for
    /// READY's `resume_gateway_url`) and REST (`/api/v10`).
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::start_on(config, 0).await
    }

    /// Like [`start`](Self::start) on a chosen port (0 = any).
    pub async fn start_on(config: SimConfig, port: u16) -> std::io::Result<Self> {
        let server = Self {
            core: Arc::new(Core::new(config, port)),
            task: Mutex::new(None),
        };
        server.listen(port).await?;
        Ok(server)
    }

    async fn listen(&self, port: u16) -> std::io::Result<()> {
        // Rebinding the port right after a stop can briefly fail; retry.
        let mut attempt = 0;
        let listener = loop {
            match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
                Ok(l) => break l,
                Err(e) if attempt < 50 && port != 0 => {
                    attempt += 1;
                    tracing::debug!(%e, "rebinding port");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let port = listener.local_addr()?.port();
        self.core.port.store(port, Ordering::Relaxed);
        let app = router(self.core.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(%e, "server stopped");
            }
        });
        *self.task.lock() = Some(task);
        Ok(())
    }

    /// The shared state.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn port(&self) -> u16 {
        self.core.port.load(Ordering::Relaxed)
    }

    /// `127.0.0.1:PORT`, for twilight-http's `proxy(.., true)`.
    pub fn http_addr(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// `ws://127.0.0.1:PORT`, for twilight-gateway's `proxy_url`.
    pub fn gateway_url(&self) -> String {
        self.core.gateway_url()
    }

    /// `ws://127.0.0.1:PORT/resume`, READY's `resume_gateway_url`.
    pub fn resume_url(&self) -> String {
        self.core.resume_url()
    }

    /// Stop listening and drop every gateway connection without a close
    /// frame, as a crashed server would. State and sessions are kept.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
        self.core.epoch.send_modify(|v| *v += 1);
    }

    /// Stop, then listen again on the same port with the same state, so
    /// clients can reconnect and RESUME.
    pub async fn restart(&self) -> std::io::Result<()> {
        self.stop();
        // Let aborted tasks release the socket.
        tokio::task::yield_now().await;
        self.listen(self.port()).await
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/", get(gateway::handler))
        // READY's resume_gateway_url; clients append `/?v=10...` to it.
        .route(RESUME_PATH, get(gateway::resume_handler))
        .route(&format!("{RESUME_PATH}/"), get(gateway::resume_handler))
        .nest("/api/v10", rest::router(core.clone()))
        // Discord's CDN (cdn.discordapp.com), on the same port.
        .route("/avatars/{user_id}/{file}", get(rest::cdn::avatar))
        .fallback(rest::not_found)
        .with_state(core)
}
