//! The constraints and indexes around a load. A bulk load goes faster without the secondary
//! indexes and (on PostgreSQL) without the migrated tables' foreign keys and keys (primary and
//! unique): they are set aside before the counties and put back, every row checked against
//! them, after.

use std::sync::Mutex;

use tracing::info;
use ykt_db::{Db, Engine, quote_literal};

use crate::LoadError;
use crate::county::Mode;

/// The tables whose foreign keys a load sets aside.
const FOREIGN_KEYED: &str = "'payment', 'payment_batch', 'allocation', 'beneficiary_legacy_map'";

/// The tables whose keys a bulk load sets aside: the migrated tables and the load's own
/// record of rejects and corrections (no other table references those two).
const BULK_KEYED: &str = "'payment', 'payment_batch', 'allocation', 'beneficiary', 'beneficiary_legacy_map', 'migration_reject', 'migration_correction'";

/// PostgreSQL checks a foreign key row by row (a trigger per row); validating it once after
/// the load is one join and much faster. Likewise a key (primary or unique) is a B-tree kept
/// up to date row by row while the rows come, where building it after a bulk load is one sort:
/// 2.5 s of a 7.5 s COPY of a million payment lines for the unique key, against 0.7 s to build
/// after; the primary key 1.47 → 0.95 s of a COPY of 941,656 payment lines over two
/// connections (the key then built in 0.25 s). The constraints of the migrated tables (foreign
/// keys; in a bulk load, their keys too) are recorded in `migration_pending_constraint`,
/// dropped, and put back by [`after_load`] at the end of the load, or at the end of a resumed
/// one if the load crashed. Dropping a primary key leaves its columns `NOT NULL`, so putting
/// it back on its built index scans nothing.
pub(crate) async fn set_aside_constraints(db: &Db, mode: Mode) -> Result<(), LoadError> {
    if db.engine() != Engine::Postgres {
        return Ok(());
    }
    // A key that a foreign key of another table references stays: dropping it would need
    // that foreign key dropped too (a table the platform or its owners added, say).
    let uniques = match mode {
        Mode::Bulk => format!(
            "OR (c.contype IN ('p', 'u') AND CAST(c.conrelid::regclass AS TEXT) IN ({BULK_KEYED}) \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid \
             AND CAST(r.conrelid::regclass AS TEXT) NOT IN ({FOREIGN_KEYED})))"
        ),
        Mode::Replace => String::new(),
    };
    let found = db
        .fetch_text_rows(
            "listing constraints",
            &format!("SELECT CAST(c.conrelid::regclass AS TEXT), CAST(c.conname AS TEXT), pg_get_constraintdef(c.oid) FROM pg_constraint c \
             WHERE c.connamespace = current_schema()::regnamespace \
             AND ((c.contype = 'f' AND CAST(c.conrelid::regclass AS TEXT) IN ({FOREIGN_KEYED})) {uniques}) \
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
    // A load that stopped while putting the constraints back may have left a key's index built
    // but not yet its constraint's: a bulk load goes without it. (The foreign keys were
    // dropped first: `ORDER BY c.contype` puts them before the keys they reference.)
    if mode == Mode::Bulk {
        script.push_str(
            "DO $$DECLARE r record; BEGIN \
             FOR r IN SELECT name FROM migration_pending_constraint WHERE definition LIKE 'UNIQUE%' OR definition LIKE 'PRIMARY KEY%' LOOP \
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
    if db.engine() == Engine::Sqlite {
        fail::fail_point!("load::before_foreign_keys", |_| std::process::abort());
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

/// A replacing load on PostgreSQL after a bulk load that stopped (and is not resumed): the keys
/// that load set aside are put back first: a county's deletes find the rows it replaces by
/// them, and they keep a row from being inserted twice. The foreign keys stay aside until the
/// end of the load: until every county is in, a line may name a person of a county not yet
/// loaded.
pub(crate) async fn put_back_keys(db: &Db) -> Result<(), LoadError> {
    if db.engine() != Engine::Postgres {
        return Ok(());
    }
    let pending = set_aside(db).await?;
    let keys: Vec<&SetAside> = pending.iter().filter(|c| c.key().is_some()).collect();
    if keys.is_empty() {
        return Ok(());
    }
    build_and_attach(db, Vec::new(), &keys, &[]).await?;
    info!(
        keys = keys.len(),
        "Put back the keys a stopped bulk load set aside."
    );
    Ok(())
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
    /// A plain key (`PRIMARY KEY (a)`, `UNIQUE (a, b)`) as (kind, columns): its index is built
    /// with the others, then becomes the constraint's.
    fn key(&self) -> Option<(&'static str, &str)> {
        ["PRIMARY KEY", "UNIQUE"].into_iter().find_map(|kind| {
            let columns = self
                .definition
                .strip_prefix(kind)?
                .strip_prefix(" (")?
                .strip_suffix(')')?;
            Some((kind, columns))
        })
    }

    fn is_foreign_key(&self) -> bool {
        self.definition.starts_with("FOREIGN KEY ")
    }

    /// The statement that puts the constraint back once its index (if any) is built. Each may
    /// run again after a crash.
    fn put_back(&self) -> String {
        let (table, name) = (&self.table, &self.name);
        if let Some((kind, _)) = self.key() {
            format!(
                "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = CAST({} AS regclass) AND conname = {}) \
                 THEN ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name}; END IF; END$$",
                quote_literal(Engine::Postgres, table),
                quote_literal(Engine::Postgres, name),
            )
        } else if self.is_foreign_key() {
            // Added `NOT VALID` once the keys are back (see `restore_postgres`).
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
        } else {
            format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}, ADD CONSTRAINT {name} {}",
                self.definition
            )
        }
    }

    /// The `CREATE UNIQUE INDEX` of a key, skipped when a crashed load built it already.
    fn build(&self) -> Option<String> {
        let (_, columns) = self.key()?;
        Some(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({columns})",
            self.name, self.table
        ))
    }
}

/// The constraints set aside, as `migration_pending_constraint` records them.
async fn set_aside(db: &Db) -> Result<Vec<SetAside>, LoadError> {
    Ok(db
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
        .collect())
}

/// Statements one connection runs in order.
struct Job {
    what: &'static str,
    statements: Vec<String>,
    /// An index build (a kill point for the crash tests follows each).
    index: bool,
}

impl Job {
    fn build(sql: String) -> Job {
        Job {
            what: "building an index",
            statements: vec![sql],
            index: true,
        }
    }

    fn statements(what: &'static str, statements: Vec<String>) -> Job {
        Job {
            what,
            statements,
            index: false,
        }
    }
}

/// Runs `jobs` on two connections, each taking the next job when it is done with one.
async fn run_on_two(db: &Db, jobs: Vec<Job>) -> Result<(), LoadError> {
    let queue = Mutex::new(jobs.into_iter());
    let next = || queue.lock().ok().and_then(|mut q| q.next());
    let (one, other) = tokio::join!(run_jobs(db, &next), run_jobs(db, &next));
    one?;
    other
}

/// Steps 1 and 2 of [`restore_postgres`]: `builds` and the indexes of `keys` built on two
/// connections, the costliest first; then, in one transaction, `keys` attached to their
/// indexes (and no longer recorded as set aside) and `foreign_keys` added back `NOT VALID`.
async fn build_and_attach(
    db: &Db,
    mut builds: Vec<String>,
    keys: &[&SetAside],
    foreign_keys: &[&SetAside],
) -> Result<(), LoadError> {
    builds.extend(keys.iter().filter_map(|c| c.build()));
    builds.sort_by_key(|create| std::cmp::Reverse(index_cost(create)));
    run_on_two(db, builds.into_iter().map(Job::build).collect()).await?;

    fail::fail_point!("load::before_foreign_keys", |_| std::process::abort());
    if keys.is_empty() && foreign_keys.is_empty() {
        return Ok(());
    }
    let mut script = String::from("BEGIN;\n");
    for c in keys {
        script.push_str(&c.put_back());
        script.push_str(&format!(
            ";\nDELETE FROM migration_pending_constraint WHERE table_name = {} AND name = {};\n",
            quote_literal(Engine::Postgres, &c.table),
            quote_literal(Engine::Postgres, &c.name)
        ));
    }
    for c in foreign_keys {
        script.push_str(&format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}, ADD CONSTRAINT {name} {definition} NOT VALID;\n",
            table = c.table,
            name = c.name,
            definition = c.definition,
        ));
    }
    script.push_str("COMMIT;\n");
    db.execute_script("putting the keys and foreign keys back", &script)
        .await?;
    Ok(())
}

/// PostgreSQL: the constraints set aside and the secondary indexes back, on two connections,
/// in three steps so that no statement holds a lock another needs for long:
/// 1. every index built, the secondary ones and those of the keys set aside, the costliest
///    first, each connection taking the next when it is done (two `CREATE INDEX` on one table
///    do not block each other);
/// 2. in one transaction, the keys attached to their indexes and the foreign keys added back
///    `NOT VALID` (no scan; a foreign key needs the key it references);
/// 3. table by table, `ANALYZE` and the foreign keys validated (a join each): `payment`'s
///    (its four foreign keys one after the other: each `VALIDATE` takes the lock the next
///    needs) on one connection while the other analyzes and validates the other tables.
///
/// County preset (one county, 941,656 payment lines), before: the foreign keys added before
/// the builds, and the tables' `ANALYZE` and validations queued after them, `payment`'s last,
/// took 3.2–3.7 s, one core idle in the last 0.6–0.8 s (`payment`'s chain alone). After, with
/// the two primary keys of `payment` and the bookkeeping's among the builds: 3.5–3.8 s, the
/// COPY before it 0.85 s shorter (README, Performance).
async fn restore_postgres(db: &Db, indexes: &[(String, String)]) -> Result<(), LoadError> {
    let pending = set_aside(db).await?;
    let tables: Vec<String> = db
        .fetch_text_rows(
            "listing tables",
            "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
        )
        .await?
        .into_iter()
        .filter_map(|mut r| r[0].take())
        .collect();
    fail::fail_point!("load::before_indexes", |_| std::process::abort());

    let builds = indexes
        .iter()
        .map(|(_, create)| if_missing(create))
        .collect();
    let (keys, foreign_keys): (Vec<&SetAside>, Vec<&SetAside>) = pending
        .iter()
        .filter(|c| c.key().is_some() || c.is_foreign_key())
        .partition(|c| c.key().is_some());
    build_and_attach(db, builds, &keys, &foreign_keys).await?;

    // Per table, statistics first: the validations' joins are planned with them (payment's
    // `reissue_of`, mostly empty, 0.45 s without them). `payment`'s first: the longest.
    let mut checks: Vec<(bool, Job)> = tables
        .iter()
        .map(|table| {
            let statements = std::iter::once(format!("ANALYZE {table}"))
                .chain(
                    pending
                        .iter()
                        .filter(|c| &c.table == table && c.key().is_none())
                        .map(SetAside::put_back),
                )
                .collect();
            let job = Job::statements("analyzing and validating the foreign keys", statements);
            (table != "payment", job)
        })
        .collect();
    checks.sort_by_key(|(rest, _)| *rest);
    let checks = checks.into_iter().map(|(_, job)| job).collect();
    run_on_two(db, checks).await?;
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
    fn a_plain_key_is_built_as_an_index_and_attached() {
        let c = set_aside("UNIQUE (legacy_mxid)");
        assert_eq!(c.key(), Some(("UNIQUE", "legacy_mxid")));
        assert!(c.put_back().contains("UNIQUE USING INDEX payment_x"));
        assert_eq!(
            c.build().as_deref(),
            Some("CREATE UNIQUE INDEX IF NOT EXISTS payment_x ON payment (legacy_mxid)")
        );
        assert_eq!(
            set_aside("UNIQUE (a, b)").key(),
            Some(("UNIQUE", "a, b")),
            "two columns"
        );
        let primary = set_aside("PRIMARY KEY (run_id, source_table, source_key)");
        assert_eq!(
            primary.key(),
            Some(("PRIMARY KEY", "run_id, source_table, source_key"))
        );
        assert!(
            primary
                .put_back()
                .contains("ADD CONSTRAINT payment_x PRIMARY KEY USING INDEX payment_x")
        );
        // Anything else a unique constraint may say is put back as it was written.
        let other = set_aside("UNIQUE NULLS NOT DISTINCT (legacy_mxid)");
        assert_eq!(other.key(), None);
        assert_eq!(other.build(), None);
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
        assert_eq!(c.key(), None);
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
