//! When Discord made something: a snowflake's top 42 bits are milliseconds since
//! Discord's epoch. Keeper goes by these moments, Discord's clock, wherever an
//! answer must not depend on when Keeper happened to see an event (an
//! interaction's 3 s window, a message's XP cooldown when it is replayed).

use chrono::{DateTime, Utc};

/// Discord's epoch, 2015-01-01T00:00:00Z, in Unix milliseconds.
pub const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// The moment the snowflake `id` was made (to the millisecond).
pub fn created_at(id: u64) -> DateTime<Utc> {
    let ms = DISCORD_EPOCH_MS + (id >> 22) as i64;
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// How Discord's answer window is judged: 3 s from when the member ran the
/// command (the interaction's ID). Past it, the member has seen "The application
/// did not respond".
pub const ANSWER_WINDOW: chrono::Duration = chrono::Duration::seconds(3);

/// Discord's clock as this machine reads it: its own, minus how far it runs
/// ahead of Discord's, learnt at start-up from the `Date` of Discord's answers.
/// Those dates are whole seconds, so a difference under two seconds is read as
/// none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiscordClock {
    ahead: chrono::Duration,
}

impl DiscordClock {
    /// The clock given that Discord's answer received at `local` was dated
    /// `discord`.
    pub fn from_date(local: DateTime<Utc>, discord: DateTime<Utc>) -> Self {
        let ahead = local - discord;
        if ahead.abs() < chrono::Duration::seconds(2) {
            return Self::default();
        }
        Self { ahead }
    }

    /// How far this machine's clock runs ahead of Discord's (negative: behind).
    pub fn ahead(&self) -> chrono::Duration {
        self.ahead
    }

    /// Discord's time now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() - self.ahead
    }
}

/// How old, by Discord's clock at `now`, the thing with ID `id` is (zero when
/// its moment is still to come: a clock a little behind).
pub fn age(id: u64, now: DateTime<Utc>) -> chrono::Duration {
    (now - created_at(id)).max(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_corrects_what_the_dates_can_tell() {
        let local = DateTime::from_timestamp(1_800_000_000, 500_000_000).unwrap();
        let same = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            DiscordClock::from_date(local, same),
            DiscordClock::default()
        );
        let behind = DateTime::from_timestamp(1_799_999_990, 0).unwrap();
        let clock = DiscordClock::from_date(local, behind);
        assert_eq!(clock.ahead().num_milliseconds(), 10_500);
        assert!(Utc::now() - clock.now() > chrono::Duration::seconds(10));
        let ahead = DateTime::from_timestamp(1_800_000_005, 0).unwrap();
        assert_eq!(
            DiscordClock::from_date(local, ahead).ahead().num_seconds(),
            -4
        );
    }

    #[test]
    fn ages_never_go_negative() {
        let id = (1_000u64 << 22) | 1;
        let made = created_at(id);
        assert_eq!(
            age(id, made + chrono::Duration::seconds(4)).num_seconds(),
            4
        );
        assert_eq!(
            age(id, made - chrono::Duration::seconds(4)),
            chrono::Duration::zero()
        );
    }

    #[test]
    fn reads_discords_documented_example() {
        // discord.com/developers/docs/reference#snowflakes
        let at = super::created_at(175_928_847_299_117_063);
        assert_eq!(at.to_rfc3339(), "2016-04-30T11:18:25.796+00:00");
    }
}
