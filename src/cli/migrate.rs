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
    /// The legacy database: mysql://USER@HOST:3306/DB (MariaDB), postgres://… or
    /// sqlite://FILE. Read from one consistent snapshot. Default: $YKT_LEGACY_URL, else `[databases] legacy` in ykt.toml.
    #[arg(long, value_name = "URL", conflicts_with = "legacy_export")]
    legacy: Option<String>,
    /// The legacy export folder instead: one CSV per table (GBK or UTF-8, Chinese captions).
    #[arg(long, value_name = "DIR")]
    legacy_export: Option<PathBuf>,
}

impl SourceArgs {
    pub(crate) fn source(&self, ctx: &Context) -> Result<LegacySource, Failure> {
        // An export folder given on the command line wins over a URL from the environment.
        let legacy = match &self.legacy_export {
            Some(_) => self.legacy.clone(),
            None => super::optional_url(ctx, &self.legacy, super::DbRole::Legacy),
        };
        match (&legacy, &self.legacy_export) {
            (Some(url), _) => Ok(LegacySource::Database(
                url.parse::<ykt_db::DbUrl>().classify()?,
            )),
            (None, Some(dir)) if dir.is_dir() => Ok(LegacySource::Export(dir.clone())),
            (None, Some(dir)) => Err(input(format!(
                "the export folder {} does not exist",
                dir.display()
            ))),
            (None, None) => Err(input(
                "say where legacy is: --legacy URL or --legacy-export DIR (or set YKT_LEGACY_URL, or [databases] legacy in ykt.toml)",
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
#[command(after_help = super::examples::EXTRACT)]
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
#[command(after_help = super::examples::TRANSFORM)]
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
#[command(after_help = super::examples::LOAD)]
pub struct LoadArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// The new platform: postgres://USER@HOST:5432/DB or sqlite://FILE. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
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
#[derive(Debug, Args)]
#[command(after_help = super::examples::MIGRATE)]
pub struct MigrateArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    stage: StageArgs,
    /// The new platform: postgres://USER@HOST:5432/DB or sqlite://FILE. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Extract and transform, and say what would be loaded, without touching the target.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON object on stdout instead of the tables (progress stays on stderr).
    #[arg(long)]
    pub(crate) json: bool,
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
/// Per table, the counts of every county added up.
fn table_totals(manifest: &TransformManifest) -> BTreeMap<&str, TableCounts> {
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
    totals
}

/// `ykt migrate --json`: what the tables say, as one object.
pub(crate) fn migrate_json(
    ctx: &Context,
    outcome: &migrate::MigrateOutcome,
    dry_run: bool,
) -> serde_json::Value {
    let m = &outcome.manifest;
    serde_json::json!({
        "command": "migrate",
        "run_id": ctx.run_id,
        "stage_run_id": m.run_id,
        "at": ctx.stamp(),
        "dry_run": dry_run,
        "as_of": m.as_of.to_string(),
        "counties": m.counts.keys().filter(|c| c.as_str() != ykt_domain::UNATTRIBUTED_COUNTY).count(),
        "tables": table_totals(m),
        "milliseconds": outcome
            .timings
            .iter()
            .map(|(s, d)| (s.name(), d.as_millis()))
            .collect::<BTreeMap<_, _>>(),
        "counties_already_loaded": outcome.load.as_ref().map_or(0, |l| l.steps_skipped),
    })
}

fn print_summary(manifest: &TransformManifest, timings: &[(Step, Duration)], would: bool) {
    let totals = table_totals(manifest);
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

pub async fn extract(ctx: &Context, args: ExtractArgs) -> Result<ExitCode, Failure> {
    let source = args.source.source(ctx)?;
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

pub async fn load(ctx: &Context, args: LoadArgs) -> Result<ExitCode, Failure> {
    let target_url = super::required_url(ctx, &args.target, super::DbRole::Target)?;
    let stage = Stage::new(&args.stage.stage);
    let _stage_lock = lock_stage(&stage, "load", false)?;
    let manifest: TransformManifest = stage.manifest(ykt_stage::Step::Transform).map_err(input)?;
    let mut target = open_target_for_writing(&target_url, "load", true, None).await?;
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
    pub(crate) fn request(&self, ctx: &Context) -> Result<MigrateRequest, Failure> {
        let target = match self.dry_run {
            false => Some(database_url(&super::required_url(
                ctx,
                &self.target,
                super::DbRole::Target,
            )?)?),
            true => None,
        };
        Ok(MigrateRequest {
            source: self.source.source(ctx)?,
            stage: Stage::new(&self.stage.stage),
            target,
            dry_run: self.dry_run,
            resume: self.resume,
            as_of: self.as_of.as_of,
            allow_shrink: self.shrink.allow_shrink,
        })
    }
}

/// Migrates as `args` say, printing nothing.
pub(crate) async fn migrate_outcome(
    ctx: &Context,
    args: &MigrateArgs,
) -> Result<migrate::MigrateOutcome, Failure> {
    let request = args.request(ctx)?;
    migrate::migrate(ctx, request, &Spinners::shared())
        .await
        .classify()
}

pub async fn migrate(ctx: &Context, args: MigrateArgs) -> Result<ExitCode, Failure> {
    let dry_run = args.dry_run;
    let outcome = migrate_outcome(ctx, &args).await?;
    if args.json {
        println!("{}", migrate_json(ctx, &outcome, dry_run));
        return Ok(ExitCode::SUCCESS);
    }
    print_summary(&outcome.manifest, &outcome.timings, dry_run);
    if dry_run {
        println!("dry run: the target was not touched");
    }
    Ok(ExitCode::SUCCESS)
}
