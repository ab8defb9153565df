//! `summary.json` per county and `province.json`, in the shape the county reports promise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ykt_reconcile::{CountyBalance, PlatformFigures, RowDiffCounts, TableFigures};

/// A county's `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountySummary {
    pub county_code: String,
    pub county_name: String,
    pub run_id: String,
    pub balanced: bool,
    /// 平衡且无待处理, 平衡但有待县区更正的行, or 不平衡.
    pub verdict: Verdict,
    /// The rows waiting for the county to correct them at the source.
    pub pending: Pending,
    /// Per legacy table; amounts written with two decimals.
    pub tables: BTreeMap<String, TableFigures>,
    /// Rows the target holds that no legacy row explains, per platform table.
    pub platform_rows: BTreeMap<String, PlatformFigures>,
    pub rejects: BTreeMap<String, u64>,
    pub corrections: BTreeMap<String, u64>,
    pub flags: BTreeMap<String, u64>,
    pub row_diff: RowDiffCounts,
}

impl CountySummary {
    pub(crate) fn new(
        run_id: &str,
        county: &CountyBalance,
        rejects: BTreeMap<String, u64>,
        corrections: BTreeMap<String, u64>,
        flags: BTreeMap<String, u64>,
    ) -> CountySummary {
        let (verdict, pending) = Verdict::judge(county.balanced, &county.tables);
        CountySummary {
            county_code: county.county_code.clone(),
            county_name: county.county_name.clone(),
            run_id: run_id.to_owned(),
            balanced: county.balanced,
            verdict,
            pending,
            tables: county.tables.clone(),
            platform_rows: county.platform_rows.clone(),
            rejects,
            corrections,
            flags,
            row_diff: county.row_diff,
        }
    }
}

/// A county's verdict, in three states: balancing proves nothing was lost or doubled; it does
/// not say the county's work is done while rejected rows wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 平衡且无待处理: everything balances and nothing waits for the county.
    Clean,
    /// 平衡，有待处理: everything balances; rejected rows wait for the county to correct them
    /// at the source, after which they are migrated again.
    Pending,
    /// 不平衡: something was lost, doubled or changed; no sign-off until it is explained.
    Unbalanced,
}

impl Verdict {
    /// A county's verdict from its figures, with what waits for the county.
    pub fn judge(balanced: bool, tables: &BTreeMap<String, TableFigures>) -> (Verdict, Pending) {
        let pending = Pending::of(tables);
        (Verdict::of(balanced, &pending), pending)
    }

    pub fn of(balanced: bool, pending: &Pending) -> Verdict {
        match (balanced, pending.rows) {
            (false, _) => Verdict::Unbalanced,
            (true, 0) => Verdict::Clean,
            (true, _) => Verdict::Pending,
        }
    }

    /// The code `summary.json` and the sign-off record write: clean, pending, unbalanced.
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Pending => "pending",
            Verdict::Unbalanced => "unbalanced",
        }
    }

    /// The CSS class and terminal colour group: ok, warn, bad.
    pub fn tone(self) -> &'static str {
        match self {
            Verdict::Clean => "ok",
            Verdict::Pending => "warn",
            Verdict::Unbalanced => "bad",
        }
    }

    /// The short label of tables and the terminal.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Clean => "平衡且无待处理",
            Verdict::Pending => "平衡，有待处理",
            Verdict::Unbalanced => "不平衡",
        }
    }
}

/// The rejected rows of a county: waiting for the county to correct them at the source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Rejected rows of every table.
    pub rows: u64,
    /// Of which payment lines (发放明细), and their amount.
    pub payment_lines: u64,
    #[serde(with = "ykt_domain::two_decimals")]
    pub payment_amount: ykt_domain::Money,
}

impl Pending {
    pub fn of(tables: &BTreeMap<String, TableFigures>) -> Pending {
        let lines = tables.get("T_FFMX").cloned().unwrap_or_default();
        Pending {
            rows: tables.values().map(|t| t.rejected_rows).sum(),
            payment_lines: lines.rejected_rows,
            payment_amount: lines.rejected_amount,
        }
    }
}

impl Verdict {
    /// The verdict in one sentence, as the report's headline and the terminal give it:
    /// 平衡且无待处理 / 平衡，有 N 笔 ¥X 待县区更正后重新迁移 / 不平衡.
    pub fn sentence(self, p: &Pending) -> String {
        match self {
            Verdict::Clean | Verdict::Unbalanced => self.label().to_owned(),
            Verdict::Pending if p.payment_lines == p.rows => format!(
                "平衡，有 {} 笔 ¥{} 待县区更正后重新迁移",
                p.payment_lines,
                ykt_domain::format_money(p.payment_amount)
            ),
            Verdict::Pending => format!(
                "平衡，有 {} 行待县区更正后重新迁移（其中发放明细 {} 笔 ¥{}）",
                p.rows,
                p.payment_lines,
                ykt_domain::format_money(p.payment_amount)
            ),
        }
    }
}

impl CountySummary {
    pub fn verdict_sentence(&self) -> String {
        self.verdict.sentence(&self.pending)
    }
}

/// The province's totals: the county figures summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceTotals {
    pub counties: u64,
    pub balanced_counties: u64,
    pub tables: BTreeMap<String, TableFigures>,
    pub rejects: BTreeMap<String, u64>,
    pub corrections: BTreeMap<String, u64>,
    pub flags: BTreeMap<String, u64>,
    pub row_diff: RowDiffCounts,
    /// Legacy amounts that do not read as money, province-wide.
    pub unreadable_amount_rows: u64,
}

/// `province.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceSummary {
    pub run_id: String,
    pub balanced: bool,
    pub counties: Vec<CountySummary>,
    pub totals: ProvinceTotals,
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}

impl ProvinceSummary {
    pub(crate) fn new(run_id: &str, counties: Vec<CountySummary>) -> ProvinceSummary {
        let mut totals = ProvinceTotals {
            counties: counties.len() as u64,
            balanced_counties: counties.iter().filter(|c| c.balanced).count() as u64,
            ..ProvinceTotals::default()
        };
        for c in &counties {
            for (t, f) in &c.tables {
                totals.tables.entry(t.clone()).or_default().add(f);
                totals.unreadable_amount_rows += f.unreadable_amount_rows;
            }
            add_counts(&mut totals.rejects, &c.rejects);
            add_counts(&mut totals.corrections, &c.corrections);
            add_counts(&mut totals.flags, &c.flags);
            totals.row_diff.add(&c.row_diff);
        }
        ProvinceSummary {
            run_id: run_id.to_owned(),
            balanced: counties.iter().all(|c| c.balanced),
            counties,
            totals,
        }
    }
}
