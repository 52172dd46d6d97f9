//! `/config`: the guild's settings (Manage Server).
//!
//! `show`, `prefix <text>`, `welcome set <channel> [message]` / `welcome off`,
//! `modlog [channel]` (empty: off), `levelup set [channel] [message]` (no channel:
//! the channel the member spoke in) / `levelup off`, `xp [min] [max] [cooldown]`,
//! `warnings [expiry] [dm]` (how long a warning counts, `off` for ever; whether
//! the member is told by DM), `escalation add|remove|list`, and `reset-data`
//! (the owner only, after a confirmation button: everything Keeper keeps for
//! the server deleted).

use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::{
    Applied, EscalationAction, EscalationRule, GuildSettings, LevelUpTarget, SettingsPatch,
};
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    channel::{ChannelType, message::component::ButtonStyle},
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
};
use twilight_util::builder::{
    command::{
        BooleanBuilder, ChannelBuilder, CommandBuilder, IntegerBuilder, StringBuilder,
        SubCommandBuilder, SubCommandGroupBuilder,
    },
    embed::{EmbedBuilder, EmbedFieldBuilder},
};

use super::{ALREADY_DONE, Click, Invocation, Options, Reply, Spec, custom_id, missing, text};
use crate::{
    context::Context,
    duration,
    error::{BotError, BotResult},
};

pub const NAME: &str = "config";

pub const SPEC: Spec = Spec::managers(NAME, command, |ctx, inv| run(ctx, inv).boxed())
    .with_button(|ctx, click| clicked(ctx, click).boxed());

const TEXT_CHANNELS: [ChannelType; 2] = [ChannelType::GuildText, ChannelType::GuildAnnouncement];

pub fn command() -> Command {
    let channel = |desc: &str, required: bool| {
        ChannelBuilder::new("channel", desc)
            .channel_types(TEXT_CHANNELS)
            .required(required)
    };
    let template = |desc: &str| {
        StringBuilder::new("message", desc)
            .min_length(1)
            .max_length(2000)
    };
    CommandBuilder::new(
        NAME,
        "Change Keeper's settings for this server",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(SubCommandBuilder::new("show", "Show the current settings"))
    .option(
        SubCommandBuilder::new("prefix", "Set the prefix of text commands such as !rank").option(
            StringBuilder::new("prefix", "1 to 10 characters, no spaces")
                .required(true)
                .max_length(10),
        ),
    )
    .option(
        SubCommandGroupBuilder::new("welcome", "Greet new members").subcommands([
            SubCommandBuilder::new("set", "Greet new members in a channel")
                .option(channel("Where to greet them", true))
                .option(template(
                    "Placeholders: {user} {username} {server} {member_count}",
                )),
            SubCommandBuilder::new("off", "Stop greeting new members"),
        ]),
    )
    .option(
        SubCommandBuilder::new("modlog", "Set where moderation and problems are logged").option(
            channel("The mod-log channel (leave empty to turn it off)", false),
        ),
    )
    .option(
        SubCommandGroupBuilder::new("levelup", "Announce level-ups").subcommands([
            SubCommandBuilder::new("set", "Announce level-ups")
                .option(channel(
                    "Where (leave empty: where the member spoke)",
                    false,
                ))
                .option(template("Placeholders: {user} {username} {server} {level}")),
            SubCommandBuilder::new("off", "Stop announcing level-ups"),
        ]),
    )
    .option(
        SubCommandBuilder::new("warnings", "Set how warnings work")
            .option(
                StringBuilder::new(
                    "expiry",
                    "How long a warning counts unless /warn says: 30d, 12h, 2w... or off",
                )
                .max_length(40),
            )
            .option(BooleanBuilder::new("dm", "Tell warned members by DM")),
    )
    .option(
        SubCommandGroupBuilder::new("escalation", "Act by itself when warnings pile up")
            .subcommands([
                SubCommandBuilder::new("add", "At a number of active warnings, act")
                    .option(
                        IntegerBuilder::new("count", "Active warnings that trigger it")
                            .required(true)
                            .min_value(1)
                            .max_value(100),
                    )
                    .option(
                        StringBuilder::new("action", "What to do")
                            .required(true)
                            .choices([("timeout", "timeout"), ("kick", "kick"), ("ban", "ban")]),
                    )
                    .option(
                        StringBuilder::new(
                            "duration",
                            "For a timeout (required, at most 28d) or a temporary ban: 1h, 7d...",
                        )
                        .max_length(40),
                    ),
                SubCommandBuilder::new("remove", "Stop acting at a number of warnings").option(
                    IntegerBuilder::new("count", "The rule's warning count")
                        .required(true)
                        .min_value(1),
                ),
                SubCommandBuilder::new("list", "The rules"),
            ]),
    )
    .option(
        SubCommandGroupBuilder::new("rankcard", "How /rank looks").subcommands([
            SubCommandBuilder::new("on", "Answer /rank with a card image").option(
                StringBuilder::new("accent", "The card's colour: #RRGGBB, or default")
                    .max_length(16),
            ),
            SubCommandBuilder::new("off", "Answer /rank with text only"),
        ]),
    )
    .option(
        SubCommandBuilder::new("web", "Show this server's leaderboard on the web, or not").option(
            StringBuilder::new("visibility", "Who can see the page and its API")
                .required(true)
                .choices([("public", "public"), ("private", "private")]),
        ),
    )
    .option(SubCommandBuilder::new(
        "reset-data",
        "Delete everything Keeper keeps for this server (the owner only; asks first)",
    ))
    .option(
        SubCommandBuilder::new("xp", "Set how much XP a message earns and how often")
            .option(
                IntegerBuilder::new("min", "Least XP per message")
                    .min_value(0)
                    .max_value(10_000),
            )
            .option(
                IntegerBuilder::new("max", "Most XP per message")
                    .min_value(0)
                    .max_value(10_000),
            )
            .option(
                IntegerBuilder::new("cooldown", "Seconds between two awards")
                    .min_value(0)
                    .max_value(86_400),
            ),
    )
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let (sub, opts) = inv.subcommand()?;
    if sub == "show" {
        let rules = ctx.store.escalations(inv.guild_id).await?;
        return Ok(Reply {
            ephemeral: true,
            ..Reply::embed(show(&ctx.guilds.settings(inv.guild_id), &rules))
        });
    }
    if sub == "reset-data" {
        owner_only(ctx, inv.guild_id, inv.user.id)?;
        let now = Utc::now();
        return Ok(Reply::ephemeral(
            "This deletes everything Keeper keeps for this server: its settings, every \
             member's XP and levels, the level rewards, every case and their numbering, the \
             escalation rules. It can't be undone (only Keeper's operator can restore a backup). \
             Are you sure?",
        )
        .buttons(&[
            (
                &custom_id(NAME, "reset-data", now),
                "Delete all of this server's data",
                ButtonStyle::Danger,
            ),
            (
                &custom_id(NAME, "cancel", now),
                "Cancel",
                ButtonStyle::Secondary,
            ),
        ]));
    }
    if sub == "escalation" {
        return escalation(ctx, inv.guild_id, opts)
            .await
            .map(Reply::ephemeral);
    }
    let (patch, done) = patch_for(sub, opts)?;
    ctx.guilds.update_settings(inv.guild_id, &patch).await?;
    Ok(Reply::ephemeral(done))
}

/// `reset-data` is the owner's alone: only they may undo what every admin
/// built, as only they may delete the server itself.
fn owner_only(ctx: &Context, guild: Id<GuildMarker>, user: Id<UserMarker>) -> BotResult<()> {
    let owner = ctx.guilds.facts(guild).and_then(|facts| facts.owner_id);
    if owner == Some(user) {
        Ok(())
    } else {
        Err(BotError::user(
            "Only the server's owner can delete all of Keeper's data here.",
        ))
    }
}

/// The confirmation's buttons: the owner is checked again at the click.
async fn clicked(ctx: &Context, click: &Click<'_>) -> BotResult<Reply> {
    if click.action != "reset-data" {
        return Ok(Reply::ephemeral("Nothing was deleted."));
    }
    owner_only(ctx, click.guild_id, click.user.id)?;
    let done = ctx
        .guilds
        .reset_data(click.guild_id, Some(click.interaction_id), Utc::now())
        .await?;
    Ok(Reply::ephemeral(match done {
        Applied::Now(rows) => format!(
            "Deleted everything Keeper kept for this server ({rows} rows). Keeper starts over \
             here with the default settings."
        ),
        Applied::Before => ALREADY_DONE.to_owned(),
    }))
}

/// The settings change a subcommand asks for, and the sentence confirming it.
fn patch_for(sub: &str, opts: Options<'_>) -> BotResult<(SettingsPatch, String)> {
    let mut patch = SettingsPatch::default();
    let done = match sub {
        "prefix" => {
            let value = opts.string("prefix").ok_or_else(|| missing("prefix"))?;
            if let Some(problem) = text::validate_prefix(value) {
                return Err(BotError::user(problem));
            }
            patch.prefix = Some(value.to_owned());
            format!("Text commands now start with `{value}`, e.g. `{value}rank`.")
        }
        "welcome" => match opts.subcommand() {
            Some(("set", opts)) => {
                let channel = opts.channel("channel").ok_or_else(|| missing("channel"))?;
                patch.welcome_channel = Some(Some(channel));
                patch.welcome_message = Some(opts.string("message").map(str::to_owned));
                format!("New members will be greeted in <#{channel}>.")
            }
            _ => {
                patch.welcome_channel = Some(None);
                "New members will no longer be greeted.".to_owned()
            }
        },
        "modlog" => match opts.channel("channel") {
            Some(channel) => {
                patch.modlog_channel = Some(Some(channel));
                format!("The mod-log is now <#{channel}>.")
            }
            None => {
                patch.modlog_channel = Some(None);
                "The mod-log is off.".to_owned()
            }
        },
        "levelup" => match opts.subcommand() {
            Some(("set", opts)) => {
                let target = opts
                    .channel("channel")
                    .map_or(LevelUpTarget::Here, LevelUpTarget::Channel);
                patch.levelup = Some(target);
                patch.levelup_message = Some(opts.string("message").map(str::to_owned));
                match target {
                    LevelUpTarget::Channel(c) => format!("Level-ups will be announced in <#{c}>."),
                    _ => "Level-ups will be announced where the member spoke.".to_owned(),
                }
            }
            _ => {
                patch.levelup = Some(LevelUpTarget::Off);
                "Level-ups will no longer be announced.".to_owned()
            }
        },
        "warnings" => {
            if let Some(expiry) = opts.string("expiry") {
                patch.warn_expiry_secs = Some(warn_expiry(expiry)?);
            }
            patch.dm_on_warn = opts.boolean("dm");
            if patch == SettingsPatch::default() {
                return Err(BotError::user("Give `expiry`, `dm` or both."));
            }
            "Warning settings saved.".to_owned()
        }
        "rankcard" => match opts.subcommand() {
            Some(("on", opts)) => {
                patch.rank_card = Some(true);
                match opts.string("accent").map(parse_accent).transpose()? {
                    Some(accent) => {
                        patch.rank_card_accent = Some(accent);
                        format!(
                            "`/rank` answers with a card, in {}.",
                            accent.map_or("Keeper's colour".to_owned(), |c| format!("#{c:06X}"))
                        )
                    }
                    None => "`/rank` answers with a card.".to_owned(),
                }
            }
            _ => {
                patch.rank_card = Some(false);
                "`/rank` answers with text only.".to_owned()
            }
        },
        "web" => match opts.string("visibility") {
            Some("public") => {
                patch.web_public = Some(true);
                "This server's leaderboard is public on the web: anyone with the link sees \
                 members' names, avatars, levels and XP."
                    .to_owned()
            }
            Some("private") => {
                patch.web_public = Some(false);
                "This server's leaderboard is private: its page and API answer as if it did \
                 not exist."
                    .to_owned()
            }
            _ => return Err(BotError::user("Choose `public` or `private`.")),
        },
        "xp" => {
            let int = |name| {
                opts.integer(name)
                    .map(|v| i32::try_from(v).map_err(|_| out_of_range(name)))
            };
            patch.xp_min = int("min").transpose()?;
            patch.xp_max = int("max").transpose()?;
            patch.xp_cooldown_secs = int("cooldown").transpose()?;
            if patch == SettingsPatch::default() {
                return Err(BotError::user(
                    "Give at least one of `min`, `max` or `cooldown`.",
                ));
            }
            "XP settings saved.".to_owned()
        }
        other => {
            return Err(BotError::user(format!(
                "`/config {other}` is not a setting I know."
            )));
        }
    };
    Ok((patch, done))
}

/// `/config escalation add|remove|list`: the rules are the store's, read by
/// every `/warn` in the warning's own transaction.
async fn escalation(ctx: &Context, guild: Id<GuildMarker>, opts: Options<'_>) -> BotResult<String> {
    match opts.subcommand() {
        Some(("add", opts)) => {
            let rule = escalation_rule(guild, opts)?;
            ctx.store.set_escalation(&rule).await?;
            Ok(format!(
                "When a member reaches {} active warnings, I'll {}.",
                rule.warnings,
                describe_rule(&rule)
            ))
        }
        Some(("remove", opts)) => {
            let count = opts.integer("count").ok_or_else(|| missing("count"))?;
            let count = i32::try_from(count).map_err(|_| out_of_range("count"))?;
            Ok(match ctx.store.remove_escalation(guild, count).await? {
                true => format!("Nothing happens by itself at {count} warnings any more."),
                false => format!("There was no rule at {count} warnings."),
            })
        }
        _ => {
            let rules = ctx.store.escalations(guild).await?;
            if rules.is_empty() {
                return Ok("No escalation rules: warnings only count.".to_owned());
            }
            let lines: Vec<String> = rules
                .iter()
                .map(|r| format!("At {} active warnings: {}.", r.warnings, describe_rule(r)))
                .collect();
            Ok(lines.join("\n"))
        }
    }
}

/// The rule `/config escalation add` describes, checked.
fn escalation_rule(guild: Id<GuildMarker>, opts: Options<'_>) -> BotResult<EscalationRule> {
    let count = opts.integer("count").ok_or_else(|| missing("count"))?;
    let action = opts.string("action").ok_or_else(|| missing("action"))?;
    let duration_secs = match opts.string("duration") {
        Some(text) => {
            let d = duration::parse(text).map_err(|e| BotError::user(e.to_string()))?;
            Some(i64::try_from(d.as_secs()).map_err(|_| out_of_range("duration"))?)
        }
        None => None,
    };
    let rule = EscalationRule {
        guild_id: guild,
        warnings: i32::try_from(count).map_err(|_| out_of_range("count"))?,
        action: action
            .parse::<EscalationAction>()
            .map_err(|_| BotError::user(format!("`{action}` is not an action I know.")))?,
        duration_secs,
    };
    rule.validate().map_err(BotError::user)?;
    Ok(rule)
}

/// "time them out for 1 hour", "ban them", "ban them for 7 days".
fn describe_rule(rule: &EscalationRule) -> String {
    let act = match rule.action {
        EscalationAction::Timeout => "time them out",
        EscalationAction::Kick => "kick them",
        EscalationAction::Ban => "ban them",
    };
    match rule.duration_secs.and_then(|s| u64::try_from(s).ok()) {
        Some(secs) => format!(
            "{act} for {}",
            duration::describe(Duration::from_secs(secs))
        ),
        None => act.to_owned(),
    }
}

/// A warning expiry as typed: a duration, or `off` (warnings count for ever).
fn warn_expiry(text: &str) -> BotResult<Option<i64>> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let duration = duration::parse(text).map_err(|e| BotError::user(e.to_string()))?;
    Ok(Some(
        i64::try_from(duration.as_secs()).map_err(|_| out_of_range("expiry"))?,
    ))
}

/// A colour as typed: `#RRGGBB` (the `#` optional), or `default` for
/// Keeper's own (`None`).
fn parse_accent(text: &str) -> BotResult<Option<u32>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    let hex = text.strip_prefix('#').unwrap_or(text);
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BotError::user(format!(
            "`{}` is not a colour: give six hex digits such as `#FF8800`, or `default`.",
            text.replace('`', "'")
        )));
    }
    u32::from_str_radix(hex, 16)
        .map(Some)
        .map_err(|_| out_of_range("accent"))
}

fn out_of_range(name: &str) -> BotError {
    BotError::user(format!("`{name}` is out of range."))
}

fn show(s: &GuildSettings, rules: &[EscalationRule]) -> twilight_model::channel::message::Embed {
    let escalation = match rules {
        [] => "none".to_owned(),
        rules => rules
            .iter()
            .map(|r| format!("at {}: {}", r.warnings, describe_rule(r)))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let channel =
        |c: Option<twilight_model::id::Id<_>>| c.map_or("off".to_owned(), |c| format!("<#{c}>"));
    let levelup = match s.levelup {
        LevelUpTarget::Off => "off".to_owned(),
        LevelUpTarget::Here => "where the member spoke".to_owned(),
        LevelUpTarget::Channel(c) => format!("<#{c}>"),
    };
    EmbedBuilder::new()
        .title("Keeper's settings")
        .field(EmbedFieldBuilder::new("Prefix", format!("`{}`", s.prefix)).inline())
        .field(EmbedFieldBuilder::new("Mod-log", channel(s.modlog_channel)).inline())
        .field(EmbedFieldBuilder::new("Welcome", channel(s.welcome_channel)).inline())
        .field(EmbedFieldBuilder::new(
            "Welcome message",
            format!("`{}`", s.welcome_template()),
        ))
        .field(EmbedFieldBuilder::new("Level-ups", levelup).inline())
        .field(EmbedFieldBuilder::new(
            "Level-up message",
            format!("`{}`", s.levelup_template()),
        ))
        .field(
            EmbedFieldBuilder::new(
                "Warnings expire",
                s.warn_expiry_secs
                    .and_then(|secs| u64::try_from(secs).ok())
                    .map_or("never".to_owned(), |secs| {
                        format!("after {}", duration::describe(Duration::from_secs(secs)))
                    }),
            )
            .inline(),
        )
        .field(
            EmbedFieldBuilder::new("DM on warn", if s.dm_on_warn { "on" } else { "off" }).inline(),
        )
        .field(EmbedFieldBuilder::new("Escalation", escalation))
        .field(
            EmbedFieldBuilder::new(
                "Rank card",
                match (s.rank_card, s.rank_card_accent) {
                    (false, _) => "off: text only".to_owned(),
                    (true, None) => "on, Keeper's colour".to_owned(),
                    (true, Some(c)) => format!("on, #{c:06X}"),
                },
            )
            .inline(),
        )
        .field(
            EmbedFieldBuilder::new(
                "Web leaderboard",
                if s.web_public { "public" } else { "private" },
            )
            .inline(),
        )
        .field(
            EmbedFieldBuilder::new(
                "XP",
                format!(
                    "{}-{} per message, once every {} s",
                    s.xp_min, s.xp_max, s.xp_cooldown_secs
                ),
            )
            .inline(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use twilight_model::{
        application::interaction::application_command::{CommandDataOption, CommandOptionValue},
        id::Id,
    };

    fn opt(name: &str, value: CommandOptionValue) -> CommandDataOption {
        CommandDataOption {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn show_lists_only_what_a_command_can_change() {
        let rules = [
            EscalationRule {
                guild_id: Id::new(1),
                warnings: 2,
                action: EscalationAction::Timeout,
                duration_secs: Some(3_600),
            },
            EscalationRule {
                guild_id: Id::new(1),
                warnings: 4,
                action: EscalationAction::Ban,
                duration_secs: None,
            },
        ];
        let embed = show(&GuildSettings::defaults(Id::new(1)), &rules);
        let escalation = embed
            .fields
            .iter()
            .find(|f| f.name == "Escalation")
            .unwrap();
        assert_eq!(
            escalation.value,
            "at 2: time them out for 1 hour\nat 4: ban them"
        );
        let none = show(&GuildSettings::defaults(Id::new(1)), &[]);
        assert!(
            none.fields
                .iter()
                .any(|f| f.name == "Escalation" && f.value == "none")
        );
        let names: Vec<&str> = embed.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Prefix",
                "Mod-log",
                "Welcome",
                "Welcome message",
                "Level-ups",
                "Level-up message",
                "Warnings expire",
                "DM on warn",
                "Escalation",
                "Rank card",
                "Web leaderboard",
                "XP"
            ]
        );
    }

    #[test]
    fn prefix_is_validated_before_storing() {
        let opts = [opt("prefix", CommandOptionValue::String("a b".into()))];
        let err = patch_for("prefix", Options(&opts)).unwrap_err();
        assert_eq!(err.reply(), "A prefix can't contain spaces.");
        let opts = [opt("prefix", CommandOptionValue::String("?".into()))];
        assert_eq!(
            patch_for("prefix", Options(&opts))
                .unwrap()
                .0
                .prefix
                .as_deref(),
            Some("?")
        );
    }

    #[test]
    fn welcome_set_and_off() {
        let set = [opt(
            "set",
            CommandOptionValue::SubCommand(vec![opt(
                "channel",
                CommandOptionValue::Channel(Id::new(5)),
            )]),
        )];
        let (patch, _) = patch_for("welcome", Options(&set)).unwrap();
        assert_eq!(patch.welcome_channel, Some(Some(Id::new(5))));
        assert_eq!(
            patch.welcome_message,
            Some(None),
            "no message: back to the default"
        );
        let off = [opt("off", CommandOptionValue::SubCommand(vec![]))];
        assert_eq!(
            patch_for("welcome", Options(&off))
                .unwrap()
                .0
                .welcome_channel,
            Some(None)
        );
    }

    #[test]
    fn warnings_expiry_and_dm() {
        assert!(patch_for("warnings", Options(&[])).is_err());
        let opts = [opt("expiry", CommandOptionValue::String("1w 2d".into()))];
        let (patch, _) = patch_for("warnings", Options(&opts)).unwrap();
        assert_eq!(patch.warn_expiry_secs, Some(Some(9 * 86_400)));
        assert_eq!(patch.dm_on_warn, None);
        let opts = [
            opt("expiry", CommandOptionValue::String("OFF".into())),
            opt("dm", CommandOptionValue::Boolean(false)),
        ];
        let (patch, _) = patch_for("warnings", Options(&opts)).unwrap();
        assert_eq!(patch.warn_expiry_secs, Some(None));
        assert_eq!(patch.dm_on_warn, Some(false));
        let opts = [opt("expiry", CommandOptionValue::String("soon".into()))];
        let err = patch_for("warnings", Options(&opts)).unwrap_err();
        assert!(err.reply().contains("30m"), "{}", err.reply());
    }

    #[test]
    fn escalation_rules_are_read_and_checked() {
        let rule = |opts: &[CommandDataOption]| escalation_rule(Id::new(1), Options(opts));
        let count = |n| opt("count", CommandOptionValue::Integer(n));
        let action = |a: &str| opt("action", CommandOptionValue::String(a.into()));
        let duration = |d: &str| opt("duration", CommandOptionValue::String(d.into()));
        let timeout = rule(&[count(3), action("timeout"), duration("1h")]).unwrap();
        assert_eq!(timeout.warnings, 3);
        assert_eq!(timeout.action, EscalationAction::Timeout);
        assert_eq!(timeout.duration_secs, Some(3_600));
        assert_eq!(describe_rule(&timeout), "time them out for 1 hour");
        let ban = rule(&[count(5), action("ban")]).unwrap();
        assert_eq!(describe_rule(&ban), "ban them");
        let refused = |opts: &[CommandDataOption]| rule(opts).unwrap_err().reply();
        assert!(refused(&[count(3), action("timeout")]).contains("needs a duration"));
        assert!(refused(&[count(3), action("timeout"), duration("29d")]).contains("28 days"));
        assert!(refused(&[count(3), action("kick"), duration("1h")]).contains("no duration"));
        assert!(refused(&[count(3), action("mute")]).contains("not an action"));
        assert!(refused(&[count(3), action("ban"), duration("1x")]).contains("unit"));
    }

    #[test]
    fn xp_needs_at_least_one_value() {
        assert!(patch_for("xp", Options(&[])).is_err());
        let opts = [opt("cooldown", CommandOptionValue::Integer(0))];
        let (patch, _) = patch_for("xp", Options(&opts)).unwrap();
        assert_eq!(patch.xp_cooldown_secs, Some(0));
        assert_eq!(patch.xp_min, None);
    }

    #[test]
    fn accents_are_six_hex_digits_or_default() {
        assert_eq!(parse_accent("#FF8800").unwrap(), Some(0xFF8800));
        assert_eq!(parse_accent(" 00ff7f ").unwrap(), Some(0x00FF7F));
        assert_eq!(parse_accent("Default").unwrap(), None);
        for bad in [
            "",
            "#FFF",
            "#GG0000",
            "#FF88000",
            "red",
            "#+F8800",
            "#ＦＦ8800",
        ] {
            let err = parse_accent(bad).unwrap_err();
            assert!(
                err.reply().contains("six hex digits"),
                "{bad:?}: {}",
                err.reply()
            );
        }
        assert!(parse_accent("`x`").unwrap_err().reply().contains("'x'"));
    }

    #[test]
    fn rankcard_on_off_and_web() {
        let on = [opt(
            "on",
            CommandOptionValue::SubCommand(vec![opt(
                "accent",
                CommandOptionValue::String("#ff8800".into()),
            )]),
        )];
        let (patch, done) = patch_for("rankcard", Options(&on)).unwrap();
        assert_eq!(
            (patch.rank_card, patch.rank_card_accent),
            (Some(true), Some(Some(0xFF8800)))
        );
        assert!(done.contains("#FF8800"), "{done}");
        let bare = [opt("on", CommandOptionValue::SubCommand(vec![]))];
        let (patch, _) = patch_for("rankcard", Options(&bare)).unwrap();
        assert_eq!(
            (patch.rank_card, patch.rank_card_accent),
            (Some(true), None),
            "on without a colour keeps the colour"
        );
        let bad = [opt(
            "on",
            CommandOptionValue::SubCommand(vec![opt(
                "accent",
                CommandOptionValue::String("blue".into()),
            )]),
        )];
        assert!(patch_for("rankcard", Options(&bad)).is_err());
        let off = [opt("off", CommandOptionValue::SubCommand(vec![]))];
        assert_eq!(
            patch_for("rankcard", Options(&off)).unwrap().0.rank_card,
            Some(false)
        );
        for (choice, public) in [("public", true), ("private", false)] {
            let web = [opt("visibility", CommandOptionValue::String(choice.into()))];
            assert_eq!(
                patch_for("web", Options(&web)).unwrap().0.web_public,
                Some(public)
            );
        }
        let web = [opt(
            "visibility",
            CommandOptionValue::String("hidden".into()),
        )];
        assert!(patch_for("web", Options(&web)).is_err());
    }
}
