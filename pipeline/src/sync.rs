//! The delta sync during dual-run: legacy rows changed since the cursor, brought over as
//! upserts keyed on their legacy keys (`cutover-policy.md` § Delta sync).
//!
//! The cursor is `(GXSJ, key)` per table, persisted in the target. Each increment also re-reads
//! a look-back window before the cursor: a row committed late with an earlier GXSJ, or one that
//! ties the cursor's GXSJ, is caught there, and writing it again is harmless.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use ykt_cutover::{Context, CutoverError};
use ykt_db::{Db, DbUrl, Engine, cast_text, ident, quote_literal};
use ykt_domain::LegacyTable;
use ykt_extract::LegacySource;
use ykt_load::ChangedKeys;
use ykt_stage::{ExtractManifest, SYNC_MARKER, Stage, Step, TransformManifest, TransformOptions};

use crate::{PipelineError, input};

/// The tables legacy stamps with GXSJ.
pub const SYNCED: [LegacyTable; 3] = [
    LegacyTable::Beneficiaries,
    LegacyTable::Batches,
    LegacyTable::Payments,
];

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct SyncMarker {
    pub base_run_id: String,
    pub increment: i64,
}

/// What one increment did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub increment: i64,
    pub base_run_id: String,
    /// Rows read per table (new since the cursor, and re-read in the look-back window).
    pub new_rows: BTreeMap<&'static str, u64>,
    pub reread_rows: BTreeMap<&'static str, u64>,
    pub rows_written: u64,
    /// Changed legacy keys per county.
    pub counties: BTreeMap<String, u64>,
}

pub struct SyncOptions<'a> {
    /// The moment and the policy (its routing year decides which lines legacy still owns).
    pub context: &'a Context,
    /// Re-read this many minutes before the cursor, for rows committed late.
    pub lookback_minutes: i64,
    /// Every line becomes the new platform's (the freeze's final sync).
    pub carry_over: bool,
}

const STAMP: &str = "%Y-%m-%d %H:%M:%S";

fn stamp(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    NaiveDateTime::parse_from_str(t.get(..19).unwrap_or(t), STAMP).ok()
}

/// The run the target's migrated rows are recorded under.
pub async fn base_run(target: &Db) -> Result<String, PipelineError> {
    let rows = target
        .fetch_text_rows(
            "finding the migration run",
            "SELECT run_id FROM migration_run WHERE status = 'completed' ORDER BY finished_at DESC",
        )
        .await?;
    rows.into_iter()
        .next()
        .and_then(|r| r[0].clone())
        .ok_or_else(|| {
            CutoverError::NotMigrated {
                url: target.url().to_string(),
            }
            .into()
        })
}

/// The run a stage's rows belong to in the target: the sync's base run when a sync refreshed
/// it, else the stage's own.
pub fn stage_run_id(stage: &Stage) -> Option<String> {
    let marker = stage.dir().join(SYNC_MARKER);
    if let Ok(m) = ykt_stage::read_json::<SyncMarker>(&marker) {
        return Some(m.base_run_id);
    }
    stage
        .manifest::<TransformManifest>(Step::Transform)
        .ok()
        .map(|m| m.run_id)
}

async fn cursors(
    target: &Db,
    stage: &Stage,
    base_run_id: &str,
) -> Result<BTreeMap<String, (String, i64)>, PipelineError> {
    let mut out = BTreeMap::new();
    for r in target
        .fetch_text_rows(
            "reading the sync cursor",
            "SELECT table_name, gxsj, CAST(legacy_key AS TEXT) FROM cutover_sync_cursor",
        )
        .await?
    {
        out.insert(
            r[0].clone().unwrap_or_default(),
            (
                r[1].clone().unwrap_or_default(),
                r[2].as_deref().and_then(|k| k.parse().ok()).unwrap_or(0),
            ),
        );
    }
    // No cursor yet: start where the full load's extract ended, as the target recorded it with
    // the run (the stage may since have been left half-rewritten by a crashed sync).
    if out.len() < SYNCED.len() {
        let recorded = target
            .fetch_text_rows(
                "reading the migration's source",
                &format!(
                    "SELECT source_fingerprint FROM migration_run WHERE run_id = {}",
                    quote_literal(target.engine(), base_run_id)
                ),
            )
            .await?
            .into_iter()
            .next()
            .and_then(|r| r[0].clone())
            .and_then(|f| serde_json::from_str::<ykt_stage::SourceFingerprint>(&f).ok());
        let stamps = match recorded {
            Some(f) => f.max_change_stamp,
            None => {
                let manifest: ExtractManifest =
                    stage
                        .manifest(Step::Extract)
                        .map_err(|e| {
                            input(format!(
                                "{}: the delta sync has no cursor yet and cannot start from this stage ({e}); pass the stage the full migration was loaded from",
                                stage.dir().display()
                            ))
                        })?;
                manifest.source.max_change_stamp
            }
        };
        for t in SYNCED {
            out.entry(t.name().to_owned()).or_insert_with(|| {
                (
                    stamps
                        .get(t.name())
                        .cloned()
                        .unwrap_or_else(|| "1900-01-01 00:00:00".to_owned()),
                    0,
                )
            });
        }
    }
    Ok(out)
}

/// The record of an increment: its row, the legacy keys it changed, the moved cursor. Written in
/// the transaction that writes the rows, so a crash leaves both or neither.
fn bookkeeping(
    engine: Engine,
    increment: i64,
    report: &SyncReport,
    upsert: Option<&ykt_load::UpsertReport>,
    cursor: &BTreeMap<String, (String, i64)>,
    options: &SyncOptions<'_>,
) -> Vec<String> {
    let read: u64 =
        report.new_rows.values().sum::<u64>() + report.reread_rows.values().sum::<u64>();
    // The increment numbers are chosen here, not by the identity column.
    let overriding = if engine == Engine::Postgres {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let mut statements = vec![format!(
        "INSERT INTO cutover_sync_increment (id, at, run_id, rows_read, rows_upserted){overriding} VALUES ({increment}, {}, {}, {read}, {})",
        quote_literal(engine, &options.context.stamp()),
        quote_literal(engine, &report.base_run_id),
        upsert.map_or(0, |u| u.rows_written)
    )];
    for (table, key, county) in upsert.map(|u| u.changes.as_slice()).unwrap_or_default() {
        statements.push(format!(
            "INSERT INTO cutover_sync_change (increment_id, source_table, source_key, county_code) VALUES ({increment}, '{table}', {}, {})",
            quote_literal(engine, key),
            quote_literal(engine, county)
        ));
    }
    statements.push("DELETE FROM cutover_sync_cursor".to_owned());
    for (table, (at, key)) in cursor {
        statements.push(format!(
            "INSERT INTO cutover_sync_cursor (table_name, gxsj, legacy_key, updated_at) VALUES ({}, {}, {key}, {})",
            quote_literal(engine, table),
            quote_literal(engine, at),
            quote_literal(engine, &options.context.stamp())
        ));
    }
    statements
}

/// The keys of the legacy rows stamped since each table's cursor (less the look-back), with
/// the cursor moved past them; counts new and re-read rows into `report`.
async fn changed_rows(
    legacy: &Db,
    cursor: &BTreeMap<String, (String, i64)>,
    options: &SyncOptions<'_>,
    report: &mut SyncReport,
) -> Result<(ChangedKeys, BTreeMap<String, (String, i64)>), PipelineError> {
    let le = legacy.engine();
    let text = |e: &str| cast_text(le, e);
    let mut keys: ChangedKeys = BTreeMap::new();
    let mut new_cursor = cursor.clone();
    for t in SYNCED {
        let (at, key) = cursor.get(t.name()).cloned().unwrap_or_default();
        let lower = stamp(&at)
            .map(|s| {
                (s - chrono::Duration::minutes(options.lookback_minutes))
                    .format(STAMP)
                    .to_string()
            })
            .unwrap_or_else(|| "1900-01-01 00:00:00".to_owned());
        let k = ident(le, t.key_column().name);
        let g = ident(le, "GXSJ");
        let sql = format!(
            "SELECT {}, {} FROM {} WHERE {g} >= {} ORDER BY {g}, {k}",
            text(&k),
            text(&g),
            ident(le, t.name()),
            quote_literal(le, &lower)
        );
        let rows = legacy
            .fetch_text_rows("reading changed legacy rows", &sql)
            .await?;
        let (mut fresh, mut reread) = (0u64, 0u64);
        for r in rows {
            let (Some(row_key), Some(row_at)) = (r[0].clone(), r[1].clone()) else {
                continue;
            };
            let row_at = stamp(&row_at)
                .map(|s| s.format(STAMP).to_string())
                .unwrap_or(row_at);
            let n: i64 = row_key.parse().unwrap_or(0);
            if (row_at.as_str(), n) > (at.as_str(), key) {
                fresh += 1;
            } else {
                reread += 1;
            }
            let entry = new_cursor
                .entry(t.name().to_owned())
                .or_insert((row_at.clone(), n));
            if (row_at.as_str(), n) > (entry.0.as_str(), entry.1) {
                *entry = (row_at.clone(), n);
            }
            keys.entry(t.name()).or_default().insert(row_key);
        }
        report.new_rows.insert(t.name(), fresh);
        report.reread_rows.insert(t.name(), reread);
    }
    Ok((keys, new_cursor))
}

/// One increment: read what changed, refresh the stage, upsert, record, move the cursor. The
/// target's platform migrations are applied first (a target migrated by an older ykt).
pub async fn sync(
    legacy_url: &DbUrl,
    target: &Db,
    stage: &Stage,
    options: &SyncOptions<'_>,
) -> Result<SyncReport, PipelineError> {
    ykt_load::apply_migrations(target).await?;
    let engine = target.engine();
    let base_run_id = base_run(target).await?;
    let cursor = cursors(target, stage, &base_run_id).await?;
    let mut report = SyncReport {
        base_run_id: base_run_id.clone(),
        ..SyncReport::default()
    };
    let legacy = Db::connect(legacy_url).await?;
    let changed = changed_rows(&legacy, &cursor, options, &mut report).await;
    legacy.close().await;
    let (mut keys, new_cursor) = changed?;

    let increment = target
        .fetch_i64(
            "numbering the increment",
            "SELECT COALESCE(MAX(id), 0) + 1 FROM cutover_sync_increment",
        )
        .await?
        .unwrap_or(1);
    report.increment = increment;
    if !keys.is_empty() {
        // ID numbers are judged as of the day the full migration judged them.
        let as_of = stage
            .manifest::<TransformManifest>(Step::Transform)
            .ok()
            .map(|m| m.as_of);
        let source = LegacySource::Database(legacy_url.clone());
        ykt_extract::extract(&source, stage, true, &|_, _| {}).await?;
        fail::fail_point!("sync::extracted", |_| std::process::abort());
        ykt_transform::transform(
            stage,
            &TransformOptions {
                legacy_owns_up_to: (!options.carry_over)
                    .then_some(options.context.policy.legacy_max_fund_year),
                as_of,
                overwrite: true,
            },
            &|_, _| {},
        )?;
        ykt_stage::write_json(
            &stage.dir().join(SYNC_MARKER),
            &SyncMarker {
                base_run_id: base_run_id.clone(),
                increment,
            },
        )?;
        fail::fail_point!("sync::transformed", |_| std::process::abort());
        ykt_load::with_dependent_lines(stage, &mut keys)?;
        // Rows re-read in the look-back window, or hanging on a changed person or batch,
        // count as changed only when a value changed: a sync that changed nothing leaves the
        // target, and the counties' sign-offs, as they were.
        let keys = ykt_load::really_changed(stage, target, &base_run_id, &keys).await?;
        let record = |u: &ykt_load::UpsertReport| {
            bookkeeping(engine, increment, &report, Some(u), &new_cursor, options)
        };
        let upsert = ykt_load::upsert_changed(stage, target, &base_run_id, &keys, &record).await?;
        fail::fail_point!("sync::upserted", |_| std::process::abort());
        report.rows_written = upsert.rows_written;
        for (_, _, county) in &upsert.changes {
            *report.counties.entry(county.clone()).or_default() += 1;
        }
    } else {
        target
            .execute_in_transaction(
                "recording the increment",
                &bookkeeping(engine, increment, &report, None, &new_cursor, options),
            )
            .await?;
    }
    Ok(report)
}
