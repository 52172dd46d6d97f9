//! What every handler shares: the Discord clients, the store, what Keeper keeps
//! in memory per guild ([`Guilds`]), the XP pipeline ([`Xp`]) and the tracker of
//! the tasks a shutdown waits for.

use std::sync::Arc;

use keeper_store::Store;
use tokio_util::task::TaskTracker;
use twilight_http::Client;
use twilight_model::id::{
    Id,
    marker::{ApplicationMarker, UserMarker},
};

use crate::{guilds::Guilds, snowflake::DiscordClock, xp::Xp};

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
    /// Handlers that talk to Discord or may wait on the database run as tasks of
    /// this tracker (and so do level-up effects): the shutdown waits for them.
    pub tasks: TaskTracker,
    /// Discord's clock, for the answer window of interactions.
    pub clock: DiscordClock,
}

impl Context {
    pub fn new(
        http: Arc<Client>,
        interactions: Arc<Client>,
        store: Arc<dyn Store>,
        application_id: Id<ApplicationMarker>,
        bot_id: Id<UserMarker>,
    ) -> Self {
        let guilds = Arc::new(Guilds::new(Arc::clone(&store)));
        let tasks = TaskTracker::new();
        let xp = Xp::new(
            Arc::clone(&store),
            Arc::clone(&http),
            Arc::clone(&guilds),
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
            tasks,
            clock: DiscordClock::default(),
        }
    }
}
