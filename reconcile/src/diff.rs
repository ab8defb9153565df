//! The keyed row-level diff: the platform rows the stage says legacy should have become,
//! merged on their legacy keys with the rows the target holds, county by county and in key
//! ranges (so memory holds one range, not a province).

use std::collections::BTreeSet;

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

/// A row's legacy key as a number (rows whose key does not read sort first).
fn row_key(row: &[Option<String>], key: usize) -> Option<i64> {
    row.get(key)
        .and_then(|k| k.as_deref())
        .and_then(|k| k.parse().ok())
}

/// The rows in key order, as references (the target returns its rows in any order).
fn by_key(rows: &[Vec<Option<String>>], k: usize) -> Vec<&Vec<Option<String>>> {
    let mut refs: Vec<&Vec<Option<String>>> = rows.iter().collect();
    if !refs.is_sorted_by_key(|r| row_key(r, k)) {
        refs.sort_by_key(|r| row_key(r, k));
    }
    refs
}

/// Compares one chunk of expected rows with the actual rows of the same key range: every
/// missing, unexpected and differing row into `out`, in key order. A merge over both sides
/// sorted by the legacy key: no copy of the rows, no allocation but for a difference found.
/// Public for the benchmarks.
pub fn compare(
    (county, table, key): (&str, &'static str, &str),
    columns: &[String],
    expected: &[Vec<Option<String>>],
    actual: &[Vec<Option<String>>],
    live: bool,
    out: &mut Vec<RowDiff>,
) -> Result<(), ReconcileError> {
    let k = columns.iter().position(|c| c == key).ok_or_else(|| {
        ReconcileError::Target(format!("{table}: the staged rows have no {key} column"))
    })?;
    let (expected, actual) = (by_key(expected, k), by_key(actual, k));
    let system_of_record = columns.iter().position(|c| c == "system_of_record");
    let diff = |row: &[Option<String>],
                kind,
                field: Option<usize>,
                e: &Option<String>,
                a: &Option<String>| RowDiff {
        county_code: county.to_owned(),
        table,
        kind,
        key: row[k].clone().unwrap_or_default(),
        field: field.map(|i| columns[i].clone()),
        expected: e.clone(),
        actual: a.clone(),
    };
    let (mut i, mut j) = (0, 0);
    while i < expected.len() || j < actual.len() {
        let order = match (expected.get(i), actual.get(j)) {
            (Some(e), Some(a)) => row_key(e, k).cmp(&row_key(a, k)),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                out.push(diff(expected[i], "missing_in_target", None, &None, &None));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(diff(actual[j], "unexpected_in_target", None, &None, &None));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (e, a) = (expected[i], actual[j]);
                // Once live, the fields the platform changes on the lines it owns are its own.
                let platform_owned = live
                    && table == "payment"
                    && system_of_record.is_some_and(|s| {
                        e[s].as_deref() == Some("new") && a[s].as_deref() == Some("new")
                    });
                for (c, name) in columns.iter().enumerate() {
                    if c == k || (platform_owned && LIVE_FIELDS.contains(&name.as_str())) {
                        continue;
                    }
                    if e[c] != a[c] {
                        out.push(diff(e, "value_mismatch", Some(c), &e[c], &a[c]));
                    }
                }
                i += 1;
                j += 1;
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
            let k = row_key(&r, index);
            if k.is_none() || (last.is_some() && k <= last) {
                return Ok(false);
            }
            last = k;
        }
    }
    Ok(true)
}

/// The counties with rows to compare: those the stage holds platform rows for, and those the
/// target holds rows of (a county with neither has nothing to diff). Known without the
/// control totals, so the diff can run beside them.
pub async fn diff_counties(stage: &Stage, target: &Db) -> Result<BTreeSet<String>, ReconcileError> {
    let mut counties: BTreeSet<String> = stage.platform_groups()?.into_iter().collect();
    let sql = TABLES
        .iter()
        .map(|(table, _)| format!("SELECT county_code FROM {table} GROUP BY county_code"))
        .collect::<Vec<_>>()
        .join(" UNION ");
    for row in target
        .fetch_text_rows("listing the target's counties", &sql)
        .await?
    {
        counties.extend(row.into_iter().flatten());
    }
    Ok(counties)
}

/// Diffs every county of the stage against the target. `live`: the new platform is live
/// (dual-run or later), so the fields it changes itself on the lines it owns are its own.
///
/// Two counties at a time, their differences in county order: while one waits for the
/// target's rows, the other reads and compares its own. One at a time, the diff ran on about
/// one core; at the province preset it was the last of the reconciliation's three paths by
/// 39 s, alone.
pub async fn row_diff(
    stage: &Stage,
    target: &Db,
    counties: &BTreeSet<String>,
    live: bool,
) -> Result<Vec<RowDiff>, ReconcileError> {
    use futures_util::{StreamExt, TryStreamExt};
    let per_county: Vec<Vec<RowDiff>> = futures_util::stream::iter(counties)
        .map(|county| county_diff(stage, target, county, live))
        .buffered(2)
        .try_collect()
        .await?;
    Ok(per_county.into_iter().flatten().collect())
}

/// The differences of one county, table by table, in key order.
async fn county_diff(
    stage: &Stage,
    target: &Db,
    county: &str,
    live: bool,
) -> Result<Vec<RowDiff>, ReconcileError> {
    let mut out = Vec::new();
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
                whole.sort_by_key(|r| row_key(r, key_index));
                chunk = std::mem::take(&mut whole);
            }
            if (sorted && chunk.len() >= CHUNK) || done {
                let hi = if done {
                    None
                } else {
                    chunk.last().and_then(|r| row_key(r, key_index))
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::{RowDiff, compare};

    /// The same comparison read another way: both sides into maps by key.
    fn by_maps(
        columns: &[String],
        expected: &[Vec<Option<String>>],
        actual: &[Vec<Option<String>>],
    ) -> Vec<(String, &'static str, Option<String>)> {
        let map = |rows: &[Vec<Option<String>>]| -> BTreeMap<i64, Vec<Option<String>>> {
            rows.iter()
                .map(|r| (r[0].as_deref().unwrap().parse().unwrap(), r.clone()))
                .collect()
        };
        let (e, a) = (map(expected), map(actual));
        let mut out = Vec::new();
        for key in e
            .keys()
            .chain(a.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            match (e.get(key), a.get(key)) {
                (Some(_), None) => out.push((key.to_string(), "missing_in_target", None)),
                (None, Some(_)) => out.push((key.to_string(), "unexpected_in_target", None)),
                (Some(x), Some(y)) => {
                    for c in 1..columns.len() {
                        if x[c] != y[c] {
                            out.push((key.to_string(), "value_mismatch", Some(columns[c].clone())));
                        }
                    }
                }
                (None, None) => {}
            }
        }
        out
    }

    fn rows() -> impl Strategy<Value = Vec<Vec<Option<String>>>> {
        prop::collection::btree_map(
            0i64..60,
            prop::collection::vec(prop::option::of("[ab]{0,2}"), 3),
            0..30,
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|(k, mut v)| {
                    v.insert(0, Some(k.to_string()));
                    v
                })
                .collect()
        })
    }

    proptest! {
        /// The merge finds exactly the differences a comparison by maps finds, whatever the
        /// order the target returns its rows in.
        #[test]
        fn the_merge_agrees_with_a_comparison_by_maps(expected in rows(), mut actual in rows(), seed in 0u64..1000) {
            let columns: Vec<String> = ["legacy_mxid", "a", "b", "c"].iter().map(|c| (*c).to_owned()).collect();
            let n = actual.len().max(1);
            actual.rotate_left(seed as usize % n);
            let mut out: Vec<RowDiff> = Vec::new();
            compare(("610802", "payment", "legacy_mxid"), &columns, &expected, &actual, false, &mut out).unwrap();
            let merged: Vec<(String, &'static str, Option<String>)> = out.into_iter().map(|d| (d.key, d.kind, d.field)).collect();
            prop_assert_eq!(merged, by_maps(&columns, &expected, &actual));
        }
    }
}
