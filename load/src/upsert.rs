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

/// Staged payment lines that the platform owns on both sides keep the target's values of the
/// fields the platform changes itself: a sync never undoes a payment the platform made.
async fn keep_platform_fields(
    db: &Db,
    columns: &[String],
    mut rows: Vec<Vec<Option<String>>>,
) -> Result<Vec<Vec<Option<String>>>, LoadError> {
    let (live, owner) = live_positions();
    let key_at = columns.iter().position(|c| c == "legacy_mxid");
    let Some(key_at) = key_at else {
        return Ok(rows);
    };
    let owned: BTreeSet<String> = rows
        .iter()
        .filter(|r| r[owner].as_deref() == Some("new"))
        .filter_map(|r| r[key_at].clone())
        .collect();
    if owned.is_empty() {
        return Ok(rows);
    }
    let engine = db.engine();
    let fields: Vec<String> = LIVE_FIELDS
        .iter()
        .map(|f| ykt_db::cast_text(engine, f))
        .collect();
    let mut current: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    let list: Vec<String> = owned.into_iter().collect();
    for chunk in list.chunks(500) {
        let set: BTreeSet<String> = chunk.iter().cloned().collect();
        let sql = format!(
            "SELECT {}, {} FROM payment WHERE system_of_record = 'new' AND legacy_mxid IN ({})",
            ykt_db::cast_text(engine, "legacy_mxid"),
            fields.join(", "),
            in_list(engine, &set)
        );
        for mut r in db
            .fetch_text_rows("reading the platform's own fields", &sql)
            .await?
        {
            let key = r.remove(0).unwrap_or_default();
            current.insert(key, r);
        }
    }
    for row in &mut rows {
        if row[owner].as_deref() != Some("new") {
            continue;
        }
        if let Some(values) = row[key_at].as_ref().and_then(|k| current.get(k)) {
            for (i, v) in live.iter().zip(values) {
                row[*i] = v.clone();
            }
        }
    }
    Ok(rows)
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

use ykt_domain::platform::LIVE_FIELDS;

/// Positions of [`LIVE_FIELDS`] and of `system_of_record` in a payment row.
fn live_positions() -> (Vec<usize>, usize) {
    use ykt_domain::platform::columns::PAYMENT;
    let at = |name: &str| PAYMENT.iter().position(|c| *c == name).unwrap_or(0);
    (
        LIVE_FIELDS.iter().map(|f| at(f)).collect(),
        at("system_of_record"),
    )
}

/// One row as text, for comparing a staged row with the target's. A payment line the new
/// platform owns is compared without the fields the platform changes itself.
fn fingerprint(tag: &str, row: &[Option<String>]) -> String {
    let (live, owner) = live_positions();
    let platform_owned =
        tag == "payment" && row.get(owner).is_some_and(|o| o.as_deref() == Some("new"));
    let mut out = String::from(tag);
    for (i, v) in row.iter().enumerate() {
        if platform_owned && live.contains(&i) {
            out.push('\u{1f}');
            continue;
        }
        out.push('\u{1f}');
        match v {
            Some(v) => out.push_str(v),
            None => out.push('\u{0}'),
        }
    }
    out
}

/// Everything a legacy key became: (legacy table, key) → its rows' fingerprints, sorted.
type Becoming = BTreeMap<(&'static str, String), Vec<String>>;

fn add(into: &mut Becoming, table: &'static str, key: &str, print: String) {
    into.entry((table, key.to_owned())).or_default().push(print);
}

/// What the stage says the candidate keys became.
fn staged_becoming(stage: &Stage, keys: &ChangedKeys) -> Result<Becoming, LoadError> {
    let empty = BTreeSet::new();
    let people = keys.get("T_BTDX").unwrap_or(&empty);
    let batches = keys.get("T_FFPC").unwrap_or(&empty);
    let lines = keys.get("T_FFMX").unwrap_or(&empty);
    let mut out = Becoming::new();
    for group in county_groups(stage)? {
        let (cols, rows) = pick(stage, &group, "payment", |c, r| {
            value(c, r, "legacy_mxid").is_some_and(|k| lines.contains(k))
        })?;
        for r in &rows {
            add(
                &mut out,
                "T_FFMX",
                value(&cols, r, "legacy_mxid").unwrap_or(""),
                fingerprint("payment", r),
            );
        }
        let (cols, rows) = pick(stage, &group, "payment_batch", |c, r| {
            value(c, r, "legacy_pcid").is_some_and(|k| batches.contains(k))
        })?;
        for r in &rows {
            add(
                &mut out,
                "T_FFPC",
                value(&cols, r, "legacy_pcid").unwrap_or(""),
                fingerprint("payment_batch", r),
            );
        }
        let (map_cols, maps) = pick(stage, &group, "beneficiary_legacy_map", |c, r| {
            value(c, r, "legacy_dxid").is_some_and(|k| people.contains(k))
        })?;
        let survivor_of: BTreeMap<String, String> = maps
            .iter()
            .map(|m| {
                (
                    value(&map_cols, m, "beneficiary_id")
                        .unwrap_or("")
                        .to_owned(),
                    value(&map_cols, m, "legacy_dxid").unwrap_or("").to_owned(),
                )
            })
            .collect();
        for m in &maps {
            add(
                &mut out,
                "T_BTDX",
                value(&map_cols, m, "legacy_dxid").unwrap_or(""),
                fingerprint("map", m),
            );
        }
        // The person each changed DXID maps to, under every DXID that maps to it.
        let (ben_cols, bens) = pick(stage, &group, "beneficiary", |c, r| {
            value(c, r, "id").is_some_and(|k| survivor_of.contains_key(k))
        })?;
        for b in &bens {
            let id = value(&ben_cols, b, "id").unwrap_or("");
            for m in maps
                .iter()
                .filter(|m| value(&map_cols, m, "beneficiary_id") == Some(id))
            {
                add(
                    &mut out,
                    "T_BTDX",
                    value(&map_cols, m, "legacy_dxid").unwrap_or(""),
                    fingerprint("beneficiary", b),
                );
            }
        }
        for book in ["reject", "correction"] {
            let (cols, rows) = pick(stage, &group, book, |c, r| {
                let key = value(c, r, "source_key").unwrap_or("");
                match value(c, r, "source_table") {
                    Some("T_BTDX") => people.contains(key),
                    Some("T_FFPC") => batches.contains(key),
                    Some("T_FFMX") => lines.contains(key),
                    _ => false,
                }
            })?;
            for r in &rows {
                let table = match value(&cols, r, "source_table") {
                    Some("T_BTDX") => "T_BTDX",
                    Some("T_FFPC") => "T_FFPC",
                    _ => "T_FFMX",
                };
                add(
                    &mut out,
                    table,
                    value(&cols, r, "source_key").unwrap_or(""),
                    fingerprint(book, r),
                );
            }
        }
    }
    Ok(out)
}

/// What the target holds for the candidate keys, in the same form.
async fn target_becoming(db: &Db, run_id: &str, keys: &ChangedKeys) -> Result<Becoming, LoadError> {
    let engine = db.engine();
    let cast = |cols: &[&str], prefix: &str| -> String {
        cols.iter()
            .map(|c| {
                let c = if *c == "before" || *c == "after" {
                    format!("\"{c}\"")
                } else {
                    (*c).to_owned()
                };
                ykt_db::cast_text(engine, &format!("{prefix}{c}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let r = quote_literal(engine, run_id);
    let mut out = Becoming::new();
    use ykt_domain::platform::columns as pc;
    for (table, set) in keys {
        let table: &'static str = match *table {
            "T_BTDX" => "T_BTDX",
            "T_FFPC" => "T_FFPC",
            _ => "T_FFMX",
        };
        let list: Vec<&String> = set.iter().collect();
        for chunk in list.chunks(500) {
            let chunk: BTreeSet<String> = chunk.iter().map(|k| (*k).clone()).collect();
            let ins = in_list(engine, &chunk);
            let mut queries: Vec<(&str, usize, String)> = Vec::new();
            match table {
                "T_FFMX" => queries.push((
                    "payment",
                    15,
                    format!(
                        "SELECT {} FROM payment WHERE legacy_mxid IN ({ins})",
                        cast(pc::PAYMENT, "")
                    ),
                )),
                "T_FFPC" => queries.push((
                    "payment_batch",
                    14,
                    format!(
                        "SELECT {} FROM payment_batch WHERE legacy_pcid IN ({ins})",
                        cast(pc::PAYMENT_BATCH, "")
                    ),
                )),
                _ => {
                    queries.push((
                        "map",
                        0,
                        format!(
                            "SELECT {} FROM beneficiary_legacy_map WHERE legacy_dxid IN ({ins})",
                            cast(pc::BENEFICIARY_LEGACY_MAP, "")
                        ),
                    ));
                    queries.push(("beneficiary", usize::MAX, format!(
                        "SELECT {}, {} FROM beneficiary_legacy_map m JOIN beneficiary b ON b.id = m.beneficiary_id WHERE m.legacy_dxid IN ({ins})",
                        cast(pc::BENEFICIARY, "b."),
                        ykt_db::cast_text(engine, "m.legacy_dxid")
                    )));
                }
            }
            queries.push(("reject", 1, format!("SELECT {} FROM migration_reject WHERE run_id = {r} AND source_table = '{table}' AND source_key IN ({ins})", cast(pc::REJECT, ""))));
            queries.push(("correction", 1, format!("SELECT {} FROM migration_correction WHERE run_id = {r} AND source_table = '{table}' AND source_key IN ({ins})", cast(pc::CORRECTION, ""))));
            for (tag, key_at, sql) in queries {
                for mut row in db
                    .fetch_text_rows("comparing the increment with the target", &sql)
                    .await?
                {
                    // `usize::MAX`: the key is the extra last column.
                    let key = if key_at == usize::MAX {
                        row.pop().flatten().unwrap_or_default()
                    } else {
                        row[key_at].clone().unwrap_or_default()
                    };
                    add(&mut out, table, &key, fingerprint(tag, &row));
                }
            }
        }
    }
    Ok(out)
}

/// The candidate keys whose rows differ between the stage and the target: a key re-read in
/// the look-back window, or one that merely hangs on a changed person or batch, counts as
/// changed only when a value changed.
pub async fn really_changed(
    stage: &Stage,
    db: &Db,
    run_id: &str,
    keys: &ChangedKeys,
) -> Result<ChangedKeys, LoadError> {
    let mut staged = staged_becoming(stage, keys)?;
    let mut target = target_becoming(db, run_id, keys).await?;
    for v in staged.values_mut().chain(target.values_mut()) {
        v.sort();
    }
    let mut changed = ChangedKeys::new();
    for (table, set) in keys {
        for key in set {
            let k = (*table, key.clone());
            if staged.get(&k) != target.get(&k) {
                changed.entry(*table).or_default().insert(key.clone());
            }
        }
    }
    Ok(changed)
}

/// Writes the staged rows of the changed keys over the target's, under `run_id`.
/// `record` adds the caller's own statements (the sync's increment, cursor and change list) to
/// the same transaction: the rows and the record of them commit together or not at all.
pub async fn upsert_changed(
    stage: &Stage,
    db: &Db,
    run_id: &str,
    keys: &ChangedKeys,
    record: &(dyn Fn(&UpsertReport) -> Vec<String> + Sync),
) -> Result<UpsertReport, LoadError> {
    let engine = db.engine();
    let empty = BTreeSet::new();
    let people = keys.get("T_BTDX").unwrap_or(&empty);
    let batches = keys.get("T_FFPC").unwrap_or(&empty);
    let lines = keys.get("T_FFMX").unwrap_or(&empty);
    let mut report = UpsertReport::default();
    let mut deletes = key_deletes(engine, run_id, (people, batches, lines));
    let mut writes = Vec::new();
    for group in county_groups(stage)? {
        let statements = (&mut deletes, &mut writes);
        group_upsert(
            stage,
            db,
            (&group, run_id),
            (people, batches, lines),
            statements,
            &mut report,
        )
        .await?;
    }
    let mut statements = Vec::new();
    if engine == Engine::Postgres {
        statements.push("SET CONSTRAINTS ALL DEFERRED".to_owned());
    }
    statements.extend(deletes);
    statements.extend(writes);
    report.changes.sort();
    report.changes.dedup();
    statements.extend(record(&report));
    db.execute_in_transaction("writing the sync increment", &statements)
        .await?;
    Ok(report)
}

/// Deletes the target's rows of the changed keys, and the run's rejects and corrections of
/// them.
fn key_deletes(
    engine: Engine,
    run_id: &str,
    (people, batches, lines): (&BTreeSet<String>, &BTreeSet<String>, &BTreeSet<String>),
) -> Vec<String> {
    let mut deletes = Vec::new();
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
    deletes
}

/// The statements that write one county group's staged rows of the changed keys (and delete
/// the survivors they rewrite), with what they change.
async fn group_upsert(
    stage: &Stage,
    db: &Db,
    (group, run_id): (&String, &str),
    (people, batches, lines): (&BTreeSet<String>, &BTreeSet<String>, &BTreeSet<String>),
    (deletes, writes): (&mut Vec<String>, &mut Vec<String>),
    report: &mut UpsertReport,
) -> Result<(), LoadError> {
    let engine = db.engine();
    // People: the map rows of changed persons, and the persons they point at.
    let (map_cols, maps) = pick(stage, group, "beneficiary_legacy_map", |c, r| {
        value(c, r, "legacy_dxid").is_some_and(|k| people.contains(k))
    })?;
    let ids: BTreeSet<String> = maps
        .iter()
        .filter_map(|m| value(&map_cols, m, "beneficiary_id").map(str::to_owned))
        .collect();
    let (ben_cols, bens) = pick(stage, group, "beneficiary", |c, r| {
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
    let (all_map_cols, all_maps) = pick(stage, group, "beneficiary_legacy_map", |c, r| {
        value(c, r, "beneficiary_id").is_some_and(|k| ids.contains(k))
    })?;
    let (pc_cols, pcs) = pick(stage, group, "payment_batch", |c, r| {
        value(c, r, "legacy_pcid").is_some_and(|k| batches.contains(k))
    })?;
    let (mx_cols, mxs) = pick(stage, group, "payment", |c, r| {
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
    let (rej_cols, rejects) = pick(stage, group, "reject", changed)?;
    let (cor_cols, corrections) = pick(stage, group, "correction", changed)?;
    writes.extend(inserts(engine, "beneficiary", &ben_cols, &bens, None));
    writes.extend(inserts(
        engine,
        "beneficiary_legacy_map",
        &all_map_cols,
        &all_maps,
        None,
    ));
    writes.extend(inserts(engine, "payment_batch", &pc_cols, &pcs, None));
    let mxs = keep_platform_fields(db, &mx_cols, mxs).await?;
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
    report.rows_written +=
        (bens.len() + all_maps.len() + pcs.len() + mxs.len() + rejects.len() + corrections.len())
            as u64;
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
    Ok(())
}
