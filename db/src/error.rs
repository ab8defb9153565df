//! Database errors, sorted by what the caller does with them.

/// A database error. The URL in every message has its password hidden.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is not one ykt can use (stop the run: exit 2).
    #[error("{reason}: {url}")]
    BadUrl { url: String, reason: &'static str },
    /// The server could not be reached or refused the login (stop the run: exit 2).
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// A statement failed (stop the run: exit 3), with what was being done.
    #[error("{what} failed on {url}: {source}")]
    Query {
        url: String,
        what: String,
        #[source]
        source: sqlx::Error,
    },
}

impl DbError {
    /// Whether the error is the user's to fix (a bad URL, an unreachable server, a wrong
    /// password or a missing database) rather than a failure during the run.
    pub fn is_input_error(&self) -> bool {
        matches!(self, DbError::BadUrl { .. } | DbError::Connect { .. })
    }
}
