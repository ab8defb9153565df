//! The keyed row-level diff: the platform rows the stage says legacy should have become,
//! merged on their legacy keys with the rows the target holds, county by county and in key
//! ranges (so memory holds one range, not a province).

use std::collections::BTreeSet;

use serde::Serialize;
use ykt_db::{Db, TextRows, quote_literal};
use ykt_stage::{Stage, TextTableReader};

use crate::ReconcileError;
use crate::watch::{LineCandidates, LineWatch};

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
/// Rows of a key range. Four such sets are held per county (two chunks and their target rows,
/// one of each being read), two counties at a time: at 25 000, once the next range was read
/// while one was compared, the province preset's peak rose from 205–210 MiB to 304 MiB; at
/// 12 500 it is 239–250 MiB, as fast (county preset, 3 alternating pairs).
const CHUNK: usize = 12_500;

use ykt_domain::platform::LIVE_FIELDS;

/// A row's legacy key as a number (rows whose key does not read sort first).
fn row_key(rows: &TextRows, row: usize, key: usize) -> Option<i64> {
    rows.get(row, key).and_then(|k| k.parse().ok())
}

/// The rows' keys and positions in key order (the target returns its rows in any order).
fn by_key(rows: &TextRows, k: usize) -> Vec<(Option<i64>, usize)> {
    let mut keyed: Vec<(Option<i64>, usize)> =
        (0..rows.len()).map(|i| (row_key(rows, i, k), i)).collect();
    if !keyed.is_sorted() {
        keyed.sort();
    }
    keyed
}

/// Compares one chunk of expected rows with the actual rows of the same key range: every
/// missing, unexpected and differing row into `out`, in key order. A merge over both sides
/// sorted by the legacy key, comparing the cells where they lie: no copy of the rows, no
/// allocation but for a difference found. Public for the benchmarks.
pub fn compare(
    (county, table, key): (&str, &'static str, &str),
    columns: &[String],
    expected: &TextRows,
    actual: &TextRows,
    live: bool,
    out: &mut Vec<RowDiff>,
) -> Result<(), ReconcileError> {
    let k = columns.iter().position(|c| c == key).ok_or_else(|| {
        ReconcileError::Target(format!("{table}: the staged rows have no {key} column"))
    })?;
    let (e_keys, a_keys) = (by_key(expected, k), by_key(actual, k));
    let system_of_record = columns.iter().position(|c| c == "system_of_record");
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let diff = |rows: &TextRows,
                row: usize,
                kind,
                field: Option<usize>,
                e: Option<&str>,
                a: Option<&str>| RowDiff {
        county_code: county.to_owned(),
        table,
        kind,
        key: rows.get(row, k).unwrap_or_default().to_owned(),
        field: field.map(|i| columns[i].clone()),
        expected: owned(e),
        actual: owned(a),
    };
    let (mut i, mut j) = (0, 0);
    while i < e_keys.len() || j < a_keys.len() {
        let order = match (e_keys.get(i), a_keys.get(j)) {
            (Some(e), Some(a)) => e.0.cmp(&a.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                out.push(diff(
                    expected,
                    e_keys[i].1,
                    "missing_in_target",
                    None,
                    None,
                    None,
                ));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(diff(
                    actual,
                    a_keys[j].1,
                    "unexpected_in_target",
                    None,
                    None,
                    None,
                ));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (e, a) = (e_keys[i].1, a_keys[j].1);
                // Once live, the fields the platform changes on the lines it owns are its own.
                let platform_owned = live
                    && table == "payment"
                    && system_of_record.is_some_and(|s| {
                        expected.get(e, s) == Some("new") && actual.get(a, s) == Some("new")
                    });
                for (c, name) in columns.iter().enumerate() {
                    if c == k || (platform_owned && LIVE_FIELDS.contains(&name.as_str())) {
                        continue;
                    }
                    let (x, y) = (expected.get(e, c), actual.get(a, c));
                    if x != y {
                        out.push(diff(expected, e, "value_mismatch", Some(c), x, y));
                    }
                }
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}

/// A target read running on a task of its own (so that it goes on while this one compares);
/// cancelled if dropped unread.
struct Fetching(tokio::task::JoinHandle<Result<TextRows, ykt_db::DbError>>);

impl Fetching {
    fn start(target: &Db, sql: String) -> Fetching {
        let target = target.clone();
        Fetching(tokio::spawn(async move {
            target.fetch_text_table("reading target rows", &sql).await
        }))
    }

    async fn rows(mut self) -> Result<TextRows, ReconcileError> {
        match (&mut self.0).await {
            Ok(rows) => Ok(rows?),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ReconcileError::Target(format!("reading target rows: {e}"))),
        }
    }
}

impl Drop for Fetching {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A chunk whose target rows are being read, once they are: the payment lines shown to the
/// watch, then compared with the chunk. The chunk's buffer comes back emptied, for the next.
async fn settle(
    (mut expected, fetching): (TextRows, Fetching),
    chunk_of: (&str, &'static str, &str),
    columns: &[String],
    live: bool,
    watch: &LineWatch,
    out: &mut Vec<RowDiff>,
) -> Result<TextRows, ReconcileError> {
    let actual = fetching.rows().await?;
    if chunk_of.1 == "payment" {
        watch.observe(columns, &actual)?;
    }
    compare(chunk_of, columns, &expected, &actual, live, out)?;
    expected.clear();
    Ok(expected)
}

/// Whether a staged file's key column is in ascending order (read alone, cheaply).
fn keys_sorted(path: &std::path::Path, key: &str) -> Result<bool, ReconcileError> {
    let mut reader = TextTableReader::open_columns(path, Some(&[key]))?;
    let index = reader.column(key)?;
    let mut last: Option<i64> = None;
    while let Some(batch) = reader.next_batch()? {
        for r in 0..batch.num_rows() {
            let k = batch.value(r, index).and_then(|k| k.parse().ok());
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
    // Each table's counties by its index on `county_code`, one step a county (a skip scan):
    // grouped, PostgreSQL read every payment line for them (114 ms of a county preset's
    // reconciliation, before the diff could begin).
    let sql = TABLES
        .iter()
        .map(|(table, _)| {
            format!(
                "SELECT code FROM (WITH RECURSIVE c(code) AS (\
                 SELECT MIN(county_code) FROM {table} UNION ALL \
                 SELECT (SELECT MIN(county_code) FROM {table} WHERE county_code > c.code) \
                 FROM c WHERE c.code IS NOT NULL) SELECT code FROM c) AS {table}_counties \
                 WHERE code IS NOT NULL"
            )
        })
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
/// Every payment line read from the target is shown to a [`LineWatch`] (the audit flags'
/// sieve): with the differences come the lines the payment flags are to judge.
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
) -> Result<(Vec<RowDiff>, LineCandidates), ReconcileError> {
    use futures_util::{StreamExt, TryStreamExt};
    // Each table's select list, asked of the target once (not once a county), while the watch
    // reads what it needs: the first key range waits for both.
    let selects = async {
        let mut selects = Selects::new();
        for (table, _) in TABLES {
            let columns: Vec<String> = platform_columns(table)
                .iter()
                .map(|c| (*c).to_owned())
                .collect();
            let select = target.text_columns(table, &columns).await?;
            selects.insert(table, columns.into_iter().zip(select).collect());
        }
        Ok::<_, ReconcileError>(selects)
    };
    let (watch, selects) = tokio::try_join!(LineWatch::new(target), selects)?;
    let selects = &selects;
    let watching = &watch;
    // Each county's name owned by its future (a borrowed one made the future unfit to run
    // on a task of its own: a closure over any lifetime of the name).
    let per_county: Vec<Vec<RowDiff>> =
        futures_util::stream::iter(counties.iter().cloned())
            .map(|county| async move {
                county_diff(stage, target, selects, &county, live, watching).await
            })
            .buffered(2)
            .try_collect()
            .await?;
    let lines = watch.finish(target).await?;
    Ok((per_county.into_iter().flatten().collect(), lines))
}

/// Per table, each platform column's expression in the diff's select list
/// ([`Db::text_columns`]).
type Selects = std::collections::HashMap<&'static str, std::collections::HashMap<String, String>>;

/// A platform table's columns, as the stage writes them.
fn platform_columns(table: &str) -> &'static [&'static str] {
    match table {
        "allocation" => ykt_domain::platform::columns::ALLOCATION,
        "beneficiary" => ykt_domain::platform::columns::BENEFICIARY,
        "payment_batch" => ykt_domain::platform::columns::PAYMENT_BATCH,
        _ => ykt_domain::platform::columns::PAYMENT,
    }
}

/// The differences of one county, table by table, in key order.
async fn county_diff(
    stage: &Stage,
    target: &Db,
    selects: &Selects,
    county: &str,
    live: bool,
    watch: &LineWatch,
) -> Result<Vec<RowDiff>, ReconcileError> {
    let mut out = Vec::new();
    let c = quote_literal(target.engine(), county);
    for (table, key) in TABLES {
        let path = stage.platform_file(county, table);
        let (columns, mut reader) = if path.exists() {
            let reader = TextTableReader::open(&path)?;
            (reader.columns().to_vec(), Some(reader))
        } else {
            let columns = platform_columns(table);
            (columns.iter().map(|s| (*s).to_owned()).collect(), None)
        };
        let key_index = columns.iter().position(|c| c == key).unwrap_or(0);
        // A column the stage holds that the platform's list does not: cast, like any other.
        let select: Vec<String> = columns
            .iter()
            .map(|c| match selects.get(table).and_then(|s| s.get(c)) {
                Some(expression) => expression.clone(),
                None => ykt_db::cast_text(target.engine(), c),
            })
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
        // source in its own order) is read whole, and the comparison puts it in order.
        let sorted = match &path.exists() {
            true => keys_sorted(&path, key)?,
            false => true,
        };
        let mut lo: Option<i64> = None;
        let mut chunk = TextRows::new(columns.len());
        // A chunk's target rows are asked for as soon as its key range is known, and the
        // chunk before it is compared while the server reads them: one chunk in flight.
        // (Asked one after the other, a county's diff took turns with the server: at the
        // county preset, one county, it ran on about one core.)
        let mut in_flight: Option<(TextRows, Fetching)> = None;
        let mut spare: Option<TextRows> = None;
        let mut done = false;
        while !done {
            let batch = match reader.as_mut() {
                Some(r) => r.next_batch()?,
                None => None,
            };
            match batch {
                Some(batch) => {
                    for r in 0..batch.num_rows() {
                        chunk.push_row((0..batch.width()).map(|c| batch.value(r, c)));
                    }
                }
                None => done = true,
            }
            if (sorted && chunk.len() >= CHUNK) || done {
                let hi = match (done, chunk.len()) {
                    (false, n) if n > 0 => row_key(&chunk, n - 1, key_index),
                    _ => None,
                };
                let fetching = Fetching::start(target, fetch(lo, hi));
                let next = spare.take().unwrap_or_else(|| TextRows::new(columns.len()));
                let ready = std::mem::replace(&mut chunk, next);
                if let Some(previous) = in_flight.replace((ready, fetching)) {
                    let chunk_of = (county, table, key);
                    spare =
                        Some(settle(previous, chunk_of, &columns, live, watch, &mut out).await?);
                }
                lo = hi;
            }
        }
        if let Some(last) = in_flight {
            settle(last, (county, table, key), &columns, live, watch, &mut out).await?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::{RowDiff, TextRows, compare};

    /// Rows as the diff holds them.
    fn table(rows: &[Vec<Option<String>>], width: usize) -> TextRows {
        let mut t = TextRows::new(width);
        for r in rows {
            t.push_row(r.iter().map(|c| c.as_deref()));
        }
        t
    }

    /// One difference as the comparison by maps gives it: key, kind, field, and both values.
    type Found = (
        String,
        &'static str,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    /// The same comparison read another way: both sides into maps by key.
    fn by_maps(
        columns: &[String],
        expected: &[Vec<Option<String>>],
        actual: &[Vec<Option<String>>],
    ) -> Vec<Found> {
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
                (Some(_), None) => {
                    out.push((key.to_string(), "missing_in_target", None, None, None))
                }
                (None, Some(_)) => {
                    out.push((key.to_string(), "unexpected_in_target", None, None, None))
                }
                (Some(x), Some(y)) => {
                    for c in 1..columns.len() {
                        if x[c] != y[c] {
                            out.push((
                                key.to_string(),
                                "value_mismatch",
                                Some(columns[c].clone()),
                                x[c].clone(),
                                y[c].clone(),
                            ));
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
        /// The merge finds exactly the differences a comparison by maps finds, with the same
        /// values, whatever the order the target returns its rows in (and the stage's, for an
        /// export read in its own order).
        #[test]
        fn the_merge_agrees_with_a_comparison_by_maps(mut expected in rows(), mut actual in rows(), seed in 0u64..1000, shuffle_expected: bool) {
            let columns: Vec<String> = ["legacy_mxid", "a", "b", "c"].iter().map(|c| (*c).to_owned()).collect();
            let n = actual.len().max(1);
            actual.rotate_left(seed as usize % n);
            if shuffle_expected {
                let n = expected.len().max(1);
                expected.rotate_left((seed as usize / 7) % n);
            }
            let mut out: Vec<RowDiff> = Vec::new();
            compare(("610802", "payment", "legacy_mxid"), &columns, &table(&expected, 4), &table(&actual, 4), false, &mut out).unwrap();
            let merged: Vec<Found> = out.into_iter().map(|d| (d.key, d.kind, d.field, d.expected, d.actual)).collect();
            prop_assert_eq!(merged, by_maps(&columns, &expected, &actual));
        }
    }
}
