//! `ykt reconcile`, `ykt run` and `ykt demo`: the balance identity from both databases, and
//! tampering in the target found.

use std::collections::{BTreeMap, BTreeSet};

use ykt_db::Db;

use crate::support::{Server, fresh_database, fresh_sqlite, legacy_keys, temp_dir, ykt, ykt_ok};

fn reconciliation(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("reconcile.json")).unwrap()).unwrap()
}

#[test]
fn demo_runs_without_a_server_and_balances() {
    let dir = temp_dir("demo");
    let out = ykt_ok(&["demo", "--dir", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("every county balances"), "{stdout}");
    assert!(stdout.contains("610802 榆阳区：平衡"), "{stdout}");
    let rec = reconciliation(&dir.join("out"));
    assert_eq!(rec["balanced"], true);
    let counties = rec["counties"].as_array().unwrap();
    assert_eq!(
        counties
            .iter()
            .filter(|c| c["county_code"] != "000000")
            .count(),
        3
    );
    let yuyang = counties
        .iter()
        .find(|c| c["county_code"] == "610802")
        .unwrap();
    let lines = &yuyang["tables"]["T_FFMX"];
    assert!(lines["source_rows"].as_u64().unwrap() > 9000);
    assert!(
        lines["source_amount"]
            .as_str()
            .unwrap()
            .ends_with(|c: char| c.is_ascii_digit())
    );
    // Running the demo again works (it replaces what it wrote).
    ykt_ok(&["demo", "--dir", dir.to_str().unwrap()]);
}

async fn tamper_and_reconcile(legacy_flags: &[&str], target: ykt_db::DbUrl, test: &str) {
    let dir = temp_dir(test);
    let stage = dir.join("stage");
    let out = dir.join("out");
    let mut args = vec!["run"];
    args.extend_from_slice(legacy_flags);
    args.extend_from_slice(&[
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target.expose(),
        "--out",
        out.to_str().unwrap(),
    ]);
    ykt_ok(&args);
    assert_eq!(reconciliation(&out)["balanced"], true);

    let mut again = vec!["reconcile"];
    again.extend_from_slice(legacy_flags);
    again.extend_from_slice(&[
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target.expose(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // A deleted payment line and a changed allocation amount, by hand in the target.
    let db = Db::connect(&target).await.unwrap();
    let victim = db
        .fetch_i64(
            "a line",
            "SELECT MIN(id) FROM payment WHERE county_code = '610802'",
        )
        .await
        .unwrap()
        .unwrap();
    db.execute(
        "tamper",
        &format!("DELETE FROM payment WHERE reissue_of = {victim}"),
    )
    .await
    .unwrap();
    db.execute(
        "tamper",
        &format!("DELETE FROM payment WHERE id = {victim}"),
    )
    .await
    .unwrap();
    db.execute("tamper", "UPDATE allocation SET amount = '1.00' WHERE id = (SELECT MIN(id) FROM allocation WHERE county_code = '610881')").await.unwrap();
    db.close().await;
    let result = ykt(&again);
    assert_eq!(
        result.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("610802 榆阳区：不平衡"), "{stdout}");
    assert!(stdout.contains("T_FFMX：旧系统"), "{stdout}");
    assert!(stdout.contains("610881 神木市：不平衡"), "{stdout}");
    assert!(stdout.contains("T_ZJZB：旧系统金额"), "{stdout}");
    let rec = reconciliation(&out);
    assert_eq!(rec["balanced"], false);
    let balanced: Vec<&str> = rec["counties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["balanced"] == true)
        .map(|c| c["county_code"].as_str().unwrap())
        .collect();
    assert!(!balanced.contains(&"610802") && !balanced.contains(&"610881"));
}

#[tokio::test]
async fn sqlite_tampering_is_found() {
    let legacy = fresh_sqlite("reconcile_sqlite", "legacy.sqlite");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "150",
        "--legacy",
        legacy.expose(),
    ]);
    let target = fresh_sqlite("reconcile_sqlite_target", "platform.sqlite");
    tamper_and_reconcile(&["--legacy", legacy.expose()], target, "reconcile_sqlite").await;
}

#[tokio::test]
async fn mariadb_to_postgres_tampering_is_found() {
    let Some(legacy) = fresh_database(Server::MySql, "reconcile_legacy").await else {
        return;
    };
    let Some(target) = fresh_database(Server::Postgres, "reconcile_target").await else {
        return;
    };
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "150",
        "--legacy",
        legacy.expose(),
    ]);
    tamper_and_reconcile(
        &["--legacy", legacy.expose()],
        target,
        "reconcile_mariadb_pg",
    )
    .await;
}

#[tokio::test]
async fn export_source_reconciles_from_the_snapshot() {
    let Some(target) = fresh_database(Server::Postgres, "reconcile_export_target").await else {
        return;
    };
    let dir = temp_dir("reconcile_export");
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "150",
        "--export",
        export.to_str().unwrap(),
    ]);
    tamper_and_reconcile(
        &["--legacy-export", export.to_str().unwrap()],
        target,
        "reconcile_export_pg",
    )
    .await;
}

/// Every audit case the simulator planted is flagged, in its county, with its rows, and
/// nothing else is.
fn assert_flags_match_truth(truth: &std::path::Path, out: &std::path::Path) {
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
    let flags: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("flags.json")).unwrap()).unwrap();
    let count = |items: &serde_json::Value, county: &str| {
        let mut m: BTreeMap<(String, String), usize> = BTreeMap::new();
        for f in items.as_array().unwrap() {
            *m.entry((
                f[county].as_str().unwrap().to_owned(),
                f["flag"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
        }
        m
    };
    let expected = count(&truth["flags"], "county");
    assert_eq!(count(&flags, "county_code"), expected);
    assert!(expected.len() >= 8, "{expected:?}");
    let found: Vec<(String, BTreeSet<String>)> = flags
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["flag"].as_str().unwrap().to_owned(),
                legacy_keys(f).into_iter().collect(),
            )
        })
        .collect();
    for case in truth["flags"].as_array().unwrap() {
        let flag = case["flag"].as_str().unwrap();
        let keys: BTreeSet<String> = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_i64().unwrap().to_string())
            .collect();
        // A shared account's flag lists every line paid to it that year, the planted pair among them.
        let ok = found.iter().any(|(f, k)| {
            f == flag
                && if flag == "A_SHARED_ACCOUNT" {
                    keys.is_subset(k)
                } else {
                    &keys == k
                }
        });
        assert!(ok, "{flag} {keys:?} not flagged");
    }
}

#[tokio::test]
async fn audit_flags_match_the_truth_file_on_sqlite_and_postgres() {
    let dir = temp_dir("flags_truth");
    let legacy = fresh_sqlite("flags_truth", "legacy.sqlite");
    let truth = dir.join("truth.json");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "9",
        "--legacy",
        legacy.expose(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let sqlite_target = fresh_sqlite("flags_truth_target", "platform.sqlite");
    let out = dir.join("out-sqlite");
    ykt_ok(&[
        "run",
        "--legacy",
        legacy.expose(),
        "--stage",
        dir.join("stage").to_str().unwrap(),
        "--target",
        sqlite_target.expose(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_flags_match_truth(&truth, &out);
    if let Some(pg) = fresh_database(Server::Postgres, "flags_truth").await {
        let out = dir.join("out-pg");
        ykt_ok(&[
            "run",
            "--legacy",
            legacy.expose(),
            "--stage",
            dir.join("stage-pg").to_str().unwrap(),
            "--target",
            pg.expose(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_flags_match_truth(&truth, &out);
    }
}

/// Each hand-made change to the target is found by the row-level diff, with its row and field.
async fn row_diff_finds_tampering(target: ykt_db::DbUrl, test: &str) {
    let dir = temp_dir(test);
    let legacy = fresh_sqlite(test, "legacy.sqlite");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "120",
        "--seed",
        "4",
        "--legacy",
        legacy.expose(),
    ]);
    let stage = dir.join("stage");
    let out = dir.join("out");
    let args = [
        "run",
        "--legacy",
        legacy.expose(),
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target.expose(),
        "--out",
        out.to_str().unwrap(),
    ];
    ykt_ok(&args);
    let diffs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("diffs.json")).unwrap()).unwrap();
    assert_eq!(
        diffs.as_array().unwrap().len(),
        0,
        "an untouched target has no differences"
    );

    let db = Db::connect(&target).await.unwrap();
    let one = |sql: &str| {
        let db = db.clone();
        let sql = sql.to_owned();
        async move { db.fetch_i64("pick", &sql).await.unwrap().unwrap() }
    };
    let person = one(
        "SELECT MIN(id) FROM beneficiary WHERE county_code = '610802' AND account_no IS NOT NULL",
    )
    .await;
    let named = one("SELECT MAX(id) FROM beneficiary WHERE county_code = '610802'").await;
    let line = one(
        "SELECT MIN(legacy_mxid) FROM payment WHERE county_code = '610802' AND status = 'paid'",
    )
    .await;
    let moved =
        one("SELECT MAX(legacy_pcid) FROM payment_batch WHERE county_code = '610802'").await;
    for sql in [
        format!(
            "UPDATE beneficiary SET id_number = '11010519491231002X', account_no = '6217000000000000' WHERE id = {person}"
        ),
        format!("UPDATE beneficiary SET name = '王五' WHERE id = {named}"),
        format!("UPDATE payment SET status = 'failed' WHERE legacy_mxid = {line}"),
        format!("UPDATE payment_batch SET county_code = '610881' WHERE legacy_pcid = {moved}"),
        "INSERT INTO allocation (id, county_code, program_code, fund_year, amount, legacy_zbid) VALUES (999999, '610802', 'NY001', 2019, '10.00', 999999)".to_owned(),
        // Counties the stage does not have (it has 610802 and 610881), below and above every
        // other: the diff finds the target's counties by a skip scan of its county index.
        "INSERT INTO allocation (id, county_code, program_code, fund_year, amount, legacy_zbid) VALUES (999997, '610502', 'NY001', 2019, '10.00', 999997)".to_owned(),
        "INSERT INTO allocation (id, county_code, program_code, fund_year, amount, legacy_zbid) VALUES (999998, '610902', 'NY001', 2019, '10.00', 999998)".to_owned(),
    ] {
        db.execute("tamper", &sql).await.unwrap();
    }
    db.close().await;
    let result = ykt(&[
        "reconcile",
        "--legacy",
        legacy.expose(),
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target.expose(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        result.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let diffs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("diffs.json")).unwrap()).unwrap();
    let has_in = |county: Option<&str>, table: &str, kind: &str, key: i64, field: Option<&str>| {
        diffs.as_array().unwrap().iter().any(|d| {
            d["table"] == table
                && d["kind"] == kind
                && d["key"].as_str() == Some(key.to_string().as_str())
                && field.is_none_or(|f| d["field"] == f)
                && county.is_none_or(|c| d["county_code"] == c)
        })
    };
    let has = |table: &str, kind: &str, key: i64, field: Option<&str>| {
        has_in(None, table, kind, key, field)
    };
    assert!(
        has("beneficiary", "value_mismatch", person, Some("id_number")),
        "{diffs}"
    );
    assert!(has(
        "beneficiary",
        "value_mismatch",
        person,
        Some("account_no")
    ));
    assert!(has("beneficiary", "value_mismatch", named, Some("name")));
    assert!(has("payment", "value_mismatch", line, Some("status")));
    assert!(
        has("payment_batch", "missing_in_target", moved, None),
        "moved out of 610802"
    );
    assert!(
        has("payment_batch", "unexpected_in_target", moved, None),
        "and into 610881"
    );
    assert!(has("allocation", "unexpected_in_target", 999999, None));
    for (key, county) in [(999997, "610502"), (999998, "610902")] {
        assert!(
            has_in(
                Some(county),
                "allocation",
                "unexpected_in_target",
                key,
                None
            ),
            "the target's own county {county}: {diffs}"
        );
    }
    let rec = reconciliation(&out);
    let yuyang = rec["counties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["county_code"] == "610802")
        .unwrap();
    assert_eq!(yuyang["balanced"], false);
    assert!(yuyang["row_diff"]["value_mismatches"].as_u64().unwrap() >= 4);
}

#[tokio::test]
async fn row_diff_finds_tampering_on_sqlite() {
    row_diff_finds_tampering(
        fresh_sqlite("row_diff_sqlite_target", "platform.sqlite"),
        "row_diff_sqlite",
    )
    .await;
}

#[tokio::test]
async fn row_diff_finds_tampering_on_postgres() {
    if let Some(url) = fresh_database(Server::Postgres, "row_diff").await {
        row_diff_finds_tampering(url, "row_diff_pg").await;
    }
}

/// `A_SHARED_ACCOUNT` and `A_DUPLICATE_PAYMENT` read twice: by the flags' SQL in the target
/// and here, from the target's rows, as the rules say (an account and fund year paid to two or
/// more households, a person's household being its head's ID number, else its own; two or more
/// paid lines of one person, program, fund year and period, a reissue of the person's paid line
/// not counted). The target is first given shared accounts, people without a household head,
/// people moved into one household, reissues beside their paid originals and lines moved onto
/// one person, so that every branch of the rules is taken.
async fn flags_agree_with_a_reading_of_the_rows(target: ykt_db::DbUrl, test: &str) {
    let dir = temp_dir(test);
    let legacy = fresh_sqlite(test, "legacy.sqlite");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "11",
        "--legacy",
        legacy.expose(),
    ]);
    let stage = dir.join("stage");
    let args = |out: &str| {
        [
            "--legacy".to_owned(),
            legacy.expose().to_owned(),
            "--stage".to_owned(),
            stage.to_str().unwrap().to_owned(),
            "--target".to_owned(),
            target.expose().to_owned(),
            "--out".to_owned(),
            dir.join(out).to_str().unwrap().to_owned(),
        ]
    };
    let run: Vec<String> = std::iter::once("run".to_owned())
        .chain(args("first"))
        .collect();
    ykt_ok(&run.iter().map(String::as_str).collect::<Vec<_>>());
    let db = Db::connect(&target).await.unwrap();
    for sql in [
        "UPDATE payment SET account_no = '6217000000000000001' WHERE legacy_mxid % 7 = 0",
        "UPDATE payment SET account_no = '6217000000000000002' WHERE legacy_mxid % 11 = 3",
        "UPDATE beneficiary SET household_head_id_number = NULL WHERE id % 3 = 0",
        "UPDATE beneficiary SET household_head_id_number = (SELECT MIN(id_number) FROM beneficiary) WHERE id % 4 = 1",
        // People of one household sharing an account: not flagged.
        "UPDATE payment SET account_no = '6217000000000000003' WHERE beneficiary_id % 4 = 1 AND legacy_mxid % 5 = 0",
        // People without a household head, each their own household: flagged.
        "UPDATE payment SET account_no = '6217000000000000004' WHERE beneficiary_id % 3 = 0 AND beneficiary_id % 4 <> 1 AND legacy_mxid % 5 = 1",
        // Duplicate payments: every other reissue moved into its original's person, program,
        // year and batch, both paid (a reissue of a paid line is not a second payment), and
        // a dozen lines moved onto one person.
        "UPDATE payment SET batch_id = (SELECT o.batch_id FROM payment o WHERE o.id = payment.reissue_of), \
         program_code = (SELECT o.program_code FROM payment o WHERE o.id = payment.reissue_of), \
         fund_year = (SELECT o.fund_year FROM payment o WHERE o.id = payment.reissue_of), \
         beneficiary_id = (SELECT o.beneficiary_id FROM payment o WHERE o.id = payment.reissue_of), \
         status = 'paid' WHERE reissue_of IS NOT NULL AND id % 2 = 0",
        "UPDATE payment SET status = 'paid' WHERE id IN (SELECT reissue_of FROM payment WHERE reissue_of IS NOT NULL)",
        "UPDATE payment SET beneficiary_id = (SELECT MIN(id) FROM beneficiary) WHERE legacy_mxid % 97 = 5",
    ] {
        db.execute("tampering", sql).await.unwrap();
    }
    let rows = db
        .fetch_text_rows(
            "reading lines",
            "SELECT CAST(p.legacy_mxid AS TEXT), p.account_no, CAST(p.fund_year AS TEXT), p.status, \
             d.household_head_id_number, d.id_number FROM payment p JOIN beneficiary d ON d.id = p.beneficiary_id",
        )
        .await
        .unwrap();
    let lines = db
        .fetch_text_rows(
            "reading lines",
            "SELECT CAST(p.id AS TEXT), CAST(p.legacy_mxid AS TEXT), CAST(p.beneficiary_id AS TEXT), p.program_code, \
             CAST(p.fund_year AS TEXT), b.period, p.status, CAST(p.reissue_of AS TEXT) FROM payment p JOIN payment_batch b ON b.id = p.batch_id",
        )
        .await
        .unwrap();
    db.close().await;
    // (person, status) of every line, for the reissue rule.
    let by_id: BTreeMap<String, (String, String)> = lines
        .iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                (r[2].clone().unwrap(), r[6].clone().unwrap()),
            )
        })
        .collect();
    let mut periods: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    let mut reissues_let_out = 0;
    for r in &lines {
        let (Some(key), Some(period), Some("paid")) = (&r[1], &r[5], r[6].as_deref()) else {
            continue;
        };
        let person = r[2].clone().unwrap();
        let reissues_paid = r[7]
            .as_ref()
            .and_then(|o| by_id.get(o))
            .is_some_and(|(p, status)| *p == person && status == "paid");
        if reissues_paid {
            reissues_let_out += 1;
            continue;
        }
        let group = vec![
            person,
            r[3].clone().unwrap(),
            r[4].clone().unwrap(),
            period.clone(),
        ];
        periods.entry(group).or_default().insert(key.clone());
    }
    let duplicates: BTreeSet<BTreeSet<String>> = periods
        .into_values()
        .filter(|keys| keys.len() > 1)
        .collect();
    type Group = (BTreeSet<String>, BTreeSet<String>);
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut shared_lines: Vec<(String, String)> = Vec::new();
    for r in rows {
        let (Some(key), Some(account), Some("paid")) = (&r[0], &r[1], r[3].as_deref()) else {
            continue;
        };
        shared_lines.push((account.clone(), key.clone()));
        let group = groups
            .entry((account.clone(), r[2].clone().unwrap_or_default()))
            .or_default();
        group.0.insert(key.clone());
        if let Some(household) = r[4].clone().or_else(|| r[5].clone()) {
            group.1.insert(household);
        }
    }
    let expected: BTreeSet<BTreeSet<String>> = groups
        .into_values()
        .filter(|(_, households)| households.len() > 1)
        .map(|(keys, _)| keys)
        .collect();
    let reconcile: Vec<String> = std::iter::once("reconcile".to_owned())
        .chain(args("second"))
        .collect();
    ykt(&reconcile.iter().map(String::as_str).collect::<Vec<_>>());
    let flags: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("second").join("flags.json")).unwrap())
            .unwrap();
    let hits = |flag: &str| -> BTreeSet<BTreeSet<String>> {
        flags
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["flag"] == flag)
            .map(|f| legacy_keys(f).into_iter().collect())
            .collect()
    };
    let found_duplicates = hits("A_DUPLICATE_PAYMENT");
    assert!(
        reissues_let_out >= 2 && duplicates.len() >= 3,
        "{reissues_let_out} {duplicates:?}"
    );
    assert!(
        found_duplicates == duplicates,
        "flagged, not duplicates: {:?}; duplicates, not flagged: {:?}",
        found_duplicates.difference(&duplicates).collect::<Vec<_>>(),
        duplicates.difference(&found_duplicates).collect::<Vec<_>>()
    );
    let found = hits("A_SHARED_ACCOUNT");
    assert!(expected.len() >= 3, "{expected:?}");
    assert!(
        found == expected,
        "flagged, not shared by two households: {:?}; shared by two, not flagged: {:?}",
        found.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&found).collect::<Vec<_>>()
    );
    // Both planted cases happened: one household's shared account is not a hit, accounts
    // shared by people without a head are.
    let lines_of = |account: &str| -> BTreeSet<String> {
        shared_lines
            .iter()
            .filter(|(a, _)| a == account)
            .map(|(_, k)| k.clone())
            .collect()
    };
    let one_household = lines_of("6217000000000000003");
    let headless = lines_of("6217000000000000004");
    assert!(one_household.len() >= 2 && headless.len() >= 2);
    assert!(found.iter().all(|keys| keys.is_disjoint(&one_household)));
    assert!(found.iter().any(|keys| !keys.is_disjoint(&headless)));
}

#[tokio::test]
async fn duplicate_and_shared_account_flags_agree_with_a_reading_of_the_rows_on_sqlite_and_postgres()
 {
    let sqlite = fresh_sqlite("shared_accounts", "platform.sqlite");
    flags_agree_with_a_reading_of_the_rows(sqlite, "shared_accounts_sqlite").await;
    if let Some(pg) = fresh_database(Server::Postgres, "shared_accounts").await {
        flags_agree_with_a_reading_of_the_rows(pg, "shared_accounts_pg").await;
    }
}

/// The table reader's rows, cell for cell, against the row reader's (NULL and empty apart).
fn assert_same_cells(table: &ykt_db::TextRows, rows: &[Vec<Option<String>>], what: &str) {
    assert_eq!(table.len(), rows.len(), "{what}");
    for (i, row) in rows.iter().enumerate() {
        let read: Vec<Option<&str>> = table.row(i).collect();
        let expected: Vec<Option<&str>> = row.iter().map(|c| c.as_deref()).collect();
        assert_eq!(read, expected, "{what}: row {i}");
    }
}

/// The row diff's reading of a result (one buffer, no `String` per cell; on PostgreSQL by
/// `COPY … TO STDOUT`) against the reading every other query uses (`fetch_text_rows`): the
/// same cells, NULL and empty text apart, on each engine, over text no one chose: random
/// strings of any character but NUL (which PostgreSQL text cannot hold), numbers and dates
/// cast to text by the database. And the diff's select list (`text_columns`, which leaves
/// PostgreSQL's numbers, dates and text uncast) against every column cast: the same cells,
/// padded `char(n)` and booleans among them.
async fn text_table_agrees_with_the_row_reader(url: ykt_db::DbUrl, test: &str) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    use ykt_db::{Db, cast_text, quote_literal};

    let db = Db::connect_or_create(&url).await.expect("connect");
    let e = db.engine();
    db.execute(
        "creating the table",
        "CREATE TABLE diff_cells (id BIGINT PRIMARY KEY, t VARCHAR(200), n NUMERIC(14,2), d DATE, c CHAR(6), b BOOLEAN, s SMALLINT)",
    )
    .await
    .expect("create");
    let cell = proptest::option::of("[^\u{0}]{0,12}");
    let mut runner = TestRunner::deterministic();
    let mut values = Vec::new();
    for id in 0..300i64 {
        let text = cell.new_tree(&mut runner).expect("a value").current();
        let t = text
            .as_deref()
            .map_or("NULL".to_owned(), |t| quote_literal(e, t));
        let n = if id % 4 == 0 {
            "NULL".to_owned()
        } else {
            format!("{}.{:02}", id * 37 - 5000, id % 100)
        };
        let d = if id % 5 == 0 {
            "NULL".to_owned()
        } else {
            format!("'20{:02}-{:02}-{:02}'", id % 30, id % 12 + 1, id % 28 + 1)
        };
        let c = ["NULL", "'ab'", "'610802'", "''"][id as usize % 4];
        let b = ["NULL", "TRUE", "FALSE"][id as usize % 3];
        let s = if id % 7 == 0 {
            "NULL".to_owned()
        } else {
            (id * 13 - 2000).to_string()
        };
        values.push(format!("({id}, {t}, {n}, {d}, {c}, {b}, {s})"));
    }
    db.execute(
        "filling the table",
        &format!(
            "INSERT INTO diff_cells (id, t, n, d, c, b, s) VALUES {}",
            values.join(", ")
        ),
    )
    .await
    .expect("insert");
    for sql in [
        format!(
            "SELECT {}, t, {}, {} FROM diff_cells ORDER BY id",
            cast_text(e, "id"),
            cast_text(e, "n"),
            cast_text(e, "d")
        ),
        "SELECT t FROM diff_cells WHERE id < 0".to_owned(),
    ] {
        let rows = db
            .fetch_text_rows("reading rows", &sql)
            .await
            .expect("rows");
        let table = db
            .fetch_text_table("reading rows", &sql)
            .await
            .expect("table");
        assert_same_cells(&table, &rows, &format!("{test}: {sql}"));
    }
    // The diff's select list against every column cast, read by the row reader.
    let columns: Vec<String> = ["id", "t", "n", "d", "c", "b", "s"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let select = db
        .text_columns("diff_cells", &columns)
        .await
        .expect("columns");
    if e == ykt_db::Engine::Postgres {
        // Numbers, dates and text left to COPY; the padded and the boolean columns cast.
        assert_eq!(select[..4], ["id", "t", "n", "d"], "{test}");
        assert_eq!(
            select[4..6],
            ["CAST(c AS TEXT)", "CAST(b AS TEXT)"],
            "{test}"
        );
    }
    let cast: Vec<String> = columns.iter().map(|c| cast_text(e, c)).collect();
    let expected = db
        .fetch_text_rows(
            "reading rows",
            // Qualified: `ORDER BY id` would order by the cast's output column, as text.
            &format!(
                "SELECT {} FROM diff_cells ORDER BY diff_cells.id",
                cast.join(", ")
            ),
        )
        .await
        .expect("rows");
    let table = db
        .fetch_text_table(
            "reading rows",
            &format!(
                "SELECT {} FROM diff_cells ORDER BY diff_cells.id",
                select.join(", ")
            ),
        )
        .await
        .expect("table");
    assert_same_cells(
        &table,
        &expected,
        &format!("{test}: the diff's select list"),
    );
    // A column that is not text: refused by both readings on MariaDB, not read as something
    // else (SQLite types values, not columns; there the cast is what makes a value text). On
    // PostgreSQL the row reader refuses it and the table reader reads what the cast would.
    let not_text = "SELECT t, id FROM diff_cells ORDER BY id";
    match e {
        ykt_db::Engine::MySql => {
            assert!(
                db.fetch_text_rows("reading rows", not_text).await.is_err(),
                "{test}"
            );
            assert!(
                db.fetch_text_table("reading rows", not_text).await.is_err(),
                "{test}"
            );
        }
        ykt_db::Engine::Postgres => {
            assert!(
                db.fetch_text_rows("reading rows", not_text).await.is_err(),
                "{test}"
            );
            let table = db
                .fetch_text_table("reading rows", not_text)
                .await
                .expect("table");
            let ids: Vec<Option<&str>> = (0..table.len()).map(|r| table.get(r, 1)).collect();
            let want: Vec<String> = (0..300).map(|i: i64| i.to_string()).collect();
            assert_eq!(
                ids,
                want.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>(),
                "{test}"
            );
        }
        ykt_db::Engine::Sqlite => {}
    }
    db.close().await;
}

#[tokio::test]
async fn text_table_agrees_with_the_row_reader_on_sqlite_postgres_and_mariadb() {
    let sqlite = fresh_sqlite("text_table", "cells.sqlite");
    text_table_agrees_with_the_row_reader(sqlite, "text_table_sqlite").await;
    if let Some(pg) = fresh_database(Server::Postgres, "text_table").await {
        text_table_agrees_with_the_row_reader(pg, "text_table_postgres").await;
    }
    if let Some(my) = fresh_database(Server::MySql, "text_table").await {
        text_table_agrees_with_the_row_reader(my, "text_table_mariadb").await;
    }
}
