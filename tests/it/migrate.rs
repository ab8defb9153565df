//! `ykt migrate` and its stages on real engines: against the simulator's truth file, the
//! balance identity read back from the target, idempotency, resume, and input errors.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rust_decimal::Decimal;
use ykt_db::{Db, DbUrl, Engine};
use ykt_domain::{AuditFlag, CorrectionCode, LegacyTable, RejectCode};
use ykt_stage::{Stage, TextTableReader};

use crate::properties::CountyRule;
use crate::support::{
    Rows, Server, database_rows, dump_tables, fresh_database, fresh_sqlite, schema_of, temp_dir,
    ykt, ykt_ok,
};

/// Every platform table of a target, each column as text, rows sorted.
async fn dump(url: &DbUrl) -> BTreeMap<String, Rows> {
    dump_tables(url, &COMPARED_TABLES, &[]).await
}

/// The platform's tables and the migration's bookkeeping of rows.
const COMPARED_TABLES: [&str; 9] = [
    "region",
    "program",
    "allocation",
    "beneficiary",
    "beneficiary_legacy_map",
    "payment_batch",
    "payment",
    "migration_reject",
    "migration_correction",
];

/// Checks every truth-file case against the target's rejects and corrections, and that no
/// row has a code the truth file does not predict.
async fn assert_matches_truth(target: &DbUrl, truth_path: &Path) {
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(truth_path).unwrap()).unwrap();
    let db = Db::connect(target).await.unwrap();
    let mut got: HashMap<(String, String), Vec<String>> = HashMap::new();
    for row in db
        .fetch_text_rows(
            "rejects",
            "SELECT source_table, source_key, reason_code FROM migration_reject",
        )
        .await
        .unwrap()
    {
        got.entry((row[0].clone().unwrap(), row[1].clone().unwrap()))
            .or_default()
            .push(row[2].clone().unwrap());
    }
    for row in db
        .fetch_text_rows(
            "corrections",
            "SELECT source_table, source_key, correction_code FROM migration_correction",
        )
        .await
        .unwrap()
    {
        got.entry((row[0].clone().unwrap(), row[1].clone().unwrap()))
            .or_default()
            .push(row[2].clone().unwrap());
    }
    db.close().await;
    let mut expected: HashMap<(String, String), Vec<String>> = HashMap::new();
    for case in truth["cases"].as_array().unwrap() {
        let key = (
            case["table"].as_str().unwrap().to_owned(),
            case["key"].as_i64().unwrap().to_string(),
        );
        let codes: Vec<String> = case["expect"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        expected.insert(key, codes);
    }
    let mut wrong = Vec::new();
    for (key, want) in &expected {
        let mut want = want.clone();
        want.sort();
        let mut have = got.get(key).cloned().unwrap_or_default();
        have.sort();
        if want != have {
            wrong.push(format!("{key:?}: expected {want:?}, got {have:?}"));
        }
    }
    for (key, have) in &got {
        let migrated = ["T_BTDX", "T_FFMX", "T_FFPC", "T_ZJZB"].contains(&key.0.as_str());
        if migrated && !expected.contains_key(key) {
            wrong.push(format!("{key:?}: unexpected {have:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ from the truth file:\n{}",
        wrong.len(),
        expected.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(expected.len() > 100, "the truth file lists cases");
}

/// Every platform row the simulator says legacy must become (`--truth-values`), compared field
/// by field with the target; and the target holds no other row with a legacy key. A value in
/// the wrong field, on the wrong person or the wrong line fails here even when every code and
/// every sum is right.
async fn assert_values_match(target: &DbUrl, values: &Path) {
    let text = std::fs::read_to_string(values).unwrap();
    let mut expected: BTreeMap<String, BTreeMap<i64, serde_json::Map<String, serde_json::Value>>> =
        BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        expected
            .entry(v["table"].as_str().unwrap().to_owned())
            .or_default()
            .insert(
                v["key"].as_i64().unwrap(),
                v["row"].as_object().unwrap().clone(),
            );
    }
    let db = Db::connect(target).await.unwrap();
    let mut wrong = Vec::new();
    let mut compared = 0usize;
    for (table, key) in [
        ("allocation", "legacy_zbid"),
        ("beneficiary", "id"),
        ("beneficiary_legacy_map", "legacy_dxid"),
        ("payment_batch", "legacy_pcid"),
        ("payment", "legacy_mxid"),
    ] {
        let rows = expected.remove(table).unwrap_or_default();
        assert!(rows.len() > 10, "{table}: the values file lists rows");
        let columns: Vec<String> = rows.values().next().unwrap().keys().cloned().collect();
        let select: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST({c} AS TEXT)"))
            .collect();
        let sql = format!(
            "SELECT CAST({key} AS TEXT), {} FROM {table} WHERE {key} IS NOT NULL",
            select.join(", ")
        );
        let mut found = BTreeMap::new();
        for row in db.fetch_text_rows("values", &sql).await.unwrap() {
            found.insert(
                row[0].as_deref().unwrap().parse::<i64>().unwrap(),
                row[1..].to_vec(),
            );
        }
        for (k, want) in &rows {
            let Some(have) = found.remove(k) else {
                wrong.push(format!("{table} {k}: missing"));
                continue;
            };
            for (column, value) in columns.iter().zip(have) {
                let want = want[column].as_str().map(str::to_owned);
                compared += 1;
                if want != value {
                    wrong.push(format!(
                        "{table} {k}.{column}: expected {want:?}, found {value:?}"
                    ));
                }
            }
        }
        for k in found.keys() {
            wrong.push(format!("{table} {k}: in the target, not expected"));
        }
    }
    db.close().await;
    assert!(
        wrong.is_empty(),
        "{} of {compared} values differ from the truth:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every R_, C_ and A_ code occurs in a truth-checked run: a code no test data produces is a
/// rule no test checks. Two flags belong to the cutover and are produced by its tests
/// (`issue10::the_platforms_own_rows_…`, `issue10::legacy_writes_after_the_freeze_…`).
async fn assert_every_code_occurs(target: &DbUrl, flags: &Path) {
    let db = Db::connect(target).await.unwrap();
    let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for sql in [
        "SELECT DISTINCT reason_code FROM migration_reject",
        "SELECT DISTINCT correction_code FROM migration_correction",
    ] {
        for row in db.fetch_text_rows("codes", sql).await.unwrap() {
            seen.insert(row[0].clone().unwrap());
        }
    }
    db.close().await;
    let flags: serde_json::Value = serde_json::from_slice(&std::fs::read(flags).unwrap()).unwrap();
    for f in flags.as_array().unwrap() {
        seen.insert(f["flag"].as_str().unwrap().to_owned());
    }
    let cutover_only = [
        "A_LEGACY_WRITE_AFTER_FREEZE",
        "A_DOUBLE_PAID_ACROSS_SYSTEMS",
    ];
    let missing: Vec<&str> = RejectCode::ALL
        .iter()
        .map(|c| c.code())
        .chain(CorrectionCode::ALL.iter().map(|c| c.code()))
        .chain(AuditFlag::ALL.iter().map(|c| c.code()))
        .filter(|c| !seen.contains(*c) && !cutover_only.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes no truth-checked data produced: {missing:?}"
    );
}

fn migrate(legacy: &[&str], stage: &Path, target: &DbUrl) {
    let mut args = vec!["migrate"];
    args.extend_from_slice(legacy);
    args.extend_from_slice(&[
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target.expose(),
    ]);
    ykt_ok(&args);
}

#[tokio::test]
async fn demo_preset_sqlite_to_sqlite_matches_the_truth_file() {
    let dir = temp_dir("migrate_demo_sqlite");
    let legacy = fresh_sqlite("migrate_demo_sqlite", "legacy.sqlite");
    let target = fresh_sqlite("migrate_demo_sqlite_target", "platform.sqlite");
    let truth = dir.join("truth.json");
    let values = dir.join("values.jsonl");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "7",
        "--legacy",
        legacy.expose(),
        "--truth",
        truth.to_str().unwrap(),
        "--truth-values",
        values.to_str().unwrap(),
    ]);
    migrate(&["--legacy", legacy.expose()], &dir.join("stage"), &target);
    assert_matches_truth(&target, &truth).await;
    assert_values_match(&target, &values).await;
    assert_balanced(&legacy, &target).await;
    let out = dir.join("out");
    ykt_ok(&[
        "reconcile",
        "--legacy",
        legacy.expose(),
        "--stage",
        dir.join("stage").to_str().unwrap(),
        "--target",
        target.expose(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_every_code_occurs(&target, &out.join("flags.json")).await;
}

#[tokio::test]
async fn mariadb_to_postgres_matches_the_truth_file() {
    let Some(legacy) = fresh_database(Server::MySql, "migrate_legacy").await else {
        return;
    };
    let Some(target) = fresh_database(Server::Postgres, "migrate_target").await else {
        return;
    };
    let dir = temp_dir("migrate_mariadb_pg");
    let truth = dir.join("truth.json");
    let values = dir.join("values.jsonl");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "300",
        "--seed",
        "21",
        "--legacy",
        legacy.expose(),
        "--truth",
        truth.to_str().unwrap(),
        "--truth-values",
        values.to_str().unwrap(),
    ]);
    migrate(&["--legacy", legacy.expose()], &dir.join("stage"), &target);
    assert_matches_truth(&target, &truth).await;
    assert_values_match(&target, &values).await;
    assert_balanced(&legacy, &target).await;
    // The bulk load set constraints and indexes aside (counties on two connections): all of
    // them are back, and validated, as the migrations make them.
    let Some(fresh) = fresh_database(Server::Postgres, "migrate_target_schema").await else {
        return;
    };
    ykt_ok(&["schema", "apply", "--target", fresh.expose()]);
    assert_eq!(schema_of(&target).await, schema_of(&fresh).await);
}

#[tokio::test]
async fn export_folder_to_postgres_matches_the_truth_file() {
    let Some(target) = fresh_database(Server::Postgres, "migrate_export_target").await else {
        return;
    };
    let dir = temp_dir("migrate_export_pg");
    let export = dir.join("export");
    let truth = dir.join("truth.json");
    let legacy = fresh_sqlite("migrate_export_pg", "legacy.sqlite");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "300",
        "--seed",
        "22",
        "--legacy",
        legacy.expose(),
        "--export",
        export.to_str().unwrap(),
        "--utf8-bom",
        "T_BTDX",
        "--truth",
        truth.to_str().unwrap(),
    ]);
    migrate(
        &["--legacy-export", export.to_str().unwrap()],
        &dir.join("stage"),
        &target,
    );
    assert_matches_truth(&target, &truth).await;
    assert_balanced(&legacy, &target).await;
}

fn staged(stage: &Path, table: &str) -> Rows {
    let mut rows = Vec::new();
    TextTableReader::open(&Stage::new(stage).legacy_file(table))
        .unwrap()
        .for_each(|r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
    rows
}

#[test]
fn database_and_export_give_identical_staged_rows() {
    let dir = temp_dir("extract_db_vs_export");
    let legacy = fresh_sqlite("extract_db_vs_export", "legacy.sqlite");
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "200",
        "--legacy",
        legacy.expose(),
        "--export",
        export.to_str().unwrap(),
    ]);
    ykt_ok(&[
        "extract",
        "--legacy",
        legacy.expose(),
        "--stage",
        dir.join("a").to_str().unwrap(),
    ]);
    ykt_ok(&[
        "extract",
        "--legacy-export",
        export.to_str().unwrap(),
        "--stage",
        dir.join("b").to_str().unwrap(),
    ]);
    for table in LegacyTable::ALL {
        let (a, b) = (
            staged(&dir.join("a"), table.name()),
            staged(&dir.join("b"), table.name()),
        );
        assert!(!a.is_empty());
        assert_eq!(a, b, "{}", table.name());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("b/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["tables"]["T_FFMX"]["totals_rows_dropped"], 1,
        "the 合计 row is dropped and counted"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["source"]["max_change_stamp"]["T_FFMX"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );
    assert_eq!(
        manifest["source"]["row_counts"]["T_FFMX"],
        manifest["tables"]["T_FFMX"]["rows"]
    );
}

/// The county a legacy row belongs to, derived here from the reference files themselves.
fn county_of(rule: &CountyRule, code: &Option<String>) -> String {
    rule.county(code.as_deref())
        .unwrap_or_else(|| "000000".to_owned())
}

/// The value of a legacy amount when it reads as money (`mapping-rules.md`), read here on its
/// own: cleaned text to canonical cents, then parsed; no rule of ykt is asked.
fn legacy_money(raw: Option<&str>) -> Option<Decimal> {
    let cleaned: String = raw?
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' => '.',
            '－' => '-',
            '，' => ',',
            _ => c,
        })
        .filter(|c| *c != ',')
        .collect();
    let (sign, body) = cleaned
        .strip_prefix('-')
        .map_or(("", cleaned.as_str()), |b| ("-", b));
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || frac.bytes().skip(2).any(|b| b != b'0') {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 12 {
        return None;
    }
    let cents: String = frac.chars().chain("00".chars()).take(2).collect();
    format!("{sign}{}.{cents}", if int.is_empty() { "0" } else { int })
        .parse()
        .ok()
}
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Figures {
    rows: u64,
    amount: Decimal,
}

/// The balance identity, per county and table: source rows = loaded + merged + rejected and
/// source amount = loaded amount + rejected amount, with every loaded figure read back from
/// the target by SQL.
async fn assert_balanced(legacy: &DbUrl, target: &DbUrl) {
    let rule = CountyRule::load();
    let key = |r: &Vec<Option<String>>| r[0].clone().unwrap_or_default();
    let mut source: BTreeMap<(String, &str), Figures> = BTreeMap::new();
    let mut amount_of: HashMap<(&str, String), Decimal> = HashMap::new();
    let mut batch_county: HashMap<String, String> = HashMap::new();
    let mut person_county: HashMap<String, String> = HashMap::new();
    for (table, amount_col) in [
        (LegacyTable::Beneficiaries, None),
        (LegacyTable::Allocations, Some("ZBJE")),
        (LegacyTable::Batches, None),
    ] {
        let region = table.column_index("XZQHDM").unwrap();
        for row in database_rows(legacy, table).await {
            let county = county_of(&rule, &row[region]);
            let f = source.entry((county.clone(), table.name())).or_default();
            f.rows += 1;
            if let Some(col) = amount_col
                && let Some(v) = legacy_money(row[table.column_index(col).unwrap()].as_deref())
            {
                f.amount += v;
                amount_of.insert((table.name(), key(&row)), v);
            }
            match table {
                LegacyTable::Batches => {
                    batch_county.insert(key(&row), county);
                }
                LegacyTable::Beneficiaries => {
                    person_county.insert(key(&row), county);
                }
                _ => {}
            }
        }
    }
    let t = LegacyTable::Payments;
    let (pcid, dxid, je) = (
        t.column_index("PCID").unwrap(),
        t.column_index("DXID").unwrap(),
        t.column_index("JE").unwrap(),
    );
    let number = |v: &Option<String>| {
        v.as_deref()
            .and_then(|k| k.trim().parse::<i64>().ok())
            .map(|n| n.to_string())
    };
    for row in database_rows(legacy, t).await {
        let by_batch = number(&row[pcid])
            .and_then(|p| batch_county.get(&p))
            .filter(|c| c.as_str() != "000000");
        let county = by_batch
            .or_else(|| number(&row[dxid]).and_then(|d| person_county.get(&d)))
            .cloned()
            .unwrap_or_else(|| "000000".into());
        let f = source.entry((county, t.name())).or_default();
        f.rows += 1;
        if let Some(v) = legacy_money(row[je].as_deref()) {
            f.amount += v;
            amount_of.insert((t.name(), key(&row)), v);
        }
    }

    let db = Db::connect(target).await.unwrap();
    let num = |s: &Option<String>| s.as_deref().unwrap_or("0").parse::<Decimal>().unwrap();
    let mut loaded: BTreeMap<(String, &str), Figures> = BTreeMap::new();
    let cast = if db.engine() == Engine::Postgres {
        "CAST(amount AS TEXT)"
    } else {
        "amount"
    };
    for (table, platform, amount) in [
        ("T_BTDX", "beneficiary", None),
        ("T_ZJZB", "allocation", Some(cast)),
        ("T_FFPC", "payment_batch", None),
        ("T_FFMX", "payment", Some(cast)),
    ] {
        let sql = format!(
            "SELECT county_code, {} FROM {platform}",
            amount.unwrap_or("NULL")
        );
        for row in db.fetch_text_rows("loaded", &sql).await.unwrap() {
            let f = loaded.entry((row[0].clone().unwrap(), table)).or_default();
            f.rows += 1;
            f.amount += num(&row[1]);
        }
    }
    let mut merged: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for row in db.fetch_text_rows("merged", "SELECT county_code FROM migration_correction WHERE correction_code = 'C_BENEFICIARY_MERGED'").await.unwrap() {
        *merged.entry((row[0].clone().unwrap(), "T_BTDX")).or_default() += 1;
    }
    let mut rejected: BTreeMap<(String, &str), Figures> = BTreeMap::new();
    for row in db
        .fetch_text_rows(
            "rejected",
            "SELECT county_code, source_table, source_key FROM migration_reject",
        )
        .await
        .unwrap()
    {
        let table: &str = match row[1].as_deref().unwrap() {
            "T_BTDX" => "T_BTDX",
            "T_ZJZB" => "T_ZJZB",
            "T_FFPC" => "T_FFPC",
            "T_FFMX" => "T_FFMX",
            _ => continue,
        };
        let f = rejected
            .entry((row[0].clone().unwrap(), table))
            .or_default();
        f.rows += 1;
        f.amount += amount_of
            .get(&(table, row[2].clone().unwrap()))
            .copied()
            .unwrap_or_default();
    }
    db.close().await;

    assert!(source.len() >= 4);
    for (key, src) in &source {
        let l = loaded.get(key).cloned().unwrap_or_default();
        let r = rejected.get(key).cloned().unwrap_or_default();
        let m = merged.get(key).copied().unwrap_or(0);
        assert_eq!(
            src.rows,
            l.rows + m + r.rows,
            "rows of {key:?}: source {src:?}, loaded {l:?}, merged {m}, rejected {r:?}"
        );
        assert_eq!(src.amount, l.amount + r.amount, "amount of {key:?}");
    }
    for key in loaded.keys().chain(rejected.keys()) {
        assert!(
            source.contains_key(key),
            "{key:?} in the target but not in legacy"
        );
    }
}

/// For any generated legacy data (several seeds, sizes and quirk rates), every row is loaded,
/// merged or rejected, and the amounts add up, per county and table.
#[tokio::test]
async fn balance_identity_holds_for_generated_data() {
    for (seed, counties, per_county, rate) in [
        (1u64, "1", "60", "3%"),
        (2, "2", "120", "1%"),
        (3, "3", "80", "4.5%"),
        (4, "1", "200", "0%"),
    ] {
        let name = format!("balance_{seed}");
        let dir = temp_dir(&name);
        let legacy = fresh_sqlite(&name, "legacy.sqlite");
        let target = fresh_sqlite(&format!("{name}_target"), "platform.sqlite");
        ykt_ok(&[
            "generate",
            "--counties",
            counties,
            "--beneficiaries-per-county",
            per_county,
            "--seed",
            &seed.to_string(),
            "--rate",
            &format!("all={rate}"),
            "--legacy",
            legacy.expose(),
        ]);
        migrate(&["--legacy", legacy.expose()], &dir.join("stage"), &target);
        assert_balanced(&legacy, &target).await;
    }
}

async fn idempotent_and_replacing(target_a: DbUrl, target_b: DbUrl, test: &str) {
    let dir = temp_dir(test);
    let legacy = fresh_sqlite(test, "legacy.sqlite");
    let stage = dir.join("stage");
    ykt_ok(&[
        "generate",
        "--counties",
        "3",
        "--beneficiaries-per-county",
        "150",
        "--seed",
        "5",
        "--legacy",
        legacy.expose(),
    ]);
    ykt_ok(&[
        "extract",
        "--legacy",
        legacy.expose(),
        "--stage",
        stage.to_str().unwrap(),
    ]);
    ykt_ok(&["transform", "--stage", stage.to_str().unwrap()]);
    ykt_ok(&[
        "load",
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target_a.expose(),
    ]);
    let first = dump(&target_a).await;
    assert!(first["payment"].len() > 1000);
    ykt_ok(&[
        "load",
        "--stage",
        stage.to_str().unwrap(),
        "--target",
        target_a.expose(),
    ]);
    assert_eq!(
        dump(&target_a).await,
        first,
        "loading the same stage twice leaves the same tables"
    );

    // Another source loaded over it replaces the migrated data county by county (rows move
    // between counties, keys are reused): the same tables as that source loaded afresh.
    let other = fresh_sqlite(&format!("{test}_other"), "legacy.sqlite");
    let other_stage = dir.join("stage-other");
    ykt_ok(&[
        "generate",
        "--counties",
        "3",
        "--beneficiaries-per-county",
        "160",
        "--seed",
        "6",
        "--legacy",
        other.expose(),
    ]);
    ykt_ok(&[
        "migrate",
        "--legacy",
        other.expose(),
        "--stage",
        other_stage.to_str().unwrap(),
        "--target",
        target_b.expose(),
    ]);
    let fresh = dump(&target_b).await;
    let out = ykt_ok(&[
        "migrate",
        "--legacy",
        other.expose(),
        "--stage",
        other_stage.to_str().unwrap(),
        "--target",
        target_a.expose(),
        "--allow-shrink",
    ]);
    let replaced = dump(&target_a).await;
    for table in PLATFORM_TABLES {
        assert_eq!(
            replaced[table],
            fresh[table],
            "{table}: loading another source over a target equals loading it afresh\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The tables a load replaces (regions and programs are reference data, upserted and never
/// removed; the bookkeeping keeps each run's records).
const PLATFORM_TABLES: [&str; 5] = [
    "allocation",
    "beneficiary",
    "beneficiary_legacy_map",
    "payment_batch",
    "payment",
];

#[tokio::test]
async fn sqlite_load_is_idempotent_and_replaces_by_county() {
    idempotent_and_replacing(
        fresh_sqlite("idem_sqlite_a", "a.sqlite"),
        fresh_sqlite("idem_sqlite_b", "b.sqlite"),
        "idem_sqlite",
    )
    .await;
}

#[tokio::test]
async fn postgres_load_is_idempotent_and_replaces_by_county() {
    let Some(a) = fresh_database(Server::Postgres, "idem_a").await else {
        return;
    };
    let Some(b) = fresh_database(Server::Postgres, "idem_b").await else {
        return;
    };
    idempotent_and_replacing(a, b, "idem_pg").await;
}

fn fails_with(args: &[&str], code: i32, needles: &[&str]) {
    let out = ykt(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: expected {n:?} in: {err}");
    }
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one sentence: {err}"
    );
}

#[tokio::test]
async fn input_errors_name_the_thing_and_exit_2() {
    let dir = temp_dir("migrate_errors");
    let legacy = fresh_sqlite("migrate_errors", "legacy.sqlite");
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--counties",
        "1",
        "--beneficiaries-per-county",
        "30",
        "--legacy",
        legacy.expose(),
        "--export",
        export.to_str().unwrap(),
    ]);
    let stage = dir.join("stage");
    let stage_s = stage.to_str().unwrap();

    // A missing column, then a missing table.
    let db = Db::connect(&legacy).await.unwrap();
    db.execute("drop column", "ALTER TABLE \"T_FFMX\" DROP COLUMN \"SBYY\"")
        .await
        .unwrap();
    db.close().await;
    fails_with(
        &["extract", "--legacy", legacy.expose(), "--stage", stage_s],
        2,
        &["T_FFMX", "SBYY"],
    );
    let db = Db::connect(&legacy).await.unwrap();
    db.execute("drop table", "DROP TABLE \"T_FFMX\"")
        .await
        .unwrap();
    db.close().await;
    fails_with(
        &["extract", "--legacy", legacy.expose(), "--stage", stage_s],
        2,
        &["no table T_FFMX"],
    );
    assert!(!stage.join("manifest.json").exists());

    // A database that is not there; a folder that is not there.
    fails_with(
        &[
            "extract",
            "--legacy",
            "postgres://u:hunter2@127.0.0.1:9/x",
            "--stage",
            stage_s,
        ],
        2,
        &["127.0.0.1:9", "u:***@"],
    );
    fails_with(
        &[
            "extract",
            "--legacy-export",
            "/no/such/folder",
            "--stage",
            stage_s,
        ],
        2,
        &["/no/such/folder"],
    );

    // Bytes that are neither GBK nor UTF-8, with the file and line.
    let file = export.join("T_BTDX.csv");
    let mut bytes = std::fs::read(&file).unwrap();
    let second_line = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    bytes.splice(second_line..second_line, [0x81, 0x20]);
    std::fs::write(&file, bytes).unwrap();
    fails_with(
        &[
            "extract",
            "--legacy-export",
            export.to_str().unwrap(),
            "--stage",
            stage_s,
        ],
        2,
        &["T_BTDX.csv", "line 2", "GBK"],
    );

    // A stage folder left by a crash is reported, not reused.
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join(".extract-in-progress"), b"").unwrap();
    fails_with(
        &["transform", "--stage", stage_s],
        2,
        &["interrupted extract"],
    );
    fails_with(
        &[
            "extract",
            "--legacy-export",
            export.to_str().unwrap(),
            "--stage",
            stage_s,
        ],
        2,
        &["interrupted extract", "--overwrite"],
    );
    fails_with(
        &[
            "load",
            "--stage",
            dir.join("nothing").to_str().unwrap(),
            "--target",
            "sqlite://x.sqlite",
        ],
        2,
        &["transform"],
    );
}

#[test]
fn the_same_stage_transforms_to_the_same_bytes() {
    let dir = temp_dir("transform_deterministic");
    let legacy = fresh_sqlite("transform_deterministic", "legacy.sqlite");
    let stage = dir.join("stage");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "120",
        "--legacy",
        legacy.expose(),
    ]);
    ykt_ok(&[
        "extract",
        "--legacy",
        legacy.expose(),
        "--stage",
        stage.to_str().unwrap(),
    ]);
    ykt_ok(&["transform", "--stage", stage.to_str().unwrap()]);
    let first = std::fs::read(stage.join("platform/manifest.json")).unwrap();
    ykt_ok(&["transform", "--stage", stage.to_str().unwrap()]);
    let second = std::fs::read(stage.join("platform/manifest.json")).unwrap();
    assert_eq!(first, second, "same files, same checksums, same run id");
    let manifest: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert!(manifest["files"].as_object().unwrap().len() > 10);
}

#[tokio::test]
async fn a_wrong_password_is_one_sentence_without_the_password() {
    let Some(url) = fresh_database(Server::MySql, "wrong_password").await else {
        return;
    };
    let wrong = url.expose().replacen("root@", "root:not-the-password@", 1);
    let dir = temp_dir("wrong_password");
    fails_with(
        &[
            "extract",
            "--legacy",
            &wrong,
            "--stage",
            dir.join("s").to_str().unwrap(),
        ],
        2,
        &["root:***@", "cannot connect"],
    );
    let out = ykt(&[
        "extract",
        "--legacy",
        &wrong,
        "--stage",
        dir.join("s").to_str().unwrap(),
    ]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-the-password"));
}

/// The stage contract between transform and load: every staged platform row reads back as its
/// typed row (`PlatformRow::from_cells`) and writes out to the very same cells. A staged amount
/// that is not an exact decimal, a day that is not a day, a status the platform does not know
/// would fail here before any load.
#[test]
fn every_staged_row_reads_back_as_its_platform_row() {
    use ykt_domain::platform::{
        Allocation, Beneficiary, BeneficiaryLegacyMap, CorrectionRecord, Payment, PaymentBatch,
        PlatformRow, Program, Region, RejectRecord,
    };
    fn round_trip<P: PlatformRow>(path: &std::path::Path) -> u64 {
        let mut reader = ykt_stage::TextTableReader::open(path).unwrap();
        let columns = reader.columns().to_vec();
        assert_eq!(columns, P::COLUMNS, "{}: the staged header", path.display());
        let mut n = 0;
        while let Some(rows) = reader.next_rows().unwrap() {
            for cells in rows {
                let row = P::from_cells(&columns, &cells)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(row.cells(), cells, "{}", path.display());
                n += 1;
            }
        }
        n
    }
    let dir = temp_dir("staged-rows");
    ykt_ok(&["demo", "--dir", dir.to_str().unwrap()]);
    let platform = dir.join("stage/platform");
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for group in std::fs::read_dir(&platform).unwrap() {
        let group = group.unwrap().path();
        if !group.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&group).unwrap() {
            let path = file.unwrap().path();
            let table = path.file_stem().unwrap().to_string_lossy().into_owned();
            let n = match table.as_str() {
                "region" => round_trip::<Region>(&path),
                "program" => round_trip::<Program>(&path),
                "allocation" => round_trip::<Allocation>(&path),
                "beneficiary" => round_trip::<Beneficiary>(&path),
                "beneficiary_legacy_map" => round_trip::<BeneficiaryLegacyMap>(&path),
                "payment_batch" => round_trip::<PaymentBatch>(&path),
                "payment" => round_trip::<Payment>(&path),
                "reject" => round_trip::<RejectRecord>(&path),
                "correction" => round_trip::<CorrectionRecord>(&path),
                other => panic!(
                    "{}: a staged table ykt does not know: {other}",
                    path.display()
                ),
            };
            *rows.entry(table).or_default() += n;
        }
    }
    for table in [
        "region",
        "program",
        "allocation",
        "beneficiary",
        "payment_batch",
        "payment",
    ] {
        assert!(rows.get(table).is_some_and(|&n| n > 0), "{table}: {rows:?}");
    }
}

/// A bulk load sets the migrated tables' keys aside while it copies and builds them after. A
/// key that a foreign key of a table outside the migration references (one the platform's
/// owners added, say) cannot be dropped without that foreign key: it stays, and the load still
/// succeeds, every key and that foreign key in place, none left set aside.
#[tokio::test]
async fn a_bulk_load_keeps_a_key_that_another_tables_foreign_key_needs() {
    let test = "bulk_foreign_ref";
    let Some(target) = fresh_database(Server::Postgres, test).await else {
        return;
    };
    let dir = temp_dir(test);
    let legacy = fresh_sqlite(test, "legacy.sqlite");
    let truth = dir.join("truth.json");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "40",
        "--seed",
        "5",
        "--legacy",
        legacy.expose(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let db = Db::connect(&target).await.unwrap();
    ykt_load::apply_migrations(&db).await.unwrap();
    db.execute_script(
        "a table of the platform's own",
        "CREATE TABLE payment_note (payment_id BIGINT NOT NULL REFERENCES payment (id), note TEXT)",
    )
    .await
    .unwrap();
    migrate(&["--legacy", legacy.expose()], &dir.join("stage"), &target);
    let pending = db
        .fetch_i64(
            "counting",
            "SELECT COUNT(*) FROM migration_pending_constraint",
        )
        .await
        .unwrap();
    db.close().await;
    assert_eq!(pending, Some(0), "nothing left set aside");
    let schema = schema_of(&target).await;
    for want in [
        "payment payment_pkey PRIMARY KEY (id)",
        "payment payment_legacy_mxid_key UNIQUE (legacy_mxid)",
        "beneficiary beneficiary_pkey PRIMARY KEY (id)",
        "migration_reject migration_reject_pkey PRIMARY KEY (run_id, source_table, source_key)",
        "payment_note payment_note_payment_id_fkey FOREIGN KEY (payment_id) REFERENCES payment(id)",
    ] {
        assert!(
            schema.iter().any(|s| s == want),
            "{want} is in the loaded target: {schema:#?}"
        );
    }
}
