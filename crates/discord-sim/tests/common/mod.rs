//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod bot;
pub mod http;
pub mod ws;

use std::time::Duration;

/// Generous deadline for anything awaited in tests (loaded 2-core CI).
pub const WAIT: Duration = Duration::from_secs(20);
