//! Properties of the whole pipeline on legacy data nobody here wrote: small random legacy
//! databases (SQLite), with hostile values, people registered in several counties, shared ID
//! numbers, orphans, unreadable codes and amounts mixed in.
//!
//! For any such database, `ykt migrate` then `ykt reconcile` must end with every county
//! balanced, and every legacy row must be exactly one of loaded, merged or rejected, recorded
//! in the county the spec names, which this test works out on its own from the reference
//! files (it calls no ykt code to decide what to expect). The rows stamped after the freeze
//! are flagged (`A_LEGACY_WRITE_AFTER_FREEZE`), each in that county.
//!
//! `YKT_PROPERTY_CASES` sets the number of databases (CI: a modest count; the script
//! `scripts/properties.sh` runs many).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sqlx::Connection;
use ykt_domain::{LegacyRow, LegacyTable};

use crate::support::{temp_dir, ykt};

/// The county rule of `mapping-rules.md`, read from the committed reference files.
pub struct CountyRule {
    current: HashSet<String>,
    remap: HashMap<String, String>,
}

impl CountyRule {
    pub fn load() -> CountyRule {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference");
        let regions = std::fs::read_to_string(root.join("regions-shaanxi.csv")).expect("regions");
        let current = regions
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() >= 10 && f[4] == "county" && f[9].trim() == "Y")
            .map(|f| f[0].to_owned())
            .collect::<HashSet<_>>();
        let remap_csv = std::fs::read_to_string(root.join("region-remap.csv")).expect("remap");
        let remap = remap_csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() >= 3 && current.contains(f[2]))
            .map(|f| (f[0].to_owned(), f[2].to_owned()))
            .collect();
        CountyRule { current, remap }
    }

    /// The current county of a legacy region code (6, 9 or 12 digits), if any.
    pub fn county(&self, code: Option<&str>) -> Option<String> {
        let code = code?;
        if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let head = &code[..6];
        if self.current.contains(head) {
            return Some(head.to_owned());
        }
        self.remap.get(head).cloned()
    }
}

const VALID_IDS: [&str; 6] = [
    "11010519491231002X",
    "610104196209276908",
    "610802198001011236",
    "612701197503150021",
    "610821200002290012",
    "610102195508080034",
];

fn id_number() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => prop::sample::select(VALID_IDS.to_vec()).prop_map(|s| Some(s.to_owned())),
        1 => prop::sample::select(vec![
            "610104620927690", "11010519491231002x", " 610104 196209276908", "11010519491231002",
            "610104196209276907", "610104620927690号", "６１０１０４１９６２０９２７６９０８", "",
            "\0", "610104196202306904", "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
        ]).prop_map(|s| Some(s.to_owned())),
        1 => Just(None),
        1 => any::<String>().prop_map(Some),
    ]
}

fn region_code() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "610802", "610802101", "610802101203", "610821", "610821100201", "610881",
            "610102", "610126101", "619999", "61080", "610802１", "",
        ]).prop_map(|s| Some(s.to_owned())),
        1 => Just(None),
        1 => any::<String>().prop_map(Some),
    ]
}

fn hostile(pool: Vec<&'static str>) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        16 => prop::sample::select(pool).prop_map(|s| Some(s.to_owned())),
        2 => Just(None),
        2 => "\\PC{0,12}".prop_map(Some),
        2 => any::<String>().prop_map(Some),
        // Values no legacy column should hold, but an export or a SQLite file can: 10 000
        // characters, a name, a digit run, a separator.
        1 => (prop::sample::select(vec!['张', '9', '·', ' ']), 9_990usize..10_010)
            .prop_map(|(c, n)| Some(std::iter::repeat_n(c, n).collect())),
    ]
}

fn amount() -> impl Strategy<Value = Option<String>> {
    hostile(vec![
        "1200.00",
        "1200",
        "1,200.00",
        " 1200.5 ",
        "１２００．００",
        "1200.005",
        "-50.00",
        "0",
        "NULL",
        "1200.00000000000000000000000001",
        "99999999999999999999",
        "0.01",
        "35.10",
        "999999999999.99",
        "12abc",
        "",
    ])
}

fn date() -> impl Strategy<Value = Option<String>> {
    hostile(vec![
        "2019-03-05",
        "2019/3/5",
        "20190305",
        "2019-03-05 10:22:01",
        "2019年3月5日",
        "",
        "0000-00-00",
        "0000-00-00 00:00:00",
        "2019-02-30",
        "0000-01-01",
        "2020-12-31",
    ])
}

fn year() -> impl Strategy<Value = Option<String>> {
    hostile(vec![
        "2019",
        "19",
        "2019年",
        "2019 ",
        " 2020 年 ",
        "201",
        "1999",
        "2031",
    ])
}

fn program_code(codes: usize) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => (0..codes).prop_map(|i| Some(format!("P{i}"))),
        1 => Just(Some(" P0 ".to_owned())),
        1 => Just(Some("NOPE".to_owned())),
        1 => Just(None),
    ]
}

fn key_ref(max: i64) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => (1..=max).prop_map(|k| Some(k.to_string())),
        1 => Just(Some((max + 100).to_string())),
        1 => Just(None),
        1 => Just(Some(" 1".to_owned())),
        1 => Just(Some("abc".to_owned())),
    ]
}

/// The freeze of the default cutover policy (Beijing time), as legacy stamps GXSJ.
const FROZEN_FROM: &str = "2021-01-01 00:00:00";

fn stamp() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(Some("2019-01-01 00:00:00".to_owned())),
        Just(Some("2020-06-01 08:00:00".to_owned())),
        Just(Some("2020-06-01 08:00:00".to_owned())),
        // At the freeze (not after it) and after it: a write the freeze did not stop.
        Just(Some(FROZEN_FROM.to_owned())),
        Just(Some("2021-03-02 10:00:00".to_owned())),
        Just(None),
    ]
}

fn status(pool: Vec<&'static str>) -> impl Strategy<Value = Option<String>> {
    hostile(pool)
}

/// A small random legacy database: rows per table, keys 1..n.
#[derive(Debug, Clone)]
pub struct RandomLegacy {
    pub tables: BTreeMap<LegacyTable, Vec<LegacyRow>>,
}

prop_compose! {
    fn people(n: usize)(rows in prop::collection::vec(
        (hostile(vec!["张三", " 李 四 ", "阿依古丽.买买提", "", "王\0芳", "赵六"]), id_number(), region_code(),
         hostile(vec!["榆阳区镇川镇", "地址\0", ""]), hostile(vec!["6217000000001234", "6217-0000-0000-1234", "123", ""]),
         id_number(), status(vec!["1", "2", "9", " 1", "7", ""]), date(), stamp()), 0..n)) -> Vec<LegacyRow> {
        rows.into_iter().enumerate().map(|(i, (xm, sfzh, xzqh, zz, yhzh, hz, dxzt, swrq, gxsj))| vec![
            Some((i + 1).to_string()), xm, sfzh, xzqh, zz, Some("13800000000".into()), yhzh,
            Some("农商银行".into()), hz.filter(|_| i % 3 == 0), dxzt, swrq, Some("2018-01-01 00:00:00".into()), gxsj,
        ]).collect()
    }
}

prop_compose! {
    fn programs(n: usize)(rows in prop::collection::vec(
        (hostile(vec!["1", "2", "3", "4", " 1", "x", ""]), amount()), n..=n)) -> Vec<LegacyRow> {
        rows.into_iter().enumerate().map(|(i, (bzlx, bzje))| vec![
            Some(format!("P{i}")), Some(format!("项目{i}")), Some("农业农村局".into()), bzlx, bzje, Some("1".into()),
        ]).collect()
    }
}

prop_compose! {
    fn allocations(n: usize, programs: usize)(rows in prop::collection::vec(
        (region_code(), program_code(programs), year(), amount(), date()), 0..n)) -> Vec<LegacyRow> {
        rows.into_iter().enumerate().map(|(i, (xzqh, xmdm, nd, zbje, xdrq))| vec![
            Some((i + 1).to_string()), xzqh, xmdm, nd, Some(format!("榆财农〔2019〕{i}号")), zbje, xdrq,
        ]).collect()
    }
}

prop_compose! {
    fn batches(n: usize, programs: usize, allocations: i64)(rows in prop::collection::vec(
        (region_code(), program_code(programs), year(), key_ref(allocations.max(1)),
         hostile(vec!["201903", "201913", "2019", ""]), date(), date(),
         status(vec!["0", "1", "2", "3", "4", "5", "9", " 3", "8"]), hostile(vec!["12", "x", ""]), amount(), stamp()), 0..n)) -> Vec<LegacyRow> {
        rows.into_iter().enumerate().map(|(i, (xzqh, xmdm, nd, zbid, qh, gsks, gsjs, pczt, zrs, zje, gxsj))| vec![
            Some((i + 1).to_string()), Some(format!("PC{i}\0")), xzqh, xmdm, nd,
            zbid, qh, gsks, gsjs, pczt,
            zrs, zje, Some("lrr".into()), Some("shr".into()),
            Some("2018-01-01 00:00:00".into()), gxsj,
        ]).collect()
    }
}

prop_compose! {
    fn lines(n: usize, programs: usize, batches: i64, people: i64)(rows in prop::collection::vec(
        (key_ref(batches.max(1)), key_ref(people.max(1)), program_code(programs), year(), amount(), amount(),
         hostile(vec!["6217000000001234", "6217 0000 0000 1234", "x", ""]),
         status(vec!["0", "1", "2", "3", "4", " 1", "5", ""]), date(), key_ref(n as i64), stamp()), 0..n)) -> Vec<LegacyRow> {
        rows.into_iter().enumerate().map(|(i, (pcid, dxid, xmdm, nd, sl, je, yhzh, ffzt, ffrq, ymxid, gxsj))| vec![
            Some((i + 1).to_string()),
            pcid, dxid,
            xmdm, nd, sl, je, yhzh, ffzt, ffrq, Some(format!("LS{i}")), Some("户名与账号不符\0".into()),
            ymxid, gxsj,
        ]).collect()
    }
}

fn random_legacy() -> impl Strategy<Value = RandomLegacy> {
    (1usize..4)
        .prop_flat_map(|n_programs| {
            (
                Just(n_programs),
                programs(n_programs),
                people(24),
                allocations(8, n_programs),
            )
        })
        .prop_flat_map(|(np, programs, people, allocations)| {
            let (n_people, n_alloc) = (people.len() as i64, allocations.len() as i64);
            (
                Just(programs),
                Just(people),
                Just(allocations.clone()),
                batches(8, np, n_alloc),
            )
                .prop_flat_map(move |(programs, people, allocations, batches)| {
                    let n_batches = batches.len() as i64;
                    (
                        Just(programs),
                        Just(people),
                        Just(allocations),
                        Just(batches),
                        lines(40, np, n_batches, n_people),
                    )
                })
        })
        .prop_map(|(programs, people, allocations, batches, lines)| {
            let s = |v: &str| Some(v.to_owned());
            let regions = vec![
                vec![s("610000"), s("陕西省"), None, s("1"), s("1")],
                vec![s("610802"), s("榆阳区"), s("610800"), s("3"), s("1")],
                vec![s("610821"), s("神木县"), s("610800"), s("3"), s("0")],
                vec![s("610821100"), s("某镇\0"), s("610821"), s("4"), s("1")],
                vec![s("619999"), s("无此县"), s("610800"), s("x"), s("1")],
            ];
            let users = vec![vec![
                s("1"),
                s("lrr"),
                s("张三"),
                s(VALID_IDS[1]),
                s("农业股"),
                s("610802"),
                s("CZ"),
                s("01"),
                s("1"),
            ]];
            RandomLegacy {
                tables: BTreeMap::from([
                    (LegacyTable::Regions, regions),
                    (LegacyTable::Programs, programs),
                    (LegacyTable::Allocations, allocations),
                    (LegacyTable::Beneficiaries, people),
                    (LegacyTable::Batches, batches),
                    (LegacyTable::Payments, lines),
                    (LegacyTable::Users, users),
                ]),
            }
        })
}

/// Writes the legacy tables into a new SQLite file, every value bound as a parameter (so a NUL
/// or a quote is stored exactly).
pub async fn write_sqlite_legacy(path: &Path, legacy: &BTreeMap<LegacyTable, Vec<LegacyRow>>) {
    let _ = std::fs::remove_file(path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
    sqlx::raw_sql(sqlx::AssertSqlSafe(ykt_extract::legacy_ddl(
        ykt_db::Engine::Sqlite,
    )))
    .execute(&mut conn)
    .await
    .expect("legacy ddl");
    for (table, rows) in legacy {
        let cols: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let sql = format!(
            "INSERT INTO \"{}\" ({}) VALUES ({})",
            table.name(),
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        for row in rows {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for v in row {
                q = q.bind(v.clone());
            }
            q.execute(&mut conn).await.expect("insert legacy row");
        }
    }
    conn.close().await.expect("close");
}

/// (table, key) → county, for every record of a fate in the target.
async fn fates(target: &Path) -> BTreeMap<(String, String), Vec<(&'static str, String)>> {
    let url = format!("sqlite://{}", target.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("target");
    let mut out: BTreeMap<(String, String), Vec<(&'static str, String)>> = BTreeMap::new();
    let queries: [(&str, &'static str, &str); 6] = [
        (
            "T_ZJZB",
            "loaded",
            "SELECT CAST(legacy_zbid AS TEXT), county_code FROM allocation WHERE legacy_zbid IS NOT NULL",
        ),
        (
            "T_BTDX",
            "loaded",
            "SELECT CAST(id AS TEXT), county_code FROM beneficiary",
        ),
        (
            "T_FFPC",
            "loaded",
            "SELECT CAST(legacy_pcid AS TEXT), county_code FROM payment_batch WHERE legacy_pcid IS NOT NULL",
        ),
        (
            "T_FFMX",
            "loaded",
            "SELECT CAST(legacy_mxid AS TEXT), county_code FROM payment WHERE legacy_mxid IS NOT NULL",
        ),
        (
            "",
            "rejected",
            "SELECT source_table || '|' || source_key, county_code FROM migration_reject",
        ),
        (
            "T_BTDX",
            "merged",
            "SELECT source_key, county_code FROM migration_correction WHERE correction_code = 'C_BENEFICIARY_MERGED'",
        ),
    ];
    for (table, fate, sql) in queries {
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .expect("read fates");
        for (key, county) in rows {
            let (t, k) = match key.split_once('|') {
                Some((t, k)) if table.is_empty() => (t.to_owned(), k.to_owned()),
                _ => (table.to_owned(), key),
            };
            out.entry((t, k)).or_default().push((fate, county));
        }
    }
    conn.close().await.ok();
    out
}

/// The county each legacy row belongs to, by the spec, worked out here.
fn expected_counties(
    legacy: &BTreeMap<LegacyTable, Vec<LegacyRow>>,
    rule: &CountyRule,
) -> BTreeMap<(String, String), String> {
    let unattributed = || "000000".to_owned();
    let county_of = |r: &LegacyRow, col: usize| rule.county(r[col].as_deref());
    let mut out = BTreeMap::new();
    let mut person: HashMap<i64, Option<String>> = HashMap::new();
    let mut batch: HashMap<i64, Option<String>> = HashMap::new();
    for (table, region_col) in [
        (LegacyTable::Beneficiaries, 3),
        (LegacyTable::Allocations, 1),
        (LegacyTable::Batches, 2),
    ] {
        for r in &legacy[&table] {
            let key = r[0].clone().unwrap_or_default();
            let county = county_of(r, region_col);
            let n: i64 = key.parse().expect("numeric key");
            match table {
                LegacyTable::Beneficiaries => person.insert(n, county.clone()),
                LegacyTable::Batches => batch.insert(n, county.clone()),
                _ => None,
            };
            out.insert(
                (table.name().to_owned(), key),
                county.unwrap_or_else(unattributed),
            );
        }
    }
    let num = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    for r in &legacy[&LegacyTable::Payments] {
        let by_batch = num(&r[1]).and_then(|p| batch.get(&p).cloned().flatten());
        let by_person = num(&r[2]).and_then(|d| person.get(&d).cloned().flatten());
        let county = by_batch.or(by_person).unwrap_or_else(unattributed);
        out.insert(
            ("T_FFMX".to_owned(), r[0].clone().unwrap_or_default()),
            county,
        );
    }
    out
}

/// Migrates and reconciles one random legacy database; returns a description of what broke.
fn check_one(case: usize, legacy: &RandomLegacy, rule: &CountyRule) -> Result<(), String> {
    let dir = temp_dir(&format!("property-pipeline-{case}"));
    let legacy_path = dir.join("legacy.sqlite");
    let target_path = dir.join("platform.sqlite");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(write_sqlite_legacy(&legacy_path, &legacy.tables));
    let l = format!("sqlite://{}", legacy_path.display());
    let t = format!("sqlite://{}", target_path.display());
    let stage = dir.join("stage").display().to_string();
    let out = dir.join("out").display().to_string();
    let migrate = ykt(&["migrate", "--legacy", &l, "--stage", &stage, "--target", &t]);
    if !migrate.status.success() {
        return Err(format!(
            "ykt migrate exited {:?}: {}",
            migrate.status.code(),
            String::from_utf8_lossy(&migrate.stderr)
        ));
    }
    let rec = ykt(&[
        "reconcile",
        "--legacy",
        &l,
        "--stage",
        &stage,
        "--target",
        &t,
        "--out",
        &out,
    ]);
    let stderr = String::from_utf8_lossy(&rec.stderr);
    if rec.status.code() != Some(0) || stderr.contains("panicked") {
        let json =
            std::fs::read_to_string(dir.join("out").join("reconcile.json")).unwrap_or_default();
        let problems: Vec<String> = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v["counties"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .flat_map(|c| c["problems"].as_array().cloned().unwrap_or_default())
            .map(|p| p.to_string())
            .collect();
        return Err(format!(
            "ykt reconcile exited {:?}: {stderr}\n{}",
            rec.status.code(),
            problems.join("\n")
        ));
    }
    let fates = runtime.block_on(fates(&target_path));
    let counties = expected_counties(&legacy.tables, rule);
    for ((table, key), county) in counties.clone() {
        let found = fates
            .get(&(table.clone(), key.clone()))
            .cloned()
            .unwrap_or_default();
        if found.len() != 1 {
            return Err(format!(
                "{table} {key}: {} fates {found:?}, expected exactly one",
                found.len()
            ));
        }
        let (fate, found_county) = &found[0];
        if found_county != &county {
            return Err(format!(
                "{table} {key} was {fate} in county {found_county}; the spec says {county}"
            ));
        }
    }
    let flags: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("out").join("flags.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let late: BTreeSet<(String, String, String)> = flags
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["flag"] == "A_LEGACY_WRITE_AFTER_FREEZE")
        .map(|f| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (
                text(&f["table"]),
                text(&f["legacy_keys"][0]),
                text(&f["county_code"]),
            )
        })
        .collect();
    let expected = expected_late_writes(&legacy.tables, &counties);
    if late != expected {
        return Err(format!(
            "writes after the freeze flagged {late:?}; the legacy rows stamped after {FROZEN_FROM} are {expected:?}"
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `A_LEGACY_WRITE_AFTER_FREEZE` as the spec names it, worked out here: every person, batch
/// and payment line stamped (GXSJ) after the freeze, in its row's county, by its platform
/// table's name.
fn expected_late_writes(
    legacy: &BTreeMap<LegacyTable, Vec<LegacyRow>>,
    counties: &BTreeMap<(String, String), String>,
) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (table, platform) in [
        (LegacyTable::Beneficiaries, "beneficiary"),
        (LegacyTable::Batches, "payment_batch"),
        (LegacyTable::Payments, "payment"),
    ] {
        let gxsj = table.column_index("GXSJ").expect("a GXSJ column");
        for r in &legacy[&table] {
            if r[gxsj].as_deref().is_some_and(|s| s > FROZEN_FROM) {
                let key = r[0].clone().unwrap_or_default();
                let county = counties[&(table.name().to_owned(), key.clone())].clone();
                out.insert((platform.to_owned(), key, county));
            }
        }
    }
    out
}

fn cases() -> u32 {
    std::env::var("YKT_PROPERTY_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32)
}

#[test]
fn any_legacy_database_migrates_balanced_with_each_row_in_its_county() {
    let rule = CountyRule::load();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        // Each case runs the binary twice: shrink a little, not for minutes.
        max_shrink_iters: 64,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&random_legacy(), |legacy| {
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        check_one(case, &legacy, &rule).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
