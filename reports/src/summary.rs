//! `summary.json` per county and `province.json`, in the shape the county reports promise.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ykt_domain::format_money;
use ykt_reconcile::{CountyBalance, TableFigures};

/// One legacy table's figures; amounts are strings with exactly two decimals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSummary {
    pub source_rows: u64,
    pub loaded_rows: u64,
    pub merged_rows: u64,
    pub rejected_rows: u64,
    pub source_amount: String,
    pub loaded_amount: String,
    pub rejected_amount: String,
    pub unreadable_amount_rows: u64,
}

impl From<&TableFigures> for TableSummary {
    fn from(f: &TableFigures) -> TableSummary {
        TableSummary {
            source_rows: f.source_rows,
            loaded_rows: f.loaded_rows,
            merged_rows: f.merged_rows,
            rejected_rows: f.rejected_rows,
            source_amount: format_money(f.source_amount),
            loaded_amount: format_money(f.loaded_amount),
            rejected_amount: format_money(f.rejected_amount),
            unreadable_amount_rows: f.unreadable_amount_rows,
        }
    }
}

/// Rows of one platform table with no legacy key (the platform's own); amount with two
/// decimals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSummary {
    pub rows: u64,
    pub amount: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDiffSummary {
    pub missing_in_target: u64,
    pub unexpected_in_target: u64,
    pub value_mismatches: u64,
}

impl RowDiffSummary {
    pub fn total(&self) -> u64 {
        self.missing_in_target + self.unexpected_in_target + self.value_mismatches
    }
}

/// A county's `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountySummary {
    pub county_code: String,
    pub county_name: String,
    pub run_id: String,
    pub balanced: bool,
    pub tables: BTreeMap<String, TableSummary>,
    /// Rows the target holds that no legacy row explains, per platform table.
    pub platform_rows: BTreeMap<String, PlatformSummary>,
    pub rejects: BTreeMap<String, u64>,
    pub corrections: BTreeMap<String, u64>,
    pub flags: BTreeMap<String, u64>,
    pub row_diff: RowDiffSummary,
}

impl CountySummary {
    pub(crate) fn new(
        run_id: &str,
        county: &CountyBalance,
        rejects: BTreeMap<String, u64>,
        corrections: BTreeMap<String, u64>,
        flags: BTreeMap<String, u64>,
    ) -> CountySummary {
        CountySummary {
            county_code: county.county_code.clone(),
            county_name: county.county_name.clone(),
            run_id: run_id.to_owned(),
            balanced: county.balanced,
            tables: county
                .tables
                .iter()
                .map(|(t, f)| (t.clone(), TableSummary::from(f)))
                .collect(),
            platform_rows: county
                .platform_rows
                .iter()
                .map(|(t, f)| {
                    (
                        t.clone(),
                        PlatformSummary {
                            rows: f.rows,
                            amount: format_money(f.amount),
                        },
                    )
                })
                .collect(),
            rejects,
            corrections,
            flags,
            row_diff: RowDiffSummary {
                missing_in_target: county.row_diff.missing_in_target,
                unexpected_in_target: county.row_diff.unexpected_in_target,
                value_mismatches: county.row_diff.value_mismatches,
            },
        }
    }
}

/// The province's totals: the county figures summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceTotals {
    pub counties: u64,
    pub balanced_counties: u64,
    pub tables: BTreeMap<String, TableSummary>,
    pub rejects: BTreeMap<String, u64>,
    pub corrections: BTreeMap<String, u64>,
    pub flags: BTreeMap<String, u64>,
    pub row_diff: RowDiffSummary,
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

/// An amount as the summaries write it (two-decimal text) read back.
pub(crate) fn amount(text: &str) -> Decimal {
    text.parse().unwrap_or_default()
}

impl TableSummary {
    /// Legacy rows not loaded, merged or rejected.
    pub(crate) fn row_difference(&self) -> i64 {
        self.source_rows as i64
            - self.loaded_rows as i64
            - self.merged_rows as i64
            - self.rejected_rows as i64
    }

    /// Legacy amount not loaded or rejected.
    pub(crate) fn amount_difference(&self) -> Decimal {
        amount(&self.source_amount) - amount(&self.loaded_amount) - amount(&self.rejected_amount)
    }
}

impl ProvinceSummary {
    pub(crate) fn new(run_id: &str, counties: Vec<CountySummary>) -> ProvinceSummary {
        let mut totals = ProvinceTotals {
            counties: counties.len() as u64,
            balanced_counties: counties.iter().filter(|c| c.balanced).count() as u64,
            ..ProvinceTotals::default()
        };
        let mut sums: BTreeMap<String, TableFigures> = BTreeMap::new();
        for c in &counties {
            for (t, f) in &c.tables {
                let s = sums.entry(t.clone()).or_default();
                s.source_rows += f.source_rows;
                s.loaded_rows += f.loaded_rows;
                s.merged_rows += f.merged_rows;
                s.rejected_rows += f.rejected_rows;
                s.source_amount += amount(&f.source_amount);
                s.loaded_amount += amount(&f.loaded_amount);
                s.rejected_amount += amount(&f.rejected_amount);
                s.unreadable_amount_rows += f.unreadable_amount_rows;
                totals.unreadable_amount_rows += f.unreadable_amount_rows;
            }
            add_counts(&mut totals.rejects, &c.rejects);
            add_counts(&mut totals.corrections, &c.corrections);
            add_counts(&mut totals.flags, &c.flags);
            totals.row_diff.missing_in_target += c.row_diff.missing_in_target;
            totals.row_diff.unexpected_in_target += c.row_diff.unexpected_in_target;
            totals.row_diff.value_mismatches += c.row_diff.value_mismatches;
        }
        totals.tables = sums
            .iter()
            .map(|(t, f)| (t.clone(), TableSummary::from(f)))
            .collect();
        ProvinceSummary {
            run_id: run_id.to_owned(),
            balanced: counties.iter().all(|c| c.balanced),
            counties,
            totals,
        }
    }
}
