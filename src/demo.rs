//! `keeper demo`: the real bot against the Discord simulator, in this process, on
//! a temporary SQLite database, playing a short scene and printing what members
//! would see. No Discord account needed; nothing leaves 127.0.0.1.

use std::{collections::HashMap, time::Duration};

use clap::Parser;
use discord_sim::{Channel, Guild, Member, OptionValue, SentMessage, Sim, User};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{bot, config::Config, db, error::Fatal};

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

/// The people and places of the scene.
struct Cast {
    guild: Guild,
    general: Channel,
    welcome: Channel,
    alice: Member,
    bob: Member,
    carol: User,
}

pub async fn run() -> Result<(), Fatal> {
    let sim = Sim::start().await;
    let dir = std::env::temp_dir().join(format!("keeper-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Fatal::Runtime(format!("demo: cannot create {}: {e}", dir.display())))?;
    let result = scene(&sim, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn scene(sim: &Sim, dir: &std::path::Path) -> Result<(), Fatal> {
    let (cast, names) = cast(sim).await;
    let s = Scene { names };
    let (stop, bot) = start_bot(sim, &dir.join("keeper.db")).await?;
    println!(
        "\nKeeper demo: the real bot, a simulated Discord server \"Rustaceans\", a temporary database.\n"
    );
    set_up(&s, &cast).await?;
    chat(&s, &cast).await?;
    println!("\nThey check where they stand:");
    let g = ("general", &cast.general);
    s.run(("bob", &cast.bob), g, "rank", vec![]).await?;
    s.run(("bob", &cast.bob), g, "leaderboard", vec![]).await?;
    arrival(&s, &cast).await?;
    new_prefix(&s, &cast).await?;
    println!(
        "\nNo Discord account was needed. Run the real thing with DISCORD_TOKEN set: `keeper run`."
    );
    stop.cancel();
    bot.await
        .map_err(|e| Fatal::Runtime(format!("demo: the bot task failed: {e}")))?
}

async fn cast(sim: &Sim) -> (Cast, Names) {
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
    let cast = Cast {
        guild,
        general,
        welcome,
        alice,
        bob,
        carol,
    };
    (cast, names)
}

/// The real bot on a fresh database at `db`, connected and its commands
/// registered; cancel the token to stop it.
async fn start_bot(
    sim: &Sim,
    db: &std::path::Path,
) -> Result<(CancellationToken, JoinHandle<Result<(), Fatal>>), Fatal> {
    let args = [
        "keeper".to_owned(),
        "run".to_owned(),
        format!("--database-url=sqlite://{}", db.display()),
        format!("--token={}", sim.token()),
        format!("--api-url=http://{}", sim.http_addr()),
        format!("--cdn-url=http://{}", sim.http_addr()),
        format!("--gateway-url={}", sim.gateway_url()),
    ];
    let config = Config::try_parse_from(args).map_err(|e| Fatal::Runtime(format!("demo: {e}")))?;
    let store = db::open(&config.database)
        .await
        .map_err(|e| Fatal::Runtime(format!("demo: database: {e}")))?;
    let stop = CancellationToken::new();
    let bot = {
        let stop = stop.clone();
        tokio::spawn(async move { bot::run(&config, store, stop).await })
    };
    sim.wait_for_command("rank", WAIT)
        .await
        .map_err(scene_error)?;
    // Commands are registered before the shard connects; wait for the shard too.
    sim.wait_connected(1, WAIT).await.map_err(scene_error)?;
    Ok((stop, bot))
}

async fn set_up(s: &Scene, cast: &Cast) -> Result<(), Fatal> {
    let (alice, g) = (("alice", &cast.alice), ("general", &cast.general));
    println!("An admin sets the server up:");
    let xp = |n| OptionValue::Integer(n);
    let rules = vec![("min", xp(30)), ("max", xp(30)), ("cooldown", xp(0))];
    s.run(alice, g, "config xp", rules).await?;
    let welcome = vec![("channel", OptionValue::Channel(cast.welcome.id()))];
    s.run(alice, g, "config welcome set", welcome).await
}

async fn chat(s: &Scene, cast: &Cast) -> Result<(), Fatal> {
    println!("\nMembers chat; every message earns 30 XP, level 1 needs 100:");
    let (alice, bob) = (&cast.alice, &cast.bob);
    for (who, member, text) in [
        ("alice", alice, "hi all!"),
        ("bob", bob, "hey alice"),
        ("alice", alice, "did you see the new release?"),
        ("alice", alice, "the async traits are so much nicer"),
        ("bob", bob, "yes, finally"),
        ("alice", alice, "I rewrote our bot with it"),
    ] {
        member.says(&cast.general, text).await;
        s.say(who, "general", text);
    }
    let levelup = next_post(&cast.general).await?;
    s.show("general", &levelup);
    Ok(())
}

async fn arrival(s: &Scene, cast: &Cast) -> Result<(), Fatal> {
    println!("\nSomeone new arrives:");
    cast.carol.joins(&cast.guild).await;
    println!("  (carol joins the server)");
    let hello = next_post(&cast.welcome).await?;
    s.show("welcome", &hello);
    Ok(())
}

async fn new_prefix(s: &Scene, cast: &Cast) -> Result<(), Fatal> {
    println!("\nThe admin changes the prefix, and text commands follow it:");
    let prefix = vec![("prefix", OptionValue::String("?".into()))];
    let (alice, g) = (("alice", &cast.alice), ("general", &cast.general));
    s.run(alice, g, "config prefix", prefix).await?;
    cast.bob.says(&cast.general, "?rank").await;
    s.say("bob", "general", "?rank");
    let reply = next_post(&cast.general).await?;
    s.show("general", &reply);
    cast.bob.says(&cast.general, "!rank").await;
    s.say(
        "bob",
        "general",
        "!rank   (the old prefix: ignored, other bots may use it)",
    );
    Ok(())
}
