//! What every handler shares: the Discord clients, the store, what Keeper keeps
//! in memory per guild ([`Guilds`]), the XP pipeline ([`Xp`]), the per-channel
//! queues of what Keeper posts ([`Outbox`]), the text commands' cooldowns and the
//! tracker of the tasks a shutdown waits for.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use keeper_store::Store;
use tokio_util::task::TaskTracker;
use twilight_http::Client;
use twilight_model::id::{
    Id,
    marker::{ApplicationMarker, GuildMarker, UserMarker},
};

use crate::{
    avatars::{self, Avatars},
    card,
    guilds::Guilds,
    metered_store::MeteredStore,
    metrics::Metrics,
    outbox::{Outbox, OutboxStats},
    seen_acts::DiscordActs,
    snowflake::DiscordClock,
    xp::{Xp, cooldown::Cooldowns},
};

pub struct Context {
    pub http: Arc<Client>,
    /// For interaction responses only: no rate limiter (see
    /// [`crate::discord::interaction_client`]).
    pub interactions: Arc<Client>,
    pub store: Arc<dyn Store>,
    pub application_id: Id<ApplicationMarker>,
    pub bot_id: Id<UserMarker>,
    pub guilds: Arc<Guilds>,
    pub xp: Arc<Xp>,
    /// What Keeper posts on its own, queued per channel and bounded.
    pub outbox: Arc<Outbox>,
    /// Who ran a text command lately: a member's commands within a few seconds
    /// of the last are ignored.
    pub text_cooldowns: TextCooldowns,
    /// Handlers that talk to Discord or may wait on the database run as tasks of
    /// this tracker (and so do level-up effects): the shutdown waits for them.
    pub tasks: TaskTracker,
    /// Discord's clock, for the answer window of interactions.
    pub clock: DiscordClock,
    /// Wakes the loop that lifts temporary bans (`lift_bans`, in `acts.rs`):
    /// a ban just done may end before its next look.
    pub lifts: Arc<tokio::sync::Notify>,
    /// Bans and timeouts made in Discord's menus, queued to be recorded as
    /// cases in gateway order (off unless the bot was started with it on).
    pub discord_acts: DiscordActs,
    /// What `/metrics` shows, and the shard states `/readyz` reads.
    pub metrics: Arc<Metrics>,
    /// Draws rank cards (fonts loaded once).
    pub cards: Arc<card::Renderer>,
    /// The line of rank cards to draw: half the cores (at least one) at once
    /// (unbounded, a burst of `/rank` competed with the gateway's flood and
    /// the database for every core: BENCHMARKS.md, session 17), a few more
    /// waiting, the rest answered as text.
    pub drawing: Arc<crate::card::DrawingLine>,
    /// Members' avatars for the cards, from Discord's CDN.
    pub avatars: Avatars,
    /// `KEEPER_PUBLIC_URL`, without a trailing slash: where the web
    /// leaderboard is reached, for the links to it.
    pub public_url: Option<String>,
}

impl Context {
    pub fn new(
        http: Arc<Client>,
        interactions: Arc<Client>,
        store: Arc<dyn Store>,
        application_id: Id<ApplicationMarker>,
        bot_id: Id<UserMarker>,
        stats: Arc<OutboxStats>,
    ) -> Self {
        let metrics = Arc::new(Metrics::new());
        // Everything the bot asks of the database, timed by operation.
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, Arc::clone(&metrics)));
        let guilds = Arc::new(Guilds::new(Arc::clone(&store)));
        let tasks = TaskTracker::new();
        let outbox = Arc::new(Outbox::new(
            Arc::clone(&http),
            Arc::clone(&guilds),
            stats,
            Arc::clone(&metrics),
        ));
        let xp = Xp::new(
            Arc::clone(&store),
            Arc::clone(&http),
            Arc::clone(&guilds),
            Arc::clone(&outbox),
            tasks.clone(),
        );
        Self {
            http,
            interactions,
            store,
            application_id,
            bot_id,
            guilds,
            xp: Arc::new(xp),
            outbox,
            text_cooldowns: TextCooldowns::default(),
            tasks,
            clock: DiscordClock::default(),
            lifts: Arc::default(),
            discord_acts: DiscordActs::new(false),
            metrics,
            cards: Arc::new(card::Renderer::new()),
            drawing: Arc::new(crate::card::DrawingLine::new(drawing_permits())),
            avatars: Avatars::new(avatars::DISCORD_CDN, avatars::CACHE_BYTES),
            public_url: None,
        }
    }
}

/// How many rank cards are drawn at once: half the cores, at least one.
fn drawing_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// How long after a member's text command their next ones are ignored, by
/// Discord's clock (the messages' IDs): what one member can make Keeper post
/// is bounded, whatever they type.
pub const TEXT_COOLDOWN_SECS: i32 = 3;

/// Who ran a text command lately, per guild: the XP cooldown's rule
/// ([`Cooldowns`]) with [`TEXT_COOLDOWN_SECS`].
#[derive(Debug, Default)]
pub struct TextCooldowns(Mutex<Cooldowns>);

impl TextCooldowns {
    /// Whether `user` may run a text command sent at `at` (and if so the
    /// cooldown starts again from `at`). Never waits: one short lock.
    pub fn allow(&self, guild: Id<GuildMarker>, user: Id<UserMarker>, at: DateTime<Utc>) -> bool {
        self.0
            .lock()
            .expect("text cooldowns lock")
            .try_award(guild, user, at, TEXT_COOLDOWN_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_members_text_commands_within_the_cooldown_are_ignored() {
        let cooldowns = TextCooldowns::default();
        let (guild, other_guild) = (Id::new(1), Id::new(2));
        let (alice, bob) = (Id::new(10), Id::new(11));
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let after = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
        assert!(cooldowns.allow(guild, alice, t0));
        assert!(!cooldowns.allow(guild, alice, after(1)), "a second at once");
        assert!(!cooldowns.allow(guild, alice, after(2_999)));
        // Others, and the same member elsewhere, are not held back.
        assert!(cooldowns.allow(guild, bob, after(1)));
        assert!(cooldowns.allow(other_guild, alice, after(1)));
        // Three seconds after the command that ran, the next runs.
        assert!(cooldowns.allow(guild, alice, after(3_000)));
        assert!(!cooldowns.allow(guild, alice, after(3_500)));
    }
}
