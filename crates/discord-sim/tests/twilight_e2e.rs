//! A minimal twilight 0.18 client against the simulator: 1 and 4 shards,
//! faults with RESUME replay, and a slash command answered through
//! twilight-http. Every event must parse with twilight-model.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::WAIT;
use common::bot::{self, Report, intents, start_shards, until};
use discord_sim::permissions::bits;
use discord_sim::{Action, Sim, SimConfig};
use twilight_gateway::Event;
use twilight_model::application::command::{
    Command, CommandOption, CommandOptionType, CommandType,
};
use twilight_model::application::interaction::InteractionData;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;

#[tokio::test]
async fn one_shard_receives_ready_guild_and_messages() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let (mut rx, _tasks) = start_shards(&sim, 1, intents());

    let ready = until(&mut rx, "READY", |_, e| match e {
        Event::Ready(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready.user.id.get(), sim.bot_id());
    assert_eq!(ready.guilds.len(), 1);
    let created = until(&mut rx, "GUILD_CREATE", |_, e| match e {
        Event::GuildCreate(g) => Some(g.id()),
        _ => None,
    })
    .await;
    assert_eq!(created.get(), guild.id());

    alice.says(&general, "hello").await;
    let msg = until(&mut rx, "MESSAGE_CREATE", |_, e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(msg.content, "hello");
    assert_eq!(msg.author.id.get(), alice.id());
    assert_eq!(msg.channel_id.get(), general.id());

    // A member joining reaches a bot with GUILD_MEMBERS.
    let carol = sim.user("carol");
    carol.joins(&guild).await;
    let joined = until(&mut rx, "GUILD_MEMBER_ADD", |_, e| match e {
        Event::MemberAdd(m) => Some(m.user.id.get()),
        _ => None,
    })
    .await;
    assert_eq!(joined, carol.id());
}

#[tokio::test]
async fn four_shards_each_get_their_guilds() {
    // Unpaced: each shard of this minimal client has a queue of its own, so
    // the four identify at once (Keeper's process tests run paced).
    let sim = Sim::with_config(
        SimConfig {
            shards: 4,
            ..SimConfig::fast()
        }
        .unpaced(),
    )
    .await;
    let mut guilds = Vec::new();
    for i in 0..8 {
        guilds.push(sim.guild(&format!("g{i}")).await.id());
    }
    let (mut rx, _tasks) = start_shards(&sim, 4, intents());
    let mut seen = HashSet::new();
    let mut readies = 0;
    while seen.len() < guilds.len() || readies < 4 {
        let (shard, guild) = until(&mut rx, "GUILD_CREATE on every shard", |shard, e| match e {
            Event::GuildCreate(g) => Some((shard, Some(g.id().get()))),
            Event::Ready(_) => Some((shard, None)),
            _ => None,
        })
        .await;
        match guild {
            None => readies += 1,
            Some(g) => {
                assert_eq!(
                    (g >> 22) % 4,
                    u64::from(shard),
                    "guild {g} on shard {shard}"
                );
                assert!(seen.insert(g), "guild {g} created twice");
            }
        }
    }
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 4);
    let shards: HashSet<u32> = sessions.iter().map(|s| s.shard[0]).collect();
    assert_eq!(shards, (0..4).collect());
}

/// A fault injected from the scenario API.
type Fault = Box<dyn Fn(&Sim)>;

/// Say `n` numbered messages.
async fn say_numbered(
    alice: &discord_sim::Member,
    ch: &discord_sim::Channel,
    range: std::ops::Range<u32>,
) {
    for i in range {
        alice.says(ch, format!("m{i}")).await;
    }
}

#[tokio::test]
async fn survives_reconnect_invalid_session_drop_and_restart_without_loss() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let alice = guild.member("alice");
    let (mut rx, _tasks) = bot::one_shard_in_a_guild(&sim).await;

    let mut next = 0;
    let faults: [(&str, Fault); 4] = [
        ("op 7", Box::new(|s: &Sim| s.send_reconnect())),
        (
            "op 9 resumable",
            Box::new(|s: &Sim| s.send_invalid_session(true)),
        ),
        ("drop", Box::new(|s: &Sim| s.disconnect_all())),
        (
            "delayed ACKs",
            Box::new(|s: &Sim| s.delay_heartbeat_acks(Duration::from_secs(4))),
        ),
    ];
    for (name, fault) in &faults {
        say_numbered(&alice, &general, next..next + 5).await;
        next += 5;
        let before = sim.sessions()[0].attachments;
        fault(&sim);
        // Messages while the client is away are replayed on RESUME.
        say_numbered(&alice, &general, next..next + 5).await;
        next += 5;
        sim.wait_sessions(WAIT, |s| {
            s.len() == 1 && s[0].connected && s[0].attachments > before
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        sim.delay_heartbeat_acks(Duration::ZERO);
    }
    sim.restart().await;
    say_numbered(&alice, &general, next..next + 5).await;
    next += 5;
    alice.says(&general, "end").await;

    let mut contents = Vec::new();
    let mut readies = 0;
    let mut resumed = 0;
    loop {
        let item = until(&mut rx, "all messages", |_, e| match e {
            Event::MessageCreate(m) => Some(Some(m.content.clone())),
            Event::Ready(_) => Some(None),
            Event::Resumed => Some(Some(String::new())),
            _ => None,
        })
        .await;
        match item {
            None => readies += 1,
            Some(s) if s.is_empty() => resumed += 1,
            Some(s) if s == "end" => break,
            Some(s) => contents.push(s),
        }
    }
    let expected: Vec<String> = (0..next).map(|i| format!("m{i}")).collect();
    assert_eq!(contents, expected, "every event exactly once, in order");
    assert_eq!(readies, 0, "the session was resumed, never re-identified");
    assert!(resumed >= 4, "RESUMED after each fault, got {resumed}");
    let counts = sim.gateway_counts();
    assert_eq!(
        counts.resumes_elsewhere, 0,
        "twilight resumes at READY's resume_gateway_url: {counts:?}"
    );
    assert!(counts.resumes_at_resume_url >= 4, "{counts:?}");
}

/// Close 4009 ends the session: twilight RESUMEs (it keeps the session on a
/// close from the gateway), gets INVALID_SESSION and identifies afresh.
#[tokio::test]
async fn a_timed_out_session_makes_the_client_identify_again() {
    let sim = Sim::start().await;
    sim.guild("Test").await;
    let (mut rx, _tasks) = start_shards(&sim, 1, intents());
    until(&mut rx, "READY", |_, e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    let first = sim.sessions()[0].id.clone();
    sim.time_out_sessions();
    until(&mut rx, "second READY", |_, e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].id, first);
    let counts = sim.gateway_counts();
    assert_eq!(counts.identifies, 2, "{counts:?}");
    assert_eq!(
        counts.resumes_at_resume_url, 1,
        "it tried to resume first: {counts:?}"
    );
}

#[tokio::test]
async fn non_resumable_invalid_session_makes_the_client_identify_again() {
    let sim = Sim::start().await;
    sim.guild("Test").await;
    let (mut rx, _tasks) = start_shards(&sim, 1, intents());
    until(&mut rx, "READY", |_, e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    let first = sim.sessions()[0].id.clone();
    sim.send_invalid_session(false);
    until(&mut rx, "second READY", |_, e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].id, first);
}

#[allow(deprecated)] // `dm_permission` is still a field of the struct.
fn warn_command() -> Command {
    let option = |name: &str, kind, required| CommandOption {
        autocomplete: None,
        channel_types: None,
        choices: None,
        description: format!("the {name}"),
        description_localizations: None,
        kind,
        max_length: None,
        max_value: None,
        min_length: None,
        min_value: None,
        name: name.into(),
        name_localizations: None,
        options: None,
        file_types: None,
        required: Some(required),
    };
    Command {
        application_id: None,
        contexts: None,
        default_member_permissions: None,
        description: "Warn a member".into(),
        description_localizations: None,
        dm_permission: None,
        guild_id: None,
        id: None,
        integration_types: None,
        kind: CommandType::ChatInput,
        name: "warn".into(),
        name_localizations: None,
        nsfw: None,
        options: vec![
            option("user", CommandOptionType::User, true),
            option("reason", CommandOptionType::String, false),
        ],
        version: Id::new(1),
    }
}

#[tokio::test]
async fn answers_a_slash_command_through_twilight_http() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let mods = guild.role("mods", bits::MODERATE_MEMBERS);
    let alice = guild.member("alice").with_role(&mods);
    let bob = guild.member("bob");
    let (mut rx, _tasks) = bot::one_shard_in_a_guild(&sim).await;

    let http = bot::http(&sim);
    let app_id = http
        .current_user_application()
        .await
        .expect("app")
        .model()
        .await
        .expect("app json")
        .id;
    let set = http
        .interaction(app_id)
        .set_guild_commands(Id::new(guild.id()), &[warn_command()])
        .await
        .expect("set commands");
    let commands = set.models().await.expect("commands parse");
    assert_eq!(commands[0].name, "warn");

    let run = alice
        .runs(
            &general,
            "warn",
            [("user", (&bob).into()), ("reason", "spam".into())],
        )
        .await;
    let interaction = until(&mut rx, "INTERACTION_CREATE", |_, e| match e {
        Event::InteractionCreate(i) => Some(i.clone()),
        _ => None,
    })
    .await;
    let member = interaction.member.clone().expect("member");
    let perms = member.permissions.expect("member.permissions").bits();
    assert_eq!(perms, alice.permissions());
    assert_ne!(perms & bits::MODERATE_MEMBERS, 0);
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("command data");
    };
    assert_eq!(data.name, "warn");
    assert_eq!(data.options.len(), 2);
    let resolved = data.resolved.as_ref().expect("resolved");
    assert!(resolved.users.contains_key(&Id::new(bob.id())));

    let response = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(format!("Warned <@{}>: spam", bob.id())),
            ..Default::default()
        }),
    };
    http.interaction(app_id)
        .create_response(interaction.id, &interaction.token, &response)
        .await
        .expect("callback");
    let reply = run.response(WAIT).await.expect("response");
    assert_eq!(reply.kind, 4);
    let shown = run.message(WAIT).await.expect("message");
    assert!(shown.pings(bob.id()));
    let in_channel = general.next_message(WAIT).await.expect("channel message");
    assert_eq!(in_channel.id, shown.id);

    // A second callback is refused with 40060.
    let again = http
        .interaction(app_id)
        .create_response(interaction.id, &interaction.token, &response)
        .await;
    let err = again.expect_err("second callback refused");
    assert!(format!("{err:?}").contains("40060"), "{err:?}");

    // A follow-up through the webhook route.
    http.interaction(app_id)
        .create_followup(&interaction.token)
        .content("and one more thing")
        .await
        .expect("followup");
    let f = run.followup(WAIT).await.expect("followup seen");
    assert_eq!(f.content, "and one more thing");

    // The bot's own MESSAGE_CREATE events parse too.
    until(&mut rx, "bot MESSAGE_CREATE", |_, e| match e {
        Event::MessageCreate(m) if m.author.id.get() == sim.bot_id() => Some(()),
        _ => None,
    })
    .await;
    assert!(
        !sim.actions()
            .iter()
            .any(|a| matches!(a, Action::InteractionFailed { .. })),
        "no interaction failed"
    );
}

#[tokio::test]
async fn parse_errors_are_reported_as_failures() {
    // Sanity check of the harness: a Report::ParseError panics in `until`.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tx.send(Report::ParseError(0, "x".into())).expect("send");
    let joined = tokio::spawn(async move {
        until(&mut rx, "anything", |_, _| Some(())).await;
    })
    .await;
    assert!(joined.is_err());
}

/// GUILD_UPDATE and the role events parse with twilight and say what changed.
#[tokio::test]
async fn guild_and_role_events_parse() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let (mut rx, _tasks) = start_shards(&sim, 1, intents());
    until(&mut rx, "GUILD_CREATE", |_, e| match e {
        Event::GuildCreate(g) => Some(g.id()),
        _ => None,
    })
    .await;
    guild.rename("Renamed");
    let name = until(&mut rx, "GUILD_UPDATE", |_, e| match e {
        Event::GuildUpdate(g) => Some(g.0.name.clone()),
        _ => None,
    })
    .await;
    assert_eq!(name, "Renamed");
    let bots = guild.integration_role("Bots", bits::KICK_MEMBERS);
    let created = until(&mut rx, "GUILD_ROLE_CREATE", |_, e| match e {
        Event::RoleCreate(r) => Some(r.role.clone()),
        _ => None,
    })
    .await;
    assert_eq!(created.id.get(), bots.id());
    assert!(created.managed);
    assert_eq!(
        created.permissions,
        twilight_model::guild::Permissions::KICK_MEMBERS
    );
    guild.set_role_permissions(&bots, bits::ADMINISTRATOR);
    // Roles the new one moved up come first (the bot's): wait for this one's.
    let updated = until(&mut rx, "GUILD_ROLE_UPDATE", |_, e| match e {
        Event::RoleUpdate(r) if r.role.id.get() == bots.id() => Some(r.role.permissions),
        _ => None,
    })
    .await;
    assert_eq!(updated, twilight_model::guild::Permissions::ADMINISTRATOR);
    guild.delete_role(&bots);
    let deleted = until(&mut rx, "GUILD_ROLE_DELETE", |_, e| match e {
        Event::RoleDelete(r) => Some(r.role_id.get()),
        _ => None,
    })
    .await;
    assert_eq!(deleted, bots.id());
}

/// The moderation events parse with twilight and say what happened, whether
/// the bot acted over twilight-http or a moderator from Discord's UI: a
/// timeout (GUILD_MEMBER_UPDATE with `communication_disabled_until`, and its
/// audit log entry with the change), a ban (GUILD_MEMBER_REMOVE, GUILD_BAN_ADD,
/// the entry naming the moderator and the reason), an unban.
#[tokio::test]
async fn moderation_events_parse() {
    use twilight_http::request::AuditLogReason;
    use twilight_model::guild::audit_log::{AuditLogChange, AuditLogEventType};
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let mods = guild.role("mods", bits::BAN_MEMBERS);
    let moderator = guild.member("moderator").with_role(&mods);
    let bob = guild.member("bob");
    let (mut rx, _tasks) = bot::one_shard_in_a_guild(&sim).await;
    let http = bot::http(&sim);
    let until_ts = twilight_model::util::Timestamp::from_secs(chrono::Utc::now().timestamp() + 600)
        .expect("a timestamp");
    http.update_guild_member(Id::new(guild.id()), Id::new(bob.id()))
        .communication_disabled_until(Some(until_ts))
        .reason("slow down")
        .await
        .expect("timeout");
    let timed_out = until(&mut rx, "GUILD_MEMBER_UPDATE", |_, e| match e {
        Event::MemberUpdate(m) if m.user.id.get() == bob.id() => {
            Some(m.communication_disabled_until)
        }
        _ => None,
    })
    .await;
    assert_eq!(timed_out, Some(until_ts));
    let entry = next_entry(&mut rx).await;
    assert_eq!(entry.action_type, AuditLogEventType::MemberUpdate);
    assert_eq!(entry.guild_id.map(|g| g.get()), Some(guild.id()));
    assert_eq!(entry.reason.as_deref(), Some("slow down"));
    assert_eq!(
        entry.changes,
        [AuditLogChange::CommunicationDisabledUntil {
            new: Some(until_ts),
            old: None
        }]
    );

    guild.ban_by(&moderator, &bob, Some("raid"));
    let removed = until(&mut rx, "GUILD_MEMBER_REMOVE", |_, e| match e {
        Event::MemberRemove(m) => Some(m.user.id.get()),
        _ => None,
    })
    .await;
    assert_eq!(removed, bob.id());
    let banned = until(&mut rx, "GUILD_BAN_ADD", |_, e| match e {
        Event::BanAdd(b) => Some((b.guild_id.get(), b.user.id.get())),
        _ => None,
    })
    .await;
    assert_eq!(banned, (guild.id(), bob.id()));
    let entry = next_entry(&mut rx).await;
    assert_eq!(entry.action_type, AuditLogEventType::MemberBanAdd);
    assert_eq!(entry.user_id.map(|u| u.get()), Some(moderator.id()));
    assert_eq!(entry.target_id.map(|t| t.get()), Some(bob.id()));
    assert_eq!(entry.reason.as_deref(), Some("raid"));

    http.delete_ban(Id::new(guild.id()), Id::new(bob.id()))
        .await
        .expect("unban");
    let unbanned = until(&mut rx, "GUILD_BAN_REMOVE", |_, e| match e {
        Event::BanRemove(b) => Some(b.user.id.get()),
        _ => None,
    })
    .await;
    assert_eq!(unbanned, bob.id());
    let entry = next_entry(&mut rx).await;
    assert_eq!(entry.action_type, AuditLogEventType::MemberBanRemove);
    assert_eq!(entry.reason, None);
}

/// The next GUILD_AUDIT_LOG_ENTRY_CREATE's entry.
async fn next_entry(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Report>,
) -> twilight_model::guild::audit_log::AuditLogEntry {
    until(rx, "GUILD_AUDIT_LOG_ENTRY_CREATE", |_, e| match e {
        Event::GuildAuditLogEntryCreate(e) => Some(e.0.clone()),
        _ => None,
    })
    .await
}
