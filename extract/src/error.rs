//! Extraction errors. Every one names the thing at fault: URL (password hidden), table,
//! column, file and line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error("the legacy database {url} has no table {table}")]
    MissingTable { url: String, table: &'static str },
    #[error("the legacy table {table} has no column {column} in {url}")]
    MissingColumn {
        url: String,
        table: &'static str,
        column: &'static str,
    },
    #[error(transparent)]
    Stage(#[from] ykt_stage::StageError),
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
    /// Whether the user must fix something (a URL, a server, a file) rather than a failure
    /// during the run.
    pub fn is_input_error(&self) -> bool {
        match self {
            ExtractError::Db(e) => e.is_input_error(),
            ExtractError::WriterStopped { .. } => false,
            ExtractError::Stage(e) => e.is_input_error(),
            _ => true,
        }
    }
}
