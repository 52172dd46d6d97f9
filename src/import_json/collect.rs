//! What the readers of each format share: the guilds and members found so
//! far, the rule for duplicates, and the list of what was skipped and why.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use keeper_store::{
    import::{ImportGuild, ImportMember, ImportSettings, ImportWarning},
    levels::{MAX_LEVEL, level_for_xp, total_xp_for_level},
};
use serde_json::{Map, Value};
use twilight_model::id::Id;

use super::ids::{clip, short, snowflake_text, snowflake_value};

/// At most this many warnings for one member: more is a damaged file.
pub const MAX_WARNINGS: u64 = 1_000;
/// A warning's reason is cut to this (Discord's audit-log limit, as /warn).
pub const MAX_REASON: usize = 512;

/// One entry of the file left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// Where in the file: `"123"."users"."456"`.
    pub at: String,
    /// What kind of problem, for grouping in the report: "bad id", "bad XP"...
    pub kind: &'static str,
    pub why: String,
}

/// Everything read from the input, ready for the store.
#[derive(Debug, Default)]
pub struct Parsed {
    pub guilds: Vec<ImportGuild>,
    pub skipped: Vec<Skip>,
    /// Members whose level in the file is not the one their XP gives by
    /// Keeper's curve (the XP wins).
    pub levels_differing: u64,
    /// Notes about the file as a whole ("MEE6's role rewards are not imported").
    pub notes: Vec<String>,
}

impl Parsed {
    pub fn members(&self) -> usize {
        self.guilds.iter().map(|g| g.members.len()).sum()
    }

    pub fn warnings(&self) -> usize {
        self.guilds
            .iter()
            .flat_map(|g| &g.members)
            .map(|m| m.warnings.len())
            .sum()
    }
}

/// One guild as found so far: its settings, its members by user id, and the
/// order they came in (the report and the cases follow the file).
type Found = (ImportSettings, HashMap<u64, ImportMember>, Vec<u64>);

/// Gathers guilds and members as a reader finds them.
pub struct Collector {
    pub now: DateTime<Utc>,
    guilds: BTreeMap<u64, Found>,
    parsed: Parsed,
}

impl Collector {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            guilds: BTreeMap::new(),
            parsed: Parsed::default(),
        }
    }

    pub fn skip(&mut self, at: &str, kind: &'static str, why: impl Into<String>) {
        self.parsed.skipped.push(Skip {
            at: at.to_owned(),
            kind,
            why: why.into(),
        });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.parsed.notes.contains(&note) {
            self.parsed.notes.push(note);
        }
    }

    /// The guild's settings, to fill in.
    pub fn settings(&mut self, guild: u64) -> &mut ImportSettings {
        &mut self.guilds.entry(guild).or_default().0
    }

    /// A member. A second entry for the same guild and user is merged into the
    /// first: the larger XP and message count, the longer list of warnings. It
    /// is reported when `duplicate` names what it was (a guild's separate
    /// warnings list is no duplicate).
    pub fn member(&mut self, guild: u64, member: ImportMember, duplicate: Option<&str>) {
        let user = member.user_id.get();
        let (_, members, order) = self.guilds.entry(guild).or_default();
        let Some(kept) = members.get_mut(&user) else {
            order.push(user);
            members.insert(user, member);
            return;
        };
        kept.xp = kept.xp.max(member.xp);
        kept.messages = kept.messages.max(member.messages);
        if member.warnings.len() > kept.warnings.len() {
            kept.warnings = member.warnings;
        }
        if let Some(at) = duplicate {
            self.parsed.skipped.push(Skip {
                at: at.to_owned(),
                kind: "duplicate",
                why: format!(
                    "user {user} of guild {guild} appears again; merged (the larger XP, \
                     the longer list of warnings)"
                ),
            });
        }
    }

    pub fn finish(mut self) -> Parsed {
        for (guild, (settings, mut members, order)) in self.guilds {
            let Some(guild_id) = Id::new_checked(guild) else {
                continue;
            };
            let members = order
                .into_iter()
                .filter_map(|user| members.remove(&user))
                .collect();
            self.parsed.guilds.push(ImportGuild {
                guild_id,
                settings,
                members,
            });
        }
        self.parsed
    }

    /// Read a member object (`{"xp": 120, "level": 2, "warnings": 1}`) of user
    /// `user`; `None` (reported) when it can't be used.
    pub fn read_member(
        &mut self,
        user: u64,
        object: &Map<String, Value>,
        at: &str,
        ignored: &[&str],
    ) -> Option<ImportMember> {
        let user_id = Id::new_checked(user)?;
        let mut xp = None;
        let mut level = None;
        let mut messages = 0;
        let mut warnings = Vec::new();
        for (key, value) in object {
            let here = format!("{at}.{}", quoted(key));
            match normal(key).as_str() {
                "xp" | "exp" | "experience" | "points" | "totalxp" => {
                    xp = Some(self.count(value, &here, "bad XP")?);
                }
                "level" | "lvl" => level = Some(self.count(value, &here, "bad level")?),
                "messages" | "messagecount" | "msgs" | "messagessent" => {
                    messages = self.count(value, &here, "bad message count")?;
                }
                "warnings" | "warns" | "warningcount" | "infractions" => {
                    warnings = self.warnings(value, &here)?;
                }
                other if ignored.contains(&other) || IGNORED_MEMBER_KEYS.contains(&other) => {}
                _ => self.skip(
                    &here,
                    "unknown key",
                    "not a member field Keeper knows; ignored",
                ),
            }
        }
        let xp = match (xp, level) {
            (Some(xp), level) => {
                if level.is_some_and(|l| l != i64::from(level_for_xp(xp))) {
                    self.parsed.levels_differing += 1;
                }
                xp
            }
            (None, Some(level)) if level <= i64::from(MAX_LEVEL) => {
                total_xp_for_level(level as i32)
            }
            (None, Some(level)) => {
                self.skip(
                    at,
                    "bad level",
                    format!("level {level} is above {MAX_LEVEL}"),
                );
                return None;
            }
            (None, None) if !warnings.is_empty() || messages > 0 => 0,
            (None, None) => {
                self.skip(at, "no data", "neither XP, level, messages nor warnings");
                return None;
            }
        };
        if xp > total_xp_for_level(MAX_LEVEL) {
            self.skip(
                at,
                "bad XP",
                format!("{xp} XP is more than level {MAX_LEVEL} needs"),
            );
            return None;
        }
        Some(ImportMember {
            user_id,
            xp,
            messages,
            warnings,
        })
    }

    /// A whole number, at least 0.
    fn count(&mut self, value: &Value, at: &str, kind: &'static str) -> Option<i64> {
        let why = match value {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(v), _) if v >= 0 => return Some(v),
                (Some(v), _) => format!("{v} is negative"),
                (None, Some(f)) if f.fract() == 0.0 && f > 0.0 => {
                    format!("{n} is too large")
                }
                _ => format!("{n} is not a whole number"),
            },
            // Some bots keep numbers as text.
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(v) if v >= 0 => return Some(v),
                Ok(v) => format!("{v} is negative"),
                Err(_) => format!("{} is not a number", short(value)),
            },
            other => format!("{} is not a number", short(other)),
        };
        self.skip(at, kind, why);
        None
    }

    /// A count of warnings, or a list of them (reasons, or objects).
    fn warnings(&mut self, value: &Value, at: &str) -> Option<Vec<ImportWarning>> {
        if let Value::Array(items) = value {
            if items.len() as u64 > MAX_WARNINGS {
                self.skip(
                    at,
                    "bad warnings",
                    format!("more than {MAX_WARNINGS} warnings"),
                );
                return None;
            }
            let mut warnings = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}[{i}]");
                match item {
                    Value::String(reason) => warnings.push(ImportWarning {
                        reason: self.reason(reason, &here),
                        ..Default::default()
                    }),
                    Value::Object(fields) => warnings.push(self.warning(fields, &here)),
                    Value::Null => warnings.push(ImportWarning::default()),
                    other => self.skip(
                        &here,
                        "bad warnings",
                        format!("{} is not a warning", short(other)),
                    ),
                }
            }
            return Some(warnings);
        }
        let count = self.count(value, at, "bad warnings")?;
        if count as u64 > MAX_WARNINGS {
            self.skip(
                at,
                "bad warnings",
                format!("{count} is more than {MAX_WARNINGS} warnings"),
            );
            return None;
        }
        Some(vec![ImportWarning::default(); count as usize])
    }

    /// One warning object: `{"reason": "spam", "moderator": "<id>", "date": ...}`.
    fn warning(&mut self, fields: &Map<String, Value>, at: &str) -> ImportWarning {
        let mut warning = ImportWarning::default();
        for (key, value) in fields {
            let here = format!("{at}.{}", quoted(key));
            match normal(key).as_str() {
                "reason" | "text" | "message" | "content" => match value {
                    Value::String(reason) => warning.reason = self.reason(reason, &here),
                    Value::Null => {}
                    other => self.skip(
                        &here,
                        "bad warnings",
                        format!("{} is no reason", short(other)),
                    ),
                },
                "moderator" | "mod" | "moderatorid" | "modid" | "by" | "author" | "authorid"
                | "issuer" | "issuerid" => match snowflake_value(value, self.now) {
                    Ok(id) => warning.moderator_id = Id::new_checked(id),
                    Err(why) => {
                        self.skip(&here, "bad id", format!("{why}; the moderator is unknown"))
                    }
                },
                "date" | "time" | "timestamp" | "createdat" | "at" | "when" => {
                    match moment(value) {
                        Some(at) if at <= self.now => warning.created_at = Some(at),
                        _ => self.skip(
                            &here,
                            "bad time",
                            format!(
                                "{} is not a past time; the import's time is used",
                                short(value)
                            ),
                        ),
                    }
                }
                "id" | "case" | "casenumber" | "number" | "guild" | "guildid" | "user"
                | "userid" => {}
                _ => self.skip(
                    &here,
                    "unknown key",
                    "not a warning field Keeper knows; ignored",
                ),
            }
        }
        warning
    }

    fn reason(&mut self, reason: &str, at: &str) -> Option<String> {
        let reason = reason.trim();
        if reason.is_empty() {
            return None;
        }
        if reason.chars().count() > MAX_REASON {
            self.skip(at, "long reason", format!("cut to {MAX_REASON} characters"));
            return Some(reason.chars().take(MAX_REASON).collect());
        }
        Some(reason.to_owned())
    }

    /// A guild or user id as an object key.
    pub fn key_id(&mut self, key: &str, at: &str) -> Option<u64> {
        match snowflake_text(key, self.now) {
            Ok(id) => Some(id),
            Err(why) => {
                self.skip(at, "bad id", why);
                None
            }
        }
    }

    /// A channel id setting.
    pub fn channel(
        &mut self,
        value: &Value,
        at: &str,
    ) -> Option<Id<twilight_model::id::marker::ChannelMarker>> {
        if value.is_null() {
            return None;
        }
        match snowflake_value(value, self.now) {
            Ok(id) => Id::new_checked(id),
            Err(why) => {
                self.skip(at, "bad id", why);
                None
            }
        }
    }

    /// A text setting: `limit` characters at most.
    pub fn text(&mut self, value: &Value, at: &str, limit: usize) -> Option<String> {
        match value {
            Value::String(text) if !text.trim().is_empty() && text.chars().count() <= limit => {
                Some(text.clone())
            }
            Value::String(text) if text.trim().is_empty() => {
                self.skip(at, "bad setting", "empty");
                None
            }
            Value::String(text) => {
                self.skip(
                    at,
                    "bad setting",
                    format!("{} characters; Keeper allows {limit}", text.chars().count()),
                );
                None
            }
            Value::Null => None,
            other => {
                self.skip(at, "bad setting", format!("{} is not text", short(other)));
                None
            }
        }
    }
}

/// Member fields Keeper has no use for, ignored without a word.
const IGNORED_MEMBER_KEYS: &[&str] = &[
    "id",
    "userid",
    "user",
    "name",
    "username",
    "tag",
    "discriminator",
    "avatar",
    "displayname",
    "globalname",
    "nickname",
    "nick",
    "lastmessage",
    "lastmessageat",
    "lastxp",
    "lastxpat",
    "cooldown",
    "timestamp",
    "rank",
    "color",
    "colour",
    "background",
];

/// A key as compared: lower case, without `_`, `-` or spaces, so that
/// `welcome_channel`, `welcomeChannel` and `Welcome-Channel` are one.
pub fn normal(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A key as a path shows it.
pub fn quoted(key: &str) -> String {
    format!("{:?}", clip(key))
}

/// A time: RFC 3339 text, or Unix seconds (or milliseconds, when too large
/// for seconds).
fn moment(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => {
            let n = n.as_i64()?;
            if n <= 0 {
                None
            } else if n < 100_000_000_000 {
                DateTime::from_timestamp(n, 0)
            } else {
                DateTime::from_timestamp_millis(n)
            }
        }
        _ => None,
    }
}
