//! End to end: the real bot (`keeper::bot::run`) against the Discord simulator, on
//! SQLite, PostgreSQL and MySQL. Each test is written once and run on every
//! backend, and most again on PostgreSQL through PgBouncer in transaction mode.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use clap::Parser;
use discord_sim::{Channel, Guild, Member, OptionValue, Sim, permissions::bits};
use keeper::{bot, config::Config, db, error::Fatal, outbox::OutboxStats};
use keeper_store::{MemberProfile, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

mod common;

use common::{Backend, Db};

const WAIT: Duration = Duration::from_secs(15);

/// A simulated guild with an admin, the bot running against it, and its database.
struct World {
    sim: Sim,
    guild: Guild,
    general: Channel,
    admin: Member,
    backend: Option<Backend>,
    url: String,
    /// Flags added to `keeper run` (features, dev guild...).
    args: Vec<String>,
    /// The database server (PostgreSQL, MySQL) reached through a proxy the
    /// test can switch off.
    proxy: Option<common::DbProxy>,
    bot: Option<RunningBot>,
    /// What the bot's outbox dropped, was refused and reported.
    stats: Arc<OutboxStats>,
}

struct RunningBot {
    stop: CancellationToken,
    task: JoinHandle<Result<(), Fatal>>,
}

impl World {
    async fn new(db: Db) -> Self {
        Self::with_args(db, |_| Vec::new()).await
    }

    /// A world whose bot runs with extra flags, made from the guild's ID.
    async fn with_args(db: Db, args: impl FnOnce(&Guild) -> Vec<String>) -> Self {
        Self::build(db, args, false).await
    }

    /// A world whose database server (PostgreSQL, MySQL; not SQLite, a file)
    /// sits behind a [`common::DbProxy`].
    async fn with_proxy(db: Db) -> Self {
        Self::build(db, |_| Vec::new(), true).await
    }

    /// A world on PostgreSQL reached through PgBouncer in transaction mode,
    /// Keeper told so; `None` where PgBouncer is not here (the test is skipped,
    /// having said why; CI requires it).
    async fn through_pgbouncer() -> Option<Self> {
        let (backend, url, _) = Backend::create_pooled().await?;
        Some(
            Self::build_on(
                backend,
                url,
                |_| vec!["--pg-pooler=transaction".into()],
                false,
            )
            .await,
        )
    }

    async fn build(db: Db, args: impl FnOnce(&Guild) -> Vec<String>, proxied: bool) -> Self {
        let (backend, url) = Backend::create(db).await;
        Self::build_on(backend, url, args, proxied).await
    }

    async fn build_on(
        backend: Backend,
        mut url: String,
        args: impl FnOnce(&Guild) -> Vec<String>,
        proxied: bool,
    ) -> Self {
        let sim = Sim::start().await;
        let guild = sim.guild("Test Guild").await;
        let general = guild.text_channel("general");
        // What a server's managers usually have: settings, and giving roles.
        let admins = guild.role("Admins", bits::MANAGE_GUILD | bits::MANAGE_ROLES);
        let admin = guild.member("admin").with_role(&admins);
        let mut proxy = None;
        if proxied && backend.db().is_server() {
            let p = common::DbProxy::start(common::host_port(&url)).await;
            url = p.url_for(&url);
            proxy = Some(p);
        }
        let mut world = World {
            sim,
            guild,
            general,
            admin,
            backend: Some(backend),
            url,
            args: Vec::new(),
            proxy,
            bot: None,
            stats: Arc::default(),
        };
        world.args = args(&world.guild);
        world.start_bot().await;
        world
    }

    fn config(&self) -> Config {
        Config::try_parse_from(
            [
                "keeper".to_owned(),
                "run".to_owned(),
                format!("--database-url={}", self.url),
                format!("--token={}", self.sim.token()),
                format!("--api-url=http://{}", self.sim.http_addr()),
                format!("--cdn-url=http://{}", self.sim.http_addr()),
                format!("--gateway-url={}", self.sim.gateway_url()),
                format!("--identify-window-ms={}", common::identify_window_ms()),
            ]
            .into_iter()
            .chain(self.args.iter().cloned()),
        )
        .unwrap()
    }

    async fn start_bot(&mut self) {
        let config = self.config();
        let store = db::open(&config.database).await.expect("open the store");
        let stop = CancellationToken::new();
        let task = {
            let (stop, stats) = (stop.clone(), Arc::clone(&self.stats));
            tokio::spawn(async move { bot::run_with_stats(&config, store, stop, stats).await })
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

    /// Run a slash command and return the answer the member sees.
    async fn ask<'a>(
        &self,
        who: &Member,
        command: &str,
        options: impl IntoIterator<Item = (&'a str, OptionValue)>,
    ) -> discord_sim::SentMessage {
        who.runs(&self.general, command, options)
            .await
            .message(WAIT)
            .await
            .unwrap_or_else(|err| panic!("/{command}: {err}"))
    }

    /// Make `role` the reward at `level` (as the admin, who may).
    async fn reward(&self, level: i64, role: &discord_sim::Role) -> discord_sim::SentMessage {
        let options = [
            ("level", OptionValue::Integer(level)),
            ("role", OptionValue::Role(role.id())),
        ];
        self.ask(&self.admin, "levels reward add", options).await
    }

    /// A #mod-log channel, set as the guild's mod-log.
    async fn modlog(&self) -> Channel {
        let modlog = self.guild.text_channel("mod-log");
        let channel = ("channel", OptionValue::Channel(modlog.id()));
        self.ask(&self.admin, "config modlog", [channel]).await;
        modlog
    }

    /// A member's stored (xp, messages), (0, 0) without a row.
    async fn stored(&self, user: u64) -> (i64, i64) {
        let store = self.store().await;
        let rank = store
            .member_rank(Id::new(self.guild.id()), Id::new(user))
            .await
            .unwrap();
        store.close().await;
        rank.map_or((0, 0), |r| (r.member.xp, r.member.messages))
    }

    /// Wait until `user`'s stored profile satisfies `done`; that profile.
    async fn await_profile(
        &self,
        user: u64,
        done: impl Fn(Option<&MemberProfile>) -> bool,
    ) -> Option<MemberProfile> {
        let store = self.store().await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut found = store
                .profiles(Id::new(self.guild.id()), &[Id::new(user)])
                .await
                .unwrap();
            let profile = found.pop();
            if done(profile.as_ref()) {
                store.close().await;
                return profile;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "user {user}'s profile is {profile:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// Wait until `member` holds `role` (granted through REST by the bot).
async fn await_role(member: &Member, role: &discord_sim::Role) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !member.has_role(role) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never got role {}",
            member.id(),
            role.id()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until `member` no longer holds `role` (taken through REST by the bot).
async fn await_no_role(member: &Member, role: &discord_sim::Role) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while member.has_role(role) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} kept role {}",
            member.id(),
            role.id()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
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

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::World::new(super::Db::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::World::new(super::Db::Postgres).await).await;
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::World::new(super::Db::MySql).await).await;
                }
            )*
        }
        /// The PostgreSQL tests again through PgBouncer in transaction mode.
        mod pgbouncer {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(world) = super::World::through_pgbouncer().await {
                        super::$name(world).await;
                    }
                }
            )*
        }
    };
}

/// For tests that build their own world: the test gets the backend, a [`Db`].
macro_rules! on_every_backend_custom {
    ($($name:ident),* $(,)?) => {
        mod custom_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Sqlite).await;
                }
            )*
        }
        mod custom_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Postgres).await;
                }
            )*
        }
        mod custom_mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::MySql).await;
                }
            )*
        }
    };
}

on_every_backend_custom!(
    a_silent_database_never_stalls_the_gateway,
    a_late_interaction_is_deferred_at_once,
    level_ups_in_the_last_write_are_rewarded,
    database_outage_keeps_the_bot_up_and_loses_nothing,
    dev_guild_gets_the_commands,
    intents_follow_the_enabled_features,
    a_guild_keeper_was_removed_from_is_purged_after_retention,
    the_leaderboard_links_to_the_web_page_once_public,
);

/// With `KEEPER_PUBLIC_URL` set, `/leaderboard` and `!top` link to the web
/// page holding the same members, but only once the guild made it public.
async fn the_leaderboard_links_to_the_web_page_once_public(db: Db) {
    let w = World::with_args(db, |_| {
        vec!["--public-url=https://keeper.example.org/".to_owned()]
    })
    .await;
    w.fixed_xp(50).await;
    let bob = w.guild.member("bob");
    bob.says(&w.general, "hello").await;
    w.await_xp(bob.id(), 50).await;
    let board = w.ask(&bob, "leaderboard", []).await;
    assert_eq!(board.embeds[0]["url"], serde_json::Value::Null, "private");
    let text = board.embeds[0]["description"].to_string();
    assert!(!text.contains("keeper.example.org"), "{text}");

    let made = w
        .ask(
            &w.admin,
            "config web",
            [("visibility", OptionValue::String("public".into()))],
        )
        .await;
    assert!(
        made.content
            .contains("public on the web: anyone with the link sees members'"),
        "{}",
        made.content
    );
    let link = format!(
        "https://keeper.example.org/leaderboard/{}?page=1",
        w.guild.id()
    );
    let board = w.ask(&bob, "leaderboard", []).await;
    assert_eq!(board.embeds[0]["url"], link.as_str());
    let text = board.embeds[0]["description"].as_str().unwrap();
    assert!(
        text.ends_with(&format!("[The whole leaderboard on the web]({link})")),
        "{text}"
    );
    bob.says(&w.general, "!top").await;
    let top = next_post(&w.general).await;
    assert_eq!(top.embeds[0]["url"], link.as_str());
    w.finish().await;
}

on_every_backend!(
    an_interaction_past_its_window_is_not_run,
    a_replayed_interaction_is_applied_once,
    a_replayed_join_is_welcomed_once,
    xp_commands_correct_totals,
    level_rewards_are_granted_and_failures_reported_once,
    warnings_are_numbered_told_logged_and_revoked,
    warning_refusals_record_nothing,
    cases_are_amended_noted_shown_and_cleared,
    typed_warnings_follow_the_same_rules,
    fifty_warnings_at_once_are_numbered_1_to_50,
    escalation_runs_once_at_the_crossing,
    a_warning_stops_counting_at_its_expiry,
    an_unwritable_modlog_is_said_in_the_answer,
    acts_are_done_at_discord_recorded_and_logged,
    act_refusals_record_nothing_and_discord_refusals_are_kept,
    a_temporary_ban_is_lifted_and_logged,
    a_temporary_ban_ending_while_keeper_is_down_is_lifted_at_start,
    acts_left_pending_are_carried_out_at_start,
    an_unban_drops_the_lift_of_a_temporary_ban,
    acts_in_discords_menus_are_recorded_once,
    a_grant_discord_refuses_is_reported_once,
    level_up_announcements_follow_the_setting,
    a_burst_of_level_ups_shares_messages,
    config_show_and_refusals,
    chat_earns_xp_and_announces_level_ups,
    rank_and_leaderboard,
    rank_cards_show_the_member_and_follow_the_setting,
    settings_need_manage_server,
    welcome_pings_only_the_newcomer,
    prefix_commands_follow_the_prefix,
    restart_resumes_and_loses_nothing,
    a_text_command_spammer_gets_one_answer_per_cooldown,
    a_crowd_of_text_commands_waits_in_a_bounded_queue,
    an_unwritable_welcome_channel_is_reported_once,
    a_timed_out_session_is_started_again_and_loses_nothing,
    reward_roles_need_what_discord_would_ask,
    a_reward_role_made_dangerous_is_not_granted,
    a_deleted_reward_role_is_not_granted,
    xp_corrections_move_reward_roles,
    guild_facts_survive_a_resumed_restart,
    a_replayed_join_is_counted_once,
    mydata_shows_and_deletes_ones_own_xp,
    chat_keeps_names_and_avatars_once_a_day_until_deleted,
    config_reset_data_is_the_owners_after_a_confirmation,
    a_level_up_grants_every_reward_an_import_left_out,
    levels_sync_gives_every_member_the_rewards_of_their_level_now,
);

/// `/levels sync` after XP arrived without Discord: every member with a level
/// ends up with exactly its rewards (given, and taken back above their
/// level), someone who left is skipped, and the mod-log says when it is done.
async fn levels_sync_gives_every_member_the_rewards_of_their_level_now(w: World) {
    let modlog = w.modlog().await;
    let regular = w.guild.role("Regular", 0);
    let veteran = w.guild.role("Veteran", 0);
    let elder = w.guild.role("Elder", 0);
    w.reward(1, &regular).await;
    w.reward(3, &veteran).await;
    w.reward(10, &elder).await;
    let alice = w.guild.member("alice");
    let bob = w.guild.member("bob").with_role(&elder);
    let store = w.store().await;
    let guild = Id::new(w.guild.id());
    let now = chrono::Utc::now();
    for (user, xp) in [(alice.id(), 765), (bob.id(), 150), (4_242_424_242, 9_000)] {
        store
            .set_xp(guild, Id::new(user), xp, now, None)
            .await
            .unwrap();
    }
    store.close().await;

    let answer = w.ask(&w.admin, "levels sync", []).await;
    assert!(
        answer.content.contains("of 3 with XP"),
        "{}",
        answer.content
    );
    await_role(&alice, &regular).await;
    await_role(&alice, &veteran).await;
    await_role(&bob, &regular).await;
    await_no_role(&bob, &elder).await;
    assert!(!alice.has_role(&elder) && !bob.has_role(&veteran));
    let done = next_post(&modlog).await;
    assert!(
        done.content
            .contains("2 member(s) checked, 2 given or relieved")
            && done.content.contains("1 no longer here"),
        "{}",
        done.content
    );
    w.finish().await;
}

/// XP that arrived without Discord (`keeper import-json`, a restore) leaves a
/// member at level 3 without the rewards of levels 1 and 3; their next
/// level-up asks Discord what they hold and grants all three.
async fn a_level_up_grants_every_reward_an_import_left_out(w: World) {
    let regular = w.guild.role("Regular", 0);
    let veteran = w.guild.role("Veteran", 0);
    let elder = w.guild.role("Elder", 0);
    w.reward(1, &regular).await;
    w.reward(3, &veteran).await;
    w.reward(4, &elder).await;
    w.fixed_xp(10).await;
    let alice = w.guild.member("alice");
    // Level 3 (475 to 769 XP), written as an import writes it.
    let store = w.store().await;
    store
        .set_xp(
            Id::new(w.guild.id()),
            Id::new(alice.id()),
            765,
            chrono::Utc::now(),
            None,
        )
        .await
        .unwrap();
    store.close().await;
    alice.says(&w.general, "back again").await;
    for role in [&elder, &veteran, &regular] {
        await_role(&alice, role).await;
    }
    w.finish().await;
}

/// The `custom_id`s of a message's buttons, in order.
fn buttons(message: &discord_sim::SentMessage) -> Vec<String> {
    message
        .components
        .iter()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|button| button["custom_id"].as_str().map(str::to_owned))
        .collect()
}

/// Click `custom_id` on `message` as `who`; the content the message shows
/// afterwards (the click's UPDATE_MESSAGE), its buttons gone.
async fn click(who: &Member, message: &discord_sim::SentMessage, custom_id: &str) -> String {
    let response = who
        .click(message.id, custom_id)
        .response(WAIT)
        .await
        .unwrap_or_else(|err| panic!("{custom_id}: {err}"));
    assert_eq!(
        response.kind, 7,
        "a click updates its message: {response:?}"
    );
    assert_eq!(
        response.data["components"],
        serde_json::json!([]),
        "buttons removed"
    );
    response.data["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `/mydata show` tells a member what Keeper keeps about them, with the JSON
/// attached; `/mydata delete` asks first, Cancel deletes nothing, the button
/// deletes their XP and keeps the cases about them.
async fn mydata_shows_and_deletes_ones_own_xp(w: World) {
    let alice = w.guild.member("alice");
    let owner = w.guild.owner();
    let user = || ("user", OptionValue::User(alice.id()));
    w.ask(
        &w.admin,
        "xp set",
        [user(), ("amount", OptionValue::Integer(500))],
    )
    .await;
    w.ask(
        &owner,
        "warn",
        [user(), ("reason", OptionValue::String("spam".into()))],
    )
    .await;

    let shown = w.ask(&alice, "mydata show", []).await;
    assert!(shown.ephemeral, "personal data is shown privately");
    for expected in [
        "XP in 1 server(s)",
        "level 3, 500 XP",
        "1 case(s) about you",
    ] {
        assert!(
            shown.content.contains(expected),
            "{expected:?} in {}",
            shown.content
        );
    }
    let file = &shown.attachments[0];
    assert_eq!(file.filename, format!("keeper-data-{}.json", alice.id()));
    let json: serde_json::Value = serde_json::from_slice(&file.data).unwrap();
    assert_eq!(json["user_id"], alice.id().to_string());
    assert_eq!(json["xp"][0]["xp"], 500);
    assert_eq!(json["cases"][0]["reason"], "spam");

    let asked = w.ask(&alice, "mydata delete", []).await;
    assert!(
        asked.ephemeral && asked.content.contains("can't be undone"),
        "{}",
        asked.content
    );
    let ids = buttons(&asked);
    assert!(
        ids[0].starts_with("mydata:delete:") && ids[1].starts_with("mydata:cancel:"),
        "{ids:?}"
    );
    let cancelled = click(&alice, &asked, &ids[1]).await;
    assert!(cancelled.contains("Nothing was deleted"), "{cancelled}");
    assert_eq!(w.stored(alice.id()).await, (500, 0));

    let asked = w.ask(&alice, "mydata delete", []).await;
    let deleted = click(&alice, &asked, &buttons(&asked)[0]).await;
    assert!(deleted.contains("Deleted your XP"), "{deleted}");
    assert!(deleted.contains("Cases about you are kept"), "{deleted}");
    assert_eq!(w.stored(alice.id()).await, (0, 0));
    let store = w.store().await;
    let cases = store
        .cases(Id::new(w.guild.id()), Some(Id::new(alice.id())), 10)
        .await
        .unwrap();
    assert_eq!(cases.len(), 1, "the case about her stays");
    store.close().await;

    let again = w.ask(&alice, "mydata delete", []).await;
    assert!(
        again.content.contains("nothing to delete"),
        "{}",
        again.content
    );
    assert!(buttons(&again).is_empty());
    w.finish().await;
}

/// The web leaderboard's names and avatars: taken from a message that earns
/// XP, not rewritten by the next ones the same day (a new avatar waits for
/// tomorrow), shown by `/mydata show`, deleted by `/mydata delete`, and taken
/// again when the member next speaks.
async fn chat_keeps_names_and_avatars_once_a_day_until_deleted(w: World) {
    w.fixed_xp(10).await;
    let guild = Id::new(w.guild.id());
    let alice = w.guild.member("alice");
    let first = alice.set_avatar(Some([220, 20, 60]));
    alice.says(&w.general, "hi").await;
    let profile = w.await_profile(alice.id(), |p| p.is_some()).await.unwrap();
    assert_eq!(profile.guild_id, guild);
    assert_eq!(profile.display_name, "alice");
    assert_eq!(profile.avatar, first);

    // The same day, a new avatar and more XP: the profile stays as it was.
    let second = alice.set_avatar(Some([0, 128, 128]));
    assert_ne!(first, second);
    alice.says(&w.general, "again").await;
    w.await_xp(alice.id(), 20).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let store = w.store().await;
    let kept = store.profiles(guild, &[Id::new(alice.id())]).await.unwrap();
    store.close().await;
    assert_eq!(kept[0].avatar, first, "written at most once a day");

    let shown = w.ask(&alice, "mydata show", []).await;
    assert!(
        shown
            .content
            .contains("name and avatar as last seen in 1 server(s)"),
        "{}",
        shown.content
    );
    let json: serde_json::Value = serde_json::from_slice(&shown.attachments[0].data).unwrap();
    assert_eq!(json["profiles"][0]["display_name"], "alice");

    let asked = w.ask(&alice, "mydata delete", []).await;
    let deleted = click(&alice, &asked, &buttons(&asked)[0]).await;
    assert!(deleted.contains("names and avatars"), "{deleted}");
    assert!(w.await_profile(alice.id(), |p| p.is_none()).await.is_none());

    // Speaking again: taken at once, with today's avatar.
    alice.says(&w.general, "back").await;
    let back = w.await_profile(alice.id(), |p| p.is_some()).await.unwrap();
    assert_eq!(back.avatar, second);
    w.finish().await;
}

/// `/config reset-data` is the owner's alone (an admin with Manage Server is
/// refused), asks first, and then deletes everything Keeper keeps for the
/// server: settings (the bot's memory too), XP, rewards, cases and their
/// numbering.
async fn config_reset_data_is_the_owners_after_a_confirmation(w: World) {
    let owner = w.guild.owner();
    let alice = w.guild.member("alice");
    let veteran = w.guild.role("Veteran", 0);
    let user = || ("user", OptionValue::User(alice.id()));
    w.ask(
        &w.admin,
        "config prefix",
        [("prefix", OptionValue::String("k$".into()))],
    )
    .await;
    w.ask(
        &w.admin,
        "xp set",
        [user(), ("amount", OptionValue::Integer(500))],
    )
    .await;
    w.reward(3, &veteran).await;
    w.ask(
        &owner,
        "warn",
        [user(), ("reason", OptionValue::String("spam".into()))],
    )
    .await;

    let refused = w.ask(&w.admin, "config reset-data", []).await;
    assert!(
        refused.content.contains("Only the server's owner"),
        "{}",
        refused.content
    );
    assert!(buttons(&refused).is_empty());

    let asked = w.ask(&owner, "config reset-data", []).await;
    assert!(asked.ephemeral, "{asked:?}");
    let ids = buttons(&asked);
    assert!(ids[0].starts_with("config:reset-data:"), "{ids:?}");
    let done = click(&owner, &asked, &ids[0]).await;
    assert!(done.contains("Deleted everything Keeper kept"), "{done}");

    let guild = Id::new(w.guild.id());
    let store = w.store().await;
    assert_eq!(store.settings(guild).await.unwrap().prefix, "!");
    assert_eq!(store.leaderboard_len(guild).await.unwrap(), 0);
    assert!(store.level_rewards(guild).await.unwrap().is_empty());
    assert!(store.cases(guild, None, 10).await.unwrap().is_empty());
    store.close().await;
    // The bot forgot the settings too, and case numbers start again at 1.
    let shown = w.ask(&w.admin, "config show", []).await;
    assert!(!shown.embed_text().contains("k$"), "{}", shown.embed_text());
    let warned = w
        .ask(
            &owner,
            "warn",
            [user(), ("reason", OptionValue::String("again".into()))],
        )
        .await;
    assert!(warned.content.contains("#1"), "{}", warned.content);
    w.finish().await;
}

/// One member typing `!rank` 100 times: commands within 3 s (by the messages'
/// own time) of the last one that ran are ignored, silently.
async fn a_text_command_spammer_gets_one_answer_per_cooldown(w: World) {
    let spammer = w.guild.member("spammer");
    let started = std::time::Instant::now();
    for _ in 0..100 {
        spammer.says(&w.general, "!rank").await;
    }
    // One command runs per started 3 s of the burst.
    let bound = started.elapsed().as_secs() as usize / 3 + 1;
    next_post(&w.general).await;
    // Whatever else was let through is answered within a couple of seconds
    // (five answers per five seconds fit in the channel's bucket).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answers = w.general.bot_messages().len();
    assert!(
        answers <= bound,
        "{answers} answers to one member's 100 commands (at most {bound})"
    );
    assert_eq!(w.stats.dropped.load(Ordering::Relaxed), 0);
    w.finish().await;
}

/// A hundred members each typing `!rank` at once in one channel, which takes
/// five messages per five seconds: Keeper keeps at most 32 answers waiting,
/// drops the oldest, and paces itself by Discord's headers so it is never
/// answered 429.
async fn a_crowd_of_text_commands_waits_in_a_bounded_queue(w: World) {
    const CROWD: u64 = 100;
    let members: Vec<Member> = (0..CROWD)
        .map(|i| w.guild.member(&format!("member{i}")))
        .collect();
    for m in &members {
        m.says(&w.general, "!rank").await;
    }
    // Every command has been answered, dropped or is waiting: at most 32 wait
    // (and one may be on its way to Discord).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let posted = w.general.bot_messages().len() as u64;
        let dropped = w.stats.dropped.load(Ordering::Relaxed);
        if posted + dropped + 33 >= CROWD {
            assert!(dropped > 0, "nothing dropped: {posted} posted");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{posted} posted and {dropped} dropped of {CROWD}: more than 33 waiting"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Paced by the headers: through two windows of the channel's bucket
    // without a 429.
    let posted = w.general.bot_messages().len();
    let deadline = tokio::time::Instant::now() + WAIT;
    while w.general.bot_messages().len() < posted + 6 {
        assert!(tokio::time::Instant::now() < deadline, "the queue stalled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        w.sim.invalid_requests(),
        0,
        "Keeper was answered 401/403/429"
    );
    w.finish().await;
}

/// A welcome channel Keeper may not post in (a channel overwrite denies its role
/// Send Messages): a join raid gets one report in the mod-log and one refused
/// request, not a 403 per member.
async fn an_unwritable_welcome_channel_is_reported_once(w: World) {
    let modlog = w.modlog().await;
    let welcome = w.guild.text_channel("welcome");
    let channel = ("channel", OptionValue::Channel(welcome.id()));
    w.ask(&w.admin, "config welcome set", [channel]).await;
    welcome.overwrite_role(&w.guild.bot_role(), 0, bits::SEND_MESSAGES);
    for i in 0..30 {
        w.sim.user(&format!("raider{i}")).joins(&w.guild).await;
    }
    let report = next_post(&modlog).await;
    assert!(
        report.content.contains(&welcome.mention()) && report.content.contains("Send Messages"),
        "{}",
        report.content
    );
    // Later joins are not tried either.
    w.sim.user("late").joins(&w.guild).await;
    assert!(
        modlog.next_message(Duration::from_secs(2)).await.is_err(),
        "reported twice: {:?}",
        modlog.bot_messages()
    );
    assert_eq!(w.stats.reported.load(Ordering::Relaxed), 1);
    assert!(welcome.bot_messages().is_empty());
    let refused = w.sim.requests().iter().filter(|r| r.status == 403).count();
    assert_eq!(refused, 1, "one refused request for 31 joins");
    assert_eq!(w.sim.invalid_requests(), 1);
    w.finish().await;
}

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

/// A command delivered past its 3 s answer window (gateway lag, or a replay
/// after a restart) is not run: the member already saw it fail, and would not
/// expect the change. (Later commands run as usual.)
async fn an_interaction_past_its_window_is_not_run(w: World) {
    let alice = w.guild.member("alice");
    let add = [
        ("user", OptionValue::User(alice.id())),
        ("amount", OptionValue::Integer(100)),
    ];
    let late = w
        .admin
        .runs_delivered_late(
            &w.general,
            "xp add",
            add.clone(),
            Duration::from_millis(3_500),
        )
        .await;
    // Processed in order with what follows: a command after it is answered...
    let rank = w.ask(&w.admin, "rank", []).await;
    assert!(rank.content.contains("hasn't earned"), "{}", rank.content);
    // ...and the late one never was, nor applied.
    assert!(late.response(Duration::from_secs(1)).await.is_err());
    assert_eq!(w.stored(alice.id()).await, (0, 0));
    let added = w.ask(&w.admin, "xp add", add).await;
    assert!(added.content.contains("100 XP"), "{}", added.content);
    w.finish().await;
}

/// The same interaction delivered twice (a resumed session replays it after a
/// crash) changes XP once.
async fn a_replayed_interaction_is_applied_once(w: World) {
    let alice = w.guild.member("alice");
    let add = [
        ("user", OptionValue::User(alice.id())),
        ("amount", OptionValue::Integer(100)),
    ];
    let first = w.admin.runs(&w.general, "xp add", add).await;
    let answer = first.message(WAIT).await.unwrap();
    assert!(answer.content.contains("100 XP"), "{}", answer.content);
    first.delivered_again();
    // Keeper handles the replay (its answer is refused: the interaction was
    // answered already) before a later command of the same member is answered.
    let callbacks = |sim: &Sim| {
        sim.requests()
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.contains(&format!("/interactions/{}/", first.id()))
            })
            .count()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while callbacks(&w.sim) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay was never handled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(w.stored(alice.id()).await.0, 100, "applied once");
    w.finish().await;
}

/// A join delivered twice (a resumed session replays it) is welcomed once; the
/// next newcomer still is.
async fn a_replayed_join_is_welcomed_once(w: World) {
    let welcome = w.guild.text_channel("welcome");
    let channel = ("channel", OptionValue::Channel(welcome.id()));
    w.ask(&w.admin, "config welcome set", [channel]).await;
    let carol = w.sim.user("carol").joins(&w.guild).await;
    next_post(&welcome).await;
    carol.join_delivered_again();
    // A command answered after it: the replay has been handled by then.
    w.ask(&w.admin, "rank", []).await;
    w.sim.user("dave").joins(&w.guild).await;
    let dave = next_post(&welcome).await;
    assert!(
        dave.content.contains("dave") || !dave.mentions.is_empty(),
        "{}",
        dave.content
    );
    assert!(
        welcome.next_message(Duration::from_secs(2)).await.is_err(),
        "carol was welcomed twice: {:?}",
        welcome.bot_messages()
    );
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

    let off = w.ask(&w.admin, "config welcome off", []).await;
    assert!(off.content.contains("no longer"), "{}", off.content);
    w.sim.user("dave").joins(&w.guild).await;
    assert!(
        welcome.next_message(Duration::from_secs(2)).await.is_err(),
        "greeted although welcome is off"
    );
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
    // Carol: bob's next command within 3 s of his `!rank` would be ignored.
    let carol = w.guild.member("carol");
    carol.says(&w.general, "!help").await; // the old prefix: another bot's business now
    carol.says(&w.general, "k?nonsense").await; // unknown: ignored silently
    carol.says(&w.general, "k?help").await;
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
    // The stored session is resumed where Discord said to: READY's
    // resume_gateway_url, saved with the checkpoint, not the gateway URL.
    let counts = w.sim.gateway_counts();
    assert_eq!(counts.identifies, 1, "resumed, not identified: {counts:?}");
    assert_eq!(counts.resumes_at_resume_url, 1, "{counts:?}");
    assert_eq!(counts.resumes_elsewhere, 0, "{counts:?}");
    w.finish().await;
}

/// Discord times the session out (close 4009) right after a burst of chat that
/// Keeper has not written yet: the session is gone, so Keeper's RESUME is
/// refused and it identifies again (paced: within the identify window it is
/// refused and waits its turn). Every message of the burst and after counts
/// once: the old session's awards are written, the new session's checkpoint
/// replaces the old one.
async fn a_timed_out_session_is_started_again_and_loses_nothing(w: World) {
    w.fixed_xp(10).await;
    let alice = w.guild.member("alice");
    let old = w.sim.sessions()[0].id.clone();
    for _ in 0..20 {
        alice.says(&w.general, "before").await;
    }
    w.sim.time_out_sessions();
    w.sim
        .wait_sessions(Duration::from_secs(30), |s| {
            s.len() == 1 && s[0].connected && s[0].id != old
        })
        .await
        .expect("a new session after 4009");
    for _ in 0..20 {
        alice.says(&w.general, "after").await;
    }
    w.await_xp(alice.id(), 400).await;
    assert_eq!(w.stored(alice.id()).await, (400, 40), "each counted once");
    let counts = w.sim.gateway_counts();
    assert_eq!(counts.identifies, 2, "{counts:?}");
    assert!(counts.resumes_at_resume_url >= 1, "{counts:?}");
    // The checkpoint stored is the new session's.
    let store = w.store().await;
    let saved = store.session(0).await.unwrap().expect("a checkpoint");
    assert_eq!(saved.session_id, w.sim.sessions()[0].id);
    assert_eq!(saved.resume_url, w.sim.resume_url());
    store.close().await;
    w.finish().await;
}

/// `/levels reward add` with a role the member could not give by hand, or one
/// Keeper must not give, is refused with the reason, and nothing is stored.
async fn reward_roles_need_what_discord_would_ask(w: World) {
    let level = ("level", OptionValue::Integer(1));
    let add = |who: &Member, role: u64| {
        let (who, general) = (who.clone(), w.general.clone());
        let options = [level.clone(), ("role", OptionValue::Role(role))];
        async move {
            who.runs(&general, "levels reward add", options)
                .await
                .message(WAIT)
                .await
                .unwrap()
        }
    };
    let refused = |answer: discord_sim::SentMessage, why: &str| {
        assert!(answer.ephemeral, "a refusal is private");
        assert!(
            answer.content.contains("can't be a level reward") && answer.content.contains(why),
            "expected {why:?}: {}",
            answer.content
        );
    };
    let regular = w.guild.role("Regular", 0);
    // Manage Server without Manage Roles.
    let managers = w.guild.role("Managers", bits::MANAGE_GUILD);
    let manager = w.guild.member("manager").with_role(&managers);
    refused(add(&manager, regular.id()).await, "Manage Roles");
    // A role at or above the member's highest role.
    let admins_peer = w.guild.role_above_bot("High", 0);
    refused(add(&w.admin, admins_peer.id()).await, "your highest role");
    // The owner outranks every role, but not Keeper's: Discord would refuse Keeper.
    refused(
        add(&w.guild.owner(), admins_peer.id()).await,
        "my highest role",
    );
    refused(add(&w.admin, w.guild.id()).await, "@everyone");
    let twitch = w.guild.integration_role("Twitch Subscriber", 0);
    refused(add(&w.admin, twitch.id()).await, "integration");
    for (bit, name) in [
        (bits::ADMINISTRATOR, "Administrator"),
        (bits::BAN_MEMBERS, "Ban Members"),
        (bits::MANAGE_ROLES, "Manage Roles"),
        (bits::MENTION_EVERYONE, "Mention @everyone"),
    ] {
        let role = w.guild.role(name, bit);
        refused(add(&w.admin, role.id()).await, &format!("**{name}"));
    }
    let store = w.store().await;
    let stored = store.level_rewards(Id::new(w.guild.id())).await.unwrap();
    store.close().await;
    assert!(stored.is_empty(), "a refused reward was stored: {stored:?}");
    // What the member could give by hand is taken.
    let added = add(&w.admin, regular.id()).await;
    assert!(added.content.contains("will get"), "{}", added.content);
    w.finish().await;
}

/// A reward role edited to carry Administrator after it was added is not
/// granted, and the mod-log says why once.
async fn a_reward_role_made_dangerous_is_not_granted(w: World) {
    let modlog = w.modlog().await;
    let regular = w.guild.role("Regular", 0);
    w.reward(1, &regular).await;
    w.guild.set_role_permissions(&regular, bits::ADMINISTRATOR);
    w.fixed_xp(100).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hi").await;
    let report = modlog.next_message(WAIT).await.expect("a mod-log report");
    assert!(
        report.content.contains(&regular.mention()),
        "{}",
        report.content
    );
    assert!(
        report.content.contains("Administrator"),
        "{}",
        report.content
    );
    let bob = w.guild.member("bob");
    bob.says(&w.general, "hi").await;
    // Bob's level-up announced: his rewards were decided before.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !w
        .general
        .bot_messages()
        .iter()
        .any(|m| m.mentions.contains(&bob.id()))
    {
        assert!(tokio::time::Instant::now() < deadline, "bob's level-up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        modlog.next_message(Duration::from_secs(2)).await.is_err(),
        "reported twice: {:?}",
        modlog.bot_messages()
    );
    assert!(!alice.has_role(&regular) && !bob.has_role(&regular));
    w.finish().await;
}

/// A reward role deleted after it was added is not granted (nor asked of
/// Discord), and the mod-log says so; the other rewards still are.
async fn a_deleted_reward_role_is_not_granted(w: World) {
    let modlog = w.modlog().await;
    let gone = w.guild.role("Gone", 0);
    let regular = w.guild.role("Regular", 0);
    w.reward(1, &gone).await;
    w.reward(2, &regular).await;
    w.guild.delete_role(&gone);
    w.fixed_xp(300).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hi").await;
    await_role(&alice, &regular).await;
    let report = modlog.next_message(WAIT).await.expect("a mod-log report");
    assert!(report.content.contains("level 1"), "{}", report.content);
    assert!(
        report.content.contains("not a role of this server"),
        "{}",
        report.content
    );
    let asked = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.contains(&format!("/roles/{}", gone.id())))
        .count();
    assert_eq!(asked, 0, "Discord was asked for a deleted role");
    w.finish().await;
}

/// `/xp set` and `/xp reset` move the member's reward roles with their level,
/// up and down, and leave their other roles alone.
async fn xp_corrections_move_reward_roles(w: World) {
    let regular = w.guild.role("Regular", 0);
    let veteran = w.guild.role("Veteran", 0);
    let artist = w.guild.role("Artist", 0);
    w.reward(1, &regular).await;
    w.reward(3, &veteran).await;
    let alice = w.guild.member("alice").with_role(&artist);
    let set = |xp: i64| {
        [
            ("user", OptionValue::User(alice.id())),
            ("amount", OptionValue::Integer(xp)),
        ]
    };
    let answer = w.ask(&w.admin, "xp set", set(500)).await; // level 3
    assert!(answer.content.contains("level 3"), "{}", answer.content);
    await_role(&alice, &regular).await;
    await_role(&alice, &veteran).await;
    let answer = w.ask(&w.admin, "xp set", set(150)).await; // level 1
    assert!(answer.content.contains("level 1"), "{}", answer.content);
    await_no_role(&alice, &veteran).await;
    assert!(alice.has_role(&regular), "a reward below the level stays");
    assert!(alice.has_role(&artist), "a role that is no reward stays");
    w.ask(
        &w.admin,
        "xp reset",
        [("user", OptionValue::User(alice.id()))],
    )
    .await;
    await_no_role(&alice, &regular).await;
    assert!(!alice.has_role(&veteran));
    assert!(alice.has_role(&artist), "a role that is no reward stays");
    w.finish().await;
}

/// What Keeper knows of a guild survives a restart that resumes (Discord sends no
/// GUILD_CREATE then): the name it was renamed to and the member count moved by
/// joins render in the welcome and level-up templates afterwards.
async fn guild_facts_survive_a_resumed_restart(mut w: World) {
    let welcome = w.guild.text_channel("welcome");
    w.ask(
        &w.admin,
        "config welcome set",
        [
            ("channel", OptionValue::Channel(welcome.id())),
            (
                "message",
                OptionValue::String("{server} #{member_count}".into()),
            ),
        ],
    )
    .await;
    w.ask(
        &w.admin,
        "config levelup set",
        [(
            "message",
            OptionValue::String("{server} has {member_count}".into()),
        )],
    )
    .await;
    w.guild.rename("Renamed Guild");
    w.sim.user("carol").joins(&w.guild).await;
    let hello = next_post(&welcome).await;
    let expected = |w: &World| format!("Renamed Guild #{}", w.guild.member_count());
    assert_eq!(hello.content, expected(&w));

    w.stop_bot().await;
    w.start_bot().await;
    let sessions = w.sim.sessions();
    assert!(
        sessions.iter().any(|s| s.attachments > 1),
        "the restart resumed: {sessions:?}"
    );
    w.sim.user("dave").joins(&w.guild).await;
    let hello = next_post(&welcome).await;
    assert_eq!(hello.content, expected(&w), "after the restart");
    w.fixed_xp(100).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hi").await;
    let announced = next_post(&w.general).await;
    assert_eq!(
        announced.content,
        format!("Renamed Guild has {}", w.guild.member_count() - 1),
        "alice came without a join event"
    );
    w.finish().await;
}

/// A join delivered twice (a resumed session replays it) counts once in
/// `{member_count}`.
async fn a_replayed_join_is_counted_once(w: World) {
    let welcome = w.guild.text_channel("welcome");
    w.ask(
        &w.admin,
        "config welcome set",
        [
            ("channel", OptionValue::Channel(welcome.id())),
            ("message", OptionValue::String("#{member_count}".into())),
        ],
    )
    .await;
    let carol = w.sim.user("carol").joins(&w.guild).await;
    next_post(&welcome).await;
    carol.join_delivered_again();
    // A command answered after it: the replay has been handled by then.
    w.ask(&w.admin, "rank", []).await;
    w.sim.user("dave").joins(&w.guild).await;
    let dave = next_post(&welcome).await;
    assert_eq!(dave.content, format!("#{}", w.guild.member_count()));
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

    let w = World::new(Db::Sqlite).await;
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
    await_role(&alice, &reward).await;
    w.sim.user("carol").joins(&w.guild).await;
    next_post(&w.general).await;

    let requests = w.sim.requests();
    let mut errors = Vec::new();
    let mut routes = std::collections::BTreeSet::new();
    for req in &requests {
        assert!(
            req.status < 300,
            "{} {} -> {}",
            req.method,
            req.path,
            req.status
        );
        routes.insert(spec.check_request(req, &mut errors));
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
/// Discord's API unreachable at start-up is retried with backoff: a network
/// that comes up a second late does not stop Keeper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_waits_for_discords_api() {
    let sim = Sim::start().await;
    let _guild = sim.guild("Test Guild").await;
    // Discord behind a proxy that refuses every connection for now.
    let proxy = common::DbProxy::start(sim.http_addr()).await;
    proxy.down();
    let (backend, url) = Backend::create(Db::Sqlite).await;
    let config = Config::try_parse_from([
        "keeper".to_owned(),
        "run".to_owned(),
        format!("--database-url={url}"),
        format!("--token={}", sim.token()),
        format!("--api-url=http://{}", proxy.addr),
        format!("--gateway-url={}", sim.gateway_url()),
    ])
    .unwrap();
    let store = db::open(&config.database).await.unwrap();
    let stop = CancellationToken::new();
    let bot = tokio::spawn({
        let stop = stop.clone();
        async move { bot::run(&config, store, stop).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !bot.is_finished(),
        "Keeper gave up while Discord was unreachable"
    );
    proxy.up();
    sim.wait_for_command("rank", WAIT)
        .await
        .expect("Keeper started once Discord answered");
    sim.wait_connected(1, WAIT)
        .await
        .expect("the shard connected");
    stop.cancel();
    let ended = tokio::time::timeout(WAIT, bot).await.expect("stopped");
    assert!(ended.expect("bot task").is_ok());
    backend.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_a_configuration_error() {
    let sim = Sim::start().await;
    let (backend, url) = Backend::create(Db::Sqlite).await;
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

async fn xp_commands_correct_totals(w: World) {
    w.fixed_xp(10).await;
    let alice = w.guild.member("alice");
    let bob = w.guild.member("bob");
    for _ in 0..3 {
        alice.says(&w.general, "hi").await;
    }
    w.await_xp(alice.id(), 30).await;

    let user = || ("user", OptionValue::User(alice.id()));
    let amount = |n| ("amount", OptionValue::Integer(n));
    // Pending awards are written before a correction, so it applies to the true total.
    alice.says(&w.general, "one more").await;
    let added = w.ask(&w.admin, "xp add", [user(), amount(100)]).await;
    assert!(added.ephemeral);
    assert!(
        added.content.contains("140 XP (level 1)"),
        "{}",
        added.content
    );
    assert_eq!(w.stored(alice.id()).await, (140, 4));

    let taken = w.ask(&w.admin, "xp add", [user(), amount(-1_000)]).await;
    assert!(
        taken.content.contains("0 XP (level 0)"),
        "{}",
        taken.content
    );

    let set = w.ask(&w.admin, "xp set", [user(), amount(255)]).await;
    assert!(set.content.contains("255 XP (level 2)"), "{}", set.content);
    assert_eq!(w.stored(alice.id()).await.0, 255);

    // Members without Manage Server are refused, whatever the client showed them.
    let refused = w.ask(&bob, "xp set", [user(), amount(1)]).await;
    assert!(refused.ephemeral);
    assert!(
        refused.content.contains("Manage Server"),
        "{}",
        refused.content
    );
    assert_eq!(w.stored(alice.id()).await.0, 255, "nothing changed");

    let bot = ("user", OptionValue::User(w.sim.bot_id()));
    let bots = w.ask(&w.admin, "xp add", [bot, amount(5)]).await;
    assert!(
        bots.content.contains("Bots don't earn XP"),
        "{}",
        bots.content
    );

    let reset = w.ask(&w.admin, "xp reset", [user()]).await;
    assert!(reset.content.contains("reset"), "{}", reset.content);
    assert_eq!(w.stored(alice.id()).await, (0, 0));
    let again = w.ask(&w.admin, "xp reset", [user()]).await;
    assert!(again.content.contains("had no XP"), "{}", again.content);
    w.finish().await;
}

/// A moderator (Timeout Members, nothing else) warns: each warning is the
/// guild's next case, the member is told by DM (or the answer says they could
/// not be), the mod-log gets the case as an embed; the member sees their own
/// warnings and not others'; `/unwarn` revokes one, editing its mod-log
/// message rather than posting another.
async fn warnings_are_numbered_told_logged_and_revoked(w: World) {
    let modlog = w.modlog().await;
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let bob = w.guild.member("bob");
    let user = |m: &Member| ("user", OptionValue::User(m.id()));
    let reason = |r: &str| ("reason", OptionValue::String(r.into()));

    let expires = ("expires", OptionValue::String("1d12h".into()));
    let first = w
        .ask(&mia, "warn", [user(&alice), reason("spam"), expires])
        .await;
    assert!(
        first.content.contains("case #1") && first.content.contains("1 active warning"),
        "{}",
        first.content
    );
    assert!(first.ephemeral);
    let dm = alice.next_dm(WAIT).await.expect("alice is told");
    assert!(
        dm.content.contains("case #1") && dm.content.contains("spam"),
        "{}",
        dm.content
    );
    let logged = modlog
        .next_message(WAIT)
        .await
        .expect("the case in the mod-log");
    let embed = &logged.embeds[0];
    assert_eq!(embed["title"], "Case #1 · Warning", "{embed}");
    let fields = embed["fields"].to_string();
    assert!(
        fields.contains(&format!("<@{}>", alice.id()))
            && fields.contains(&format!("<@{}>", mia.id()))
            && fields.contains("Expires"),
        "{fields}"
    );
    assert!(logged.mentions.is_empty(), "the mod-log pings nobody");

    bob.close_dms();
    let second = w.ask(&mia, "warn", [user(&bob), reason("rude")]).await;
    assert!(
        second.content.contains("case #2") && second.content.contains("couldn't tell them"),
        "{}",
        second.content
    );
    modlog.next_message(WAIT).await.expect("case 2 logged");

    let own = w.ask(&alice, "warnings", []).await;
    assert!(
        own.ephemeral && own.content.contains("1 active warning") && own.content.contains("#1"),
        "{}",
        own.content
    );
    let others = w.ask(&alice, "warnings", [user(&bob)]).await;
    assert!(
        others.content.contains("Timeout Members"),
        "{}",
        others.content
    );
    let bobs = w.ask(&mia, "warnings", [user(&bob)]).await;
    assert!(
        bobs.content.contains("#2") && !bobs.content.contains("#1"),
        "{}",
        bobs.content
    );

    let revoked = w
        .ask(&mia, "unwarn", [("case", OptionValue::Integer(1))])
        .await;
    assert!(revoked.content.contains("revoked"), "{}", revoked.content);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = modlog.message(logged.id).expect("the case's message");
        if now.edits == 1 {
            assert_eq!(now.embeds[0]["title"], "Case #1 · Warning (revoked)");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never edited: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(modlog.bot_messages().len(), 2, "edited, not posted again");
    let own = w.ask(&alice, "warnings", []).await;
    assert!(
        own.content.contains("0 active warnings") && own.content.contains("(revoked)"),
        "{}",
        own.content
    );
    let again = w
        .ask(&mia, "unwarn", [("case", OptionValue::Integer(1))])
        .await;
    assert!(again.content.contains("already"), "{}", again.content);
    w.finish().await;
}

/// Wait until the mod-log message `id` was edited `edits` times; it as it is.
async fn edited(modlog: &Channel, id: u64, edits: u32) -> discord_sim::SentMessage {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = modlog.message(id).expect("the case's message");
        if now.edits >= edits {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not edited {edits} times: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `/reason` amends a case (its mod-log message edited, the old reason kept in
/// `/case`'s history), `/note` records a case that counts for nothing and
/// tells nobody, `/clearwarnings` revokes every active warning (each message
/// edited), and `/config warnings` sets the default expiry and the DM.
async fn cases_are_amended_noted_shown_and_cleared(w: World) {
    let modlog = w.modlog().await;
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let user = |m: &Member| ("user", OptionValue::User(m.id()));
    let text = |name: &'static str, t: &str| (name, OptionValue::String(t.into()));
    let case = |n: i64| ("case", OptionValue::Integer(n));

    w.ask(&mia, "warn", [user(&alice), text("reason", "spam")])
        .await;
    let first = modlog.next_message(WAIT).await.unwrap();
    w.ask(&mia, "warn", [user(&alice), text("reason", "caps")])
        .await;
    let second = modlog.next_message(WAIT).await.unwrap();
    let noted = w
        .ask(&mia, "note", [user(&alice), text("text", "seems sorry")])
        .await;
    assert!(noted.content.contains("case #3"), "{}", noted.content);
    let note = modlog.next_message(WAIT).await.unwrap();
    assert_eq!(note.embeds[0]["title"], "Case #3 · Note");

    let amended = w
        .ask(&mia, "reason", [case(1), text("text", "flooding")])
        .await;
    assert!(amended.content.contains("flooding"), "{}", amended.content);
    let now = edited(&modlog, first.id, 1).await;
    assert!(
        now.embeds[0]["fields"].to_string().contains("flooding"),
        "{now:?}"
    );
    let shown = w
        .ask(&mia, "case", [("number", OptionValue::Integer(1))])
        .await;
    assert_eq!(shown.embeds[0]["title"], "Case #1 · Warning");
    assert!(
        shown.content.contains("Reason history") && shown.content.contains("spam"),
        "{}",
        shown.content
    );
    let missing = w
        .ask(&mia, "case", [("number", OptionValue::Integer(99))])
        .await;
    assert!(
        missing.content.contains("no case #99"),
        "{}",
        missing.content
    );

    let cleared = w.ask(&mia, "clearwarnings", [user(&alice)]).await;
    assert!(
        cleared.content.contains("2 active warnings: #1, #2"),
        "{}",
        cleared.content
    );
    let first = edited(&modlog, first.id, 2).await;
    assert_eq!(first.embeds[0]["title"], "Case #1 · Warning (revoked)");
    let second = edited(&modlog, second.id, 1).await;
    assert_eq!(second.embeds[0]["title"], "Case #2 · Warning (revoked)");
    assert_eq!(
        modlog.message(note.id).unwrap().edits,
        0,
        "a note is no warning"
    );
    let record = w.ask(&mia, "warnings", [user(&alice)]).await;
    assert!(
        record.content.contains("0 active warnings and 3 cases"),
        "{}",
        record.content
    );
    assert_eq!(
        alice.dms().len(),
        2,
        "told of the warnings, not of the note"
    );
    let again = w.ask(&mia, "clearwarnings", [user(&alice)]).await;
    assert!(
        again.content.contains("no active warnings"),
        "{}",
        again.content
    );

    // The server's defaults: warnings count for 2 hours, and nobody is told.
    let set = w
        .ask(
            &w.admin,
            "config warnings",
            [text("expiry", "2h"), ("dm", OptionValue::Boolean(false))],
        )
        .await;
    assert!(set.content.contains("saved"), "{}", set.content);
    let bob = w.guild.member("bob");
    let warned = w
        .ask(&mia, "warn", [user(&bob), text("reason", "spam")])
        .await;
    assert!(
        warned.content.contains("stops counting"),
        "{}",
        warned.content
    );
    let shown = w.ask(&w.admin, "config show", []).await;
    let fields = shown.embeds[0]["fields"].to_string();
    assert!(fields.contains("after 2 hours"), "{fields}");
    modlog.next_message(WAIT).await.unwrap();
    assert!(bob.dms().is_empty(), "DMs are off");
    w.finish().await;
}

/// `!warn @member reason` and `!warnings [@member]` work as their slash forms
/// do, with the permission computed from the author's roles (a message carries
/// none) and the target's roles from the message's mention.
async fn typed_warnings_follow_the_same_rules(w: World) {
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    let seniors = w.guild.role("Seniors", 0);
    w.guild.set_role_position(&mods, 5);
    w.guild.set_role_position(&seniors, 7);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let sam = w.guild.member("sam").with_role(&seniors);
    let say = |who: &Member, text: String| {
        let who = who.clone();
        let general = w.general.clone();
        async move {
            who.says(&general, text).await;
            general.next_message(WAIT).await.expect("an answer").content
        }
    };
    // A member's text commands are one per 3 s (the rest ignored): each round
    // has one command per member.
    let cooldown = || tokio::time::sleep(Duration::from_millis(3_100));
    let warned = say(&mia, format!("!warn {} spamming links", alice.mention())).await;
    assert!(warned.contains("case #1"), "{warned}");
    let dm = alice.next_dm(WAIT).await.expect("told");
    assert!(dm.content.contains("spamming links"), "{}", dm.content);
    let refused = say(&alice, format!("!warn {} nope", mia.mention())).await;
    assert!(refused.contains("Timeout Members"), "{refused}");
    cooldown().await;
    let above = say(&mia, format!("!warn {} nope", sam.mention())).await;
    assert!(above.contains("at or above yours"), "{above}");
    let own = say(&alice, "!warnings".to_owned()).await;
    assert!(
        own.contains("1 active warning") && own.contains("#1"),
        "{own}"
    );
    cooldown().await;
    let usage = say(&mia, format!("!warn {}", alice.mention())).await;
    assert!(usage.contains("Usage: `!warn @member reason`"), "{usage}");
    let others = say(&alice, format!("!warnings {}", mia.mention())).await;
    assert!(others.contains("Timeout Members"), "{others}");
    let store = w.store().await;
    let recorded = store.cases(Id::new(w.guild.id()), None, 10).await.unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    w.finish().await;
}

/// 50 `/warn` for one member, all at once: the answers name cases 1 to 50,
/// each once, and the member has 50 active warnings. (No DMs: Discord lets
/// Keeper post 5 messages per 5 s in one DM channel, and each answer would
/// wait for its DM.)
async fn fifty_warnings_at_once_are_numbered_1_to_50(w: World) {
    let dm = ("dm", OptionValue::Boolean(false));
    w.ask(&w.admin, "config warnings", [dm]).await;
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let warns = (0..50).map(|n| {
        let options = [
            ("user", OptionValue::User(alice.id())),
            ("reason", OptionValue::String(format!("warning {n}"))),
        ];
        w.ask(&mia, "warn", options)
    });
    let answers = futures_util::future::join_all(warns).await;
    let mut numbers: Vec<u64> = answers
        .iter()
        .map(|a| {
            let number = a
                .content
                .split("case #")
                .nth(1)
                .and_then(|rest| rest.split('.').next().and_then(|n| n.parse().ok()));
            number.unwrap_or_else(|| panic!("no case number in {:?}", a.content))
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
    let store = w.store().await;
    let active = store
        .active_warnings(
            Id::new(w.guild.id()),
            Id::new(alice.id()),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(active, 50);
    w.finish().await;
}

/// A warning with an expiry counts until then and not after: in /warnings and
/// in the escalation count (to the second: the store's counting and
/// /warnings' lines are tested with an injected clock).
async fn a_warning_stops_counting_at_its_expiry(w: World) {
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let guild = Id::new(w.guild.id());
    let store = w.store().await;
    let rule = keeper_store::EscalationRule {
        guild_id: guild,
        warnings: 2,
        action: keeper_store::EscalationAction::Timeout,
        duration_secs: Some(3600),
    };
    store.set_escalation(&rule).await.unwrap();
    let user = ("user", OptionValue::User(alice.id()));
    let warn = |reason: &str, expires: Option<&str>| {
        let mut options = vec![user.clone(), ("reason", OptionValue::String(reason.into()))];
        options.extend(expires.map(|e| ("expires", OptionValue::String(e.into()))));
        options
    };

    let first = w.ask(&mia, "warn", warn("brief", Some("2s"))).await;
    assert!(
        first.content.contains("1 active warning"),
        "{}",
        first.content
    );
    let listed = w.ask(&mia, "warnings", [user.clone()]).await;
    assert!(
        listed.content.contains("1 active warning") && listed.content.contains("(active)"),
        "{}",
        listed.content
    );
    let end = store
        .case(guild, 1)
        .await
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    let left = (end - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;

    let listed = w.ask(&mia, "warnings", [user.clone()]).await;
    assert!(
        listed.content.contains("0 active warnings") && listed.content.contains("(expired)"),
        "{}",
        listed.content
    );
    // The expired warning no longer counts: the next one is the first again,
    // and only the one after reaches the rule.
    let second = w.ask(&mia, "warn", warn("two", None)).await;
    assert!(
        second.content.contains("1 active warning") && !second.content.contains("escalation"),
        "{}",
        second.content
    );
    let third = w.ask(&mia, "warn", warn("three", None)).await;
    assert!(
        third.content.contains("2 active warnings") && third.content.contains("case #4 (timeout"),
        "{}",
        third.content
    );
    assert!(alice.is_timed_out());
    store.close().await;
    w.finish().await;
}

/// `/config escalation add 2 timeout 1h`: the second active warning times the
/// member out, as a case of its own in the mod-log; the third does nothing
/// more; revoked warnings stop counting, so reaching 2 again escalates again.
async fn escalation_runs_once_at_the_crossing(w: World) {
    let modlog = w.modlog().await;
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    w.guild.set_role_position(&mods, 2);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let text = |name: &'static str, t: &str| (name, OptionValue::String(t.into()));
    let count = ("count", OptionValue::Integer(2));
    let rule = [
        count.clone(),
        text("action", "timeout"),
        text("duration", "1h"),
    ];
    let added = w.ask(&w.admin, "config escalation add", rule).await;
    assert!(
        added.content.contains("time them out for 1 hour"),
        "{}",
        added.content
    );
    let refused = w
        .ask(
            &w.admin,
            "config escalation add",
            [
                count.clone(),
                text("action", "kick"),
                text("duration", "1h"),
            ],
        )
        .await;
    assert!(
        refused.content.contains("no duration"),
        "{}",
        refused.content
    );
    let list = w.ask(&w.admin, "config escalation list", []).await;
    assert_eq!(
        list.content,
        "At 2 active warnings: time them out for 1 hour."
    );

    let warn = |reason: &'static str| {
        let options = [
            ("user", OptionValue::User(alice.id())),
            text("reason", reason),
        ];
        w.ask(&mia, "warn", options)
    };
    let timeouts = |sim: &Sim| {
        let path = format!("/members/{}", alice.id());
        sim.requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(&path) && r.status < 300)
            .count()
    };
    let first = warn("one").await;
    assert!(!first.content.contains("escalation"), "{}", first.content);
    let second = warn("two").await;
    assert!(
        second
            .content
            .contains("escalation rule: case #3 (timeout for 1 hour)"),
        "{}",
        second.content
    );
    assert!(alice.is_timed_out());
    assert_eq!(timeouts(&w.sim), 1);
    let mut logged = Vec::new();
    while logged.len() < 3 {
        logged.push(modlog.next_message(WAIT).await.expect("logged"));
    }
    let escalated = logged
        .iter()
        .find(|m| m.embeds[0]["title"] == "Case #3 · Timeout")
        .unwrap_or_else(|| panic!("{logged:?}"));
    assert!(
        escalated.embeds[0]["fields"]
            .to_string()
            .contains("automatically (case #2"),
        "{escalated:?}"
    );
    let third = warn("three").await;
    assert!(!third.content.contains("escalation"), "{}", third.content);
    assert_eq!(timeouts(&w.sim), 1, "above the threshold: nothing more");

    for case in [2, 4] {
        w.ask(&mia, "unwarn", [("case", OptionValue::Integer(case))])
            .await;
    }
    let again = warn("again").await;
    assert!(
        again.content.contains("escalation rule: case #6"),
        "{}",
        again.content
    );
    assert_eq!(timeouts(&w.sim), 2, "below, then reached again");
    let removed = w.ask(&w.admin, "config escalation remove", [count]).await;
    assert!(
        removed.content.contains("Nothing happens"),
        "{}",
        removed.content
    );
    w.finish().await;
}

/// A mod-log channel Keeper may not post in: the warning is recorded and the
/// member told all the same, and the moderator's answer says what to fix.
async fn an_unwritable_modlog_is_said_in_the_answer(w: World) {
    let modlog = w.modlog().await;
    modlog.overwrite_role(&w.guild.bot_role(), 0, bits::SEND_MESSAGES);
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let options = [
        ("user", OptionValue::User(alice.id())),
        ("reason", OptionValue::String("spam".into())),
    ];
    let answer = w.ask(&mia, "warn", options).await;
    assert!(
        answer.content.contains("case #1")
            && answer.content.contains("couldn't write it to the mod-log"),
        "{}",
        answer.content
    );
    alice.next_dm(WAIT).await.expect("told all the same");
    assert!(modlog.bot_messages().is_empty());
    w.finish().await;
}

/// Every refusal is a clear private answer, and records nothing: a bad
/// expiry, the moderator themself, a bot, the owner, a member whose highest
/// role is not below the moderator's, someone without Timeout Members.
async fn warning_refusals_record_nothing(w: World) {
    // Made one after the other (a new role moves the others), then placed.
    let mods = w.guild.role("Mods", bits::MODERATE_MEMBERS);
    let seniors = w.guild.role("Seniors", 0);
    w.guild.set_role_position(&mods, 5);
    w.guild.set_role_position(&seniors, 7);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let senior = w.guild.member("sam").with_role(&seniors);
    let user = |id: u64| ("user", OptionValue::User(id));
    let reason = ("reason", OptionValue::String("because".into()));
    let cases = [
        (
            mia.clone(),
            vec![
                user(alice.id()),
                reason.clone(),
                ("expires", OptionValue::String("5y".into())),
            ],
            "not a unit",
        ),
        (
            mia.clone(),
            vec![
                user(alice.id()),
                reason.clone(),
                ("expires", OptionValue::String("0m".into())),
            ],
            "longer than zero",
        ),
        (
            mia.clone(),
            vec![user(mia.id()), reason.clone()],
            "yourself",
        ),
        (
            mia.clone(),
            vec![user(w.sim.bot_id()), reason.clone()],
            "Bots",
        ),
        (
            mia.clone(),
            vec![user(w.guild.owner().id()), reason.clone()],
            "owner",
        ),
        (
            mia.clone(),
            vec![user(senior.id()), reason.clone()],
            "at or above yours",
        ),
        (
            alice.clone(),
            vec![user(mia.id()), reason.clone()],
            "Timeout Members",
        ),
    ];
    for (who, options, expected) in cases {
        let answer = w.ask(&who, "warn", options).await;
        assert!(answer.ephemeral, "{}", answer.content);
        assert!(
            answer.content.contains(expected),
            "{expected}: {}",
            answer.content
        );
    }
    let store = w.store().await;
    let recorded = store.cases(Id::new(w.guild.id()), None, 10).await.unwrap();
    assert!(recorded.is_empty(), "{recorded:?}");
    assert!(alice.dms().is_empty());
    w.finish().await;
}

/// An admin took Manage Roles from Keeper's role: Keeper still asks (nothing
/// it knows says no), Discord refuses the grant (403, 50013), the mod-log hears
/// it once however many level-ups fail, and once the permission is back the
/// next level-up is granted.
async fn a_grant_discord_refuses_is_reported_once(w: World) {
    let modlog = w.modlog().await;
    let regular = w.guild.role("Regular", 0);
    w.ask(
        &w.admin,
        "levels reward add",
        [
            ("level", OptionValue::Integer(1)),
            ("role", OptionValue::Role(regular.id())),
        ],
    )
    .await;
    let keeper = w.guild.bot_role();
    w.guild.set_role_permissions(
        &keeper,
        discord_sim::DEFAULT_BOT_PERMISSIONS & !bits::MANAGE_ROLES,
    );
    w.fixed_xp(300).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hello").await;
    let report = modlog.next_message(WAIT).await.expect("a mod-log report");
    assert!(
        report.content.contains("couldn't give the level 1 reward")
            && report.content.contains("Manage Roles"),
        "{}",
        report.content
    );
    let refused = |sim: &Sim| {
        sim.requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.route.contains("/roles/") && r.status == 403)
            .count()
    };
    assert_eq!(refused(&w.sim), 1, "Discord was asked, and refused");
    let bob = w.guild.member("bob");
    bob.says(&w.general, "hello").await;
    w.await_xp(bob.id(), 300).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while refused(&w.sim) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob's grant was never tried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        modlog.next_message(Duration::from_secs(2)).await.is_err(),
        "the refusal was reported twice"
    );
    assert!(!alice.has_role(&regular) && !bob.has_role(&regular));

    w.guild
        .set_role_permissions(&keeper, discord_sim::DEFAULT_BOT_PERMISSIONS);
    let carol = w.guild.member("carol");
    carol.says(&w.general, "hello").await;
    await_role(&carol, &regular).await;
    w.finish().await;
}

async fn level_rewards_are_granted_and_failures_reported_once(w: World) {
    let modlog = w.modlog().await;
    let regular = w.guild.role("Regular", 0);
    let staff = w.guild.role("Staff", 0);
    let level = |n| ("level", OptionValue::Integer(n));
    let added = w
        .ask(
            &w.admin,
            "levels reward add",
            [level(1), ("role", OptionValue::Role(regular.id()))],
        )
        .await;
    assert!(
        added.content.contains(&regular.mention()),
        "{}",
        added.content
    );
    w.ask(
        &w.admin,
        "levels reward add",
        [level(2), ("role", OptionValue::Role(staff.id()))],
    )
    .await;
    let everyone = w
        .ask(
            &w.admin,
            "levels reward add",
            [level(3), ("role", OptionValue::Role(w.guild.id()))],
        )
        .await;
    assert!(
        everyone.content.contains("@everyone"),
        "{}",
        everyone.content
    );
    let list = w.ask(&w.admin, "levels rewards", []).await;
    assert!(
        list.content
            .contains(&format!("Level 1: {}", regular.mention()))
            && list
                .content
                .contains(&format!("Level 2: {}", staff.mention()))
            && !list.content.contains("Level 3"),
        "{}",
        list.content
    );
    assert!(
        list.mention_roles.is_empty(),
        "listing rewards pings no role"
    );

    // Staff is moved above the bot's role after it became a reward: Discord
    // would refuse it (50013), so Keeper does not ask; the mod-log hears it once.
    w.guild.set_role_position(&staff, 1_000);
    // 300 XP in one message: level 0 -> 2, so both rewards are due.
    w.fixed_xp(300).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hello").await;
    await_role(&alice, &regular).await;
    let report = modlog.next_message(WAIT).await.expect("a mod-log report");
    assert!(report.content.contains("level 2"), "{}", report.content);
    assert!(
        report.content.contains("not below my highest role"),
        "{}",
        report.content
    );
    assert!(report.mention_roles.is_empty(), "the report pings nobody");
    assert!(!alice.has_role(&staff));

    let bob = w.guild.member("bob");
    bob.says(&w.general, "hello").await;
    await_role(&bob, &regular).await;
    w.await_xp(bob.id(), 300).await;
    // Bob's Staff attempt failed too, after his Regular grant; give a repeat report
    // time to show up, then check there is none.
    assert!(
        modlog.next_message(Duration::from_secs(2)).await.is_err(),
        "the failure was reported twice"
    );

    let removed = w.ask(&w.admin, "levels reward remove", [level(1)]).await;
    assert!(
        removed.content.contains("no longer gives"),
        "{}",
        removed.content
    );
    let none = w.ask(&w.admin, "levels reward remove", [level(1)]).await;
    assert!(
        none.content.contains("There was no reward"),
        "{}",
        none.content
    );
    // The removal takes effect at once (rewards are cached between level-ups).
    let list = w.ask(&w.admin, "levels rewards", []).await;
    assert!(!list.content.contains("Level 1"), "{}", list.content);
    let carol = w.guild.member("carol");
    let before = w.general.bot_messages().len();
    carol.says(&w.general, "hello").await;
    w.await_xp(carol.id(), 300).await;
    // Rewards are granted before the level-up is announced: once it is out,
    // carol's grants were decided.
    let deadline = tokio::time::Instant::now() + WAIT;
    while w.general.bot_messages().len() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no level-up for carol"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!carol.has_role(&regular), "a removed reward was granted");
    let refused = w.ask(&bob, "levels rewards", []).await;
    assert!(
        refused.content.contains("Manage Server"),
        "{}",
        refused.content
    );
    w.finish().await;
}

/// Many members levelling up at once in one channel: every one is announced, once,
/// pinging only the members named, in fewer messages than level-ups (Discord allows
/// about five messages per five seconds in a channel).
async fn a_burst_of_level_ups_shares_messages(w: World) {
    const MEMBERS: usize = 40;
    w.fixed_xp(100).await;
    let members: Vec<Member> = (0..MEMBERS)
        .map(|i| w.guild.member(&format!("member{i}")))
        .collect();
    for m in &members {
        m.says(&w.general, "hello").await;
    }
    let mut announced: Vec<u64> = Vec::new();
    let mut messages = 0;
    while announced.len() < MEMBERS {
        let post = next_post(&w.general).await;
        messages += 1;
        let named: Vec<u64> = members
            .iter()
            .filter(|m| post.content.contains(&m.mention()))
            .map(Member::id)
            .collect();
        let mut pinged = post.mentions.clone();
        pinged.sort_unstable();
        let mut expected = named.clone();
        expected.sort_unstable();
        assert_eq!(
            pinged, expected,
            "pings exactly the members named: {}",
            post.content
        );
        assert!(!post.mention_everyone);
        assert!(post.content.chars().count() <= 2_000);
        assert_eq!(
            post.content.lines().count(),
            named.len(),
            "one line per level-up: {}",
            post.content
        );
        assert!(
            post.content.lines().all(|l| l.contains("level 1")),
            "{}",
            post.content
        );
        announced.extend(named);
    }
    announced.sort_unstable();
    let mut all: Vec<u64> = members.iter().map(Member::id).collect();
    all.sort_unstable();
    assert_eq!(announced, all, "everyone announced, once");
    assert!(
        messages < MEMBERS,
        "{messages} messages for {MEMBERS} level-ups"
    );
    assert!(
        w.general
            .next_message(Duration::from_secs(1))
            .await
            .is_err(),
        "nothing announced twice"
    );
    w.finish().await;
}

/// Awards still buffered at shutdown are written by the last flush; a level-up in
/// that write still gets its reward role and its announcement before Keeper exits.
async fn level_ups_in_the_last_write_are_rewarded(db: Db) {
    // A flush interval of an hour: the write at shutdown is the only one.
    let mut w = World::with_args(db, |_| vec!["--xp-flush-ms=3600000".to_owned()]).await;
    let regular = w.guild.role("Regular", 0);
    w.ask(
        &w.admin,
        "levels reward add",
        [
            ("level", OptionValue::Integer(1)),
            ("role", OptionValue::Role(regular.id())),
        ],
    )
    .await;
    w.fixed_xp(100).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hello").await;
    // A shard handles its events in order and buffers an award before reading the
    // next event: once this later command is answered, alice's award is buffered.
    w.ask(&w.admin, "rank", []).await;
    assert_eq!(
        w.stored(alice.id()).await,
        (0, 0),
        "written before shutdown"
    );
    assert!(!alice.has_role(&regular));

    w.stop_bot().await;
    assert_eq!(w.stored(alice.id()).await, (100, 1), "the last write");
    assert!(
        alice.has_role(&regular),
        "the reward of a level-up in the last write"
    );
    let post = next_post(&w.general).await;
    assert!(
        post.content.contains(&alice.mention()) && post.content.contains("level 1"),
        "{}",
        post.content
    );
    w.finish().await;
}

async fn level_up_announcements_follow_the_setting(w: World) {
    let levels = w.guild.text_channel("levels");
    let set = w
        .ask(
            &w.admin,
            "config levelup set",
            [
                ("channel", OptionValue::Channel(levels.id())),
                (
                    "message",
                    OptionValue::String("{user} hit {level} @everyone".into()),
                ),
            ],
        )
        .await;
    assert!(set.content.contains(&levels.mention()), "{}", set.content);
    w.fixed_xp(100).await;
    let alice = w.guild.member("alice");
    alice.says(&w.general, "hi").await;
    let announced = levels.next_message(WAIT).await.expect("the level-up");
    assert_eq!(
        announced.content,
        format!("{} hit 1 @everyone", alice.mention())
    );
    assert_eq!(announced.mentions, vec![alice.id()]);
    assert!(
        !announced.mention_everyone,
        "a template can't ping @everyone"
    );

    let off = w.ask(&w.admin, "config levelup off", []).await;
    assert!(off.content.contains("no longer"), "{}", off.content);
    let in_general = w.general.bot_messages().len();
    alice.says(&w.general, "hi again").await; // 200 XP: still level 1
    alice.says(&w.general, "and again").await; // 300 XP: level 2, not announced
    w.await_xp(alice.id(), 300).await;
    assert!(
        levels.next_message(Duration::from_secs(2)).await.is_err(),
        "announced although off"
    );
    assert_eq!(
        w.general.bot_messages().len(),
        in_general,
        "announced in #general"
    );
    w.finish().await;
}

/// A rank card as RGB pixels, checked to be the card's size.
fn card_pixels(message: &discord_sim::SentMessage) -> Vec<[u8; 3]> {
    let [file] = message.attachments.as_slice() else {
        panic!("one card attached: {:?}", message.attachments.len());
    };
    assert_eq!(file.filename, "rank.png");
    let embed = &message.embeds[0];
    assert_eq!(embed["image"]["url"], "attachment://rank.png", "{embed}");
    let mut reader = png::Decoder::new(std::io::Cursor::new(file.data.as_slice()))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("its size")];
    let info = reader.next_frame(&mut buf).expect("its pixels");
    assert_eq!(
        (info.width, info.height),
        (keeper::card::WIDTH, keeper::card::HEIGHT)
    );
    let step = info.color_type.samples();
    buf.chunks(step).map(|p| [p[0], p[1], p[2]]).collect()
}

/// Pixels within a small distance of `rgb`.
fn near(pixels: &[[u8; 3]], rgb: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 6))
        .count()
}

/// `/rank` and `!rank` answer with a card over the same facts: the member's
/// avatar from the CDN (their initials when it is slow), the guild's accent,
/// and text only when the guild turned cards off.
async fn rank_cards_show_the_member_and_follow_the_setting(w: World) {
    const CRIMSON: [u8; 3] = [220, 20, 60];
    const TEAL: [u8; 3] = [0, 128, 128];
    const ORANGE: [u8; 3] = [0xFF, 0x88, 0x00];
    w.fixed_xp(50).await;
    let alice = w.guild.member("alice").with_avatar(CRIMSON);
    for _ in 0..3 {
        alice.says(&w.general, "hi").await;
    }
    w.await_xp(alice.id(), 150).await;

    let card = w
        .ask(&w.admin, "rank", [("user", OptionValue::User(alice.id()))])
        .await;
    let fields = card.embeds[0]["fields"].to_string();
    assert!(
        fields.contains("\"Total XP\",\"value\":\"150\""),
        "{fields}"
    );
    let pixels = card_pixels(&card);
    assert!(
        near(&pixels, CRIMSON) > 10_000,
        "alice's avatar is on her card ({} crimson pixels)",
        near(&pixels, CRIMSON)
    );
    let asked = w.sim.cdn_requests();
    assert!(asked >= 1);

    // The guild's colour; the avatar comes from the cache now.
    w.ask(
        &w.admin,
        "config rankcard on",
        [("accent", OptionValue::String("#FF8800".into()))],
    )
    .await;
    let card = w
        .ask(&w.admin, "rank", [("user", OptionValue::User(alice.id()))])
        .await;
    let pixels = card_pixels(&card);
    assert!(near(&pixels, ORANGE) > 1_000, "{}", near(&pixels, ORANGE));
    assert!(near(&pixels, CRIMSON) > 10_000);
    assert_eq!(
        w.sim.cdn_requests(),
        asked,
        "a cached avatar is not fetched again"
    );

    // A slow CDN: the card is drawn with initials, in time.
    let bob = w.guild.member("bob").with_avatar(TEAL);
    bob.says(&w.general, "hello").await;
    w.await_xp(bob.id(), 50).await;
    w.sim.delay_cdn(Duration::from_secs(2));
    let card = bob
        .runs(&w.general, "rank", [])
        .await
        .message(WAIT)
        .await
        .unwrap();
    let pixels = card_pixels(&card);
    assert_eq!(
        near(&pixels, TEAL),
        0,
        "bob's avatar came too late to be drawn"
    );
    assert!(
        near(&pixels, ORANGE) > 1_000,
        "his initials' disc is in the accent"
    );
    w.sim.delay_cdn(Duration::ZERO);

    // The text form gets the card too.
    alice.says(&w.general, "!rank").await;
    let answer = loop {
        let post = next_post(&w.general).await;
        if !post.attachments.is_empty() {
            break post;
        }
    };
    assert!(near(&card_pixels(&answer), CRIMSON) > 10_000);

    // Off: the same facts, no image.
    w.ask(&w.admin, "config rankcard off", []).await;
    let text_only = w
        .ask(&w.admin, "rank", [("user", OptionValue::User(alice.id()))])
        .await;
    assert!(text_only.attachments.is_empty());
    assert!(
        text_only.embeds[0]["image"].is_null(),
        "{}",
        text_only.embeds[0]
    );
    let names = |m: &discord_sim::SentMessage| -> Vec<String> {
        m.embeds[0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].to_string())
            .collect()
    };
    assert_eq!(names(&text_only), names(&card), "the same facts either way");
    w.finish().await;
}

async fn config_show_and_refusals(w: World) {
    let modlog = w.modlog().await;
    let xp = |name, n| (name, OptionValue::Integer(n));
    let saved = w.ask(&w.admin, "config xp", [xp("cooldown", 30)]).await;
    assert!(saved.content.contains("saved"), "{}", saved.content);
    let shown = w.ask(&w.admin, "config show", []).await;
    assert!(shown.ephemeral);
    let text = serde_json::to_string(&shown.embeds).unwrap();
    assert!(text.contains(&modlog.mention()), "{text}");
    assert!(text.contains("30"), "{text}");
    assert!(text.contains("15") && text.contains("25"), "{text}");

    let bad = |v: &str| ("prefix", OptionValue::String(v.into()));
    for wrong in ["a b", "<@1>", "toolongprefix"] {
        let answer = w.ask(&w.admin, "config prefix", [bad(wrong)]).await;
        assert!(answer.ephemeral);
        assert!(
            !answer.content.contains("now start"),
            "{wrong}: {}",
            answer.content
        );
    }
    let inverted = w
        .ask(&w.admin, "config xp", [xp("min", 30), xp("max", 10)])
        .await;
    assert!(!inverted.content.contains("saved"), "{}", inverted.content);
    let store = w.store().await;
    let settings = store.settings(Id::new(w.guild.id())).await.unwrap();
    assert_eq!(
        (
            settings.prefix.as_str(),
            settings.xp_min,
            settings.xp_max,
            settings.xp_cooldown_secs
        ),
        ("!", 15, 25, 30),
        "refused changes wrote nothing"
    );
    store.close().await;

    let off = w.ask(&w.admin, "config modlog", []).await;
    assert!(off.content.contains("off"), "{}", off.content);
    w.finish().await;
}

/// The database goes away for 20 s while members chat and an admin works: the
/// bot stays up, commands that need the database get the clear answer, and every
/// message is counted once it is back. A server (PostgreSQL, MySQL) is cut off
/// by a proxy (as when the server stops); SQLite is held by another process's
/// exclusive lock, the way it is unavailable in practice.
async fn database_outage_keeps_the_bot_up_and_loses_nothing(db: Db) {
    let w = World::with_proxy(db).await;
    w.fixed_xp(10).await;
    let alice = w.guild.member("alice");
    let bob = w.guild.member("bob");
    for _ in 0..5 {
        alice.says(&w.general, "before").await;
    }
    w.await_xp(alice.id(), 50).await;

    let started = tokio::time::Instant::now();
    let outage = common::Outage::Down.begin(w.proxy.as_ref(), &w.url).await;
    for _ in 0..10 {
        alice.says(&w.general, "during").await;
    }
    for _ in 0..5 {
        bob.says(&w.general, "during").await;
    }
    let user = ("user", OptionValue::User(alice.id()));
    // The command first writes the pending awards, which waits out the database's
    // timeouts (SQLite's busy timeout behind the flusher's own attempt): the answer
    // is deferred, then given.
    let answer = w
        .admin
        .runs(
            &w.general,
            "xp add",
            [user.clone(), ("amount", OptionValue::Integer(100))],
        )
        .await
        .message(Duration::from_secs(40))
        .await
        .unwrap();
    assert_eq!(answer.content, keeper::error::DATABASE_DOWN);
    assert!(answer.ephemeral);
    // Cut off, a server answers no read either (SQLite's lock lets reads by).
    if db.is_server() {
        let rank = w.ask(&bob, "rank", []).await;
        assert_eq!(rank.content, keeper::error::DATABASE_DOWN);
    }
    let bot = w.bot.as_ref().unwrap();
    tokio::time::sleep_until(started + Duration::from_secs(20)).await;
    assert!(!bot.task.is_finished(), "the bot stopped during the outage");

    outage.end(w.proxy.as_ref()).await;
    w.await_xp(alice.id(), 150).await;
    w.await_xp(bob.id(), 50).await;
    assert_eq!(w.stored(alice.id()).await, (150, 15), "counted once");
    let answer = w
        .ask(
            &w.admin,
            "xp add",
            [user, ("amount", OptionValue::Integer(100))],
        )
        .await;
    assert!(answer.content.contains("250 XP"), "{}", answer.content);
    w.finish().await;
}

/// The database goes silent (a server behind a black hole: connections stay
/// open, nothing answers; SQLite write-locked by another process) before a guild
/// has said anything, then members chat for longer than the gateway's heartbeat
/// timeout. The shard loop never waits on the database (the guild's rules are in
/// memory), so it keeps heartbeating and the session is never dropped; once the
/// database answers, every message is counted.
async fn a_silent_database_never_stalls_the_gateway(db: Db) {
    let w = World::with_proxy(db).await;
    let outage = common::Outage::Silent.begin(w.proxy.as_ref(), &w.url).await;
    let alice = w.guild.member("alice");
    for i in 0..20 {
        alice.says(&w.general, format!("hello {i}")).await;
    }
    // Behind the 20 messages: a loop that waited on the database for each
    // would take minutes to get here.
    alice.says(&w.general, "!help").await;
    let help = next_post(&w.general).await;
    assert!(help.content.contains("rank"), "{}", help.content);
    // Beyond the simulator's 15 s heartbeat timeout (SimConfig::fast).
    tokio::time::sleep(Duration::from_secs(16)).await;
    let sessions = w.sim.sessions();
    assert_eq!(sessions.len(), 1, "the session was replaced: {sessions:?}");
    assert!(
        sessions[0].connected && sessions[0].attachments == 1,
        "the connection was lost while the database was silent: {sessions:?}"
    );
    outage.end(w.proxy.as_ref()).await;
    // The default rules: the first message earns 15 to 25 XP, the rest fall in
    // its 60 s cooldown; all 21 count.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let (xp, messages) = loop {
        let stored = w.stored(alice.id()).await;
        if stored.1 >= 21 || tokio::time::Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(messages, 21);
    assert!((15..=25).contains(&xp), "{xp}");
    w.finish().await;
}

/// The 3 s answer window counts from when the member ran the command (by the
/// interaction's ID), not from when Keeper got to it: a command delivered 2.5 s
/// late that will take long (its database is away) is deferred at once, and
/// answered by the deferral's edit, instead of failing in the member's client.
async fn a_late_interaction_is_deferred_at_once(db: Db) {
    let w = World::with_proxy(db).await;
    let outage = common::Outage::Down.begin(w.proxy.as_ref(), &w.url).await;
    let user = ("user", OptionValue::User(w.admin.id()));
    let late = w
        .admin
        .runs_delivered_late(
            &w.general,
            "xp add",
            [user, ("amount", OptionValue::Integer(5))],
            Duration::from_millis(2_500),
        )
        .await;
    let answer = late
        .message(Duration::from_secs(40))
        .await
        .expect("answered, not failed");
    assert_eq!(answer.content, keeper::error::DATABASE_DOWN);
    assert!(answer.ephemeral);
    outage.end(w.proxy.as_ref()).await;
    w.finish().await;
}

/// KEEPER_DEV_GUILD registers the commands on that guild only.
async fn dev_guild_gets_the_commands(db: Db) {
    let w = World::with_args(db, |g| vec![format!("--dev-guild={}", g.id())]).await;
    assert!(w.sim.commands(None).is_empty(), "no global commands");
    let names: Vec<String> = w
        .sim
        .commands(Some(w.guild.id()))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    for name in ["config", "rank", "leaderboard", "xp", "levels"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let answer = w.ask(&w.admin, "rank", []).await;
    assert!(!answer.content.is_empty() || !answer.embeds.is_empty());
    w.finish().await;
}

/// Without the privileged intents turned on, Keeper does not ask for them: text
/// commands work by mention, and XP still counts.
async fn intents_follow_the_enabled_features(db: Db) {
    use discord_sim::intents;
    let default = World::new(db).await;
    let asked = default.sim.sessions()[0].intents;
    assert_eq!(
        asked & (intents::MESSAGE_CONTENT | intents::GUILD_MEMBERS),
        intents::MESSAGE_CONTENT | intents::GUILD_MEMBERS
    );
    default.finish().await;

    let w = World::with_args(db, |_| {
        vec![
            "--message-content=false".into(),
            "--member-events=false".into(),
        ]
    })
    .await;
    let asked = w.sim.sessions()[0].intents;
    assert_eq!(
        asked & (intents::MESSAGE_CONTENT | intents::GUILD_MEMBERS),
        0
    );
    assert_ne!(asked & intents::GUILD_MESSAGES, 0);
    w.fixed_xp(10).await;
    let bob = w.guild.member("bob");
    bob.says(&w.general, "!help").await; // content is empty without the intent
    bob.says(&w.general, format!("<@{}> help", w.sim.bot_id()))
        .await;
    let help = next_post(&w.general).await;
    assert!(help.content.contains("rank"), "{}", help.content);
    w.await_xp(bob.id(), 20).await;
    w.finish().await;
}

/// `/timeout`, `/untimeout`, `/kick`, `/ban`, `/unban`: each a case, done at
/// Discord with `Case #N: reason` in the audit log, and in the mod-log.
async fn acts_are_done_at_discord_recorded_and_logged(w: World) {
    let modlog = w.modlog().await;
    let mods = w.guild.role(
        "Mods",
        bits::MODERATE_MEMBERS | bits::KICK_MEMBERS | bits::BAN_MEMBERS,
    );
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let bob = w.guild.member("bob");
    let carl = w.guild.member("carl");
    let user = |m: &Member| ("user", OptionValue::User(m.id()));
    let text = |name: &'static str, t: &str| (name, OptionValue::String(t.into()));

    let timed = w
        .ask(
            &mia,
            "timeout",
            [user(&alice), text("duration", "1h"), text("reason", "spam")],
        )
        .await;
    assert!(
        timed.ephemeral && timed.content.contains("case #1"),
        "{}",
        timed.content
    );
    assert!(alice.is_timed_out(), "{:?}", alice.timed_out_until());
    let logged = modlog.next_message(WAIT).await.expect("case 1 logged");
    assert_eq!(logged.embeds[0]["title"], "Case #1 · Timeout");
    let audit = w.guild.audit_log();
    let last = audit.last().expect("an audit-log entry");
    assert_eq!(last.user_id, w.sim.bot_id());
    assert_eq!(last.reason.as_deref(), Some("Case #1: spam"));

    let untimed = w.ask(&mia, "untimeout", [user(&alice)]).await;
    assert!(untimed.content.contains("case #2"), "{}", untimed.content);
    assert!(!alice.is_timed_out());

    let kicked = w.ask(&mia, "kick", [user(&bob)]).await;
    assert!(kicked.content.contains("case #3"), "{}", kicked.content);
    assert!(!bob.is_member());

    let banned = w
        .ask(
            &mia,
            "ban",
            [
                user(&carl),
                text("delete_messages", "86400"),
                text("reason", "raid"),
            ],
        )
        .await;
    assert!(banned.content.contains("case #4"), "{}", banned.content);
    assert!(w.guild.is_banned(&carl));
    let unbanned = w.ask(&mia, "unban", [user(&carl)]).await;
    assert!(unbanned.content.contains("case #5"), "{}", unbanned.content);
    assert!(!w.guild.is_banned(&carl));

    let store = w.store().await;
    let cases = store.cases(Id::new(w.guild.id()), None, 10).await.unwrap();
    assert_eq!(cases.len(), 5);
    assert!(
        cases
            .iter()
            .all(|c| c.action_status == keeper_store::ActionStatus::Done),
        "{cases:?}"
    );
    store.close().await;
    for _ in 2..=5 {
        modlog.next_message(WAIT).await.expect("each case logged");
    }
    w.finish().await;
}

/// Bans and timeouts made in Discord's own menus are recorded as cases, with
/// the moderator and reason from the audit log while Keeper may read it
/// ("unknown" when not), and posted to the mod-log; Keeper's own acts, which
/// come back as the same events, are not recorded twice.
async fn acts_in_discords_menus_are_recorded_once(w: World) {
    let modlog = w.modlog().await;
    let mods = w
        .guild
        .role("Mods", bits::MODERATE_MEMBERS | bits::BAN_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let [alice, bob, carl, dave, erin, frank] =
        ["alice", "bob", "carl", "dave", "erin", "frank"].map(|name| w.guild.member(name));
    let guild = Id::new(w.guild.id());
    let store = w.store().await;
    let logged = |number: i64| {
        let modlog = &modlog;
        async move {
            let message = modlog.next_message(WAIT).await.expect("a case logged");
            let embed = &message.embeds[0];
            assert!(
                embed["title"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("Case #{number} ")),
                "{embed}"
            );
            embed.to_string()
        }
    };

    w.guild.ban_by(&mia, &carl, Some("raid"));
    let embed = logged(1).await;
    assert!(
        embed.contains(&format!("<@{}>, in Discord's menus", mia.id())),
        "{embed}"
    );
    assert!(embed.contains("raid"), "{embed}");
    let ban = store.case(guild, 1).await.unwrap().expect("case 1");
    assert_eq!(
        (
            ban.kind,
            ban.source,
            ban.moderator_id,
            ban.reason.as_deref()
        ),
        (
            keeper_store::CaseKind::Ban,
            keeper_store::CaseSource::Discord,
            Some(Id::new(mia.id())),
            Some("raid")
        )
    );
    w.guild.unban_by(&mia, &carl, None);
    logged(2).await;
    assert_eq!(
        store.case(guild, 2).await.unwrap().map(|c| c.kind),
        Some(keeper_store::CaseKind::Unban)
    );

    let until = chrono::Utc::now() + chrono::Duration::minutes(10);
    w.guild.timeout_by(&mia, &alice, until, Some("cool off"));
    logged(3).await;
    let timeout = store.case(guild, 3).await.unwrap().expect("case 3");
    assert_eq!(timeout.kind, keeper_store::CaseKind::Timeout);
    let end = timeout.expires_at.expect("its end");
    assert!(
        (end - until).num_milliseconds().abs() < 1000,
        "{end} for {until}"
    );
    assert_eq!(timeout.reason.as_deref(), Some("cool off"));
    w.guild.untimeout_by(&mia, &alice, None);
    logged(4).await;
    assert_eq!(
        store.case(guild, 4).await.unwrap().map(|c| c.kind),
        Some(keeper_store::CaseKind::Untimeout)
    );

    // Keeper's own acts come back as GUILD_BAN_ADD and a member update.
    let user = |m: &Member| ("user", OptionValue::User(m.id()));
    let banned = w.ask(&mia, "ban", [user(&bob)]).await;
    assert!(banned.content.contains("case #5"), "{}", banned.content);
    logged(5).await;
    let duration = ("duration", OptionValue::String("1h".into()));
    let timed = w.ask(&mia, "timeout", [user(&dave), duration]).await;
    assert!(timed.content.contains("case #6"), "{}", timed.content);
    logged(6).await;
    // Acts are recorded in gateway order: the next one being #7 shows the
    // echoes before it recorded nothing.
    w.guild.ban_by(&mia, &erin, None);
    logged(7).await;

    // Without View Audit Log the moderator is unknown.
    w.guild
        .set_bot_permissions(discord_sim::DEFAULT_BOT_PERMISSIONS & !bits::VIEW_AUDIT_LOG);
    w.guild.ban_by(&mia, &frank, Some("unseen"));
    let embed = logged(8).await;
    assert!(embed.contains("unknown, in Discord's menus"), "{embed}");
    let unknown = store.case(guild, 8).await.unwrap().expect("case 8");
    assert_eq!((unknown.moderator_id, unknown.reason), (None, None));
    assert_eq!(store.cases(guild, None, 20).await.unwrap().len(), 8);
    store.close().await;
    w.finish().await;
}

/// A refused act (a bad duration, a target Keeper can't reach) records and
/// sends nothing; an act Discord refuses stays recorded as failed, and the
/// answer says so.
async fn act_refusals_record_nothing_and_discord_refusals_are_kept(w: World) {
    let mods = w.guild.role(
        "Mods",
        bits::MODERATE_MEMBERS | bits::KICK_MEMBERS | bits::BAN_MEMBERS,
    );
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let alice = w.guild.member("alice");
    let user = |id: u64| ("user", OptionValue::User(id));
    let long = ("duration", OptionValue::String("29d".into()));
    let answer = w.ask(&mia, "timeout", [user(alice.id()), long]).await;
    assert!(answer.content.contains("28 days"), "{}", answer.content);
    let answer = w.ask(&alice, "kick", [user(mia.id())]).await;
    assert!(
        answer.content.contains("Kick Members"),
        "{}",
        answer.content
    );
    let answer = w.ask(&mia, "ban", [user(mia.id())]).await;
    assert!(answer.content.contains("yourself"), "{}", answer.content);
    assert!(w.guild.audit_log().is_empty(), "nothing sent to Discord");
    let store = w.store().await;
    let guild = Id::new(w.guild.id());
    assert!(store.cases(guild, None, 10).await.unwrap().is_empty());

    w.guild.set_bot_permissions(0);
    let answer = w.ask(&mia, "kick", [user(alice.id())]).await;
    assert!(
        answer.content.contains("Case #1") && answer.content.contains("Discord refused"),
        "{}",
        answer.content
    );
    assert!(alice.is_member());
    let case = store.case(guild, 1).await.unwrap().expect("kept");
    assert_eq!(case.action_status, keeper_store::ActionStatus::Failed);
    store.close().await;
    w.finish().await;
}

/// A temporary ban that ends while Keeper is stopped is lifted when it starts
/// again, once, and its mod-log message is edited.
async fn a_temporary_ban_ending_while_keeper_is_down_is_lifted_at_start(mut w: World) {
    let (modlog, carl, logged) = temporary_ban(&w, "3s").await;
    w.stop_bot().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        w.guild.is_banned(&carl),
        "nobody lifts it while Keeper is down"
    );
    w.start_bot().await;
    lifted_once(&w, &modlog, &carl, logged.id).await;
    w.finish().await;
}

/// A ban of 2 s is lifted at Discord when it ends, once, and its mod-log
/// message is edited to show the lift.
async fn a_temporary_ban_is_lifted_and_logged(w: World) {
    let (modlog, carl, logged) = temporary_ban(&w, "2s").await;
    lifted_once(&w, &modlog, &carl, logged.id).await;
    w.finish().await;
}

/// A moderator bans carl for `duration`: the mod-log, carl, and the case's
/// mod-log message.
async fn temporary_ban(w: &World, duration: &str) -> (Channel, Member, discord_sim::SentMessage) {
    let modlog = w.modlog().await;
    let mods = w.guild.role("Mods", bits::BAN_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let carl = w.guild.member("carl");
    let options = [
        ("user", OptionValue::User(carl.id())),
        ("duration", OptionValue::String(duration.into())),
    ];
    let banned = w.ask(&mia, "ban", options).await;
    assert!(banned.content.contains("case #1"), "{}", banned.content);
    assert!(w.guild.is_banned(&carl));
    let logged = modlog.next_message(WAIT).await.expect("the ban logged");
    (modlog, carl, logged)
}

/// Case #1, carl's temporary ban, is lifted at Discord once, recorded as
/// lifted, and its mod-log message (`logged`) edited to say so.
async fn lifted_once(w: &World, modlog: &Channel, carl: &Member, logged: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while w.guild.is_banned(carl) {
        assert!(tokio::time::Instant::now() < deadline, "never lifted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = edited(modlog, logged, 1).await;
    assert!(
        now.embeds[0]["fields"].to_string().contains("Lifted"),
        "{:?}",
        now.embeds
    );
    let store = w.store().await;
    let ban = store
        .case(Id::new(w.guild.id()), 1)
        .await
        .unwrap()
        .expect("the ban");
    assert_eq!(ban.lift_status, Some(keeper_store::LiftStatus::Lifted));
    store.close().await;
    // Time for a second lift, were there one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let unbans = w
        .guild
        .audit_log()
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Case #1: temporary ban ended"))
        .count();
    assert_eq!(unbans, 1, "lifted once");
}

/// A case recorded pending but never answered by Discord (a crash between
/// the two) is carried out once when the bot starts.
async fn acts_left_pending_are_carried_out_at_start(mut w: World) {
    let alice = w.guild.member("alice");
    w.stop_bot().await;
    let store = w.store().await;
    let guild = Id::new(w.guild.id());
    let mut kick = keeper_store::NewCase::new(
        guild,
        Id::new(alice.id()),
        Id::new(w.admin.id()),
        keeper_store::CaseKind::Kick,
        chrono::Utc::now(),
    );
    kick.reason = Some("left over".into());
    store.add_case(&kick, None).await.unwrap();
    w.start_bot().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let case = store.case(guild, 1).await.unwrap().expect("the kick");
        if case.action_status == keeper_store::ActionStatus::Done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never done: {case:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!alice.is_member());
    let kicks = w
        .guild
        .audit_log()
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Case #1: left over"))
        .count();
    assert_eq!(kicks, 1, "carried out once");
    store.close().await;
    w.finish().await;
}

/// `/unban` before a temporary ban ends drops its scheduled lift.
async fn an_unban_drops_the_lift_of_a_temporary_ban(w: World) {
    let mods = w.guild.role("Mods", bits::BAN_MEMBERS);
    w.guild.set_role_position(&mods, 5);
    let mia = w.guild.member("mia").with_role(&mods);
    let carl = w.guild.member("carl");
    let user = ("user", OptionValue::User(carl.id()));
    let long = ("duration", OptionValue::String("1h".into()));
    let banned = w.ask(&mia, "ban", [user.clone(), long]).await;
    assert!(banned.content.contains("case #1"), "{}", banned.content);
    let store = w.store().await;
    let guild = Id::new(w.guild.id());
    let ban = store.case(guild, 1).await.unwrap().expect("the ban");
    assert_eq!(ban.lift_status, Some(keeper_store::LiftStatus::Scheduled));
    let unbanned = w.ask(&mia, "unban", [user]).await;
    assert!(unbanned.content.contains("case #2"), "{}", unbanned.content);
    assert!(!w.guild.is_banned(&carl));
    let ban = store.case(guild, 1).await.unwrap().expect("the ban");
    assert_ne!(ban.lift_status, Some(keeper_store::LiftStatus::Scheduled));
    assert_eq!(store.next_lift_at().await.unwrap(), None);
    store.close().await;
    w.finish().await;
}

/// Removed from a guild (GUILD_DELETE without `unavailable`), Keeper keeps its
/// data for KEEPER_GUILD_RETENTION (2 s here), then deletes all of it: the
/// settings and members' XP go from the database, and the left guild with
/// them; another guild's data stays.
async fn a_guild_keeper_was_removed_from_is_purged_after_retention(db: Db) {
    let w = World::with_args(db, |_| vec!["--guild-retention=2s".into()]).await;
    w.fixed_xp(10).await;
    let member = w.guild.member("chatty");
    member.says(&w.general, "hello").await;
    w.await_xp(member.id(), 10).await;
    let other = w.sim.guild("Other Guild").await;
    let stays = other.member("stays");
    let other_general = other.text_channel("general");
    stays.says(&other_general, "hi").await;
    let store = w.store().await;
    let guild = Id::new(w.guild.id());
    let deadline = tokio::time::Instant::now() + WAIT;
    while store
        .member_rank(Id::new(other.id()), Id::new(stays.id()))
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other guild's member earned nothing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        store
            .all_settings()
            .await
            .unwrap()
            .iter()
            .any(|s| s.guild_id == guild)
    );

    w.guild.remove_bot();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let settings = store.all_settings().await.unwrap();
        let xp = store
            .member_rank(guild, Id::new(member.id()))
            .await
            .unwrap();
        let facts = store.all_guilds().await.unwrap();
        if !settings.iter().any(|s| s.guild_id == guild)
            && xp.is_none()
            && !facts.iter().any(|f| f.guild_id == guild)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guild's data is still there: settings {}, xp {xp:?}, facts {}",
            settings.iter().any(|s| s.guild_id == guild),
            facts.iter().any(|f| f.guild_id == guild)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = store
        .member_rank(Id::new(other.id()), Id::new(stays.id()))
        .await
        .unwrap();
    assert!(kept.is_some(), "another guild's data stays");
    store.close().await;
    w.finish().await;
}
