//! The freeze at year end, and the records every cutover command keeps in the target.

use ykt_db::{Db, DbUrl, Engine, cast_text, quote_literal};
use ykt_extract::{LegacySource, ident};
use ykt_stage::Stage;

use crate::{CutoverError, Phase};

/// Records a guard installed or removed: who, when, which phase, why.
#[allow(clippy::too_many_arguments)]
pub async fn record_guard(
    target: &Db,
    at: &str,
    action: &str,
    system: &str,
    phase: Phase,
    database: &str,
    by: &str,
    reason: &str,
) -> Result<(), CutoverError> {
    let e = target.engine();
    let q = |v: &str| quote_literal(e, v);
    target
        .execute(
            "recording the guard",
            &format!(
                "INSERT INTO cutover_guard_event (at, action, system, phase, database, by_whom, reason) VALUES ({}, {}, {}, {}, {}, {}, {})",
                q(at),
                q(action),
                q(system),
                q(phase.name()),
                q(database),
                q(by),
                q(reason)
            ),
        )
        .await?;
    Ok(())
}

/// Whether a freeze step is done already (a re-run skips it).
pub async fn step_done(target: &Db, step: &str) -> Result<bool, CutoverError> {
    Ok(target
        .fetch_i64(
            "reading the freeze steps",
            &format!(
                "SELECT COUNT(*) FROM cutover_freeze_step WHERE step = {}",
                quote_literal(target.engine(), step)
            ),
        )
        .await?
        .unwrap_or(0)
        > 0)
}

pub async fn mark_step(target: &Db, step: &str, at: &str) -> Result<(), CutoverError> {
    let e = target.engine();
    target
        .execute(
            "recording a freeze step",
            &format!(
                "INSERT INTO cutover_freeze_step (step, done_at) VALUES ({}, {})",
                quote_literal(e, step),
                quote_literal(e, at)
            ),
        )
        .await?;
    Ok(())
}

/// Every line still owned by legacy becomes the new platform's; each is listed in
/// `cutover_carry_over` in the same transaction. Returns the lines carried over now.
pub async fn carry_over(target: &Db, at: &str) -> Result<u64, CutoverError> {
    let e = target.engine();
    let before = target
        .fetch_i64(
            "counting carried-over lines",
            "SELECT COUNT(*) FROM cutover_carry_over",
        )
        .await?
        .unwrap_or(0);
    let amount = if e == Engine::Postgres {
        "CAST(amount AS TEXT)"
    } else {
        "amount"
    };
    target
        .execute_in_transaction(
            "carrying over the lines owned by legacy",
            &[
                format!(
                    "INSERT INTO cutover_carry_over (legacy_mxid, county_code, program_code, fund_year, amount, status, carried_at) SELECT legacy_mxid, county_code, program_code, fund_year, {amount}, status, {} FROM payment WHERE system_of_record = 'legacy' AND legacy_mxid IS NOT NULL AND legacy_mxid NOT IN (SELECT legacy_mxid FROM cutover_carry_over)",
                    quote_literal(e, at)
                ),
                "UPDATE payment SET system_of_record = 'new' WHERE system_of_record = 'legacy'".to_owned(),
            ],
        )
        .await?;
    let after = target
        .fetch_i64(
            "counting carried-over lines",
            "SELECT COUNT(*) FROM cutover_carry_over",
        )
        .await?
        .unwrap_or(0);
    Ok((after - before) as u64)
}

/// A legacy row changed after the freeze (GXSJ in Beijing time).
#[derive(Debug, Clone)]
pub struct LateWrite {
    pub table: &'static str,
    pub key: String,
    /// The row's own region code (for a payment line: its batch's).
    pub region: Option<String>,
    /// For a payment line, its beneficiary's region code: the county when the batch tells none.
    pub fallback_region: Option<String>,
    pub stamp: String,
}

/// Legacy rows stamped after `frozen_from` (`YYYY-MM-DD HH:MM:SS`, Beijing time); a stamp equal
/// to the freeze is the freeze itself, not after it.
pub async fn writes_after(legacy: &Db, frozen_from: &str) -> Result<Vec<LateWrite>, CutoverError> {
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

/// Archives every legacy table to Parquet with a SHA-256 each (the extract's own manifest),
/// and checks the files against it.
pub async fn archive(
    legacy: &DbUrl,
    dir: &std::path::Path,
) -> Result<ykt_extract::ExtractManifest, CutoverError> {
    let stage = Stage::new(dir);
    ykt_extract::extract(
        &LegacySource::Database(legacy.clone()),
        &stage,
        true,
        &|_, _| {},
    )
    .await?;
    Ok(ykt_extract::verified_extract(&stage)?)
}
