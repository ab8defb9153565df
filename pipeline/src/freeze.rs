//! The year-end freeze (`cutover-policy.md` § Freeze), in order: the frozen guard on both
//! sides, a final sync, every line still owned by legacy carried over to the new platform, a
//! final reconciliation with each county's carried-over lines, and an archive of every legacy
//! table to Parquet with checksums. Each finished step is recorded in the target, so a freeze
//! that was interrupted is run again and skips what was done.

use std::path::{Path, PathBuf};

use ykt_cutover::{Context, Phase, Side};
use ykt_db::{Db, DbUrl};
use ykt_extract::LegacySource;
use ykt_stage::{ExtractManifest, Stage, Step, TransformManifest, TransformOptions};

use crate::reconcile::{ReconcileOutcome, ReportSettings, reconcile_and_report};
use crate::sync::{SyncOptions, SyncReport, sync};
use crate::target::{WriteTarget, lock_stage, open_for_writing};
use crate::{PipelineError, input};

/// What a freeze needs, checked before its first step ([`plan`]).
#[derive(Debug, Clone)]
pub struct FreezeRequest {
    pub legacy: DbUrl,
    pub stage: PathBuf,
    pub target: DbUrl,
    pub archive: PathBuf,
    pub reports: ReportSettings,
    /// Who does it, for the record.
    pub by: String,
}

/// A freeze whose every folder and database has been checked: it will not stop at step 5 for
/// an archive folder it could have refused before step 1.
pub struct FreezePlan {
    request: FreezeRequest,
    stage: Stage,
    target: WriteTarget,
    _stage_lock: ykt_stage::StageLock,
}

/// What happened at one step, as it happens (the command line prints it).
#[derive(Debug, Clone)]
pub enum FreezeStep {
    Guard { side: Side, triggers: usize },
    FinalSync(Option<SyncReport>),
    CarryOver(Option<u64>),
    Reconciling,
    Archived { tables: usize, dir: PathBuf },
}

/// Checks everything a freeze needs before its first step: the phase, the archive folder
/// (writable, with room for the legacy tables), the report folder, the target (locked) and
/// the stage (locked).
pub async fn plan(context: &Context, request: FreezeRequest) -> Result<FreezePlan, PipelineError> {
    let phase = context.phase();
    if phase != Phase::Frozen {
        return Err(input(format!(
            "at {} the phase is {}; the freeze is at {} (rehearse with --at)",
            context.stamp(),
            phase.name(),
            context.policy.frozen_from
        )));
    }
    writable_archive(&request.archive, &request.stage)?;
    ykt_reports::prepare_out(&request.reports.out)?;
    let stage = Stage::new(&request.stage);
    let target = open_for_writing(&request.target, "freeze", false, Some(&request.legacy)).await?;
    let stage_lock = lock_stage(&stage, "freeze", true)?;
    Ok(FreezePlan {
        request,
        stage,
        target,
        _stage_lock: stage_lock,
    })
}

/// Runs a planned freeze, telling each step as it ends; returns the final reconciliation.
pub async fn execute(
    context: &Context,
    plan: FreezePlan,
    on_step: &mut dyn FnMut(FreezeStep),
) -> Result<ReconcileOutcome, PipelineError> {
    let FreezePlan {
        request,
        stage,
        target,
        _stage_lock,
    } = plan;
    let target = &target.db;
    ykt_load::apply_migrations(target).await?;
    // 1. The frozen guard, on both sides (installing it again is harmless).
    let legacy = Db::connect(&request.legacy).await?;
    for (side, db) in [(Side::Legacy, &legacy), (Side::Target, target)] {
        let (triggers, _) = crate::guard::install(
            context,
            target,
            side,
            db,
            Phase::Frozen,
            &request.by,
            "year-end freeze",
        )
        .await?;
        on_step(FreezeStep::Guard { side, triggers });
    }
    legacy.close().await;
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 2. The final sync.
    if ykt_cutover::step_done(target, "final-sync").await? {
        on_step(FreezeStep::FinalSync(None));
    } else {
        let options = SyncOptions {
            context,
            lookback_minutes: 10,
            carry_over: false,
        };
        let report = sync(&request.legacy, target, &stage, &options).await?;
        ykt_cutover::mark_step(target, "final-sync", &context.stamp()).await?;
        on_step(FreezeStep::FinalSync(Some(report)));
    }
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 3. Carry over.
    if ykt_cutover::step_done(target, "carry-over").await? {
        on_step(FreezeStep::CarryOver(None));
    } else {
        let n = ykt_cutover::carry_over(target, &context.stamp()).await?;
        ykt_cutover::mark_step(target, "carry-over", &context.stamp()).await?;
        on_step(FreezeStep::CarryOver(Some(n)));
    }
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 4. The final reconciliation: the stage is transformed again with every line owned by the
    // new platform; the snapshot, and so the run its rows are recorded under, stays the same.
    let as_of = stage
        .manifest::<TransformManifest>(Step::Transform)
        .ok()
        .map(|m| m.as_of);
    ykt_transform::transform(
        &stage,
        &TransformOptions {
            legacy_owns_up_to: None,
            as_of,
            overwrite: true,
        },
        &|_, _| {},
    )?;
    on_step(FreezeStep::Reconciling);
    let source = LegacySource::Database(request.legacy.clone());
    let outcome =
        reconcile_and_report(context, &source, &stage, &request.target, &request.reports).await?;
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 5. The archive.
    let manifest = archive(&request.legacy, &request.archive).await?;
    if !ykt_cutover::step_done(target, "archive").await? {
        ykt_cutover::mark_step(target, "archive", &context.stamp()).await?;
    }
    on_step(FreezeStep::Archived {
        tables: manifest.tables.len(),
        dir: request.archive.clone(),
    });
    Ok(outcome)
}

/// Checks that the archive folder can be written: created readable by its owner only (it holds
/// every legacy row), a file written and removed in it, and room for the legacy tables.
pub fn writable_archive(dir: &Path, stage: &Path) -> Result<(), PipelineError> {
    let refuse = |e: &dyn std::fmt::Display| {
        input(format!(
            "the archive folder {} cannot be written ({e}); choose another --archive before the freeze starts",
            dir.display()
        ))
    };
    ykt_stage::create_private_dir(dir).map_err(|e| refuse(&e))?;
    let probe = dir.join(".ykt-probe");
    std::fs::write(&probe, b"ykt").map_err(|e| refuse(&e))?;
    std::fs::remove_file(&probe).map_err(|e| refuse(&e))?;
    // The archive is about as large as the stage's copy of the legacy tables.
    let needed: u64 = std::fs::read_dir(stage.join("legacy"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let free = fs4::available_space(dir).unwrap_or(u64::MAX);
    if needed > free {
        return Err(refuse(&format!(
            "it has {} KiB free, the legacy tables take about {} KiB",
            free / 1024,
            needed / 1024
        )));
    }
    Ok(())
}

/// Archives every legacy table to Parquet with a SHA-256 each (the extract's own manifest),
/// and checks the files against it.
pub async fn archive(legacy: &DbUrl, dir: &Path) -> Result<ExtractManifest, PipelineError> {
    let stage = Stage::new(dir);
    ykt_extract::extract(
        &LegacySource::Database(legacy.clone()),
        &stage,
        true,
        &|_, _| {},
    )
    .await?;
    Ok(ykt_stage::verified_extract(&stage)?)
}
