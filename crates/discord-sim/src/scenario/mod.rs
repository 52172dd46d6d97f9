//! The scenario API: a world built and driven like a story, and awaitable
//! observations of what the bot did.
//!
//! ```no_run
//! # async fn demo() -> Result<(), discord_sim::SimError> {
//! use std::time::Duration;
//! use discord_sim::{Sim, permissions::bits};
//!
//! let sim = Sim::start().await;
//! let guild = sim.guild("Test").await;
//! let general = guild.text_channel("general");
//! let mods = guild.role("mods", bits::MODERATE_MEMBERS | bits::KICK_MEMBERS);
//! let alice = guild.member("alice").with_role(&mods);
//! let bob = guild.member("bob");
//! // ... start the bot against sim.http_addr() / sim.gateway_url() ...
//! alice.says(&general, "hello").await;
//! let warn = alice
//!     .runs(&general, "warn", [("user", (&bob).into()), ("reason", "spam".into())])
//!     .await;
//! let reply = warn.response(Duration::from_secs(10)).await?;
//! assert_eq!(reply.kind, 4);
//! let msg = general.next_message(Duration::from_secs(10)).await?;
//! assert!(msg.pings(bob.id()));
//! # Ok(()) }
//! ```
//!
//! Observations use cursors: every handle ([`Channel`], [`Member`]'s DM
//! inbox, [`Interaction`], [`Sim`]) remembers how far into the bot's action
//! log it has looked, so `next_message` returns each message once, in order.
//!
//! The handles live one family to a file: [`Sim`] and its sessions in
//! `sim.rs` (its fault injection in `faults.rs`), [`Guild`], [`Role`] and
//! [`Channel`] in `guild.rs` (moderators' bans, kicks and timeouts, and the
//! bans and audit log read back, in `moderation.rs`), [`User`] and
//! [`Member`] in `member.rs`,
//! [`Inbox`] in `inbox.rs`, [`Interaction`] in `interaction.rs`, and
//! [`OptionValue`] with the INTERACTION_CREATE a command run sends in
//! `command.rs`.

mod command;
mod faults;
mod guild;
mod inbox;
mod interaction;
mod member;
mod moderation;
mod sim;

pub use command::OptionValue;
pub use guild::{Channel, DEFAULT_BOT_PERMISSIONS, Guild, Role};
pub use inbox::Inbox;
pub use interaction::{Interaction, InteractionResponse};
pub use member::{AsUser, Member, User};
pub use moderation::Ban;
pub use sim::{SessionInfo, Sim};

/// Why an observation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// Nothing matching arrived within the timeout.
    Timeout(String),
    /// The interaction got no callback within the deadline.
    InteractionFailed(u64),
    /// Setup problem (unknown command, ...).
    Setup(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(what) => write!(f, "timed out waiting for {what}"),
            Self::InteractionFailed(id) => {
                write!(
                    f,
                    "interaction {id} failed: the bot did not respond in time"
                )
            }
            Self::Setup(what) => write!(f, "scenario setup: {what}"),
        }
    }
}

impl std::error::Error for SimError {}
