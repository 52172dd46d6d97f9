//! Keeper as a library: everything the `keeper` binary runs, so end-to-end tests
//! can start the real bot in-process against the simulator.

pub mod announce;
pub mod bot;
pub mod cli;
pub mod command;
pub mod config;
pub mod context;
pub mod cooldown;
pub mod db;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod leveling;
pub mod prefix;
pub mod template;
pub mod xp_buffer;
