//! End to end: the real bot (`keeper::bot::run`) against the Discord simulator, on
//! SQLite and on PostgreSQL. Each test is written once and run on both backends.

use std::{sync::Arc, time::Duration};

use clap::Parser;
use discord_sim::{Channel, Guild, Member, OptionValue, Sim, permissions::bits};
use keeper::{bot, cli::Fatal, config::Config, db};
use keeper_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

const WAIT: Duration = Duration::from_secs(15);

enum Backend {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Backend {
    async fn create(postgres: bool) -> (Self, String) {
        if !postgres {
            let dir = std::env::temp_dir().join(format!(
                "keeper-e2e-{}-{}",
                std::process::id(),
                unique()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}/keeper.db", dir.display());
            return (Backend::Sqlite(dir), url);
        }
        let admin_url = std::env::var("KEEPER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("keeper_e2e_{}_{}", std::process::id(), unique());
        let mut conn = connect_admin(&admin_url).await;
        // Identifiers can't be bound parameters; the name is generated above.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        (Backend::Postgres { admin_url, name }, url)
    }

    async fn drop(self) {
        match self {
            Backend::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Backend::Postgres { admin_url, name } => {
                let mut conn = connect_admin(&admin_url).await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "no PostgreSQL at {url} ({err}). Start the local server with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
             or point KEEPER_TEST_POSTGRES_URL at one"
            )
        })
}

fn unique() -> u128 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    nanos % 1_000_000_000_000 * 1000 + u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A simulated guild with an admin, the bot running against it, and its database.
struct World {
    sim: Sim,
    guild: Guild,
    general: Channel,
    admin: Member,
    backend: Option<Backend>,
    url: String,
    bot: Option<RunningBot>,
}

struct RunningBot {
    stop: CancellationToken,
    task: JoinHandle<Result<(), Fatal>>,
}

impl World {
    async fn new(postgres: bool) -> Self {
        let sim = Sim::start().await;
        let guild = sim.guild("Test Guild").await;
        let general = guild.text_channel("general");
        let admins = guild.role("Admins", bits::MANAGE_GUILD);
        let admin = guild.member("admin").with_role(&admins);
        let (backend, url) = Backend::create(postgres).await;
        let mut world = World {
            sim,
            guild,
            general,
            admin,
            backend: Some(backend),
            url,
            bot: None,
        };
        world.start_bot().await;
        world
    }

    fn config(&self) -> Config {
        Config::try_parse_from([
            "keeper".to_owned(),
            "run".to_owned(),
            format!("--database-url={}", self.url),
            format!("--token={}", self.sim.token()),
            format!("--api-url=http://{}", self.sim.http_addr()),
            format!("--gateway-url={}", self.sim.gateway_url()),
        ])
        .unwrap()
    }

    async fn start_bot(&mut self) {
        let config = self.config();
        let store = db::open(&config.database).await.expect("open the store");
        let stop = CancellationToken::new();
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move { bot::run(&config, store, stop).await })
        };
        self.sim
            .wait_for_command("rank", WAIT)
            .await
            .expect("commands registered");
        self.sim
            .wait_connected(1, WAIT)
            .await
            .expect("the shard connected");
        self.bot = Some(RunningBot { stop, task });
    }

    /// Stop the bot as SIGTERM would, and wait for it to finish.
    async fn stop_bot(&mut self) {
        let bot = self.bot.take().expect("a running bot");
        bot.stop.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(10), bot.task).await;
        ended
            .expect("stopped within 10 s")
            .expect("bot task")
            .expect("clean exit");
    }

    /// A store of our own on the bot's database, to check what it wrote.
    async fn store(&self) -> Arc<dyn Store> {
        db::open(&self.config().database).await.unwrap()
    }

    /// Wait until `user` has `xp` in the database (the bot writes every 250 ms).
    async fn await_xp(&self, user: u64, xp: i64) {
        let store = self.store().await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let rank = store
                .member_rank(Id::new(self.guild.id()), Id::new(user))
                .await
                .unwrap();
            let have = rank.map_or(0, |r| r.member.xp);
            if have == xp {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "user {user} has {have} XP, expected {xp}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.close().await;
    }

    async fn fixed_xp(&self, xp: i64) {
        let answer = self
            .admin
            .runs(
                &self.general,
                "config xp",
                [
                    ("min", OptionValue::Integer(xp)),
                    ("max", OptionValue::Integer(xp)),
                    ("cooldown", OptionValue::Integer(0)),
                ],
            )
            .await
            .message(WAIT)
            .await
            .unwrap();
        assert!(answer.ephemeral, "settings answers are private");
    }

    async fn finish(mut self) {
        if self.bot.is_some() {
            self.stop_bot().await;
        }
        if let Some(backend) = self.backend.take() {
            backend.drop().await;
        }
    }
}

async fn next_post(channel: &Channel) -> discord_sim::SentMessage {
    loop {
        let message = channel
            .next_message(WAIT)
            .await
            .expect("a message from the bot");
        if message.interaction_id.is_none() {
            return message;
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::World::new(false).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::World::new(true).await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    chat_earns_xp_and_announces_level_ups,
    rank_and_leaderboard,
    settings_need_manage_server,
    welcome_pings_only_the_newcomer,
    prefix_commands_follow_the_prefix,
    restart_resumes_and_loses_nothing,
);

async fn chat_earns_xp_and_announces_level_ups(w: World) {
    w.fixed_xp(25).await;
    let alice = w.guild.member("alice");
    for i in 0..4 {
        alice.says(&w.general, format!("message {i}")).await;
    }
    let announcement = next_post(&w.general).await;
    assert!(
        announcement.content.contains(&alice.mention()),
        "{}",
        announcement.content
    );
    assert!(
        announcement.content.contains("level 1"),
        "{}",
        announcement.content
    );
    assert_eq!(
        announcement.mentions,
        vec![alice.id()],
        "only alice is pinged"
    );
    w.await_xp(alice.id(), 100).await;
    w.finish().await;
}

async fn rank_and_leaderboard(w: World) {
    w.fixed_xp(50).await;
    let alice = w.guild.member("alice");
    let bob = w.guild.member("bob");
    for _ in 0..6 {
        alice.says(&w.general, "hi").await;
    }
    bob.says(&w.general, "hello").await;
    w.await_xp(alice.id(), 300).await;
    w.await_xp(bob.id(), 50).await;

    let card = bob
        .runs(
            &w.general,
            "rank",
            [("user", OptionValue::User(alice.id()))],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    let embed = &card.embeds[0];
    let field = |name: &str| {
        embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(field("Level"), "2");
    assert_eq!(field("Total XP"), "300");
    assert_eq!(field("Rank"), "#1 of 2");
    assert!(card.mentions.is_empty(), "a rank card pings nobody");

    let board = bob
        .runs(&w.general, "leaderboard", [])
        .await
        .message(WAIT)
        .await
        .unwrap();
    let text = board.embeds[0]["description"].as_str().unwrap().to_owned();
    let alice_at = text.find(&alice.mention()).unwrap();
    let bob_at = text.find(&bob.mention()).unwrap();
    assert!(alice_at < bob_at, "{text}");
    let missing = bob
        .runs(
            &w.general,
            "leaderboard",
            [("page", OptionValue::Integer(3))],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    assert!(missing.ephemeral);
    assert!(missing.content.contains("no page 3"), "{}", missing.content);
    w.finish().await;
}

async fn settings_need_manage_server(w: World) {
    let member = w.guild.member("mallory");
    let answer = member
        .runs(
            &w.general,
            "config prefix",
            [("prefix", OptionValue::String("$".into()))],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    assert!(answer.ephemeral);
    assert!(
        answer.content.contains("Manage Server"),
        "{}",
        answer.content
    );
    let store = w.store().await;
    assert_eq!(
        store.settings(Id::new(w.guild.id())).await.unwrap().prefix,
        "!",
        "nothing changed"
    );
    store.close().await;

    let bad = w
        .admin
        .runs(
            &w.general,
            "config prefix",
            [("prefix", OptionValue::String("a b".into()))],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    assert!(bad.content.contains("spaces"), "{}", bad.content);
    w.finish().await;
}

async fn welcome_pings_only_the_newcomer(w: World) {
    let welcome = w.guild.text_channel("welcome");
    w.admin
        .runs(&w.general, "config welcome set", [
            ("channel", OptionValue::Channel(welcome.id())),
            ("message", OptionValue::String("@everyone say hi to {user} ({username}), member #{member_count} of {server} {unknown}".into())),
        ])
        .await
        .message(WAIT)
        .await
        .unwrap();
    let carol = w.sim.user("carol");
    carol.joins(&w.guild).await;
    let hello = next_post(&welcome).await;
    assert!(
        hello
            .content
            .contains(&format!("<@{}> (carol)", carol.id())),
        "{}",
        hello.content
    );
    assert!(
        hello.content.contains("of Test Guild {unknown}"),
        "{}",
        hello.content
    );
    assert_eq!(hello.mentions, vec![carol.id()]);
    assert!(!hello.mention_everyone, "a template can't ping @everyone");
    w.finish().await;
}

async fn prefix_commands_follow_the_prefix(w: World) {
    let bob = w.guild.member("bob");
    bob.says(&w.general, "!rank").await;
    let reply = next_post(&w.general).await;
    assert!(
        reply.content.contains("hasn't earned any XP") || !reply.embeds.is_empty(),
        "{reply:?}"
    );

    w.admin
        .runs(
            &w.general,
            "config prefix",
            [("prefix", OptionValue::String("k?".into()))],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    bob.says(&w.general, "!help").await; // the old prefix: another bot's business now
    bob.says(&w.general, "k?nonsense").await; // unknown: ignored silently
    bob.says(&w.general, "k?help").await;
    let help = next_post(&w.general).await;
    assert!(
        help.content.contains("k?rank"),
        "the first answer is to k?help: {}",
        help.content
    );
    w.finish().await;
}

async fn restart_resumes_and_loses_nothing(mut w: World) {
    w.fixed_xp(10).await;
    let alice = w.guild.member("alice");
    for _ in 0..30 {
        alice.says(&w.general, "before").await;
    }
    w.stop_bot().await;
    // Sent while Keeper is down: Discord keeps them for the resumed session.
    for _ in 0..20 {
        alice.says(&w.general, "while down").await;
    }
    w.start_bot().await;
    for _ in 0..10 {
        alice.says(&w.general, "after").await;
    }
    w.await_xp(alice.id(), 600).await;
    let store = w.store().await;
    let rank = store
        .member_rank(Id::new(w.guild.id()), Id::new(alice.id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rank.member.messages, 60,
        "every message counted exactly once"
    );
    store.close().await;
    w.finish().await;
}

/// Every request Keeper sends to Discord uses a route Discord documents, with that
/// method, and a body that matches Discord's published schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_requests_match_discords_api() {
    let Some(dir) = discord_sim::spec::spec_dir("keeper_requests_match_discords_api") else {
        return;
    };
    let root = discord_sim::spec::load_json(&dir, "openapi.json");
    let spec = discord_sim::spec::Spec::new(&root);

    let w = World::new(false).await;
    // Exercise every kind of request Keeper makes: commands, interaction answers,
    // messages (level-up, text command reply, welcome), and a role reward.
    let reward = w.guild.role("Regular", 0);
    w.admin
        .runs(
            &w.general,
            "levels reward add",
            [
                ("level", OptionValue::Integer(1)),
                ("role", OptionValue::Role(reward.id())),
            ],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    w.admin
        .runs(
            &w.general,
            "config welcome set",
            [("channel", OptionValue::Channel(w.general.id()))],
        )
        .await
        .message(WAIT)
        .await
        .unwrap();
    w.fixed_xp(100).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "!rank").await;
    next_post(&w.general).await; // the level-up or the rank card
    next_post(&w.general).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !alice.has_role(&reward) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the level reward was not granted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w.sim.user("carol").joins(&w.guild).await;
    next_post(&w.general).await;

    let requests = w.sim.requests();
    let mut errors = Vec::new();
    let mut routes = std::collections::BTreeSet::new();
    for req in &requests {
        let route = req.route.trim_start_matches("/api/v10");
        routes.insert(format!("{} {route}", req.method));
        assert!(
            req.status < 300,
            "{} {} -> {}",
            req.method,
            req.path,
            req.status
        );
        let Some(op) = spec.operation(&req.method, route) else {
            errors.push(format!("{} {route} is not in Discord's API", req.method));
            continue;
        };
        if let (Some(body), Some(schema)) = (&req.body, spec.request_schema(op)) {
            spec.validate(
                schema,
                body,
                &format!("{} {route}", req.method),
                &mut errors,
            );
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for expected in [
        "GET /users/@me",
        "GET /applications/@me",
        "GET /gateway/bot",
        "PUT /applications/{application_id}/commands",
        "POST /interactions/{interaction_id}/{interaction_token}/callback",
        "POST /channels/{channel_id}/messages",
        "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    ] {
        assert!(
            routes.contains(expected),
            "{expected} not exercised; saw {routes:?}"
        );
    }
    w.finish().await;
}

/// A token Discord rejects stops the bot with a configuration error naming
/// DISCORD_TOKEN (exit code 2), not a run-time failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_a_configuration_error() {
    let sim = Sim::start().await;
    let (backend, url) = Backend::create(false).await;
    let config = Config::try_parse_from([
        "keeper".to_owned(),
        "run".to_owned(),
        format!("--database-url={url}"),
        "--token=not-the-sim-token".to_owned(),
        format!("--api-url=http://{}", sim.http_addr()),
        format!("--gateway-url={}", sim.gateway_url()),
    ])
    .unwrap();
    let store = db::open(&config.database).await.unwrap();
    let ended = tokio::time::timeout(WAIT, bot::run(&config, store, CancellationToken::new()))
        .await
        .expect("the bot gives up at once");
    match ended {
        Err(err @ Fatal::Config(_)) => {
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().starts_with("DISCORD_TOKEN"), "{err}");
            assert!(
                !err.to_string().contains("not-the-sim-token"),
                "the token leaked: {err}"
            );
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    backend.drop().await;
}
