//! The keyed row-level diff: the platform rows the stage says legacy should have become,
//! joined with polars on their legacy keys to the rows the target holds, county by county and
//! in key ranges (so memory holds one range, not a province).

use std::collections::BTreeSet;

use polars::prelude::*;
use serde::Serialize;
use ykt_db::{Db, quote_literal};
use ykt_stage::{Stage, TextTableReader};

use crate::ReconcileError;

/// One difference between what legacy should have become and what the target holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowDiff {
    pub county_code: String,
    pub table: &'static str,
    /// `missing_in_target`, `unexpected_in_target` or `value_mismatch`.
    pub kind: &'static str,
    /// The legacy key of the row.
    pub key: String,
    pub field: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// (platform table, its legacy-key column)
const TABLES: [(&str, &str); 4] = [
    ("allocation", "legacy_zbid"),
    ("beneficiary", "id"),
    ("payment_batch", "legacy_pcid"),
    ("payment", "legacy_mxid"),
];
const CHUNK: usize = 25_000;

use ykt_domain::platform::LIVE_FIELDS;

fn frame(
    columns: &[String],
    rows: &[Vec<Option<String>>],
    marker: &str,
) -> Result<DataFrame, ReconcileError> {
    let mut cols: Vec<Column> = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values: Vec<Option<&str>> = rows.iter().map(|r| r[i].as_deref()).collect();
            Column::new(name.as_str().into(), values)
        })
        .collect();
    cols.push(Column::new(marker.into(), vec![true; rows.len()]));
    DataFrame::new(rows.len(), cols).map_err(polars_err)
}

fn polars_err(e: PolarsError) -> ReconcileError {
    ReconcileError::Polars(e.to_string())
}

fn text_at(df: &DataFrame, column: &str, i: usize) -> Result<Option<String>, ReconcileError> {
    let c = df.column(column).map_err(polars_err)?;
    Ok(c.str().map_err(polars_err)?.get(i).map(str::to_owned))
}

/// Compares one chunk of expected rows with the actual rows of the same key range.
fn compare(
    (county, table, key): (&str, &'static str, &str),
    columns: &[String],
    expected: &[Vec<Option<String>>],
    actual: &[Vec<Option<String>>],
    live: bool,
    out: &mut Vec<RowDiff>,
) -> Result<(), ReconcileError> {
    let left = frame(columns, expected, "_in_stage")?;
    let mut right = frame(columns, actual, "_in_target")?;
    for c in columns.iter().filter(|c| c.as_str() != key) {
        right
            .rename(c, format!("{c}_actual").into())
            .map_err(polars_err)?;
    }
    let joined = left
        .join(
            &right,
            [key],
            [key],
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            None,
        )
        .map_err(polars_err)?;
    let in_stage = joined
        .column("_in_stage")
        .map_err(polars_err)?
        .bool()
        .map_err(polars_err)?
        .clone();
    let in_target = joined
        .column("_in_target")
        .map_err(polars_err)?
        .bool()
        .map_err(polars_err)?
        .clone();
    for i in 0..joined.height() {
        let k = text_at(&joined, key, i)?.unwrap_or_default();
        let diff = |kind, field: Option<&str>, expected, actual| RowDiff {
            county_code: county.to_owned(),
            table,
            kind,
            key: k.clone(),
            field: field.map(str::to_owned),
            expected,
            actual,
        };
        match (
            in_stage.get(i).unwrap_or(false),
            in_target.get(i).unwrap_or(false),
        ) {
            (true, false) => out.push(diff("missing_in_target", None, None, None)),
            (false, true) => out.push(diff("unexpected_in_target", None, None, None)),
            _ => {
                let platform_owned = live
                    && table == "payment"
                    && text_at(&joined, "system_of_record", i)?.as_deref() == Some("new")
                    && text_at(&joined, "system_of_record_actual", i)?.as_deref() == Some("new");
                for c in columns.iter().filter(|c| c.as_str() != key) {
                    if platform_owned && LIVE_FIELDS.contains(&c.as_str()) {
                        continue;
                    }
                    let (e, a) = (
                        text_at(&joined, c, i)?,
                        text_at(&joined, &format!("{c}_actual"), i)?,
                    );
                    if e != a {
                        out.push(diff("value_mismatch", Some(c), e, a));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether a staged file's key column is in ascending order (read alone, cheaply).
fn keys_sorted(path: &std::path::Path, key: &str) -> Result<bool, ReconcileError> {
    let mut reader = TextTableReader::open_columns(path, Some(&[key]))?;
    let index = reader.column(key)?;
    let mut last: Option<i64> = None;
    while let Some(rows) = reader.next_rows()? {
        for r in rows {
            let k = key_of(&r, index);
            if k.is_none() || (last.is_some() && k <= last) {
                return Ok(false);
            }
            last = k;
        }
    }
    Ok(true)
}

fn key_of(row: &[Option<String>], i: usize) -> Option<i64> {
    row[i].as_deref().and_then(|k| k.parse().ok())
}

/// Diffs every county of the stage against the target. `live`: the new platform is live
/// (dual-run or later), so the fields it changes itself on the lines it owns are its own.
pub async fn row_diff(
    stage: &Stage,
    target: &Db,
    counties: &BTreeSet<String>,
    live: bool,
) -> Result<Vec<RowDiff>, ReconcileError> {
    let mut out = Vec::new();
    for county in counties {
        let c = quote_literal(target.engine(), county);
        for (table, key) in TABLES {
            let path = stage.platform_file(county, table);
            let (columns, mut reader) = if path.exists() {
                let reader = TextTableReader::open(&path)?;
                (reader.columns().to_vec(), Some(reader))
            } else {
                let columns = match table {
                    "allocation" => ykt_domain::platform::columns::ALLOCATION,
                    "beneficiary" => ykt_domain::platform::columns::BENEFICIARY,
                    "payment_batch" => ykt_domain::platform::columns::PAYMENT_BATCH,
                    _ => ykt_domain::platform::columns::PAYMENT,
                };
                (columns.iter().map(|s| (*s).to_owned()).collect(), None)
            };
            let key_index = columns.iter().position(|c| c == key).unwrap_or(0);
            let select: Vec<String> = columns
                .iter()
                .map(|c| format!("CAST({c} AS TEXT)"))
                .collect();
            let fetch = |lo: Option<i64>, hi: Option<i64>| {
                // SQLite would pick the county index and scan the whole county for every key
                // range; `+` keeps it on the legacy key's index.
                let county_column = match target.engine() {
                    ykt_db::Engine::Sqlite => "+county_code",
                    _ => "county_code",
                };
                let mut filter = format!("{county_column} = {c} AND {key} IS NOT NULL");
                if let Some(lo) = lo {
                    filter.push_str(&format!(" AND {key} > {lo}"));
                }
                if let Some(hi) = hi {
                    filter.push_str(&format!(" AND {key} <= {hi}"));
                }
                format!("SELECT {} FROM {table} WHERE {filter}", select.join(", "))
            };
            // Expected rows in key order, a chunk at a time; each chunk with the actual rows of
            // its key range, the last range open-ended. A stage file out of key order (an export
            // source in its own order) is read whole and sorted instead.
            let sorted = match &path.exists() {
                true => keys_sorted(&path, key)?,
                false => true,
            };
            let mut lo: Option<i64> = None;
            let mut chunk: Vec<Vec<Option<String>>> = Vec::new();
            let mut whole: Vec<Vec<Option<String>>> = Vec::new();
            let mut done = false;
            while !done {
                let batch = match reader.as_mut() {
                    Some(r) => r.next_rows()?,
                    None => None,
                };
                match batch {
                    Some(rows) if sorted => chunk.extend(rows),
                    Some(rows) => whole.extend(rows),
                    None => done = true,
                }
                if !sorted && done {
                    whole.sort_by_key(|r| key_of(r, key_index));
                    chunk = std::mem::take(&mut whole);
                }
                if (sorted && chunk.len() >= CHUNK) || done {
                    let hi = if done {
                        None
                    } else {
                        chunk.last().and_then(|r| key_of(r, key_index))
                    };
                    let actual = target
                        .fetch_text_rows("reading target rows", &fetch(lo, hi))
                        .await?;
                    compare(
                        (county, table, key),
                        &columns,
                        &chunk,
                        &actual,
                        live,
                        &mut out,
                    )?;
                    chunk.clear();
                    lo = hi;
                }
            }
        }
    }
    Ok(out)
}
