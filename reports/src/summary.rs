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
        CountySummary {
            county_code: county.county_code.clone(),
            county_name: county.county_name.clone(),
            run_id: run_id.to_owned(),
            balanced: county.balanced,
            tables: county.tables.clone(),
            platform_rows: county.platform_rows.clone(),
            rejects,
            corrections,
            flags,
            row_diff: county.row_diff,
        }
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
