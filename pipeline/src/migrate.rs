//! A migration, as `ykt migrate` runs it: the checks that can be made before any work (the
//! target reachable, not the legacy database, no other writer; the stage free; a resumed stage
//! from the source named), then extract → transform → load, each step reporting its progress.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ykt_cutover::Context;
use ykt_db::DbUrl;
use ykt_extract::LegacySource;
use ykt_load::{LoadOptions, LoadReport};
use ykt_stage::{ExtractManifest, Stage, TransformManifest, TransformOptions};

use crate::target::{WriteTarget, lock_stage, open_for_writing, same_source};
use crate::{PipelineError, input};

/// The steps of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Extract,
    Transform,
    Load,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Extract => "extract",
            Step::Transform => "transform",
            Step::Load => "load",
        }
    }
}

/// Where a long step stands, for a progress display. Called from worker threads.
pub trait Progress: Send + Sync {
    /// `step` has done `rows` rows of `what` (a legacy table, or a county for the load).
    fn advance(&self, step: Step, what: &str, rows: u64);
    /// `step` ended, well or not.
    fn end(&self, step: Step);
}

/// No progress display (tests, scripts).
pub struct Quiet;

impl Progress for Quiet {
    fn advance(&self, _: Step, _: &str, _: u64) {}
    fn end(&self, _: Step) {}
}

/// What to migrate, and how.
pub struct MigrateRequest {
    pub source: LegacySource,
    pub stage: Stage,
    /// The new platform; `None` only for a dry run.
    pub target: Option<DbUrl>,
    /// Say what would be loaded, without touching the target.
    pub dry_run: bool,
    /// Continue a crashed migration: reuse a finished stage and skip loaded counties.
    pub resume: bool,
    /// The day ID numbers' birth dates are judged against (default: the extract's day).
    pub as_of: Option<NaiveDate>,
    /// Load even a source much smaller than the target's last load.
    pub allow_shrink: bool,
}

/// What a migration did.
pub struct MigrateOutcome {
    /// Per county and table: read, loaded, merged, rejected.
    pub manifest: TransformManifest,
    /// How long each step that ran took, in order.
    pub timings: Vec<(Step, Duration)>,
    /// The load's report; `None` for a dry run.
    pub load: Option<LoadReport>,
}

/// Extracts `source` into `stage` (replacing what it holds when `overwrite`).
pub async fn extract(
    source: &LegacySource,
    stage: &Stage,
    overwrite: bool,
    progress: &Arc<dyn Progress>,
) -> Result<(ExtractManifest, Duration), PipelineError> {
    let started = Instant::now();
    let on_rows = |table: &str, rows: u64| progress.advance(Step::Extract, table, rows);
    let manifest = ykt_extract::extract(source, stage, overwrite, &on_rows).await;
    progress.end(Step::Extract);
    let manifest = manifest?;
    let rows: u64 = manifest.tables.values().map(|t| t.rows).sum();
    tracing::info!(rows, source = %source, "Extract finished.");
    Ok((manifest, started.elapsed()))
}

/// Transforms the stage. Pending or failed lines of fund years up to the policy's routing year
/// (`legacy_max_fund_year`, 2019 by the notice) stay owned by legacy.
pub async fn transform(
    ctx: &Context,
    stage: &Stage,
    as_of: Option<NaiveDate>,
    progress: &Arc<dyn Progress>,
) -> Result<(TransformManifest, Duration), PipelineError> {
    let started = Instant::now();
    let options = TransformOptions {
        legacy_owns_up_to: Some(ctx.policy.legacy_max_fund_year),
        as_of,
        overwrite: true,
    };
    let worker_stage = stage.clone();
    let worker_progress = Arc::clone(progress);
    let manifest = tokio::task::spawn_blocking(move || {
        ykt_transform::transform(&worker_stage, &options, &|table, rows| {
            worker_progress.advance(Step::Transform, table, rows)
        })
    })
    .await;
    progress.end(Step::Transform);
    let manifest = manifest??;
    Ok((manifest, started.elapsed()))
}

/// Loads the transformed stage into the target, county by county.
pub async fn load(
    stage: &Stage,
    target: &mut WriteTarget,
    options: &LoadOptions,
    progress: &Arc<dyn Progress>,
) -> Result<(LoadReport, Duration), PipelineError> {
    let started = Instant::now();
    let on_rows = |county: &str, rows: u64| progress.advance(Step::Load, county, rows);
    let report = ykt_load::load(stage, &target.db, options, Some(&mut target.lock), &on_rows).await;
    progress.end(Step::Load);
    Ok((report?, started.elapsed()))
}

/// Runs a whole migration. Everything that can be refused is refused before the extract.
pub async fn migrate(
    ctx: &Context,
    request: MigrateRequest,
    progress: &Arc<dyn Progress>,
) -> Result<MigrateOutcome, PipelineError> {
    let MigrateRequest {
        source,
        stage,
        target,
        dry_run,
        resume,
        as_of,
        allow_shrink,
    } = request;
    let legacy = match &source {
        LegacySource::Database(url) => Some(url),
        LegacySource::Export(_) => None,
    };
    let target = match (&target, dry_run) {
        (Some(url), false) => Some(open_for_writing(url, "migrate", true, legacy).await?),
        (None, false) => return Err(input("--target URL is required unless --dry-run")),
        (_, true) => None,
    };
    let _stage_lock = lock_stage(&stage, "migrate", true)?;
    let mut timings = Vec::new();
    let manifest = if resume && stage.is_done(ykt_stage::Step::Transform) {
        same_source(
            &stage,
            &source,
            &format!("run without --resume to extract {source}, or use that stage's own source"),
        )?;
        tracing::info!(stage = %stage.dir().display(), "Resuming: the stage is already transformed.");
        stage.manifest(ykt_stage::Step::Transform).map_err(input)?
    } else {
        let (_, took) = extract(&source, &stage, true, progress).await?;
        timings.push((Step::Extract, took));
        let (manifest, took) = transform(ctx, &stage, as_of, progress).await?;
        timings.push((Step::Transform, took));
        manifest
    };
    let Some(mut target) = target else {
        return Ok(MigrateOutcome {
            manifest,
            timings,
            load: None,
        });
    };
    // Resuming a run the target never began (the crash came before the load) is a plain load.
    let resume = resume && ykt_load::run_started(&stage, &target.db).await?;
    let options = LoadOptions {
        resume,
        allow_shrink,
    };
    let (report, took) = load(&stage, &mut target, &options, progress).await?;
    target.db.close().await;
    timings.push((Step::Load, took));
    Ok(MigrateOutcome {
        manifest,
        timings,
        load: Some(report),
    })
}
