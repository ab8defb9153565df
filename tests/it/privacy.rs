//! Issue 11: personal data and secrets. No ID number or account appears whole in any file of a
//! masked report folder (the machine-readable `diffs.json` included) or in the logs; the
//! stage and an unmasked report folder are readable by their owner only; `ykt report verify`
//! reads nothing outside the report folder; no password appears in any output, whatever form
//! the URL takes.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::Reader;
use ykt_db::{Db, DbUrl};

use crate::reports::personal_numbers;
use crate::support::{temp_dir, ykt, ykt_ok};

/// Every file under a folder.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A file's text as a reader would see it: the cells of a workbook, the bytes of anything else.
fn text_of(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "xlsx") {
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
        let mut text = String::new();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).unwrap();
            for row in range.rows() {
                for cell in row {
                    text.push_str(&cell.to_string());
                    text.push('\t');
                }
                text.push('\n');
            }
        }
        return text;
    }
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// The runs of digits (and X) in a text that are someone's ID number or account.
fn leaks(text: &str, personal: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || c == 'X' {
            run.push(c);
            continue;
        }
        if personal.contains(&run) {
            out.push(run.clone());
        }
        run.clear();
    }
    out
}

async fn legacy_personal(url: &DbUrl) -> HashSet<String> {
    let db = Db::connect(url).await.unwrap();
    let mut out = HashSet::new();
    for sql in [
        "SELECT \"SFZH\" FROM \"T_BTDX\"",
        "SELECT \"HZSFZH\" FROM \"T_BTDX\"",
        "SELECT \"YHZH\" FROM \"T_BTDX\"",
        "SELECT \"YHZH\" FROM \"T_FFMX\"",
    ] {
        for row in db.fetch_text_rows("legacy personal", sql).await.unwrap() {
            if let Some(v) = &row[0] {
                let digits: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                if digits.len() >= 8 {
                    out.insert(digits);
                }
            }
        }
    }
    db.close().await;
    out
}

#[tokio::test]
async fn masked_reports_and_logs_never_show_an_id_number_or_account() {
    let dir = temp_dir("privacy_demo");
    let demo = dir.join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args(["demo", "--dir", demo.to_str().unwrap()])
        .env("YKT_LOG", "debug")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let legacy: DbUrl = format!("sqlite://{}", demo.join("legacy.sqlite").display())
        .parse()
        .unwrap();
    let target: DbUrl = format!("sqlite://{}", demo.join("platform.sqlite").display())
        .parse()
        .unwrap();
    // A person changed in the target: the diffs name an ID number and an account.
    let db = Db::connect(&target).await.unwrap();
    db.execute(
        "tamper",
        "UPDATE beneficiary SET id_number = '11010519491231002X', account_no = '6217000099998888' WHERE id = (SELECT MIN(id) FROM beneficiary)",
    )
    .await
    .unwrap();
    db.close().await;
    let out = dir.join("out-tampered");
    let r = Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args([
            "reconcile",
            "--legacy",
            legacy.expose(),
            "--stage",
            demo.join("stage").to_str().unwrap(),
            "--target",
            target.expose(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env("YKT_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(1),
        "the tampered target does not balance"
    );
    let diffs = std::fs::read_to_string(out.join("diffs.json")).unwrap();
    assert!(
        diffs.contains("id_number") && diffs.contains("account_no"),
        "the diffs name them"
    );

    let mut personal = personal_numbers(&target).await;
    personal.extend(legacy_personal(&legacy).await);
    personal.insert("11010519491231002X".into());
    personal.insert("6217000099998888".into());
    let mut scanned = 0;
    for file in files(&demo.join("out")).into_iter().chain(files(&out)) {
        let found = leaks(&text_of(&file), &personal);
        assert!(
            found.is_empty(),
            "{} shows {:?} in full",
            file.display(),
            &found[..found.len().min(3)]
        );
        scanned += 1;
    }
    assert!(scanned > 30, "{scanned} report files scanned");
    for (what, bytes) in [
        ("demo's output", &o.stdout),
        ("demo's log", &o.stderr),
        ("reconcile's output", &r.stdout),
        ("reconcile's log", &r.stderr),
    ] {
        let found = leaks(&String::from_utf8_lossy(bytes), &personal);
        assert!(
            found.is_empty(),
            "{what} shows {:?}",
            &found[..found.len().min(3)]
        );
    }

    // The stage holds every ID number in clear, as does an unmasked report: owner only.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&demo.join("stage")), 0o700, "the stage folder");
    let unmasked = dir.join("out-unmasked");
    let _ = ykt(&[
        "reconcile",
        "--legacy",
        legacy.expose(),
        "--stage",
        demo.join("stage").to_str().unwrap(),
        "--target",
        target.expose(),
        "--out",
        unmasked.to_str().unwrap(),
        "--unmasked",
    ]);
    assert_eq!(mode(&unmasked), 0o700, "an unmasked report folder");
    let full = std::fs::read_to_string(unmasked.join("diffs.json")).unwrap();
    assert!(
        full.contains("11010519491231002X"),
        "unmasked means in full"
    );
}

#[test]
fn report_verify_reads_nothing_outside_the_folder() {
    let dir = temp_dir("privacy_verify");
    let demo = dir.join("demo");
    ykt_ok(&["demo", "--dir", demo.to_str().unwrap()]);
    let out = demo.join("out");
    let manifest_path = out.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let files = manifest["files"].as_array_mut().unwrap();
    for path in [
        "../../../../etc/hostname",
        "/etc/passwd",
        "counties/../../legacy.sqlite",
    ] {
        files.push(serde_json::json!({"path": path, "sha256": "0", "bytes": 1}));
    }
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", out.join("passwd-link")).unwrap();
    let o = ykt(&["report", "verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    for path in [
        "../../../../etc/hostname",
        "/etc/passwd",
        "counties/../../legacy.sqlite",
    ] {
        assert!(
            text.contains(&format!("outside  “{path}”")),
            "{path}: {text}"
        );
    }
    assert!(
        text.contains("extra    passwd-link"),
        "a link is listed, not followed: {text}"
    );
    assert!(!text.contains("root:x:0:0"), "{text}");
}

#[test]
fn no_password_in_any_output_whatever_the_url_form() {
    for url in [
        "postgres://ykt:pw-SECRET-1@127.0.0.1:9/ykt",
        "postgresql://ykt:pw-SECRET-1@127.0.0.1:9/ykt?sslmode=require",
        "postgres://127.0.0.1:9/ykt?user=ykt&password=pw-SECRET-1",
        "mysql://root:pw-SECRET-1@127.0.0.1:9/legacy",
        "mariadb://root:pw@SECRET-1@127.0.0.1:9/legacy",
        "mysql://root:pw-SECRET-1@127.0.0.1:9/legacy?ssl-mode=REQUIRED",
        "oracle://root:pw-SECRET-1@127.0.0.1:9/legacy",
    ] {
        for args in [
            vec![
                "extract",
                "--legacy",
                url,
                "--stage",
                "/tmp/ykt-privacy-stage",
            ],
            vec![
                "migrate",
                "--legacy",
                "sqlite:///nonexistent.sqlite",
                "--target",
                url,
            ],
            vec!["status", "--target", url],
            vec![
                "-v",
                "reconcile",
                "--legacy",
                url,
                "--stage",
                "/tmp/none",
                "--target",
                url,
            ],
        ] {
            let o = Command::new(env!("CARGO_BIN_EXE_ykt"))
                .args(&args)
                .env("YKT_LOG", "trace")
                .output()
                .unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                !all.contains("SECRET"),
                "{args:?} shows the password: {all}"
            );
            assert!(matches!(o.status.code(), Some(2)), "{args:?}: {all}");
        }
    }
}
