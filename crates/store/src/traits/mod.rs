//! The storage interface, one trait per entity, and [`Store`] that is all of them.
//!
//! A backend implements each entity trait in the module of that entity; `Store`
//! then comes for free from the blanket implementation below.

mod admin;
mod cases;
mod escalations;
mod guilds;
mod import;
mod profiles;
mod replays;
mod rewards;
mod sessions;
mod settings;
mod transfer;
mod users;
mod xp;

pub use admin::AdminStore;
pub use cases::CaseStore;
pub use escalations::EscalationStore;
pub use guilds::GuildStore;
pub use import::ImportStore;
pub use profiles::ProfileStore;
pub use replays::ReplayStore;
pub use rewards::RewardStore;
pub use sessions::{SessionStore, identify_wait};
pub use settings::SettingsStore;
pub use transfer::TransferStore;
pub use users::UserDataStore;
pub use xp::XpStore;

/// Everything Keeper keeps, behind one interface: what the bot holds, as
/// `Arc<dyn Store>`.
///
/// Implementations must be safe to share between every shard task of a process
/// (`Send + Sync`) and, for Postgres, between several processes: every method is
/// atomic on its own, and methods that allocate (case numbers) or accumulate (XP)
/// stay exact under concurrency.
///
/// The methods are those of the entity traits. On `dyn Store` (and on a generic
/// `T: Store`) they resolve as they are; on a concrete store (`SqliteStore`,
/// `PgStore`) each method needs its trait in scope, which
/// `use keeper_store::prelude::*;` brings.
pub trait Store:
    AdminStore
    + SettingsStore
    + XpStore
    + RewardStore
    + CaseStore
    + EscalationStore
    + UserDataStore
    + SessionStore
    + ReplayStore
    + GuildStore
    + ProfileStore
    + TransferStore
    + ImportStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: AdminStore
        + SettingsStore
        + XpStore
        + RewardStore
        + CaseStore
        + EscalationStore
        + UserDataStore
        + SessionStore
        + ReplayStore
        + GuildStore
        + ProfileStore
        + TransferStore
        + ImportStore
        + Send
        + Sync
        + 'static
{
}
