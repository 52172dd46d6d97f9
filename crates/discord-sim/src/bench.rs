//! The delivery benchmark: MESSAGE_CREATE events pushed through the real
//! gateway path (state change, intent gating, serialization, session log,
//! compression, WebSocket write) to a client that only reads frames.
//!
//! Run it with `cargo run --release -p discord-sim -- bench`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::compression::Mode;
use crate::config::{SimConfig, intents};
use crate::scenario::Sim;

/// How far the producer may run ahead of the reader (frames in flight).
const MAX_IN_FLIGHT: u64 = 20_000;
/// Messages created per lock acquisition.
const BATCH: u64 = 256;

/// One benchmark result.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub mode: Mode,
    pub events: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// CPU time the whole process (simulator and reading client) used,
    /// when the OS tells us (Linux `/proc/self/stat`).
    pub cpu: Option<Duration>,
}

impl BenchReport {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    /// Events per CPU-second of the process: what the simulator sustains
    /// when it is not starved by other processes on the machine.
    pub fn events_per_cpu_sec(&self) -> Option<f64> {
        self.cpu
            .filter(|c| !c.is_zero())
            .map(|c| self.events as f64 / c.as_secs_f64())
    }
}

/// User + system CPU time of this process so far (Linux only).
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 Hz on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            Mode::None => "none",
            Mode::ZlibStream => "zlib-stream",
            Mode::ZstdStream => "zstd-stream",
        };
        write!(
            f,
            "compression {mode:<12} {:>9} events in {:>7.2?}: {:>9.0} events/s wall, {:>7.1} MB/s on the wire",
            self.events,
            self.elapsed,
            self.events_per_sec(),
            self.bytes as f64 / self.elapsed.as_secs_f64() / 1e6
        )?;
        if let (Some(cpu), Some(rate)) = (self.cpu, self.events_per_cpu_sec()) {
            write!(f, "; CPU {cpu:.2?} -> {rate:.0} events per CPU-second")?;
        }
        Ok(())
    }
}

/// Deliver `events` MESSAGE_CREATE events to one reading client.
///
/// # Panics
/// If the local client cannot connect (the benchmark cannot run).
pub async fn message_create_delivery(mode: Mode, events: u64) -> BenchReport {
    let sim = Sim::with_config(SimConfig {
        store_messages: false,
        replay_limit: 1_024,
        ..SimConfig::default()
    })
    .await;
    let guild = sim.guild("bench").await;
    let channel = guild.text_channel("general");
    let member = guild.member("talker");
    let ws = identified_client(&sim, mode).await;

    let received = Arc::new(AtomicU64::new(0));
    let reader = tokio::spawn(read_frames(ws, events, received.clone()));
    let start = Instant::now();
    let cpu_start = process_cpu_time();
    produce(&sim, (channel.id(), member.id()), events, &received).await;
    let bytes = reader.await.unwrap_or(0);
    let elapsed = start.elapsed();
    let cpu = match (cpu_start, process_cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    BenchReport {
        mode,
        events: received.load(Ordering::Relaxed),
        bytes,
        elapsed,
        cpu,
    }
}

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A gateway client past IDENTIFY, READY and GUILD_CREATE, so what it reads
/// next is the benchmark's messages.
async fn identified_client(sim: &Sim, mode: Mode) -> Client {
    let url = format!("{}/?v=10&encoding=json{}", sim.gateway_url(), mode.query());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect to the simulator");
    ws.next().await; // HELLO
    let identify = json!({"op": 2, "d": {
        "token": sim.token(),
        "intents": intents::GUILDS | intents::GUILD_MESSAGES | intents::MESSAGE_CONTENT,
        "properties": {"os": "linux", "browser": "bench", "device": "bench"},
    }});
    ws.send(Message::text(identify.to_string()))
        .await
        .expect("identify");
    // READY and GUILD_CREATE.
    ws.next().await;
    ws.next().await;
    ws
}

/// Read frames until `events` have arrived (counted in `received`, which
/// paces the producer) or the connection ends; returns the bytes read.
async fn read_frames(mut ws: Client, events: u64, received: Arc<AtomicU64>) -> u64 {
    let mut bytes = 0u64;
    while received.load(Ordering::Relaxed) < events {
        match ws.next().await {
            Some(Ok(m)) => {
                bytes += m.len() as u64;
                received.fetch_add(1, Ordering::Relaxed);
            }
            _ => break,
        }
    }
    bytes
}

/// Post `events` messages from `author` in `channel_id`, [`BATCH`] per
/// world lock, staying at most [`MAX_IN_FLIGHT`] ahead of the reader.
async fn produce(sim: &Sim, (channel_id, author): (u64, u64), events: u64, received: &AtomicU64) {
    let core = sim.server().core();
    let mut produced = 0u64;
    while produced < events {
        while produced - received.load(Ordering::Relaxed) > MAX_IN_FLIGHT {
            tokio::task::yield_now().await;
        }
        let n = BATCH.min(events - produced);
        {
            let mut w = core.world.lock();
            for i in 0..n {
                let m = w.new_message(
                    channel_id,
                    author,
                    format!("benchmark message number {}", produced + i),
                );
                w.store_and_dispatch_message(m);
            }
        }
        produced += n;
        tokio::task::yield_now().await;
    }
}
