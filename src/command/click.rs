//! A click on one of Keeper's buttons (a confirmation): which command's it is,
//! who clicked, and when the buttons stop working.
//!
//! A button's `custom_id` is `<command>:<what>:<made at, Unix seconds>` and
//! the command's [`Spec::button`](super::Spec) handles it. Buttons work for
//! [`BUTTON_LIFETIME`] after they were shown: a confirmation clicked an hour
//! later was not meant any more.

use chrono::{DateTime, Utc};
use twilight_model::{
    application::interaction::{Interaction, message_component::MessageComponentInteractionData},
    guild::Permissions,
    id::{
        Id,
        marker::{GuildMarker, InteractionMarker},
    },
    user::User,
};

/// How long a confirmation button works after it was shown.
pub const BUTTON_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// One click, with what a handler needs to know about it.
pub struct Click<'a> {
    /// The click's own interaction: a write made for it is applied once.
    pub interaction_id: Id<InteractionMarker>,
    pub guild_id: Id<GuildMarker>,
    pub user: &'a User,
    pub permissions: Permissions,
    /// The command's part of the `custom_id`: what the button does.
    pub action: &'a str,
    /// When the button was shown.
    pub made_at: Option<DateTime<Utc>>,
}

impl<'a> Click<'a> {
    /// `None` outside a guild; with the command's name the button belongs to.
    pub fn new(
        interaction: &'a Interaction,
        data: &'a MessageComponentInteractionData,
    ) -> Option<(&'a str, Self)> {
        let member = interaction.member.as_ref()?;
        let (command, action, made_at) = parse_custom_id(&data.custom_id)?;
        Some((
            command,
            Self {
                interaction_id: interaction.id,
                guild_id: interaction.guild_id?,
                user: member.user.as_ref().or(interaction.user.as_ref())?,
                permissions: member.permissions.unwrap_or_else(Permissions::empty),
                action,
                made_at,
            },
        ))
    }

    /// Whether the button is past [`BUTTON_LIFETIME`] at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.made_at.is_none_or(|made| now - made > BUTTON_LIFETIME)
    }
}

/// The `custom_id` of a button of `command` doing `action`, shown at `now`.
pub fn custom_id(command: &str, action: &str, now: DateTime<Utc>) -> String {
    format!("{command}:{action}:{}", now.timestamp())
}

/// `(command, action, made at)` of a `custom_id`.
pub fn parse_custom_id(custom_id: &str) -> Option<(&str, &str, Option<DateTime<Utc>>)> {
    let (command, rest) = custom_id.split_once(':')?;
    let (action, made) = rest.rsplit_once(':')?;
    let made_at = made
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0));
    Some((command, action, made_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_expire() {
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let id = custom_id("mydata", "delete", now);
        assert_eq!(id, "mydata:delete:1796119200");
        assert_eq!(parse_custom_id(&id), Some(("mydata", "delete", Some(now))));
        assert_eq!(
            parse_custom_id("config:reset-data:x"),
            Some(("config", "reset-data", None))
        );
        assert_eq!(parse_custom_id("nothing"), None);
        assert_eq!(parse_custom_id("a:b"), None);
    }
}
