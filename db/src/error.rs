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
    /// Another ykt run writes the target now (stop: exit 2, the operator waits or stops it).
    #[error(
        "the target {url} is being written by {holder}; wait for it to finish (or stop it) and run again"
    )]
    Busy { url: String, holder: String },
    /// The lock file beside a SQLite target cannot be used.
    #[error("cannot use the lock file {path}: {source}")]
    LockFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The legacy database lacks a table the spec names (exit 2).
    #[error("the legacy database {url} has no table {table}")]
    MissingTable { url: String, table: &'static str },
    /// A legacy table lacks a column the spec names (exit 2).
    #[error("the legacy table {table} has no column {column} in {url}")]
    MissingColumn {
        url: String,
        table: &'static str,
        column: &'static str,
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

/// Whether `e` says the server went away or does not take sessions yet (it restarted, is
/// shutting down or starting up, or the network was cut): the work can go on once it is back.
pub fn server_gone(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::PoolTimedOut => true,
        // PostgreSQL's operator intervention (57P…) and connection (08…) classes; MariaDB's
        // "server shutdown in progress" (1927) and "lost connection" (2013).
        _ => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| {
                c.starts_with("57P") || c.starts_with("08") || c == "1927" || c == "2013"
            }),
    }
}

impl DbError {
    /// Whether the server went away or did not take the session (see [`server_gone`]).
    pub fn is_server_gone(&self) -> bool {
        match self {
            DbError::Connect { source, .. } | DbError::Query { source, .. } => server_gone(source),
            _ => false,
        }
    }

    /// Whether the error is the user's to fix (a bad URL, an unreachable server, a wrong
    /// password or a missing database) rather than a failure during the run.
    pub fn is_input_error(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            DbError::BadUrl { .. }
            | DbError::Connect { .. }
            | DbError::Busy { .. }
            | DbError::MissingTable { .. }
            | DbError::MissingColumn { .. } => true,
            // A folder the operator cannot write, or a full disk, beside a SQLite target.
            DbError::LockFile { source, .. } => matches!(
                source.kind(),
                K::PermissionDenied
                    | K::NotFound
                    | K::ReadOnlyFilesystem
                    | K::StorageFull
                    | K::NotADirectory
                    | K::QuotaExceeded
            ),
            _ => false,
        }
    }
}
