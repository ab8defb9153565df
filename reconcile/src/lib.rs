//! Reconciles legacy and target independently of the transform: control totals read straight
//! from both sides, and the balance identity of `mapping-rules.md` checked for every county
//! and table:
//!
//! `source rows = loaded rows + merged rows + rejected rows`, and for T_FFMX and T_ZJZB
//! `source amount = loaded amount + rejected amount` (over amounts that read as money; the
//! rows whose amount does not are counted and listed separately).
//!
//! The legacy side comes from the legacy database by SQL (or, for an export source, from the
//! raw extracted snapshot); the loaded side from the target by SQL. Nothing is taken from the
//! pipeline's own counters. County attribution and money reading are written here again, on
//! purpose: a second, simple implementation to check the first.

mod balance;
mod breakdown;
mod diff;
#[cfg(test)]
mod differential_tests;
mod flags;
mod late_writes;
mod legacy_side;
mod rejected;
mod watch;

/// A map hashed by foldhash, seeded for each run: for the lookups every legacy row or payment
/// line makes (SipHash, the standard map's, was 2 to 8 % of the paths' CPU).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub use balance::{
    BreakdownRow, CountyBalance, LegacyPass, PlatformFigures, Reconciliation, RowDiffCounts,
    TableFigures, UnreadableAmount, reconcile,
};

/// A platform table's Chinese caption, e.g. `发放明细` for `payment`.
pub fn platform_caption(table: &str) -> &'static str {
    match table {
        "payment" => "发放明细",
        "payment_batch" => "发放批次",
        "allocation" => "资金指标",
        "beneficiary" => "补贴对象",
        _ => "",
    }
}
pub use diff::{RowDiff, compare as compare_rows, diff_counties, row_diff};
pub use flags::{FlagHit, audit_flags};
pub use legacy_side::LegacySide;
pub use watch::LineCandidates;

/// Reconcile errors.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error(transparent)]
    Stage(#[from] ykt_stage::StageError),
    #[error("{url}: the target has no migration run {run_id}; load the stage first")]
    NoRun { url: String, run_id: String },
    #[error("{0}")]
    Target(String),
}

impl ReconcileError {
    pub fn is_input_error(&self) -> bool {
        match self {
            ReconcileError::Db(e) => e.is_input_error(),
            ReconcileError::Stage(e) => e.is_input_error(),
            ReconcileError::NoRun { .. } => true,
            ReconcileError::Target(_) => false,
        }
    }
}
