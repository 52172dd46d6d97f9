//! `discord-sim`: run the simulator with a demo world.

use std::time::Duration;

use clap::{Parser, Subcommand};
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
    }
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
    println!("discord-sim listening");
    println!("  REST:    http://{}/api/v10", sim.http_addr());
    println!("  gateway: {}", sim.gateway_url());
    println!("  token:   {}", sim.token());
    println!("  guild {} with #general {}", guild.id(), general.id());
    // Keep the demo alive: alice greets every minute once a bot is connected.
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if sim.sessions().iter().any(|s| s.connected) {
            alice.says(&general, "hello from the simulator").await;
        }
    }
}
