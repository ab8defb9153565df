//! Issue 5: the cutover timeline walked with `--at`: guards in the databases, routing, the
//! delta sync, the freeze, the archive and the sign-off, on MariaDB → PostgreSQL and on SQLite
//! on both sides; and guards on a PostgreSQL legacy.

use std::path::Path;

use ykt_db::{Db, DbUrl, Engine};

use crate::support::{Server, fresh_database, fresh_sqlite, temp_dir, ykt, ykt_ok};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// `ykt --at AT guard ACTION --legacy L --target T`, which must succeed.
fn guard_ok(at: &str, action: &str, l: &str, t: &str) {
    ykt_ok(&["--at", at, "guard", action, "--legacy", l, "--target", t]);
}

/// `ykt --at AT sync …`, which must succeed (the reconciliation balances).
fn sync_ok(at: &str, l: &str, stage: &Path, t: &str, out: &Path) {
    ykt_ok(&[
        "--at",
        at,
        "sync",
        "--legacy",
        l,
        "--stage",
        &s(stage),
        "--target",
        t,
        "--out",
        &s(out),
    ]);
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

async fn one(db: &Db, sql: &str) -> i64 {
    db.fetch_i64("pick", sql).await.unwrap().unwrap()
}

/// A write the guard must refuse: it fails, and with the guard's bilingual message.
async fn refused(db: &Db, sql: &str, phase_zh: &str) {
    let err = db
        .execute("a write the phase forbids", sql)
        .await
        .expect_err(sql);
    let text = format!("{err:#}");
    let detail = format!("{:?}", err);
    assert!(
        (text.contains("YKT") || detail.contains("YKT"))
            && (text.contains(phase_zh) || detail.contains(phase_zh)),
        "{sql}: refused, but not by the {phase_zh} guard: {detail}"
    );
}

/// The routing of `ykt route` and the legacy guard agree: an operation routed to legacy is a
/// write legacy's guard lets through, and the other way round.
async fn route_agrees_with_guard(legacy: &Db, at: &str, dir: &Path) {
    let input = dir.join(format!("ops-{}.csv", at.replace([' ', ':'], "-")));
    std::fs::write(
        &input,
        "county,program,fund_year,id_number,amount,operation\n610802,NY001,2018,610802198001011235,120.00,new_line\n610802,NY001,2019,610802198001011235,120.00,bank_return\n610802,NY001,2020,610802198001011235,120.00,new_line\n610802,NY001,2021年,610802198001011235,120.00,pay\n",
    )
    .unwrap();
    let out = dir.join(format!("routed-{}", at.replace([' ', ':'], "-")));
    ykt_ok(&["--at", at, "route", &s(&input), "--out", &s(&out)]);
    let legacy_csv = std::fs::read_to_string(out.join("legacy.csv")).unwrap();
    let e = legacy.engine();
    for year in ["2018", "2019", "2020", "2021年"] {
        let routed_to_legacy = legacy_csv.lines().any(|l| l.contains(&format!(",{year},")));
        let (t, k, nd) = match e {
            Engine::MySql => ("`T_FFMX`", "`MXID`", "`ND`"),
            _ => ("\"T_FFMX\"", "\"MXID\"", "\"ND\""),
        };
        let allowed = legacy
            .try_rolled_back(&format!(
                "INSERT INTO {t} ({k}, {nd}) VALUES (-777, '{year}')"
            ))
            .await
            .is_ok();
        assert_eq!(
            routed_to_legacy, allowed,
            "at {at}, fund year {year}: route says legacy = {routed_to_legacy}, the guard allows = {allowed}"
        );
    }
}

fn status(target: &DbUrl, at: &str) -> String {
    String::from_utf8_lossy(&ykt_ok(&["--at", at, "status", "--target", target.expose()]).stdout)
        .into_owned()
}

async fn walk_the_timeline(legacy: DbUrl, target: DbUrl, test: &str) {
    let dir = temp_dir(test);
    let stage = dir.join("stage");
    let (l, t) = (legacy.expose(), target.expose());
    let q = |name: &str| match legacy.engine() {
        Engine::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    };

    // Open: generate, then the full migration.
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "100",
        "--seed",
        "3",
        "--legacy",
        l,
    ]);
    ykt_ok(&[
        "--at",
        "2020-11-01",
        "run",
        "--legacy",
        l,
        "--stage",
        &s(&stage),
        "--target",
        t,
        "--out",
        &s(&dir.join("out-open")),
    ]);
    let ldb = Db::connect(&legacy).await.unwrap();
    let tdb = Db::connect(&target).await.unwrap();
    route_agrees_with_guard(&ldb, "2020-11-01", &dir).await;

    // Paused: the guard is on, and any legacy write is refused.
    ykt_ok(&[
        "--at",
        "2020-11-12",
        "guard",
        "install",
        "--legacy",
        l,
        "--target",
        t,
        "--by",
        "省厅信息中心",
        "--reason",
        "暂停旧系统",
    ]);
    refused(
        &ldb,
        &format!(
            "UPDATE {} SET {} = 'x' WHERE {} = 1",
            q("T_BTDX"),
            q("XM"),
            q("DXID")
        ),
        "暂停期",
    )
    .await;
    refused(
        &ldb,
        &format!("DELETE FROM {} WHERE {} = 1", q("T_FFMX"), q("MXID")),
        "暂停期",
    )
    .await;
    guard_ok("2020-11-12", "verify", l, t);
    route_agrees_with_guard(&ldb, "2020-11-12", &dir).await;
    let events = one(&tdb, "SELECT COUNT(*) FROM cutover_guard_event WHERE action = 'install' AND phase = 'paused' AND by_whom = '省厅信息中心'").await;
    assert_eq!(events, 2, "both installs are recorded with who and why");

    // Dual-run.
    guard_ok("2020-11-15 08:00", "install", l, t);
    guard_ok("2020-11-15 08:00", "verify", l, t);
    route_agrees_with_guard(&ldb, "2020-11-20", &dir).await;
    // A legacy write for fund year 2020 is refused.
    refused(
        &ldb,
        &format!(
            "INSERT INTO {} ({}, {}, {}) VALUES (-1, '2020', '0')",
            q("T_FFMX"),
            q("MXID"),
            q("ND"),
            q("FFZT")
        ),
        "双轨期",
    )
    .await;
    let line2020 = one(
        &ldb,
        &format!(
            "SELECT MIN({}) FROM {} WHERE {} = '2020'",
            q("MXID"),
            q("T_FFMX"),
            q("ND")
        ),
    )
    .await;
    refused(
        &ldb,
        &format!(
            "UPDATE {} SET {} = '2' WHERE {} = {line2020}",
            q("T_FFMX"),
            q("FFZT"),
            q("MXID")
        ),
        "双轨期",
    )
    .await;
    // A bank return for 2019 is accepted.
    let returned = one(
        &ldb,
        &format!(
            "SELECT MIN({}) FROM {} WHERE {} = '2019' AND {} = '1'",
            q("MXID"),
            q("T_FFMX"),
            q("ND"),
            q("FFZT")
        ),
    )
    .await;
    ldb.execute(
        "a bank return",
        &format!("UPDATE {} SET {} = '2', {} = '账号已销户', {} = '2020-12-28 10:00:00' WHERE {} = {returned}", q("T_FFMX"), q("FFZT"), q("SBYY"), q("GXSJ"), q("MXID")),
    )
    .await
    .expect("legacy takes a 2019 bank return during dual-run");
    // Paying in the target a line owned by legacy is refused.
    let owned = one(
        &tdb,
        "SELECT COUNT(*) FROM payment WHERE system_of_record = 'legacy' AND status <> 'paid'",
    )
    .await;
    assert!(owned > 0, "the data has a line owned by legacy");
    refused(
        &tdb,
        "UPDATE payment SET status = 'paid' WHERE system_of_record = 'legacy'",
        "双轨期",
    )
    .await;
    // The sync brings the 2019 change over, and the reconciliation stays balanced.
    let sync_out = dir.join("out-sync");
    sync_ok("2020-12-28 12:00", l, &stage, t, &sync_out);
    let now = tdb
        .fetch_text_rows("the returned line", &format!("SELECT status, system_of_record, failure_reason FROM payment WHERE legacy_mxid = {returned}"))
        .await
        .unwrap();
    assert_eq!(now[0][0].as_deref(), Some("failed"));
    assert_eq!(
        now[0][1].as_deref(),
        Some("legacy"),
        "a failed 2019 line is owned by legacy"
    );
    assert_eq!(now[0][2].as_deref(), Some("账号已销户"));
    assert_eq!(json(&sync_out.join("reconcile.json"))["balanced"], true);
    // Re-running the increment is harmless.
    sync_ok("2020-12-28 12:30", l, &stage, t, &sync_out);
    assert_eq!(json(&sync_out.join("reconcile.json"))["balanced"], true);
    // The live platform pays a line it owns: its own business, not a difference.
    let pending = one(
        &tdb,
        "SELECT MIN(id) FROM payment WHERE system_of_record = 'new' AND status = 'pending'",
    )
    .await;
    tdb.execute(
        "the platform pays a line",
        &format!("UPDATE payment SET status = 'paid', paid_on = '2020-12-28', bank_serial = 'NEW0001' WHERE id = {pending}"),
    )
    .await
    .expect("the platform may pay a line it owns");
    // A change committed late, stamped 5 minutes before the cursor: the look-back catches it.
    let late = one(
        &ldb,
        &format!(
            "SELECT MAX({}) FROM {} WHERE {} = '2019' AND {} = '1'",
            q("MXID"),
            q("T_FFMX"),
            q("ND"),
            q("FFZT")
        ),
    )
    .await;
    ldb.execute(
        "a late-committed bank return",
        &format!(
            "UPDATE {} SET {} = '2', {} = '2020-12-28 09:55:00' WHERE {} = {late}",
            q("T_FFMX"),
            q("FFZT"),
            q("GXSJ"),
            q("MXID")
        ),
    )
    .await
    .unwrap();
    sync_ok("2020-12-28 12:45", l, &stage, t, &sync_out);
    assert_eq!(
        one(
            &tdb,
            &format!(
                "SELECT COUNT(*) FROM payment WHERE legacy_mxid = {late} AND status = 'failed'"
            )
        )
        .await,
        1,
        "the late commit reached the new platform"
    );
    assert_eq!(json(&sync_out.join("reconcile.json"))["balanced"], true);

    // Sign-off, and its invalidation by a later change.
    let county = tdb
        .fetch_text_rows(
            "county",
            &format!("SELECT county_code FROM payment WHERE legacy_mxid = {returned}"),
        )
        .await
        .unwrap()[0][0]
        .clone()
        .unwrap();
    let summary = sync_out.join("counties").join(&county).join("summary.json");
    let sign = |at: &str, role: &str, by: &str, extra: &[&str]| {
        let mut args = vec![
            "--at", at, "signoff", "--county", &county, "--role", role, "--by", by, "--report",
        ];
        let report = s(&summary);
        args.push(&report);
        args.extend(["--target", t]);
        args.extend(extra);
        ykt(&args)
    };
    // Issue 14: two people sign; a report with rows pending is signed only as it is, with a
    // reason; the reviewer is another person and signs after the checker.
    let verdict = json(&summary)["verdict"].as_str().unwrap().to_owned();
    let reviewer_first = sign("2020-12-28 12:50", "reviewer", "李科长", &[]);
    assert_eq!(
        reviewer_first.status.code(),
        Some(2),
        "the checker signs first"
    );
    if verdict != "clean" {
        let refused = sign("2020-12-28 12:55", "checker", "王会计", &[]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "a pending report needs --accept-pending"
        );
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("--accept-pending"),
            "{refused:?}"
        );
    }
    let accept = [
        "--accept-pending",
        "--reason",
        "待更正数据已登记，年底前补迁",
    ];
    let checker = sign("2020-12-28 13:00", "checker", "王会计", &accept);
    assert!(checker.status.success(), "{checker:?}");
    let same = sign("2020-12-28 13:05", "审核人", "王会计", &accept);
    assert_eq!(
        same.status.code(),
        Some(2),
        "the reviewer is another person"
    );
    let st = status(&target, "2020-12-28 13:10");
    assert!(
        st.contains("checked by 王会计") && st.contains("not reviewed yet"),
        "{st}"
    );
    let reviewer = sign("2020-12-28 13:20", "reviewer", "李科长", &accept);
    assert!(reviewer.status.success(), "{reviewer:?}");
    assert!(
        String::from_utf8_lossy(&reviewer.stdout).contains("sign-off complete"),
        "{reviewer:?}"
    );
    let recorded = tdb
        .fetch_text_rows(
            "the signatures",
            &format!("SELECT role, signed_by, signed_at, verdict, accepted_reason FROM cutover_signoff WHERE county_code = '{county}' ORDER BY id"),
        )
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2, "two signatures, refusals record nothing");
    assert_eq!(recorded[0][0].as_deref(), Some("checker"));
    assert_eq!(recorded[1][0].as_deref(), Some("reviewer"));
    assert_eq!(recorded[1][1].as_deref(), Some("李科长"));
    assert_ne!(recorded[0][2], recorded[1][2], "two names, two times");
    assert_eq!(recorded[0][3].as_deref(), Some(verdict.as_str()));
    assert_eq!(recorded[0][4].as_deref(), Some(accept[2]));
    let st = status(&target, "2020-12-28 14:00");
    assert!(st.contains("phase: dual-run"), "{st}");
    assert!(
        st.contains(county.as_str())
            && st.contains("checked by 王会计")
            && st.contains("reviewed by 李科长")
            && st.contains(": applies"),
        "{st}"
    );
    // Issue 10: a sync that changed nothing (it only re-reads its look-back window) records no
    // change, writes a byte-identical summary and leaves the sign-off standing.
    let idle = dir.join("out-sync-idle");
    sync_ok("2020-12-28 14:30", l, &stage, t, &idle);
    assert_eq!(
        one(
            &tdb,
            "SELECT COUNT(*) FROM cutover_sync_change WHERE increment_id = (SELECT MAX(id) FROM cutover_sync_increment)"
        )
        .await,
        0,
        "an idle sync changed nothing"
    );
    assert_eq!(
        std::fs::read(idle.join("counties").join(&county).join("summary.json")).unwrap(),
        std::fs::read(&summary).unwrap(),
        "the county's figures did not move"
    );
    let st = status(&target, "2020-12-28 14:40");
    assert!(
        st.contains("checked by 王会计") && st.contains(": applies") && !st.contains("NO LONGER"),
        "{st}"
    );
    ldb.execute(
        "the line paid again",
        &format!("UPDATE {} SET {} = '1', {} = '2020-12-29', {} = '2020-12-29 09:00:00' WHERE {} = {returned}", q("T_FFMX"), q("FFZT"), q("FFRQ"), q("GXSJ"), q("MXID")),
    )
    .await
    .unwrap();
    let sync2 = dir.join("out-sync2");
    sync_ok("2020-12-29 12:00", l, &stage, t, &sync2);
    let st = status(&target, "2020-12-29 13:00");
    assert!(st.contains("NO LONGER APPLIES"), "{st}");
    let html = std::fs::read_to_string(
        sync2
            .join("counties")
            .join(&county)
            .join("reconciliation.html"),
    )
    .unwrap();
    assert!(
        html.contains("原签字不再适用"),
        "the county report says the sign-off no longer applies"
    );
    // A legacy change to the person whose line the platform paid brings the person's lines
    // along, but never undoes the platform's payment (issue 10).
    let paid_person = one(
        &tdb,
        &format!("SELECT beneficiary_id FROM payment WHERE id = {pending}"),
    )
    .await;
    ldb.execute(
        "a new phone number",
        &format!(
            "UPDATE {} SET {} = '13900000000', {} = '2020-12-29 15:00:00' WHERE {} = {paid_person}",
            q("T_BTDX"),
            q("LXDH"),
            q("GXSJ"),
            q("DXID")
        ),
    )
    .await
    .unwrap();
    sync_ok("2020-12-29 16:00", l, &stage, t, &dir.join("out-sync3"));
    let kept = tdb
        .fetch_text_rows(
            "the platform's payment",
            &format!("SELECT status, CAST(paid_on AS TEXT), bank_serial FROM payment WHERE id = {pending}"),
        )
        .await
        .unwrap();
    assert_eq!(
        kept[0],
        vec![
            Some("paid".to_owned()),
            Some("2020-12-28".to_owned()),
            Some("NEW0001".to_owned())
        ],
        "the sync kept the platform's payment"
    );
    assert_eq!(
        one(
            &tdb,
            &format!("SELECT COUNT(*) FROM beneficiary WHERE id = {paid_person} AND phone = '13900000000'")
        )
        .await,
        1,
        "the person's change arrived"
    );
    // Signing an old report is refused.
    let stale = sign("2020-12-29 14:00", "checker", "王会计", &accept);
    assert_eq!(stale.status.code(), Some(2));

    // Frozen.
    let owned = one(
        &tdb,
        "SELECT COUNT(*) FROM payment WHERE system_of_record = 'legacy'",
    )
    .await;
    let final_out = dir.join("out-final");
    let archive = dir.join("archive");
    let freeze = [
        "--at",
        "2021-01-01",
        "freeze",
        "--legacy",
        l,
        "--stage",
        &s(&stage),
        "--target",
        t,
        "--out",
        &s(&final_out),
        "--archive",
        &s(&archive),
    ];
    ykt_ok(&freeze);
    refused(
        &ldb,
        &format!(
            "UPDATE {} SET {} = 'x' WHERE {} = 1",
            q("T_BTDX"),
            q("XM"),
            q("DXID")
        ),
        "冻结期",
    )
    .await;
    refused(
        &ldb,
        &format!(
            "INSERT INTO {} ({}, {}) VALUES (-2, '2019')",
            q("T_FFMX"),
            q("MXID"),
            q("ND")
        ),
        "冻结期",
    )
    .await;
    guard_ok("2021-01-01", "verify", l, t);
    assert_eq!(
        one(
            &tdb,
            "SELECT COUNT(*) FROM payment WHERE system_of_record = 'legacy'"
        )
        .await,
        0,
        "every line carried over"
    );
    let carried = one(&tdb, "SELECT COUNT(*) FROM cutover_carry_over").await;
    assert_eq!(
        carried, owned,
        "the lines owned by legacy are the ones carried over"
    );
    assert_eq!(json(&final_out.join("reconcile.json"))["balanced"], true);
    route_agrees_with_guard(&ldb, "2021-01-01 08:00", &dir).await;
    let carried_csv: usize = std::fs::read_dir(final_out.join("counties"))
        .unwrap()
        .map(|d| d.unwrap().path().join("carried-over.csv"))
        .filter(|p| p.is_file())
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count() - 1)
        .sum();
    assert_eq!(
        carried_csv as i64, carried,
        "each county lists its carried-over lines"
    );
    ykt_ok(&["report", "verify", &s(&final_out)]);
    // The archive's checksums verify, and a changed archive file is caught.
    let archived = ykt_stage::verified_extract(&ykt_stage::Stage::new(&archive))
        .expect("the archive verifies");
    assert_eq!(archived.tables.len(), 7);
    // Re-running the freeze after an interruption is safe.
    ykt_ok(&freeze);
    assert_eq!(
        one(&tdb, "SELECT COUNT(*) FROM cutover_carry_over").await,
        carried
    );
    let file = archive.join(&archived.tables["T_FFMX"].file);
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    assert!(ykt_stage::verified_extract(&ykt_stage::Stage::new(&archive)).is_err());

    // A guard dropped by hand: verify fails loudly.
    let drop = match legacy.engine() {
        Engine::Postgres => "DROP TRIGGER ykt_guard_frozen_t_ffmx_update ON \"T_FFMX\"".to_owned(),
        _ => "DROP TRIGGER ykt_guard_frozen_t_ffmx_update".to_owned(),
    };
    ldb.execute_script("dropping a guard by hand", &drop)
        .await
        .unwrap();
    let broken = ykt(&[
        "--at",
        "2021-01-02",
        "guard",
        "verify",
        "--legacy",
        l,
        "--target",
        t,
    ]);
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stdout);
    assert!(
        text.contains("ykt_guard_frozen_t_ffmx_update is MISSING"),
        "{text}"
    );
    assert!(text.contains("FORBIDDEN WRITE WENT THROUGH"), "{text}");

    // A legacy write stamped after the freeze (guard taken off) is flagged.
    ykt_ok(&[
        "--at",
        "2021-01-05",
        "guard",
        "remove",
        "--legacy",
        l,
        "--target",
        t,
        "--reason",
        "演练：模拟冻结后的违规写入",
    ]);
    ldb.execute(
        "a write after the freeze",
        &format!(
            "UPDATE {} SET {} = '2021-01-05 09:00:00' WHERE {} = {returned}",
            q("T_FFMX"),
            q("GXSJ"),
            q("MXID")
        ),
    )
    .await
    .unwrap();
    let late = dir.join("out-late");
    ykt(&[
        "--at",
        "2021-01-06",
        "reconcile",
        "--legacy",
        l,
        "--stage",
        &s(&stage),
        "--target",
        t,
        "--out",
        &s(&late),
    ]);
    let flags = json(&late.join("flags.json"));
    assert!(
        flags
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["flag"] == "A_LEGACY_WRITE_AFTER_FREEZE"
                && f["legacy_keys"][0].as_str() == Some(returned.to_string().as_str())),
        "{flags}"
    );
    ldb.close().await;
    tdb.close().await;
}

#[tokio::test]
async fn timeline_mariadb_legacy_postgres_target() {
    let Some(legacy) = fresh_database(Server::MySql, "timeline_legacy").await else {
        return;
    };
    let Some(target) = fresh_database(Server::Postgres, "timeline_target").await else {
        return;
    };
    walk_the_timeline(legacy, target, "timeline_mariadb_pg").await;
}

#[tokio::test]
async fn timeline_sqlite_on_both_sides() {
    walk_the_timeline(
        fresh_sqlite("timeline_sqlite_legacy", "legacy.sqlite"),
        fresh_sqlite("timeline_sqlite_target", "platform.sqlite"),
        "timeline_sqlite",
    )
    .await;
}

#[tokio::test]
async fn guards_on_a_postgres_legacy() {
    let Some(legacy) = fresh_database(Server::Postgres, "guard_pg_legacy").await else {
        return;
    };
    let target = fresh_sqlite("guard_pg_legacy_target", "platform.sqlite");
    let (l, t) = (legacy.expose(), target.expose());
    ykt_ok(&[
        "generate",
        "--counties",
        "1",
        "--beneficiaries-per-county",
        "60",
        "--seed",
        "5",
        "--legacy",
        l,
    ]);
    ykt_ok(&["schema", "apply", "--target", t]);
    let db = Db::connect(&legacy).await.unwrap();
    for (at, phase_zh) in [
        ("2020-11-12", "暂停期"),
        ("2020-11-20", "双轨期"),
        ("2021-01-02", "冻结期"),
    ] {
        guard_ok(at, "install", l, t);
        guard_ok(at, "verify", l, t);
        refused(
            &db,
            "INSERT INTO \"T_FFMX\" (\"MXID\", \"ND\") VALUES (-9, '2020')",
            phase_zh,
        )
        .await;
    }
    // The application role loses its writes while frozen, and gets them back on removal.
    db.execute_script(
        "an application role",
        "DROP ROLE IF EXISTS ykt_test_pg_app; CREATE ROLE ykt_test_pg_app; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ykt_test_pg_app",
    )
    .await
    .unwrap();
    let dir = temp_dir("guard_pg_legacy");
    let policy = dir.join("ykt.toml");
    std::fs::write(&policy, "[accounts]\nlegacy = \"ykt_test_pg_app\"\n").unwrap();
    let can_insert = "SELECT CAST(CASE WHEN has_table_privilege('ykt_test_pg_app', '\"T_FFMX\"', 'INSERT') THEN 1 ELSE 0 END AS BIGINT)";
    ykt_ok(&[
        "--config",
        &s(&policy),
        "--at",
        "2021-01-02",
        "guard",
        "install",
        "--legacy",
        l,
        "--target",
        t,
    ]);
    assert_eq!(one(&db, can_insert).await, 0);
    ykt_ok(&[
        "--config",
        &s(&policy),
        "--at",
        "2021-01-02",
        "guard",
        "remove",
        "--legacy",
        l,
        "--target",
        t,
    ]);
    assert_eq!(one(&db, can_insert).await, 1);
    guard_ok("2021-01-02", "install", l, t);
    // TRUNCATE skips row triggers; the guard refuses it too.
    refused(&db, "TRUNCATE \"T_FFMX\"", "冻结期").await;
    guard_ok("2021-01-02", "remove", l, t);
    assert!(
        db.try_rolled_back("INSERT INTO \"T_FFMX\" (\"MXID\", \"ND\") VALUES (-9, '2020')")
            .await
            .is_ok()
    );
    db.execute_script(
        "cleanup",
        "DROP OWNED BY ykt_test_pg_app; DROP ROLE ykt_test_pg_app",
    )
    .await
    .unwrap();
    db.close().await;
}

#[test]
fn route_refuses_what_no_system_may_take() {
    let dir = temp_dir("route_cli");
    let input = dir.join("ops.csv");
    std::fs::write(
        &input,
        "county,program,fund_year,id_number,amount,operation\n610802,NY001,2019,610802198001011235,100.00,银行回盘\n610802,NY001,2020,610802198001011235,100.00,pay\n610802,NY001,20l9,610802198001011235,100.00,pay\n610802,NY001,2019,610802198001011235,-5,pay\n610802,NY001,2019,610802198001011235,5,refund\n999999,NY001,2019,610802198001011235,5,pay\n610802,XX999,2019,610802198001011235,5,pay\n610802,NY001,2019,610802198001011234,5,pay\n",
    )
    .unwrap();
    let out = dir.join("routed");
    let r = ykt_ok(&["--at", "2020-11-20", "route", &s(&input), "--out", &s(&out)]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("1 to legacy, 1 to the new platform, 6 refused"),
        "{text}"
    );
    let refused = std::fs::read_to_string(out.join("refused.csv")).unwrap();
    assert!(
        refused.contains("资金年度无法识别")
            && refused.contains("不是正的金额")
            && refused.contains("操作类型"),
        "{refused}"
    );
    // Issue 14: the county, the program and the ID number are checked too.
    assert!(
        refused.contains("\"县区代码 \"\"999999\"\" 不是陕西现行的县级区划")
            && refused.contains("项目代码 \"\"XX999\"\" 不在项目表中")
            && refused.contains("身份证号："),
        "{refused}"
    );
    let paused = ykt_ok(&["--at", "2020-11-12", "route", &s(&input), "--out", &s(&out)]);
    assert!(
        String::from_utf8_lossy(&paused.stdout)
            .contains("0 to legacy, 0 to the new platform, 8 refused")
    );
    let missing = ykt(&["route", "no-such-file.csv"]);
    assert_eq!(missing.status.code(), Some(2));
    let bad_at = ykt(&["--at", "next tuesday", "status"]);
    assert_eq!(bad_at.status.code(), Some(2));
}

#[test]
fn a_bad_policy_file_is_one_clear_error() {
    let dir = temp_dir("policy_cli");
    let file = dir.join("ykt.toml");
    std::fs::write(
        &file,
        "[phases]\npaused = \"tomorrow\"\n[routing]\nlegacy_max_fund_year = 1990\n",
    )
    .unwrap();
    let r = ykt(&["--config", &s(&file), "status"]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("2 problem(s)")
            && err.contains("phases.paused")
            && err.contains("legacy_max_fund_year"),
        "{err}"
    );
    let ok = ykt_ok(&[
        "--config",
        "ykt.example.toml",
        "--at",
        "2020-11-14 23:00",
        "status",
    ]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("phase: paused")
            && text.contains("next: dual-run at 2020-11-15 00:00 +08:00 (in 0 d 1 h 0 min)"),
        "{text}"
    );
}

#[tokio::test]
async fn guards_take_the_application_accounts_writes_on_mariadb() {
    let Some(legacy) = fresh_database(Server::MySql, "guard_grants").await else {
        return;
    };
    let dir = temp_dir("guard_grants");
    let target = fresh_sqlite("guard_grants_target", "platform.sqlite");
    let (l, t) = (legacy.expose(), target.expose());
    ykt_ok(&[
        "generate",
        "--counties",
        "1",
        "--beneficiaries-per-county",
        "40",
        "--seed",
        "6",
        "--legacy",
        l,
    ]);
    ykt_ok(&["schema", "apply", "--target", t]);
    let db = Db::connect(&legacy).await.unwrap();
    db.execute_script(
        "an application account",
        "DROP USER IF EXISTS 'ykt_test_app'@'%'; CREATE USER 'ykt_test_app'@'%'; GRANT SELECT, INSERT, UPDATE, DELETE ON `ykt_test_guard_grants`.* TO 'ykt_test_app'@'%'",
    )
    .await
    .unwrap();
    let policy = dir.join("ykt.toml");
    std::fs::write(&policy, "[accounts]\nlegacy = \"ykt_test_app\"\n").unwrap();
    let grants = |db: Db| async move {
        db.fetch_text_rows("grants", "SHOW GRANTS FOR 'ykt_test_app'@'%'")
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let p = s(&policy);
    ykt_ok(&[
        "--config",
        &p,
        "--at",
        "2020-11-12",
        "guard",
        "install",
        "--legacy",
        l,
        "--target",
        t,
    ]);
    let paused = grants(db.clone()).await;
    assert!(
        paused.contains("GRANT SELECT ON") && !paused.contains("INSERT"),
        "{paused}"
    );
    ykt_ok(&[
        "--config",
        &p,
        "--at",
        "2020-11-20",
        "guard",
        "install",
        "--legacy",
        l,
        "--target",
        t,
    ]);
    assert!(
        grants(db.clone()).await.contains("INSERT"),
        "dual-run gives the writes back"
    );
    ykt_ok(&[
        "--config",
        &p,
        "--at",
        "2021-01-01",
        "guard",
        "install",
        "--legacy",
        l,
        "--target",
        t,
    ]);
    assert!(
        !grants(db.clone()).await.contains("INSERT"),
        "frozen takes them again"
    );
    let target_db = Db::connect(&target).await.unwrap();
    let recorded = target_db
        .fetch_i64(
            "events",
            "SELECT COUNT(*) FROM cutover_guard_event WHERE reason LIKE '%REVOKE%'",
        )
        .await
        .unwrap();
    assert_eq!(recorded, Some(2), "each revoke is part of the record");
    target_db.close().await;
    db.execute_script("cleanup", "DROP USER IF EXISTS 'ykt_test_app'@'%'")
        .await
        .unwrap();
    db.close().await;
}
