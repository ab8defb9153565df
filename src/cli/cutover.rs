//! The cutover commands: `ykt status`, `ykt guard`, `ykt route`, `ykt sync`, `ykt freeze` and
//! `ykt signoff` (`cutover-policy.md`). Each runs at `--at` (default: now) under the policy of
//! `--config` (default: ./ykt.toml, else the notice's dates).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ykt_cutover::{Context, Expect, Operation, Outcome, Phase, Route, Side, System};
use ykt_db::Db;
use ykt_extract::LegacySource;
use ykt_pipeline::freeze::{FreezeRequest, FreezeStep};
use ykt_pipeline::sync::{SyncOptions, SyncReport};
use ykt_stage::Stage;

use super::reconcile::{ReportFlags, print_outcome, run_reconcile};
use super::{Classify, Failure, database_url, input, lock_stage, open_target_for_writing};

fn parse_phase(text: &str) -> Result<Phase, String> {
    Phase::parse(text)
        .ok_or_else(|| format!("{text:?} is not a phase; use paused, dual-run or frozen"))
}

/// Show the phase at --at, what each system may do now, the time to the next boundary, and per
/// county the last reconciliation, the sign-off and whether it still applies.
#[derive(Debug, Args)]
#[command(after_help = super::examples::STATUS)]
pub struct StatusArgs {
    /// The new platform, for the per-county part. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Print one JSON object on stdout instead of the text.
    #[arg(long)]
    json: bool,
}

/// `ykt status --json`.
fn status_json(ctx: &Context, status: &ykt_pipeline::status::Status) -> serde_json::Value {
    let counties: Option<Vec<serde_json::Value>> = status.counties.as_ref().map(|cs| {
        cs.iter()
            .map(|c| {
                serde_json::json!({
                    "county_code": c.county,
                    "reconciled_at": c.reconciled_at,
                    "balanced": c.balanced,
                    "signoff": c.signoff,
                    "signoff_complete": c.signoff.as_ref().is_some_and(|s| s.complete()),
                })
            })
            .collect()
    });
    serde_json::json!({
        "command": "status",
        "run_id": ctx.run_id,
        "at": ctx.stamp(),
        "policy": ctx.policy_source,
        "phase": status.phase.name(),
        "legacy_may": status.legacy_may,
        "platform_may": status.platform_may,
        "next": status.next.map(|(p, when)| serde_json::json!({
            "phase": p.name(),
            "at": when.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
        })),
        "counties": counties,
    })
}

pub async fn status(ctx: &Context, mut args: StatusArgs) -> Result<ExitCode, Failure> {
    args.target = super::optional_url(ctx, &args.target, super::DbRole::Target);
    let target = match &args.target {
        Some(t) => Some(database_url(t)?),
        None => None,
    };
    let status = ykt_pipeline::status::status(ctx, target.as_ref())
        .await
        .classify()?;
    if args.json {
        println!("{}", status_json(ctx, &status));
        return Ok(ExitCode::SUCCESS);
    }
    println!("at {} (policy: {})", ctx.stamp(), ctx.policy_source);
    println!("phase: {} {}", status.phase.name(), status.phase.chinese());
    println!("  legacy system: {}", status.legacy_may);
    println!("  new platform:  {}", status.platform_may);
    match status.next {
        Some((next, when)) => {
            let left = when.signed_duration_since(ctx.at);
            println!(
                "next: {} at {} (in {} d {} h {} min)",
                next.name(),
                when.format("%Y-%m-%d %H:%M %:z"),
                left.num_days(),
                left.num_hours() % 24,
                left.num_minutes() % 60
            );
        }
        None => println!("next: none; the cutover is complete"),
    }
    let Some(counties) = status.counties else {
        if let Some(target) = &target {
            // The URL as it may be shown: never its password.
            println!("counties: no reconciliation recorded in {target} yet");
        }
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "{:<7} {:<26} {} sign-off",
        "county",
        "last reconciliation",
        super::term::pad("verdict", 12)
    );
    for c in counties {
        let (tone, words) = if c.balanced {
            (ykt_reports::Verdict::Clean, "balanced")
        } else {
            (ykt_reports::Verdict::Unbalanced, "NOT balanced")
        };
        let signoff = match c.signoff {
            None => "not signed".to_owned(),
            Some(s) => s.describe(),
        };
        println!(
            "{:<7} {:<26} {} {signoff}",
            c.county,
            c.reconciled_at,
            super::term::verdict(tone, &super::term::pad(words, 12))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Install, verify or remove the database guards of a phase.
///
/// The guards are triggers: paused and frozen refuse every write on the legacy T_ tables;
/// dual-run refuses legacy batches and lines of fund years after the routing year, and the new
/// platform refuses marking paid a line owned by legacy. Each refusal names the phase and the
/// rule in Chinese and English. Every install and removal is recorded in the target.
#[derive(Debug, Args)]
#[command(after_help = super::examples::GUARD)]
pub struct GuardArgs {
    #[command(subcommand)]
    action: GuardAction,
}

#[derive(Debug, Subcommand)]
enum GuardAction {
    /// Put the phase's guards on (replacing any other phase's), and revoke the legacy
    /// application account's write privileges while paused or frozen.
    Install(RecordedGuardOpts),
    /// Try every write the phase decides inside a rolled-back transaction and print what was
    /// refused. Exit 1 when a write the phase forbids went through or a guard is missing.
    Verify(GuardOpts),
    /// Take all guards off and give the application account its write privileges back.
    Remove(RecordedGuardOpts),
}

/// A guard change, recorded with who made it and why.
#[derive(Debug, Args)]
struct RecordedGuardOpts {
    #[command(flatten)]
    guard: GuardOpts,
    /// Who does it, for the record (default: $USER).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Why, for the record.
    #[arg(long, value_name = "TEXT", default_value = "cutover policy")]
    reason: String,
}

#[derive(Debug, Args)]
struct GuardOpts {
    /// The phase (paused, dual-run, frozen). Default: the phase at --at.
    #[arg(long, value_parser = parse_phase)]
    phase: Option<Phase>,
    /// The legacy database (MariaDB, PostgreSQL or SQLite). Default: $YKT_LEGACY_URL, else `[databases] legacy` in ykt.toml.
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
    /// The new platform (PostgreSQL or SQLite); the guard events are recorded there. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
}

async fn open(url: &str) -> Result<Db, Failure> {
    Db::connect(&database_url(url)?).await.classify()
}

pub async fn guard(ctx: &Context, args: GuardArgs) -> Result<ExitCode, Failure> {
    let (o, record) = match &args.action {
        GuardAction::Install(r) | GuardAction::Remove(r) => (&r.guard, Some(r)),
        GuardAction::Verify(o) => (o, None),
    };
    let (by, reason) = match record {
        Some(r) => (ykt_pipeline::who(r.by.as_deref()), r.reason.as_str()),
        None => (String::new(), ""),
    };
    let phase = o.phase.unwrap_or_else(|| ctx.policy.phase_at(ctx.at));
    let target_url = super::required_url(ctx, &o.target, super::DbRole::Target)?;
    // Installing or removing guards writes the target (the record of who did it): one writer.
    let write = match &args.action {
        GuardAction::Verify(_) => None,
        _ => Some(open_target_for_writing(&target_url, "guard", false, None).await?),
    };
    let target = match &write {
        Some(w) => w.db.clone(),
        None => open(&target_url).await?,
    };
    ykt_load::apply_migrations(&target).await.classify()?;
    let legacy = match &super::optional_url(ctx, &o.legacy, super::DbRole::Legacy) {
        Some(url) => Some(open(url).await?),
        None => None,
    };
    let mut dbs: Vec<(Side, &Db)> = Vec::new();
    if let Some(l) = &legacy {
        dbs.push((Side::Legacy, l));
    }
    dbs.push((Side::Target, &target));
    let code = match &args.action {
        GuardAction::Install(_) => {
            for (side, db) in &dbs {
                let (n, note) =
                    ykt_pipeline::guard::install(ctx, &target, *side, db, phase, &by, reason)
                        .await
                        .classify()?;
                println!(
                    "{} ({}): {} guard installed, {n} triggers{note}",
                    side.name(),
                    db.url(),
                    phase.name()
                );
            }
            ExitCode::SUCCESS
        }
        GuardAction::Remove(_) => {
            for (side, db) in &dbs {
                let n = ykt_pipeline::guard::remove(ctx, &target, *side, db, phase, &by, reason)
                    .await
                    .classify()?;
                println!("{} ({}): {n} guard triggers removed", side.name(), db.url());
            }
            ExitCode::SUCCESS
        }
        GuardAction::Verify(_) => {
            let mut breaches = 0;
            println!(
                "{:<7} {:<8} {:<7} {:<26} {:<9} result",
                "system", "table", "write", "case", "expected"
            );
            for (side, db) in &dbs {
                let missing = ykt_cutover::missing_triggers(db, *side, &ctx.policy, phase)
                    .await
                    .classify()?;
                for m in &missing {
                    println!("{:<7} guard trigger {m} is MISSING", side.name());
                }
                breaches += missing.len();
                for p in ykt_cutover::verify(db, *side, &ctx.policy, phase)
                    .await
                    .classify()?
                {
                    let result = match &p.outcome {
                        Outcome::Refused(_) => "refused".to_owned(),
                        Outcome::Allowed => "allowed".to_owned(),
                        Outcome::Failed(m) => format!("failed otherwise: {m}"),
                        Outcome::Untested(why) => format!("untested ({why})"),
                    };
                    let expected = match p.expect {
                        Expect::Refused => "refused",
                        Expect::Allowed => "allowed",
                    };
                    let mark = if p.is_breach() {
                        "  <-- FORBIDDEN WRITE WENT THROUGH"
                    } else {
                        ""
                    };
                    if p.is_breach() {
                        breaches += 1;
                    }
                    println!(
                        "{:<7} {:<8} {:<7} {:<26} {expected:<9} {result}{mark}",
                        side.name(),
                        p.table,
                        p.op,
                        p.case
                    );
                }
            }
            if breaches == 0 {
                println!(
                    "{} guard verified: every write the phase forbids is refused",
                    phase.name()
                );
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "error: the {} guard does not hold: {breaches} problem(s) above",
                    phase.name()
                );
                ExitCode::from(1)
            }
        }
    };
    if let Some(l) = legacy {
        l.close().await;
    }
    target.close().await;
    Ok(code)
}

/// Split a file of payment operations into legacy.csv, new.csv and refused.csv by the phase at
/// --at and each operation's fund year: the same rule the guards enforce.
///
/// INPUT is CSV (UTF-8 or GBK) with the header county,program,fund_year,id_number,amount,
/// operation; operation is new_batch, new_line, bank_return or pay (or 新建批次, 新增明细,
/// 银行回盘, 发放). An operation is refused, with the reason, when its county is not a current
/// Shaanxi county, its program is not in the platform's program table (with --target; else
/// the typical programs of reference/programs.csv), its ID number does not pass the rules, or
/// its amount is not positive.
#[derive(Debug, Args)]
#[command(after_help = super::examples::ROUTE)]
pub struct RouteArgs {
    /// The operations to route: CSV with county,program,fund_year,id_number,amount,operation.
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// Where to write legacy.csv, new.csv and refused.csv.
    #[arg(long, value_name = "DIR", default_value = "ykt-routed")]
    out: PathBuf,
    /// The new platform, whose program table the programs are checked against. Default:
    /// $YKT_TARGET_URL, else `[databases] target` in ykt.toml, else the typical programs.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
}

/// The programs an operation may name: the platform's program table, else the typical list.
async fn known_programs(
    ctx: &Context,
    args: &RouteArgs,
) -> Result<std::collections::BTreeSet<String>, Failure> {
    if let Some(url) = super::optional_url(ctx, &args.target, super::DbRole::Target) {
        let db = open(&url).await?;
        let rows = db
            .fetch_text_rows("reading the programs", "SELECT code FROM program")
            .await
            .classify()?;
        db.close().await;
        return Ok(rows.into_iter().filter_map(|mut r| r[0].take()).collect());
    }
    Ok(include_str!("../../reference/programs.csv")
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(str::to_owned)
        .collect())
}

/// Why an operation's county, program or ID number is refused, if it is.
fn bad_operation(
    (county, program, id): (&str, &str, &str),
    regions: &ykt_domain::Regions,
    programs: &std::collections::BTreeSet<String>,
    today: chrono::NaiveDate,
) -> Option<String> {
    if regions.county(county).is_none() {
        return Some(format!(
            "县区代码 {county:?} 不是陕西现行的县级区划 | {county:?} is not a current Shaanxi county"
        ));
    }
    if !programs.contains(program) {
        return Some(format!(
            "项目代码 {program:?} 不在项目表中 | {program:?} is not a known program"
        ));
    }
    match ykt_domain::rules::id_number(Some(id), today) {
        Ok(_) => None,
        Err(code) => Some(format!(
            "身份证号：{}（{}）| the ID number does not pass {}",
            code.explanation(),
            code.code(),
            code.code()
        )),
    }
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub async fn route(ctx: &Context, args: RouteArgs) -> Result<ExitCode, Failure> {
    let phase = ctx.policy.phase_at(ctx.at);
    let programs = known_programs(ctx, &args).await?;
    let regions = ykt_domain::Regions::shaanxi();
    let today = ctx.at.date_naive();
    let bytes = std::fs::read(&args.input)
        .map_err(|e| input(format!("cannot read {}: {e}", args.input.display())))?;
    let text = match String::from_utf8(bytes.clone()) {
        Ok(t) => t.trim_start_matches('\u{feff}').to_owned(),
        Err(_) => encoding_rs::GBK.decode(&bytes).0.into_owned(),
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .map(split_csv_line)
        .unwrap_or_default()
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let want = [
        "county",
        "program",
        "fund_year",
        "id_number",
        "amount",
        "operation",
    ];
    let idx: Vec<usize> = want
        .iter()
        .map(|w| header.iter().position(|h| h == w))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            input(format!(
                "{}: the first line must name the columns {} (found {:?})",
                args.input.display(),
                want.join(","),
                header
            ))
        })?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| input(format!("cannot create {}: {e}", args.out.display())))?;
    let mut outputs: [(String, Vec<String>); 3] = [
        ("legacy.csv".to_owned(), Vec::new()),
        ("new.csv".to_owned(), Vec::new()),
        ("refused.csv".to_owned(), Vec::new()),
    ];
    for line in lines {
        let cells = split_csv_line(line);
        let get = |i: usize| cells.get(idx[i]).map(|s| s.trim()).unwrap_or("");
        let op = Operation::parse(get(5));
        let amount_ok = ykt_domain::rules::money_value(Some(get(4)))
            .is_some_and(|a| a > rust_decimal::Decimal::ZERO);
        let bad = bad_operation((get(0), get(1), get(3)), &regions, &programs, today);
        let decision = match (op, amount_ok) {
            (None, _) => Route::Refused(format!(
                "操作类型 {:?} 无法识别 | unknown operation",
                get(5)
            )),
            _ if bad.is_some() => Route::Refused(bad.unwrap_or_default()),
            (_, false) => Route::Refused(format!(
                "金额 {:?} 不是正的金额 | the amount is not a positive amount",
                get(4)
            )),
            (Some(op), true) => {
                ykt_cutover::route(&ctx.policy, phase, op, ykt_cutover::fund_year(get(2)))
            }
        };
        match decision {
            Route::To(System::Legacy) => outputs[0].1.push(line.to_owned()),
            Route::To(System::New) => outputs[1].1.push(line.to_owned()),
            Route::Refused(reason) => outputs[2]
                .1
                .push(format!("{line},\"{}\"", reason.replace('"', "\"\""))),
        }
    }
    let head = header.join(",");
    for (i, (name, rows)) in outputs.iter().enumerate() {
        let mut body = String::from("\u{feff}");
        body.push_str(&head);
        if i == 2 {
            body.push_str(",reason");
        }
        body.push_str("\r\n");
        for r in rows {
            body.push_str(r);
            body.push_str("\r\n");
        }
        let path = args.out.join(name);
        std::fs::write(&path, body)
            .map_err(|e| Failure::Run(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    println!(
        "at {} the phase is {} ({}): {} to legacy, {} to the new platform, {} refused; written to {}",
        ctx.stamp(),
        phase.name(),
        phase.chinese(),
        outputs[0].1.len(),
        outputs[1].1.len(),
        outputs[2].1.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One increment of the delta sync during dual-run, then a reconciliation like the full load's.
///
/// Reads the legacy rows changed since the cursor (GXSJ, key) per table, plus a look-back
/// window before it (for ties and late commits), re-extracts and transforms the stage, writes
/// the changed rows over the target's by their legacy keys, moves the cursor, and reconciles.
/// Re-running it is harmless. Exit 0 balanced, 1 differences.
#[derive(Debug, Args)]
#[command(after_help = super::examples::SYNC)]
pub struct SyncArgs {
    /// The legacy database. Default: $YKT_LEGACY_URL, else `[databases] legacy` in ykt.toml.
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
    /// The stage the full migration used; each increment refreshes it.
    #[arg(long, value_name = "DIR", default_value = "ykt-stage")]
    stage: PathBuf,
    /// The new platform. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Re-read this many minutes before the cursor, for rows committed late.
    #[arg(long, value_name = "MINUTES", default_value_t = 10)]
    lookback_minutes: i64,
    #[command(flatten)]
    reports: ReportFlags,
}

fn print_sync(report: &SyncReport) {
    println!(
        "sync increment {} into run {}: read {} new and {} re-read rows, wrote {} platform rows",
        report.increment,
        report.base_run_id,
        report.new_rows.values().sum::<u64>(),
        report.reread_rows.values().sum::<u64>(),
        report.rows_written
    );
    for (county, n) in &report.counties {
        println!("  {county}: {n} legacy rows changed");
    }
}

pub async fn sync(ctx: &Context, args: SyncArgs) -> Result<ExitCode, Failure> {
    let phase = ctx.phase();
    if !matches!(phase, Phase::DualRun | Phase::Frozen) {
        return Err(input(format!(
            "at {} the phase is {}: the delta sync runs during dual-run (from {}); use --at to rehearse",
            ctx.stamp(),
            phase.name(),
            ctx.policy.dual_run_from
        )));
    }
    let legacy = database_url(&super::required_url(
        ctx,
        &args.legacy,
        super::DbRole::Legacy,
    )?)?;
    let target_url = super::required_url(ctx, &args.target, super::DbRole::Target)?;
    let stage = Stage::new(&args.stage);
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    let target = open_target_for_writing(&target_url, "sync", false, Some(&legacy)).await?;
    let _stage_lock = lock_stage(&stage, "sync", true)?;
    let options = SyncOptions {
        context: ctx,
        lookback_minutes: args.lookback_minutes,
        carry_over: false,
    };
    let report = ykt_pipeline::sync::sync(&legacy, &target.db, &stage, &options)
        .await
        .classify()?;
    print_sync(&report);
    let source = LegacySource::Database(legacy);
    run_reconcile(
        ctx,
        &source,
        &stage,
        &super::database_url(&target_url)?,
        &args.reports,
    )
    .await
}

/// The year-end freeze, in order: the frozen guard on, a final sync, every line still owned by
/// legacy carried over to the new platform, a final reconciliation with each county's list of
/// carried-over lines, and an archive of every legacy table to Parquet with checksums.
///
/// Safe to re-run after an interruption: finished steps are recorded in the target and skipped.
#[derive(Debug, Args)]
#[command(after_help = super::examples::FREEZE)]
pub struct FreezeArgs {
    /// The legacy database. Default: $YKT_LEGACY_URL, else `[databases] legacy` in ykt.toml.
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
    /// The stage the full migration (and the syncs) used.
    #[arg(long, value_name = "DIR", default_value = "ykt-stage")]
    stage: PathBuf,
    /// The new platform. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Where to archive the legacy tables (Parquet files and a manifest with their SHA-256).
    #[arg(long, value_name = "DIR", default_value = "ykt-archive")]
    archive: PathBuf,
    /// Who does it, for the record (default: $USER).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    #[command(flatten)]
    reports: ReportFlags,
}

pub async fn freeze(ctx: &Context, args: FreezeArgs) -> Result<ExitCode, Failure> {
    let request = FreezeRequest {
        legacy: database_url(&super::required_url(
            ctx,
            &args.legacy,
            super::DbRole::Legacy,
        )?)?,
        stage: args.stage.clone(),
        target: database_url(&super::required_url(
            ctx,
            &args.target,
            super::DbRole::Target,
        )?)?,
        archive: args.archive.clone(),
        reports: args.reports.settings(),
        by: ykt_pipeline::who(args.by.as_deref()),
    };
    // Every folder and database is checked before step 1: a freeze must not stop at step 5.
    let plan = ykt_pipeline::freeze::plan(ctx, request).await.classify()?;
    let outcome = ykt_pipeline::freeze::execute(ctx, plan, &mut |step| match step {
        FreezeStep::Guard { side, triggers } => {
            println!(
                "freeze 1/5: {} frozen guard on ({triggers} triggers)",
                side.name()
            );
        }
        FreezeStep::FinalSync(None) => println!("freeze 2/5: final sync already done"),
        FreezeStep::FinalSync(Some(report)) => {
            print_sync(&report);
            println!("freeze 2/5: final sync done");
        }
        FreezeStep::CarryOver(None) => println!("freeze 3/5: carry-over already done"),
        FreezeStep::CarryOver(Some(n)) => {
            println!("freeze 3/5: {n} lines owned by legacy carried over to the new platform");
        }
        FreezeStep::Reconciling => println!("freeze 4/5: final reconciliation"),
        FreezeStep::Archived { tables, dir } => println!(
            "freeze 5/5: {tables} legacy tables archived in {} and verified against their SHA-256",
            dir.display()
        ),
    })
    .await
    .classify()?;
    Ok(print_outcome(&outcome))
}

/// Record one signature on a county's report (核对无误), bound to the report's SHA-256.
///
/// Two people sign, as the form has it: the 核对人 (`--role checker`) first, then the 审核人
/// (`--role reviewer`, another person) on the same report. The report must be the county's
/// latest reconciliation. A report that does not balance (不平衡), or balances with rejected
/// rows still waiting for the county, is refused (exit 2) unless the signer accepts it as it is
/// with `--accept-pending --reason TEXT`; the verdict and the reason are recorded. A later
/// reconciliation whose report differs, or a synced change in the county, makes the sign-off
/// no longer apply: `ykt status` and the next county report say so.
///
/// Examples:
///   ykt signoff --county 610802 --role checker --by 王会计 \
///       --report out/counties/610802/summary.json --target "$YKT_TARGET_URL"
///   ykt signoff --county 610802 --role reviewer --by 李科长 \
///       --report out/counties/610802/summary.json --target "$YKT_TARGET_URL"
///   ykt signoff --county 610802 --role checker --by 王会计 --accept-pending \
///       --reason "12 笔身份证号待公安核实，已登记，2021 年 1 月补迁" \
///       --report out/counties/610802/summary.json --target "$YKT_TARGET_URL"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct SignoffArgs {
    /// The county's code, e.g. 610802.
    #[arg(long, value_name = "CODE")]
    county: String,
    /// Who signs: checker (核对人) first, then reviewer (审核人).
    #[arg(long, value_enum)]
    role: SignRole,
    /// The name of the person who signs.
    #[arg(long, value_name = "NAME")]
    by: String,
    /// The summary.json of the report signed: OUT/counties/CODE/summary.json.
    #[arg(long, value_name = "FILE")]
    report: PathBuf,
    /// The new platform, where the sign-off is recorded. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Sign a report that does not balance or has rejected rows pending, as it is.
    #[arg(long, requires = "reason")]
    accept_pending: bool,
    /// Why the report is accepted as it is (recorded with the signature).
    #[arg(long, value_name = "TEXT", requires = "accept_pending")]
    reason: Option<String>,
}

/// The two signatures of the form.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SignRole {
    /// 核对人: checks the figures; signs first.
    #[value(alias = "核对人")]
    Checker,
    /// 审核人: reviews; signs the same report after the checker, and is another person.
    #[value(alias = "审核人")]
    Reviewer,
}

pub async fn signoff(ctx: &Context, args: SignoffArgs) -> Result<ExitCode, Failure> {
    use ykt_pipeline::signoff::{Role, Signing};
    let target = database_url(&super::required_url(
        ctx,
        &args.target,
        super::DbRole::Target,
    )?)?;
    let role = match args.role {
        SignRole::Checker => Role::Checker,
        SignRole::Reviewer => Role::Reviewer,
    };
    let signing = Signing {
        county: &args.county,
        role,
        by: &args.by,
        report: &args.report,
        accepted_reason: args.reason.as_deref(),
    };
    let signed = ykt_pipeline::signoff::signoff(ctx, &target, &signing)
        .await
        .classify()?;
    println!(
        "county {} {}: {} {} signed at {} (report SHA-256 {}); verdict {}",
        args.county,
        signed.summary.county_name,
        role.title(),
        args.by,
        signed.signed_at,
        &signed.summary_sha256[..16],
        signed.verdict.sentence(&signed.summary.pending),
    );
    if let Some(reason) = &args.reason {
        println!("accepted as it is: {reason}");
    }
    println!(
        "{}",
        if signed.complete {
            "sign-off complete: 核对人 and 审核人 have both signed this report"
        } else {
            "waiting for the 审核人 (--role reviewer) to sign the same report"
        }
    );
    Ok(ExitCode::SUCCESS)
}
