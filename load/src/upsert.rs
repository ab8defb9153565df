//! Row-level upserts for the delta sync: the platform rows of changed legacy keys, taken from a
//! freshly transformed stage and written over what the target holds for those keys, with
//! their rejects and corrections, in one transaction. Re-running it changes nothing more.

use std::collections::{BTreeMap, BTreeSet};

use ykt_db::{Db, Engine, quote_literal};
use ykt_domain::LegacyTable;
use ykt_stage::{Stage, TextTableReader};

use crate::LoadError;

/// Legacy keys that changed, per legacy table name (`T_BTDX`, `T_FFPC`, `T_FFMX`).
pub type ChangedKeys = BTreeMap<&'static str, BTreeSet<String>>;

/// What an upsert wrote, and where (legacy table, key, county).
#[derive(Debug, Clone, Default)]
pub struct UpsertReport {
    pub rows_written: u64,
    pub changes: Vec<(&'static str, String, String)>,
}

fn county_groups(stage: &Stage) -> Result<Vec<String>, LoadError> {
    let dir = stage.platform_dir();
    let mut groups = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| ykt_stage::StageError::Io {
        path: dir.clone(),
        source: e,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && name != "reference" {
            groups.push(name);
        }
    }
    groups.sort();
    Ok(groups)
}

/// A staged file's columns and the rows picked from it.
type Picked = (Vec<String>, Vec<Vec<Option<String>>>);

/// The rows of one staged file that `matches` picks.
fn pick(
    stage: &Stage,
    group: &str,
    file: &str,
    matches: impl Fn(&[String], &[Option<String>]) -> bool,
) -> Result<Picked, LoadError> {
    let path = stage.platform_file(group, file);
    if !path.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut reader = TextTableReader::open(&path)?;
    let columns = reader.columns().to_vec();
    let mut out = Vec::new();
    while let Some(rows) = reader.next_rows()? {
        out.extend(rows.into_iter().filter(|r| matches(&columns, r)));
    }
    Ok((columns, out))
}

fn value<'a>(columns: &[String], row: &'a [Option<String>], name: &str) -> Option<&'a str> {
    columns
        .iter()
        .position(|c| c == name)
        .and_then(|i| row[i].as_deref())
}

fn in_list(engine: Engine, keys: &BTreeSet<String>) -> String {
    keys.iter()
        .map(|k| quote_literal(engine, k))
        .collect::<Vec<_>>()
        .join(", ")
}

fn inserts(
    engine: Engine,
    table: &str,
    columns: &[String],
    rows: &[Vec<Option<String>>],
    run_id: Option<&str>,
) -> Vec<String> {
    let mut cols: Vec<String> = columns
        .iter()
        .map(|c| {
            if c == "before" || c == "after" {
                format!("\"{c}\"")
            } else {
                c.clone()
            }
        })
        .collect();
    if run_id.is_some() {
        cols.insert(0, "run_id".to_owned());
    }
    rows.chunks(200)
        .map(|chunk| {
            let values: Vec<String> = chunk
                .iter()
                .map(|r| {
                    let mut vals: Vec<String> = r
                        .iter()
                        .map(|v| {
                            v.as_deref()
                                .map_or("NULL".to_owned(), |v| quote_literal(engine, v))
                        })
                        .collect();
                    if let Some(run) = run_id {
                        vals.insert(0, quote_literal(engine, run));
                    }
                    format!("({})", vals.join(", "))
                })
                .collect();
            format!(
                "INSERT INTO {table} ({}) VALUES {}",
                cols.join(", "),
                values.join(", ")
            )
        })
        .collect()
}

/// Adds the payment lines that hang on a changed person or batch: when those change (or are
/// now rejected), their lines follow.
pub fn with_dependent_lines(stage: &Stage, keys: &mut ChangedKeys) -> Result<(), LoadError> {
    let people = keys.get("T_BTDX").cloned().unwrap_or_default();
    let batches = keys.get("T_FFPC").cloned().unwrap_or_default();
    if people.is_empty() && batches.is_empty() {
        return Ok(());
    }
    let t = LegacyTable::Payments;
    let idx = |c: &str| t.column_index(c).unwrap_or(0);
    let (mxid, pcid, dxid) = (idx("MXID"), idx("PCID"), idx("DXID"));
    let mut lines = BTreeSet::new();
    TextTableReader::open(&stage.legacy_file(t.name()))?.for_each(|r| {
        let hit = r[pcid].as_ref().is_some_and(|p| batches.contains(p))
            || r[dxid].as_ref().is_some_and(|d| people.contains(d));
        if let (true, Some(k)) = (hit, &r[mxid]) {
            lines.insert(k.clone());
        }
        Ok(())
    })?;
    keys.entry("T_FFMX").or_default().extend(lines);
    Ok(())
}

/// Writes the staged rows of the changed keys over the target's, under `run_id`.
pub async fn upsert_changed(
    stage: &Stage,
    db: &Db,
    run_id: &str,
    keys: &ChangedKeys,
) -> Result<UpsertReport, LoadError> {
    let engine = db.engine();
    let empty = BTreeSet::new();
    let people = keys.get("T_BTDX").unwrap_or(&empty);
    let batches = keys.get("T_FFPC").unwrap_or(&empty);
    let lines = keys.get("T_FFMX").unwrap_or(&empty);
    let mut report = UpsertReport::default();
    let mut deletes = Vec::new();
    let mut writes = Vec::new();
    let r = quote_literal(engine, run_id);
    if !lines.is_empty() {
        deletes.push(format!(
            "DELETE FROM payment WHERE legacy_mxid IN ({})",
            in_list(engine, lines)
        ));
    }
    if !batches.is_empty() {
        deletes.push(format!(
            "DELETE FROM payment_batch WHERE legacy_pcid IN ({})",
            in_list(engine, batches)
        ));
    }
    if !people.is_empty() {
        let list = in_list(engine, people);
        deletes.push(format!(
            "DELETE FROM beneficiary_legacy_map WHERE legacy_dxid IN ({list})"
        ));
        deletes.push(format!(
            "DELETE FROM beneficiary WHERE id IN ({list}) AND NOT EXISTS (SELECT 1 FROM beneficiary_legacy_map m WHERE m.beneficiary_id = beneficiary.id)"
        ));
    }
    for (table, set) in [("T_BTDX", people), ("T_FFPC", batches), ("T_FFMX", lines)] {
        if set.is_empty() {
            continue;
        }
        for book in ["migration_reject", "migration_correction"] {
            deletes.push(format!(
                "DELETE FROM {book} WHERE run_id = {r} AND source_table = '{table}' AND source_key IN ({})",
                in_list(engine, set)
            ));
        }
    }
    for group in county_groups(stage)? {
        // People: the map rows of changed persons, and the persons they point at.
        let (map_cols, maps) = pick(stage, &group, "beneficiary_legacy_map", |c, r| {
            value(c, r, "legacy_dxid").is_some_and(|k| people.contains(k))
        })?;
        let ids: BTreeSet<String> = maps
            .iter()
            .filter_map(|m| value(&map_cols, m, "beneficiary_id").map(str::to_owned))
            .collect();
        let (ben_cols, bens) = pick(stage, &group, "beneficiary", |c, r| {
            value(c, r, "id").is_some_and(|k| ids.contains(k))
        })?;
        if !ids.is_empty() {
            // A survivor is rewritten whole (its map rows too).
            deletes.push(format!(
                "DELETE FROM beneficiary_legacy_map WHERE beneficiary_id IN ({})",
                in_list(engine, &ids)
            ));
            deletes.push(format!(
                "DELETE FROM beneficiary WHERE id IN ({})",
                in_list(engine, &ids)
            ));
        }
        let (all_map_cols, all_maps) = pick(stage, &group, "beneficiary_legacy_map", |c, r| {
            value(c, r, "beneficiary_id").is_some_and(|k| ids.contains(k))
        })?;
        let (pc_cols, pcs) = pick(stage, &group, "payment_batch", |c, r| {
            value(c, r, "legacy_pcid").is_some_and(|k| batches.contains(k))
        })?;
        let (mx_cols, mxs) = pick(stage, &group, "payment", |c, r| {
            value(c, r, "legacy_mxid").is_some_and(|k| lines.contains(k))
        })?;
        let changed = |c: &[String], r: &[Option<String>]| {
            let key = value(c, r, "source_key").unwrap_or("");
            match value(c, r, "source_table") {
                Some("T_BTDX") => people.contains(key),
                Some("T_FFPC") => batches.contains(key),
                Some("T_FFMX") => lines.contains(key),
                _ => false,
            }
        };
        let (rej_cols, rejects) = pick(stage, &group, "reject", changed)?;
        let (cor_cols, corrections) = pick(stage, &group, "correction", changed)?;
        writes.extend(inserts(engine, "beneficiary", &ben_cols, &bens, None));
        writes.extend(inserts(
            engine,
            "beneficiary_legacy_map",
            &all_map_cols,
            &all_maps,
            None,
        ));
        writes.extend(inserts(engine, "payment_batch", &pc_cols, &pcs, None));
        writes.extend(inserts(engine, "payment", &mx_cols, &mxs, None));
        writes.extend(inserts(
            engine,
            "migration_reject",
            &rej_cols,
            &rejects,
            Some(run_id),
        ));
        writes.extend(inserts(
            engine,
            "migration_correction",
            &cor_cols,
            &corrections,
            Some(run_id),
        ));
        report.rows_written += (bens.len()
            + all_maps.len()
            + pcs.len()
            + mxs.len()
            + rejects.len()
            + corrections.len()) as u64;
        for m in &maps {
            if let Some(k) = value(&map_cols, m, "legacy_dxid") {
                report.changes.push(("T_BTDX", k.to_owned(), group.clone()));
            }
        }
        for p in &pcs {
            if let Some(k) = value(&pc_cols, p, "legacy_pcid") {
                report.changes.push(("T_FFPC", k.to_owned(), group.clone()));
            }
        }
        for p in &mxs {
            if let Some(k) = value(&mx_cols, p, "legacy_mxid") {
                report.changes.push(("T_FFMX", k.to_owned(), group.clone()));
            }
        }
        for x in &rejects {
            let table = match value(&rej_cols, x, "source_table") {
                Some("T_BTDX") => "T_BTDX",
                Some("T_FFPC") => "T_FFPC",
                _ => "T_FFMX",
            };
            report.changes.push((
                table,
                value(&rej_cols, x, "source_key").unwrap_or("").to_owned(),
                group.clone(),
            ));
        }
    }
    let mut statements = Vec::new();
    if engine == Engine::Postgres {
        statements.push("SET CONSTRAINTS ALL DEFERRED".to_owned());
    }
    statements.extend(deletes);
    statements.extend(writes);
    db.execute_in_transaction("writing the sync increment", &statements)
        .await?;
    report.changes.sort();
    report.changes.dedup();
    Ok(report)
}
