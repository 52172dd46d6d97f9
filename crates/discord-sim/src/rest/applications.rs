//! `GET /applications/@me` and application commands (global and guild),
//! with the validation Discord applies to a bulk overwrite.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, ok, parse_json, snowflake};
use crate::core::Core;
use crate::state::{Action, World};

pub async fn me(State(core): State<Arc<Core>>) -> Response {
    let world = core.world.lock();
    let bot = world.bot.json();
    ok(json!({
        "id": world.app_id.to_string(),
        "name": world.bot.name,
        "icon": null,
        "description": "",
        "type": null,
        "bot": bot,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": "0".repeat(64),
        "flags": application_flags(world.config.privileged_intents),
        "flags_new": application_flags(world.config.privileged_intents).to_string(),
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "owner": world.users.values().find(|u| !u.bot).map_or_else(|| world.bot.json(), |u| u.json()),
        "approximate_guild_count": world.guilds.len(),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": null,
        "eligible_oauth2_scopes": [],
    }))
}

/// `GATEWAY_*_LIMITED` flags for the privileged intents that are enabled.
fn application_flags(privileged: u64) -> u64 {
    use crate::config::intents;
    let mut flags = 0;
    if privileged & intents::GUILD_PRESENCES != 0 {
        flags |= 1 << 13;
    }
    if privileged & intents::GUILD_MEMBERS != 0 {
        flags |= 1 << 15;
    }
    if privileged & intents::MESSAGE_CONTENT != 0 {
        flags |= 1 << 19;
    }
    flags
}

fn check_app(world: &World, application_id: &str) -> ApiResult<()> {
    if snowflake("application_id", application_id)? != world.app_id {
        return Err(ApiError::unknown_application());
    }
    Ok(())
}

pub async fn get_global(
    State(core): State<Arc<Core>>,
    Path(application_id): Path<String>,
) -> ApiResult {
    let world = core.world.lock();
    check_app(&world, &application_id)?;
    Ok(ok(Value::Array(world.global_commands.clone())))
}

pub async fn get_guild(
    State(core): State<Arc<Core>>,
    Path((application_id, guild_id)): Path<(String, String)>,
) -> ApiResult {
    let world = core.world.lock();
    check_app(&world, &application_id)?;
    let guild_id = snowflake("guild_id", &guild_id)?;
    if !world.guilds.contains_key(&guild_id) {
        return Err(ApiError::unknown_guild());
    }
    Ok(ok(Value::Array(
        world
            .guild_commands
            .get(&guild_id)
            .cloned()
            .unwrap_or_default(),
    )))
}

pub async fn put_global(
    State(core): State<Arc<Core>>,
    Path(application_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let mut world = core.world.lock();
    check_app(&world, &application_id)?;
    let commands = overwrite(&mut world, None, &body)?;
    Ok(ok(Value::Array(commands)))
}

pub async fn put_guild(
    State(core): State<Arc<Core>>,
    Path((application_id, guild_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let mut world = core.world.lock();
    check_app(&world, &application_id)?;
    let guild_id = snowflake("guild_id", &guild_id)?;
    if !world.guilds.contains_key(&guild_id) {
        return Err(ApiError::unknown_guild());
    }
    let commands = overwrite(&mut world, Some(guild_id), &body)?;
    Ok(ok(Value::Array(commands)))
}

/// Validate and store a bulk overwrite; IDs are kept for names that exist.
fn overwrite(world: &mut World, guild_id: Option<u64>, body: &Value) -> ApiResult<Vec<Value>> {
    let Some(list) = body.as_array() else {
        return Err(ApiError::not_an_array(&[]));
    };
    if list.len() > 110 {
        return Err(ApiError::too_long(&[], 110));
    }
    let mut seen = HashSet::new();
    for (i, cmd) in list.iter().enumerate() {
        validate_command(cmd, &[i.to_string()])?;
        let kind = cmd.get("type").and_then(Value::as_u64).unwrap_or(1);
        let name = text(cmd, "name");
        if !seen.insert((kind, name.to_owned())) {
            return Err(ApiError::invalid_form(
                &[i.to_string(), "name".into()],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                &format!("Application command names must be unique: {name}"),
            ));
        }
    }
    let existing = match guild_id {
        Some(g) => world.guild_commands.get(&g).cloned().unwrap_or_default(),
        None => world.global_commands.clone(),
    };
    let mut out = Vec::with_capacity(list.len());
    for cmd in list {
        let name = text(cmd, "name");
        let id = existing
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|c| c.get("id").cloned())
            .unwrap_or_else(|| json!(world.ids.next().to_string()));
        let mut c = json!({
            "id": id,
            "application_id": world.app_id.to_string(),
            "version": world.ids.next().to_string(),
            "type": cmd.get("type").cloned().unwrap_or(json!(1)),
            "name": name,
            "description": cmd.get("description").cloned().unwrap_or(json!("")),
            "default_member_permissions": cmd.get("default_member_permissions").cloned().unwrap_or(Value::Null),
            "nsfw": cmd.get("nsfw").cloned().unwrap_or(json!(false)),
            "integration_types": cmd.get("integration_types").cloned().unwrap_or(json!([0])),
            "contexts": cmd.get("contexts").cloned().unwrap_or(Value::Null),
        });
        for key in ["options", "name_localizations", "description_localizations"] {
            if let Some(v) = cmd.get(key).filter(|v| !v.is_null()) {
                c[key] = v.clone();
            }
        }
        if let Some(g) = guild_id {
            c["guild_id"] = json!(g.to_string());
        }
        out.push(c);
    }
    let names = out
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    match guild_id {
        Some(g) => {
            world.guild_commands.insert(g, out.clone());
        }
        None => world.global_commands = out.clone(),
    }
    world.record(Action::CommandsOverwritten { guild_id, names });
    Ok(out)
}

fn at(path: &[String], key: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(key.to_owned());
    p
}

/// A string field of a command or option (`""` when absent).
fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Names of chat-input commands and options: 1-32 characters, lowercase
/// letters (any script), digits, `-` and `_`.
fn valid_chat_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name.chars().all(|c| {
            c == '-' || c == '_' || c.is_numeric() || (c.is_alphabetic() && !c.is_uppercase())
        })
}

fn invalid_name(path: &[String], name: &str) -> ApiError {
    ApiError::invalid_form(
        &at(path, "name"),
        "APPLICATION_COMMAND_INVALID_NAME",
        &format!("Command name is invalid: {name}"),
    )
}

/// Subcommands (and groups) where plain options belong, or mixed with them.
fn subcommands_exclusive(path: &[String]) -> ApiError {
    ApiError::invalid_form(
        path,
        "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
        "Sub-command and sub-command group option types are mutually exclusive to all other types",
    )
}

fn validate_command(cmd: &Value, path: &[String]) -> ApiResult<()> {
    if !cmd.is_object() {
        return Err(ApiError::not_an_object(path));
    }
    let kind = cmd.get("type").and_then(Value::as_u64).unwrap_or(1);
    let name = text(cmd, "name");
    let description = text(cmd, "description");
    match kind {
        1 => {
            if !valid_chat_name(name) {
                return Err(invalid_name(path, name));
            }
            let n = description.chars().count();
            if !(1..=100).contains(&n) {
                return Err(ApiError::bad_length(&at(path, "description"), 1, 100));
            }
            validate_options(cmd.get("options"), &at(path, "options"), 0)
        }
        2 | 3 => {
            let n = name.chars().count();
            if !(1..=32).contains(&n) {
                return Err(ApiError::bad_length(&at(path, "name"), 1, 32));
            }
            if !description.is_empty() {
                return Err(ApiError::invalid_form(
                    &at(path, "description"),
                    "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                    "Context menu commands cannot have description",
                ));
            }
            Ok(())
        }
        4 => Ok(()),
        _ => Err(ApiError::invalid_form(
            &at(path, "type"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4}.",
        )),
    }
}

/// Options: at most 25; required ones first; subcommand groups hold only
/// subcommands, subcommands hold no subcommands; choices at most 25.
fn validate_options(options: Option<&Value>, path: &[String], depth: u8) -> ApiResult<()> {
    let Some(options) = options.filter(|o| !o.is_null()) else {
        return Ok(());
    };
    let Some(options) = options.as_array() else {
        return Err(ApiError::not_an_array(path));
    };
    if options.len() > 25 {
        return Err(ApiError::too_long(path, 25));
    }
    let mut seen_optional = false;
    let mut names = HashSet::new();
    for (i, o) in options.iter().enumerate() {
        let p = at(path, &i.to_string());
        let kind = o.get("type").and_then(Value::as_u64).unwrap_or(0);
        validate_option_head(o, kind, &p, &mut names)?;
        if kind == 1 || kind == 2 {
            validate_subcommand(o, kind, &p, depth)?;
        } else {
            validate_value_option(o, &p, &mut seen_optional)?;
        }
    }
    // Mixing subcommands with plain options is invalid.
    let subs = options
        .iter()
        .filter(|o| matches!(o.get("type").and_then(Value::as_u64), Some(1 | 2)))
        .count();
    if subs != 0 && subs != options.len() {
        return Err(subcommands_exclusive(path));
    }
    Ok(())
}

/// What every option needs: a known type, a valid name unique among its
/// siblings (`names`), a description of 1-100 characters.
fn validate_option_head<'a>(
    o: &'a Value,
    kind: u64,
    p: &[String],
    names: &mut HashSet<&'a str>,
) -> ApiResult<()> {
    let name = text(o, "name");
    if !(1..=11).contains(&kind) {
        return Err(ApiError::invalid_form(
            &at(p, "type"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
        ));
    }
    if !valid_chat_name(name) {
        return Err(invalid_name(p, name));
    }
    if !names.insert(name) {
        return Err(ApiError::invalid_form(
            &at(p, "name"),
            "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME",
            "Command option names must be unique",
        ));
    }
    if !(1..=100).contains(&text(o, "description").chars().count()) {
        return Err(ApiError::bad_length(&at(p, "description"), 1, 100));
    }
    Ok(())
}

/// A subcommand (`kind` 1) or group (2) at `depth`: groups only at the top,
/// subcommands at the top or in a group, groups holding subcommands only.
fn validate_subcommand(o: &Value, kind: u64, p: &[String], depth: u8) -> ApiResult<()> {
    let allowed = (kind == 2 && depth == 0) || (kind == 1 && depth <= 1);
    if !allowed {
        return Err(subcommands_exclusive(&at(p, "type")));
    }
    let children = o.get("options");
    if kind == 2
        && children.and_then(Value::as_array).is_some_and(|c| {
            c.iter()
                .any(|c| c.get("type").and_then(Value::as_u64) != Some(1))
        })
    {
        return Err(ApiError::invalid_form(
            &at(p, "options"),
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Sub-command groups may only contain sub-commands",
        ));
    }
    validate_options(children, &at(p, "options"), depth + 1)
}

/// An option that takes a value: required ones before optional ones
/// (`seen_optional` carries that across siblings), at most 25 choices.
fn validate_value_option(o: &Value, p: &[String], seen_optional: &mut bool) -> ApiResult<()> {
    let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
    if required && *seen_optional {
        return Err(ApiError::invalid_form(
            &at(p, "required"),
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
            "Required options must be placed before non-required options",
        ));
    }
    *seen_optional |= !required;
    if o.get("choices")
        .and_then(Value::as_array)
        .is_some_and(|c| c.len() > 25)
    {
        return Err(ApiError::too_long(&at(p, "choices"), 25));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_discord_rules() {
        assert!(valid_chat_name("warn"));
        assert!(valid_chat_name("set-xp_2"));
        assert!(!valid_chat_name("Warn"));
        assert!(!valid_chat_name(""));
        assert!(!valid_chat_name(&"a".repeat(33)));
        assert!(!valid_chat_name("two words"));
    }

    #[test]
    fn required_options_come_first() {
        let opts = json!([
            {"type": 3, "name": "a", "description": "x"},
            {"type": 3, "name": "b", "description": "x", "required": true}
        ]);
        assert!(validate_options(Some(&opts), &[], 0).is_err());
        let opts = json!([
            {"type": 3, "name": "b", "description": "x", "required": true},
            {"type": 3, "name": "a", "description": "x"}
        ]);
        assert!(validate_options(Some(&opts), &[], 0).is_ok());
    }
}
