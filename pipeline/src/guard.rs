//! Putting a phase's guards on and taking them off, each recorded in the target.

use ykt_cutover::{Context, Phase, Side};
use ykt_db::Db;

use crate::PipelineError;

/// Puts a phase's guard on one database (and sets the legacy application account's write
/// privileges), and records it in the target. Returns the triggers created and what was done
/// to the privileges.
pub async fn install(
    context: &Context,
    target: &Db,
    side: Side,
    db: &Db,
    phase: Phase,
    by: &str,
    reason: &str,
) -> Result<(usize, String), PipelineError> {
    let policy = &context.policy;
    let n = ykt_cutover::install(db, side, policy, phase).await?;
    let mut note = String::new();
    if side == Side::Legacy
        && let Some(account) = &policy.legacy_account
    {
        let writes = matches!(phase, Phase::Open | Phase::DualRun);
        if let Some(sql) = ykt_cutover::set_write_privileges(db, account, writes).await? {
            note = format!("; {sql}");
        }
    }
    let step = Step {
        action: "install",
        side,
        phase,
        by,
    };
    record(context, target, db, step, &format!("{reason}{note}")).await?;
    Ok((n, note))
}

/// Takes every guard off one database, gives the legacy application account its write
/// privileges back, and records it in the target. Returns the triggers removed.
pub async fn remove(
    context: &Context,
    target: &Db,
    side: Side,
    db: &Db,
    phase: Phase,
    by: &str,
    reason: &str,
) -> Result<usize, PipelineError> {
    let n = ykt_cutover::remove(db).await?;
    if side == Side::Legacy
        && let Some(account) = &context.policy.legacy_account
    {
        ykt_cutover::set_write_privileges(db, account, true).await?;
    }
    let step = Step {
        action: "remove",
        side,
        phase,
        by,
    };
    record(context, target, db, step, reason).await?;
    Ok(n)
}

/// A guard step as the target's record names it.
struct Step<'a> {
    action: &'static str,
    side: Side,
    phase: Phase,
    by: &'a str,
}

/// Records a guard step on `db` in the target, at the context's moment.
async fn record(
    context: &Context,
    target: &Db,
    db: &Db,
    step: Step<'_>,
    reason: &str,
) -> Result<(), PipelineError> {
    ykt_cutover::record_guard(
        target,
        &context.stamp(),
        step.action,
        step.side.name(),
        step.phase,
        &db.url().to_string(),
        step.by,
        reason,
    )
    .await?;
    Ok(())
}
