//! The freeze at year end, and the records every cutover command keeps in the target.

use ykt_db::{Db, Engine, quote_literal};

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
