//! Loads the new platform: its schema (migrations for PostgreSQL and SQLite) and, stage by
//! stage, the migrated rows.
//!
//! Migrations are embedded SQL files under `load/migrations/<engine>/`, applied in order, each
//! in its own transaction, and recorded with a checksum in `ykt_schema_migrations`. Applying
//! them again to an up-to-date database changes nothing; a migration whose file changed after
//! it was applied is refused rather than silently skipped.

mod migrations;

pub use migrations::{MIGRATIONS_TABLE, apply_migrations, migrations_for};

/// Load errors.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
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
}

impl LoadError {
    pub fn is_input_error(&self) -> bool {
        match self {
            LoadError::Db(e) => e.is_input_error(),
            LoadError::UnsupportedTarget { .. } | LoadError::MigrationChanged { .. } => true,
        }
    }
}
