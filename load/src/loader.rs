//! The load step: staged platform rows into the target, county by county, each county in one
//! transaction (`county.rs`), with the run's bookkeeping, the guard against replacing a loaded
//! target with much less data, and the indexes and foreign keys around a bulk load.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::Serialize;
use tracing::{info, warn};
use ykt_db::{Db, DbError, Engine, quote_literal};
use ykt_stage::TransformManifest;
use ykt_stage::{Stage, Step, TextTableReader, sha256_file};

use crate::county::{Mode, load_county};
use crate::{LoadError, apply_migrations, restore, secondary_indexes};

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip the counties the same run already committed.
    pub resume: bool,
    /// Load even when the source has far fewer rows than the target's last load.
    pub allow_shrink: bool,
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

/// The legacy tables whose rows the guard against shrinking counts.
const COUNTED: [&str; 4] = ["T_BTDX", "T_ZJZB", "T_FFPC", "T_FFMX"];

/// Counties loaded at once into PostgreSQL in a bulk load, each on its own connection;
/// `YKT_LOAD_CONNECTIONS` (1 to 4) overrides it, for a server with more or fewer cores.
const LOAD_CONNECTIONS: usize = 2;

fn load_connections() -> usize {
    std::env::var("YKT_LOAD_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(LOAD_CONNECTIONS, |n| n.clamp(1, 4))
}

/// A migration run as the target records it.
#[derive(Debug, Clone)]
struct RunRecord {
    run_id: String,
    status: String,
    started_at: String,
    /// Loaded in bulk (the target held no migrated rows when it began).
    bulk: bool,
    row_counts: BTreeMap<String, u64>,
}

async fn runs(db: &Db) -> Result<Vec<RunRecord>, LoadError> {
    let rows = db
        .fetch_text_rows(
            "reading the migration runs",
            "SELECT run_id, status, CAST(started_at AS TEXT), COALESCE(parameters, '{}'), COALESCE(source_fingerprint, '{}'), CAST(finished_at AS TEXT) FROM migration_run ORDER BY finished_at",
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let json = |i: usize| {
                serde_json::from_str::<serde_json::Value>(r[i].as_deref().unwrap_or("{}"))
                    .unwrap_or_default()
            };
            let fingerprint = json(4);
            RunRecord {
                run_id: r[0].clone().unwrap_or_default(),
                status: r[1].clone().unwrap_or_default(),
                started_at: r[2].clone().unwrap_or_default(),
                bulk: json(3)["bulk"].as_bool().unwrap_or(false),
                row_counts: COUNTED
                    .iter()
                    .filter_map(|t| {
                        Some(((*t).to_owned(), fingerprint["row_counts"][*t].as_u64()?))
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Refuses a source with fewer rows of a legacy table than the target's last completed load
/// (by more than 1 %): an empty legacy database or a truncated export looks like this, and
/// loading it would replace what the counties signed with less.
fn check_shrink(
    db: &Db,
    extract: &ykt_stage::ExtractManifest,
    last: Option<&RunRecord>,
) -> Result<(), LoadError> {
    let Some(last) = last else {
        return Ok(());
    };
    for table in COUNTED {
        let before = last.row_counts.get(table).copied().unwrap_or(0);
        let now = extract.source.row_counts.get(table).copied().unwrap_or(0);
        if before > 0 && now * 100 < before * 99 {
            return Err(LoadError::Shrink {
                url: db.url().to_string(),
                table,
                now,
                before,
                run_id: last.run_id.clone(),
            });
        }
    }
    Ok(())
}

/// Rows of the migrated tables that carry a legacy key.
async fn migrated_rows(db: &Db) -> Result<i64, LoadError> {
    let mut n = 0;
    for sql in [
        "SELECT COUNT(*) FROM payment WHERE legacy_mxid IS NOT NULL",
        "SELECT COUNT(*) FROM beneficiary_legacy_map",
        "SELECT COUNT(*) FROM payment_batch WHERE legacy_pcid IS NOT NULL",
        "SELECT COUNT(*) FROM allocation WHERE legacy_zbid IS NOT NULL",
    ] {
        n += db
            .fetch_i64("counting migrated rows", sql)
            .await?
            .unwrap_or(0);
    }
    Ok(n)
}

/// Whether the target has begun loading the stage's run (so `--resume` has something to go
/// on from).
pub async fn run_started(stage: &Stage, db: &Db) -> Result<bool, LoadError> {
    let manifest: TransformManifest = stage.manifest(Step::Transform)?;
    if !db.table_exists("migration_run").await? {
        return Ok(false);
    }
    let r = quote_literal(db.engine(), &manifest.run_id);
    Ok(db
        .fetch_i64(
            "looking up the run",
            &format!("SELECT COUNT(*) FROM migration_run WHERE run_id = {r}"),
        )
        .await?
        .unwrap_or(0)
        > 0)
}

impl LoadError {
    /// A statement that failed because the server went away (restarted, network cut) becomes
    /// a sentence that says so and how to continue. Not retried here: the writer lock's own
    /// session went with the server, so going on could let a second writer in; a rerun with
    /// `--resume` takes the lock again and skips the committed counties.
    fn lost_in(self, county: &str) -> LoadError {
        match self {
            LoadError::Sql { url, source, .. }
            | LoadError::Db(
                DbError::Connect { url, source } | DbError::Query { url, source, .. },
            ) if ykt_db::server_gone(&source) => LoadError::ConnectionLost {
                url,
                county: county.to_owned(),
                source,
            },
            other => other,
        }
    }
}

/// Loads a transformed stage into the target.
pub async fn load(
    stage: &Stage,
    db: &Db,
    options: &LoadOptions,
    mut lock: Option<&mut ykt_db::WriterLock>,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let (manifest, extract) = verified_stage(stage)?;
    apply_migrations(db).await?;
    let plan = plan(db, &manifest, &extract, options).await?;
    let r = quote_literal(db.engine(), &plan.run_id);
    let mut report = LoadReport {
        run_id: plan.run_id.clone(),
        replaced: plan.replaces,
        ..LoadReport::default()
    };
    record_start(db, stage, (&manifest, &extract), &plan).await?;
    let indexes = secondary_indexes(db.engine());
    match plan.mode {
        // A bulk load is faster without the secondary indexes; they are built again after.
        Mode::Bulk => {
            for (name, _) in &indexes {
                db.execute(
                    "dropping an index for the bulk load",
                    &format!("DROP INDEX IF EXISTS {name}"),
                )
                .await?;
            }
        }
        // Replacing deletes by county and key: the indexes and keys must be there (a bulk run
        // that stopped may have left some out).
        Mode::Replace => {
            restore::put_back_keys(db).await?;
            restore::build_indexes(db, &indexes).await?;
        }
    }
    restore::set_aside_constraints(db, plan.mode).await?;
    let done = checkpoints(db, &r, options.resume).await?;
    if plan.mode == Mode::Bulk && options.resume {
        remove_uncommitted_counties(db, &done).await?;
    }

    load_reference(stage, db).await?;
    let counties: BTreeSet<String> = manifest
        .files
        .keys()
        .filter_map(|f| f.split_once('/').map(|(g, _)| g.to_owned()))
        .filter(|g| g != "reference")
        .collect();
    report.steps_skipped = counties.iter().filter(|c| done.contains(*c)).count();
    let mut todo = counties.iter().filter(|c| !done.contains(*c)).peekable();
    // Counties are independent transactions: on PostgreSQL a bulk load keeps more than one
    // server backend busy (each county still all or nothing). Replacing stays one county at a
    // time, as its deletes may touch rows of another county (a person who moved).
    let jobs = match (db.engine(), plan.mode) {
        (Engine::Postgres, Mode::Bulk) => load_connections(),
        _ => 1,
    };
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < jobs {
            let Some(county) = todo.next() else { break };
            // Still the only writer (a server restart ends the lock's session with the rest).
            // A server not back in time is a lost connection (the run goes on with --resume),
            // not a target the operator named wrong.
            if let Some(lock) = lock.as_deref_mut() {
                (lock.ensure_held().await).map_err(|e| LoadError::from(e).lost_in(county))?;
            }
            // The last county to start has the connections the others leave free: in a bulk
            // load its payment lines go over all of them (a one-county system, the end of a
            // province). Its transactions wait for free connections, never the others.
            let streams = if todo.peek().is_none() { jobs } else { 1 };
            let (stage, db, county, run_id, mode) = (
                stage.clone(),
                db.clone(),
                county.clone(),
                plan.run_id.clone(),
                plan.mode,
            );
            running.spawn(async move {
                let rows = load_county(&stage, &db, &county, &run_id, mode, streams).await;
                (county, rows)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (county, rows) = joined.map_err(|e| LoadError::Worker(e.to_string()))?;
        let rows = rows.map_err(|e| e.lost_in(&county))?;
        let total: u64 = rows.values().sum();
        for (table, n) in rows {
            *report.rows.entry(table).or_default() += n;
        }
        report.steps_loaded += 1;
        fail::fail_point!("load::county_committed", |_| std::process::abort());
        progress(&county, total);
        info!(county = %county, rows = total, "Loaded county.");
    }
    if plan.mode == Mode::Replace {
        remove_other_counties(db, &counties).await?;
    }
    finish(db, &indexes, &r).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The stage's manifests, once every staged file matches its checksum.
fn verified_stage(
    stage: &Stage,
) -> Result<(TransformManifest, ykt_stage::ExtractManifest), LoadError> {
    let manifest: TransformManifest = stage.manifest(Step::Transform)?;
    for (file, entry) in &manifest.files {
        let path = stage.platform_dir().join(file);
        if sha256_file(&path)? != entry.sha256 {
            return Err(ykt_stage::StageError::Checksum { path }.into());
        }
    }
    Ok((manifest, stage.manifest(Step::Extract)?))
}

/// What a load will do, decided before it writes anything.
struct LoadPlan {
    run_id: String,
    /// The target already knows this run (a resume or a reload of the same stage).
    known: bool,
    mode: Mode,
    /// Another run's data is replaced.
    replaces: bool,
}

/// Decides how to load, refusing what must not be loaded: a resume of a run the target never
/// began, a source much smaller than the last load (without `allow_shrink`), a live platform.
async fn plan(
    db: &Db,
    manifest: &TransformManifest,
    extract: &ykt_stage::ExtractManifest,
    options: &LoadOptions,
) -> Result<LoadPlan, LoadError> {
    let run_id = manifest.run_id.clone();
    let runs = runs(db).await?;
    let this = runs.iter().find(|x| x.run_id == run_id).cloned();
    if options.resume && this.is_none() {
        return Err(LoadError::NothingToResume {
            url: db.url().to_string(),
            run_id,
        });
    }
    // This process holds the writer lock: a run still marked running was left by a process
    // that stopped.
    for dead in runs.iter().filter(|x| x.status == "running") {
        warn!(run = %dead.run_id, started = %dead.started_at, "A run was left running by a process that stopped; `--resume` continues it, a plain run starts it again.");
    }
    if !options.allow_shrink {
        let last = runs.iter().rev().find(|x| x.status == "completed");
        check_shrink(db, extract, last)?;
    }
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
    let migrated = migrated_rows(db).await?;
    // A resumed bulk run goes on in bulk: the counties it has not committed hold nothing.
    let mode = match (&this, options.resume) {
        (Some(run), true) if run.bulk => Mode::Bulk,
        (Some(_), true) => Mode::Replace,
        _ if migrated == 0 => Mode::Bulk,
        _ => Mode::Replace,
    };
    Ok(LoadPlan {
        run_id,
        known: this.is_some(),
        mode,
        replaces: migrated > 0 && this.is_none(),
    })
}

/// Records the run as running, with its source and parameters.
async fn record_start(
    db: &Db,
    stage: &Stage,
    (manifest, extract): (&TransformManifest, &ykt_stage::ExtractManifest),
    plan: &LoadPlan,
) -> Result<(), LoadError> {
    let engine = db.engine();
    let r = quote_literal(engine, &plan.run_id);
    let parameters = serde_json::json!({
        "stage": stage.dir().display().to_string(),
        "legacy_owns_up_to": manifest.options.legacy_owns_up_to,
        "as_of": manifest.as_of.to_string(),
        "bulk": plan.mode == Mode::Bulk,
    })
    .to_string();
    let sql = if plan.known {
        format!(
            "UPDATE migration_run SET status = 'running', finished_at = NULL, parameters = {} WHERE run_id = {r}",
            quote_literal(engine, &parameters)
        )
    } else {
        let fingerprint = serde_json::to_string(&extract.source).unwrap_or_default();
        format!(
            "INSERT INTO migration_run (run_id, command, started_at, status, ykt_version, source_fingerprint, stage_dir, parameters) VALUES ({r}, 'load', {}, 'running', {}, {}, {}, {})",
            now_sql(engine),
            quote_literal(engine, env!("CARGO_PKG_VERSION")),
            quote_literal(engine, &fingerprint),
            quote_literal(engine, &stage.dir().display().to_string()),
            quote_literal(engine, &parameters),
        )
    };
    db.execute("recording the run", &sql).await?;
    Ok(())
}

/// The counties a resumed run committed already; a fresh run clears its checkpoints.
async fn checkpoints(db: &Db, run: &str, resume: bool) -> Result<BTreeSet<String>, LoadError> {
    if !resume {
        db.execute(
            "clearing checkpoints",
            &format!("DELETE FROM migration_checkpoint WHERE run_id = {run}"),
        )
        .await?;
        return Ok(BTreeSet::new());
    }
    Ok(db
        .fetch_text_rows(
            "reading checkpoints",
            &format!(
                "SELECT county_code FROM migration_checkpoint WHERE run_id = {run} AND step = 'money'"
            ),
        )
        .await?
        .into_iter()
        .filter_map(|row| row[0].clone())
        .collect())
}

/// After the counties: the constraints and indexes back, statistics, the run completed.
async fn finish(db: &Db, indexes: &[(String, String)], run: &str) -> Result<(), LoadError> {
    restore::after_load(db, indexes).await?;
    let engine = db.engine();
    db.execute(
        "recording the run",
        &format!(
            "UPDATE migration_run SET status = 'completed', finished_at = {} WHERE run_id = {run}",
            now_sql(engine)
        ),
    )
    .await?;
    Ok(())
}

/// A resumed bulk load: payment lines of counties without a checkpoint. A county whose payment
/// lines went over several connections commits those first and its own transaction last; a
/// crash between the commits leaves lines the county's rerun would insert again.
async fn remove_uncommitted_counties(db: &Db, done: &BTreeSet<String>) -> Result<(), LoadError> {
    if db.engine() != Engine::Postgres {
        return Ok(());
    }
    let keep = county_list(db.engine(), done);
    db.execute(
        "removing payment lines of counties not committed",
        &format!(
            "DELETE FROM payment WHERE legacy_mxid IS NOT NULL AND county_code NOT IN ({keep})"
        ),
    )
    .await?;
    Ok(())
}

/// Counties as the list of an SQL `IN (…)`; `''` (no county) when there are none.
fn county_list(engine: Engine, counties: &BTreeSet<String>) -> String {
    if counties.is_empty() {
        return "''".to_owned();
    }
    counties
        .iter()
        .map(|c| quote_literal(engine, c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// After a replacing load: the migrated rows of counties the new source no longer has.
async fn remove_other_counties(db: &Db, counties: &BTreeSet<String>) -> Result<(), LoadError> {
    let list = county_list(db.engine(), counties);
    db.execute_in_transaction(
        "removing the counties the source no longer has",
        &[
            format!("DELETE FROM payment WHERE legacy_mxid IS NOT NULL AND county_code NOT IN ({list})"),
            format!("DELETE FROM payment_batch WHERE legacy_pcid IS NOT NULL AND county_code NOT IN ({list})"),
            format!("DELETE FROM allocation WHERE legacy_zbid IS NOT NULL AND county_code NOT IN ({list})"),
            format!("DELETE FROM beneficiary_legacy_map WHERE beneficiary_id IN (SELECT id FROM beneficiary WHERE county_code NOT IN ({list}))"),
            format!("DELETE FROM beneficiary WHERE county_code NOT IN ({list}) AND NOT EXISTS (SELECT 1 FROM payment p WHERE p.beneficiary_id = beneficiary.id)"),
        ],
    )
    .await?;
    Ok(())
}

/// Now, as a literal for the run's records: Beijing time, like every time ykt writes.
pub(crate) fn now_sql(engine: Engine) -> String {
    quote_literal(engine, &ykt_domain::beijing_stamp())
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
                                Some(v) if c == "level" => v
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
