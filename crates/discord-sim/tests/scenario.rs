//! The scenario API driving a twilight client: typed options with
//! subcommand groups, member permissions as Discord computes them, and the
//! observations a bot's end-to-end test relies on.

mod common;

use common::WAIT;
use common::bot::{self, until};
use common::http::json as call;
use discord_sim::permissions::bits;
use discord_sim::{Action, OptionValue, Sim};
use serde_json::json;
use twilight_gateway::Event;
use twilight_model::application::interaction::InteractionData;
use twilight_model::application::interaction::application_command::CommandOptionValue;

#[tokio::test]
async fn permissions_are_computed_like_discord() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let mods = guild.role("mods", bits::KICK_MEMBERS);
    let admins = guild.role("admins", bits::ADMINISTRATOR);
    let plain = guild.member("plain");
    let moderator = guild.member("mod").with_role(&mods);
    let admin = guild.member("admin").with_role(&admins);
    let everyone = bits::DEFAULT_EVERYONE;
    assert_eq!(plain.permissions(), everyone);
    assert_eq!(moderator.permissions(), everyone | bits::KICK_MEMBERS);
    assert_eq!(admin.permissions(), bits::ALL);
    assert_eq!(guild.owner().permissions(), bits::ALL);
    guild.set_role_permissions(&guild.everyone(), 0);
    assert_eq!(plain.permissions(), 0);
}

#[tokio::test]
async fn subcommand_groups_and_typed_options_reach_the_bot() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let logs = guild.text_channel("logs");
    let mods = guild.role("mods", bits::MANAGE_GUILD);
    let alice = guild.member("alice").with_role(&mods);
    let bob = guild.member("bob");
    let (mut rx, _tasks) = bot::one_shard_in_a_guild(&sim).await;

    let commands = json!([{
        "name": "config", "description": "settings",
        "options": [
            {"type": 2, "name": "xp", "description": "xp", "options": [
                {"type": 1, "name": "set", "description": "set", "options": [
                    {"type": 4, "name": "amount", "description": "amount", "required": true},
                    {"type": 7, "name": "channel", "description": "where", "required": false},
                    {"type": 8, "name": "role", "description": "reward", "required": false},
                    {"type": 5, "name": "enabled", "description": "on", "required": false},
                    {"type": 6, "name": "user", "description": "who", "required": false}
                ]}
            ]}
        ]
    }]);
    let path = format!("/applications/{}/commands", sim.application_id());
    let r = call(
        &sim.http_addr(),
        "PUT",
        &path,
        Some(&sim.token()),
        Some(&commands),
    )
    .await;
    assert_eq!(r.status, 200);

    let run = alice
        .runs(
            &general,
            "/config xp set",
            [
                ("amount", 50.into()),
                ("channel", (&logs).into()),
                ("role", (&mods).into()),
                ("enabled", true.into()),
                ("user", OptionValue::from(&bob)),
            ],
        )
        .await;
    let interaction = until(&mut rx, "INTERACTION_CREATE", |_, e| match e {
        Event::InteractionCreate(i) => Some(i.clone()),
        _ => None,
    })
    .await;
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("command data");
    };
    assert_eq!(data.name, "config");
    let CommandOptionValue::SubCommandGroup(group) = &data.options[0].value else {
        panic!("group: {:?}", data.options[0]);
    };
    assert_eq!(data.options[0].name, "xp");
    let CommandOptionValue::SubCommand(leaf) = &group[0].value else {
        panic!("subcommand");
    };
    assert_eq!(group[0].name, "set");
    assert_eq!(leaf[0].value, CommandOptionValue::Integer(50));
    assert!(matches!(leaf[1].value, CommandOptionValue::Channel(c) if c.get() == logs.id()));
    assert!(matches!(leaf[2].value, CommandOptionValue::Role(r) if r.get() == mods.id()));
    assert_eq!(leaf[3].value, CommandOptionValue::Boolean(true));
    assert!(matches!(leaf[4].value, CommandOptionValue::User(u) if u.get() == bob.id()));
    let perms = interaction
        .member
        .as_ref()
        .and_then(|m| m.permissions)
        .expect("permissions");
    assert_eq!(perms.bits(), alice.permissions());
    assert_eq!(
        interaction.channel.as_ref().map(|c| c.id.get()),
        Some(general.id())
    );
    let _ = run;

    // Member events the bot sees.
    let carol = sim.user("carol").joins(&guild).await;
    until(&mut rx, "GUILD_MEMBER_ADD", |_, e| match e {
        Event::MemberAdd(m) if m.user.id.get() == carol.id() => Some(()),
        _ => None,
    })
    .await;
    let _ = bob.clone().with_role(&mods);
    until(&mut rx, "GUILD_MEMBER_UPDATE", |_, e| match e {
        Event::MemberUpdate(m) if m.user.id.get() == bob.id() => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn twilight_http_retries_a_scripted_429_and_actions_are_observable() {
    let sim = Sim::start().await;
    let guild = sim.guild("Test").await;
    let general = guild.text_channel("general");
    let bob = guild.member("bob");
    let http = common::bot::http(&sim);
    use twilight_http::request::AuditLogReason;
    use twilight_model::id::Id;
    sim.fail_next("POST", "/messages", 429);
    let sent = http
        .create_message(Id::new(general.id()))
        .content(&format!("{} reached level 2", bob.mention()))
        .await
        .expect("retried after 429");
    assert_eq!(sent.status().get(), 200);
    let m = general.next_message(WAIT).await.expect("message");
    assert!(m.pings(bob.id()));
    assert_eq!(m.content, format!("{} reached level 2", bob.mention()));
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 200]);

    http.remove_guild_member(Id::new(guild.id()), Id::new(bob.id()))
        .reason("spam")
        .await
        .expect("kick");
    let change = bob.next_change(WAIT).await.expect("kick seen");
    assert_eq!(
        change,
        Action::Kicked {
            guild_id: guild.id(),
            user_id: bob.id(),
            reason: Some("spam".into())
        }
    );
}
