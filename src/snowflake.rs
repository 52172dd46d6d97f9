//! When Discord made something: a snowflake's top 42 bits are milliseconds since
//! Discord's epoch. Keeper goes by these moments, Discord's clock, wherever an
//! answer must not depend on when Keeper happened to see an event (an
//! interaction's 3 s window, a message's XP cooldown when it is replayed).

use chrono::{DateTime, Utc};

/// Discord's epoch, 2015-01-01T00:00:00Z, in Unix milliseconds.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// The moment the snowflake `id` was made (to the millisecond).
pub fn created_at(id: u64) -> DateTime<Utc> {
    let ms = DISCORD_EPOCH_MS + (id >> 22) as i64;
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_discords_documented_example() {
        // discord.com/developers/docs/reference#snowflakes
        let at = super::created_at(175_928_847_299_117_063);
        assert_eq!(at.to_rfc3339(), "2016-04-30T11:18:25.796+00:00");
    }
}
