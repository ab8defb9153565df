//! `ykt generate`: determinism, the export format, database ↔ export equality, quirk rates and
//! the truth file.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use ykt_db::DbUrl;
use ykt_domain::LegacyTable;

use crate::support::{
    Server, database_rows, export_rows, fresh_database, fresh_sqlite, temp_dir, ykt_ok,
};

fn checksums(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let digest = Sha256::digest(std::fs::read(&path).unwrap());
            out.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                format!("{digest:x}"),
            );
        }
    }
    out
}

#[test]
fn demo_seed_7_is_byte_identical_on_two_runs() {
    let a = temp_dir("determinism_a");
    let b = temp_dir("determinism_b");
    for dir in [&a, &b] {
        let export = dir.join("export");
        ykt_ok(&[
            "generate",
            "--preset",
            "demo",
            "--seed",
            "7",
            "--export",
            export.to_str().unwrap(),
        ]);
    }
    let (ca, cb) = (checksums(&a.join("export")), checksums(&b.join("export")));
    assert_eq!(ca.len(), 7, "seven export files: {ca:?}");
    assert_eq!(ca, cb);
    assert_eq!(
        checksums(&a),
        checksums(&b),
        "the truth files are identical too"
    );

    // Another seed gives other data.
    let c = temp_dir("determinism_c");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "8",
        "--export",
        c.join("export").to_str().unwrap(),
    ]);
    assert_ne!(checksums(&c.join("export"))["T_FFMX.csv"], ca["T_FFMX.csv"]);
}

#[test]
fn export_files_are_gbk_with_the_spec_captions_and_crlf() {
    let dir = temp_dir("export_gbk");
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "7",
        "--export",
        export.to_str().unwrap(),
    ]);
    for table in LegacyTable::ALL {
        let bytes = std::fs::read(export.join(table.file_name())).unwrap();
        let text = encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(&bytes)
            .unwrap_or_else(|| panic!("{} is not valid GBK", table.name()));
        let captions: Vec<&str> = table.columns().iter().map(|c| c.caption).collect();
        let first = text.split("\r\n").next().unwrap();
        assert_eq!(first, captions.join(","), "{}", table.name());
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "{}: bare LF line ends",
            table.name()
        );
        if table != LegacyTable::Regions
            && table != LegacyTable::Programs
            && table != LegacyTable::Users
        {
            assert!(
                std::str::from_utf8(&bytes).is_err(),
                "{} must not be UTF-8",
                table.name()
            );
        }
    }
    // Q13: totals rows in the payment and allocation files, empty lines after the batches.
    let (_, totals) = export_rows(&export, LegacyTable::Payments);
    assert_eq!(totals, 1);
    let (_, totals) = export_rows(&export, LegacyTable::Allocations);
    assert_eq!(totals, 1);
    let batches = std::fs::read(export.join("T_FFPC.csv")).unwrap();
    assert!(batches.ends_with(b"\r\n\r\n\r\n"));
}

async fn export_equals_database(url: DbUrl, test: &str, extra: &[&str]) {
    let dir = temp_dir(test);
    let export = dir.join("export");
    let mut args = vec![
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "150",
        "--seed",
        "11",
        "--legacy",
        url.expose(),
        "--export",
        export.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ykt_ok(&args);
    for table in LegacyTable::ALL {
        let from_db = database_rows(&url, table).await;
        let (from_export, _) = export_rows(&export, table);
        assert!(!from_db.is_empty(), "{} is empty", table.name());
        assert_eq!(
            from_db.len(),
            from_export.len(),
            "{} row count",
            table.name()
        );
        for (d, e) in from_db.iter().zip(&from_export) {
            assert_eq!(
                d,
                e,
                "{} differs between {url} and the export",
                table.name()
            );
        }
    }
}

#[tokio::test]
async fn export_reads_back_as_the_sqlite_database() {
    let url = fresh_sqlite("export_vs_sqlite", "legacy.sqlite");
    export_equals_database(url, "export_vs_sqlite", &["--utf8-bom", "T_BTDX,T_YH"]).await;
}

#[tokio::test]
async fn export_reads_back_as_the_mariadb_database() {
    if let Some(url) = fresh_database(Server::MySql, "export_vs_mariadb").await {
        export_equals_database(url, "export_vs_mariadb", &[]).await;
    }
}

#[tokio::test]
async fn export_reads_back_as_the_postgres_database() {
    if let Some(url) = fresh_database(Server::Postgres, "export_vs_postgres").await {
        export_equals_database(url, "export_vs_postgres", &[]).await;
    }
}

#[test]
fn utf8_bom_resaves_are_detected() {
    let dir = temp_dir("utf8_bom");
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--counties",
        "1",
        "--beneficiaries-per-county",
        "50",
        "--export",
        export.to_str().unwrap(),
        "--utf8-bom",
        "T_BTDX",
    ]);
    let bytes = std::fs::read(export.join("T_BTDX.csv")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let reader = ykt_extract::ExportReader::open(&export, LegacyTable::Beneficiaries).unwrap();
    assert_eq!(reader.encoding(), ykt_extract::ExportEncoding::Utf8Bom);
    let reader = ykt_extract::ExportReader::open(&export, LegacyTable::Payments).unwrap();
    assert_eq!(reader.encoding(), ykt_extract::ExportEncoding::Gbk);
}

/// Every quirk occurs close to its configured rate, and every case in the truth file points at
/// a real row whose field holds exactly the raw value listed.
#[test]
fn quirks_occur_at_their_rates_and_the_truth_file_lists_each() {
    let dir = temp_dir("quirk_rates");
    let export = dir.join("export");
    let truth = dir.join("truth.json");
    ykt_ok(&[
        "generate",
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "2500",
        "--seed",
        "3",
        "--rate",
        "Q3=1%",
        "--rate",
        "Q1=2%",
        "--export",
        export.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    let configured = &truth["params"]["quirk_ppm"];
    let quirks = &truth["summary"]["quirks"];
    for q in [
        "Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8", "Q9", "Q10", "Q11", "Q12",
    ] {
        let ppm = configured[q].as_f64().unwrap();
        let eligible = quirks[q]["eligible_rows"].as_f64().unwrap();
        let occurred = quirks[q]["occurrences"].as_f64().unwrap();
        let expected = eligible * ppm / 1e6;
        let tolerance = 4.0 * expected.sqrt() + 2.0;
        assert!(
            (occurred - expected).abs() <= tolerance,
            "{q}: {occurred} occurrences in {eligible} rows, expected about {expected:.0} (±{tolerance:.0})"
        );
        assert!(occurred > 0.0, "{q} never occurred");
    }
    assert_eq!(
        quirks["Q13"]["occurrences"], 3,
        "totals rows in two files, empty lines in one"
    );

    // Each listed case is real: the row exists and holds the raw value in that field.
    let mut rows: BTreeMap<&str, BTreeMap<i64, ykt_domain::LegacyRow>> = BTreeMap::new();
    for table in [
        LegacyTable::Beneficiaries,
        LegacyTable::Batches,
        LegacyTable::Payments,
        LegacyTable::Allocations,
    ] {
        let (table_rows, _) = export_rows(&export, table);
        rows.insert(
            table.name(),
            table_rows
                .into_iter()
                .map(|r| (r[0].as_deref().unwrap().parse().unwrap(), r))
                .collect(),
        );
    }
    let cases = truth["cases"].as_array().unwrap();
    let mut per_quirk: BTreeMap<String, u64> = BTreeMap::new();
    for case in cases {
        let table_name = case["table"].as_str().unwrap();
        let table = LegacyTable::from_name(table_name).unwrap();
        let key = case["key"].as_i64().unwrap();
        let row = rows[table_name]
            .get(&key)
            .unwrap_or_else(|| panic!("{table_name} {key} listed but not written"));
        assert!(
            !case["expect"].as_array().unwrap().is_empty() || !case["quirk"].is_null(),
            "{case}"
        );
        if let (Some(q), Some(field)) = (case["quirk"].as_str(), case["field"].as_str()) {
            *per_quirk.entry(q.to_owned()).or_default() += 1;
            let index = table.column_index(field).unwrap();
            assert_eq!(row[index].as_deref(), case["raw"].as_str(), "{case}");
        }
    }
    for (q, n) in per_quirk {
        assert_eq!(
            quirks[&q]["occurrences"].as_u64().unwrap(),
            n,
            "{q}: summary and cases agree"
        );
    }
    // The audit cases asked for are there, in each county.
    let flags = truth["flags"].as_array().unwrap();
    for flag in [
        "A_DUPLICATE_PAYMENT",
        "A_PAID_AFTER_DEATH",
        "A_SHARED_ACCOUNT",
        "A_RATE_MISMATCH",
        "A_PAID_BEFORE_ANNOUNCED",
        "A_FAILED_NOT_REISSUED",
        "A_BATCH_TOTAL_MISMATCH",
    ] {
        let n = flags.iter().filter(|f| f["flag"] == flag).count();
        assert!(n >= 2, "{flag}: {n} cases");
    }
}

#[tokio::test]
async fn a_second_generate_needs_replace() {
    let url = fresh_sqlite("generate_replace", "legacy.sqlite");
    let args = [
        "generate",
        "--counties",
        "1",
        "--beneficiaries-per-county",
        "40",
        "--legacy",
        url.expose(),
    ];
    ykt_ok(&args);
    let first = database_rows(&url, LegacyTable::Payments).await;
    let out = crate::support::ykt(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    let mut replace = args.to_vec();
    replace.push("--replace");
    ykt_ok(&replace);
    assert_eq!(database_rows(&url, LegacyTable::Payments).await, first);
}
