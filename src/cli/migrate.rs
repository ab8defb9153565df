//! `ykt extract`, `ykt transform`, `ykt load` and `ykt migrate` (all three).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ykt_extract::LegacySource;
use ykt_stage::Stage;
use ykt_transform::{TableCounts, TransformManifest, TransformOptions};

use super::{Classify, Failure, input, lock_stage, open_target_for_writing};

/// Where the legacy data comes from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The legacy database: mysql://USER:PASS@HOST:3306/DB (MariaDB), postgres://… or
    /// sqlite://FILE. Read from one consistent snapshot.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "legacy_export",
        conflicts_with = "legacy_export"
    )]
    legacy: Option<String>,
    /// The legacy export folder instead: one CSV per table (GBK or UTF-8, Chinese captions).
    #[arg(long, value_name = "DIR")]
    legacy_export: Option<PathBuf>,
}

impl SourceArgs {
    pub(crate) fn source(&self) -> Result<LegacySource, Failure> {
        match (&self.legacy, &self.legacy_export) {
            (Some(url), _) => Ok(LegacySource::Database(
                url.parse::<ykt_db::DbUrl>().classify()?,
            )),
            (None, Some(dir)) if dir.is_dir() => Ok(LegacySource::Export(dir.clone())),
            (None, Some(dir)) => Err(input(format!(
                "the export folder {} does not exist",
                dir.display()
            ))),
            (None, None) => Err(input(
                "say where legacy is: --legacy URL or --legacy-export DIR",
            )),
        }
    }
}

/// The stage folder.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// The stage folder that holds what each step hands the next (Parquet + manifests).
    #[arg(long, value_name = "DIR", default_value = "ykt-stage")]
    pub(crate) stage: PathBuf,
}

/// Read every legacy table into the stage folder, values exactly as found.
///
/// Streams each table page by page from one consistent snapshot (or reads the export folder),
/// writes Parquet files and a manifest with row counts, checksums and the source fingerprint.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    stage: StageArgs,
    /// Replace what the stage folder holds (also after an interrupted extract).
    #[arg(long)]
    overwrite: bool,
}

/// Apply the mapping rules to an extracted stage: every row loaded, corrected or rejected.
#[derive(Debug, Args)]
pub struct TransformArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// Pending or failed lines of fund years up to this one stay owned by legacy.
    #[arg(long, default_value_t = 2019)]
    routing_year: i16,
    #[command(flatten)]
    as_of: AsOfArgs,
}

/// The day ID numbers' birth dates are judged against.
#[derive(Debug, Args)]
pub struct AsOfArgs {
    /// Judge ID numbers' birth dates against this day (YYYY-MM-DD): a birth date after it is
    /// impossible. Default: the day the extract finished (Beijing time). Recorded in the stage
    /// and shown in the reports, so a rehearsal and the real run judge the same IDs alike.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) as_of: Option<chrono::NaiveDate>,
}

fn parse_day(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a day; write it as 2020-11-10"))
}

/// Load a transformed stage into the new platform, county by county.
///
/// Idempotent: loading the same stage again leaves the target identical. Loading another
/// stage replaces the migrated data. --resume skips the counties a crashed run committed.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// The new platform: postgres://USER:PASS@HOST:5432/DB or sqlite://FILE.
    #[arg(long, value_name = "URL")]
    target: String,
    /// Skip the counties this run already committed.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    shrink: ShrinkArgs,
}

/// The guard against replacing a loaded target with much less data.
#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// Load even when the source has fewer rows of a table than the target's last load (by
    /// more than 1 %), as an empty legacy database or a truncated export would. Without it such
    /// a load is refused, naming both counts.
    #[arg(long)]
    pub(crate) allow_shrink: bool,
}

/// Extract, transform and load in one go.
///
/// Example:
///   ykt migrate --legacy mysql://root@127.0.0.1:3306/legacy --target postgres://postgres@127.0.0.1/ykt
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct MigrateArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    stage: StageArgs,
    /// The new platform: postgres://USER:PASS@HOST:5432/DB or sqlite://FILE.
    #[arg(long, value_name = "URL", required_unless_present = "dry_run")]
    target: Option<String>,
    /// Extract and transform, and say what would be loaded, without touching the target.
    #[arg(long)]
    dry_run: bool,
    /// Continue a crashed migration: reuse the finished stage and skip loaded counties.
    #[arg(long)]
    resume: bool,
    /// Pending or failed lines of fund years up to this one stay owned by legacy.
    #[arg(long, default_value_t = 2019)]
    routing_year: i16,
    #[command(flatten)]
    as_of: AsOfArgs,
    #[command(flatten)]
    shrink: ShrinkArgs,
}

fn bar(prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(prefix.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn rate(rows: u64, started: Instant) -> String {
    let secs = started.elapsed().as_millis().max(1);
    format!("{}/s", u128::from(rows) * 1000 / secs)
}

async fn run_extract(
    source: &LegacySource,
    stage: &Stage,
    overwrite: bool,
) -> Result<Duration, Failure> {
    let started = Instant::now();
    let pb = bar("extract");
    let pb2 = pb.clone();
    let progress = move |table: &str, rows: u64| {
        pb2.set_message(format!("{table} {rows} rows, {}", rate(rows, started)))
    };
    let manifest = ykt_extract::extract(source, stage, overwrite, &progress).await;
    pb.finish_and_clear();
    let manifest = manifest.classify()?;
    let rows: u64 = manifest.tables.values().map(|t| t.rows).sum();
    tracing::info!(rows, source = %source, "Extract finished.");
    Ok(started.elapsed())
}

async fn run_transform(
    stage: &Stage,
    routing_year: i16,
    as_of: Option<chrono::NaiveDate>,
) -> Result<(TransformManifest, Duration), Failure> {
    let started = Instant::now();
    let pb = bar("transform");
    let stage2 = stage.clone();
    let pb2 = pb.clone();
    let options = TransformOptions {
        routing_year,
        as_of,
        ..TransformOptions::default()
    };
    let manifest = tokio::task::spawn_blocking(move || {
        ykt_transform::transform(&stage2, &options, &|table, rows| {
            pb2.set_message(format!("{table} {rows} rows, {}", rate(rows, started)))
        })
    })
    .await
    .map_err(|e| Failure::Run(e.into()))?;
    pb.finish_and_clear();
    Ok((manifest.classify()?, started.elapsed()))
}

async fn run_load(
    stage: &Stage,
    target: &mut super::WriteTarget,
    options: &ykt_load::LoadOptions,
) -> Result<(ykt_load::LoadReport, Duration), Failure> {
    let started = Instant::now();
    let pb = bar("load");
    let pb2 = pb.clone();
    let progress =
        move |county: &str, rows: u64| pb2.set_message(format!("county {county}: {rows} rows"));
    let report = ykt_load::load(
        stage,
        &target.db,
        options,
        Some(&mut target.lock),
        &progress,
    )
    .await;
    pb.finish_and_clear();
    Ok((report.classify()?, started.elapsed()))
}

/// The summary table: per legacy table, rows read, loaded, merged and rejected.
fn print_summary(manifest: &TransformManifest, timings: &[(&str, Duration)], would: bool) {
    let mut totals: BTreeMap<&str, TableCounts> = BTreeMap::new();
    for tables in manifest.counts.values() {
        for (table, c) in tables {
            let t = totals.entry(table.as_str()).or_default();
            t.read += c.read;
            t.loaded += c.loaded;
            t.merged += c.merged;
            t.rejected += c.rejected;
        }
    }
    let verb = if would { "would load" } else { "loaded" };
    println!(
        "{:<8} {:>10} {:>12} {:>8} {:>9}",
        "table", "read", verb, "merged", "rejected"
    );
    for (table, c) in &totals {
        println!(
            "{table:<8} {:>10} {:>12} {:>8} {:>9}",
            c.read, c.loaded, c.merged, c.rejected
        );
    }
    println!(
        "run {} · ID birth dates judged as of {} · {} counties",
        manifest.run_id,
        manifest.as_of,
        manifest
            .counts
            .keys()
            .filter(|c| c.as_str() != "000000")
            .count()
    );
    let times: Vec<String> = timings
        .iter()
        .map(|(s, d)| format!("{s} {:.1}s", d.as_secs_f64()))
        .collect();
    println!("time: {}", times.join(", "));
}

pub async fn extract(args: ExtractArgs) -> Result<ExitCode, Failure> {
    let source = args.source.source()?;
    let stage = Stage::new(&args.stage.stage);
    let _lock = lock_stage(&stage, "extract", true)?;
    let t = run_extract(&source, &stage, args.overwrite).await?;
    println!(
        "Extracted {source} into {} in {:.1}s.",
        stage.dir().display(),
        t.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn transform(args: TransformArgs) -> Result<ExitCode, Failure> {
    let stage = Stage::new(&args.stage.stage);
    let _lock = lock_stage(&stage, "transform", true)?;
    let (manifest, t) = run_transform(&stage, args.routing_year, args.as_of.as_of).await?;
    print_summary(&manifest, &[("transform", t)], true);
    Ok(ExitCode::SUCCESS)
}

pub async fn load(args: LoadArgs) -> Result<ExitCode, Failure> {
    let stage = Stage::new(&args.stage.stage);
    let _stage_lock = lock_stage(&stage, "load", false)?;
    let manifest: TransformManifest = stage.manifest(ykt_stage::Step::Transform).map_err(input)?;
    let mut target = open_target_for_writing(&args.target, "load", true, None).await?;
    let options = ykt_load::LoadOptions {
        resume: args.resume,
        allow_shrink: args.shrink.allow_shrink,
    };
    let (report, t) = run_load(&stage, &mut target, &options).await?;
    target.db.close().await;
    print_summary(&manifest, &[("load", t)], false);
    if report.steps_skipped > 0 {
        println!(
            "resumed: {} counties were already loaded",
            report.steps_skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

impl MigrateArgs {
    /// The source, the stage and the target URL, for `ykt run`.
    pub(crate) fn parts(&self) -> Result<(LegacySource, Stage, String), Failure> {
        let target = self
            .target
            .clone()
            .ok_or_else(|| input("--target URL is required"))?;
        Ok((self.source.source()?, Stage::new(&self.stage.stage), target))
    }

    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run
    }
}

pub async fn migrate(args: MigrateArgs) -> Result<ExitCode, Failure> {
    let source = args.source.source()?;
    let stage = Stage::new(&args.stage.stage);
    // What can be checked before the work is checked before it: the target (reachable, not the
    // legacy database, no other writer) and the stage (no other run in it).
    let target = match (&args.target, args.dry_run) {
        (Some(t), false) => {
            let legacy = match &source {
                LegacySource::Database(url) => Some(url),
                LegacySource::Export(_) => None,
            };
            Some(open_target_for_writing(t, "migrate", true, legacy).await?)
        }
        _ => None,
    };
    let _stage_lock = lock_stage(&stage, "migrate", true)?;
    let mut timings = Vec::new();
    let reuse = args.resume && stage.is_done(ykt_stage::Step::Transform);
    let manifest = if reuse {
        same_source(&stage, &source)?;
        tracing::info!(stage = %stage.dir().display(), "Resuming: the stage is already transformed.");
        stage.manifest(ykt_stage::Step::Transform).map_err(input)?
    } else {
        timings.push(("extract", run_extract(&source, &stage, true).await?));
        let (manifest, t) = run_transform(&stage, args.routing_year, args.as_of.as_of).await?;
        timings.push(("transform", t));
        manifest
    };
    if args.dry_run {
        print_summary(&manifest, &timings, true);
        println!("dry run: the target was not touched");
        return Ok(ExitCode::SUCCESS);
    }
    let mut target = target.ok_or_else(|| input("--target URL is required unless --dry-run"))?;
    // Resuming a run the target never began (the crash came before the load) is a plain load.
    let resume = args.resume && ykt_load::run_started(&stage, &target.db).await.classify()?;
    let options = ykt_load::LoadOptions {
        resume,
        allow_shrink: args.shrink.allow_shrink,
    };
    let (_, t) = run_load(&stage, &mut target, &options).await?;
    target.db.close().await;
    timings.push(("load", t));
    print_summary(&manifest, &timings, false);
    Ok(ExitCode::SUCCESS)
}

/// Refuses a stage extracted from another source than the one named: resuming it, or
/// reconciling against it, would prove the wrong data.
pub(crate) fn same_source(stage: &Stage, source: &LegacySource) -> Result<(), Failure> {
    let manifest: ykt_extract::ExtractManifest =
        stage.manifest(ykt_stage::Step::Extract).map_err(input)?;
    let named = source.to_string();
    if manifest.source.location != named {
        return Err(input(format!(
            "the stage {} was extracted from {}, not from {named}; run without --resume to extract {named}, or use that stage's own source",
            stage.dir().display(),
            manifest.source.location
        )));
    }
    Ok(())
}
