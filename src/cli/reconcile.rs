//! `ykt reconcile`, `ykt run` (migrate + reconcile) and `ykt demo`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ykt_cutover::Context;
use ykt_domain::format_money;
use ykt_extract::LegacySource;
use ykt_pipeline::reconcile::{ReconcileOutcome, ReportSettings, reconcile_and_report};
use ykt_reconcile::{FlagHit, Reconciliation};
use ykt_reports::Verdict;
use ykt_stage::Stage;

use super::migrate::{MigrateArgs, SourceArgs, StageArgs};
use super::{Classify, Failure, database_url, input};

/// Reconcile legacy and target independently, and write the county, provincial and audit
/// reports: control totals from both databases, the balance identity per county and table.
///
/// For every county: legacy rows = loaded + merged + rejected, and for payment lines and
/// allocations legacy amount = loaded amount + rejected amount. Legacy figures come from the
/// legacy database by SQL (or from the stage's raw snapshot for an export source), loaded
/// figures from the target by SQL. The target is also compared row by row, field by field, with
/// what the legacy snapshot should have become, and the audit flags are computed.
///
/// Writes, in OUT: counties/<code>/ (reconciliation.html for A4 and .xlsx, rejects.csv,
/// corrections.csv, flags.csv, diffs.csv, summary.json) for each county finance office;
/// province.html and province.json; audit/diff.html for auditors; reconcile.json, flags.json,
/// diffs.json; and manifest.json with the SHA-256 of every file (check with `ykt report
/// verify OUT`). Exit 0 when every county balances, 1 when not.
#[derive(Debug, Args)]
#[command(after_help = super::examples::RECONCILE)]
pub struct ReconcileArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    stage: StageArgs,
    /// The new platform: postgres://… or sqlite://FILE. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Print one JSON object on stdout instead of the tables.
    #[arg(long)]
    json: bool,
    /// Reconcile even though the stage was extracted from another source than --legacy names
    /// (the same database reached by another host name, say). Without it that is refused.
    #[arg(long)]
    other_source: bool,
    #[command(flatten)]
    reports: ReportFlags,
}

/// Where the reports go and how much personal data they show.
#[derive(Debug, Args)]
pub struct ReportFlags {
    /// Where to write the reports: OUT/province.html, OUT/counties/<code>/…, OUT/audit/diff.html
    /// and OUT/manifest.json.
    #[arg(long, value_name = "DIR", default_value = "ykt-out")]
    pub(crate) out: PathBuf,
    /// Write ID numbers and accounts in full (for auditors). By default the reports show an ID
    /// number as its first 6 and last 4 characters and an account as its last 4. The manifest
    /// records which was done.
    #[arg(long)]
    unmasked: bool,
}

impl ReportFlags {
    pub(crate) fn settings(&self) -> ReportSettings {
        ReportSettings {
            out: self.out.clone(),
            unmasked: self.unmasked,
        }
    }
}

/// Migrate, then reconcile: `ykt migrate` and `ykt reconcile` with the same flags.
#[derive(Debug, Args)]
#[command(after_help = super::examples::RUN)]
pub struct RunArgs {
    #[command(flatten)]
    migrate: MigrateArgs,
    #[command(flatten)]
    reports: ReportFlags,
}

/// The whole job on the embedded default, no server needed: generate a demo legacy system
/// (3 counties, ~30 000 payment lines), migrate it into SQLite, reconcile and write the
/// reports, all in DIR.
#[derive(Debug, Args)]
#[command(after_help = super::examples::DEMO)]
pub struct DemoArgs {
    /// The folder for everything the demo writes.
    #[arg(long, value_name = "DIR", default_value = "ykt-demo")]
    dir: PathBuf,
    /// Random seed of the simulated legacy system.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write ID numbers and accounts in full in the reports.
    #[arg(long)]
    unmasked: bool,
}

/// Reconciles and writes the reports (`ykt_pipeline::reconcile`), then prints the balance, the
/// flags and where the reports are. Exit 0 balanced, 1 not.
pub(crate) async fn run_reconcile(
    ctx: &Context,
    source: &LegacySource,
    stage: &Stage,
    url: &ykt_db::DbUrl,
    reports: &ReportFlags,
) -> Result<ExitCode, Failure> {
    let outcome = reconcile_and_report(ctx, source, stage, url, &reports.settings())
        .await
        .classify()?;
    Ok(print_outcome(&outcome))
}

/// The exit code of a reconciliation: 0 when every county balances, 1 when not.
fn exit_code(outcome: &ReconcileOutcome) -> ExitCode {
    if outcome.reconciliation.balanced {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `ykt reconcile --json`: the verdict of the province and of each county, and where the
/// reports are, as one object.
pub(crate) fn reconcile_json(ctx: &Context, outcome: &ReconcileOutcome) -> serde_json::Value {
    let rec = &outcome.reconciliation;
    let counties: Vec<serde_json::Value> = rec
        .counties
        .iter()
        .map(|c| {
            let (verdict, pending) = Verdict::judge(c.balanced, &c.tables);
            serde_json::json!({
                "county_code": c.county_code,
                "county_name": c.county_name,
                "balanced": c.balanced,
                "verdict": verdict,
                "verdict_text": verdict.sentence(&pending),
                "pending": pending,
                "problems": c.problems,
            })
        })
        .collect();
    let mut flags: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &outcome.flags {
        *flags.entry(f.flag).or_default() += 1;
    }
    serde_json::json!({
        "command": "reconcile",
        "run_id": ctx.run_id,
        "stage_run_id": rec.run_id,
        "at": ctx.stamp(),
        "balanced": rec.balanced,
        "counties": counties,
        "flags": flags,
        "unreadable_amounts": rec.unreadable_amounts.len(),
        "reports": {
            "files": outcome.reports.files,
            "manifest": outcome.reports.manifest.display().to_string(),
            "province_html": outcome.reports.province_html.display().to_string(),
        },
    })
}

/// Prints a reconciliation's outcome; exit 0 when every county balances, 1 when not.
pub(crate) fn print_outcome(outcome: &ReconcileOutcome) -> ExitCode {
    print_reconciliation(&outcome.reconciliation);
    print_flags(&outcome.flags);
    println!(
        "reports: {} files, each with its SHA-256 in {}",
        outcome.reports.files,
        outcome.reports.manifest.display()
    );
    println!(
        "provincial report: {}",
        outcome.reports.province_html.display()
    );
    exit_code(outcome)
}

fn print_flags(flags: &[FlagHit]) {
    let mut counts: std::collections::BTreeMap<(&str, &str), usize> =
        std::collections::BTreeMap::new();
    for f in flags {
        *counts.entry((f.county_code.as_str(), f.flag)).or_default() += 1;
    }
    if counts.is_empty() {
        println!("audit flags: none");
        return;
    }
    println!("audit flags (for auditors; they do not change what is loaded):");
    for ((county, flag), n) in counts {
        let explanation = ykt_domain::AuditFlag::from_code(flag).map_or("", |f| f.explanation());
        println!("  {county} {flag:<28} {n:>5}  {explanation}");
    }
}

fn print_reconciliation(rec: &Reconciliation) {
    println!(
        "{:<7} {} {:<7} {:>9} {:>9} {:>7} {:>8} {:>16} {:>16}",
        "county",
        super::term::pad("name", 10),
        "table",
        "legacy",
        "loaded",
        "merged",
        "rejected",
        "legacy amount",
        "loaded amount"
    );
    for c in &rec.counties {
        for (table, f) in &c.tables {
            let amounts = ykt_reports::has_amounts(table);
            let (sa, la) = if amounts {
                (format_money(f.source_amount), format_money(f.loaded_amount))
            } else {
                (String::new(), String::new())
            };
            println!(
                "{:<7} {} {:<7} {:>9} {:>9} {:>7} {:>8} {:>16} {:>16}",
                c.county_code,
                super::term::pad(&c.county_name, 10),
                table,
                f.source_rows,
                f.loaded_rows,
                f.merged_rows,
                f.rejected_rows,
                sa,
                la
            );
        }
    }
    for c in &rec.counties {
        let (verdict, pending) = Verdict::judge(c.balanced, &c.tables);
        println!(
            "{} {}：{}",
            c.county_code,
            c.county_name,
            super::term::verdict(verdict, &verdict.sentence(&pending))
        );
        if !c.balanced {
            for p in &c.problems {
                println!("    {p}");
            }
        }
    }
    if !rec.unreadable_amounts.is_empty() {
        println!(
            "{} legacy amounts do not read as money; they are counted and listed in reconcile.json",
            rec.unreadable_amounts.len()
        );
    }
    println!(
        "run {}: {}",
        rec.run_id,
        if rec.balanced {
            "every county balances"
        } else {
            "differences found"
        }
    );
}

pub async fn reconcile_cmd(ctx: &Context, args: ReconcileArgs) -> Result<ExitCode, Failure> {
    let source = args.source.source(ctx)?;
    let target_url = super::required_url(ctx, &args.target, super::DbRole::Target)?;
    let stage = Stage::new(&args.stage.stage);
    let _lock = super::lock_stage(&stage, "reconcile", false)?;
    if !args.other_source {
        ykt_pipeline::target::same_source(
            &stage,
            &source,
            "name that stage's own source with --legacy, or add --other-source if both reach the same legacy data",
        )
        .classify()?;
    }
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    // The reconciliation records each county's report in the target: one writer at a time, and
    // never beside a load that would change the figures under it.
    let legacy = match &source {
        LegacySource::Database(url) => Some(url),
        LegacySource::Export(_) => None,
    };
    let _write = super::open_target_for_writing(&target_url, "reconcile", false, legacy).await?;
    let url = database_url(&target_url)?;
    if !args.json {
        return run_reconcile(ctx, &source, &stage, &url, &args.reports).await;
    }
    let outcome = reconcile_and_report(ctx, &source, &stage, &url, &args.reports.settings())
        .await
        .classify()?;
    println!("{}", reconcile_json(ctx, &outcome));
    Ok(exit_code(&outcome))
}

pub async fn run(ctx: &Context, args: RunArgs) -> Result<ExitCode, Failure> {
    let request = args.migrate.request(ctx)?;
    let Some(target) = request.target.clone() else {
        return Err(input(
            "ykt run reconciles a loaded target; use ykt migrate --dry-run to try without one",
        ));
    };
    let (source, stage) = (request.source.clone(), request.stage.clone());
    // The report folder before the work: a folder that cannot take the reports is found now,
    // not after the whole target is loaded.
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    if !args.migrate.json {
        super::migrate::migrate(ctx, args.migrate).await?;
        return run_reconcile(ctx, &source, &stage, &target, &args.reports).await;
    }
    let migrated = super::migrate::migrate_outcome(ctx, &args.migrate).await?;
    let outcome = reconcile_and_report(ctx, &source, &stage, &target, &args.reports.settings())
        .await
        .classify()?;
    let json = serde_json::json!({
        "command": "run",
        "run_id": ctx.run_id,
        "migrate": super::migrate::migrate_json(ctx, &migrated, false),
        "reconcile": reconcile_json(ctx, &outcome),
    });
    println!("{json}");
    Ok(exit_code(&outcome))
}

pub async fn demo(ctx: &Context, args: DemoArgs) -> Result<ExitCode, Failure> {
    let dir = &args.dir;
    let legacy = format!("sqlite://{}", dir.join("legacy.sqlite").display());
    let target = format!("sqlite://{}", dir.join("platform.sqlite").display());
    let _ = std::fs::remove_file(dir.join("platform.sqlite"));
    let seed = args.seed.to_string();
    let dir_s = dir.display().to_string();
    let generate = super::Cli::try_parse_from_args(&[
        "ykt",
        "generate",
        "--preset",
        "demo",
        "--seed",
        &seed,
        "--replace",
        "--legacy",
        &legacy,
        "--export",
        &format!("{dir_s}/export"),
    ])?;
    super::execute(ctx, generate.command).await?;
    let stage = dir.join("stage");
    let migrate = super::Cli::try_parse_from_args(&[
        "ykt",
        "migrate",
        "--legacy",
        &legacy,
        "--stage",
        &stage.display().to_string(),
        "--target",
        &target,
    ])?;
    super::execute(ctx, migrate.command).await?;
    let source = LegacySource::Database(legacy.parse::<ykt_db::DbUrl>().classify()?);
    let reports = ReportFlags {
        out: dir.join("out"),
        unmasked: args.unmasked,
    };
    run_reconcile(
        ctx,
        &source,
        &Stage::new(&stage),
        &database_url(&target)?,
        &reports,
    )
    .await
}
