//! The balance identity, per county and table.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ykt_db::{Db, Engine, quote_literal};
use ykt_domain::{LegacyTable, Regions, UNATTRIBUTED_COUNTY, format_money};

use crate::breakdown::Breakdown;
use crate::legacy_side::{LegacySide, money};
use crate::rejected::Rejected;
use crate::{FlagHit, ReconcileError};

/// One legacy table's figures in one county (amounts written with two decimals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFigures {
    pub source_rows: u64,
    pub loaded_rows: u64,
    pub merged_rows: u64,
    pub rejected_rows: u64,
    #[serde(with = "ykt_domain::two_decimals")]
    pub source_amount: Decimal,
    #[serde(with = "ykt_domain::two_decimals")]
    pub loaded_amount: Decimal,
    #[serde(with = "ykt_domain::two_decimals")]
    pub rejected_amount: Decimal,
    pub unreadable_amount_rows: u64,
}

/// One county's figures for one table, program, fund year and status. The legacy side is
/// labelled by its own values (fund year and status read as the platform names them); the
/// loaded side by the target's columns; rejected rows by their legacy labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub table: String,
    pub program: String,
    pub fund_year: String,
    pub status: String,
    pub source_rows: u64,
    #[serde(with = "ykt_domain::two_decimals")]
    pub source_amount: Decimal,
    pub loaded_rows: u64,
    #[serde(with = "ykt_domain::two_decimals")]
    pub loaded_amount: Decimal,
    pub rejected_rows: u64,
    #[serde(with = "ykt_domain::two_decimals")]
    pub rejected_amount: Decimal,
}

impl BreakdownRow {
    /// Legacy rows not accounted for as loaded or rejected (merges only happen to people).
    pub fn row_difference(&self) -> i64 {
        self.source_rows as i64 - self.loaded_rows as i64 - self.rejected_rows as i64
    }

    pub fn amount_difference(&self) -> Decimal {
        self.source_amount - self.loaded_amount - self.rejected_amount
    }

    /// Adds another row's figures (a sum over statuses, or a total).
    pub fn add(&mut self, other: &BreakdownRow) {
        self.source_rows += other.source_rows;
        self.source_amount += other.source_amount;
        self.loaded_rows += other.loaded_rows;
        self.loaded_amount += other.loaded_amount;
        self.rejected_rows += other.rejected_rows;
        self.rejected_amount += other.rejected_amount;
    }
}

/// Rows the target holds that no legacy row explains (no legacy key): the platform's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformFigures {
    pub rows: u64,
    #[serde(with = "ykt_domain::two_decimals")]
    pub amount: Decimal,
}

/// One county's balance.
#[derive(Debug, Clone, Serialize)]
pub struct CountyBalance {
    pub county_code: String,
    pub county_name: String,
    pub balanced: bool,
    pub tables: BTreeMap<String, TableFigures>,
    /// Per platform table (`payment`, `payment_batch`, `allocation`, `beneficiary`): rows
    /// without a legacy key. Before the platform is live they make the county unbalanced.
    pub platform_rows: BTreeMap<String, PlatformFigures>,
    /// The same figures by table × program × fund year × status (allocations, batches and
    /// payment lines).
    pub breakdown: Vec<BreakdownRow>,
    /// Rows that differ between what legacy should have become and the target.
    pub row_diff: RowDiffCounts,
    /// Each identity that does not hold, and each kind of row difference, in Chinese.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDiffCounts {
    pub missing_in_target: u64,
    pub unexpected_in_target: u64,
    pub value_mismatches: u64,
}

impl RowDiffCounts {
    pub fn total(&self) -> u64 {
        self.missing_in_target + self.unexpected_in_target + self.value_mismatches
    }

    pub fn add(&mut self, other: &RowDiffCounts) {
        self.missing_in_target += other.missing_in_target;
        self.unexpected_in_target += other.unexpected_in_target;
        self.value_mismatches += other.value_mismatches;
    }
}

impl TableFigures {
    /// Legacy rows not loaded, merged or rejected: the balance identity's row side.
    pub fn row_difference(&self) -> i64 {
        self.source_rows as i64
            - self.loaded_rows as i64
            - self.merged_rows as i64
            - self.rejected_rows as i64
    }

    /// Legacy amount not loaded or rejected: the balance identity's money side.
    pub fn amount_difference(&self) -> Decimal {
        self.source_amount - self.loaded_amount - self.rejected_amount
    }

    /// Adds another county's figures (the province's totals).
    pub fn add(&mut self, other: &TableFigures) {
        self.source_rows += other.source_rows;
        self.loaded_rows += other.loaded_rows;
        self.merged_rows += other.merged_rows;
        self.rejected_rows += other.rejected_rows;
        self.source_amount += other.source_amount;
        self.loaded_amount += other.loaded_amount;
        self.rejected_amount += other.rejected_amount;
        self.unreadable_amount_rows += other.unreadable_amount_rows;
    }
}

impl Reconciliation {
    /// Adds the row-level differences: a county with any is not balanced, and so is the
    /// whole run when a difference is in a county the control totals do not know.
    pub fn apply_row_diff(&mut self, diffs: &[crate::RowDiff]) {
        let unknown = diffs
            .iter()
            .any(|d| !self.counties.iter().any(|c| c.county_code == d.county_code));
        for county in &mut self.counties {
            let mut counts = RowDiffCounts::default();
            for d in diffs.iter().filter(|d| d.county_code == county.county_code) {
                match d.kind {
                    "missing_in_target" => counts.missing_in_target += 1,
                    "unexpected_in_target" => counts.unexpected_in_target += 1,
                    _ => counts.value_mismatches += 1,
                }
            }
            if counts != RowDiffCounts::default() {
                county.problems.push(format!(
                    "逐行比对：目标库缺少 {} 行，多出 {} 行，{} 处字段值不一致",
                    counts.missing_in_target, counts.unexpected_in_target, counts.value_mismatches
                ));
                county.balanced = false;
            }
            county.row_diff = counts;
        }
        self.balanced = !unknown && self.counties.iter().all(|c| c.balanced);
    }
}

/// A legacy amount that does not read as money: counted and listed, never guessed.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadableAmount {
    pub table: String,
    pub key: String,
    pub county_code: String,
    pub raw: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub run_id: String,
    pub balanced: bool,
    pub counties: Vec<CountyBalance>,
    pub unreadable_amounts: Vec<UnreadableAmount>,
}

const TABLES: [LegacyTable; 4] = [
    LegacyTable::Beneficiaries,
    LegacyTable::Allocations,
    LegacyTable::Batches,
    LegacyTable::Payments,
];

fn sum_expr(engine: Engine) -> &'static str {
    match engine {
        // Exact: NUMERIC sums in PostgreSQL; in SQLite the generated integer fen column
        // (migration 0004), never the text read as REAL.
        Engine::Postgres => "CAST(SUM(amount) AS TEXT)",
        _ => "CAST(SUM(amount_fen) AS TEXT)",
    }
}

/// A sum as the target gave it (NULL for no rows is 0); a sum that does not read is an error,
/// never a silent zero.
fn parse_sum(engine: Engine, raw: Option<&str>) -> Result<Decimal, ReconcileError> {
    let Some(raw) = raw else {
        return Ok(Decimal::ZERO);
    };
    let sum = match engine {
        Engine::Postgres => ykt_domain::parse_money(raw),
        _ => raw.parse::<i64>().ok().map(|fen| Decimal::new(fen, 2)),
    };
    sum.ok_or_else(|| {
        ReconcileError::Target(format!(
            "the target's amount sum {raw:?} does not read as an exact decimal"
        ))
    })
}

/// Rows of each platform table with no legacy key, per county: (county, table) → figures.
async fn platform_rows(
    target: &Db,
) -> Result<BTreeMap<(String, &'static str), PlatformFigures>, ReconcileError> {
    let engine = target.engine();
    let sum = sum_expr(engine);
    let queries = [
        ("payment", format!("SELECT county_code, CAST(COUNT(*) AS TEXT), {sum} FROM payment WHERE legacy_mxid IS NULL GROUP BY county_code")),
        ("payment_batch", "SELECT county_code, CAST(COUNT(*) AS TEXT), NULL FROM payment_batch WHERE legacy_pcid IS NULL GROUP BY county_code".to_owned()),
        ("allocation", format!("SELECT county_code, CAST(COUNT(*) AS TEXT), {sum} FROM allocation WHERE legacy_zbid IS NULL GROUP BY county_code")),
        ("beneficiary", "SELECT county_code, CAST(COUNT(*) AS TEXT), NULL FROM beneficiary b WHERE NOT EXISTS (SELECT 1 FROM beneficiary_legacy_map m WHERE m.beneficiary_id = b.id) GROUP BY county_code".to_owned()),
    ];
    let mut out = BTreeMap::new();
    for (table, sql) in queries {
        for row in target
            .fetch_text_rows("reading the platform's own rows", &sql)
            .await?
        {
            out.insert(
                (row[0].clone().unwrap_or_default(), table),
                PlatformFigures {
                    rows: count(row[1].as_deref()),
                    amount: parse_sum(engine, row[2].as_deref())?,
                },
            );
        }
    }
    Ok(out)
}

/// County and legacy table → figures.
type Figures = BTreeMap<(String, &'static str), TableFigures>;

fn count(raw: Option<&str>) -> u64 {
    raw.and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Reconciles the legacy side against the target for one migration run. `live`: the new
/// platform is live (dual-run or later), so rows of its own are its work, not a difference.
/// Also returns the legacy lines of every batch, read in the same pass over T_FFMX, for the
/// batch-total audit flag ([`crate::audit_flags`]).
pub async fn reconcile(
    legacy: &LegacySide<'_>,
    target: &Db,
    run_id: &str,
    live: bool,
    frozen_from: Option<NaiveDateTime>,
) -> Result<(Reconciliation, LegacyPass), ReconcileError> {
    let known = target
        .fetch_i64(
            "looking up the run",
            &format!(
                "SELECT COUNT(*) FROM migration_run WHERE run_id = {}",
                quote_literal(target.engine(), run_id)
            ),
        )
        .await?;
    if known.unwrap_or(0) == 0 {
        return Err(ReconcileError::NoRun {
            url: target.url().to_string(),
            run_id: run_id.to_owned(),
        });
    }
    // The target's own figures beside the legacy pass, which needs only the rejects: read
    // first, the target's figures kept the pass (and MariaDB) waiting half a second at the
    // county preset, with a core idle.
    let loaded = async {
        let platform = platform_rows(target).await?;
        let (mut figures, mut breakdown) = (Figures::new(), Breakdown::default());
        loaded_figures(target, &mut figures).await?;
        loaded_breakdown(target, &mut breakdown, &mut figures).await?;
        Ok::<_, ReconcileError>((platform, figures, breakdown))
    };
    let legacy_pass = async {
        let (mut figures, mut breakdown) = (Figures::new(), Breakdown::default());
        let rejected = merged_and_rejected(target, run_id, &mut figures).await?;
        let mut pass = LegacyPass::default();
        let frozen = frozen_from.map(crate::late_writes::stamp_text);
        let unreadable = legacy_figures(
            legacy,
            &rejected,
            frozen.as_deref(),
            &mut figures,
            &mut breakdown,
            &mut pass,
        )
        .await?;
        Ok((figures, breakdown, pass, unreadable))
    };
    let (
        (platform, mut figures, mut breakdown),
        (legacy_figures, legacy_breakdown, pass, unreadable),
    ) = futures_util::future::try_join(loaded, legacy_pass).await?;
    for (key, f) in legacy_figures {
        figures.entry(key).or_default().add(&f);
    }
    breakdown.add(legacy_breakdown);
    let counties = county_balances(platform, figures, breakdown, live);
    let reconciliation = Reconciliation {
        run_id: run_id.to_owned(),
        balanced: counties.iter().all(|c| c.balanced),
        counties,
        unreadable_amounts: unreadable,
    };
    Ok((reconciliation, pass))
}

/// What the control totals' one pass over the legacy tables found for the audit flags besides
/// the totals: each batch's lines, and the rows changed after the freeze.
#[derive(Debug, Default)]
pub struct LegacyPass {
    pub(crate) lines: BatchLines,
    /// `A_LEGACY_WRITE_AFTER_FREEZE`, one per row, in the pass's order.
    pub(crate) late_writes: Vec<FlagHit>,
}

/// Legacy T_FFMX lines per batch key (PCID as legacy writes it): how many, and the sum of the
/// amounts that read as money.
#[derive(Debug, Default)]
pub struct BatchLines(HashMap<String, (i64, Decimal)>);

impl BatchLines {
    fn add(&mut self, batch: &str, amount: Option<Decimal>) {
        let entry = match self.0.get_mut(batch) {
            Some(entry) => entry,
            None => self.0.entry(batch.to_owned()).or_default(),
        };
        entry.0 += 1;
        entry.1 += amount.unwrap_or_default();
    }

    /// The lines of a batch (none: `(0, 0)`).
    pub fn of(&self, batch: &str) -> (i64, Decimal) {
        self.0.get(batch).copied().unwrap_or_default()
    }
}

/// Loaded people per county, read back from the target (the other tables' county figures
/// are the sums of their breakdown, [`loaded_breakdown`]).
async fn loaded_figures(target: &Db, figures: &mut Figures) -> Result<(), ReconcileError> {
    let sql = "SELECT county_code, CAST(COUNT(*) AS TEXT) FROM beneficiary b WHERE EXISTS (SELECT 1 FROM beneficiary_legacy_map m WHERE m.legacy_dxid = b.id) GROUP BY county_code";
    for row in target
        .fetch_text_rows("reading loaded figures", sql)
        .await?
    {
        let f = figures
            .entry((row[0].clone().unwrap_or_default(), "T_BTDX"))
            .or_default();
        f.loaded_rows = count(row[1].as_deref());
    }
    Ok(())
}

/// Loaded rows and amounts per program, fund year and status, read back from the target, and
/// their sums per county and table into `figures`: one scan of each table (a second query per
/// county was 0.24 s more of PostgreSQL over `payment` at the county preset).
async fn loaded_breakdown(
    target: &Db,
    breakdown: &mut Breakdown,
    figures: &mut Figures,
) -> Result<(), ReconcileError> {
    let engine = target.engine();
    let sum = sum_expr(engine);
    let year = ykt_db::cast_text(engine, "fund_year");
    let by_label_sql = [
        (
            "T_ZJZB",
            format!(
                "SELECT county_code, program_code, {year}, '', CAST(COUNT(*) AS TEXT), {sum} FROM allocation WHERE legacy_zbid IS NOT NULL GROUP BY county_code, program_code, fund_year"
            ),
        ),
        (
            "T_FFPC",
            format!(
                "SELECT county_code, program_code, {year}, status, CAST(COUNT(*) AS TEXT), NULL FROM payment_batch WHERE legacy_pcid IS NOT NULL GROUP BY county_code, program_code, fund_year, status"
            ),
        ),
        (
            "T_FFMX",
            format!(
                "SELECT county_code, program_code, {year}, status, CAST(COUNT(*) AS TEXT), {sum} FROM payment WHERE legacy_mxid IS NOT NULL GROUP BY county_code, program_code, fund_year, status"
            ),
        ),
    ];
    for (table, sql) in by_label_sql {
        for row in target
            .fetch_text_rows("reading loaded figures by program and year", &sql)
            .await?
        {
            let cell = |i: usize| row[i].as_deref().unwrap_or_default();
            let (rows, amount) = (
                count(row[4].as_deref()),
                parse_sum(engine, row[5].as_deref())?,
            );
            let f = figures.entry((cell(0).to_owned(), table)).or_default();
            f.loaded_rows += rows;
            f.loaded_amount += amount;
            let b = breakdown.row(cell(0), table, cell(1), cell(2), cell(3));
            b.loaded_rows = rows;
            b.loaded_amount = amount;
        }
    }
    Ok(())
}

/// Merged people and rejected rows per county, as the target recorded them for the run;
/// returns where each reject is recorded (its amount is the legacy value of its key).
async fn merged_and_rejected(
    target: &Db,
    run_id: &str,
    figures: &mut Figures,
) -> Result<Rejected, ReconcileError> {
    let r = quote_literal(target.engine(), run_id);
    let merged_sql = format!(
        "SELECT county_code, CAST(COUNT(*) AS TEXT) FROM migration_correction WHERE run_id = {r} AND correction_code = 'C_BENEFICIARY_MERGED' GROUP BY county_code"
    );
    for row in target
        .fetch_text_rows("reading merges", &merged_sql)
        .await?
    {
        figures
            .entry((row[0].clone().unwrap_or_default(), "T_BTDX"))
            .or_default()
            .merged_rows = count(row[1].as_deref());
    }
    let mut rejected = Rejected::default();
    let rejects_sql = format!(
        "SELECT source_table, source_key, county_code FROM migration_reject WHERE run_id = {r} AND source_table IN ('T_BTDX', 'T_ZJZB', 'T_FFPC', 'T_FFMX')"
    );
    // Read a page at a time (a province has hundreds of thousands of rejects), by `COPY` on
    // PostgreSQL: no text owned per cell.
    target
        .stream_text_table::<ReconcileError>("reading rejects", &rejects_sql, 4096, &mut |page| {
            for i in 0..page.len() {
                let Some(table) = TABLES.iter().find(|t| Some(t.name()) == page.get(i, 0)) else {
                    continue;
                };
                let county = page.get(i, 2).unwrap_or_default();
                figures
                    .entry((county.to_owned(), table.name()))
                    .or_default()
                    .rejected_rows += 1;
                rejected.insert(*table, page.get(i, 1).unwrap_or_default(), county);
            }
            Ok(())
        })
        .await?;
    Ok(rejected)
}

/// A breakdown row's program, fund year and status as the target names them.
fn label(
    table: LegacyTable,
    program: Option<&str>,
    year: Option<&str>,
    status: Option<&str>,
) -> (String, String, String) {
    (
        program.unwrap_or("").trim().to_owned(),
        crate::legacy_side::fund_year_label(year),
        if table == LegacyTable::Allocations {
            String::new()
        } else {
            crate::legacy_side::status_label(table, status)
        },
    )
}

/// Legacy rows of one county, table, program, fund year and status one after another (the
/// lines of a batch, mostly), added up here and into the figures once per run: labelled and
/// looked up row by row, the label's five texts were allocated and compared a million times
/// at the county preset.
struct Run {
    county: String,
    table: LegacyTable,
    program: Option<String>,
    year: Option<String>,
    status: Option<String>,
    rows: u64,
    /// The amounts that read as money.
    amount: Decimal,
    unreadable: u64,
}

impl Run {
    fn of(entry: &crate::legacy_side::LegacyEntry<'_>) -> Run {
        Run {
            county: entry.county.to_owned(),
            table: entry.table,
            program: entry.program.map(str::to_owned),
            year: entry.year.map(str::to_owned),
            status: entry.status.map(str::to_owned),
            rows: 0,
            amount: Decimal::ZERO,
            unreadable: 0,
        }
    }

    fn holds(&self, entry: &crate::legacy_side::LegacyEntry<'_>) -> bool {
        self.table == entry.table
            && self.county == entry.county
            && self.program.as_deref() == entry.program
            && self.year.as_deref() == entry.year
            && self.status.as_deref() == entry.status
    }

    fn add_to(self, figures: &mut Figures, breakdown: &mut Breakdown) {
        if self.table != LegacyTable::Beneficiaries {
            let (program, year, status) = label(
                self.table,
                self.program.as_deref(),
                self.year.as_deref(),
                self.status.as_deref(),
            );
            let b = breakdown.row(&self.county, self.table.name(), &program, &year, &status);
            b.source_rows += self.rows;
            b.source_amount += self.amount;
        }
        let f = figures.entry((self.county, self.table.name())).or_default();
        f.source_rows += self.rows;
        if matches!(self.table, LegacyTable::Payments | LegacyTable::Allocations) {
            f.source_amount += self.amount;
            f.unreadable_amount_rows += self.unreadable;
        }
    }
}

/// The legacy side's rows and amounts, read independently of the rules; a rejected row's
/// amount also counts as rejected where its reject is recorded. Returns the amounts that do
/// not read as money.
async fn legacy_figures(
    legacy: &LegacySide<'_>,
    rejected: &Rejected,
    frozen_from: Option<&str>,
    figures: &mut Figures,
    breakdown: &mut Breakdown,
    pass: &mut LegacyPass,
) -> Result<Vec<UnreadableAmount>, ReconcileError> {
    let mut unreadable = Vec::new();
    let mut run: Option<Run> = None;
    legacy
        .each(frozen_from, |entry| {
            let table = entry.table.name();
            let reject_county = rejected.county(entry.table, entry.key);
            let value = money(entry.amount);
            if let Some(batch) = entry.batch {
                pass.lines.add(batch, value);
            }
            if let (Some(stamp), Some(frozen)) = (entry.changed_after_freeze, frozen_from) {
                pass.late_writes.push(crate::late_writes::flag(
                    entry.table,
                    entry.key,
                    entry.county,
                    frozen,
                    stamp,
                ));
            }
            let current = match run.take() {
                Some(r) if r.holds(&entry) => run.insert(r),
                ended => {
                    if let Some(done) = ended {
                        done.add_to(figures, breakdown);
                    }
                    run.insert(Run::of(&entry))
                }
            };
            current.rows += 1;
            current.amount += value.unwrap_or_default();
            if let Some(county) = &reject_county
                && entry.table != LegacyTable::Beneficiaries
            {
                let (program, year, status) =
                    label(entry.table, entry.program, entry.year, entry.status);
                let b = breakdown.row(county, table, &program, &year, &status);
                b.rejected_rows += 1;
                b.rejected_amount += value.unwrap_or_default();
            }
            if !matches!(
                entry.table,
                LegacyTable::Payments | LegacyTable::Allocations
            ) {
                return;
            }
            match value {
                Some(v) => {
                    if let Some(county) = reject_county {
                        figures
                            .entry((county.clone(), table))
                            .or_default()
                            .rejected_amount += v;
                    }
                }
                None => {
                    current.unreadable += 1;
                    unreadable.push(UnreadableAmount {
                        table: table.to_owned(),
                        key: entry.key.to_owned(),
                        county_code: entry.county.to_owned(),
                        raw: entry.amount.map(str::to_owned),
                    });
                }
            }
        })
        .await?;
    if let Some(done) = run {
        done.add_to(figures, breakdown);
    }
    Ok(unreadable)
}

/// Why a table of a county does not balance, in Chinese (nothing when it does).
fn table_problems(table: &str, f: &TableFigures) -> Vec<String> {
    let mut problems = Vec::new();
    if f.row_difference() != 0 {
        let accounted = f.loaded_rows + f.merged_rows + f.rejected_rows;
        problems.push(format!(
            "{table}：旧系统 {} 行，迁移 {} + 合并 {} + 拒绝 {} = {} 行，相差 {} 行",
            f.source_rows,
            f.loaded_rows,
            f.merged_rows,
            f.rejected_rows,
            accounted,
            f.row_difference().unsigned_abs()
        ));
    }
    if !f.amount_difference().is_zero() {
        problems.push(format!(
            "{table}：旧系统金额 {}，迁移 {} + 拒绝 {}，相差 {}",
            format_money(f.source_amount),
            format_money(f.loaded_amount),
            format_money(f.rejected_amount),
            format_money(f.amount_difference())
        ));
    }
    problems
}

/// Every county's balance from the figures: its tables, its problems, its breakdown. Before
/// the platform is live, rows of its own in the target are a problem of their county.
fn county_balances(
    platform: BTreeMap<(String, &'static str), PlatformFigures>,
    figures: Figures,
    breakdown: Breakdown,
    live: bool,
) -> Vec<CountyBalance> {
    let regions = Regions::shaanxi();
    let mut counties: BTreeMap<String, CountyBalance> = BTreeMap::new();
    let new_county = |county: &str| CountyBalance {
        county_name: if county == UNATTRIBUTED_COUNTY {
            "未归属".to_owned()
        } else {
            regions
                .county(county)
                .map_or_else(|| county.to_owned(), |c| c.name.to_owned())
        },
        county_code: county.to_owned(),
        balanced: true,
        tables: BTreeMap::new(),
        platform_rows: BTreeMap::new(),
        breakdown: Vec::new(),
        row_diff: RowDiffCounts::default(),
        problems: Vec::new(),
    };
    for ((county, table), f) in platform {
        let entry = counties
            .entry(county.clone())
            .or_insert_with(|| new_county(&county));
        if !live {
            entry.problems.push(format!(
                "{}：目标库有 {} 行{}不是从旧系统迁移来的（没有旧系统主键），而新平台尚未上线",
                crate::platform_caption(table),
                f.rows,
                if table == "payment" || table == "allocation" {
                    format!("（金额 {}）", format_money(f.amount))
                } else {
                    String::new()
                }
            ));
        }
        entry.platform_rows.insert(table.to_owned(), f);
    }
    for ((county, table), f) in figures {
        let entry = counties
            .entry(county.clone())
            .or_insert_with(|| new_county(&county));
        entry.problems.extend(table_problems(table, &f));
        entry.tables.insert(table.to_owned(), f);
    }
    for entry in counties.values_mut() {
        entry.balanced = entry.problems.is_empty();
    }
    for (county, row) in breakdown.into_rows() {
        if let Some(entry) = counties.get_mut(&county) {
            entry.breakdown.push(row);
        }
    }
    counties.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(source: u64, loaded: u64, merged: u64, rejected: u64) -> TableFigures {
        TableFigures {
            source_rows: source,
            loaded_rows: loaded,
            merged_rows: merged,
            rejected_rows: rejected,
            source_amount: Decimal::new(10000, 2),
            loaded_amount: Decimal::new(6000, 2),
            rejected_amount: Decimal::new(4000, 2),
            unreadable_amount_rows: 0,
        }
    }

    #[test]
    fn a_county_balances_only_when_every_table_does() {
        let mut all = Figures::new();
        all.insert(("610802".to_owned(), "T_FFMX"), figures(10, 6, 0, 4));
        all.insert(("610802".to_owned(), "T_BTDX"), figures(10, 7, 1, 2));
        all.insert(("610881".to_owned(), "T_FFMX"), figures(10, 6, 0, 3));
        let counties = county_balances(BTreeMap::new(), all, Breakdown::default(), false);
        let by_code = |code: &str| counties.iter().find(|c| c.county_code == code).unwrap();
        assert!(
            by_code("610802").balanced,
            "{:?}",
            by_code("610802").problems
        );
        let short = by_code("610881");
        assert!(!short.balanced);
        assert_eq!(
            short.problems,
            ["T_FFMX：旧系统 10 行，迁移 6 + 合并 0 + 拒绝 3 = 9 行，相差 1 行"]
        );
    }

    #[test]
    fn an_amount_off_by_a_fen_is_a_problem() {
        let mut f = figures(10, 6, 0, 4);
        f.loaded_amount = Decimal::new(5999, 2);
        assert_eq!(
            table_problems("T_ZJZB", &f),
            ["T_ZJZB：旧系统金额 100.00，迁移 59.99 + 拒绝 40.00，相差 0.01"]
        );
    }

    #[test]
    fn own_rows_before_go_live_unbalance_their_county() {
        let platform = BTreeMap::from([(
            ("610802".to_owned(), "payment"),
            PlatformFigures {
                rows: 2,
                amount: Decimal::new(30000, 2),
            },
        )]);
        let before = county_balances(
            platform.clone(),
            Figures::new(),
            Breakdown::default(),
            false,
        );
        assert!(!before[0].balanced);
        let live = county_balances(platform, Figures::new(), Breakdown::default(), true);
        assert!(
            live[0].balanced,
            "after go-live they are the platform's own work"
        );
    }

    #[test]
    fn a_difference_unbalances_its_county_or_the_run_when_no_county_knows_it() {
        let mut all = Figures::new();
        all.insert(("610802".to_owned(), "T_FFMX"), figures(10, 6, 0, 4));
        let counties = county_balances(BTreeMap::new(), all, Breakdown::default(), false);
        let rec = Reconciliation {
            run_id: "run-1".into(),
            balanced: true,
            counties,
            unreadable_amounts: Vec::new(),
        };
        let diff = |county: &str| crate::RowDiff {
            county_code: county.into(),
            table: "payment",
            kind: "missing_in_target",
            key: "7".into(),
            field: None,
            expected: None,
            actual: None,
        };
        let mut none = rec.clone();
        none.apply_row_diff(&[]);
        assert!(none.balanced);
        let mut known = rec.clone();
        known.apply_row_diff(&[diff("610802")]);
        assert!(!known.balanced && !known.counties[0].balanced);
        assert_eq!(known.counties[0].row_diff.missing_in_target, 1);
        let mut unknown = rec;
        unknown.apply_row_diff(&[diff("610881")]);
        assert!(unknown.counties[0].balanced);
        assert!(
            !unknown.balanced,
            "a difference no county shows still unbalances the run"
        );
    }
}
