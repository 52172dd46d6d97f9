//! A minimal twilight 0.18 bot used by the end-to-end tests: shards that
//! forward every event (and every parse error) to the test, and an HTTP
//! client pointed at the simulator.

use std::time::Duration;

use tokio::sync::mpsc;
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};

use discord_sim::Sim;

/// What a shard task reports.
#[derive(Debug)]
pub enum Report {
    Event(u32, Box<Event>),
    /// A payload twilight could not parse: always a test failure.
    ParseError(u32, String),
}

pub fn intents() -> Intents {
    Intents::GUILDS
        | Intents::GUILD_MEMBERS
        | Intents::GUILD_MODERATION
        | Intents::GUILD_MESSAGES
        | Intents::MESSAGE_CONTENT
        | Intents::DIRECT_MESSAGES
}

/// Start `total` shards (ids `0..total`) against the simulator.
pub fn start_shards(
    sim: &Sim,
    total: u32,
    intents: Intents,
) -> (
    mpsc::UnboundedReceiver<Report>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for id in 0..total {
        // A queue that never delays identifies: the simulator's own
        // concurrency check is exercised elsewhere.
        let queue = InMemoryQueue::new(16, 1000, Duration::ZERO, 1000);
        let config = ConfigBuilder::new(sim.token(), intents)
            .proxy_url(sim.gateway_url())
            .queue(queue)
            .build();
        let mut shard = Shard::with_config(ShardId::new(id, total), config);
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(item) = shard.next_event(EventTypeFlags::all()).await {
                let report = match item {
                    Ok(event) => Report::Event(id, Box::new(event)),
                    Err(e) => {
                        // Reconnect notices are not parse errors.
                        let text = format!("{e:?}");
                        if text.contains("Deserializing") || text.contains("ompress") {
                            Report::ParseError(id, text)
                        } else {
                            continue;
                        }
                    }
                };
                if tx.send(report).is_err() {
                    break;
                }
            }
        }));
    }
    (rx, tasks)
}

/// One shard with [`intents`], past its first GUILD_CREATE: the events it
/// reports, and its task (dropping the handle leaves it running).
pub async fn one_shard_in_a_guild(
    sim: &Sim,
) -> (
    mpsc::UnboundedReceiver<Report>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (mut rx, tasks) = start_shards(sim, 1, intents());
    until(&mut rx, "GUILD_CREATE", |_, e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    (rx, tasks)
}

/// twilight-http against the simulator.
pub fn http(sim: &Sim) -> twilight_http::Client {
    twilight_http::Client::builder()
        .proxy(sim.http_addr(), true)
        .token(sim.token())
        .build()
}

/// Receive events until `pick` matches; panics on parse errors or timeout.
pub async fn until<T>(
    rx: &mut mpsc::UnboundedReceiver<Report>,
    what: &str,
    mut pick: impl FnMut(u32, &Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + super::WAIT;
    loop {
        let report = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("shards running");
        match report {
            Report::ParseError(shard, e) => {
                panic!("shard {shard}: twilight could not parse an event: {e}")
            }
            Report::Event(shard, event) => {
                if let Some(t) = pick(shard, &event) {
                    return t;
                }
            }
        }
    }
}
