//! Keeper as a library: everything the `keeper` binary runs, so end-to-end tests
//! can start the real bot in-process against the simulator. ARCHITECTURE.md at
//! the repository's root is the map.

pub mod acts;
pub mod avatars;
pub mod backups;
pub mod bot;
pub mod card;
pub mod cli;
pub mod command;
pub mod config;
pub mod context;
pub mod db;
pub mod demo;
pub mod discord;
pub mod discord_acts;
pub mod dispatch;
pub mod duration;
pub mod error;
pub mod events;
pub mod export;
pub mod guilds;
pub mod http;
pub mod identify;
pub mod import_json;
pub mod metered_store;
pub mod metrics;
pub mod moderation;
pub mod modlog;
pub mod outbox;
pub mod progress;
pub mod retention;
pub mod rewards;
pub mod seen_acts;
pub mod shards;
pub mod snowflake;
pub mod template;
pub mod transfer;
pub mod web;
pub mod xp;
