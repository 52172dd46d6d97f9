//! `keeper demo`: the real bot against the Discord simulator, in this process, on
//! a temporary SQLite database, playing a short scene and printing what members
//! would see. No Discord account needed; nothing leaves 127.0.0.1.

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use clap::Parser;
use discord_sim::{Channel, Member, OptionValue, SentMessage, Sim};
use tokio_util::sync::CancellationToken;

use crate::{bot, cli::Fatal, config::Config, db};

const WAIT: Duration = Duration::from_secs(10);

/// Names for the ids in the transcript.
#[derive(Default)]
struct Names(HashMap<u64, String>);

impl Names {
    /// `<@123>` -> `@alice`, `<#456>` -> `#general`.
    fn humanize(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (id, name) in &self.0 {
            for (raw, shown) in [
                (format!("<@{id}>"), format!("@{name}")),
                (format!("<#{id}>"), format!("#{name}")),
            ] {
                out = out.replace(&raw, &shown);
            }
        }
        out
    }
}

struct Scene {
    sim: Sim,
    names: Names,
}

impl Scene {
    fn say(&self, who: &str, channel: &str, text: &str) {
        println!("  #{channel:<9} {who}: {}", self.names.humanize(text));
    }

    fn show(&self, channel: &str, message: &SentMessage) {
        let me = "Keeper";
        let private = if message.ephemeral {
            " (only they see this)"
        } else {
            ""
        };
        if !message.content.is_empty() {
            println!(
                "  #{channel:<9} {me}{private}: {}",
                self.names.humanize(&message.content)
            );
        }
        for embed in &message.embeds {
            println!(
                "  #{channel:<9} {me}{private}: [{}]",
                self.names.humanize(embed["title"].as_str().unwrap_or(""))
            );
            if let Some(text) = embed["description"].as_str() {
                for line in text.lines() {
                    println!("  {:<10}   {}", "", self.names.humanize(line));
                }
            }
            for field in embed["fields"].as_array().into_iter().flatten() {
                println!(
                    "  {:<10}   {}: {}",
                    "",
                    field["name"].as_str().unwrap_or(""),
                    self.names.humanize(field["value"].as_str().unwrap_or(""))
                );
            }
            if let Some(footer) = embed["footer"]["text"].as_str() {
                println!("  {:<10}   {footer}", "");
            }
        }
    }

    async fn run(
        &self,
        who: (&str, &Member),
        channel: (&str, &Channel),
        command: &str,
        options: Vec<(&str, OptionValue)>,
    ) -> Result<(), Fatal> {
        let shown: Vec<String> = options
            .iter()
            .map(|(k, v)| format!("{k}:{}", self.option(v)))
            .collect();
        println!(
            "  #{:<9} {} used /{command} {}",
            channel.0,
            who.0,
            shown.join(" ")
        );
        let interaction = who.1.runs(channel.1, command, options).await;
        let answer = interaction.message(WAIT).await.map_err(scene_error)?;
        self.show(channel.0, &answer);
        Ok(())
    }

    fn option(&self, value: &OptionValue) -> String {
        match value {
            OptionValue::String(s) => s.clone(),
            OptionValue::Integer(i) => i.to_string(),
            OptionValue::Channel(id) => {
                format!("#{}", self.names.0.get(id).cloned().unwrap_or_default())
            }
            OptionValue::User(id) | OptionValue::Role(id) => {
                format!("@{}", self.names.0.get(id).cloned().unwrap_or_default())
            }
            other => format!("{other:?}"),
        }
    }
}

/// The bot's next message in `channel` that is not an answer to a command.
async fn next_post(channel: &Channel) -> Result<SentMessage, Fatal> {
    loop {
        let message = channel.next_message(WAIT).await.map_err(scene_error)?;
        if message.interaction_id.is_none() {
            return Ok(message);
        }
    }
}

fn scene_error(err: impl std::fmt::Display) -> Fatal {
    Fatal::Runtime(format!("demo: the bot did not answer as expected: {err}"))
}

pub async fn run(base: &Config) -> Result<(), Fatal> {
    let sim = Sim::start().await;
    let dir = std::env::temp_dir().join(format!("keeper-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Fatal::Runtime(format!("demo: cannot create {}: {e}", dir.display())))?;
    let result = scene(&sim, &dir, base).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn scene(sim: &Sim, dir: &std::path::Path, base: &Config) -> Result<(), Fatal> {
    let db_path: PathBuf = dir.join("keeper.db");
    let args = [
        "keeper".to_owned(),
        "run".to_owned(),
        format!("--database-url=sqlite://{}", db_path.display()),
        format!("--token={}", sim.token()),
        format!("--api-url=http://{}", sim.http_addr()),
        format!("--gateway-url={}", sim.gateway_url()),
        format!("--log={}", base.log),
    ];
    let config = Config::try_parse_from(args).map_err(|e| Fatal::Runtime(format!("demo: {e}")))?;

    let guild = sim.guild("Rustaceans").await;
    let general = guild.text_channel("general");
    let welcome = guild.text_channel("welcome");
    let admins = guild.role("Admins", discord_sim::permissions::bits::MANAGE_GUILD);
    let alice = guild.member("alice").with_role(&admins);
    let bob = guild.member("bob");
    let carol = sim.user("carol");
    let mut names = Names::default();
    for (id, name) in [
        (general.id(), "general"),
        (welcome.id(), "welcome"),
        (alice.id(), "alice"),
        (bob.id(), "bob"),
        (carol.id(), "carol"),
        (sim.bot_id(), "Keeper"),
    ] {
        names.0.insert(id, name.to_owned());
    }
    let s = Scene {
        sim: sim.clone(),
        names,
    };

    let store = db::open(&config.database)
        .await
        .map_err(|e| Fatal::Runtime(format!("demo: database: {e}")))?;
    let stop = CancellationToken::new();
    let bot = {
        let (stop, store) = (stop.clone(), Arc::clone(&store));
        tokio::spawn(async move { bot::run(&config, store, stop).await })
    };
    s.sim
        .wait_for_command("rank", WAIT)
        .await
        .map_err(scene_error)?;
    // Commands are registered before the shard connects; wait for the shard too.
    s.sim.wait_connected(1, WAIT).await.map_err(scene_error)?;

    println!(
        "\nKeeper demo: the real bot, a simulated Discord server \"Rustaceans\", a temporary database.\n"
    );
    let g = ("general", &general);
    println!("An admin sets the server up:");
    s.run(
        ("alice", &alice),
        g,
        "config xp",
        vec![
            ("min", OptionValue::Integer(30)),
            ("max", OptionValue::Integer(30)),
            ("cooldown", OptionValue::Integer(0)),
        ],
    )
    .await?;
    s.run(
        ("alice", &alice),
        g,
        "config welcome set",
        vec![("channel", OptionValue::Channel(welcome.id()))],
    )
    .await?;

    println!("\nMembers chat; every message earns 30 XP, level 1 needs 100:");
    for (who, member, text) in [
        ("alice", &alice, "hi all!"),
        ("bob", &bob, "hey alice"),
        ("alice", &alice, "did you see the new release?"),
        ("alice", &alice, "the async traits are so much nicer"),
        ("bob", &bob, "yes, finally"),
        ("alice", &alice, "I rewrote our bot with it"),
    ] {
        member.says(&general, text).await;
        s.say(who, "general", text);
    }
    let levelup = next_post(&general).await?;
    s.show("general", &levelup);

    println!("\nThey check where they stand:");
    s.run(("bob", &bob), g, "rank", vec![]).await?;
    s.run(("bob", &bob), g, "leaderboard", vec![]).await?;

    println!("\nSomeone new arrives:");
    carol.joins(&guild).await;
    println!("  (carol joins the server)");
    let hello = next_post(&welcome).await?;
    s.show("welcome", &hello);

    println!("\nThe admin changes the prefix, and text commands follow it:");
    s.run(
        ("alice", &alice),
        g,
        "config prefix",
        vec![("prefix", OptionValue::String("?".into()))],
    )
    .await?;
    bob.says(&general, "?rank").await;
    s.say("bob", "general", "?rank");
    let reply = next_post(&general).await?;
    s.show("general", &reply);
    bob.says(&general, "!rank").await;
    s.say(
        "bob",
        "general",
        "!rank   (the old prefix: ignored, other bots may use it)",
    );

    println!(
        "\nNo Discord account was needed. Run the real thing with DISCORD_TOKEN set: `keeper run`."
    );
    stop.cancel();
    let ended = bot
        .await
        .map_err(|e| Fatal::Runtime(format!("demo: the bot task failed: {e}")))?;
    ended?;
    Ok(())
}
