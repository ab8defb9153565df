//! The legacy side: every migrated legacy row with its key, county and amount text.

use rust_decimal::Decimal;
use std::collections::HashMap;
use ykt_db::{Db, ident};
use ykt_domain::{CountyResolution, LegacyTable, Regions, UNATTRIBUTED_COUNTY};
use ykt_stage::{Stage, TextTableReader};

use crate::ReconcileError;
use crate::late_writes::stamp_after;

/// Where the legacy figures come from.
pub enum LegacySide<'a> {
    /// The legacy database, by SQL.
    Database(&'a Db),
    /// The raw extracted snapshot in a stage folder (for export sources).
    Snapshot(&'a Stage),
}

/// An amount's value when its text reads as money: `-?digits(.digits)?` after trimming,
/// full-width to ASCII and dropping commas, with no non-zero digit after the second decimal
/// and at most 12 integer digits (`NUMERIC(14,2)`).
///
/// Read here digit by digit on purpose, independently of the transform's rule: the balance
/// checks the transform with a second reading (a differential test keeps the two equal).
///
/// One pass over the characters, with nothing allocated: it runs once for every legacy row
/// (three strings a row before: 14 % of the legacy pass's CPU at the county preset).
pub(crate) fn money(raw: Option<&str>) -> Option<Decimal> {
    let mut chars = raw?
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '，')
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' => '.',
            '－' => '-',
            _ => c,
        });
    let digit = |c: char| c.to_digit(10).map(i64::from); // ASCII digits only
    let mut next = chars.next();
    let sign = if next == Some('-') {
        next = chars.next();
        -1
    } else {
        1
    };
    // The whole part: at least one digit, at most 12 after its leading zeros.
    let (mut whole, mut read, mut significant) = (0i64, false, 0);
    while let Some(c) = next.filter(|c| *c != '.') {
        let d = digit(c)?;
        read = true;
        if whole != 0 || d != 0 {
            significant += 1;
            if significant > 12 {
                return None;
            }
            whole = whole * 10 + d;
        }
        next = chars.next();
    }
    if !read {
        return None;
    }
    // The fraction, if there is a point: at least one digit, none but zeros after the second.
    let (mut cents, mut decimals) = (0i64, 0);
    if next == Some('.') {
        for c in chars {
            let d = digit(c)?;
            if decimals < 2 {
                cents = cents * 10 + d;
            } else if d != 0 {
                return None;
            }
            decimals += 1;
        }
        if decimals == 0 {
            return None;
        }
    }
    if decimals == 1 {
        cents *= 10;
    }
    Some(Decimal::new(sign * (whole * 100 + cents), 2))
}

/// The current county a region code names, `000000` when none.
pub(crate) fn county_of(regions: &Regions, code: Option<&str>) -> String {
    let code = code.unwrap_or("");
    if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return UNATTRIBUTED_COUNTY.to_owned();
    }
    match regions.resolve_county(code) {
        CountyResolution::Current(c) | CountyResolution::Remapped(c) => c.to_owned(),
        CountyResolution::Unknown => UNATTRIBUTED_COUNTY.to_owned(),
    }
}

/// One legacy row as the balance sees it.
pub(crate) struct LegacyEntry<'a> {
    pub table: LegacyTable,
    pub key: &'a str,
    pub county: &'a str,
    pub amount: Option<&'a str>,
    /// Program code, fund year and status as legacy holds them (raw text).
    pub program: Option<&'a str>,
    pub year: Option<&'a str>,
    pub status: Option<&'a str>,
    /// A payment line's batch key (PCID) as legacy writes it; `None` for the other tables.
    pub batch: Option<&'a str>,
    /// The row's last change (GXSJ) when it is after the freeze; read from a legacy
    /// database only (an export's rows are not checked for it).
    pub changed_after_freeze: Option<&'a str>,
}

const PAGE: usize = 20_000;

/// The amount, program, fund year and status columns of a table, where it has them.
fn labels(table: LegacyTable) -> [Option<&'static str>; 4] {
    match table {
        LegacyTable::Beneficiaries => [None, None, None, Some("DXZT")],
        LegacyTable::Allocations => [Some("ZBJE"), Some("XMDM"), Some("ND"), None],
        LegacyTable::Batches => [None, Some("XMDM"), Some("ND"), Some("PCZT")],
        _ => [Some("JE"), Some("XMDM"), Some("ND"), Some("FFZT")],
    }
}

/// A fund year as the platform writes it when the legacy text reads as one: trimmed, a
/// trailing 年 dropped, `YY` meaning 20YY. Anything else stays as written (it was rejected).
pub(crate) fn fund_year_label(raw: Option<&str>) -> String {
    let text = raw.unwrap_or("").trim();
    let text = text.strip_suffix('年').unwrap_or(text).trim();
    match text.len() {
        2 if text.bytes().all(|b| b.is_ascii_digit()) => format!("20{text}"),
        _ => text.to_owned(),
    }
}

/// A status as the platform names it, when the legacy code is one of the table's codes (the
/// spec's map, `ykt_domain::platform::legacy_status_name`); else the code as written.
pub(crate) fn status_label(table: LegacyTable, raw: Option<&str>) -> String {
    let code = raw.unwrap_or("").trim();
    ykt_domain::platform::legacy_status_name(table, code)
        .map_or_else(|| code.to_owned(), str::to_owned)
}

/// Runs a query on the snapshot and calls `f` for every row, as the server sends them (one
/// query, streamed: memory holds one page, its cells in one buffer).
async fn each_row(
    snapshot: &mut ykt_db::Snapshot,
    sql: &str,
    mut f: impl FnMut(&[Option<&str>]),
) -> Result<(), ReconcileError> {
    snapshot
        .stream_text_table("reading legacy rows", sql, PAGE, &mut |page| {
            let mut cells: Vec<Option<&str>> = Vec::with_capacity(page.width());
            for i in 0..page.len() {
                cells.clear();
                cells.extend(page.row(i));
                f(&cells);
            }
            Ok::<(), ReconcileError>(())
        })
        .await?;
    Ok(())
}

impl LegacySide<'_> {
    /// Calls `f` for every row of T_BTDX, T_ZJZB, T_FFPC and T_FFMX; from a database, with
    /// each row's last change when it is after `frozen_from` (`YYYY-MM-DD HH:MM:SS`).
    pub(crate) async fn each(
        &self,
        frozen_from: Option<&str>,
        mut f: impl FnMut(LegacyEntry<'_>),
    ) -> Result<(), ReconcileError> {
        let regions = Regions::shaanxi();
        match self {
            LegacySide::Database(db) => rows_in_database(db, &regions, frozen_from, &mut f).await,
            LegacySide::Snapshot(stage) => rows_in_snapshot(stage, &regions, &mut f),
        }
    }
}

/// Each legacy person's county (T_BTDX's DXID as the database writes it), in little memory:
/// the key as a number where it is a canonical `BIGINT` (it always is for a BIGINT column;
/// text and number name the same row then), the county as its place in a short list.
#[derive(Default)]
struct PersonCounties {
    counties: Vec<String>,
    by_number: HashMap<i64, u32>,
    /// Keys that are not canonical numbers (a loosely typed SQLite column), as written.
    by_text: HashMap<String, u32>,
}

impl PersonCounties {
    fn insert(&mut self, key: Option<&str>, county: &str) {
        let Some(key) = key else { return };
        // A province has about a hundred counties: a short list to search.
        let at = match self.counties.iter().position(|c| c == county) {
            Some(at) => at,
            None => {
                self.counties.push(county.to_owned());
                self.counties.len() - 1
            }
        };
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        match ykt_domain::canonical_bigint(key) {
            Some(n) => self.by_number.insert(n, at),
            None => self.by_text.insert(key.to_owned(), at),
        };
    }

    /// The county of the person with this key; [`UNATTRIBUTED_COUNTY`] for no such person
    /// (an orphan line, as a join finds no row).
    fn county(&self, key: Option<&str>) -> &str {
        let at = key.and_then(|key| match ykt_domain::canonical_bigint(key) {
            Some(n) => self.by_number.get(&n),
            None => self.by_text.get(key),
        });
        at.and_then(|&at| self.counties.get(at as usize))
            .map_or(UNATTRIBUTED_COUNTY, String::as_str)
    }
}

/// Every row of the four tables, read from the legacy database in one snapshot.
async fn rows_in_database(
    db: &Db,
    regions: &Regions,
    frozen_from: Option<&str>,
    f: &mut impl FnMut(LegacyEntry<'_>),
) -> Result<(), ReconcileError> {
    let mut snapshot = db.snapshot().await?;
    let e = db.engine();
    let id = |n: &str| ident(e, n);
    let mut people = PersonCounties::default();
    // Columns the database stores as text are read bare, the others cast (see
    // `ykt_db::StoredColumns`); every table checked before any is read.
    let persons = ykt_db::check_table(&mut snapshot, LegacyTable::Beneficiaries).await?;
    let allocations = ykt_db::check_table(&mut snapshot, LegacyTable::Allocations).await?;
    let batches = ykt_db::check_table(&mut snapshot, LegacyTable::Batches).await?;
    let lines = ykt_db::check_table(&mut snapshot, LegacyTable::Payments).await?;
    for (table, stored) in [
        (LegacyTable::Beneficiaries, &persons),
        (LegacyTable::Allocations, &allocations),
        (LegacyTable::Batches, &batches),
    ] {
        let text = |c: &str| stored.as_text(e, c, &id(c));
        let key = table.key_column().name;
        let [amount, program, year, status] =
            labels(table).map(|c| c.map_or("NULL".to_owned(), text));
        let changed = match table.change_stamp_index() {
            Some(_) => stamp_after(e, frozen_from, &id("GXSJ"), &text("GXSJ")),
            None => "NULL".to_owned(),
        };
        let sql = format!(
            "SELECT {}, {}, {amount}, {program}, {year}, {status}, {changed} FROM {} ORDER BY {}",
            text(key),
            text("XZQHDM"),
            id(table.name()),
            id(key)
        );
        each_row(&mut snapshot, &sql, |r| {
            let county = county_of(regions, r[1]);
            if table == LegacyTable::Beneficiaries {
                people.insert(r[0], &county);
            }
            f(LegacyEntry {
                table,
                key: r[0].unwrap_or(""),
                county: &county,
                amount: r[2],
                program: r[3],
                year: r[4],
                status: r[5],
                batch: None,
                changed_after_freeze: r[6],
            });
        })
        .await?;
    }
    // A line belongs to its batch's county when the batch tells one, else to its
    // beneficiary's, as the pass over T_BTDX above found it: a join of every line with
    // T_BTDX, a lookup by primary key each, was 60 % of the legacy server's time for this
    // query (4.5 s against 1.8 s without it, MariaDB, county preset).
    let m = |c: &str| lines.as_text(e, c, &format!("m.{}", id(c)));
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {} m LEFT JOIN {} p ON p.{} = m.{} ORDER BY m.{}",
        m("MXID"),
        batches.as_text(e, "XZQHDM", &format!("p.{}", id("XZQHDM"))),
        m("DXID"),
        m("JE"),
        m("XMDM"),
        m("ND"),
        m("FFZT"),
        m("PCID"),
        stamp_after(e, frozen_from, &format!("m.{}", id("GXSJ")), &m("GXSJ")),
        id("T_FFMX"),
        id("T_FFPC"),
        id("PCID"),
        id("PCID"),
        id("MXID")
    );
    each_row(&mut snapshot, &sql, |r| {
        let by_batch = county_of(regions, r[1]);
        let county = match by_batch.as_str() {
            UNATTRIBUTED_COUNTY => people.county(r[2]),
            _ => &by_batch,
        };
        f(LegacyEntry {
            table: LegacyTable::Payments,
            key: r[0].unwrap_or(""),
            county,
            amount: r[3],
            program: r[4],
            year: r[5],
            status: r[6],
            batch: Some(r[7].unwrap_or("")),
            changed_after_freeze: r[8],
        });
    })
    .await?;
    snapshot.end().await?;
    Ok(())
}

/// Every row of the four tables, read from the stage's raw snapshot (an export source).
fn rows_in_snapshot(
    stage: &Stage,
    regions: &Regions,
    f: &mut impl FnMut(LegacyEntry<'_>),
) -> Result<(), ReconcileError> {
    // Keys as numbers: a line's PCID or DXID in an export file may be written
    // ` 12` or `012`, and still names batch or person 12.
    let number = |v: &Option<String>| v.as_deref().and_then(|k| k.trim().parse::<i64>().ok());
    let mut batch_county: HashMap<i64, String> = HashMap::new();
    let mut person_county: HashMap<i64, String> = HashMap::new();
    for table in [
        LegacyTable::Beneficiaries,
        LegacyTable::Allocations,
        LegacyTable::Batches,
    ] {
        let region = table.column_index("XZQHDM").expect("a region column");
        let [amount, program, year, status] =
            labels(table).map(|c| c.and_then(|c| table.column_index(c)));
        let at = |r: &[Option<String>], i: Option<usize>| -> Option<String> {
            i.and_then(|i| r[i].clone())
        };
        TextTableReader::open(&stage.legacy_file(table.name()))?.for_each(|r| {
            let key = r[0].clone().unwrap_or_default();
            let county = county_of(regions, r[region].as_deref());
            let [amount, program, year, status] =
                [amount, program, year, status].map(|i| at(&r, i));
            f(LegacyEntry {
                table,
                key: &key,
                county: &county,
                amount: amount.as_deref(),
                program: program.as_deref(),
                year: year.as_deref(),
                status: status.as_deref(),
                batch: None,
                changed_after_freeze: None,
            });
            if let Some(n) = number(&r[0]) {
                match table {
                    LegacyTable::Batches => batch_county.insert(n, county),
                    LegacyTable::Beneficiaries => person_county.insert(n, county),
                    _ => None,
                };
            }
            Ok(())
        })?;
    }
    let t = LegacyTable::Payments;
    let [pcid, dxid, je, xmdm, nd, ffzt] = ["PCID", "DXID", "JE", "XMDM", "ND", "FFZT"]
        .map(|c| t.column_index(c).expect("a T_FFMX column"));
    TextTableReader::open(&stage.legacy_file(t.name()))?.for_each(|r| {
        let by_batch = number(&r[pcid])
            .and_then(|p| batch_county.get(&p))
            .filter(|c| c.as_str() != UNATTRIBUTED_COUNTY);
        let county = by_batch
            .or_else(|| number(&r[dxid]).and_then(|d| person_county.get(&d)))
            .cloned()
            .unwrap_or_else(|| UNATTRIBUTED_COUNTY.to_owned());
        f(LegacyEntry {
            table: t,
            key: r[0].as_deref().unwrap_or(""),
            county: &county,
            amount: r[je].as_deref(),
            program: r[xmdm].as_deref(),
            year: r[nd].as_deref(),
            status: r[ffzt].as_deref(),
            batch: Some(r[pcid].as_deref().unwrap_or("")),
            changed_after_freeze: None,
        });
        Ok(())
    })?;
    Ok(())
}

impl LegacySide<'_> {
    /// Calls `f` with the named columns of every row of a legacy table (key order for a
    /// database; file order for a snapshot).
    pub(crate) async fn scan(
        &self,
        table: LegacyTable,
        columns: &[&str],
        mut f: impl FnMut(&[Option<&str>]),
    ) -> Result<(), ReconcileError> {
        match self {
            LegacySide::Database(db) => {
                let e = db.engine();
                let key = table.key_column().name;
                let mut snapshot = db.snapshot().await?;
                let stored = ykt_db::check_table(&mut snapshot, table).await?;
                let cols: Vec<String> = std::iter::once(key)
                    .chain(columns.iter().copied())
                    .map(|c| stored.as_text(e, c, &ident(e, c)))
                    .collect();
                let sql = format!(
                    "SELECT {} FROM {} ORDER BY {}",
                    cols.join(", "),
                    ident(e, table.name()),
                    ident(e, key)
                );
                each_row(&mut snapshot, &sql, |r| f(&r[1..])).await?;
                snapshot.end().await?;
            }
            LegacySide::Snapshot(stage) => {
                let idx: Vec<usize> = columns
                    .iter()
                    .map(|c| table.column_index(c).expect("a legacy column"))
                    .collect();
                TextTableReader::open(&stage.legacy_file(table.name()))?.for_each(|r| {
                    let picked: Vec<Option<&str>> = idx.iter().map(|&i| r[i].as_deref()).collect();
                    f(&picked);
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::str::FromStr;

    #[test]
    fn reads_money_like_the_spec() {
        let d = |s: &str| Some(Decimal::from_str(s).unwrap());
        assert_eq!(money(Some("1,200.00")), d("1200"));
        assert_eq!(money(Some(" １２００．５ ")), d("1200.5"));
        assert_eq!(money(Some("-50.00")), d("-50"));
        assert_eq!(money(Some("1200.005")), None);
        assert_eq!(money(Some("NULL")), None);
        assert_eq!(money(Some("")), None);
        assert_eq!(money(Some("1.")), None);
    }

    #[test]
    fn counties_remap_and_fall_back() {
        let r = Regions::shaanxi();
        assert_eq!(county_of(&r, Some("610821101203")), "610881");
        assert_eq!(county_of(&r, Some("619821")), "000000");
        assert_eq!(county_of(&r, None), "000000");
    }

    proptest::proptest! {
        /// The compact map of people's counties finds what a map of the keys as written
        /// finds (a join on the key column): keys that read as the same number but are
        /// written apart (`12`, `012`, ` 12`) stay apart, and a missing person has no county.
        #[test]
        fn person_counties_find_what_a_map_of_written_keys_finds(
            people in proptest::collection::vec(
                (r"-?[0-9]{1,3}|0[0-9]{1,2}| [0-9]|[a-z]{1,2}|", "6108(02|21|22)|000000"),
                0..40,
            ),
            asked in proptest::collection::vec(r"-?[0-9]{1,3}|0[0-9]{1,2}| [0-9]|[a-z]{1,2}|", 0..40),
        ) {
            let mut compact = super::PersonCounties::default();
            let mut plain = std::collections::HashMap::new();
            for (key, county) in &people {
                compact.insert(Some(key), county);
                plain.insert(key.clone(), county.clone());
            }
            compact.insert(None, "610802");
            for key in asked.iter().chain(people.iter().map(|(k, _)| k)) {
                let expected = plain.get(key).map_or(UNATTRIBUTED_COUNTY, String::as_str);
                proptest::prop_assert_eq!(compact.county(Some(key)), expected, "{:?}", key);
            }
            proptest::prop_assert_eq!(compact.county(None), UNATTRIBUTED_COUNTY);
        }
    }
}
