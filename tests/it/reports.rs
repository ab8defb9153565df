//! The reports of issue 4: county folders in the promised shape, figures equal to the
//! simulator's truth, Excel equal to `summary.json`, masking, the manifest, `ykt report diff`,
//! and the HTML rendered by a real headless browser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use ykt_db::Db;

use crate::support::{
    Server, fresh_database, fresh_sqlite, servers_required, temp_dir, ykt, ykt_ok,
};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn county_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join("counties"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

fn is_money(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or("x");
    let digits = s.strip_prefix('-').unwrap_or(s);
    matches!(digits.split_once('.'), Some((i, f)) if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && f.len() == 2 && f.bytes().all(|b| b.is_ascii_digit()))
}

/// summary.json has exactly the keys, amounts as two-decimal strings.
fn assert_summary_shape(s: &serde_json::Value) {
    let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = [
        "county_code",
        "county_name",
        "run_id",
        "balanced",
        "tables",
        // Issue 10: rows the target holds that no legacy row explains.
        "platform_rows",
        "rejects",
        "corrections",
        "flags",
        "row_diff",
        // Issue 14: the three-state verdict and what waits for the county.
        "verdict",
        "pending",
    ]
    .into();
    assert_eq!(keys, want);
    // The verdict follows from the figures: rejected rows pending make a balanced county's
    // work not yet done.
    let rejected: u64 = s["tables"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["rejected_rows"].as_u64().unwrap())
        .sum();
    assert_eq!(s["pending"]["rows"].as_u64(), Some(rejected));
    assert!(is_money(&s["pending"]["payment_amount"]));
    let expected = match (s["balanced"].as_bool().unwrap(), rejected) {
        (false, _) => "unbalanced",
        (true, 0) => "clean",
        (true, _) => "pending",
    };
    assert_eq!(s["verdict"].as_str(), Some(expected));
    for table in ["T_FFMX", "T_BTDX", "T_FFPC", "T_ZJZB"] {
        let t = &s["tables"][table];
        let keys: BTreeSet<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = [
            "source_rows",
            "loaded_rows",
            "merged_rows",
            "rejected_rows",
            "source_amount",
            "loaded_amount",
            "rejected_amount",
            "unreadable_amount_rows",
        ]
        .into();
        assert_eq!(keys, want, "{table}");
        for a in ["source_amount", "loaded_amount", "rejected_amount"] {
            assert!(is_money(&t[a]), "{table}.{a} = {}", t[a]);
        }
    }
    let rd: BTreeSet<&str> = s["row_diff"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        rd,
        [
            "missing_in_target",
            "unexpected_in_target",
            "value_mismatches"
        ]
        .into()
    );
}

/// Per county and code, how many the truth file predicts.
fn truth_counts(truth: &serde_json::Value) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for case in truth["cases"].as_array().unwrap() {
        for code in case["expect"].as_array().unwrap() {
            *m.entry((
                case["county"].as_str().unwrap().to_owned(),
                code.as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
        }
    }
    for f in truth["flags"].as_array().unwrap() {
        *m.entry((
            f["county"].as_str().unwrap().to_owned(),
            f["flag"].as_str().unwrap().to_owned(),
        ))
        .or_default() += 1;
    }
    m
}

fn report_counts(out: &Path) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for dir in county_dirs(out) {
        let s = json(&dir.join("summary.json"));
        for section in ["rejects", "corrections", "flags"] {
            for (code, n) in s[section].as_object().unwrap() {
                m.insert(
                    (s["county_code"].as_str().unwrap().to_owned(), code.clone()),
                    n.as_u64().unwrap(),
                );
            }
        }
    }
    m
}

/// The xlsx's overall sheet, read back with calamine, equals summary.json.
fn assert_xlsx_equals_summary(dir: &Path) {
    let s = json(&dir.join("summary.json"));
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(dir.join("reconciliation.xlsx")).unwrap();
    let sheets = book.sheet_names();
    for want in [
        "结论",
        "总体情况",
        "分项目年度",
        "拒绝清单",
        "更正记录",
        "审计标记",
        "逐行差异",
        "签字确认",
    ] {
        assert!(
            sheets.iter().any(|n| n == want),
            "sheet {want} in {sheets:?}"
        );
    }
    let range = book.worksheet_range("总体情况").unwrap();
    let mut seen = 0;
    for row in range.rows().skip(1) {
        let table = row[0].to_string();
        let t = &s["tables"][&table];
        let int = |c: &Data| match c {
            Data::Float(f) => *f as u64,
            Data::Int(i) => *i as u64,
            other => panic!("not a number: {other:?}"),
        };
        let money = |c: &Data| match c {
            Data::Float(f) => format!("{f:.2}"),
            other => panic!("amount is not a numeric cell: {other:?}"),
        };
        assert_eq!(int(&row[2]), t["source_rows"].as_u64().unwrap(), "{table}");
        assert_eq!(int(&row[3]), t["loaded_rows"].as_u64().unwrap(), "{table}");
        assert_eq!(int(&row[4]), t["merged_rows"].as_u64().unwrap(), "{table}");
        assert_eq!(
            int(&row[5]),
            t["rejected_rows"].as_u64().unwrap(),
            "{table}"
        );
        // Issue 14: tables without amounts leave the amount cells empty, as the HTML does.
        if !matches!(table.as_str(), "T_FFMX" | "T_ZJZB") {
            assert!(
                row.len() <= 6 || row[6..].iter().all(|c| matches!(c, Data::Empty)),
                "{table}: {row:?}"
            );
            seen += 1;
            continue;
        }
        assert_eq!(
            money(&row[6]),
            t["source_amount"].as_str().unwrap(),
            "{table}"
        );
        assert_eq!(
            money(&row[7]),
            t["loaded_amount"].as_str().unwrap(),
            "{table}"
        );
        assert_eq!(
            money(&row[8]),
            t["rejected_amount"].as_str().unwrap(),
            "{table}"
        );
        seen += 1;
    }
    assert_eq!(seen, s["tables"].as_object().unwrap().len());
    let rejects = book.worksheet_range("拒绝清单").unwrap();
    let total: u64 = s["rejects"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(rejects.rows().count() as u64 - 1, total);
    // Each listing's sheet (filled on a thread of its own) holds its CSV file's rows, header
    // included, in the same order: the two are written from one listing.
    for (sheet, file) in [
        ("拒绝清单", "rejects.csv"),
        ("更正记录", "corrections.csv"),
        ("审计标记", "flags.csv"),
        ("逐行差异", "diffs.csv"),
    ] {
        let range = book.worksheet_range(sheet).unwrap();
        let cells: Vec<Vec<String>> = range
            .rows()
            .map(|row| {
                let mut cells: Vec<String> = row
                    .iter()
                    .map(|c| match c {
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    })
                    .collect();
                while cells.last().is_some_and(String::is_empty) {
                    cells.pop();
                }
                cells
            })
            .collect();
        let csv: Vec<Vec<String>> = parse_csv(&dir.join(file))
            .into_iter()
            .map(|mut row| {
                while row.last().is_some_and(String::is_empty) {
                    row.pop();
                }
                row
            })
            .collect();
        assert_eq!(cells.len(), csv.len(), "{sheet}: rows against {file}");
        for (i, (x, c)) in cells.iter().zip(&csv).enumerate() {
            assert_eq!(x, c, "{sheet} row {i} against {file}");
        }
    }
}

/// A CSV file as ykt writes it (BOM, a header, RFC 4180 quoting), every row its cells.
fn parse_csv(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    ykt_users::split_csv(std::str::from_utf8(&bytes[3..]).unwrap())
}

fn csv_rows(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "{} starts with a BOM",
        path.display()
    );
    String::from_utf8(bytes[3..].to_vec())
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// Every ID number and account the target holds, in full.
pub async fn personal_numbers(target: &ykt_db::DbUrl) -> std::collections::HashSet<String> {
    let db = Db::connect(target).await.unwrap();
    let mut out = std::collections::HashSet::new();
    for sql in [
        "SELECT id_number FROM beneficiary",
        "SELECT household_head_id_number FROM beneficiary WHERE household_head_id_number IS NOT NULL",
        "SELECT account_no FROM beneficiary WHERE account_no IS NOT NULL",
        "SELECT account_no FROM payment WHERE account_no IS NOT NULL",
    ] {
        for row in db.fetch_text_rows("personal", sql).await.unwrap() {
            out.extend(row[0].clone());
        }
    }
    db.close().await;
    assert!(out.len() > 100, "the target holds personal numbers");
    out
}

/// No ID number or account of the target appears whole in a masked report file.
pub fn assert_masked(files: &[PathBuf], personal: &std::collections::HashSet<String>) {
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut run = String::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() || c == 'X' {
                run.push(c);
                continue;
            }
            assert!(
                !personal.contains(&run),
                "{} shows {run} in full",
                file.display()
            );
            run.clear();
        }
    }
}

/// The text files of every county folder.
fn county_files(out: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in county_dirs(out) {
        for file in [
            "rejects.csv",
            "corrections.csv",
            "flags.csv",
            "diffs.csv",
            "reconciliation.html",
            "summary.json",
        ] {
            files.push(dir.join(file));
        }
    }
    files
}

#[tokio::test]
async fn county_reports_on_postgres_match_the_truth_and_verify() {
    let Some(target) = fresh_database(Server::Postgres, "reports").await else {
        return;
    };
    let dir = temp_dir("reports_pg");
    let legacy = fresh_sqlite("reports_pg", "legacy.sqlite");
    let truth_path = dir.join("truth.json");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "7",
        "--legacy",
        legacy.expose(),
        "--truth",
        truth_path.to_str().unwrap(),
    ]);
    let stage = dir.join("stage");
    let out = dir.join("out");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let run = ykt_ok(&[
        "run",
        "--legacy",
        legacy.expose(),
        "--stage",
        &s(&stage),
        "--target",
        target.expose(),
        "--out",
        &s(&out),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("provincial report:"), "{stdout}");

    // The shape, the verdict and the figures.
    let dirs = county_dirs(&out);
    assert_eq!(
        dirs.len(),
        4,
        "three demo counties and the unattributed 000000: {dirs:?}"
    );
    let mut rejects_with_person = 0;
    for d in &dirs {
        for f in [
            "reconciliation.html",
            "reconciliation.xlsx",
            "rejects.csv",
            "corrections.csv",
            "flags.csv",
            "diffs.csv",
            "summary.json",
        ] {
            assert!(d.join(f).is_file(), "{}/{f}", d.display());
        }
        let summary = json(&d.join("summary.json"));
        assert_summary_shape(&summary);
        assert_eq!(summary["balanced"], true, "{summary}");
        assert_xlsx_equals_summary(d);
        let rejected: u64 = summary["rejects"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(csv_rows(&d.join("rejects.csv")).len() as u64, rejected);
        // A reject's person comes from the target when the person was loaded, or from the
        // person's own reject: the report's query reads both among the county's rejects
        // only; counted here by a join over the whole run, the two must agree.
        let db = Db::connect(&target).await.unwrap();
        let named = db
            .fetch_i64(
                "rejects with a person",
                &format!(
                    "SELECT COUNT(*) FROM migration_reject r \
                     LEFT JOIN migration_reject pr ON pr.run_id = r.run_id AND pr.source_table = 'T_BTDX' AND pr.source_key = r.person_key \
                     LEFT JOIN beneficiary_legacy_map m ON m.legacy_dxid = CAST(r.person_key AS BIGINT) \
                     LEFT JOIN beneficiary b ON b.id = m.beneficiary_id \
                     WHERE r.run_id = '{}' AND r.county_code = '{}' AND COALESCE(r.name, pr.name, b.name) <> ''",
                    summary["run_id"].as_str().unwrap(),
                    summary["county_code"].as_str().unwrap()
                ),
            )
            .await
            .unwrap()
            .unwrap_or(0);
        let shown = parse_csv(&d.join("rejects.csv"))
            .iter()
            .skip(1)
            .filter(|row| !row[1].is_empty())
            .count();
        assert_eq!(
            shown as i64,
            named,
            "{}: rejects showing a person",
            d.display()
        );
        rejects_with_person += shown;
        db.close().await;
        // A correction is of a loaded row: the target knows its person, and a payment line's
        // program, fund year and amount (columns: village, name, ID number, batch, program,
        // fund year, amount, table, ...). The report's query finds them by key among the
        // county's corrections only; this fails if it misses any.
        for row in parse_csv(&d.join("corrections.csv")).iter().skip(1) {
            let table = &row[7];
            if table.contains("T_FFMX") || table.contains("T_BTDX") {
                assert!(!row[1].is_empty(), "no person for a correction: {row:?}");
            }
            if table.contains("T_FFMX") {
                assert!(
                    row[4..7].iter().all(|c| !c.is_empty()),
                    "a corrected payment line without program, year or amount: {row:?}"
                );
            }
        }
        let html = std::fs::read_to_string(d.join("reconciliation.html")).unwrap();
        // Issue 14: the three-state verdict, the sentence built from summary.json's figures.
        let p = &summary["pending"];
        let (rows, lines) = (
            p["rows"].as_u64().unwrap(),
            p["payment_lines"].as_u64().unwrap(),
        );
        let amount = p["payment_amount"].as_str().unwrap();
        let sentence = match summary["verdict"].as_str().unwrap() {
            "clean" => "平衡且无待处理".to_owned(),
            "pending" if rows == lines => {
                format!("平衡，有 {lines} 笔 ¥{amount} 待县区更正后重新迁移")
            }
            "pending" => format!(
                "平衡，有 {rows} 行待县区更正后重新迁移（其中发放明细 {lines} 笔 ¥{amount}）"
            ),
            other => panic!("a balanced county's verdict is {other}"),
        };
        assert!(
            html.contains(&format!("核对结论：<b>{sentence}</b>")),
            "{sentence}"
        );
        if summary["county_code"] == "000000" {
            // The province's task list: no county signs it.
            assert!(!html.contains("核对人（签字）") && html.contains("不需要县区签字"));
        } else {
            assert!(html.contains("核对人（签字）") && html.contains("审核人（签字）"));
        }
    }
    assert!(rejects_with_person > 0, "no reject showed its person");
    // The truth file models the four migrated tables; corrections of reference rows (an
    // obsolete region code in T_XZQH) are counted from the target on their own.
    let mut expected = truth_counts(&json(&truth_path));
    let db = Db::connect(&target).await.unwrap();
    for r in db
        .fetch_text_rows(
            "reference corrections",
            "SELECT county_code, correction_code, CAST(COUNT(*) AS TEXT) FROM migration_correction WHERE source_table NOT IN ('T_BTDX', 'T_ZJZB', 'T_FFPC', 'T_FFMX') GROUP BY county_code, correction_code",
        )
        .await
        .unwrap()
    {
        *expected.entry((r[0].clone().unwrap(), r[1].clone().unwrap())).or_default() +=
            r[2].as_deref().unwrap().parse::<u64>().unwrap();
    }
    db.close().await;
    assert_eq!(
        report_counts(&out),
        expected,
        "reject, correction and flag counts per county equal the truth file"
    );

    // The program × fund-year breakdown balances line by line.
    let rec = json(&out.join("reconcile.json"));
    let mut rows = 0;
    for c in rec["counties"].as_array().unwrap() {
        for b in c["breakdown"].as_array().unwrap() {
            let n = |k: &str| b[k].as_u64().unwrap();
            assert_eq!(
                n("source_rows"),
                n("loaded_rows") + n("rejected_rows"),
                "{b}"
            );
            let a = |k: &str| {
                b[k].as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            };
            assert_eq!(
                a("source_amount"),
                a("loaded_amount") + a("rejected_amount"),
                "{b}"
            );
            rows += 1;
        }
    }
    assert!(rows > 20, "the breakdown has rows by program and year");

    // The province: every county, and totals that add up.
    let province = json(&out.join("province.json"));
    let counties = province["counties"].as_array().unwrap();
    assert!(counties.iter().any(|c| c["county_code"] == "000000"));
    let sum: u64 = counties
        .iter()
        .map(|c| c["tables"]["T_FFMX"]["source_rows"].as_u64().unwrap())
        .sum();
    assert_eq!(
        province["totals"]["tables"]["T_FFMX"]["source_rows"]
            .as_u64()
            .unwrap(),
        sum
    );
    let amount: rust_decimal::Decimal = counties
        .iter()
        .map(|c| {
            c["tables"]["T_FFMX"]["loaded_amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        province["totals"]["tables"]["T_FFMX"]["loaded_amount"]
            .as_str()
            .unwrap(),
        amount.to_string()
    );
    assert!(out.join("audit/diff.html").is_file());

    // Masked by default; --unmasked writes in full and says so.
    let personal = personal_numbers(&target).await;
    assert_masked(&county_files(&out), &personal);
    let manifest = json(&out.join("manifest.json"));
    assert_eq!(manifest["unmasked"], false);
    assert!(!manifest["target"].as_str().unwrap().is_empty());
    let files = manifest["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "counties/610802/summary.json")
    );
    assert!(files.iter().any(|f| f["path"] == "province.html"));

    // The manifest verifies, and a changed report is caught.
    let ok = ykt_ok(&["report", "verify", &s(&out)]);
    assert!(String::from_utf8_lossy(&ok.stdout).contains("match manifest.json"));
    let summary_path = out.join("counties/610802/summary.json");
    let original = std::fs::read_to_string(&summary_path).unwrap();
    std::fs::write(
        &summary_path,
        original.replace("\"balanced\": true", "\"balanced\": false"),
    )
    .unwrap();
    let bad = ykt(&["report", "verify", &s(&out)]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("changed  counties/610802/summary.json"));
    std::fs::write(&summary_path, original).unwrap();
    ykt_ok(&["report", "verify", &s(&out)]);

    let full = dir.join("out-unmasked");
    ykt_ok(&[
        "reconcile",
        "--legacy",
        legacy.expose(),
        "--stage",
        &s(&stage),
        "--target",
        target.expose(),
        "--out",
        &s(&full),
        "--unmasked",
    ]);
    assert_eq!(json(&full.join("manifest.json"))["unmasked"], true);
    let corrections =
        std::fs::read_to_string(full.join("counties/610802/corrections.csv")).unwrap();
    assert!(
        corrections.lines().any(|l| l.contains("C_ID15_UPGRADED")
            && l.split(',').any(|c| c.len() == 18 && !c.contains('*'))),
        "unmasked corrections show the upgraded ID in full"
    );

    // A line deleted by hand: `ykt report diff` names the county, the figure and the new diff line.
    let db = Db::connect(&target).await.unwrap();
    let victim = db
        .fetch_i64(
            "a line",
            "SELECT MIN(legacy_mxid) FROM payment WHERE county_code = '610802'",
        )
        .await
        .unwrap()
        .unwrap();
    db.execute(
        "tamper",
        &format!("DELETE FROM payment WHERE legacy_mxid = {victim}"),
    )
    .await
    .unwrap();
    db.close().await;
    let after = dir.join("out-after");
    let r = ykt(&[
        "reconcile",
        "--legacy",
        legacy.expose(),
        "--stage",
        &s(&stage),
        "--target",
        target.expose(),
        "--out",
        &s(&after),
    ]);
    assert_eq!(r.status.code(), Some(1), "differences found");
    let summary = json(&after.join("counties/610802/summary.json"));
    assert_eq!(summary["balanced"], false);
    assert_eq!(summary["row_diff"]["missing_in_target"], 1);
    let html = std::fs::read_to_string(after.join("counties/610802/reconciliation.html")).unwrap();
    assert!(html.contains("核对结论：<b>不平衡</b>"));
    let diff = ykt(&["report", "diff", &s(&out), &s(&after)]);
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.contains("610802  tables.T_FFMX.loaded_rows"), "{text}");
    assert!(text.contains("610802 diffs.csv: 1 added, 0 gone"), "{text}");
    assert!(
        text.contains(&format!("+ 发放明细（T_FFMX）,{victim},目标库缺少")),
        "{text}"
    );
    let same = ykt(&["report", "diff", &s(&out), &s(&out)]);
    assert_eq!(same.status.code(), Some(0));

    // A folder ykt did not write is never cleared.
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(foreign.join("counties")).unwrap();
    std::fs::write(foreign.join("counties/keep.txt"), "mine").unwrap();
    let refused = ykt(&[
        "reconcile",
        "--legacy",
        legacy.expose(),
        "--stage",
        &s(&stage),
        "--target",
        target.expose(),
        "--out",
        &s(&foreign),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ykt did not write"));
    assert!(foreign.join("counties/keep.txt").is_file());
}

fn chromium() -> Option<PathBuf> {
    let found = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file());
    let tools = ["/usr/bin/pdfinfo", "/usr/bin/pdftotext"]
        .iter()
        .all(|p| Path::new(p).is_file());
    match (found, tools) {
        (Some(c), true) => Some(c),
        _ if servers_required() => panic!(
            "chromium and poppler-utils are required (YKT_REQUIRE_SERVERS=1); .ci/run installs them"
        ),
        _ => {
            crate::support::skipped(
                "html_reports_render_in_chromium",
                "chromium or pdfinfo/pdftotext missing (apt-get install chromium fonts-noto-cjk poppler-utils)",
            );
            None
        }
    }
}

/// The text of one printed page.
fn render_pdf_pages(chromium: &Path, html: &Path, pdf: &Path, page: u32) -> (String, u32) {
    let (_, pages) = render_pdf(chromium, html, pdf);
    let text = std::process::Command::new("pdftotext")
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    (String::from_utf8_lossy(&text.stdout).into_owned(), pages)
}

fn render_pdf(chromium: &Path, html: &Path, pdf: &Path) -> (String, u32) {
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    assert!(
        pdf.is_file(),
        "chromium wrote no PDF: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = std::process::Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    let info = std::process::Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .unwrap();
    let pages = String::from_utf8_lossy(&info.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("Pages:")
                .map(|n| n.trim().parse::<u32>().unwrap())
        })
        .unwrap();
    (String::from_utf8_lossy(&text.stdout).into_owned(), pages)
}

#[test]
fn html_reports_render_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = temp_dir("render");
    ykt_ok(&["demo", "--dir", dir.to_str().unwrap()]);
    let out = dir.join("out");
    let county = out.join("counties/610881/reconciliation.html");
    let (text, pages) = render_pdf(&chromium, &county, &dir.join("county.pdf"));
    let flat: String = text.split_whitespace().collect();
    assert!(flat.contains("数据迁移核对报告"), "{text}");
    assert!(flat.contains("神木市"), "{text}");
    assert!(flat.contains("核对人（签字）"), "{text}");
    // Issue 14: the three-state verdict as summary.json states it ...
    let summary = json(&county.with_file_name("summary.json"));
    let verdict = summary["verdict"].as_str().unwrap();
    let expected = match verdict {
        "clean" => "核对结论：平衡且无待处理".to_owned(),
        "pending" => format!("核对结论：平衡，有{}", summary["pending"]["rows"]),
        other => panic!("the demo balances, got {other}"),
    };
    assert!(flat.contains(&expected), "{expected} in {text}");
    // ... every page headed with the county and numbered 第 N 页 共 M 页 ...
    for n in [1, pages] {
        assert!(
            flat.contains(&format!("第{n}页共{pages}页")),
            "page {n} of {pages}: {text}"
        );
    }
    let (last, _) = render_pdf_pages(&chromium, &county, &dir.join("county.pdf"), pages);
    assert!(
        last.split_whitespace()
            .collect::<String>()
            .contains("神木市（610881）财政惠民补贴资金"),
        "the last page carries the county: {last}"
    );
    // ... and a reject printed with what the county finds it by: village, masked person,
    // batch number, amount.
    let first = csv_rows(&county.with_file_name("rejects.csv"))
        .into_iter()
        .find(|r| !r.contains("R_BATCH_REJECTED") && !r.contains("R_BENEFICIARY_REJECTED"))
        .expect("the demo county has rejects to fix");
    let cells: Vec<&str> = first.split(',').collect();
    let (village, name, id, amount) = (cells[0], cells[1], cells[2], cells[6]);
    assert!(
        !village.is_empty() && name.contains('*') && id.contains("********"),
        "{first}"
    );
    // Narrow cells wrap; the parts that fit on one line are read back whole.
    let village = village.split('（').next().unwrap();
    for part in [village, name, amount, cells[9]] {
        assert!(
            flat.contains(part),
            "{part:?} of {first} is printed: {text}"
        );
    }
    assert!(
        (1..=25).contains(&pages),
        "a small county's report prints on {pages} A4 pages"
    );
    let (text, pages) = render_pdf(
        &chromium,
        &out.join("province.html"),
        &dir.join("province.pdf"),
    );
    let flat: String = text.split_whitespace().collect();
    assert!(flat.contains("全省核对结论：平衡"), "{text}");
    assert!(flat.contains("榆阳区"), "{text}");
    // Issue 14: every money table per county, and where each county's sign-off stands.
    assert!(flat.contains("各县（区）核对情况：资金指标"), "{text}");
    assert!(
        flat.contains("不需签字") && flat.contains("未签字"),
        "{text}"
    );
    assert!(
        (1..=5).contains(&pages),
        "the provincial summary prints on {pages} pages"
    );
}

/// The cells of a workbook's sheet, as text.
fn sheet_cells(path: &Path, sheet: &str) -> Vec<Vec<String>> {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = book.worksheet_range(sheet).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// The reports written with every county's listings sorted on disk in runs of two rows
/// (`YKT_REPORT_HELD_ROWS=2`) are the reports written with them held in memory: the same CSV
/// files byte for byte, the same summaries, the same sheets and the same printed lists. On
/// SQLite always, and on PostgreSQL (whose rows come by `COPY`, a page at a time) where the
/// server is.
#[tokio::test]
async fn listings_sorted_on_disk_are_the_listings_held_in_memory() {
    let sqlite = fresh_sqlite("listings_on_disk", "target.sqlite");
    listings_on_disk_agree(&sqlite, "listings_on_disk").await;
    if let Some(pg) = fresh_database(Server::Postgres, "listings_on_disk").await {
        listings_on_disk_agree(&pg, "listings_on_disk_pg").await;
    }
}

async fn listings_on_disk_agree(target: &ykt_db::DbUrl, test: &str) {
    let dir = temp_dir(test);
    let legacy = fresh_sqlite(test, "legacy.sqlite");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--seed",
        "11",
        "--legacy",
        legacy.expose(),
    ]);
    let stage = s(&dir.join("stage"));
    let sides = [
        "--legacy",
        legacy.expose(),
        "--stage",
        &stage,
        "--target",
        target.expose(),
    ];
    ykt_ok(&[&["migrate"], &sides[..]].concat());
    let reconcile = |out: &Path, held: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ykt"));
        command
            .arg("reconcile")
            .args(sides)
            .args(["--out", &s(out)]);
        command.env("YKT_LOG", "info");
        if let Some(held) = held {
            command.env("YKT_REPORT_HELD_ROWS", held);
        }
        let done = command.output().expect("ykt runs");
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        String::from_utf8_lossy(&done.stderr).into_owned()
    };
    let (held, on_disk) = (dir.join("held"), dir.join("on-disk"));
    let log = reconcile(&held, None);
    assert!(!log.contains("sorted on disk"), "{log}");
    let log = reconcile(&on_disk, Some("2"));
    assert!(
        log.contains("sorted on disk"),
        "the listings went to disk: {log}"
    );

    let (mut rejects, mut corrections) = (0, 0);
    for d in county_dirs(&held) {
        let other = on_disk.join("counties").join(d.file_name().unwrap());
        for f in [
            "rejects.csv",
            "corrections.csv",
            "flags.csv",
            "diffs.csv",
            "summary.json",
        ] {
            let (a, b) = (
                std::fs::read(d.join(f)).unwrap(),
                std::fs::read(other.join(f)).unwrap(),
            );
            assert!(a == b, "{}/{f} differs when sorted on disk", d.display());
        }
        rejects += csv_rows(&d.join("rejects.csv")).len();
        corrections += csv_rows(&d.join("corrections.csv")).len();
        for sheet in ["拒绝清单", "更正记录"] {
            assert_eq!(
                sheet_cells(&d.join("reconciliation.xlsx"), sheet),
                sheet_cells(&other.join("reconciliation.xlsx"), sheet),
                "{}: sheet {sheet}",
                d.display()
            );
        }
        // The page differs in its time and reconciliation id only.
        let page = |p: &Path| {
            let text = std::fs::read_to_string(p.join("reconciliation.html")).unwrap();
            let start = text.find("三、拒绝清单").expect("the rejects section");
            let end = text.find("五、").unwrap_or(text.len());
            text[start..end].to_owned()
        };
        assert_eq!(page(&d), page(&other), "{}: the printed lists", d.display());
    }
    // Enough rows that two-row runs were merged.
    assert!(
        rejects > 20 && corrections > 20,
        "{rejects} rejects, {corrections} corrections"
    );
    // Nothing of the runs stays beside the reports.
    ykt_ok(&["report", "verify", &s(&on_disk)]);
}
