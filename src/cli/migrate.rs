//! `ykt extract`, `ykt transform`, `ykt load` and `ykt migrate` (all three).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;

use ykt_cutover::Context;
use ykt_extract::LegacySource;
use ykt_pipeline::migrate::{self, MigrateRequest, Progress, Step};
use ykt_stage::Stage;
use ykt_stage::{TableCounts, TransformManifest};

use super::{Classify, Failure, database_url, input, lock_stage, open_target_for_writing};

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
    #[command(flatten)]
    as_of: AsOfArgs,
    #[command(flatten)]
    shrink: ShrinkArgs,
}

/// The spinners of `ykt extract|transform|load|migrate`: one per step, with rows and rate.
struct Spinners {
    started: Instant,
    bars: std::sync::Mutex<BTreeMap<&'static str, ProgressBar>>,
}

impl Spinners {
    fn shared() -> Arc<dyn Progress> {
        Arc::new(Spinners {
            started: Instant::now(),
            bars: std::sync::Mutex::default(),
        })
    }
}

impl Progress for Spinners {
    fn advance(&self, step: Step, what: &str, rows: u64) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(step.name()).or_insert_with(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(step.name());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let message = match step {
            Step::Load => format!("county {what}: {rows} rows"),
            _ => {
                let millis = self.started.elapsed().as_millis().max(1);
                format!("{what} {rows} rows, {}/s", u128::from(rows) * 1000 / millis)
            }
        };
        bar.set_message(message);
    }

    fn end(&self, step: Step) {
        if let Ok(mut bars) = self.bars.lock()
            && let Some(bar) = bars.remove(step.name())
        {
            bar.finish_and_clear();
        }
    }
}

/// The summary table: per legacy table, rows read, loaded, merged and rejected.
fn print_summary(manifest: &TransformManifest, timings: &[(Step, Duration)], would: bool) {
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
        .map(|(s, d)| format!("{} {:.1}s", s.name(), d.as_secs_f64()))
        .collect();
    println!("time: {}", times.join(", "));
}

pub async fn extract(args: ExtractArgs) -> Result<ExitCode, Failure> {
    let source = args.source.source()?;
    let stage = Stage::new(&args.stage.stage);
    let _lock = lock_stage(&stage, "extract", true)?;
    let (_, took) = migrate::extract(&source, &stage, args.overwrite, &Spinners::shared())
        .await
        .classify()?;
    println!(
        "Extracted {source} into {} in {:.1}s.",
        stage.dir().display(),
        took.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn transform(ctx: &Context, args: TransformArgs) -> Result<ExitCode, Failure> {
    let stage = Stage::new(&args.stage.stage);
    let _lock = lock_stage(&stage, "transform", true)?;
    let (manifest, took) = migrate::transform(ctx, &stage, args.as_of.as_of, &Spinners::shared())
        .await
        .classify()?;
    print_summary(&manifest, &[(Step::Transform, took)], true);
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
    let (report, took) = migrate::load(&stage, &mut target, &options, &Spinners::shared())
        .await
        .classify()?;
    target.db.close().await;
    print_summary(&manifest, &[(Step::Load, took)], false);
    if report.steps_skipped > 0 {
        println!(
            "resumed: {} counties were already loaded",
            report.steps_skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

impl MigrateArgs {
    /// What to migrate, as the pipeline takes it.
    pub(crate) fn request(&self) -> Result<MigrateRequest, Failure> {
        // A missing target is the pipeline's to refuse (before any work).
        let target = match (&self.target, self.dry_run) {
            (Some(raw), false) => Some(database_url(raw)?),
            _ => None,
        };
        Ok(MigrateRequest {
            source: self.source.source()?,
            stage: Stage::new(&self.stage.stage),
            target,
            dry_run: self.dry_run,
            resume: self.resume,
            as_of: self.as_of.as_of,
            allow_shrink: self.shrink.allow_shrink,
        })
    }
}

pub async fn migrate(ctx: &Context, args: MigrateArgs) -> Result<ExitCode, Failure> {
    let request = args.request()?;
    let dry_run = request.dry_run;
    let outcome = migrate::migrate(ctx, request, &Spinners::shared())
        .await
        .classify()?;
    print_summary(&outcome.manifest, &outcome.timings, dry_run);
    if dry_run {
        println!("dry run: the target was not touched");
    }
    Ok(ExitCode::SUCCESS)
}
