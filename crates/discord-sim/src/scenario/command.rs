//! Running a slash command: [`OptionValue`]s, the registered command they
//! must fit, and the INTERACTION_CREATE the bot receives.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Channel, Member, Role, SimError, User};
use crate::permissions::bits;
use crate::state::{GuildRec, InteractionRec, InteractionState, World};

/// A typed slash-command option value.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    User(u64),
    Channel(u64),
    Role(u64),
}

impl OptionValue {
    /// The option type Discord gives a value like this one, for options
    /// the command does not type itself.
    fn option_type(&self) -> u8 {
        match self {
            Self::String(_) => 3,
            Self::Integer(_) => 4,
            Self::Boolean(_) => 5,
            Self::User(_) => 6,
            Self::Channel(_) => 7,
            Self::Role(_) => 8,
            Self::Number(_) => 10,
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::String(s) => json!(s),
            Self::Integer(i) => json!(i),
            Self::Number(n) => json!(n),
            Self::Boolean(b) => json!(b),
            Self::User(id) | Self::Channel(id) | Self::Role(id) => json!(id.to_string()),
        }
    }
}

impl From<&str> for OptionValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}
impl From<String> for OptionValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}
impl From<i64> for OptionValue {
    fn from(i: i64) -> Self {
        Self::Integer(i)
    }
}
impl From<i32> for OptionValue {
    fn from(i: i32) -> Self {
        Self::Integer(i.into())
    }
}
impl From<f64> for OptionValue {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}
impl From<bool> for OptionValue {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}
impl From<&Member> for OptionValue {
    fn from(m: &Member) -> Self {
        Self::User(m.id())
    }
}
impl From<Member> for OptionValue {
    fn from(m: Member) -> Self {
        Self::User(m.id())
    }
}
impl From<&User> for OptionValue {
    fn from(u: &User) -> Self {
        Self::User(u.id())
    }
}
impl From<&Channel> for OptionValue {
    fn from(c: &Channel) -> Self {
        Self::Channel(c.id())
    }
}
impl From<&Role> for OptionValue {
    fn from(r: &Role) -> Self {
        Self::Role(r.id())
    }
}
impl From<Role> for OptionValue {
    fn from(r: Role) -> Self {
        Self::Role(r.id())
    }
}

/// Whether a command or option JSON is called `name`.
fn is_named(v: &Value, name: &str) -> bool {
    v.get("name").and_then(Value::as_str) == Some(name)
}

/// The option called `name` among a registered command's `options`.
fn option_named<'a>(options: &'a Value, name: &str) -> Option<&'a Value> {
    options.as_array()?.iter().find(|o| is_named(o, name))
}

/// The registered command called `name` (guild first, then global).
pub(super) fn find_command(w: &World, guild_id: Option<u64>, name: &str) -> Option<Value> {
    guild_id
        .and_then(|g| w.guild_commands.get(&g))
        .and_then(|l| l.iter().find(|c| is_named(c, name)))
        .or_else(|| w.global_commands.iter().find(|c| is_named(c, name)))
        .cloned()
}

/// Build and dispatch INTERACTION_CREATE for a slash command, run `lag` before
/// Discord delivers it (its ID tells when it was made, as on Discord).
pub(super) fn create_interaction(
    w: &mut World,
    (guild_id, channel_id, user_id): (u64, u64, u64),
    command: &str,
    options: &[(String, OptionValue)],
    lag: Duration,
) -> Result<u64, SimError> {
    let mut words = command.split_whitespace();
    let name = words.next().unwrap_or_default();
    let cmd = find_command(w, Some(guild_id), name)
        .ok_or_else(|| SimError::Setup(format!("/{name} is not registered")))?;
    let (chain, registered) = subcommand_chain(&cmd, name, words)?;

    // Borrowed, not cloned: a load run creates hundreds of interactions a second in
    // guilds of 1,000 members, and copying the guild each time cost the simulator as
    // much CPU as all of its messages.
    let guild = w.guilds.get(&guild_id);
    let (leaf, resolved) = leaf_options(w, guild, &registered, command, options)?;
    // Nest the leaf options under the subcommand chain.
    let mut opts = Value::Array(leaf);
    for (word, kind) in chain.iter().rev() {
        opts = json!([{"name": word, "type": kind, "options": opts}]);
    }

    let id = if lag.is_zero() {
        w.ids.next()
    } else {
        w.ids.made_ago(lag)
    };
    let token = format!("sim-interaction-{id}-{:016x}", rand::random::<u64>());
    let g = guild.ok_or_else(|| SimError::Setup("unknown guild".into()))?;
    let member = invoker(w, g, channel_id, user_id)?;
    let mut data = json!({
        "id": cmd.get("id").cloned().unwrap_or(json!("0")),
        "name": name,
        "type": 1,
        "options": opts,
        "guild_id": guild_id.to_string(),
    });
    if resolved.as_object().is_some_and(|o| !o.is_empty()) {
        data["resolved"] = resolved;
    }
    let d = interaction_json(w, g, channel_id, (id, &token), member, data);
    let who = (guild_id, channel_id, user_id);
    record_and_dispatch(w, (id, token), who, command.to_owned(), None, d);
    Ok(id)
}

/// Build and dispatch INTERACTION_CREATE for a click by `user_id` on the
/// button `custom_id` of message `message_id` (type 3, MESSAGE_COMPONENT);
/// its `@original` is that message. An ephemeral message is seen, so
/// clicked, only by the member it answered.
pub(super) fn create_click(
    w: &mut World,
    (guild_id, user_id): (u64, u64),
    message_id: u64,
    custom_id: &str,
) -> Result<(u64, u64), SimError> {
    let m = w
        .messages
        .get(&message_id)
        .ok_or_else(|| SimError::Setup(format!("no message {message_id}")))?;
    let has_button = m
        .components
        .iter()
        .flat_map(|row| {
            row.get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .any(|c| c.get("custom_id").and_then(Value::as_str) == Some(custom_id));
    if !has_button {
        return Err(SimError::Setup(format!(
            "message {message_id} has no button {custom_id:?}"
        )));
    }
    if m.flags & 64 != 0 {
        let asker = m
            .interaction_id
            .and_then(|i| w.interactions.get(&i))
            .map(|r| r.user_id);
        if asker != Some(user_id) {
            return Err(SimError::Setup(format!(
                "message {message_id} is ephemeral: only its member sees it"
            )));
        }
    }
    let channel_id = m.channel_id;
    let message = w.message_json(m, false);
    let id = w.ids.next();
    let token = format!("sim-interaction-{id}-{:016x}", rand::random::<u64>());
    let g = w
        .guilds
        .get(&guild_id)
        .ok_or_else(|| SimError::Setup("unknown guild".into()))?;
    let member = invoker(w, g, channel_id, user_id)?;
    let data = json!({"custom_id": custom_id, "component_type": 2});
    let mut d = interaction_json(w, g, channel_id, (id, &token), member, data);
    d["type"] = json!(3);
    d["message"] = message;
    let who = (guild_id, channel_id, user_id);
    let command = format!("click {custom_id}");
    record_and_dispatch(w, (id, token), who, command, Some(message_id), d);
    Ok((id, channel_id))
}

/// Walk the subcommand group and/or subcommand named after the command, as
/// registered: their `(name, type)` chain, and the options the last one takes.
fn subcommand_chain<'a>(
    cmd: &Value,
    name: &str,
    path: impl Iterator<Item = &'a str>,
) -> Result<(Vec<(String, u8)>, Value), SimError> {
    let mut level = cmd.get("options").cloned().unwrap_or(json!([]));
    let mut chain: Vec<(String, u8)> = Vec::new();
    for word in path {
        let opt = option_named(&level, word)
            .cloned()
            .ok_or_else(|| SimError::Setup(format!("/{name} has no subcommand {word}")))?;
        let kind = opt.get("type").and_then(Value::as_u64).unwrap_or(1) as u8;
        chain.push((word.to_owned(), kind));
        level = opt.get("options").cloned().unwrap_or(json!([]));
    }
    Ok((chain, level))
}

/// The options as INTERACTION_CREATE carries them, typed as `registered`
/// says, and the `resolved` users, members, channels and roles they name.
fn leaf_options(
    w: &World,
    guild: Option<&GuildRec>,
    registered: &Value,
    command: &str,
    options: &[(String, OptionValue)],
) -> Result<(Vec<Value>, Value), SimError> {
    let mut resolved = json!({});
    let mut leaf = Vec::new();
    for (key, value) in options {
        let option = option_named(registered, key)
            .ok_or_else(|| SimError::Setup(format!("/{command} has no option {key}")))?;
        let kind = option
            .get("type")
            .and_then(Value::as_u64)
            .map_or(value.option_type(), |k| k as u8);
        leaf.push(json!({"name": key, "type": kind, "value": value.json()}));
        resolve(w, guild, value, &mut resolved);
    }
    Ok((leaf, resolved))
}

/// Add what `value` names to `resolved`, as Discord does for user, channel
/// and role options.
fn resolve(w: &World, guild: Option<&GuildRec>, value: &OptionValue, resolved: &mut Value) {
    match value {
        OptionValue::User(id) => {
            if let Some(u) = w.user_json(*id) {
                resolved["users"][id.to_string()] = u;
            }
            if let Some(mut m) = guild.and_then(|g| member_with_permissions(w, g, *id)) {
                if let Some(o) = m.as_object_mut() {
                    o.remove("user");
                }
                resolved["members"][id.to_string()] = m;
            }
        }
        OptionValue::Channel(id) => {
            if let Some(mut c) = w.channel_json(*id) {
                c["permissions"] = json!(bits::ALL.to_string());
                resolved["channels"][id.to_string()] = c;
            }
        }
        OptionValue::Role(id) => {
            if let Some(r) = guild.and_then(|g| g.role(*id)) {
                resolved["roles"][id.to_string()] = r.json();
            }
        }
        _ => {}
    }
}

/// The member behind an interaction in `channel_id`, with their permissions
/// there (overwrites applied), as interactions carry them.
fn invoker(w: &World, g: &GuildRec, channel_id: u64, user_id: u64) -> Result<Value, SimError> {
    let mut member = member_with_permissions(w, g, user_id)
        .ok_or_else(|| SimError::Setup("the user is not a member".into()))?;
    if let Some(c) = w.channels.get(&channel_id) {
        member["permissions"] = json!(g.permissions_in(c, user_id).to_string());
    }
    Ok(member)
}

/// Remember interaction `id` (its `@original`, when it has one already) and
/// dispatch its INTERACTION_CREATE `d`.
fn record_and_dispatch(
    w: &mut World,
    (id, token): (u64, String),
    (guild_id, channel_id, user_id): (u64, u64, u64),
    command: String,
    original_message: Option<u64>,
    d: Value,
) {
    w.interactions.insert(
        id,
        InteractionRec {
            id,
            token: token.clone(),
            guild_id: Some(guild_id),
            channel_id,
            user_id,
            command,
            created: Instant::now(),
            state: InteractionState::Pending,
            original_message,
            responded_after: None,
            deferred_flags: 0,
            original_deleted: false,
            payload: d.clone(),
        },
    );
    w.interaction_tokens.insert(token, id);
    w.dispatch_guild(guild_id, "INTERACTION_CREATE", 0, &d, None);
}

/// A member's JSON with the `permissions` interactions carry; `None` for
/// non-members.
fn member_with_permissions(w: &World, g: &GuildRec, user_id: u64) -> Option<Value> {
    let mut member = g.members.get(&user_id)?.json(&w.users[&user_id]);
    member["permissions"] = json!(g.permissions_of(user_id).to_string());
    Some(member)
}

/// INTERACTION_CREATE's `d` for a slash command run by `member` in
/// `channel_id`; `(id, token)` identify the interaction.
fn interaction_json(
    w: &World,
    g: &GuildRec,
    channel_id: u64,
    (id, token): (u64, &str),
    member: Value,
    data: Value,
) -> Value {
    let guild_id = g.id.to_string();
    json!({
        "id": id.to_string(),
        "application_id": w.app_id.to_string(),
        "type": 2,
        "token": token,
        "version": 1,
        "guild_id": guild_id,
        "guild": {"id": guild_id, "locale": "en-US", "features": []},
        "channel_id": channel_id.to_string(),
        "channel": w.channel_json(channel_id),
        "member": member,
        "data": data,
        "app_permissions": w
            .channels
            .get(&channel_id)
            .map_or_else(|| g.permissions_of(w.bot.id), |c| g.permissions_in(c, w.bot.id))
            .to_string(),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id},
        "context": 0,
        "attachment_size_limit": 26_214_400,
    })
}
