//! The constraints and indexes around a load. A bulk load goes faster without the secondary
//! indexes and (on PostgreSQL) without the migrated tables' foreign keys and unique
//! constraints: they are set aside before the counties and put back, every row checked against
//! them, after.

use std::sync::Mutex;

use tracing::info;
use ykt_db::{Db, Engine, quote_literal};

use crate::LoadError;
use crate::county::Mode;

/// PostgreSQL checks a foreign key row by row (a trigger per row); validating it once after
/// the load is one join and much faster. Likewise a unique constraint is a second B-tree kept
/// up to date row by row while the rows come, where building it after a bulk load is one sort
/// (2.5 s of a 7.5 s COPY of a million payment lines, against 0.7 s to build after). The
/// constraints of the migrated tables (foreign keys; in a bulk load, unique constraints too)
/// are recorded in `migration_pending_constraint`, dropped, and put back by [`after_load`] at
/// the end of the load, or at the end of a resumed one if the load crashed.
pub(crate) async fn set_aside_constraints(db: &Db, mode: Mode) -> Result<(), LoadError> {
    if db.engine() != Engine::Postgres {
        return Ok(());
    }
    let uniques = match mode {
        Mode::Bulk => {
            "OR (c.contype = 'u' AND CAST(c.conrelid::regclass AS TEXT) IN ('payment', 'payment_batch', 'allocation', 'beneficiary'))"
        }
        Mode::Replace => "",
    };
    let found = db
        .fetch_text_rows(
            "listing constraints",
            &format!("SELECT CAST(c.conrelid::regclass AS TEXT), CAST(c.conname AS TEXT), pg_get_constraintdef(c.oid) FROM pg_constraint c \
             WHERE c.connamespace = current_schema()::regnamespace \
             AND ((c.contype = 'f' AND CAST(c.conrelid::regclass AS TEXT) IN ('payment', 'payment_batch', 'allocation', 'beneficiary_legacy_map')) {uniques}) \
             ORDER BY c.contype"),
        )
        .await?;
    let mut script = String::from("BEGIN;\n");
    for row in &found {
        let (table, name, definition) = (
            row[0].as_deref().unwrap_or(""),
            row[1].as_deref().unwrap_or(""),
            row[2].as_deref().unwrap_or(""),
        );
        script.push_str(&format!(
            "INSERT INTO migration_pending_constraint (table_name, name, definition) VALUES ({}, {}, {}) ON CONFLICT DO NOTHING;\nALTER TABLE {table} DROP CONSTRAINT {name};\n",
            quote_literal(Engine::Postgres, table),
            quote_literal(Engine::Postgres, name),
            quote_literal(Engine::Postgres, definition),
        ));
    }
    // A load that stopped while putting the constraints back may have left a unique
    // constraint's index built but not yet its constraint's: a bulk load goes without it.
    if mode == Mode::Bulk {
        script.push_str(
            "DO $$DECLARE r record; BEGIN \
             FOR r IN SELECT name FROM migration_pending_constraint WHERE definition LIKE 'UNIQUE%' LOOP \
             EXECUTE format('DROP INDEX IF EXISTS %I', r.name); END LOOP; END$$;\n",
        );
    }
    script.push_str("COMMIT;\n");
    db.execute_script("setting constraints aside for the load", &script)
        .await?;
    Ok(())
}

/// After the counties: the constraints set aside and the secondary indexes back, statistics.
/// Every step may be done again: a resumed load that crashed here goes on from what it finds.
pub(crate) async fn after_load(db: &Db, indexes: &[(String, String)]) -> Result<(), LoadError> {
    fail::fail_point!("load::before_foreign_keys", |_| std::process::abort());
    if db.engine() == Engine::Sqlite {
        check_foreign_keys_sqlite(db).await?;
        fail::fail_point!("load::before_indexes", |_| std::process::abort());
        build_indexes(db, indexes).await?;
        // A sampled ANALYZE: enough for the planner, a fraction of the time.
        db.execute_script("analyzing", "PRAGMA analysis_limit = 1000; ANALYZE")
            .await?;
        return Ok(());
    }
    restore_postgres(db, indexes).await
}

/// SQLite: every foreign key of the loaded tables checked.
async fn check_foreign_keys_sqlite(db: &Db) -> Result<(), LoadError> {
    let broken = db
        .fetch_text_rows(
            "checking foreign keys",
            "SELECT \"table\", CAST(rowid AS TEXT), parent FROM pragma_foreign_key_check",
        )
        .await?;
    if let Some(first) = broken.first() {
        return Err(LoadError::ForeignKeys {
            url: db.url().to_string(),
            count: broken.len(),
            example: format!(
                "{} row {} has no {}",
                first[0].as_deref().unwrap_or("?"),
                first[1].as_deref().unwrap_or("?"),
                first[2].as_deref().unwrap_or("?")
            ),
        });
    }
    Ok(())
}

/// A constraint a load set aside, as `migration_pending_constraint` records it.
struct SetAside {
    table: String,
    name: String,
    definition: String,
}

impl SetAside {
    /// The columns of a plain unique constraint (`UNIQUE (a, b)`): its index is built with the
    /// others, then becomes the constraint's.
    fn unique_columns(&self) -> Option<&str> {
        self.definition.strip_prefix("UNIQUE (")?.strip_suffix(')')
    }

    fn is_foreign_key(&self) -> bool {
        self.definition.starts_with("FOREIGN KEY ")
    }

    /// The statements that put the constraint back once its index (if any) is built. Each may
    /// run again after a crash.
    fn put_back(&self) -> String {
        let (table, name) = (&self.table, &self.name);
        if self.unique_columns().is_some() {
            format!(
                "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = CAST({} AS regclass) AND conname = {}) \
                 THEN ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}; END IF; END$$",
                quote_literal(Engine::Postgres, table),
                quote_literal(Engine::Postgres, name),
            )
        } else if self.is_foreign_key() {
            // Added `NOT VALID` before the index builds (see `restore_postgres`).
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
        } else {
            format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}, ADD CONSTRAINT {name} {}",
                self.definition
            )
        }
    }
}

/// Statements one connection runs in order.
struct Job {
    what: &'static str,
    statements: Vec<String>,
    /// An index build (a kill point for the crash tests follows each).
    index: bool,
}

/// PostgreSQL: the constraints set aside and the secondary indexes back, on two connections,
/// in three steps so that no statement holds a lock another needs for long:
/// 1. the foreign keys added back `NOT VALID` (no scan), in one transaction;
/// 2. every index built, the secondary ones and those of the unique constraints, the
///    costliest first, each connection taking the next when it is done (two `CREATE INDEX` on
///    one table do not block each other);
/// 3. table by table: `ANALYZE`, unique constraints attached to their index, foreign keys
///    validated (one join each; `VALIDATE` only share-locks the referenced table). A table's
///    step waits for the builds on the table still running; payment's comes last.
///
/// County preset (one county, 941,656 payment lines): constraints one after another (1.55 s)
/// then the indexes with `ANALYZE` beside them (3.9 s) took 5.45 s; see the README for after.
///
/// The foreign keys reference primary keys, which are never set aside: adding them before
/// the unique constraints' indexes exist is safe.
async fn restore_postgres(db: &Db, indexes: &[(String, String)]) -> Result<(), LoadError> {
    let pending: Vec<SetAside> = db
        .fetch_text_rows(
            "listing set-aside constraints",
            "SELECT table_name, name, definition FROM migration_pending_constraint ORDER BY table_name, name",
        )
        .await?
        .into_iter()
        .map(|mut r| {
            let mut take = |i: usize| r[i].take().unwrap_or_default();
            let (table, name, definition) = (take(0), take(1), take(2));
            // As recorded when set aside; a `NOT VALID` left by a crash here is not part of it.
            let definition = definition.trim_end_matches(" NOT VALID").to_owned();
            SetAside {
                table,
                name,
                definition,
            }
        })
        .collect();
    let foreign_keys: Vec<&SetAside> = pending.iter().filter(|c| c.is_foreign_key()).collect();
    if !foreign_keys.is_empty() {
        let mut script = String::from("BEGIN;\n");
        for c in foreign_keys {
            script.push_str(&format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}, ADD CONSTRAINT {name} {definition} NOT VALID;\n",
                table = c.table,
                name = c.name,
                definition = c.definition,
            ));
        }
        script.push_str("COMMIT;\n");
        db.execute_script("adding the foreign keys back", &script)
            .await?;
    }
    fail::fail_point!("load::before_indexes", |_| std::process::abort());

    let mut builds: Vec<String> = indexes
        .iter()
        .map(|(_, create)| if_missing(create))
        .collect();
    builds.extend(pending.iter().filter_map(|c| {
        let columns = c.unique_columns()?;
        Some(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({columns})",
            c.name, c.table
        ))
    }));
    builds.sort_by_key(|create| std::cmp::Reverse(index_cost(create)));
    let mut jobs: Vec<Job> = builds
        .into_iter()
        .map(|sql| Job {
            what: "building an index",
            statements: vec![sql],
            index: true,
        })
        .collect();

    let tables = db
        .fetch_text_rows(
            "listing tables",
            "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
        )
        .await?;
    let mut per_table: Vec<(bool, usize, Job)> = tables
        .into_iter()
        .filter_map(|mut r| r[0].take())
        .map(|table| {
            // Statistics first: the validations' joins are planned with them (payment's
            // `reissue_of`, mostly empty, 0.45 s without them).
            let mut statements = vec![format!("ANALYZE {table}")];
            statements.extend(
                pending
                    .iter()
                    .filter(|c| c.table == table)
                    .map(SetAside::put_back),
            );
            let work = statements.len();
            let job = Job {
                what: "putting constraints back and analyzing",
                statements,
                index: false,
            };
            (table == "payment", work, job)
        })
        .collect();
    per_table.sort_by_key(|(last, work, _)| (*last, *work));
    jobs.extend(per_table.into_iter().map(|(_, _, job)| job));

    let queue = Mutex::new(jobs.into_iter());
    let next = || queue.lock().ok().and_then(|mut q| q.next());
    let (one, other) = tokio::join!(run_jobs(db, &next), run_jobs(db, &next));
    one?;
    other?;
    db.execute(
        "recording the constraints as put back",
        "DELETE FROM migration_pending_constraint",
    )
    .await?;
    if !pending.is_empty() {
        info!(
            constraints = pending.len(),
            "Validated the constraints set aside."
        );
    }
    Ok(())
}

/// Takes jobs from `next` until there are none, running each job's statements in order.
async fn run_jobs(db: &Db, next: &(dyn Fn() -> Option<Job> + Sync)) -> Result<(), LoadError> {
    while let Some(job) = next() {
        for sql in &job.statements {
            db.execute(job.what, sql).await?;
        }
        if job.index {
            fail::fail_point!("load::index_built", |_| std::process::abort());
        }
    }
    Ok(())
}

/// How costly an index is to build, to order the builds: the payment lines' first (the
/// largest table), then by the number of columns to sort on.
fn index_cost(create: &str) -> (bool, usize) {
    let on_payment = create.contains(" ON payment (");
    let columns = create
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or(0, |(columns, _)| columns.split(',').count());
    (on_payment, columns)
}

/// A secondary index's `CREATE INDEX` (as the migrations write it) that skips an index there.
fn if_missing(create: &str) -> String {
    create.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
}

/// Builds the secondary indexes that are missing, one after another.
pub(crate) async fn build_indexes(
    db: &Db,
    indexes: impl IntoIterator<Item = &(String, String)>,
) -> Result<(), LoadError> {
    for (_, create) in indexes {
        db.execute("building an index", &if_missing(create)).await?;
        fail::fail_point!("load::index_built", |_| std::process::abort());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_aside(definition: &str) -> SetAside {
        SetAside {
            table: "payment".to_owned(),
            name: "payment_x".to_owned(),
            definition: definition.to_owned(),
        }
    }

    #[test]
    fn a_plain_unique_constraint_is_built_as_an_index_and_attached() {
        let c = set_aside("UNIQUE (legacy_mxid)");
        assert_eq!(c.unique_columns(), Some("legacy_mxid"));
        assert!(c.put_back().contains("UNIQUE USING INDEX payment_x"));
        assert_eq!(
            set_aside("UNIQUE (a, b)").unique_columns(),
            Some("a, b"),
            "two columns"
        );
        // Anything else a unique constraint may say is put back as it was written.
        let other = set_aside("UNIQUE NULLS NOT DISTINCT (legacy_mxid)");
        assert_eq!(other.unique_columns(), None);
        assert_eq!(
            other.put_back(),
            "ALTER TABLE payment DROP CONSTRAINT IF EXISTS payment_x, ADD CONSTRAINT payment_x UNIQUE NULLS NOT DISTINCT (legacy_mxid)"
        );
    }

    #[test]
    fn a_foreign_key_is_validated_where_it_was_added_unvalidated() {
        let c = set_aside(
            "FOREIGN KEY (batch_id) REFERENCES payment_batch(id) DEFERRABLE INITIALLY DEFERRED",
        );
        assert!(c.is_foreign_key());
        assert_eq!(c.unique_columns(), None);
        assert_eq!(
            c.put_back(),
            "ALTER TABLE payment VALIDATE CONSTRAINT payment_x"
        );
    }

    #[test]
    fn payment_indexes_come_first_then_the_widest() {
        let mut creates = [
            "CREATE INDEX beneficiary_county ON beneficiary (county_code)",
            "CREATE INDEX payment_batch_id ON payment (batch_id)",
            "CREATE UNIQUE INDEX IF NOT EXISTS payment_legacy_mxid_key ON payment (legacy_mxid)",
            "CREATE INDEX payment_county ON payment (county_code, program_code, fund_year, status)",
            "CREATE INDEX allocation_county ON allocation (county_code, program_code, fund_year)",
        ];
        creates.sort_by_key(|c| std::cmp::Reverse(index_cost(c)));
        assert!(creates[0].contains("payment_county"));
        assert!(creates[1..3].iter().all(|c| c.contains(" ON payment (")));
        assert!(creates[3].contains("allocation_county"));
    }
}
