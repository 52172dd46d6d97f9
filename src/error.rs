//! The two ways Keeper fails, and what each tells whom. [`BotError`]: everything a
//! handler can hit, and what the person who typed the command is told about it;
//! internal details (SQL errors, HTTP bodies) go to the log, never to Discord.
//! [`Fatal`]: what ends the process, worded for the operator who started it, with
//! the exit code service managers act on.

use std::fmt;

use keeper_store::StoreError;

/// What a member sees when the database is down. Worded so they know nothing half
/// happened and what to do.
pub const DATABASE_DOWN: &str =
    "Keeper can't reach its database right now; nothing was changed. Try again in a minute.";

const INTERNAL: &str =
    "Something went wrong on Keeper's side. It has been logged; please try again later.";

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The request can't be done as asked; the text is for the person who asked.
    #[error("{0}")]
    User(String),
    /// The member lacks a permission the command needs.
    #[error("you need the {0} permission to use this command")]
    Forbidden(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Discord API: {0}")]
    Http(#[from] twilight_http::Error),
    #[error("Discord API response: {0}")]
    Deserialize(#[from] twilight_http::response::DeserializeBodyError),
}

impl BotError {
    pub fn user(msg: impl Into<String>) -> Self {
        Self::User(msg.into())
    }

    /// The short answer for the person who ran the command.
    pub fn reply(&self) -> String {
        match self {
            BotError::User(msg) => msg.clone(),
            BotError::Forbidden(permission) => {
                format!("You need the **{permission}** permission to use this command.")
            }
            BotError::Store(StoreError::Invalid(msg)) => msg.clone(),
            BotError::Store(err) if err.is_unavailable() => DATABASE_DOWN.to_owned(),
            _ => INTERNAL.to_owned(),
        }
    }

    /// Whether this is the person's doing (logged quietly) or ours (logged as an error).
    pub fn is_internal(&self) -> bool {
        !matches!(
            self,
            BotError::User(_) | BotError::Forbidden(_) | BotError::Store(StoreError::Invalid(_))
        )
    }
}

pub type BotResult<T> = Result<T, BotError>;

/// A failure that ends the process, worded for the operator who started it.
#[derive(Debug)]
pub enum Fatal {
    /// The configuration can't work: exit code 2, the variable named.
    Config(String),
    /// Something failed at run time: exit code 1.
    Runtime(String),
}

impl Fatal {
    pub fn exit_code(&self) -> u8 {
        match self {
            Fatal::Config(_) => 2,
            Fatal::Runtime(_) => 1,
        }
    }

    /// Opening the database failed: every such failure is about `DATABASE_URL`
    /// (where it points, or what is there), so it is named.
    pub fn database(err: StoreError) -> Self {
        match err {
            StoreError::Internal(_) | StoreError::Invalid(_) => {
                Fatal::Runtime(format!("DATABASE_URL: {err}"))
            }
            _ => Fatal::Config(format!("DATABASE_URL: {err}")),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Config(msg) | Fatal::Runtime(msg) => f.write_str(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_never_leak_internals() {
        let down = BotError::Store(StoreError::Unavailable(
            "connection refused at 10.0.0.5:5432".into(),
        ));
        assert_eq!(down.reply(), DATABASE_DOWN);
        let internal = BotError::Store(StoreError::Internal(
            "syntax error at or near SELECT".into(),
        ));
        assert!(!internal.reply().contains("SELECT"));
        assert!(internal.is_internal());
        let invalid = BotError::Store(StoreError::Invalid(
            "The prefix must be 1 to 10 characters long.".into(),
        ));
        assert_eq!(
            invalid.reply(),
            "The prefix must be 1 to 10 characters long."
        );
        assert!(!invalid.is_internal());
        assert!(
            BotError::Forbidden("Manage Server")
                .reply()
                .contains("Manage Server")
        );
    }
}
