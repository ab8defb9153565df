//! The cutover commands: `ykt status`, `ykt guard`, `ykt route`, `ykt sync`, `ykt freeze` and
//! `ykt signoff` (`cutover-policy.md`). Each runs at `--at` (default: now) under the policy of
//! `--config` (default: ./ykt.toml, else the notice's dates).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ykt_cutover::{Expect, Operation, Outcome, Phase, Route, Side, System};
use ykt_db::Db;
use ykt_extract::LegacySource;
use ykt_stage::Stage;

use super::reconcile::{ReportFlags, run_reconcile};
use super::{
    Classify, Failure, context, database_url, input, lock_stage, open_target_for_writing, stamp,
};

fn parse_phase(text: &str) -> Result<Phase, String> {
    Phase::parse(text)
        .ok_or_else(|| format!("{text:?} is not a phase; use paused, dual-run or frozen"))
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Show the phase at --at, what each system may do now, the time to the next boundary, and per
/// county the last reconciliation, the sign-off and whether it still applies.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The new platform, for the per-county part.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
}

fn allowed(phase: Phase, year: i32) -> (String, String) {
    let policy = &context().policy;
    let legacy = match phase {
        Phase::Open => "read-write".to_owned(),
        Phase::Paused => "no writes at all".to_owned(),
        Phase::DualRun => format!("payments for fund years ≤ {year} only"),
        Phase::Frozen => "read-only".to_owned(),
    };
    let new = match phase {
        Phase::Open => "not live".to_owned(),
        Phase::Paused => "migration, reconciliation, county reports".to_owned(),
        Phase::DualRun => format!(
            "live; fund years ≥ {}; may not pay lines owned by legacy",
            policy.legacy_max_fund_year + 1
        ),
        Phase::Frozen => "the only system".to_owned(),
    };
    (legacy, new)
}

pub async fn status(args: StatusArgs) -> Result<ExitCode, Failure> {
    let ctx = context();
    let phase = ctx.policy.phase_at(ctx.at);
    let (legacy, new) = allowed(phase, ctx.policy.legacy_max_fund_year);
    println!("at {} (policy: {})", stamp(), ctx.policy_source);
    println!("phase: {} {}", phase.name(), phase.chinese());
    println!("  legacy system: {legacy}");
    println!("  new platform:  {new}");
    match ctx.policy.next_boundary(ctx.at) {
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
    let Some(target) = &args.target else {
        return Ok(ExitCode::SUCCESS);
    };
    let db = Db::connect(&database_url(target)?).await.classify()?;
    if !db.table_exists("cutover_county_report").await.classify()? {
        println!("counties: no reconciliation recorded in {target} yet");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = db
        .fetch_text_rows(
            "reading the county reports",
            "SELECT r.county_code, r.at, CAST(r.balanced AS TEXT), r.summary_sha256 FROM cutover_county_report r WHERE r.id = (SELECT MAX(id) FROM cutover_county_report x WHERE x.county_code = r.county_code) ORDER BY r.county_code",
        )
        .await
        .classify()?;
    println!(
        "{:<7} {:<26} {:<9} sign-off",
        "county", "last reconciliation", "verdict"
    );
    for r in rows {
        let county = r[0].clone().unwrap_or_default();
        let sha = r[3].clone().unwrap_or_default();
        let verdict = if r[2].as_deref() == Some("1") {
            "balanced"
        } else {
            "NOT balanced"
        };
        let signoff = match ykt_reports::signoff_state(&db, &county, &sha)
            .await
            .classify()?
        {
            None => "not signed".to_owned(),
            Some(s) if s.applies => {
                format!("signed by {} at {}: applies", s.signed_by, s.signed_at)
            }
            Some(s) => format!(
                "signed by {} at {}: NO LONGER APPLIES ({})",
                s.signed_by,
                s.signed_at,
                s.reason.unwrap_or_default()
            ),
        };
        println!(
            "{county:<7} {:<26} {verdict:<9} {signoff}",
            r[1].clone().unwrap_or_default()
        );
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Install, verify or remove the database guards of a phase.
///
/// The guards are triggers: paused and frozen refuse every write on the legacy T_ tables;
/// dual-run refuses legacy batches and lines of fund years after the routing year, and the new
/// platform refuses marking paid a line owned by legacy. Each refusal names the phase and the
/// rule in Chinese and English. Every install and removal is recorded in the target.
#[derive(Debug, Args)]
pub struct GuardArgs {
    #[command(subcommand)]
    action: GuardAction,
}

#[derive(Debug, Subcommand)]
enum GuardAction {
    /// Put the phase's guards on (replacing any other phase's), and revoke the legacy
    /// application account's write privileges while paused or frozen.
    Install(GuardOpts),
    /// Try every write the phase decides inside a rolled-back transaction and print what was
    /// refused. Exit 1 when a write the phase forbids went through or a guard is missing.
    Verify(GuardOpts),
    /// Take all guards off and give the application account its write privileges back.
    Remove(GuardOpts),
}

#[derive(Debug, Args)]
struct GuardOpts {
    /// The phase (paused, dual-run, frozen). Default: the phase at --at.
    #[arg(long, value_parser = parse_phase)]
    phase: Option<Phase>,
    /// The legacy database (MariaDB, PostgreSQL or SQLite).
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
    /// The new platform (PostgreSQL or SQLite); the guard events are recorded there.
    #[arg(long, value_name = "URL")]
    target: String,
    /// Who does it, for the record (default: $USER).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Why, for the record.
    #[arg(long, value_name = "TEXT", default_value = "cutover policy")]
    reason: String,
}

async fn open(url: &str) -> Result<Db, Failure> {
    Db::connect(&database_url(url)?).await.classify()
}

/// Puts a phase's guard on one database (with the legacy account's privileges), and records
/// it in the target. Returns the triggers created and what was done to the privileges.
async fn put_on_guard(
    target: &Db,
    side: Side,
    db: &Db,
    phase: Phase,
    by: &str,
    reason: &str,
) -> Result<(usize, String), Failure> {
    let policy = &context().policy;
    let n = ykt_cutover::install(db, side, policy, phase)
        .await
        .classify()?;
    let mut note = String::new();
    if side == Side::Legacy
        && let Some(account) = &policy.legacy_account
    {
        let writes = matches!(phase, Phase::Open | Phase::DualRun);
        if let Some(sql) = ykt_cutover::set_write_privileges(db, account, writes)
            .await
            .classify()?
        {
            note = format!("; {sql}");
        }
    }
    ykt_cutover::record_guard(
        target,
        &stamp(),
        "install",
        side.name(),
        phase,
        &db.url().to_string(),
        by,
        &format!("{reason}{note}"),
    )
    .await
    .classify()?;
    Ok((n, note))
}

pub async fn guard(args: GuardArgs) -> Result<ExitCode, Failure> {
    let ctx = context();
    let (GuardAction::Install(o) | GuardAction::Verify(o) | GuardAction::Remove(o)) = &args.action;
    let phase = o.phase.unwrap_or_else(|| ctx.policy.phase_at(ctx.at));
    // Installing or removing guards writes the target (the record of who did it): one writer.
    let write = match &args.action {
        GuardAction::Verify(_) => None,
        _ => Some(open_target_for_writing(&o.target, "guard", false, None).await?),
    };
    let target = match &write {
        Some(w) => w.db.clone(),
        None => open(&o.target).await?,
    };
    ykt_load::apply_migrations(&target).await.classify()?;
    let legacy = match &o.legacy {
        Some(url) => Some(open(url).await?),
        None => None,
    };
    let mut dbs: Vec<(Side, &Db)> = Vec::new();
    if let Some(l) = &legacy {
        dbs.push((Side::Legacy, l));
    }
    dbs.push((Side::Target, &target));
    let by = who(&o.by);
    let code = match &args.action {
        GuardAction::Install(_) => {
            for (side, db) in &dbs {
                let (n, note) = put_on_guard(&target, *side, db, phase, &by, &o.reason).await?;
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
                let n = ykt_cutover::remove(db).await.classify()?;
                if *side == Side::Legacy
                    && let Some(account) = &ctx.policy.legacy_account
                {
                    ykt_cutover::set_write_privileges(db, account, true)
                        .await
                        .classify()?;
                }
                ykt_cutover::record_guard(
                    &target,
                    &stamp(),
                    "remove",
                    side.name(),
                    phase,
                    &db.url().to_string(),
                    &by,
                    &o.reason,
                )
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
/// 银行回盘, 发放).
#[derive(Debug, Args)]
pub struct RouteArgs {
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// Where to write legacy.csv, new.csv and refused.csv.
    #[arg(long, value_name = "DIR", default_value = "ykt-routed")]
    out: PathBuf,
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

pub fn route(args: RouteArgs) -> Result<ExitCode, Failure> {
    let ctx = context();
    let phase = ctx.policy.phase_at(ctx.at);
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
        let amount_ok =
            ykt_reconcile::money(Some(get(4))).is_some_and(|a| a > rust_decimal::Decimal::ZERO);
        let decision = match (op, amount_ok) {
            (None, _) => Route::Refused(format!(
                "操作类型 {:?} 无法识别 | unknown operation",
                get(5)
            )),
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
        stamp(),
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
pub struct SyncArgs {
    /// The legacy database.
    #[arg(long, value_name = "URL")]
    legacy: String,
    /// The stage the full migration used; each increment refreshes it.
    #[arg(long, value_name = "DIR", default_value = "ykt-stage")]
    stage: PathBuf,
    /// The new platform.
    #[arg(long, value_name = "URL")]
    target: String,
    /// Re-read this many minutes before the cursor, for rows committed late.
    #[arg(long, value_name = "MINUTES", default_value_t = 10)]
    lookback_minutes: i64,
    #[command(flatten)]
    reports: ReportFlags,
}

async fn run_sync(
    legacy_url: &ykt_db::DbUrl,
    stage: &Stage,
    db: &Db,
    lookback: i64,
) -> Result<ykt_cutover::SyncReport, Failure> {
    ykt_load::apply_migrations(db).await.classify()?;
    let options = ykt_cutover::SyncOptions {
        at: stamp(),
        lookback_minutes: lookback,
        policy: &context().policy,
    };
    let report = ykt_cutover::sync(legacy_url, db, stage, &options, false)
        .await
        .classify()?;
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
    Ok(report)
}

pub async fn sync(args: SyncArgs) -> Result<ExitCode, Failure> {
    let ctx = context();
    let phase = ctx.policy.phase_at(ctx.at);
    if !matches!(phase, Phase::DualRun | Phase::Frozen) {
        return Err(input(format!(
            "at {} the phase is {}: the delta sync runs during dual-run (from {}); use --at to rehearse",
            stamp(),
            phase.name(),
            ctx.policy.dual_run_from
        )));
    }
    let legacy = database_url(&args.legacy)?;
    let stage = Stage::new(&args.stage);
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    let target = open_target_for_writing(&args.target, "sync", false, Some(&legacy)).await?;
    let _stage_lock = lock_stage(&stage, "sync", true)?;
    run_sync(&legacy, &stage, &target.db, args.lookback_minutes).await?;
    let source = LegacySource::Database(legacy);
    run_reconcile(&source, &stage, &args.target, &args.reports).await
}

/// Checks, before any step, that the archive folder can be written: created readable by its
/// owner only (it holds every legacy row), and a file written and removed in it.
fn writable_archive(dir: &std::path::Path, stage: &std::path::Path) -> Result<(), Failure> {
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

/// The year-end freeze, in order: the frozen guard on, a final sync, every line still owned by
/// legacy carried over to the new platform, a final reconciliation with each county's list of
/// carried-over lines, and an archive of every legacy table to Parquet with checksums.
///
/// Safe to re-run after an interruption: finished steps are recorded in the target and skipped.
#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// The legacy database.
    #[arg(long, value_name = "URL")]
    legacy: String,
    /// The stage the full migration (and the syncs) used.
    #[arg(long, value_name = "DIR", default_value = "ykt-stage")]
    stage: PathBuf,
    /// The new platform.
    #[arg(long, value_name = "URL")]
    target: String,
    /// Where to archive the legacy tables (Parquet files and a manifest with their SHA-256).
    #[arg(long, value_name = "DIR", default_value = "ykt-archive")]
    archive: PathBuf,
    /// Who does it, for the record (default: $USER).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    #[command(flatten)]
    reports: ReportFlags,
}

pub async fn freeze(args: FreezeArgs) -> Result<ExitCode, Failure> {
    let ctx = context();
    let phase = ctx.policy.phase_at(ctx.at);
    if phase != Phase::Frozen {
        return Err(input(format!(
            "at {} the phase is {}; the freeze is at {} (rehearse with --at)",
            stamp(),
            phase.name(),
            ctx.policy.frozen_from
        )));
    }
    // Every folder and database is checked before step 1: a freeze must not stop at step 5.
    let legacy_url = database_url(&args.legacy)?;
    writable_archive(&args.archive, &args.stage)?;
    ykt_reports::prepare_out(&args.reports.out).classify()?;
    let stage = Stage::new(&args.stage);
    let write = open_target_for_writing(&args.target, "freeze", false, Some(&legacy_url)).await?;
    let _stage_lock = lock_stage(&stage, "freeze", true)?;
    let target = &write.db;
    ykt_load::apply_migrations(target).await.classify()?;
    let legacy = open(&args.legacy).await?;
    let by = who(&args.by);
    // 1. The frozen guard, on both sides (installing it again is harmless).
    for (side, db) in [(Side::Legacy, &legacy), (Side::Target, target)] {
        let (n, _) = put_on_guard(target, side, db, Phase::Frozen, &by, "year-end freeze").await?;
        println!("freeze 1/5: {} frozen guard on ({n} triggers)", side.name());
    }
    fail::fail_point!("freeze::step", |_| std::process::abort());
    legacy.close().await;
    // 2. The final sync.
    if ykt_cutover::step_done(target, "final-sync")
        .await
        .classify()?
    {
        println!("freeze 2/5: final sync already done");
    } else {
        run_sync(&legacy_url, &stage, target, 10).await?;
        ykt_cutover::mark_step(target, "final-sync", &stamp())
            .await
            .classify()?;
        println!("freeze 2/5: final sync done");
    }
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 3. Carry over.
    if ykt_cutover::step_done(target, "carry-over")
        .await
        .classify()?
    {
        println!("freeze 3/5: carry-over already done");
    } else {
        let n = ykt_cutover::carry_over(target, &stamp()).await.classify()?;
        ykt_cutover::mark_step(target, "carry-over", &stamp())
            .await
            .classify()?;
        println!("freeze 3/5: {n} lines owned by legacy carried over to the new platform");
    }
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 4. The final reconciliation: the stage now expects every line owned by the new platform.
    // Re-transformed with every line owned by the new platform; the snapshot, and so the run
    // its rows are recorded under, stays the same.
    let as_of = stage
        .manifest::<ykt_transform::TransformManifest>(ykt_stage::Step::Transform)
        .ok()
        .map(|m| m.as_of);
    ykt_transform::transform(
        &stage,
        &ykt_transform::TransformOptions {
            routing_year: 0,
            as_of,
            overwrite: true,
        },
        &|_, _| {},
    )
    .classify()?;
    println!("freeze 4/5: final reconciliation");
    let source = LegacySource::Database(legacy_url.clone());
    let code = run_reconcile(&source, &stage, &args.target, &args.reports).await?;
    fail::fail_point!("freeze::step", |_| std::process::abort());
    // 5. The archive.
    let manifest = ykt_cutover::archive(&legacy_url, &args.archive)
        .await
        .classify()?;
    if !ykt_cutover::step_done(target, "archive").await.classify()? {
        ykt_cutover::mark_step(target, "archive", &stamp())
            .await
            .classify()?;
    }
    println!(
        "freeze 5/5: {} legacy tables archived in {} and verified against their SHA-256",
        manifest.tables.len(),
        args.archive.display()
    );
    Ok(code)
}

/// Record a county's sign-off (核对无误) of its report, bound to the report's SHA-256.
///
/// The report must be the county's latest reconciliation. A later reconciliation whose report
/// differs, or a synced change in the county, makes the sign-off no longer apply: `ykt status`
/// and the next county report say so.
#[derive(Debug, Args)]
pub struct SignoffArgs {
    /// The county's code, e.g. 610802.
    #[arg(long, value_name = "CODE")]
    county: String,
    /// Who signs (核对人).
    #[arg(long, value_name = "NAME")]
    by: String,
    /// The summary.json of the report signed: OUT/counties/CODE/summary.json.
    #[arg(long, value_name = "FILE")]
    report: PathBuf,
    /// The new platform, where the sign-off is recorded.
    #[arg(long, value_name = "URL")]
    target: String,
}

pub async fn signoff(args: SignoffArgs) -> Result<ExitCode, Failure> {
    let summary: ykt_reports::CountySummary = ykt_stage::read_json(&args.report).map_err(|e| {
        input(format!(
            "{} is not a county summary.json: {e}",
            args.report.display()
        ))
    })?;
    if summary.county_code != args.county {
        return Err(input(format!(
            "{} is county {}'s report, not {}",
            args.report.display(),
            summary.county_code,
            args.county
        )));
    }
    let sha = ykt_stage::sha256_file(&args.report).map_err(input)?;
    let write = open_target_for_writing(&args.target, "signoff", false, None).await?;
    let db = write.db.clone();
    ykt_load::apply_migrations(&db).await.classify()?;
    let e = db.engine();
    let q = |v: &str| ykt_db::quote_literal(e, v);
    let latest = db
        .fetch_text_rows(
            "reading the latest report",
            &format!("SELECT summary_sha256, at FROM cutover_county_report WHERE county_code = {} ORDER BY id DESC LIMIT 1", q(&args.county)),
        )
        .await
        .classify()?;
    match latest.first() {
        Some(r) if r[0].as_deref() == Some(sha.as_str()) => {}
        Some(r) => {
            return Err(input(format!(
                "{} is not county {}'s latest report (the latest was written at {}); sign that one",
                args.report.display(),
                args.county,
                r[1].clone().unwrap_or_default()
            )));
        }
        None => {
            return Err(input(format!(
                "{} has no reconciliation of county {} to sign",
                args.target, args.county
            )));
        }
    }
    if !summary.balanced {
        println!(
            "warning: county {} does not balance; the sign-off records that it was signed as it is",
            args.county
        );
    }
    db.execute(
        "recording the sign-off",
        &format!(
            "INSERT INTO cutover_signoff (county_code, signed_by, signed_at, summary_sha256, run_id) VALUES ({}, {}, {}, {}, {})",
            q(&args.county),
            q(&args.by),
            q(&stamp()),
            q(&sha),
            q(&summary.run_id)
        ),
    )
    .await
    .classify()?;
    db.close().await;
    println!(
        "county {} {} signed off by {} at {} (report SHA-256 {})",
        args.county,
        summary.county_name,
        args.by,
        stamp(),
        &sha[..16]
    );
    Ok(ExitCode::SUCCESS)
}
