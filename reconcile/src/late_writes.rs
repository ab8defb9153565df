//! `A_LEGACY_WRITE_AFTER_FREEZE`: legacy rows stamped (GXSJ) after the freeze, each in the
//! county the legacy side of the balance counts it in (a line: its batch's, else its
//! beneficiary's).
//!
//! Found in the control totals' one pass over the legacy tables ([`crate::reconcile`]), which
//! reads every person, batch and line with its county already: each row's stamp comes back
//! only when it is after the freeze (a `CASE` beside the row's other columns). A scan of its
//! own read T_FFMX once more, joined with the batches and people, at the end of the flags.

use chrono::NaiveDateTime;
use ykt_db::Engine;
use ykt_domain::{AuditFlag, LegacyTable};

use crate::FlagHit;

/// The freeze as legacy stamps GXSJ (`YYYY-MM-DD HH:MM:SS`, Beijing time).
pub(crate) fn stamp_text(frozen_from: NaiveDateTime) -> String {
    frozen_from.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A select-list expression: the row's stamp (`column`) read as text (`as_text`) when it is
/// after the freeze, else NULL. A stamp equal to the freeze is the freeze itself, not after
/// it. Without a freeze to compare with, always NULL.
pub(crate) fn stamp_after(
    engine: Engine,
    frozen_from: Option<&str>,
    column: &str,
    as_text: &str,
) -> String {
    match frozen_from {
        Some(frozen) => format!(
            "CASE WHEN {column} > {} THEN {as_text} END",
            ykt_db::quote_literal(engine, frozen)
        ),
        None => "NULL".to_owned(),
    }
}

/// The flag of one legacy row changed after the freeze.
pub(crate) fn flag(
    table: LegacyTable,
    key: &str,
    county: &str,
    frozen_from: &str,
    stamp: &str,
) -> FlagHit {
    FlagHit {
        flag: AuditFlag::LegacyWriteAfterFreeze.code(),
        county_code: county.to_owned(),
        table: match table {
            LegacyTable::Beneficiaries => "beneficiary",
            LegacyTable::Batches => "payment_batch",
            LegacyTable::Allocations => "allocation",
            _ => "payment",
        },
        legacy_keys: vec![key.to_owned()],
        detail: format!("旧系统在冻结（{frozen_from}）后仍有改动，更新时间 {stamp}"),
    }
}
