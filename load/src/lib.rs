//! Loads the new platform: its schema (migrations for PostgreSQL and SQLite) and the staged
//! platform rows, county by county.
//!
//! Migrations are embedded SQL files under `load/migrations/<engine>/`, applied in order, each
//! in its own transaction, and recorded with a checksum in `ykt_schema_migrations`. Applying
//! them again to an up-to-date database changes nothing; a migration whose file changed after
//! it was applied is refused rather than silently skipped.
//!
//! The load ([`load`]) writes PostgreSQL through `COPY` and SQLite through prepared multi-row
//! inserts, one transaction per county, each recorded as a checkpoint so that `--resume` skips
//! what a crashed run already committed.

mod county;
mod loader;
mod migrations;
mod restore;
mod upsert;

pub use county::{copy_text, encode_copy};
pub use loader::{LoadOptions, LoadReport, load, run_started};
pub use migrations::{MIGRATIONS_TABLE, apply_migrations, migrations_for, secondary_indexes};
pub use upsert::{ChangedKeys, UpsertReport, really_changed, upsert_changed, with_dependent_lines};

/// Load errors.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error(transparent)]
    Stage(#[from] ykt_stage::StageError),
    #[error(
        "{url}: the new platform is PostgreSQL or SQLite; {engine} is not supported as a target"
    )]
    UnsupportedTarget { url: String, engine: &'static str },
    #[error(
        "{url}: migration {version} ({name}) was changed after it was applied (checksum {found} in the database, {expected} in this ykt); refusing to continue"
    )]
    MigrationChanged {
        url: String,
        version: i64,
        name: String,
        found: String,
        expected: String,
    },
    #[error(
        "{url} holds tables named like the platform's ({tables}) that ykt did not create; point --target at the platform's own database, or an empty one"
    )]
    ForeignTables { url: String, tables: String },
    #[error(
        "{url} is on a newer platform schema (migration {version}, {name}) than this ykt knows; use the ykt that applied it, or a newer one"
    )]
    NewerSchema {
        url: String,
        version: String,
        name: String,
    },
    #[error(
        "{url}: nothing to resume: the target has no run {run_id} (it was loaded from another stage); run without --resume to replace it"
    )]
    NothingToResume { url: String, run_id: String },
    #[error(
        "{url}: the target holds {rows} payment rows that did not come from legacy; ykt load only replaces migrated data and refuses to touch a live platform"
    )]
    LivePlatform { url: String, rows: i64 },
    #[error(
        "{url}: the source has {now} rows of {table} where the target's last load (run {run_id}) had {before}; an empty legacy database or a truncated export looks like this, so nothing was loaded. Load it anyway with --allow-shrink"
    )]
    Shrink {
        url: String,
        table: &'static str,
        now: u64,
        before: u64,
        run_id: String,
    },
    #[error("{url}: {count} rows break a foreign key after the load, e.g. {example}")]
    ForeignKeys {
        url: String,
        count: usize,
        example: String,
    },
    #[error(
        "the connection to {url} was lost while loading county {county} ({source}); the counties committed before it are kept: run the same command again with --resume"
    )]
    ConnectionLost {
        url: String,
        county: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("a county's load stopped unexpectedly: {0}")]
    Worker(String),
    #[error("{what} failed on {url}: {source}")]
    Sql {
        url: String,
        what: String,
        #[source]
        source: sqlx::Error,
    },
}

impl LoadError {
    pub fn is_input_error(&self) -> bool {
        match self {
            LoadError::Db(e) => e.is_input_error(),
            LoadError::Stage(e) => e.is_input_error(),
            LoadError::Sql { .. }
            | LoadError::Worker(_)
            | LoadError::ForeignKeys { .. }
            | LoadError::ConnectionLost { .. } => false,
            LoadError::UnsupportedTarget { .. }
            | LoadError::MigrationChanged { .. }
            | LoadError::NothingToResume { .. }
            | LoadError::LivePlatform { .. }
            | LoadError::Shrink { .. }
            | LoadError::ForeignTables { .. }
            | LoadError::NewerSchema { .. } => true,
        }
    }
}
