//! Issue 10: the rule defects that legacy data nobody here wrote exposed, each on a small legacy
//! database written by hand, on the target engines where it matters.

use std::collections::BTreeMap;
use std::path::Path;

use ykt_db::{Db, DbUrl};
use ykt_domain::{LegacyRow, LegacyTable};

use crate::properties::write_sqlite_legacy;
use crate::support::{Server, fresh_database, fresh_sqlite, legacy_keys, temp_dir, ykt, ykt_ok};

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// A small legacy system: two counties (榆阳区 610802, 神木 under its obsolete code 610821),
/// two programs, and whatever rows a test adds.
struct Legacy {
    tables: BTreeMap<LegacyTable, Vec<LegacyRow>>,
}

impl Legacy {
    fn new() -> Legacy {
        let mut tables = BTreeMap::new();
        tables.insert(
            LegacyTable::Regions,
            vec![
                vec![s("610802"), s("榆阳区"), s("610800"), s("3"), s("1")],
                vec![s("610821"), s("神木县"), s("610800"), s("3"), s("1")],
            ],
        );
        tables.insert(
            LegacyTable::Programs,
            vec![
                vec![
                    s("NY001"),
                    s("耕地地力保护补贴"),
                    s("农业农村局"),
                    s("1"),
                    s("60.00"),
                    s("1"),
                ],
                vec![
                    s("MZ003"),
                    s("高龄补贴"),
                    s("民政局"),
                    s("x"),
                    s("100.00"),
                    s("1"),
                ],
            ],
        );
        for t in [
            LegacyTable::Allocations,
            LegacyTable::Beneficiaries,
            LegacyTable::Batches,
            LegacyTable::Payments,
            LegacyTable::Users,
        ] {
            tables.insert(t, Vec::new());
        }
        Legacy { tables }
    }

    fn person(&mut self, dxid: i64, name: &str, id: &str, region: &str, gxsj: &str) -> &mut Self {
        self.tables
            .get_mut(&LegacyTable::Beneficiaries)
            .unwrap()
            .push(vec![
                s(&dxid.to_string()),
                s(name),
                s(id),
                s(region),
                s("某村"),
                None,
                s("6217000000001234"),
                s("农商银行"),
                None,
                s("1"),
                None,
                s("2018-01-01 00:00:00"),
                s(gxsj),
            ]);
        self
    }

    /// A batch: key, county code, program, period (QH), announcement end.
    fn batch(
        &mut self,
        pcid: i64,
        region: &str,
        program: &str,
        qh: Option<&str>,
        announce_to: &str,
    ) -> &mut Self {
        self.tables
            .get_mut(&LegacyTable::Batches)
            .unwrap()
            .push(vec![
                s(&pcid.to_string()),
                s(&format!("PC{pcid}")),
                s(region),
                s(program),
                s("2019"),
                None,
                qh.map(str::to_owned),
                s("2019-03-01"),
                s(announce_to),
                s("4"),
                None,
                None,
                s("lrr"),
                s("shr"),
                s("2019-01-01 00:00:00"),
                s("2019-01-01 00:00:00"),
            ]);
        self
    }

    /// A paid line: key, batch, person, program, amount, date paid, GXSJ.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        mxid: i64,
        pcid: i64,
        dxid: i64,
        program: &str,
        je: &str,
        ffrq: &str,
        gxsj: &str,
    ) -> &mut Self {
        self.tables
            .get_mut(&LegacyTable::Payments)
            .unwrap()
            .push(vec![
                s(&mxid.to_string()),
                s(&pcid.to_string()),
                s(&dxid.to_string()),
                s(program),
                s("2019"),
                None,
                s(je),
                s("6217000000001234"),
                s("1"),
                s(ffrq),
                s(&format!("LS{mxid}")),
                None,
                None,
                s(gxsj),
            ]);
        self
    }
}

struct Run {
    legacy: String,
    stage: String,
    target: String,
    out: std::path::PathBuf,
}

impl Run {
    async fn migrate(test: &str, legacy: &Legacy, target: DbUrl) -> Run {
        let dir = temp_dir(test);
        let path = dir.join("legacy.sqlite");
        write_sqlite_legacy(&path, &legacy.tables).await;
        let run = Run {
            legacy: format!("sqlite://{}", path.display()),
            stage: dir.join("stage").display().to_string(),
            target: target.expose().to_owned(),
            out: dir.join("out"),
        };
        ykt_ok(&[
            "migrate",
            "--legacy",
            &run.legacy,
            "--stage",
            &run.stage,
            "--target",
            &run.target,
        ]);
        run
    }

    /// `ykt reconcile`; returns the exit code and reconcile.json.
    fn reconcile(&self) -> (Option<i32>, serde_json::Value) {
        let out = self.out.display().to_string();
        let o = ykt(&[
            "reconcile",
            "--legacy",
            &self.legacy,
            "--stage",
            &self.stage,
            "--target",
            &self.target,
            "--out",
            &out,
        ]);
        let json = serde_json::from_slice(&std::fs::read(self.out.join("reconcile.json")).unwrap())
            .unwrap();
        (o.status.code(), json)
    }

    fn flags(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(self.out.join("flags.json")).unwrap(),
        )
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
    }
}

fn county<'a>(rec: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    rec["counties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["county_code"] == code)
        .unwrap_or_else(|| panic!("county {code} in {rec}"))
}

async fn rows(url: &DbUrl, sql: &str) -> Vec<Vec<Option<String>>> {
    let db = Db::connect(url).await.unwrap();
    let r = db.fetch_text_rows("test", sql).await.unwrap();
    db.close().await;
    r
}

const ID_A: &str = "610104196209276908";
const ID_B: &str = "11010519491231002X";

#[tokio::test]
async fn a_merged_persons_lines_stay_in_the_county_of_their_own_row() {
    // One person registered in 榆阳区 (DXID 1) and, later, in 神木 (DXID 2, the survivor).
    // DXID 1's lines whose batch is missing, or whose batch's county is unknown, belong to
    // 榆阳区: the county of the T_BTDX row their own DXID names.
    let mut legacy = Legacy::new();
    legacy
        .person(1, "王芳", ID_A, "610802101203", "2019-01-01 00:00:00")
        .person(2, "王芳", ID_A, "610821100201", "2020-01-01 00:00:00")
        .batch(10, "610821", "NY001", Some("201903"), "2019-03-10")
        .batch(11, "619999", "NY001", Some("201903"), "2019-03-10")
        .line(
            100,
            10,
            1,
            "NY001",
            "120.00",
            "2019-03-20",
            "2019-03-20 10:00:00",
        )
        .line(
            101,
            99,
            1,
            "NY001",
            "130.00",
            "2019-03-20",
            "2019-03-20 10:00:00",
        )
        .line(
            102,
            11,
            1,
            "NY001",
            "140.00",
            "2019-03-20",
            "2019-03-20 10:00:00",
        );
    let target = fresh_sqlite("issue10-merged-county", "platform.sqlite");
    let run = Run::migrate("issue10-merged-county", &legacy, target.clone()).await;
    let (code, rec) = run.reconcile();
    assert_eq!(code, Some(0), "{rec}");
    let rejects = rows(
        &target,
        "SELECT source_key, county_code, reason_code FROM migration_reject WHERE source_table = 'T_FFMX' ORDER BY source_key",
    )
    .await;
    assert_eq!(
        rejects,
        vec![
            vec![s("101"), s("610802"), s("R_ORPHAN_BATCH")],
            vec![s("102"), s("610802"), s("R_BATCH_REJECTED")],
        ]
    );
    assert_eq!(
        county(&rec, "610802")["tables"]["T_FFMX"]["rejected_rows"],
        2
    );
    assert_eq!(county(&rec, "610881")["tables"]["T_FFMX"]["loaded_rows"], 1);
    assert_eq!(county(&rec, "610802")["tables"]["T_BTDX"]["merged_rows"], 1);
}

#[tokio::test]
async fn a_program_whose_basis_does_not_read_is_loaded_with_its_lines() {
    let mut legacy = Legacy::new();
    legacy
        .person(1, "王芳", ID_A, "610802101203", "2019-01-01 00:00:00")
        .batch(10, "610802", "MZ003", Some("201903"), "2019-03-10")
        .line(
            100,
            10,
            1,
            "MZ003",
            "100.00",
            "2019-03-20",
            "2019-03-20 10:00:00",
        );
    let target = fresh_sqlite("issue10-basis", "platform.sqlite");
    let run = Run::migrate("issue10-basis", &legacy, target.clone()).await;
    assert_eq!(run.reconcile().0, Some(0));
    assert_eq!(
        rows(
            &target,
            "SELECT code, basis, rate FROM program WHERE code = 'MZ003'"
        )
        .await,
        vec![vec![s("MZ003"), None, s("100.00")]],
        "loaded, its unreadable basis cleared"
    );
    assert_eq!(
        rows(&target, "SELECT correction_code, field, \"before\" FROM migration_correction WHERE source_table = 'T_BTXM'").await,
        vec![vec![s("C_VALUE_CLEARED"), s("BZLX"), s("x")]]
    );
    assert_eq!(
        rows(
            &target,
            "SELECT CAST(COUNT(*) AS TEXT) FROM payment WHERE program_code = 'MZ003'"
        )
        .await,
        vec![vec![s("1")]],
        "its line is loaded, not R_PROGRAM_UNKNOWN"
    );
}

/// A merged person's names, the line periods and the announcement dates the flags look at.
fn audit_legacy() -> Legacy {
    let mut legacy = Legacy::new();
    legacy
        // Same person twice; names equal under the name rule (a NUL is removed).
        .person(1, "王\0芳", ID_A, "610802101203", "2019-01-01 00:00:00")
        .person(2, "王芳", ID_A, "610802101203", "2020-01-01 00:00:00")
        // Same person twice; a trailing separator is not between two characters: they differ.
        .person(3, "张三.", ID_B, "610802101203", "2019-01-01 00:00:00")
        .person(4, "张三·", ID_B, "610802101203", "2020-01-01 00:00:00")
        // Two batches with no period: their lines are in no known period.
        .batch(10, "610802", "NY001", None, "2019-03-10")
        .batch(11, "610802", "NY001", None, "2019-03-10")
        // Two batches of one period.
        .batch(12, "610802", "NY001", Some("201904"), "2019-04-10")
        .batch(13, "610802", "NY001", Some("201904"), "2019-04-10")
        .line(
            100,
            10,
            2,
            "NY001",
            "120.00",
            "2019-03-20",
            "2019-03-20 10:00:00",
        )
        .line(
            101,
            11,
            2,
            "NY001",
            "120.00",
            "2019-03-20",
            "2019-03-20 10:00:00",
        )
        .line(
            102,
            12,
            4,
            "NY001",
            "120.00",
            "2019-04-20",
            "2019-04-20 10:00:00",
        )
        .line(
            103,
            13,
            4,
            "NY001",
            "120.00",
            "2019-04-20",
            "2019-04-20 10:00:00",
        )
        // Paid on the last day of the announcement: before it ended.
        .line(
            104,
            12,
            2,
            "NY001",
            "120.00",
            "2019-04-10",
            "2019-04-10 10:00:00",
        );
    legacy
}

fn flag_keys(flags: &[serde_json::Value], code: &str) -> Vec<String> {
    let mut keys: Vec<String> = flags
        .iter()
        .filter(|f| f["flag"] == code)
        .map(|f| legacy_keys(f).join(","))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn audit_flags_read_periods_names_and_announcements_as_the_spec_does() {
    let target = fresh_sqlite("issue10-flags", "platform.sqlite");
    let run = Run::migrate("issue10-flags", &audit_legacy(), target).await;
    assert_eq!(run.reconcile().0, Some(0));
    let flags = run.flags();
    assert_eq!(
        flag_keys(&flags, "A_DUPLICATE_PAYMENT"),
        vec!["102,103".to_owned()],
        "lines with no period are not duplicates of each other"
    );
    assert_eq!(
        flag_keys(&flags, "A_NAME_CONFLICT"),
        vec!["3,4".to_owned()],
        "names compared as the name rule normalises them"
    );
    assert!(
        flag_keys(&flags, "A_PAID_BEFORE_ANNOUNCED").contains(&"104".to_owned()),
        "paid on the announcement's last day: {flags:?}"
    );
}

async fn platform_rows_and_double_payment(target: DbUrl, test: &str) {
    let mut legacy = Legacy::new();
    legacy
        .person(1, "王芳", ID_A, "610802101203", "2019-01-01 00:00:00")
        .batch(12, "610802", "NY001", Some("201904"), "2019-04-10")
        .line(
            102,
            12,
            1,
            "NY001",
            "120.00",
            "2019-04-20",
            "2019-04-20 10:00:00",
        );
    let run = Run::migrate(test, &legacy, target.clone()).await;
    assert_eq!(run.reconcile().0, Some(0));
    // Someone writes a ¥50 000 paid payment into the migrated county, with no legacy key.
    let db = Db::connect(&target).await.unwrap();
    db.execute_script(
        "a payment from outside legacy",
        "INSERT INTO payment_batch (id, batch_no, county_code, program_code, fund_year, period, status) VALUES (900000001, 'NEW-1', '610802', 'NY001', 2019, '201904', 'sent');
         INSERT INTO payment (id, batch_id, beneficiary_id, county_code, program_code, fund_year, amount, status, paid_on, system_of_record) VALUES (900000001, 900000001, 1, '610802', 'NY001', 2019, '50000.00', 'paid', '2020-11-20', 'new');",
    )
    .await
    .unwrap();
    db.close().await;
    let (code, rec) = run.reconcile();
    assert_eq!(
        code,
        Some(1),
        "before the platform is live, such rows are a difference"
    );
    let c = county(&rec, "610802");
    assert_eq!(c["balanced"], false);
    assert_eq!(c["platform_rows"]["payment"]["rows"], 1);
    assert_eq!(c["platform_rows"]["payment"]["amount"], "50000.00");
    assert_eq!(c["platform_rows"]["payment_batch"]["rows"], 1);
    assert_eq!(
        c["tables"]["T_FFMX"]["loaded_amount"], "120.00",
        "loaded figures are legacy's"
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.out.join("counties/610802/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["platform_rows"]["payment"]["amount"], "50000.00");

    // Dual-run: the platform is live, its rows are its own work; the same person, program,
    // fund year and period paid in both systems is flagged for auditors.
    ykt_ok(&[
        "--at",
        "2020-11-16",
        "guard",
        "install",
        "--target",
        &run.target,
    ]);
    let (code, rec) = run.reconcile();
    assert_eq!(code, Some(0), "{rec}");
    assert_eq!(
        county(&rec, "610802")["platform_rows"]["payment"]["rows"],
        1
    );
    let flags = run.flags();
    assert_eq!(
        flag_keys(&flags, "A_DOUBLE_PAID_ACROSS_SYSTEMS"),
        vec!["102".to_owned()]
    );
    let detail = flags
        .iter()
        .find(|f| f["flag"] == "A_DOUBLE_PAID_ACROSS_SYSTEMS")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("900000001"), "{detail}");
}

#[tokio::test]
async fn the_platforms_own_rows_are_counted_and_double_payments_flagged_on_sqlite() {
    let target = fresh_sqlite("issue10-platform-rows", "platform.sqlite");
    platform_rows_and_double_payment(target, "issue10-platform-rows-sqlite").await;
}

#[tokio::test]
async fn the_platforms_own_rows_are_counted_and_double_payments_flagged_on_postgres() {
    let Some(target) = fresh_database(Server::Postgres, "issue10_platform_rows").await else {
        return;
    };
    platform_rows_and_double_payment(target, "issue10-platform-rows-pg").await;
}

#[tokio::test]
async fn legacy_writes_after_the_freeze_are_attributed_like_everything_else() {
    let mut legacy = Legacy::new();
    legacy
        .person(1, "王芳", ID_A, "610802101203", "2019-01-01 00:00:00")
        .batch(12, "610802", "NY001", Some("201904"), "2019-04-10")
        // Exactly at the freeze: not after it.
        .line(
            102,
            12,
            1,
            "NY001",
            "120.00",
            "2019-04-20",
            "2021-01-01 00:00:00",
        )
        // After it, on a batch that does not exist: the person's county tells.
        .line(
            103,
            99,
            1,
            "NY001",
            "120.00",
            "2019-04-20",
            "2021-01-01 00:00:01",
        );
    let target = fresh_sqlite("issue10-late", "platform.sqlite");
    let run = Run::migrate("issue10-late", &legacy, target).await;
    run.reconcile();
    let flags = run.flags();
    let late: Vec<(String, String)> = flags
        .iter()
        .filter(|f| f["flag"] == "A_LEGACY_WRITE_AFTER_FREEZE")
        .map(|f| {
            (
                f["legacy_keys"][0].as_str().unwrap().to_owned(),
                f["county_code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(late, vec![("103".to_owned(), "610802".to_owned())]);
}

#[tokio::test]
async fn keys_that_are_not_numbers_are_refused_at_extract_naming_file_line_and_value() {
    // An export folder whose T_BTDX.csv holds a key that is not a whole number.
    let dir = temp_dir("issue10-bad-key");
    let sqlite = fresh_sqlite("issue10-bad-key", "legacy.sqlite");
    let mut legacy = Legacy::new();
    legacy.person(1, "王芳", ID_A, "610802101203", "2019-01-01 00:00:00");
    write_sqlite_legacy(Path::new(sqlite.database()), &legacy.tables).await;
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--preset",
        "demo",
        "--counties",
        "1",
        "--beneficiaries-per-county",
        "20",
        "--export",
        &export.display().to_string(),
        "--truth",
        &dir.join("t.json").display().to_string(),
    ]);
    let path = export.join("T_BTDX.csv");
    let bytes = std::fs::read(&path).unwrap();
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let comma = lines[2].iter().position(|b| *b == b',').unwrap();
    let mut bad = b"12a\x01".to_vec();
    bad.extend_from_slice(&lines[2][comma..]);
    lines[2] = bad;
    std::fs::write(&path, lines.join(&b'\n')).unwrap();
    let o = ykt(&[
        "extract",
        "--legacy-export",
        &export.display().to_string(),
        "--stage",
        &dir.join("stage").display().to_string(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("T_BTDX.csv")
            && err.contains("line 3")
            && err.contains("DXID")
            && err.contains("12a\\u{1}"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1}'),
        "no raw control byte is echoed: {err:?}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");

    // A SQLite legacy database whose BIGINT key holds text.
    let db = Db::connect(&sqlite).await.unwrap();
    db.execute("a text key", "UPDATE \"T_BTDX\" SET \"DXID\" = 'abc'")
        .await
        .unwrap();
    db.close().await;
    let o = ykt(&[
        "extract",
        "--legacy",
        sqlite.expose(),
        "--stage",
        &dir.join("stage2").display().to_string(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("T_BTDX") && err.contains("“abc”"), "{err}");
}

#[tokio::test]
async fn the_as_of_date_is_set_recorded_and_shown() {
    // Born 1990-01-01 and 2020-12-01: the second is impossible on 2020-11-10, not on 2021-01-01.
    let mut legacy = Legacy::new();
    legacy
        .person(
            1,
            "王芳",
            "61080219900101123X",
            "610802101203",
            "2019-01-01 00:00:00",
        )
        .person(
            2,
            "李四",
            "61080220201201123X",
            "610802101203",
            "2019-01-01 00:00:00",
        );
    let dir = temp_dir("issue10-as-of");
    let path = dir.join("legacy.sqlite");
    write_sqlite_legacy(&path, &legacy.tables).await;
    let l = format!("sqlite://{}", path.display());
    let mut rejected = Vec::new();
    for (as_of, name) in [("2020-11-10", "a"), ("2021-01-01", "b")] {
        let target = fresh_sqlite(&format!("issue10-as-of-{name}"), "platform.sqlite");
        let stage = dir.join(format!("stage-{name}")).display().to_string();
        let out = dir.join(format!("out-{name}"));
        ykt_ok(&[
            "run",
            "--legacy",
            &l,
            "--stage",
            &stage,
            "--target",
            target.expose(),
            "--as-of",
            as_of,
            "--out",
            &out.display().to_string(),
        ]);
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(Path::new(&stage).join("platform/manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["as_of"], as_of, "recorded in the stage");
        let html =
            std::fs::read_to_string(out.join("counties/610802/reconciliation.html")).unwrap();
        assert!(
            html.contains(&format!("身份证出生日期判断基准日：{as_of}")),
            "shown in the county report"
        );
        rejected.push(rows(&target, "SELECT source_key, reason_code FROM migration_reject WHERE source_table = 'T_BTDX'").await);
    }
    assert_eq!(rejected[0], vec![vec![s("2"), s("R_ID_INVALID")]]);
    assert_eq!(rejected[1], Vec::<Vec<Option<String>>>::new());
    let bad = ykt(&[
        "transform",
        "--stage",
        &dir.join("stage-a").display().to_string(),
        "--as-of",
        "10 Nov 2020",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
