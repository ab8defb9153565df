//! The load step: staged platform rows into the target, county by county, each county in one
//! transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::Serialize;
use sqlx::AssertSqlSafe;
use tracing::info;
use ykt_db::{Db, Engine, quote_literal};
use ykt_stage::{Stage, Step, TextTableReader, sha256_file};
use ykt_transform::TransformManifest;

use crate::{LoadError, apply_migrations, secondary_indexes};

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip the counties the same run already committed.
    pub resume: bool,
}

/// What a load did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub run_id: String,
    /// The target held another run's data, which this load replaced.
    pub replaced: bool,
    /// Counties loaded now and skipped as already done (`--resume`).
    pub steps_loaded: usize,
    pub steps_skipped: usize,
    /// Rows inserted per platform table.
    pub rows: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// Tables the migration fills, children first.
const MIGRATED_TABLES: &[&str] = &[
    "payment",
    "payment_batch",
    "allocation",
    "beneficiary_legacy_map",
    "beneficiary",
];

const INTEGER_COLUMNS: &[&str] = &[
    "id",
    "level",
    "fund_year",
    "legacy_zbid",
    "beneficiary_id",
    "legacy_dxid",
    "batch_id",
    "allocation_id",
    "declared_count",
    "reissue_of",
    "legacy_mxid",
    "legacy_pcid",
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UnitStep {
    People,
    Money,
}

impl UnitStep {
    fn name(self) -> &'static str {
        match self {
            UnitStep::People => "people",
            UnitStep::Money => "money",
        }
    }
}

/// One staged file to insert: the platform table, and for rejects and corrections which
/// legacy tables belong to this step.
struct Insert {
    file: &'static str,
    table: &'static str,
    people_rows: Option<bool>,
}

fn unit_plan(
    step: UnitStep,
    county: &str,
    run_id: &str,
    engine: Engine,
) -> (Vec<String>, Vec<Insert>) {
    let c = quote_literal(engine, county);
    let r = quote_literal(engine, run_id);
    let people = step == UnitStep::People;
    let op = if people { "=" } else { "<>" };
    let mut deletes = if people {
        vec![
            format!(
                "DELETE FROM beneficiary_legacy_map WHERE beneficiary_id IN (SELECT id FROM beneficiary WHERE county_code = {c})"
            ),
            format!("DELETE FROM beneficiary WHERE county_code = {c}"),
        ]
    } else {
        vec![
            format!("DELETE FROM payment WHERE county_code = {c}"),
            format!("DELETE FROM payment_batch WHERE county_code = {c}"),
            format!("DELETE FROM allocation WHERE county_code = {c}"),
        ]
    };
    for table in ["migration_reject", "migration_correction"] {
        deletes.push(format!("DELETE FROM {table} WHERE run_id = {r} AND county_code = {c} AND source_table {op} 'T_BTDX'"));
    }
    let files: &[(&'static str, &'static str)] = if people {
        &[
            ("beneficiary", "beneficiary"),
            ("beneficiary_legacy_map", "beneficiary_legacy_map"),
        ]
    } else {
        &[
            ("allocation", "allocation"),
            ("payment_batch", "payment_batch"),
            ("payment", "payment"),
        ]
    };
    let mut inserts: Vec<Insert> = files
        .iter()
        .map(|(file, table)| Insert {
            file,
            table,
            people_rows: None,
        })
        .collect();
    inserts.push(Insert {
        file: "reject",
        table: "migration_reject",
        people_rows: Some(people),
    });
    inserts.push(Insert {
        file: "correction",
        table: "migration_correction",
        people_rows: Some(people),
    });
    (deletes, inserts)
}

/// Loads a transformed stage into the target.
pub async fn load(
    stage: &Stage,
    db: &Db,
    options: &LoadOptions,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let manifest: TransformManifest = stage.manifest(Step::Transform)?;
    for (file, entry) in &manifest.files {
        let path = stage.platform_dir().join(file);
        if sha256_file(&path)? != entry.sha256 {
            return Err(ykt_stage::StageError::Checksum { path }.into());
        }
    }
    let extract: ykt_extract::ExtractManifest = stage.manifest(Step::Extract)?;
    apply_migrations(db).await?;
    let engine = db.engine();
    let run_id = manifest.run_id.clone();
    let r = quote_literal(engine, &run_id);
    let known_run = db
        .fetch_i64(
            "looking up the run",
            &format!("SELECT COUNT(*) FROM migration_run WHERE run_id = {r}"),
        )
        .await?
        .unwrap_or(0)
        > 0;
    if options.resume && !known_run {
        return Err(LoadError::NothingToResume {
            url: db.url().to_string(),
            run_id,
        });
    }
    let mut report = LoadReport {
        run_id: run_id.clone(),
        replaced: false,
        ..LoadReport::default()
    };
    let indexes = secondary_indexes(engine);
    if !known_run {
        let native = db
            .fetch_i64(
                "counting native rows",
                "SELECT COUNT(*) FROM payment WHERE legacy_mxid IS NULL",
            )
            .await?
            .unwrap_or(0);
        if native > 0 {
            return Err(LoadError::LivePlatform {
                url: db.url().to_string(),
                rows: native,
            });
        }
        let existing = db
            .fetch_i64("counting migrated rows", "SELECT COUNT(*) FROM beneficiary")
            .await?
            .unwrap_or(0)
            + db.fetch_i64("counting migrated rows", "SELECT COUNT(*) FROM payment")
                .await?
                .unwrap_or(0);
        report.replaced = existing > 0;
        let mut script = String::from("BEGIN;\n");
        for table in MIGRATED_TABLES {
            script.push_str(&format!("DELETE FROM {table};\n"));
        }
        script.push_str("COMMIT;\n");
        db.execute_script("clearing the migrated tables", &script)
            .await?;
        // A full load is faster without the secondary indexes; they are built again after.
        for (name, _) in &indexes {
            db.execute(
                "dropping an index for the bulk load",
                &format!("DROP INDEX IF EXISTS {name}"),
            )
            .await?;
        }
        set_aside_foreign_keys(db).await?;
        let now = now_sql(engine);
        let parameters = serde_json::json!({"stage": stage.dir().display().to_string(), "routing_year": manifest.options.routing_year}).to_string();
        let fingerprint = serde_json::to_string(&extract.source).unwrap_or_default();
        db.execute(
            "recording the run",
            &format!(
                "INSERT INTO migration_run (run_id, command, started_at, status, ykt_version, source_fingerprint, stage_dir, parameters) VALUES ({r}, 'load', {now}, 'running', {}, {}, {}, {})",
                quote_literal(engine, env!("CARGO_PKG_VERSION")),
                quote_literal(engine, &fingerprint),
                quote_literal(engine, &stage.dir().display().to_string()),
                quote_literal(engine, &parameters),
            ),
        )
        .await?;
    } else {
        db.execute(
            "recording the run",
            &format!(
                "UPDATE migration_run SET status = 'running', finished_at = NULL WHERE run_id = {r}"
            ),
        )
        .await?;
    }
    let done: BTreeSet<(String, String)> = if options.resume {
        db.fetch_text_rows(
            "reading checkpoints",
            &format!("SELECT county_code, step FROM migration_checkpoint WHERE run_id = {r}"),
        )
        .await?
        .into_iter()
        .map(|row| {
            (
                row[0].clone().unwrap_or_default(),
                row[1].clone().unwrap_or_default(),
            )
        })
        .collect()
    } else {
        db.execute(
            "clearing checkpoints",
            &format!("DELETE FROM migration_checkpoint WHERE run_id = {r}"),
        )
        .await?;
        BTreeSet::new()
    };

    load_reference(stage, db).await?;
    let counties: BTreeSet<String> = manifest
        .files
        .keys()
        .filter_map(|f| f.split_once('/').map(|(g, _)| g.to_owned()))
        .filter(|g| g != "reference")
        .collect();
    for county in &counties {
        let steps = [UnitStep::People, UnitStep::Money];
        if steps
            .iter()
            .all(|s| done.contains(&(county.clone(), s.name().to_owned())))
        {
            report.steps_skipped += 1;
            continue;
        }
        let rows = load_unit(stage, db, county, &run_id, &mut report.rows).await?;
        report.steps_loaded += 1;
        crash_point(report.steps_loaded);
        progress(county, rows);
        info!(county = %county, rows, "Loaded county.");
    }
    restore_foreign_keys(db).await?;
    for (_, create) in &indexes {
        let sql = create.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1);
        db.execute("building an index", &sql).await?;
    }
    let analyze = match engine {
        // A sampled ANALYZE: enough for the planner, a fraction of the time.
        Engine::Sqlite => "PRAGMA analysis_limit = 1000; ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_script("analyzing", analyze).await?;
    db.execute(
        "recording the run",
        &format!(
            "UPDATE migration_run SET status = 'completed', finished_at = {} WHERE run_id = {r}",
            now_sql(engine)
        ),
    )
    .await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// PostgreSQL checks a foreign key row by row (a trigger per row); validating it once after
/// the load is one join and much faster. The constraints of the migrated tables are recorded
/// in `migration_pending_constraint`, dropped, and put back by [`restore_foreign_keys`] at the
/// end of the load, or at the end of a resumed one if the load crashed.
async fn set_aside_foreign_keys(db: &Db) -> Result<(), LoadError> {
    if db.engine() != Engine::Postgres {
        return Ok(());
    }
    let found = db
        .fetch_text_rows(
            "listing foreign keys",
            "SELECT CAST(c.conrelid::regclass AS TEXT), CAST(c.conname AS TEXT), pg_get_constraintdef(c.oid) FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
             AND CAST(c.conrelid::regclass AS TEXT) IN ('payment', 'payment_batch', 'allocation', 'beneficiary_legacy_map')",
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
    script.push_str("COMMIT;\n");
    db.execute_script("setting foreign keys aside for the bulk load", &script)
        .await?;
    Ok(())
}

/// Puts back (and so validates) the foreign keys a full load set aside; on SQLite, checks
/// every foreign key of the loaded tables.
async fn restore_foreign_keys(db: &Db) -> Result<(), LoadError> {
    if db.engine() == Engine::Sqlite {
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
        return Ok(());
    }
    let pending = db
        .fetch_text_rows(
            "listing set-aside foreign keys",
            "SELECT table_name, name, definition FROM migration_pending_constraint",
        )
        .await?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut script = String::from("BEGIN;\n");
    for row in &pending {
        let (table, name, definition) = (
            row[0].as_deref().unwrap_or(""),
            row[1].as_deref().unwrap_or(""),
            row[2].as_deref().unwrap_or(""),
        );
        script.push_str(&format!(
            "ALTER TABLE {table} ADD CONSTRAINT {name} {definition};\n"
        ));
    }
    script.push_str("DELETE FROM migration_pending_constraint;\nCOMMIT;\n");
    db.execute_script("validating and restoring foreign keys", &script)
        .await?;
    info!(constraints = pending.len(), "Validated the foreign keys.");
    Ok(())
}

/// For the resume test: `YKT_CRASH_AFTER_STEPS=N` kills the process (as `kill -9` would) right
/// after the N-th county step has committed.
fn crash_point(steps_loaded: usize) {
    if std::env::var("YKT_CRASH_AFTER_STEPS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        == Some(steps_loaded)
    {
        std::process::abort();
    }
}

fn now_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "now()",
        _ => "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
    }
}

/// Regions and programs: small, upserted.
async fn load_reference(stage: &Stage, db: &Db) -> Result<(), LoadError> {
    for (table, key) in [("region", "code"), ("program", "code")] {
        let path = stage.platform_file("reference", table);
        if !path.exists() {
            continue;
        }
        let mut reader = TextTableReader::open(&path)?;
        let columns = reader.columns().to_vec();
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| *c != key)
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        while let Some(rows) = reader.next_rows()? {
            for chunk in rows.chunks(500) {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|row| {
                        let vals: Vec<String> = row
                            .iter()
                            .zip(&columns)
                            .map(|(v, c)| match v {
                                None => "NULL".to_owned(),
                                Some(v) if INTEGER_COLUMNS.contains(&c.as_str()) => v
                                    .parse::<i64>()
                                    .map_or("NULL".to_owned(), |n| n.to_string()),
                                Some(v) => quote_literal(db.engine(), v),
                            })
                            .collect();
                        format!("({})", vals.join(", "))
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({key}) DO UPDATE SET {}",
                    columns.join(", "),
                    values.join(", "),
                    updates.join(", ")
                );
                db.execute(&format!("loading {table}"), &sql).await?;
            }
        }
    }
    Ok(())
}

fn sql_err(db: &Db, what: &str) -> impl Fn(sqlx::Error) -> LoadError {
    let url = db.url().to_string();
    let what = what.to_owned();
    move |source| LoadError::Sql {
        url: url.clone(),
        what: what.clone(),
        source,
    }
}

/// One county step in one transaction: delete what the county had, insert the stage's rows,
/// record the checkpoint. Returns the rows inserted.
async fn load_unit(
    stage: &Stage,
    db: &Db,
    county: &str,
    run_id: &str,
    totals: &mut BTreeMap<String, u64>,
) -> Result<u64, LoadError> {
    let engine = db.engine();
    // People first (beneficiaries, the legacy map), then money (allocations, batches, lines),
    // with the rejects and corrections of each: the whole county in one transaction.
    let (mut deletes, mut inserts) = unit_plan(UnitStep::People, county, run_id, engine);
    let (money_deletes, money_inserts) = unit_plan(UnitStep::Money, county, run_id, engine);
    deletes.extend(money_deletes);
    inserts.extend(money_inserts);
    let what = format!("loading county {county}");
    let mut rows_total = 0u64;
    let checkpoint = |rows: u64| {
        let row = |step: UnitStep, n: u64| {
            format!(
                "({}, {}, '{}', {}, {n})",
                quote_literal(engine, run_id),
                quote_literal(engine, county),
                step.name(),
                now_sql(engine)
            )
        };
        format!(
            "INSERT INTO migration_checkpoint (run_id, county_code, step, completed_at, rows_loaded) VALUES {}, {}",
            row(UnitStep::People, 0),
            row(UnitStep::Money, rows)
        )
    };
    // The same steps on either engine: delete what the county had, insert the stage's rows,
    // record the checkpoint, commit.
    macro_rules! county_transaction {
        ($tx:ident, $insert:ident) => {{
            for sql in &deletes {
                sqlx::query(AssertSqlSafe(sql.clone()))
                    .execute(&mut *$tx)
                    .await
                    .map_err(sql_err(db, &what))?;
            }
            for insert in &inserts {
                let n = $insert(stage, db, &mut $tx, county, run_id, insert).await?;
                *totals.entry(insert.table.to_owned()).or_default() += n;
                rows_total += n;
            }
            sqlx::query(AssertSqlSafe(checkpoint(rows_total)))
                .execute(&mut *$tx)
                .await
                .map_err(sql_err(db, &what))?;
            $tx.commit().await.map_err(sql_err(db, &what))?;
        }};
    }
    match (db.as_postgres(), db.as_sqlite()) {
        (Some(pool), _) => {
            let mut tx = pool.begin().await.map_err(sql_err(db, &what))?;
            county_transaction!(tx, copy_file);
        }
        (None, Some(pool)) => {
            // SQLite looks every foreign key up row by row; the load checks them all at once at
            // its end instead (`PRAGMA foreign_key_check`), as PostgreSQL does.
            let mut conn = pool.acquire().await.map_err(sql_err(db, &what))?;
            sqlx::raw_sql("PRAGMA foreign_keys = OFF")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(db, &what))?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(sql_err(db, &what))?;
            county_transaction!(tx, insert_file_sqlite);
            sqlx::raw_sql("PRAGMA foreign_keys = ON")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(db, &what))?;
        }
        _ => {
            return Err(LoadError::UnsupportedTarget {
                url: db.url().to_string(),
                engine: engine.name(),
            });
        }
    }
    Ok(rows_total)
}

/// A staged file's columns (with `run_id` first for the bookkeeping tables), its reader, and
/// the column that tells which step a reject or correction belongs to.
fn staged_rows(
    stage: &Stage,
    county: &str,
    insert: &Insert,
) -> Result<Option<StagedRows>, LoadError> {
    let path = stage.platform_file(county, insert.file);
    if !path.exists() {
        return Ok(None);
    }
    let reader = TextTableReader::open(&path)?;
    let mut columns = reader.columns().to_vec();
    let filter = match insert.people_rows {
        Some(_) => Some(reader.column("source_table")?),
        None => None,
    };
    if insert.people_rows.is_some() {
        columns.insert(0, "run_id".to_owned());
    }
    Ok(Some(StagedRows {
        columns,
        reader,
        filter,
    }))
}

struct StagedRows {
    columns: Vec<String>,
    reader: TextTableReader,
    filter: Option<usize>,
}

fn keep(row: &[Option<String>], filter: Option<usize>, people_rows: Option<bool>) -> bool {
    match (filter, people_rows) {
        (Some(i), Some(people)) => (row[i].as_deref() == Some("T_BTDX")) == people,
        _ => true,
    }
}

fn quote_column(c: &str) -> String {
    if c == "before" || c == "after" {
        format!("\"{c}\"")
    } else {
        c.to_owned()
    }
}

/// PostgreSQL: `COPY … FROM STDIN` in text format.
async fn copy_file(
    stage: &Stage,
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    county: &str,
    run_id: &str,
    insert: &Insert,
) -> Result<u64, LoadError> {
    let Some(StagedRows {
        columns,
        mut reader,
        filter,
    }) = staged_rows(stage, county, insert)?
    else {
        return Ok(0);
    };
    let what = format!("copying {} of county {county}", insert.table);
    let cols: Vec<String> = columns.iter().map(|c| quote_column(c)).collect();
    let statement = format!("COPY {} ({}) FROM STDIN", insert.table, cols.join(", "));
    let mut copy = tx
        .copy_in_raw(&statement)
        .await
        .map_err(sql_err(db, &what))?;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut n = 0u64;
    let with_run = insert.people_rows.is_some();
    while let Some(rows) = reader.next_rows()? {
        for row in rows.iter().filter(|r| keep(r, filter, insert.people_rows)) {
            if with_run {
                copy_text(&mut buf, Some(run_id));
                buf.push(b'\t');
            }
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    buf.push(b'\t');
                }
                copy_text(&mut buf, v.as_deref());
            }
            buf.push(b'\n');
            n += 1;
        }
        if buf.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buf))
                .await
                .map_err(sql_err(db, &what))?;
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await.map_err(sql_err(db, &what))?;
    }
    copy.finish().await.map_err(sql_err(db, &what))?;
    Ok(n)
}

/// A value in COPY text format: `\N` for NULL; backslash, tab, newline and CR escaped.
fn copy_text(buf: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => buf.extend_from_slice(b"\\N"),
        Some(v) => {
            for b in v.bytes() {
                match b {
                    b'\\' => buf.extend_from_slice(b"\\\\"),
                    b'\t' => buf.extend_from_slice(b"\\t"),
                    b'\n' => buf.extend_from_slice(b"\\n"),
                    b'\r' => buf.extend_from_slice(b"\\r"),
                    _ => buf.push(b),
                }
            }
        }
    }
}

/// SQLite: prepared multi-row inserts inside the county's transaction.
async fn insert_file_sqlite(
    stage: &Stage,
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    county: &str,
    run_id: &str,
    insert: &Insert,
) -> Result<u64, LoadError> {
    let Some(StagedRows {
        columns,
        mut reader,
        filter,
    }) = staged_rows(stage, county, insert)?
    else {
        return Ok(0);
    };
    let what = format!("inserting {} of county {county}", insert.table);
    let integer: Vec<bool> = columns
        .iter()
        .map(|c| INTEGER_COLUMNS.contains(&c.as_str()))
        .collect();
    let per_statement = (30_000 / columns.len()).min(500);
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let cols: Vec<String> = columns.iter().map(|c| quote_column(c)).collect();
    let head = format!("INSERT INTO {} ({}) VALUES ", insert.table, cols.join(", "));
    let with_run = insert.people_rows.is_some();
    let mut n = 0u64;
    while let Some(rows) = reader.next_rows()? {
        let rows: Vec<Vec<Option<String>>> = rows
            .into_iter()
            .filter(|r| keep(r, filter, insert.people_rows))
            .collect();
        for chunk in rows.chunks(per_statement) {
            let sql = format!(
                "{head}{}",
                vec![placeholders.as_str(); chunk.len()].join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                let values = with_run
                    .then(|| Some(run_id.to_owned()))
                    .into_iter()
                    .chain(row.iter().cloned());
                for (value, is_int) in values.zip(&integer) {
                    query = match (value, is_int) {
                        (Some(v), true) => match v.parse::<i64>() {
                            Ok(i) => query.bind(i),
                            Err(_) => query.bind(v),
                        },
                        (v, _) => query.bind(v),
                    };
                }
            }
            query.execute(&mut **tx).await.map_err(sql_err(db, &what))?;
            n += chunk.len() as u64;
        }
    }
    Ok(n)
}
