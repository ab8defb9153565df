//! `ykt reconcile`, `ykt run` (migrate + reconcile) and `ykt demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ykt_db::Db;
use ykt_domain::format_money;
use ykt_extract::LegacySource;
use ykt_reconcile::{FlagHit, LegacySide, Reconciliation, audit_flags, reconcile, row_diff};
use ykt_reports::{ReportInput, write_reports};
use ykt_stage::Stage;
use ykt_transform::TransformManifest;

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
pub struct ReconcileArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    stage: StageArgs,
    /// The new platform: postgres://… or sqlite://FILE.
    #[arg(long, value_name = "URL")]
    target: String,
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

/// Migrate, then reconcile: `ykt migrate` and `ykt reconcile` with the same flags.
#[derive(Debug, Args)]
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

pub(crate) async fn run_reconcile(
    source: &LegacySource,
    stage: &Stage,
    target: &str,
    reports: &ReportFlags,
) -> Result<ExitCode, Failure> {
    let out = reports.out.as_path();
    // The report folder first: a folder that cannot take the reports is found before the work.
    ykt_reports::prepare_out(out).classify()?;
    let manifest: TransformManifest = stage.manifest(ykt_stage::Step::Transform).map_err(input)?;
    // A stage a delta sync refreshed holds rows recorded under the run it synced into.
    let run_id = ykt_cutover::stage_run_id(stage).unwrap_or_else(|| manifest.run_id.clone());
    let url = database_url(target)?;
    let target_db = Db::connect(&url).await.classify()?;
    let legacy_db = match source {
        LegacySource::Database(url) => Some(Db::connect(url).await.classify()?),
        LegacySource::Export(_) => None,
    };
    let side = match &legacy_db {
        Some(db) => LegacySide::Database(db),
        None => LegacySide::Snapshot(stage),
    };
    let started = std::time::Instant::now();
    let live = platform_is_live(&target_db).await.classify()?;
    let result = reconcile(&side, &target_db, &run_id, live).await;
    tracing::info!(
        seconds = started.elapsed().as_secs(),
        "Control totals read from both sides."
    );
    let mut flags = audit_flags(&side, &target_db).await;
    tracing::info!(
        seconds = started.elapsed().as_secs(),
        "Audit flags computed."
    );
    if let (Some(db), Ok(found)) = (&legacy_db, &mut flags) {
        found.extend(writes_after_freeze(db).await.classify()?);
    }
    let counties: std::collections::BTreeSet<String> = match &result {
        Ok(rec) => rec.counties.iter().map(|c| c.county_code.clone()).collect(),
        Err(_) => Default::default(),
    };
    let diffs = row_diff(stage, &target_db, &counties, live).await;
    tracing::info!(seconds = started.elapsed().as_secs(), "Rows compared.");
    if let Some(db) = legacy_db {
        db.close().await;
    }
    let mut rec = result.classify()?;
    let flags = flags.classify()?;
    let diffs = diffs.classify()?;
    rec.apply_row_diff(&diffs);
    let path = out.join("reconcile.json");
    ykt_stage::write_json(&path, &rec).classify()?;
    // The machine-readable diffs are masked like every report of a masked run.
    let mask = ykt_domain::Masker {
        unmasked: reports.unmasked,
    };
    let shown: Vec<ykt_reconcile::RowDiff> = diffs
        .iter()
        .map(|d| {
            let field = d.field.clone().unwrap_or_default();
            let show = |v: &Option<String>| v.as_ref().map(|v| mask.show(&field, Some(v)));
            ykt_reconcile::RowDiff {
                expected: show(&d.expected),
                actual: show(&d.actual),
                ..d.clone()
            }
        })
        .collect();
    ykt_stage::write_json(&out.join("diffs.json"), &shown).classify()?;
    let flags_path = out.join("flags.json");
    ykt_stage::write_json(&flags_path, &flags).classify()?;
    let input = ReportInput {
        reconciliation: &rec,
        flags: &flags,
        diffs: &diffs,
        unmasked: reports.unmasked,
        legacy: match source {
            LegacySource::Database(url) => url.to_string(),
            LegacySource::Export(dir) => format!("export:{}", dir.display()),
        },
        target: url.to_string(),
        generated_at: super::stamp(),
        as_of: Some(manifest.as_of.to_string()),
        parameters: serde_json::json!({
            "as_of": manifest.as_of.to_string(),
            "stage": stage.dir().display().to_string(),
            "out": out.display().to_string(),
            "unmasked": reports.unmasked,
            "extract_manifest_sha256": ykt_stage::sha256_file(&stage.manifest_path(ykt_stage::Step::Extract)).ok(),
        }),
    };
    ykt_load::apply_migrations(&target_db).await.classify()?;
    let written = write_reports(&input, &target_db, out).await;
    target_db.close().await;
    let written = written.classify()?;
    print_reconciliation(&rec);
    print_flags(&flags);
    println!(
        "reports: {} files, each with its SHA-256 in {}",
        written.files,
        written.manifest.display()
    );
    println!("provincial report: {}", written.province_html.display());
    Ok(if rec.balanced {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether the new platform is live: a dual-run or frozen guard was put on it.
async fn platform_is_live(target: &Db) -> Result<bool, ykt_db::DbError> {
    if !target.table_exists("cutover_guard_event").await? {
        return Ok(false);
    }
    Ok(target
        .fetch_i64(
            "asking whether the platform is live",
            "SELECT COUNT(*) FROM cutover_guard_event WHERE system = 'target' AND action = 'install' AND phase IN ('dual-run', 'frozen')",
        )
        .await?
        .unwrap_or(0)
        > 0)
}

/// `A_LEGACY_WRITE_AFTER_FREEZE`: legacy rows stamped after the freeze boundary, each in the
/// county the legacy side counts it in (a line: its batch's, else its beneficiary's).
async fn writes_after_freeze(legacy: &Db) -> Result<Vec<FlagHit>, ykt_cutover::CutoverError> {
    let frozen = super::context()
        .policy
        .frozen_from
        .with_timezone(&ykt_cutover::beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let regions = ykt_domain::Regions::shaanxi();
    Ok(ykt_cutover::writes_after(legacy, &frozen)
        .await?
        .into_iter()
        .map(|w| FlagHit {
            flag: ykt_domain::AuditFlag::LegacyWriteAfterFreeze.code(),
            county_code: match ykt_reconcile::county_of(&regions, w.region.as_deref()) {
                c if c == ykt_domain::UNATTRIBUTED_COUNTY => {
                    ykt_reconcile::county_of(&regions, w.fallback_region.as_deref())
                }
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
        "{:<7} {:<8} {:<7} {:>9} {:>9} {:>7} {:>8} {:>16} {:>16}",
        "county",
        "name",
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
            let amounts = matches!(table.as_str(), "T_FFMX" | "T_ZJZB");
            let (sa, la) = if amounts {
                (format_money(f.source_amount), format_money(f.loaded_amount))
            } else {
                (String::new(), String::new())
            };
            println!(
                "{:<7} {:<8} {:<7} {:>9} {:>9} {:>7} {:>8} {:>16} {:>16}",
                c.county_code,
                c.county_name,
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
        if c.balanced {
            println!("{} {}：平衡", c.county_code, c.county_name);
        } else {
            println!("{} {}：不平衡", c.county_code, c.county_name);
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

pub async fn reconcile_cmd(args: ReconcileArgs) -> Result<ExitCode, Failure> {
    let source = args.source.source()?;
    let stage = Stage::new(&args.stage.stage);
    let _lock = super::lock_stage(&stage, "reconcile", false)?;
    if !args.other_source {
        super::migrate::same_source(&stage, &source)?;
    }
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    // The reconciliation records each county's report in the target: one writer at a time, and
    // never beside a load that would change the figures under it.
    let legacy = match &source {
        LegacySource::Database(url) => Some(url),
        LegacySource::Export(_) => None,
    };
    let _write = super::open_target_for_writing(&args.target, "reconcile", false, legacy).await?;
    run_reconcile(&source, &stage, &args.target, &args.reports).await
}

pub async fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let (source, stage, target) = args.migrate.parts()?;
    if args.migrate.is_dry_run() {
        return Err(input(
            "ykt run reconciles a loaded target; use ykt migrate --dry-run to try without one",
        ));
    }
    // The report folder before the work: a folder that cannot take the reports is found now,
    // not after the whole target is loaded.
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    super::migrate::migrate(args.migrate).await?;
    run_reconcile(&source, &stage, &target, &args.reports).await
}

pub async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
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
    super::run(generate).await?;
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
    super::run(migrate).await?;
    let source = LegacySource::Database(legacy.parse::<ykt_db::DbUrl>().classify()?);
    let reports = ReportFlags {
        out: dir.join("out"),
        unmasked: args.unmasked,
    };
    run_reconcile(&source, &Stage::new(&stage), &target, &reports).await
}
