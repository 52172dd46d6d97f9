use std::error::Error as StdError;

/// Result of every [`crate::Store`] method.
pub type StoreResult<T> = Result<T, StoreError>;

/// What went wrong in the store, sorted by what the caller can do about it.
///
/// The bot maps these to what a member is told: `Unavailable` becomes "Keeper can't
/// reach its database right now; nothing was changed", `Invalid` is shown as is, and
/// `Internal` is logged in full but shown only as a generic apology.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not answer in time (connection
    /// refused, pool timed out, server shutting down). Retrying later may work, and
    /// nothing was written.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),

    /// The request itself is not acceptable (a value out of range); the message is
    /// written for the person who asked.
    #[error("{0}")]
    Invalid(String),

    /// The database holds a schema newer than this binary knows; running would risk
    /// writing data in an older shape.
    #[error(
        "the database schema is at version {database}, newer than this build of Keeper knows \
         (version {binary}); upgrade Keeper or point it at another database"
    )]
    SchemaTooNew { database: i64, binary: i64 },

    /// The configuration cannot work (an invalid URL, an unwritable SQLite path); the
    /// message says what is wrong, for the operator.
    #[error("{0}")]
    Config(String),

    /// Anything else: a bug, a constraint we did not expect, corrupt data.
    #[error("database error: {0}")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    /// Wrap an error as `Internal`.
    pub fn internal(err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    /// Wrap an error as `Unavailable`.
    pub fn unavailable(err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(err))
    }

    /// Whether retrying later could succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
