use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker},
};

use crate::{StoreError, StoreResult};

/// The prefix a guild starts with.
pub const DEFAULT_PREFIX: &str = "!";

/// Seconds between two awards of one member, for a guild that never set it.
pub const DEFAULT_XP_COOLDOWN_SECS: i32 = 60;
/// The welcome message used when a welcome channel is set without a message.
pub const DEFAULT_WELCOME_MESSAGE: &str =
    "Welcome to {server}, {user}! You are member #{member_count}.";
/// The level-up message used when none is set.
pub const DEFAULT_LEVELUP_MESSAGE: &str = "GG {user}, you just reached level {level}!";

/// Where level-up announcements go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "channel_id", rename_all = "snake_case")]
pub enum LevelUpTarget {
    /// Not announced.
    Off,
    /// In the channel where the member sent the message that levelled them up.
    #[default]
    Here,
    /// In one fixed channel.
    Channel(Id<ChannelMarker>),
}

/// One guild's settings, with defaults filled in for what was never set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildSettings {
    pub guild_id: Id<GuildMarker>,
    pub prefix: String,
    pub welcome_channel: Option<Id<ChannelMarker>>,
    /// `None`: [`DEFAULT_WELCOME_MESSAGE`].
    pub welcome_message: Option<String>,
    pub modlog_channel: Option<Id<ChannelMarker>>,
    pub levelup: LevelUpTarget,
    /// `None`: [`DEFAULT_LEVELUP_MESSAGE`].
    pub levelup_message: Option<String>,
    pub xp_min: i32,
    pub xp_max: i32,
    pub xp_cooldown_secs: i32,
    /// Warnings stop counting after this many seconds; `None`: never.
    pub warn_expiry_secs: Option<i64>,
    pub dm_on_warn: bool,
    /// Whether `/rank` answers with a card image; its text is sent either way.
    pub rank_card: bool,
    /// The rank card's accent colour as 0xRRGGBB; `None`: Keeper's own.
    pub rank_card_accent: Option<u32>,
    /// Whether the guild's leaderboard is on the web (the page and the API).
    /// Private, the default, answers 404 there, as for a guild Keeper never saw.
    pub web_public: bool,
    /// When the guild's row was first written; `None` for a guild never configured.
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl GuildSettings {
    /// The settings of a guild that never changed anything.
    pub fn defaults(guild_id: Id<GuildMarker>) -> Self {
        Self {
            guild_id,
            prefix: DEFAULT_PREFIX.to_owned(),
            welcome_channel: None,
            welcome_message: None,
            modlog_channel: None,
            levelup: LevelUpTarget::Here,
            levelup_message: None,
            xp_min: 15,
            xp_max: 25,
            xp_cooldown_secs: DEFAULT_XP_COOLDOWN_SECS,
            warn_expiry_secs: None,
            dm_on_warn: true,
            rank_card: true,
            rank_card_accent: None,
            web_public: false,
            created_at: None,
            updated_at: None,
        }
    }

    /// The welcome template in force.
    pub fn welcome_template(&self) -> &str {
        self.welcome_message
            .as_deref()
            .unwrap_or(DEFAULT_WELCOME_MESSAGE)
    }

    /// The level-up template in force.
    pub fn levelup_template(&self) -> &str {
        self.levelup_message
            .as_deref()
            .unwrap_or(DEFAULT_LEVELUP_MESSAGE)
    }

    /// Apply a patch, checking the result as a whole. On error `self` is unchanged.
    pub fn apply(&mut self, patch: &SettingsPatch) -> StoreResult<()> {
        let mut next = self.clone();
        if let Some(prefix) = &patch.prefix {
            next.prefix.clone_from(prefix);
        }
        if let Some(channel) = patch.welcome_channel {
            next.welcome_channel = channel;
        }
        if let Some(message) = &patch.welcome_message {
            next.welcome_message.clone_from(message);
        }
        if let Some(channel) = patch.modlog_channel {
            next.modlog_channel = channel;
        }
        if let Some(target) = patch.levelup {
            next.levelup = target;
        }
        if let Some(message) = &patch.levelup_message {
            next.levelup_message.clone_from(message);
        }
        if let Some(min) = patch.xp_min {
            next.xp_min = min;
        }
        if let Some(max) = patch.xp_max {
            next.xp_max = max;
        }
        if let Some(cooldown) = patch.xp_cooldown_secs {
            next.xp_cooldown_secs = cooldown;
        }
        if let Some(expiry) = patch.warn_expiry_secs {
            next.warn_expiry_secs = expiry;
        }
        if let Some(dm) = patch.dm_on_warn {
            next.dm_on_warn = dm;
        }
        if let Some(on) = patch.rank_card {
            next.rank_card = on;
        }
        if let Some(accent) = patch.rank_card_accent {
            next.rank_card_accent = accent;
        }
        if let Some(public) = patch.web_public {
            next.web_public = public;
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The invariants the database also enforces with CHECK constraints; checked here
    /// first so the person gets a sentence rather than a constraint name.
    pub fn validate(&self) -> StoreResult<()> {
        let invalid = |msg: &str| Err(StoreError::Invalid(msg.to_owned()));
        if self.prefix.is_empty() || self.prefix.chars().count() > 10 {
            return invalid("The prefix must be 1 to 10 characters long.");
        }
        if self.xp_min < 0 || self.xp_max < 0 {
            return invalid("XP per message can't be negative.");
        }
        if self.xp_min > self.xp_max {
            return invalid("The minimum XP per message can't be above the maximum.");
        }
        if self.xp_max > 10_000 {
            return invalid("XP per message can be at most 10000.");
        }
        if !(0..=86_400).contains(&self.xp_cooldown_secs) {
            return invalid("The XP cooldown must be between 0 seconds and one day.");
        }
        if matches!(self.warn_expiry_secs, Some(s) if s <= 0) {
            return invalid("A warning expiry must be a positive duration.");
        }
        if matches!(self.rank_card_accent, Some(c) if c > 0xFF_FFFF) {
            return invalid("A colour is six hex digits, #RRGGBB.");
        }
        for message in [&self.welcome_message, &self.levelup_message]
            .into_iter()
            .flatten()
        {
            if message.is_empty() || message.chars().count() > 2_000 {
                return invalid("A message template must be 1 to 2000 characters long.");
            }
        }
        Ok(())
    }
}

/// A partial update: `None` leaves a field as it is; for optional fields
/// `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub prefix: Option<String>,
    pub welcome_channel: Option<Option<Id<ChannelMarker>>>,
    pub welcome_message: Option<Option<String>>,
    pub modlog_channel: Option<Option<Id<ChannelMarker>>>,
    pub levelup: Option<LevelUpTarget>,
    pub levelup_message: Option<Option<String>>,
    pub xp_min: Option<i32>,
    pub xp_max: Option<i32>,
    pub xp_cooldown_secs: Option<i32>,
    pub warn_expiry_secs: Option<Option<i64>>,
    pub dm_on_warn: Option<bool>,
    pub rank_card: Option<bool>,
    pub rank_card_accent: Option<Option<u32>>,
    pub web_public: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guild() -> Id<GuildMarker> {
        Id::new(1)
    }

    #[test]
    fn patch_changes_only_named_fields() {
        let mut s = GuildSettings::defaults(guild());
        let patch = SettingsPatch {
            prefix: Some("?".into()),
            welcome_channel: Some(Some(Id::new(5))),
            ..Default::default()
        };
        s.apply(&patch).unwrap();
        assert_eq!(s.prefix, "?");
        assert_eq!(s.welcome_channel, Some(Id::new(5)));
        assert_eq!(s.xp_min, 15);
        s.apply(&SettingsPatch {
            welcome_channel: Some(None),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.welcome_channel, None);
        assert_eq!(s.prefix, "?");
    }

    #[test]
    fn invalid_patch_leaves_settings_unchanged() {
        let mut s = GuildSettings::defaults(guild());
        let before = s.clone();
        let err = s
            .apply(&SettingsPatch {
                xp_min: Some(30),
                prefix: Some("$".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(m) if m.contains("minimum")));
        assert_eq!(s, before);
        assert!(
            s.apply(&SettingsPatch {
                prefix: Some(String::new()),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            s.apply(&SettingsPatch {
                prefix: Some("x".repeat(11)),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            s.apply(&SettingsPatch {
                xp_cooldown_secs: Some(-1),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            s.apply(&SettingsPatch {
                warn_expiry_secs: Some(Some(0)),
                ..Default::default()
            })
            .is_err()
        );
    }
}
