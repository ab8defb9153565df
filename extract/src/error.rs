//! Extraction errors. Every one names the thing at fault: URL (password hidden), table,
//! column, file and line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error(transparent)]
    Stage(#[from] ykt_stage::StageError),
    /// Not retried: a new connection would read another snapshot than the tables read so far.
    #[error(
        "the connection to the legacy database {url} was lost while reading {table} ({source}); the extract is incomplete and nothing was loaded: run the same command again"
    )]
    ConnectionLost {
        url: String,
        table: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("the stage writer for {table} stopped")]
    WriterStopped { table: &'static str },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{place}: {problem}; a legacy key must be what the legacy database holds: correct the source and extract again"
    )]
    BadKey { place: String, problem: String },
    #[error("{}: line {line}: {problem}", path.display())]
    BadFile {
        path: PathBuf,
        line: u64,
        problem: String,
    },
}

impl ExtractError {
    /// A read that failed because the server went away says so, and what to do.
    pub(crate) fn lost_in(self, table: ykt_domain::LegacyTable) -> ExtractError {
        match self {
            ExtractError::Db(ykt_db::DbError::Query { url, source, .. })
                if ykt_db::server_gone(&source) =>
            {
                ExtractError::ConnectionLost {
                    url,
                    table: table.name(),
                    source,
                }
            }
            other => other,
        }
    }

    /// Whether the user must fix something (a URL, a server, a file) rather than a failure
    /// during the run.
    pub fn is_input_error(&self) -> bool {
        match self {
            ExtractError::Db(e) => e.is_input_error(),
            ExtractError::WriterStopped { .. } | ExtractError::ConnectionLost { .. } => false,
            ExtractError::Stage(e) => e.is_input_error(),
            _ => true,
        }
    }
}
