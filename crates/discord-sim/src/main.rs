//! `discord-sim`: run the simulator with a demo world, play load against a
//! bot, or benchmark gateway delivery.

use std::time::Duration;

use clap::{Parser, Subcommand};
use discord_sim::compression::Mode;
use discord_sim::load::{self, LoadConfig, XpRules};
use discord_sim::{Sim, SimConfig, permissions::bits};

#[derive(Parser)]
#[command(about = "Discord's gateway and REST API on 127.0.0.1")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a small demo world until interrupted (the default).
    Serve {
        /// Bot token clients must use.
        #[arg(long, default_value = "sim-token")]
        token: String,
        /// Shard count advertised by GET /gateway/bot.
        #[arg(long, default_value_t = 1)]
        shards: u32,
    },
    /// Play N guilds x M members at a target rate against a bot that
    /// connects to the printed URLs, then report.
    Load {
        #[arg(long, default_value = "sim-token")]
        token: String,
        #[arg(long, default_value_t = 1)]
        shards: u32,
        #[arg(long, default_value_t = 10)]
        guilds: usize,
        #[arg(long, default_value_t = 100)]
        members: usize,
        /// Messages per second.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Seconds to play.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Slash command to interleave (must be registered by the bot).
        #[arg(long)]
        command: Option<String>,
        /// One command every N messages.
        #[arg(long, default_value_t = 100)]
        command_every: u64,
        /// The bot's XP rules, for the expected XP written with --counts-out:
        /// least and most XP per award...
        #[arg(long, default_value_t = 15)]
        xp_min: i64,
        #[arg(long, default_value_t = 25)]
        xp_max: i64,
        /// ...and the cooldown between awards, in seconds.
        #[arg(long, default_value_t = 60)]
        xp_cooldown: u64,
        /// Write `guild_id,user_id,messages,awards,xp_min,xp_max` here: what every
        /// member sent and should have been awarded under the rules above.
        #[arg(long)]
        counts_out: Option<std::path::PathBuf>,
        /// Seconds to wait for the bot to connect.
        #[arg(long, default_value_t = 300)]
        wait: u64,
    },
    /// Measure MESSAGE_CREATE delivery to a client that only reads.
    Bench {
        /// Events per compression mode.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events for the compressed modes (slower per event).
        #[arg(long, default_value_t = 300_000)]
        compressed_events: u64,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve {
        token: "sim-token".into(),
        shards: 1,
    }) {
        Command::Serve { token, shards } => serve(token, shards).await,
        Command::Load {
            token,
            shards,
            guilds,
            members,
            rate,
            seconds,
            command,
            command_every,
            counts_out,
            wait,
            xp_min,
            xp_max,
            xp_cooldown,
        } => {
            let rules = XpRules {
                min: xp_min,
                max: xp_max,
                cooldown: Duration::from_secs(xp_cooldown),
            };
            let config = LoadConfig {
                guilds,
                members_per_guild: members,
                rate,
                duration: Duration::from_secs(seconds),
                command,
                command_every,
                ..LoadConfig::default()
            };
            let wait = Duration::from_secs(wait);
            run_load(token, shards, config, rules, counts_out, wait).await;
        }
        Command::Bench {
            events,
            compressed_events,
        } => {
            for (mode, n) in [
                (Mode::None, events),
                (Mode::ZlibStream, compressed_events),
                (Mode::ZstdStream, compressed_events),
            ] {
                // Warm up allocators and the connection path first.
                discord_sim::bench::message_create_delivery(mode, n / 10).await;
                let report = discord_sim::bench::message_create_delivery(mode, n).await;
                println!("{report}");
            }
        }
    }
}

fn print_urls(sim: &Sim) {
    println!("discord-sim listening");
    println!("  REST:    http://{}/api/v10", sim.http_addr());
    println!("  gateway: {}", sim.gateway_url());
    println!("  token:   {}", sim.token());
}

async fn serve(token: String, shards: u32) {
    let sim = Sim::with_config(SimConfig {
        token,
        shards,
        ..SimConfig::default()
    })
    .await;
    let guild = sim.guild("Demo").await;
    let general = guild.text_channel("general");
    let mods = guild.role("mods", bits::MODERATE_MEMBERS | bits::KICK_MEMBERS);
    let alice = guild.member("alice").with_role(&mods);
    let _bob = guild.member("bob");
    print_urls(&sim);
    println!("  guild {} with #general {}", guild.id(), general.id());
    // Keep the demo alive: alice talks every minute once a bot is connected.
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if sim.sessions().iter().any(|s| s.connected) {
            alice.says(&general, "hello from the simulator").await;
        }
    }
}

async fn run_load(
    token: String,
    shards: u32,
    config: LoadConfig,
    rules: XpRules,
    counts_out: Option<std::path::PathBuf>,
    wait: Duration,
) {
    let sim = Sim::with_config(load::sim_config(token, shards)).await;
    let world = load::build(&sim, &config).await;
    print_urls(&sim);
    println!(
        "  {} guilds x {} members; waiting for {shards} shard(s) to connect",
        config.guilds, config.members_per_guild
    );
    if let Err(e) = sim.wait_connected(shards as usize, wait).await {
        eprintln!("no bot connected: {e}");
        std::process::exit(1);
    }
    if let Some(cmd) = &config.command
        && let Err(e) = sim.wait_for_command(cmd, wait).await
    {
        eprintln!("the bot did not register /{cmd}: {e}");
        std::process::exit(1);
    }
    let report = load::run(&sim, &world, &config).await;
    println!("{report}");
    let (lo, hi) = report.expected_total_xp(&rules);
    println!("expected XP in all:  {lo}..={hi} under {rules:?}");
    if let Some(path) = counts_out {
        let mut out = String::from("guild_id,user_id,messages,awards,xp_min,xp_max\n");
        for ((g, u), e) in report.expected_xp(&rules) {
            let (n, a, lo, hi) = (e.messages, e.awards, e.min_xp, e.max_xp);
            out.push_str(&format!("{g},{u},{n},{a},{lo},{hi}\n"));
        }
        if let Err(e) = std::fs::write(&path, out) {
            eprintln!("writing {}: {e}", path.display());
        }
    }
}
