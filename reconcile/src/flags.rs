//! The audit flags of `mapping-rules.md` (A_ codes): suspicious but real history in the loaded
//! data, each with the rows involved. Flags never change what is loaded.

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;
use serde::Serialize;
use ykt_db::{Db, Engine};
use ykt_domain::{AuditFlag, LegacyTable};

use crate::ReconcileError;
use crate::balance::{BatchLines, LegacyPass};
use crate::legacy_side::LegacySide;
use crate::watch::LineCandidates;

/// One flagged case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagHit {
    pub flag: &'static str,
    pub county_code: String,
    /// The platform table of the rows involved and their legacy keys.
    pub table: &'static str,
    pub legacy_keys: Vec<String>,
    /// What was found, in Chinese.
    pub detail: String,
}

fn hit(
    flag: AuditFlag,
    county: &Option<String>,
    table: &'static str,
    keys: Vec<String>,
    detail: String,
) -> FlagHit {
    FlagHit {
        flag: flag.code(),
        county_code: county.clone().unwrap_or_default(),
        table,
        legacy_keys: keys,
        detail,
    }
}

/// Quantity × rate ≠ amount for a line `p` of a program `g`, exactly. PostgreSQL multiplies
/// NUMERIC exactly (a product of two 2-decimal values has 4 decimals): one multiplication,
/// where the integer fen of each (three casts, two multiplications a line) took a fifth of
/// the one-line flags' scan. SQLite keeps money as text, so there in integer fen.
fn rate_differs(engine: Engine) -> String {
    match engine {
        Engine::Postgres => "p.quantity * g.rate <> p.amount".to_owned(),
        _ => {
            let fen = |column: &str| format!("CAST(REPLACE({column}, '.', '') AS INTEGER)");
            format!(
                "{} * {} <> {} * 100",
                fen("p.quantity"),
                fen("g.rate"),
                fen("p.amount")
            )
        }
    }
}

/// Computes every audit flag over the loaded data (and, for batch totals, names and writes
/// after the freeze, the legacy rows they came from). The batch totals are checked against
/// the legacy lines per batch that the control totals read ([`crate::reconcile`]), and the
/// writes after the freeze are the ones that pass found: `pass` is awaited after the other
/// flags, so that both can run at once over one read of the legacy tables. Without it (the
/// control totals failed, and with them the reconciliation) neither is flagged. `lines` are
/// the payment lines the row diff's watch points at ([`crate::row_diff`]), judged by
/// [`watched_flags`] once the diff has read them all.
pub async fn audit_flags(
    legacy: &LegacySide<'_>,
    target: &Db,
    pass: impl std::future::Future<Output = Option<LegacyPass>>,
    lines: impl std::future::Future<Output = Result<LineCandidates, ReconcileError>>,
) -> Result<Vec<FlagHit>, ReconcileError> {
    // The names come from legacy and the payment flags from the target: both at once (one
    // after the other, the names were the flags' last half second, with a core idle).
    let (mut hits, names) =
        futures_util::future::try_join(payment_flags(target), name_conflict_flags(legacy, target))
            .await?;
    hits.extend(names);
    hits.extend(watched_flags(target, &lines.await?).await?);
    if let Some(pass) = pass.await {
        hits.extend(batch_total_flags(&pass.lines, target).await?);
        hits.extend(pass.late_writes);
    }
    hits.sort_by(|a, b| {
        (a.flag, &a.county_code, &a.legacy_keys).cmp(&(b.flag, &b.county_code, &b.legacy_keys))
    });
    Ok(hits)
}

/// Legacy keys listed in one column (`1,2,3`).
fn keys(listed: &Option<String>) -> Vec<String> {
    listed
        .clone()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A column's values of a group as one comma-separated text.
fn list(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Postgres => {
            format!("string_agg(CAST({column} AS TEXT), ',' ORDER BY {column})")
        }
        _ => format!("group_concat({column}, ',')"),
    }
}

/// The lines of one flagged group: its key cells, its least county and its lines' legacy keys.
struct Group {
    first: Vec<Option<String>>,
    county: Option<String>,
    keys: Vec<String>,
}

/// Rows of `width` group cells, a county and a legacy key each, ordered by group: one
/// [`Group`] per run of rows with the same cells, its keys in the rows' order.
fn groups(rows: Vec<Vec<Option<String>>>, width: usize) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for mut row in rows {
        let key = row.pop().flatten().unwrap_or_default();
        let county = row.pop().flatten();
        match out.last_mut() {
            Some(g) if g.first[..] == row[..width] => {
                if county.is_some() && (g.county.is_none() || county < g.county) {
                    g.county = county;
                }
                g.keys.push(key);
            }
            _ => out.push(Group {
                first: row,
                county,
                keys: vec![key],
            }),
        }
    }
    out
}

/// The payment flags of lines the platform made itself: a query of few lines, by index. (The
/// other payment flags are judged on the lines the row diff's watch points at:
/// [`watched_flags`].)
async fn payment_flags(target: &Db) -> Result<Vec<FlagHit>, ReconcileError> {
    let mut hits = Vec::new();
    let rows =
        |sql: String| async move { target.fetch_text_rows("computing audit flags", &sql).await };
    // The same person, program, fund year and period paid by the platform (its own lines, no
    // legacy key) and in legacy (a migrated line).
    for r in rows(
        "SELECT n.county_code, CAST(m.legacy_mxid AS TEXT), CAST(n.id AS TEXT), nb.period FROM payment n \
         JOIN payment_batch nb ON nb.id = n.batch_id \
         JOIN payment m ON m.beneficiary_id = n.beneficiary_id AND m.program_code = n.program_code AND m.fund_year = n.fund_year \
         JOIN payment_batch mb ON mb.id = m.batch_id AND mb.period = nb.period \
         WHERE n.legacy_mxid IS NULL AND n.status = 'paid' AND m.legacy_mxid IS NOT NULL AND m.status = 'paid' AND nb.period IS NOT NULL".to_owned(),
    ).await? {
        hits.push(hit(AuditFlag::DoublePaidAcrossSystems, &r[0], "payment", keys(&r[1]), format!("旧系统明细 {} 与新平台发放 {} 为同一人同一项目同一年度同一期（{}），两个系统均已发放", r[1].as_deref().unwrap_or("?"), r[2].as_deref().unwrap_or("?"), r[3].as_deref().unwrap_or("?"))));
    }
    Ok(hits)
}

/// At most this many legacy keys in one query's `IN (…)`.
const KEYS_PER_QUERY: usize = 10_000;

/// The rows of the lines of `keys`: `select` makes a query given the lines' filter
/// (`p.legacy_mxid IN (…)`), asked once for each [`KEYS_PER_QUERY`] keys.
async fn rows_of_lines(
    target: &Db,
    keys: &[i64],
    select: impl Fn(&str) -> String,
) -> Result<Vec<Vec<Option<String>>>, ReconcileError> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let within = format!("p.legacy_mxid IN ({})", list.join(","));
        rows.extend(
            target
                .fetch_text_rows("computing audit flags", &select(&within))
                .await?,
        );
    }
    Ok(rows)
}

/// Rows in groups of their first `width` cells, each group's lines in the order of their
/// legacy key (the last cell) as a number, whatever their county.
fn sort_by_group(rows: &mut [Vec<Option<String>>], width: usize) {
    rows.sort_by_cached_key(|r| {
        let key = r.last().and_then(|k| k.as_deref()?.parse::<i64>().ok());
        (r[..width.min(r.len())].to_vec(), key)
    });
}

/// The payment flags judged on the lines the row diff's watch points at ([`LineCandidates`]):
/// the flags' rules, in SQL, asked of those lines only (a sieve's keys: every line that could
/// be flagged, and a few that are not).
///
/// Each of these was a scan of every line in the target beside the row diff's own read of
/// them: the duplicates a sort of every paid line (1.4–1.7 s of PostgreSQL at the county
/// preset), the shared accounts a hash of every account (0.7 s), the one-line flags a join of
/// every line with its batch and program (0.6 s).
async fn watched_flags(
    target: &Db,
    lines: &LineCandidates,
) -> Result<Vec<FlagHit>, ReconcileError> {
    let e = target.engine();
    let mut hits = Vec::new();

    // Two or more paid lines for one person, program, fund year and period (a line whose
    // batch has no period is in no known period: NULL is not equal to NULL). A reissue of a
    // paid line of the same person is not a second payment. The candidates are whole groups
    // of one fingerprint, so each group is here with all its lines; the groups are told
    // apart by their cells, not their fingerprints.
    let mut found = rows_of_lines(target, &lines.duplicates, |within| {
        format!(
            "SELECT CAST(p.beneficiary_id AS TEXT), p.program_code, CAST(p.fund_year AS TEXT), b.period, \
             p.county_code, CAST(p.legacy_mxid AS TEXT) \
             FROM payment p JOIN payment_batch b ON b.id = p.batch_id \
             WHERE {within} AND p.status = 'paid' AND b.period IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM payment o WHERE o.id = p.reissue_of \
             AND o.beneficiary_id = p.beneficiary_id AND o.status = 'paid')"
        )
    })
    .await?;
    sort_by_group(&mut found, 4);
    for g in groups(found, 4).into_iter().filter(|g| g.keys.len() > 1) {
        let detail = format!("同一人同一项目同一年度同一期发放 {} 次", g.keys.len());
        hits.push(hit(
            AuditFlag::DuplicatePayment,
            &g.county,
            "payment",
            g.keys,
            detail,
        ));
    }

    // One account paid to people of two or more households in one fund year (a person's
    // household: its head's ID number, else its own). The candidates are every paid line of
    // each account and year paid to two people or more.
    let mut found = rows_of_lines(target, &lines.shared_accounts, |within| {
        format!(
            "SELECT p.account_no, CAST(p.fund_year AS TEXT), \
             COALESCE(d.household_head_id_number, d.id_number), p.county_code, CAST(p.legacy_mxid AS TEXT) \
             FROM payment p JOIN beneficiary d ON d.id = p.beneficiary_id \
             WHERE {within} AND p.status = 'paid' AND p.account_no IS NOT NULL"
        )
    })
    .await?;
    sort_by_group(&mut found, 2);
    // The lines of the accounts and years paid to two households or more (a NULL household
    // counts as none, as MIN and MAX have it), without their households.
    let found: Vec<Vec<Option<String>>> = found
        .chunk_by(|a, b| a[..2] == b[..2])
        .filter(|run| {
            let mut households = run.iter().filter_map(|r| r[2].as_deref());
            let first = households.next();
            households.any(|h| Some(h) != first)
        })
        .flatten()
        .map(|r| [&r[..2], &r[3..]].concat())
        .collect();
    for g in groups(found, 2) {
        let account = g.first[0].clone().unwrap_or_default();
        let tail = account.get(account.len().saturating_sub(4)..).unwrap_or("");
        let detail = format!(
            "账号尾号 {tail} 在 {} 年度发放给不同户的多人",
            g.first[1].as_deref().unwrap_or("?")
        );
        hits.push(hit(
            AuditFlag::SharedAccount,
            &g.county,
            "payment",
            g.keys,
            detail,
        ));
    }

    // The flags that look at one line at a time, with its batch, person and program. Each
    // CASE is a flag's finding, NULL where the line does not have it:
    //   paid after the person's death (the death date);
    //   paid before the announcement period ended, which includes its last day, so a line
    //   paid that day was paid before it ended (the period's end);
    //   quantity × rate ≠ amount (the quantity; rate and amount beside it);
    //   the line's program differs from its batch's (the batch's program).
    let paid = "p.status = 'paid'";
    let after_death = format!("{paid} AND d.deceased_on IS NOT NULL AND p.paid_on > d.deceased_on");
    let before_announced =
        format!("{paid} AND b.announce_to IS NOT NULL AND p.paid_on <= b.announce_to");
    let rate = format!(
        "g.basis IN ('area', 'person', 'household') AND g.rate IS NOT NULL AND p.quantity IS NOT NULL AND {}",
        rate_differs(e)
    );
    let other_program = "p.program_code <> b.program_code";
    let judged = rows_of_lines(target, &lines.one_line, |within| {
        format!(
            "SELECT p.county_code, CAST(p.legacy_mxid AS TEXT), CAST(p.paid_on AS TEXT), \
             CASE WHEN {after_death} THEN CAST(d.deceased_on AS TEXT) END, \
             CASE WHEN {before_announced} THEN CAST(b.announce_to AS TEXT) END, \
             CASE WHEN {rate} THEN CAST(p.quantity AS TEXT) END, CAST(g.rate AS TEXT), CAST(p.amount AS TEXT), \
             CASE WHEN {other_program} THEN b.program_code END, p.program_code \
             FROM payment p JOIN payment_batch b ON b.id = p.batch_id \
             LEFT JOIN beneficiary d ON d.id = p.beneficiary_id \
             JOIN program g ON g.code = p.program_code \
             WHERE {within} AND (({after_death}) OR ({before_announced}) OR ({rate}) OR {other_program})"
        )
    })
    .await?;
    for r in judged {
        let shown = |i: usize| r[i].as_deref().unwrap_or("?");
        // Each flag's finding (a CASE above), in words where the line has it.
        let found = |i: usize| r[i].as_deref();
        for (flag, detail) in [
            (
                AuditFlag::PaidAfterDeath,
                found(3).map(|deceased| format!("发放日期 {} 晚于死亡日期 {deceased}", shown(2))),
            ),
            (
                AuditFlag::PaidBeforeAnnounced,
                found(4).map(|announced| {
                    format!(
                        "发放日期 {} 不晚于公示结束日期 {announced}（公示期未满）",
                        shown(2)
                    )
                }),
            ),
            (
                AuditFlag::RateMismatch,
                found(5).map(|quantity| {
                    format!("数量 {quantity} × 标准 {} ≠ 金额 {}", shown(6), shown(7))
                }),
            ),
            (
                AuditFlag::ProgramMismatch,
                found(8).map(|batch_program| {
                    format!("明细项目 {} 与批次项目 {batch_program} 不一致", shown(9))
                }),
            ),
        ] {
            if let Some(detail) = detail {
                hits.push(hit(flag, &r[0], "payment", keys(&r[1]), detail));
            }
        }
    }

    // Failed, and neither reissued nor refunded. (Asked of every line, PostgreSQL scanned all
    // of `payment` on three processes for the county preset's two: 150 ms beside the diff.)
    let failed = rows_of_lines(target, &lines.failed, |within| {
        format!(
            "SELECT p.county_code, CAST(p.legacy_mxid AS TEXT) FROM payment p \
             WHERE {within} AND p.status = 'failed' \
             AND NOT EXISTS (SELECT 1 FROM payment n WHERE n.reissue_of = p.id)"
        )
    })
    .await?;
    for r in failed {
        hits.push(hit(
            AuditFlag::FailedNotReissued,
            &r[0],
            "payment",
            keys(&r[1]),
            "发放失败后既未重发也未退回".into(),
        ));
    }
    Ok(hits)
}

/// Declared batch totals against their source lines in legacy.
async fn batch_total_flags(
    lines: &BatchLines,
    target: &Db,
) -> Result<Vec<FlagHit>, ReconcileError> {
    let mut hits = Vec::new();
    let batches = target.fetch_text_rows("computing audit flags", "SELECT CAST(legacy_pcid AS TEXT), county_code, CAST(declared_count AS TEXT), CAST(declared_amount AS TEXT) FROM payment_batch WHERE legacy_pcid IS NOT NULL").await?;
    for b in batches {
        let pcid = b[0].clone().unwrap_or_default();
        let (count, amount) = lines.of(&pcid);
        let declared_count = b[2].as_deref().and_then(|n| n.parse::<i64>().ok());
        let declared_amount = b[3].as_deref().and_then(|a| a.parse::<Decimal>().ok());
        let count_off = declared_count.is_some_and(|d| d != count);
        let amount_off = declared_amount.is_some_and(|d| d != amount);
        if count_off || amount_off {
            hits.push(hit(
                AuditFlag::BatchTotalMismatch,
                &b[1],
                "payment_batch",
                vec![pcid],
                format!(
                    "申报 {} 人 {} 元，明细 {count} 条 {} 元",
                    b[2].as_deref().unwrap_or("-"),
                    b[3].as_deref().unwrap_or("-"),
                    ykt_domain::format_money(amount)
                ),
            ));
        }
    }
    Ok(hits)
}

/// Merged duplicates whose names differ (names as the name rule normalises them).
async fn name_conflict_flags(
    legacy: &LegacySide<'_>,
    target: &Db,
) -> Result<Vec<FlagHit>, ReconcileError> {
    let mut hits = Vec::new();
    let groups = target.fetch_text_rows("computing audit flags", &format!(
        "SELECT CAST(m.beneficiary_id AS TEXT), MIN(b.county_code), {} FROM beneficiary_legacy_map m JOIN beneficiary b ON b.id = m.beneficiary_id GROUP BY m.beneficiary_id HAVING COUNT(*) > 1",
        list(target.engine(), "m.legacy_dxid")
    )).await?;
    let wanted: HashSet<String> = groups.iter().flat_map(|g| keys(&g[2])).collect();
    let mut names: HashMap<String, String> = HashMap::new();
    legacy
        .scan(LegacyTable::Beneficiaries, &["DXID", "XM"], |r| {
            if let Some(k) = r[0].filter(|k| wanted.contains(*k)) {
                // Names as the name rule normalises them: the one rule, not a copy of it.
                let name = match ykt_domain::rules::name(r[1]) {
                    Ok(fixed) => fixed.value,
                    Err(_) => r[1].unwrap_or_default().to_owned(),
                };
                names.insert(k.to_owned(), name);
            }
        })
        .await?;
    for g in groups {
        let members = keys(&g[2]);
        let distinct: BTreeMap<&str, ()> = members
            .iter()
            .filter_map(|k| names.get(k))
            .map(|n| (n.as_str(), ()))
            .collect();
        if distinct.len() > 1 {
            let shown: Vec<&str> = distinct.keys().copied().collect();
            hits.push(hit(
                AuditFlag::NameConflict,
                &g[1],
                "beneficiary",
                members,
                format!("合并的重复登记姓名不一致：{}", shown.join("、")),
            ));
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A group's cells, and its keys and least county.
    type Cells = (String, String);
    type Found = (Vec<String>, Option<String>);

    proptest! {
        /// Whatever order the judged lines come back in, each group (by its cells) is one hit
        /// with all its lines' keys in numeric order and the least of its counties.
        #[test]
        fn judged_lines_make_one_group_per_cells_in_key_order(
            lines in prop::collection::btree_map(
                0i64..2000,
                (prop::sample::select(vec!["a", "b", "c"]), prop::sample::select(vec!["2020", "2021"]), prop::sample::select(vec!["610102", "610802", "610101"])),
                0..30,
            ),
            rotate in 0usize..30,
        ) {
            let mut rows: Vec<Vec<Option<String>>> = lines
                .iter()
                .map(|(key, (a, y, county))| [*a, *y, *county, &key.to_string()].iter().map(|c| Some((*c).to_owned())).collect())
                .collect();
            let n = rows.len().max(1);
            rows.rotate_left(rotate % n);
            sort_by_group(&mut rows, 2);
            // One group a run of the same cells, the runs in the cells' order.
            let found: Vec<(Cells, Found)> = groups(rows, 2)
                .into_iter()
                .map(|g| {
                    let cells = (g.first[0].clone().unwrap(), g.first[1].clone().unwrap());
                    (cells, (g.keys, g.county))
                })
                .collect();
            let mut expected: BTreeMap<Cells, Found> = BTreeMap::new();
            for (key, (a, y, county)) in &lines {
                let group = expected.entry(((*a).to_owned(), (*y).to_owned())).or_insert((Vec::new(), None));
                group.0.push(key.to_string());
                if group.1.as_deref().is_none_or(|least| *county < least) {
                    group.1 = Some((*county).to_owned());
                }
            }
            prop_assert_eq!(found, expected.into_iter().collect::<Vec<_>>());
        }
    }

    /// The judged lines come back in any order: sorted, each group's keys are in the order of
    /// the keys as numbers (as the flags' SQL ordered them), whatever the lines' counties.
    #[test]
    fn judged_lines_group_in_key_order_across_counties() {
        let row = |cells: [&str; 2], county: &str, key: &str| -> Vec<Option<String>> {
            cells
                .iter()
                .chain([&county, &key])
                .map(|c| Some((*c).to_owned()))
                .collect()
        };
        let mut rows = vec![
            row(["a", "2020"], "610102", "10"),
            row(["b", "2020"], "610102", "3"),
            row(["a", "2020"], "610802", "9"),
            row(["a", "2020"], "610102", "100"),
            row(["b", "2020"], "610101", "4"),
        ];
        sort_by_group(&mut rows, 2);
        let found: Vec<(Vec<String>, Option<String>)> = groups(rows, 2)
            .into_iter()
            .map(|g| (g.keys, g.county))
            .collect();
        assert_eq!(
            found,
            [
                (
                    vec!["9".into(), "10".into(), "100".into()],
                    Some("610102".into())
                ),
                (vec!["3".into(), "4".into()], Some("610101".into())),
            ]
        );
    }

    #[test]
    fn rows_fold_into_one_group_per_run_of_the_same_cells_with_the_least_county() {
        let row = |cells: [&str; 2], county: Option<&str>, key: &str| {
            let mut r: Vec<Option<String>> = cells.iter().map(|c| Some((*c).to_owned())).collect();
            r.push(county.map(str::to_owned));
            r.push(Some(key.to_owned()));
            r
        };
        let found = groups(
            vec![
                row(["a", "2020"], Some("610802"), "1"),
                row(["a", "2020"], Some("610102"), "5"),
                row(["a", "2020"], None, "9"),
                row(["a", "2021"], Some("610802"), "2"),
                row(["a", "2021"], Some("610803"), "3"),
                row(["b", "2020"], None, "4"),
                row(["b", "2020"], Some("610900"), "7"),
            ],
            2,
        );
        let seen: Vec<String> = found
            .iter()
            .map(|g| {
                let cells: Vec<&str> = g.first.iter().flatten().map(String::as_str).collect();
                format!(
                    "{} {} {}",
                    cells.join("/"),
                    g.county.as_deref().unwrap_or("-"),
                    g.keys.join(",")
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                "a/2020 610102 1,5,9",
                "a/2021 610802 2,3",
                "b/2020 610900 4,7"
            ]
        );
    }
}
