//! `A_LEGACY_WRITE_AFTER_FREEZE`: legacy rows stamped (GXSJ) after the freeze, each in the
//! county the legacy side of the balance counts it in (a line: its batch's, else its
//! beneficiary's).

use chrono::NaiveDateTime;
use ykt_db::{Db, cast_text, ident, quote_literal};
use ykt_domain::{AuditFlag, Regions, UNATTRIBUTED_COUNTY};

use crate::legacy_side::county_of;
use crate::{FlagHit, ReconcileError};

/// The flag for every legacy row changed after `frozen_from` (Beijing time); a stamp equal to
/// the freeze is the freeze itself, not after it.
pub async fn writes_after_freeze(
    legacy: &Db,
    frozen_from: NaiveDateTime,
) -> Result<Vec<FlagHit>, ReconcileError> {
    let frozen = frozen_from.format("%Y-%m-%d %H:%M:%S").to_string();
    let regions = Regions::shaanxi();
    Ok(writes_after(legacy, &frozen)
        .await?
        .into_iter()
        .map(|w| FlagHit {
            flag: AuditFlag::LegacyWriteAfterFreeze.code(),
            county_code: match county_of(&regions, w.region.as_deref()) {
                c if c == UNATTRIBUTED_COUNTY => county_of(&regions, w.fallback_region.as_deref()),
                c => c,
            },
            table: match w.table {
                "T_BTDX" => "beneficiary",
                "T_FFPC" => "payment_batch",
                _ => "payment",
            },
            legacy_keys: vec![w.key],
            detail: format!("旧系统在冻结（{frozen}）后仍有改动，更新时间 {}", w.stamp),
        })
        .collect())
}

/// A legacy row changed after the freeze (GXSJ in Beijing time).
#[derive(Debug, Clone)]
struct LateWrite {
    table: &'static str,
    key: String,
    /// The row's own region code (for a payment line: its batch's).
    region: Option<String>,
    /// For a payment line, its beneficiary's region code: the county when the batch tells none.
    fallback_region: Option<String>,
    stamp: String,
}

/// Legacy rows stamped after `frozen_from` (`YYYY-MM-DD HH:MM:SS`, Beijing time); a stamp equal
/// to the freeze is the freeze itself, not after it.
async fn writes_after(legacy: &Db, frozen_from: &str) -> Result<Vec<LateWrite>, ReconcileError> {
    let e = legacy.engine();
    let text = |x: &str| cast_text(e, x);
    let mut out = Vec::new();
    for (table, key, region) in [("T_BTDX", "DXID", "XZQHDM"), ("T_FFPC", "PCID", "XZQHDM")] {
        let sql = format!(
            "SELECT {}, {}, {} FROM {} WHERE {} > {} ORDER BY 1",
            text(&ident(e, key)),
            text(&ident(e, region)),
            text(&ident(e, "GXSJ")),
            ident(e, table),
            ident(e, "GXSJ"),
            quote_literal(e, frozen_from)
        );
        for r in legacy
            .fetch_text_rows("looking for writes after the freeze", &sql)
            .await?
        {
            out.push(LateWrite {
                table,
                key: r[0].clone().unwrap_or_default(),
                region: r[1].clone(),
                fallback_region: None,
                stamp: r[2].clone().unwrap_or_default(),
            });
        }
    }
    let sql = format!(
        "SELECT {}, {}, {}, {} FROM {} m LEFT JOIN {} p ON p.{pc} = m.{pc} LEFT JOIN {} d ON d.{dx} = m.{dx} WHERE m.{g} > {} ORDER BY 1",
        text(&format!("m.{}", ident(e, "MXID"))),
        text(&format!("p.{}", ident(e, "XZQHDM"))),
        text(&format!("m.{}", ident(e, "GXSJ"))),
        text(&format!("d.{}", ident(e, "XZQHDM"))),
        ident(e, "T_FFMX"),
        ident(e, "T_FFPC"),
        ident(e, "T_BTDX"),
        quote_literal(e, frozen_from),
        pc = ident(e, "PCID"),
        dx = ident(e, "DXID"),
        g = ident(e, "GXSJ"),
    );
    for r in legacy
        .fetch_text_rows("looking for writes after the freeze", &sql)
        .await?
    {
        out.push(LateWrite {
            table: "T_FFMX",
            key: r[0].clone().unwrap_or_default(),
            region: r[1].clone(),
            fallback_region: r[3].clone(),
            stamp: r[2].clone().unwrap_or_default(),
        });
    }
    Ok(out)
}
