//! The platform migrations and their runner.

use sha2::{Digest, Sha256};
use tracing::info;
use ykt_db::{Db, Engine, quote_literal};

use crate::LoadError;

/// The table that records applied migrations.
pub const MIGRATIONS_TABLE: &str = "ykt_schema_migrations";

/// The first line of a SQLite migration that must run with foreign keys off.
const FOREIGN_KEYS_OFF: &str = "-- ykt: foreign keys off";

/// (version, name, SQL)
type Migration = (i64, &'static str, &'static str);

const POSTGRES: &[Migration] = &[
    (
        1,
        "platform",
        include_str!("../migrations/postgres/0001_platform.sql"),
    ),
    (
        2,
        "cutover",
        include_str!("../migrations/postgres/0002_cutover.sql"),
    ),
    (
        3,
        "program_basis",
        include_str!("../migrations/postgres/0003_program_basis.sql"),
    ),
    (
        4,
        "exact_money",
        include_str!("../migrations/postgres/0004_exact_money.sql"),
    ),
    (
        5,
        "two_person_signoff",
        include_str!("../migrations/postgres/0005_two_person_signoff.sql"),
    ),
    (
        6,
        "reject_context",
        include_str!("../migrations/postgres/0006_reject_context.sql"),
    ),
    (
        7,
        "account_check",
        include_str!("../migrations/postgres/0007_account_check.sql"),
    ),
    (
        8,
        "account_collation",
        include_str!("../migrations/postgres/0008_account_collation.sql"),
    ),
    (
        9,
        "account_digits",
        include_str!("../migrations/postgres/0009_account_digits.sql"),
    ),
    (
        10,
        "payment_county_index",
        include_str!("../migrations/postgres/0010_payment_county_index.sql"),
    ),
];
const SQLITE: &[Migration] = &[
    (
        1,
        "platform",
        include_str!("../migrations/sqlite/0001_platform.sql"),
    ),
    (
        2,
        "cutover",
        include_str!("../migrations/sqlite/0002_cutover.sql"),
    ),
    (
        3,
        "program_basis",
        include_str!("../migrations/sqlite/0003_program_basis.sql"),
    ),
    (
        4,
        "exact_money",
        include_str!("../migrations/sqlite/0004_exact_money.sql"),
    ),
    (
        5,
        "two_person_signoff",
        include_str!("../migrations/sqlite/0005_two_person_signoff.sql"),
    ),
    (
        6,
        "reject_context",
        include_str!("../migrations/sqlite/0006_reject_context.sql"),
    ),
    (
        7,
        "account_check",
        include_str!("../migrations/sqlite/0007_account_check.sql"),
    ),
    (
        8,
        "account_collation",
        include_str!("../migrations/sqlite/0008_account_collation.sql"),
    ),
    (
        9,
        "account_digits",
        include_str!("../migrations/sqlite/0009_account_digits.sql"),
    ),
    (
        10,
        "payment_county_index",
        include_str!("../migrations/sqlite/0010_payment_county_index.sql"),
    ),
];

/// The migrations for a target engine.
pub fn migrations_for(engine: Engine) -> Option<&'static [Migration]> {
    match engine {
        Engine::Postgres => Some(POSTGRES),
        Engine::Sqlite => Some(SQLITE),
        Engine::MySql => None,
    }
}

/// The secondary indexes the migrations leave, as (index name, its latest `CREATE INDEX`): the
/// load drops them before a full load and builds them again after, which is faster than
/// keeping them up to date row by row. A later migration that drops an index, or drops and
/// makes it again, replaces what an earlier one made.
pub fn secondary_indexes(engine: Engine) -> Vec<(String, String)> {
    indexes_made_by(migrations_for(engine).unwrap_or_default())
}

fn indexes_made_by(migrations: &[Migration]) -> Vec<(String, String)> {
    let mut indexes: Vec<(String, String)> = Vec::new();
    for line in migrations.iter().flat_map(|(_, _, sql)| sql.lines()) {
        let line = line.trim_end_matches(';');
        if let Some(rest) = line.strip_prefix("CREATE INDEX ") {
            let Some(name) = rest.split_whitespace().next() else {
                continue;
            };
            indexes.retain(|(n, _)| n != name);
            indexes.push((name.to_owned(), line.to_owned()));
        } else if let Some(rest) = line.strip_prefix("DROP INDEX ") {
            let rest = rest.strip_prefix("IF EXISTS ").unwrap_or(rest);
            let name = rest.trim();
            indexes.retain(|(n, _)| n != name);
        }
    }
    indexes
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies the migrations the target does not have yet; returns their names.
pub async fn apply_migrations(db: &Db) -> Result<Vec<String>, LoadError> {
    let migrations = migrations_for(db.engine()).ok_or_else(|| LoadError::UnsupportedTarget {
        url: db.url().to_string(),
        engine: db.engine().name(),
    })?;
    let now = quote_literal(db.engine(), &ykt_domain::beijing_stamp());
    // A database with the platform's table names but not ykt's record of them is someone
    // else's: refused before anything is created in it.
    if !db.table_exists(MIGRATIONS_TABLE).await? {
        let mut found = Vec::new();
        for table in [
            "region",
            "program",
            "beneficiary",
            "payment_batch",
            "payment",
            "migration_run",
        ] {
            if db.table_exists(table).await? {
                found.push(table);
            }
        }
        if !found.is_empty() {
            return Err(LoadError::ForeignTables {
                url: db.url().to_string(),
                tables: found.join(", "),
            });
        }
    }
    db.execute_script(
        "creating the migrations table",
        &format!(
            "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
        ),
    )
    .await?;
    let applied = db
        .fetch_text_rows(
            "reading applied migrations",
            &format!("SELECT CAST(version AS TEXT), name, checksum FROM {MIGRATIONS_TABLE} ORDER BY version"),
        )
        .await?;
    let newest = migrations.iter().map(|(v, _, _)| *v).max().unwrap_or(0);
    if let Some(row) = applied.iter().find(|r| {
        r[0].as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v > newest)
    }) {
        return Err(LoadError::NewerSchema {
            url: db.url().to_string(),
            version: row[0].clone().unwrap_or_default(),
            name: row[1].clone().unwrap_or_default(),
        });
    }
    let mut done = Vec::new();
    for (version, name, sql) in migrations {
        let expected = checksum(sql);
        let found = applied
            .iter()
            .find(|row| row[0].as_deref() == Some(&version.to_string()));
        if let Some(row) = found {
            let found = row[2].clone().unwrap_or_default();
            if found != expected {
                return Err(LoadError::MigrationChanged {
                    url: db.url().to_string(),
                    version: *version,
                    name: (*name).to_owned(),
                    found,
                    expected,
                });
            }
            continue;
        }
        let mut script = format!(
            "BEGIN;\n{sql}\nINSERT INTO {MIGRATIONS_TABLE} (version, name, checksum, applied_at) VALUES ({version}, {}, {}, {now});\nCOMMIT;",
            quote_literal(db.engine(), name),
            quote_literal(db.engine(), &expected),
        );
        // A SQLite table rebuild runs with foreign keys off (they cannot change inside a
        // transaction), on the one connection the script runs on.
        if sql.starts_with(FOREIGN_KEYS_OFF) {
            script = format!("PRAGMA foreign_keys = OFF;\n{script}\nPRAGMA foreign_keys = ON;");
        }
        db.execute_script(&format!("applying migration {version} ({name})"), &script)
            .await?;
        info!(version, name, "Applied platform migration.");
        done.push(format!("{version:04}_{name}"));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_migration_replaces_or_drops_an_index() {
        let migrations: &[Migration] = &[
            (
                1,
                "first",
                "CREATE TABLE t (a INT, b INT);\nCREATE INDEX t_a ON t (a, b);\nCREATE INDEX t_b ON t (b);\n",
            ),
            (
                2,
                "second",
                "DROP INDEX IF EXISTS t_a;\nCREATE INDEX t_a ON t (a);\n",
            ),
            (3, "third", "DROP INDEX t_b;\n"),
        ];
        assert_eq!(
            indexes_made_by(migrations),
            vec![("t_a".to_owned(), "CREATE INDEX t_a ON t (a)".to_owned())]
        );
        assert_eq!(indexes_made_by(&migrations[..1]).len(), 2);
    }

    #[test]
    fn each_index_is_built_once_in_its_latest_form() {
        for engine in [Engine::Postgres, Engine::Sqlite] {
            let indexes = secondary_indexes(engine);
            let mut names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), indexes.len(), "{engine:?}: {indexes:#?}");
            assert!(
                indexes.iter().any(|(name, create)| name == "payment_county"
                    && create.ends_with("ON payment (county_code)")),
                "{engine:?}: {indexes:#?}"
            );
        }
    }
}
