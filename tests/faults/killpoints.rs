//! Kill points: `migrate`, `sync` and `freeze` killed at deterministic points and at random
//! moments, then continued; the target must equal an uninterrupted run's, every county
//! balanced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use ykt_db::{Db, DbUrl, Engine};

use crate::support::{
    Rows, Server, dump_tables, fresh_database, fresh_sqlite, schema_of, temp_dir, ykt_ok,
};

/// The tables compared: the platform's and the bookkeeping (without the columns that differ
/// between two runs of the same data: run ids and times).
const TABLES: [&str; 13] = [
    "region",
    "program",
    "allocation",
    "beneficiary",
    "beneficiary_legacy_map",
    "payment_batch",
    "payment",
    "migration_reject",
    "migration_correction",
    "cutover_sync_change",
    "cutover_sync_cursor",
    "cutover_carry_over",
    "cutover_freeze_step",
];
const VOLATILE: [&str; 5] = [
    "run_id",
    "completed_at",
    "updated_at",
    "done_at",
    "carried_at",
];

/// Every compared table of a target, each column as text, rows sorted; and under `(schema)`
/// its constraints, whether validated, and indexes: a load that crashed while putting them
/// back must leave none missing, unvalidated or left over once resumed.
pub async fn dump(url: &DbUrl) -> BTreeMap<String, Rows> {
    let mut tables = dump_tables(url, &TABLES, &VOLATILE).await;
    let schema = schema_of(url)
        .await
        .into_iter()
        .map(|s| vec![Some(s)])
        .collect();
    tables.insert("(schema)".to_owned(), schema);
    tables
}

fn assert_same(found: &BTreeMap<String, Rows>, want: &BTreeMap<String, Rows>, what: &str) {
    for (table, rows) in want {
        let got = found.get(table).cloned().unwrap_or_default();
        if &got != rows {
            let missing = rows.iter().filter(|r| !got.contains(r)).count();
            let extra = got.iter().filter(|r| !rows.contains(r)).count();
            panic!(
                "{what}: {table} differs from the uninterrupted run ({missing} rows missing, {extra} extra; {} vs {})",
                got.len(),
                rows.len()
            );
        }
    }
}

/// Runs ykt with kill points set (`FAILPOINTS`).
fn ykt_killed(args: &[&str], failpoints: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args(args)
        .env("YKT_LOG", "error")
        .env("FAILPOINTS", failpoints)
        .output()
        .expect("ykt runs")
}

/// Runs ykt and kills it (SIGKILL) after `after`.
fn ykt_sigkilled(args: &[&str], after: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args(args)
        .env("YKT_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ykt starts");
    std::thread::sleep(after);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill();
    let _ = child.wait();
    !finished
}

/// `name=N*off->return`: the point kills the process the N+1-th time it is reached.
fn at(point: &str, skip: u32) -> String {
    if skip == 0 {
        format!("{point}=return")
    } else {
        format!("{point}={skip}*off->return")
    }
}

fn all_points() -> bool {
    std::env::var("YKT_FAULTS").is_ok_and(|v| v == "all")
}

/// The kill points of a migration: extract, transform, each county's load, the foreign keys
/// and the index build. CI runs every third.
fn migrate_points() -> Vec<String> {
    let mut points = vec![
        at("extract::table_done", 0),
        at("extract::table_done", 3),
        at("extract::table_done", 5),
        at("transform::table_done", 0),
        at("transform::table_done", 1),
        at("load::county_before_commit", 0),
        at("load::county_committed", 0),
        at("load::county_before_commit", 1),
        at("load::county_committed", 1),
        at("load::county_before_commit", 2),
        at("load::county_committed", 2),
        at("load::county_before_commit", 3),
        at("load::before_foreign_keys", 0),
        at("load::before_indexes", 0),
        at("load::index_built", 0),
        at("load::index_built", 3),
        at("load::index_built", 7),
    ];
    if !all_points() {
        points = points.into_iter().step_by(3).collect();
    }
    points
}

struct Legacy {
    url: DbUrl,
    dir: PathBuf,
}

fn generate(test: &str) -> Legacy {
    generate_counties(test, 4, 120)
}

fn generate_counties(test: &str, counties: u32, people: u32) -> Legacy {
    let dir = temp_dir(test);
    let url = fresh_sqlite(test, "legacy.sqlite");
    let (counties, people) = (counties.to_string(), people.to_string());
    ykt_ok(&[
        "generate",
        "--counties",
        &counties,
        "--beneficiaries-per-county",
        &people,
        "--seed",
        "17",
        "--legacy",
        url.expose(),
        "--truth",
        dir.join("truth.json").to_str().unwrap(),
    ]);
    Legacy { url, dir }
}

fn migrate_args<'a>(legacy: &'a DbUrl, stage: &'a str, target: &'a DbUrl) -> Vec<&'a str> {
    vec![
        "migrate",
        "--legacy",
        legacy.expose(),
        "--stage",
        stage,
        "--target",
        target.expose(),
    ]
}

fn reconciled(legacy: &DbUrl, stage: &str, target: &DbUrl, out: &Path, what: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args([
            "reconcile",
            "--legacy",
            legacy.expose(),
            "--stage",
            stage,
            "--target",
            target.expose(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env("YKT_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{what}: every county balances after the crash and the resume\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

async fn target_for(engine: Engine, name: &str) -> Option<DbUrl> {
    match engine {
        Engine::Postgres => fresh_database(Server::Postgres, name).await,
        _ => Some(fresh_sqlite(name, "platform.sqlite")),
    }
}

async fn migrate_survives_kill_points(engine: Engine, test: &str) {
    let legacy = generate(test);
    let Some(reference) = target_for(engine, &format!("{test}_ref")).await else {
        return;
    };
    let ref_stage = legacy.dir.join("stage-ref").display().to_string();
    ykt_ok(&migrate_args(&legacy.url, &ref_stage, &reference));
    let want = dump(&reference).await;
    assert!(want["payment"].len() > 1000);
    let mut cases: Vec<(String, Option<Duration>)> =
        migrate_points().into_iter().map(|p| (p, None)).collect();
    let timed = if all_points() { 6 } else { 2 };
    for i in 0..timed {
        cases.push((
            format!("sigkill-{i}"),
            Some(Duration::from_millis(300 + 450 * i)),
        ));
    }
    let mut killed = 0;
    for (i, (point, after)) in cases.iter().enumerate() {
        let name = format!("{test}_{i}");
        let Some(target) = target_for(engine, &name).await else {
            return;
        };
        let stage = legacy.dir.join(format!("stage-{i}")).display().to_string();
        let args = migrate_args(&legacy.url, &stage, &target);
        let was_killed = match after {
            None => {
                let o = ykt_killed(&args, point);
                !o.status.success()
            }
            Some(after) => ykt_sigkilled(&args, *after),
        };
        if was_killed {
            killed += 1;
        }
        let out = legacy.dir.join(format!("out-{i}"));
        resumed_like(&args, &want, (&legacy.url, &stage, &target), &out, point).await;
    }
    assert!(
        killed * 10 >= cases.len() * 7,
        "most cases killed the migration: {killed} of {}",
        cases.len()
    );
    eprintln!(
        "{test}: {} kill cases, {killed} killed mid-run, each resumed to the uninterrupted target",
        cases.len()
    );
}

#[tokio::test]
async fn migrate_to_sqlite_survives_kill_points() {
    migrate_survives_kill_points(Engine::Sqlite, "kill_sqlite").await;
}

#[tokio::test]
async fn migrate_to_postgres_survives_kill_points() {
    migrate_survives_kill_points(Engine::Postgres, "kill_pg").await;
}

/// A PostgreSQL target for a kill case, its stage folder, and the dump of an uninterrupted
/// migration of the same legacy system (what the killed one must end as).
async fn pg_case(test: &str, legacy: &Legacy) -> Option<(DbUrl, String, BTreeMap<String, Rows>)> {
    let reference = fresh_database(Server::Postgres, &format!("{test}_ref")).await?;
    let target = fresh_database(Server::Postgres, test).await?;
    let ref_stage = legacy.dir.join("stage-ref").display().to_string();
    ykt_ok(&migrate_args(&legacy.url, &ref_stage, &reference));
    let want = dump(&reference).await;
    let stage = legacy.dir.join("stage").display().to_string();
    Some((target, stage, want))
}

/// A county of a bulk load into PostgreSQL sends its payment lines over connections beside its
/// own (the last county over two), whose transactions commit before the county's: killed
/// between those commits and the county's, the target holds that county's payment lines
/// without its checkpoint, and the resumed load must neither keep them twice nor lose them.
#[tokio::test]
async fn a_county_loaded_over_two_connections_survives_a_kill_between_its_commits() {
    let test = "kill_pg_split";
    // Enough payment lines for several COPY chunks, dealt out to both connections.
    let legacy = generate_counties(test, 1, 2000);
    let Some((target, stage, want)) = pg_case(test, &legacy).await else {
        return;
    };
    let args = migrate_args(&legacy.url, &stage, &target);
    let o = ykt_killed(&args, &at("load::county_between_commits", 0));
    assert!(
        !o.status.success(),
        "the load reached the point between a county's commits"
    );
    let db = Db::connect(&target).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { db.fetch_i64("counting", sql).await.unwrap().unwrap_or(0) }
    };
    let lines = count("SELECT COUNT(*) FROM payment").await;
    let checkpoints = count(
        "SELECT COUNT(*) FROM migration_checkpoint WHERE step = 'money' AND county_code IN (SELECT county_code FROM payment)",
    )
    .await;
    let counties = count("SELECT COUNT(DISTINCT county_code) FROM payment").await;
    db.close().await;
    assert!(
        lines > 0 && lines <= want["payment"].len() as i64,
        "killed between the commits, the target holds the county's payment lines ({lines} of {})",
        want["payment"].len()
    );
    assert_eq!(counties, 1, "the lines are of the one county");
    assert_eq!(
        checkpoints, 0,
        "the county's own transaction did not commit"
    );
    let what = "killed between a county's commits";
    let out = legacy.dir.join("out");
    resumed_like(&args, &want, (&legacy.url, &stage, &target), &out, what).await;
}

/// Runs the killed migration `args` again with `--resume`: it must succeed, leave the target
/// equal to the uninterrupted run's (`want`), and every county must balance.
async fn resumed_like(
    args: &[&str],
    want: &BTreeMap<String, Rows>,
    (legacy, stage, target): (&DbUrl, &str, &DbUrl),
    out: &Path,
    what: &str,
) {
    let mut resume = args.to_vec();
    resume.push("--resume");
    ran_again_like(&resume, want, (legacy, stage, target), out, what).await;
}

/// Runs a killed migration again as `args`: it must succeed, leave the target equal to the
/// uninterrupted run's (`want`), and every county must balance.
async fn ran_again_like(
    args: &[&str],
    want: &BTreeMap<String, Rows>,
    (legacy, stage, target): (&DbUrl, &str, &DbUrl),
    out: &Path,
    what: &str,
) {
    let o = ykt_killed(args, "");
    assert!(
        o.status.success(),
        "{what}: the migration run again failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_same(&dump(target).await, want, what);
    reconciled(legacy, stage, target, out, what);
}

/// A bulk load into PostgreSQL sets the migrated tables' keys aside (primary and unique) and
/// puts them back at its end. Killed while it loads the counties, while it builds the indexes,
/// or before it attaches the keys, and then run again *without* `--resume`, the run replaces
/// county by county, which finds rows by those keys: it must put them back first (and leave
/// the foreign keys aside until its end), and end equal to an uninterrupted run, constraints
/// and indexes included.
#[tokio::test]
async fn a_bulk_load_killed_then_run_again_without_resume_ends_like_an_uninterrupted_one() {
    let test = "kill_pg_rerun";
    let legacy = generate(test);
    let Some((first, _, want)) = pg_case(test, &legacy).await else {
        return;
    };
    let points = [
        at("load::county_committed", 1),
        at("load::index_built", 3),
        at("load::before_foreign_keys", 0),
    ];
    for (i, point) in points.iter().enumerate() {
        let target = match i {
            0 => first.clone(),
            _ => match fresh_database(Server::Postgres, &format!("{test}_{i}")).await {
                Some(target) => target,
                None => return,
            },
        };
        let stage = legacy.dir.join(format!("stage-{i}")).display().to_string();
        let args = migrate_args(&legacy.url, &stage, &target);
        let o = ykt_killed(&args, point);
        assert!(!o.status.success(), "{point}: the load was killed");
        let db = Db::connect(&target).await.unwrap();
        let set_aside = db
            .fetch_i64(
                "counting",
                "SELECT COUNT(*) FROM migration_pending_constraint WHERE definition LIKE 'PRIMARY KEY%'",
            )
            .await
            .unwrap()
            .unwrap_or(0);
        let has_key = db
            .fetch_i64(
                "counting",
                "SELECT COUNT(*) FROM pg_constraint WHERE conname = 'payment_pkey'",
            )
            .await
            .unwrap()
            .unwrap_or(0);
        db.close().await;
        assert!(
            set_aside >= 5 && has_key == 0,
            "{point}: killed mid-load, the keys are set aside ({set_aside} recorded, payment's present: {has_key})"
        );
        let what = format!("a bulk load killed at {point}, then run again without --resume");
        let o = ykt_killed(&args, "");
        assert!(
            o.status.success(),
            "{what}: the migration run again failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // Run again, the stage is extracted again: a new run, which keeps the killed run's
        // rejects and corrections as that run's record. The comparison is of the new run's.
        let db = Db::connect(&target).await.unwrap();
        db.execute_script(
            "forgetting the killed run's record",
            "DELETE FROM migration_reject WHERE run_id IN (SELECT run_id FROM migration_run WHERE status = 'running'); \
             DELETE FROM migration_correction WHERE run_id IN (SELECT run_id FROM migration_run WHERE status = 'running')",
        )
        .await
        .unwrap();
        db.close().await;
        assert_same(&dump(&target).await, &want, &what);
        let out = legacy.dir.join(format!("out-{i}"));
        reconciled(&legacy.url, &stage, &target, &out, &what);
    }
}

/// A migrated target, its stage and its legacy, copied so that each kill case starts alike.
struct Snapshot {
    legacy: PathBuf,
    target: PathBuf,
    stage: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let status = Command::new("cp")
        .args(["-a", from.to_str().unwrap(), to.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
}

impl Snapshot {
    fn copy_to(&self, dir: &Path) -> (DbUrl, DbUrl, String) {
        std::fs::create_dir_all(dir).unwrap();
        let legacy = dir.join("legacy.sqlite");
        let target = dir.join("platform.sqlite");
        std::fs::copy(&self.legacy, &legacy).unwrap();
        std::fs::copy(&self.target, &target).unwrap();
        let stage = dir.join("stage");
        copy_dir(&self.stage, &stage);
        let url = |p: &Path| format!("sqlite://{}", p.display()).parse().unwrap();
        (url(&legacy), url(&target), stage.display().to_string())
    }
}

/// A legacy system migrated into SQLite, with a 2019 bank return waiting in legacy.
async fn dual_run_snapshot(test: &str) -> Snapshot {
    let legacy = generate(test);
    let target = fresh_sqlite(&format!("{test}_base"), "platform.sqlite");
    let stage = legacy.dir.join("stage");
    ykt_ok(&migrate_args(&legacy.url, stage.to_str().unwrap(), &target));
    let db = Db::connect(&legacy.url).await.unwrap();
    db.execute(
        "a 2019 bank return and a reissue",
        "UPDATE \"T_FFMX\" SET \"FFZT\" = '2', \"SBYY\" = '账号已销户', \"GXSJ\" = '2020-12-27 09:00:00' \
         WHERE \"MXID\" IN (SELECT \"MXID\" FROM \"T_FFMX\" WHERE \"ND\" = '2019' AND \"FFZT\" = '1' ORDER BY \"MXID\" LIMIT 3)",
    )
    .await
    .unwrap();
    db.execute(
        "a new phone",
        "UPDATE \"T_BTDX\" SET \"LXDH\" = '13900000000', \"GXSJ\" = '2020-12-27 10:00:00' WHERE \"DXID\" IN (SELECT MIN(\"DXID\") FROM \"T_BTDX\")",
    )
    .await
    .unwrap();
    db.close().await;
    Snapshot {
        legacy: PathBuf::from(legacy.url.database()),
        target: PathBuf::from(target.database()),
        stage,
    }
}

async fn survives(test: &str, command: &[&str], points: &[String]) {
    let snapshot = dual_run_snapshot(test).await;
    let base = temp_dir(&format!("{test}-cases"));
    let run = |dir: &Path, failpoints: &str| {
        let (legacy, target, stage) = snapshot.copy_to(dir);
        let out = dir.join("out");
        let archive = dir.join("archive");
        let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                "--legacy",
                legacy.expose(),
                "--stage",
                &stage,
                "--target",
                target.expose(),
                "--out",
                out.to_str().unwrap(),
            ]
            .map(str::to_owned),
        );
        if command.contains(&"freeze") {
            args.extend(["--archive".to_owned(), archive.display().to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let first = ykt_killed(&refs, failpoints);
        (
            refs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            target,
            first,
        )
    };
    let (_, reference, o) = run(&base.join("reference"), "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = dump(&reference).await;
    for (i, point) in points.iter().enumerate() {
        let (args, target, first) = run(&base.join(format!("case-{i}")), point);
        assert!(!first.status.success(), "{point} did not stop the run");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let again = ykt_killed(&refs, "");
        assert_eq!(
            again.status.code(),
            Some(0),
            "{point}: run again after the crash: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_same(&dump(&target).await, &want, point);
    }
    eprintln!(
        "{test}: {} kill points, each rerun to the uninterrupted target, balanced",
        points.len()
    );
}

#[tokio::test]
async fn sync_survives_kill_points() {
    let points = [
        at("extract::table_done", 0),
        at("extract::table_done", 5),
        at("transform::table_done", 1),
        at("sync::extracted", 0),
        at("sync::transformed", 0),
        at("sync::upserted", 0),
    ];
    survives("kill_sync", &["--at", "2020-12-28 12:00", "sync"], &points).await;
}

#[tokio::test]
async fn freeze_survives_kill_points() {
    let points = [
        at("freeze::step", 0),
        at("sync::upserted", 0),
        at("freeze::step", 1),
        at("freeze::step", 2),
        at("freeze::step", 3),
        at("extract::table_done", 9),
    ];
    survives(
        "kill_freeze",
        &["--at", "2021-01-02 00:10", "freeze"],
        &points,
    )
    .await;
}
