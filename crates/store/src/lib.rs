//! Keeper's storage interface.
//!
//! This crate holds the storage traits and the domain types they speak in, and no
//! SQL: every statement lives in a backend crate (`keeper-store-sqlite`,
//! `keeper-store-postgres`), the two mirroring each other module for module.
//!
//! There is one trait per entity, each in its own file of `traits/`:
//! [`AdminStore`], [`SettingsStore`], [`XpStore`], [`RewardStore`], [`CaseStore`],
//! [`EscalationStore`], [`UserDataStore`], [`SessionStore`], [`ReplayStore`],
//! [`GuildStore`], [`TransferStore`] (every table whole, for moving a database) and
//! [`ImportStore`] (another bot's data, merged). A backend
//! implements each in its module of the same entity (`xp.rs` holds
//! `impl XpStore for ...`), and [`Store`], the sum of them all, follows by a blanket
//! implementation. The bot only ever holds an `Arc<dyn Store>`, so the backend is a
//! run-time choice made from the URL scheme of `DATABASE_URL`. Code that calls the
//! methods on a concrete store brings the traits in with
//! `use keeper_store::prelude::*;`.
//!
//! Rules that are pure arithmetic (the level curve, applying a settings patch,
//! which escalation a warning triggers: `moderation`) live
//! here as plain functions so both backends and the bot agree on them.

#[cfg(feature = "backend")]
pub mod backend;
mod error;
pub mod import;
pub mod levels;
pub mod moderation;
pub mod profiles;
mod settings;
mod traits;
pub mod transfer;
mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{StoreError, StoreResult};
pub use moderation::{MAX_TIMEOUT_SECS, escalation_for};
pub use settings::{
    DEFAULT_LEVELUP_MESSAGE, DEFAULT_PREFIX, DEFAULT_WELCOME_MESSAGE, DEFAULT_XP_COOLDOWN_SECS,
    GuildSettings, LevelUpTarget, SettingsPatch,
};
pub use traits::{
    AdminStore, CaseStore, EscalationStore, GuildStore, ImportStore, ProfileStore, ReplayStore,
    RewardStore, SessionStore, SettingsStore, Store, TransferStore, UserDataStore, XpStore,
    identify_wait,
};
pub use types::*;

/// Every storage trait, so that their methods resolve on any store:
/// `use keeper_store::prelude::*;`.
pub mod prelude {
    pub use crate::traits::{
        AdminStore, CaseStore, EscalationStore, GuildStore, ImportStore, ProfileStore, ReplayStore,
        RewardStore, SessionStore, SettingsStore, Store, TransferStore, UserDataStore, XpStore,
    };
}
