//! The bad-input matrix (issue 11): each case is something an operator can get wrong or be
//! handed — a defective export, an empty or changed legacy database, the wrong stage or target,
//! another run at the same time, a full or unwritable disk. Each must end with exit 2 (3 only
//! for a failure outside the operator's control), one `error:` sentence naming the file, table,
//! row key or setting, no raw control bytes, and a target exactly as it was.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ykt_db::{Db, DbUrl};
use ykt_domain::LegacyTable;

use crate::support::{
    Server, dump_all, dump_tables, fresh_database, fresh_sqlite, skipped, temp_dir, ykt, ykt_ok,
};

/// Runs ykt and insists it stops with `code` and one `error:` sentence holding every needle,
/// with no raw control bytes on the terminal. Returns that sentence.
pub fn stops(args: &[&str], code: i32, needles: &[&str]) -> String {
    let out = ykt(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}:\n{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{args:?}: one sentence expected:\n{err}");
    for n in needles {
        assert!(
            errors[0].contains(n),
            "{args:?}: expected {n:?} in: {}",
            errors[0]
        );
    }
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "{args:?}: raw control characters on the terminal: {err:?}"
    );
    errors[0].to_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A small legacy database and its export, both from the simulator.
struct Legacy {
    dir: PathBuf,
    db: DbUrl,
    export: PathBuf,
}

fn legacy(test: &str, seed: u64) -> Legacy {
    let dir = temp_dir(test);
    let db = sqlite_in(&dir, "legacy.sqlite");
    let export = dir.join("export");
    ykt_ok(&[
        "generate",
        "--seed",
        &seed.to_string(),
        "--counties",
        "2",
        "--beneficiaries-per-county",
        "40",
        "--legacy",
        db.expose(),
        "--export",
        s(&export),
    ]);
    Legacy { dir, db, export }
}

fn sqlite_in(dir: &Path, name: &str) -> DbUrl {
    format!("sqlite://{}", dir.join(name).display())
        .parse()
        .unwrap()
}

/// A target migrated from `from` (a legacy URL or an export folder) through `stage`.
fn migrate(from: &str, stage: &Path, target: &DbUrl) {
    let source = if from.contains("://") {
        "--legacy"
    } else {
        "--legacy-export"
    };
    ykt_ok(&[
        "migrate",
        source,
        from,
        "--stage",
        s(stage),
        "--target",
        target.expose(),
    ]);
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The lines of an export file as bytes, CRLF removed, trailing empty lines dropped.
fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out: Vec<Vec<u8>> = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect();
    while out.last().is_some_and(Vec::is_empty) {
        out.pop();
    }
    out
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    std::fs::write(path, out).unwrap();
}

fn is_totals(line: &[u8]) -> bool {
    encoding_rs::GBK.decode(line).0.starts_with("合计")
}

/// The data lines of a file (no caption, no 合计 row, no quoted fields spanning lines in the
/// simulator's T_FFMX), and its 合计 row.
fn data_and_totals(path: &Path) -> (Vec<u8>, Vec<Vec<u8>>, Option<Vec<u8>>) {
    let mut all = lines(path);
    let header = all.remove(0);
    let totals = all.iter().position(|l| is_totals(l)).map(|i| all.remove(i));
    (header, all, totals)
}

type Defect = (&'static str, Box<dyn Fn(&Path)>, Vec<String>);

/// Every export defect the operator can be handed, with what its refusal must name.
fn export_defects(rows_ffmx: usize) -> Vec<Defect> {
    let kept = rows_ffmx * 6 / 10;
    vec![
        (
            "bytes that are neither GBK nor UTF-8",
            Box::new(|dir: &Path| {
                let file = dir.join("T_BTDX.csv");
                let mut l = lines(&file);
                l[1].splice(0..0, [0x81, 0x20]);
                write_lines(&file, &l);
            }),
            vec!["T_BTDX.csv".into(), "line 2".into(), "GBK".into()],
        ),
        (
            "cut short, its 合计 row kept",
            Box::new(move |dir: &Path| {
                let file = dir.join("T_FFMX.csv");
                let (header, data, totals) = data_and_totals(&file);
                let mut l = vec![header];
                l.extend(data.into_iter().take(kept));
                l.push(totals.expect("the simulator writes a 合计 row for T_FFMX"));
                write_lines(&file, &l);
            }),
            vec!["T_FFMX.csv".into(), "合计".into(), kept.to_string()],
        ),
        (
            "cut short at a line, without its 合计 row",
            Box::new(move |dir: &Path| {
                let file = dir.join("T_FFMX.csv");
                let (header, data, _) = data_and_totals(&file);
                let mut l = vec![header];
                l.extend(data.into_iter().take(kept));
                write_lines(&file, &l);
            }),
            vec![
                "T_FFMX".into(),
                kept.to_string(),
                rows_ffmx.to_string(),
                "--allow-shrink".into(),
            ],
        ),
        (
            "cut in the middle of a line",
            Box::new(|dir: &Path| {
                let file = dir.join("T_FFMX.csv");
                let bytes = std::fs::read(&file).unwrap();
                let mut cut = bytes.len() * 6 / 10;
                while bytes[cut - 1] != b',' {
                    cut -= 1;
                }
                std::fs::write(&file, &bytes[..cut]).unwrap();
            }),
            vec!["T_FFMX.csv".into(), "fields".into()],
        ),
        (
            "a caption row only",
            Box::new(|dir: &Path| {
                let file = dir.join("T_FFMX.csv");
                let header = lines(&file).remove(0);
                write_lines(&file, &[header]);
            }),
            vec![
                "T_FFMX".into(),
                format!("0 rows"),
                rows_ffmx.to_string(),
                "--allow-shrink".into(),
            ],
        ),
        (
            "an empty file",
            Box::new(|dir: &Path| std::fs::write(dir.join("T_FFPC.csv"), b"").unwrap()),
            vec!["T_FFPC.csv".into()],
        ),
        (
            "a missing file",
            Box::new(|dir: &Path| std::fs::remove_file(dir.join("T_FFPC.csv")).unwrap()),
            vec!["T_FFPC.csv".into()],
        ),
        (
            "an extra column in a row",
            Box::new(|dir: &Path| {
                let file = dir.join("T_BTDX.csv");
                let mut l = lines(&file);
                l[2].extend_from_slice(b",extra");
                write_lines(&file, &l);
            }),
            vec!["T_BTDX.csv".into(), "line 3".into()],
        ),
        (
            "a renamed caption",
            Box::new(|dir: &Path| {
                let file = dir.join("T_ZJZB.csv");
                let mut l = lines(&file);
                let caption = LegacyTable::Allocations.columns()[1].caption;
                let header = encoding_rs::GBK.decode(&l[0]).0.replace(caption, "备用");
                l[0] = encoding_rs::GBK.encode(&header).0.into_owned();
                write_lines(&file, &l);
            }),
            vec!["T_ZJZB.csv".into()],
        ),
        (
            "garbage bytes",
            Box::new(|dir: &Path| {
                let mut x: u32 = 0x9e37_79b9;
                let garbage: Vec<u8> = (0..4096)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x as u8
                    })
                    .collect();
                std::fs::write(dir.join("T_ZJZB.csv"), garbage).unwrap();
            }),
            vec!["T_ZJZB.csv".into()],
        ),
        (
            "a key twice",
            Box::new(|dir: &Path| {
                let file = dir.join("T_BTDX.csv");
                let mut l = lines(&file);
                let again = l[3].clone();
                l.insert(5, again);
                write_lines(&file, &l);
            }),
            vec!["T_BTDX.csv".into(), "DXID".into(), "more than once".into()],
        ),
    ]
}

#[tokio::test]
async fn export_defects_stop_before_the_target_changes() {
    let legacy = legacy("bad_exports", 11);
    let target = sqlite_in(&legacy.dir, "platform.sqlite");
    migrate(s(&legacy.export), &legacy.dir.join("stage"), &target);
    let before = dump_all(&target).await;
    let (rows_ffmx, _) = crate::support::export_rows(&legacy.export, LegacyTable::Payments);

    let bad = legacy.dir.join("bad");
    for (i, (what, defect, needles)) in export_defects(rows_ffmx.len()).into_iter().enumerate() {
        copy_dir(&legacy.export, &bad);
        defect(&bad);
        let stage = legacy.dir.join(format!("stage-{i}"));
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let args = [
            "migrate",
            "--legacy-export",
            s(&bad),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
        ];
        let said = std::panic::catch_unwind(|| stops(&args, 2, &needles))
            .unwrap_or_else(|_| panic!("export defect: {what}"));
        eprintln!("{what}: {said}");
        assert_eq!(
            dump_all(&target).await,
            before,
            "{what}: the target changed"
        );
    }
}

#[tokio::test]
async fn nul_bytes_in_text_reach_postgres_cleaned_and_recorded() {
    let Some(target) = fresh_database(Server::Postgres, "nul_bytes").await else {
        return;
    };
    let legacy = legacy("nul_bytes", 12);
    // A NUL in an address of the export, and in a program name of the legacy database.
    let file = legacy.export.join("T_BTDX.csv");
    let mut l = lines(&file);
    let zz = LegacyTable::Beneficiaries.column_index("ZZ").unwrap();
    let (at, dxid) = (1..l.len())
        .find_map(|i| {
            let text = encoding_rs::GBK.decode(&l[i]).0.into_owned();
            let fields: Vec<&str> = text.split(',').collect();
            (!text.contains('"') && fields.len() == LegacyTable::Beneficiaries.columns().len())
                .then(|| (i, fields[0].to_owned()))
        })
        .expect("a plain row");
    let mut fields: Vec<Vec<u8>> = l[at].split(|&b| b == b',').map(<[u8]>::to_vec).collect();
    fields[zz].extend_from_slice(b"\0\x01tail");
    l[at] = fields.join(&b","[..]);
    write_lines(&file, &l);

    migrate(s(&legacy.export), &legacy.dir.join("stage"), &target);
    let db = Db::connect(&target).await.unwrap();
    let rows = db
        .fetch_text_rows(
            "corrections",
            &format!(
                "SELECT source_key, field FROM migration_correction WHERE correction_code = 'C_TEXT_CLEANED' AND source_table = 'T_BTDX' AND source_key = '{dxid}'"
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![vec![Some(dxid.clone()), Some("ZZ".to_owned())]],
        "the cleaned address is recorded"
    );
    let address = db
        .fetch_text_rows(
            "address",
            &format!(
                "SELECT b.address FROM beneficiary b JOIN beneficiary_legacy_map m ON m.beneficiary_id = b.id WHERE m.legacy_dxid = {dxid}"
            ),
        )
        .await
        .unwrap();
    let address = address[0][0].clone().unwrap_or_default();
    assert!(
        address.ends_with("\u{1}tail") && !address.contains('\0'),
        "{address:?}"
    );
    db.close().await;
}

/// Empties every legacy table of a SQLite legacy database.
async fn empty_legacy(url: &DbUrl) {
    let db = Db::connect(url).await.unwrap();
    for t in LegacyTable::ALL {
        db.execute("empty", &format!("DELETE FROM \"{}\"", t.name()))
            .await
            .unwrap();
    }
    db.close().await;
}

#[tokio::test]
async fn an_empty_legacy_database_does_not_wipe_the_target() {
    let legacy = legacy("empty_source", 13);
    let target = sqlite_in(&legacy.dir, "platform.sqlite");
    let stage = legacy.dir.join("stage");
    migrate(legacy.db.expose(), &stage, &target);
    let before = dump_all(&target).await;
    let payments = before["payment"].len();
    assert!(payments > 0);

    empty_legacy(&legacy.db).await;
    let run = [
        "migrate",
        "--legacy",
        legacy.db.expose(),
        "--stage",
        s(&stage),
        "--target",
        target.expose(),
    ];
    stops(&run, 2, &["the source has 0 rows of", "--allow-shrink"]);
    assert_eq!(dump_all(&target).await, before, "the target changed");

    // Said on purpose, the empty source is loaded: no migrated payment is left.
    let mut allowed = run.to_vec();
    allowed.push("--allow-shrink");
    ykt_ok(&allowed);
    let db = Db::connect(&target).await.unwrap();
    let left = db
        .fetch_i64(
            "payments",
            "SELECT COUNT(*) FROM payment WHERE legacy_mxid IS NOT NULL",
        )
        .await
        .unwrap();
    db.close().await;
    assert_eq!(left, Some(0));
}

#[tokio::test]
async fn wrong_stage_wrong_target_and_newer_schemas_are_refused() {
    let a = legacy("wrong_things_a", 14);
    let b = legacy("wrong_things_b", 15);
    let target = sqlite_in(&a.dir, "platform.sqlite");
    let stage = a.dir.join("stage");
    migrate(a.db.expose(), &stage, &target);
    let before = dump_all(&target).await;
    let unchanged = |what: &'static str| {
        let target = target.clone();
        let before = before.clone();
        async move {
            assert_eq!(
                dump_all(&target).await,
                before,
                "{what}: the target changed"
            )
        }
    };

    // --resume with another legacy database than the stage's.
    stops(
        &[
            "migrate",
            "--resume",
            "--legacy",
            b.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
        ],
        2,
        &[s(&stage), "was extracted from", "--resume"],
    );
    unchanged("--resume from another source").await;

    // The legacy database as the target, named as the source names it or another way (another
    // path to the file, an option of the connection).
    let respelt = format!("sqlite://{}/./legacy.sqlite?mode=ro", a.dir.display());
    for legacy_as_target in [a.db.expose(), respelt.as_str()] {
        stops(
            &[
                "migrate",
                "--legacy",
                a.db.expose(),
                "--stage",
                s(&a.dir.join("stage-2")),
                "--target",
                legacy_as_target,
            ],
            2,
            &["legacy"],
        );
    }

    // A target a newer ykt has migrated.
    let db = Db::connect(&target).await.unwrap();
    db.execute(
        "future",
        "INSERT INTO ykt_schema_migrations (version, name, checksum, applied_at) VALUES (99, 'from_the_future', 'x', '2027-01-01')",
    )
    .await
    .unwrap();
    db.close().await;
    let before = dump_all(&target).await;
    stops(
        &["load", "--stage", s(&stage), "--target", target.expose()],
        2,
        &["newer platform schema", "99", "from_the_future"],
    );
    assert_eq!(
        dump_all(&target).await,
        before,
        "newer schema: the target changed"
    );

    // A database holding tables named like the platform's that ykt did not make.
    let foreign = fresh_sqlite("wrong_things_foreign", "other.sqlite");
    let db = Db::connect_or_create(&foreign).await.unwrap();
    db.execute("foreign", "CREATE TABLE payment (x INTEGER)")
        .await
        .unwrap();
    db.close().await;
    let before = dump_all(&foreign).await;
    stops(
        &["load", "--stage", s(&stage), "--target", foreign.expose()],
        2,
        &["payment", "did not create"],
    );
    assert_eq!(dump_all(&foreign).await, before);

    // A target that is not there, for a command that only works on a migrated one.
    let missing = a.dir.join("no-such.sqlite");
    stops(
        &[
            "reconcile",
            "--legacy",
            a.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            &format!("sqlite://{}", missing.display()),
            "--out",
            s(&a.dir.join("out")),
        ],
        2,
        &["no-such.sqlite"],
    );
    assert!(
        !missing.exists(),
        "a missing target is not created by reconcile"
    );

    // Reconciled with another legacy database than the stage's: refused, naming the way out.
    stops(
        &[
            "reconcile",
            "--legacy",
            b.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
            "--out",
            s(&a.dir.join("out-b")),
        ],
        2,
        &[s(&stage), "was extracted from", "--other-source"],
    );
    // The stage's own database named another way is the same source: reconciled. (URLs
    // compared as text refused it.) A target of its own: the one above is now on a schema from
    // the future.
    let (stage_r, target_r) = (
        a.dir.join("stage-r"),
        sqlite_in(&a.dir, "platform-r.sqlite"),
    );
    migrate(a.db.expose(), &stage_r, &target_r);
    ykt_ok(&[
        "reconcile",
        "--legacy",
        &respelt,
        "--stage",
        s(&stage_r),
        "--target",
        target_r.expose(),
        "--out",
        s(&a.dir.join("out-respelt")),
    ]);
}

/// A lock file held by this test as another run would hold it.
fn hold_lock(path: &Path, holder: &str) -> std::fs::File {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    file.lock().unwrap();
    write!(file, "{holder}\n2020-11-20 10:00:00+08:00\n").unwrap();
    file.flush().unwrap();
    file
}

#[tokio::test]
async fn a_held_target_or_stage_is_refused_naming_who_and_since_when() {
    let legacy = legacy("held_sqlite", 16);
    let target = sqlite_in(&legacy.dir, "platform.sqlite");
    let stage = legacy.dir.join("stage");
    migrate(legacy.db.expose(), &stage, &target);
    let before = dump_all(&target).await;

    let lock = hold_lock(
        Path::new(&format!("{}.ykt-lock", target.database())),
        "ykt-writer sync pid=4242 host=county-pc ",
    );
    for command in [
        vec!["load", "--stage", s(&stage), "--target", target.expose()],
        vec![
            "migrate",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
        ],
        vec!["schema", "apply", "--target", target.expose()],
    ] {
        stops(
            &command,
            2,
            &["ykt sync", "4242", "county-pc", "2020-11-20 10:00:00"],
        );
    }
    drop(lock);
    assert_eq!(dump_all(&target).await, before);

    let lock = hold_lock(
        &stage.join(".ykt-lock"),
        "ykt-writer extract pid=4343 host=it-pc ",
    );
    stops(
        &["transform", "--stage", s(&stage)],
        2,
        &[s(&stage), "in use", "4343"],
    );
    drop(lock);
    ykt_ok(&["load", "--stage", s(&stage), "--target", target.expose()]);
}

#[tokio::test]
async fn a_held_postgres_target_is_refused_naming_who_and_since_when() {
    let Some(target) = fresh_database(Server::Postgres, "held_pg").await else {
        return;
    };
    let legacy = legacy("held_pg", 17);
    let stage = legacy.dir.join("stage");
    migrate(legacy.db.expose(), &stage, &target);
    let before = dump_all(&target).await;

    // Another writer, as a ykt on another machine would hold it.
    use sqlx::Connection;
    let mut other = sqlx::PgConnection::connect(&format!(
        "{}?application_name=ykt-writer%20freeze%20pid%3D4444%20host%3Dprovince-it%20",
        target.expose()
    ))
    .await
    .unwrap();
    // ykt's writer lock: advisory key 0x796b74 ("ykt").
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(7957364)")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(held);
    stops(
        &["load", "--stage", s(&stage), "--target", target.expose()],
        2,
        &["ykt freeze", "4444", "province-it", "since"],
    );
    assert_eq!(dump_all(&target).await, before);
    other.close().await.unwrap();
    ykt_ok(&["load", "--stage", s(&stage), "--target", target.expose()]);
}

/// The tables a load replaces county by county (regions and programs are reference data,
/// upserted and never removed; rejects and corrections are kept per run), without what differs
/// between two loads of the same stage.
async fn platform(url: &DbUrl) -> std::collections::BTreeMap<String, crate::support::Rows> {
    dump_tables(
        url,
        &[
            "allocation",
            "beneficiary",
            "beneficiary_legacy_map",
            "payment_batch",
            "payment",
        ],
        &["run_id", "updated_at"],
    )
    .await
}

#[tokio::test]
async fn two_loads_at_once_never_mix_sources() {
    let Some(target) = fresh_database(Server::Postgres, "two_loads").await else {
        return;
    };
    let Some(reference) = fresh_database(Server::Postgres, "two_loads_ref").await else {
        return;
    };
    let a = legacy("two_loads_a", 18);
    let b = legacy("two_loads_b", 19);
    let (stage_a, stage_b) = (a.dir.join("stage"), b.dir.join("stage"));
    // Each source alone, loaded afresh: what the target may hold at the end.
    migrate(b.db.expose(), &stage_b, &reference);
    let only_b = platform(&reference).await;
    migrate(a.db.expose(), &stage_a, &reference);
    let only_a = platform(&reference).await;
    assert_ne!(only_a, only_b);

    migrate(a.db.expose(), &stage_a, &target);
    let mut refusals = 0;
    for round in 0..3 {
        let spawn = |stage: &Path| {
            Command::new(env!("CARGO_BIN_EXE_ykt"))
                .args([
                    "load",
                    "--allow-shrink",
                    "--stage",
                    s(stage),
                    "--target",
                    target.expose(),
                ])
                .env("YKT_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = if round % 2 == 0 {
            (&stage_b, &stage_a)
        } else {
            (&stage_a, &stage_b)
        };
        let one = spawn(first);
        let two = spawn(second);
        let one = one.wait_with_output().unwrap();
        let two = two.wait_with_output().unwrap();
        let mut codes = [one.status.code(), two.status.code()];
        codes.sort();
        let found = platform(&target).await;
        let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
        match codes {
            [Some(0), Some(0)] => assert!(
                found == only_a || found == only_b,
                "round {round}: two loads one after the other left neither source whole"
            ),
            [Some(0), Some(2)] => {
                refusals += 1;
                let (won, lost) = if one.status.success() {
                    (first, &two)
                } else {
                    (second, &one)
                };
                assert!(
                    err(lost).contains("is being written by `ykt load`"),
                    "{}",
                    err(lost)
                );
                let want = if won == &stage_a { &only_a } else { &only_b };
                let differs: Vec<(&String, usize, usize)> = want
                    .iter()
                    .filter(|(t, rows)| found.get(*t) != Some(rows))
                    .map(|(t, rows)| (t, rows.len(), found.get(t).map_or(0, Vec::len)))
                    .collect();
                assert!(
                    differs.is_empty(),
                    "round {round}: the target is not the winner's source whole: {differs:?} (the loser's: {})",
                    found
                        == if want == &only_a {
                            only_b.clone()
                        } else {
                            only_a.clone()
                        }
                );
            }
            other => panic!("round {round}: {other:?}\n{}\n{}", err(&one), err(&two)),
        }
        let db = Db::connect(&target).await.unwrap();
        let running = db
            .fetch_i64(
                "running",
                "SELECT COUNT(*) FROM migration_run WHERE status = 'running'",
            )
            .await
            .unwrap();
        db.close().await;
        assert_eq!(running, Some(0), "round {round}: a run was left running");
    }
    eprintln!("two loads at once: {refusals} of 3 rounds overlapped and one was refused");
}

/// Folders that cannot be written: under a plain file (root ignores permission bits).
#[tokio::test]
async fn unwritable_stage_out_and_archive_are_refused_before_any_work() {
    let legacy = legacy("unwritable", 20);
    let target = sqlite_in(&legacy.dir, "platform.sqlite");
    let stage = legacy.dir.join("stage");
    migrate(legacy.db.expose(), &stage, &target);
    let before = dump_all(&target).await;
    let file = legacy.dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under = file.join("folder");

    stops(
        &[
            "extract",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&under),
        ],
        2,
        &["a-file"],
    );
    // `run` finds its --out unwritable before it loads anything.
    stops(
        &[
            "run",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&legacy.dir.join("stage-run")),
            "--target",
            target.expose(),
            "--out",
            s(&under),
        ],
        2,
        &["a-file"],
    );
    assert_eq!(dump_all(&target).await, before, "run: the target changed");
    // `freeze` finds its archive unwritable before its first step: legacy and target as they were.
    let legacy_before = dump_all(&legacy.db).await;
    stops(
        &[
            "--at",
            "2021-01-01",
            "freeze",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
            "--out",
            s(&legacy.dir.join("out-freeze")),
            "--archive",
            s(&under),
        ],
        2,
        &["a-file", "--archive"],
    );
    assert_eq!(
        dump_all(&target).await,
        before,
        "freeze: the target changed"
    );
    assert_eq!(
        dump_all(&legacy.db).await,
        legacy_before,
        "freeze: the legacy database changed"
    );
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: PathBuf, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                s(&dir),
            ])
            .status()
            .is_ok_and(|st| st.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_for_stage_out_or_archive_is_the_operators_to_fix() {
    let legacy = legacy("full_disk", 21);
    let target = sqlite_in(&legacy.dir, "platform.sqlite");
    let stage = legacy.dir.join("stage");
    migrate(legacy.db.expose(), &stage, &target);
    let before = dump_all(&target).await;
    let Some(disk) = SmallDisk::mount(legacy.dir.join("small-disk"), "16k") else {
        if crate::support::servers_required() {
            panic!("a tmpfs could not be mounted (CI runs as root)");
        }
        skipped("full_disk", "mounting a tmpfs needs root");
        return;
    };

    stops(
        &[
            "extract",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&disk.0.join("stage")),
        ],
        2,
        &["small-disk/stage"],
    );
    let _ = std::fs::remove_dir_all(disk.0.join("stage"));
    stops(
        &[
            "reconcile",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
            "--out",
            s(&disk.0.join("out")),
        ],
        2,
        &["small-disk/out"],
    );
    let _ = std::fs::remove_dir_all(disk.0.join("out"));
    let legacy_before = dump_all(&legacy.db).await;
    stops(
        &[
            "--at",
            "2021-01-01",
            "freeze",
            "--legacy",
            legacy.db.expose(),
            "--stage",
            s(&stage),
            "--target",
            target.expose(),
            "--out",
            s(&legacy.dir.join("out-freeze")),
            "--archive",
            s(&disk.0.join("archive")),
        ],
        2,
        &["small-disk/archive", "--archive"],
    );
    let after = dump_all(&target).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|t| after.get(*t) != before.get(*t) && *t != "migration_run")
        .collect();
    assert!(changed.is_empty(), "the target changed: {changed:?}");
    assert_eq!(dump_all(&legacy.db).await, legacy_before);
}

#[tokio::test]
async fn a_mariadb_target_is_refused_before_it_is_created() {
    let Some(probe) = fresh_database(Server::MySql, "mysql_target_probe").await else {
        return;
    };
    let legacy = legacy("mysql_target", 22);
    let stage = legacy.dir.join("stage");
    ykt_ok(&[
        "extract",
        "--legacy",
        legacy.db.expose(),
        "--stage",
        s(&stage),
    ]);
    ykt_ok(&["transform", "--stage", s(&stage)]);
    let name = "ykt_test_never_created";
    let url = probe.with_database(name);
    stops(
        &["load", "--stage", s(&stage), "--target", url.expose()],
        2,
        &["PostgreSQL or SQLite"],
    );
    let db = Db::connect(&probe).await.unwrap();
    let exists = db
        .fetch_i64(
            "exists",
            &format!(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{name}'"
            ),
        )
        .await
        .unwrap();
    db.close().await;
    assert_eq!(exists, Some(0), "the refused MariaDB target was created");
}

/// Exit 3 is for what the operator did not cause: here the target's server refuses a write
/// ykt had every right to make (a trigger raising an error stands in for a server fault).
#[tokio::test]
async fn a_server_refusing_a_write_is_exit_3_and_the_county_stays_whole() {
    let Some(target) = fresh_database(Server::Postgres, "exit_3").await else {
        return;
    };
    let legacy = legacy("exit_3", 23);
    let stage = legacy.dir.join("stage");
    migrate(legacy.db.expose(), &stage, &target);
    let db = Db::connect(&target).await.unwrap();
    db.execute_script(
        "trigger",
        "CREATE FUNCTION ykt_test_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk quota on the server'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER ykt_test_refuse BEFORE INSERT ON payment FOR EACH ROW EXECUTE FUNCTION ykt_test_refuse();",
    )
    .await
    .unwrap();
    db.close().await;
    let before = platform(&target).await;
    let said = stops(
        &["load", "--stage", s(&stage), "--target", target.expose()],
        3,
        &["disk quota on the server"],
    );
    assert!(!said.contains("panic"), "{said}");
    assert_eq!(
        platform(&target).await,
        before,
        "a county was left half-replaced"
    );
}

#[tokio::test]
async fn two_migrations_of_one_source_at_once_leave_one_whole_run() {
    let legacy = legacy("two_migrations", 24);
    let target = sqlite_in(&legacy.dir, "platform.sqlite");
    let reference = sqlite_in(&legacy.dir, "reference.sqlite");
    migrate(
        legacy.db.expose(),
        &legacy.dir.join("stage-ref"),
        &reference,
    );
    let want = platform(&reference).await;

    let spawn = |stage: &str| {
        Command::new(env!("CARGO_BIN_EXE_ykt"))
            .args([
                "migrate",
                "--legacy",
                legacy.db.expose(),
                "--stage",
                s(&legacy.dir.join(stage)),
                "--target",
                target.expose(),
            ])
            .env("YKT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn("stage-1"), spawn("stage-2"));
    let (one, two) = (
        one.wait_with_output().unwrap(),
        two.wait_with_output().unwrap(),
    );
    let mut codes = [one.status.code(), two.status.code()];
    codes.sort();
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        codes == [Some(0), Some(0)] || codes == [Some(0), Some(2)],
        "{codes:?}\n{}\n{}",
        err(&one),
        err(&two)
    );
    if codes[1] == Some(2) {
        let lost = if one.status.success() { &two } else { &one };
        assert!(
            err(lost).contains("is being written by `ykt migrate`"),
            "{}",
            err(lost)
        );
    }
    assert_eq!(platform(&target).await, want);
    let db = Db::connect(&target).await.unwrap();
    let runs = db
        .fetch_text_rows("runs", "SELECT status FROM migration_run ORDER BY status")
        .await
        .unwrap();
    db.close().await;
    let finished = if codes[1] == Some(2) { 1 } else { 2 };
    assert_eq!(
        runs,
        vec![vec![Some("completed".to_owned())]; finished],
        "one completed run per migration that went ahead, none left running"
    );
}

/// Rows read as text from PostgreSQL and MariaDB (the target's rows, legacy pages): every
/// value of a long result as the server writes it, NULL as `None`; a column that is not text
/// an error, not its bytes read as text (the decoder checks the first row's column types and
/// trusts them for the rest), whether the result is fetched whole or streamed in pages. The
/// numbers are 1 to 100: their binary forms are valid UTF-8, so only the type check stops them.
#[tokio::test]
async fn text_rows_decode_alike_on_every_row_and_refuse_a_column_that_is_not_text() {
    for (server, texts, numbers, nulls) in [
        (
            Server::Postgres,
            "SELECT CAST(g AS TEXT), CASE WHEN g % 7 = 0 THEN NULL ELSE 'x' || CAST(g AS TEXT) END FROM generate_series(1, 3000) g ORDER BY g",
            "SELECT CAST(g AS TEXT) AS t, g + 0 AS n FROM generate_series(1, 100) g",
            "SELECT NULL, CAST(NULL AS INTEGER), CAST(g AS TEXT) FROM generate_series(1, 3) g ORDER BY g",
        ),
        (
            Server::MySql,
            "SELECT CAST(seq AS CHAR), CASE WHEN seq % 7 = 0 THEN NULL ELSE CONCAT('x', seq) END FROM seq_1_to_3000 ORDER BY seq",
            "SELECT CAST(seq AS CHAR) AS t, seq + 0 AS n FROM seq_1_to_100",
            "SELECT NULL, CAST(NULL AS SIGNED), CAST(seq AS CHAR) FROM seq_1_to_3 ORDER BY seq",
        ),
    ] {
        let Some(url) = fresh_database(server, "text_rows").await else {
            continue;
        };
        let db = Db::connect(&url).await.unwrap();
        let expected: Vec<Vec<Option<String>>> = (1..=3000)
            .map(|g: i64| vec![Some(g.to_string()), (g % 7 != 0).then(|| format!("x{g}"))])
            .collect();
        // Compared in one order (MariaDB's sequence comes back in its own).
        let sorted = |mut rows: Vec<Vec<Option<String>>>| {
            rows.sort();
            rows
        };
        let expected = sorted(expected);
        let fetched = sorted(db.fetch_text_rows("texts", texts).await.unwrap());
        assert!(fetched == expected, "{url}: fetched rows differ");
        // Paged into `TextRows` (by `COPY` on PostgreSQL), in pages that end inside the
        // result and at its end: the same rows.
        let paged =
            |sql: &'static str, page: usize| {
                let (db, url) = (&db, &url);
                async move {
                    let mut rows = Vec::new();
                    let n = db
                        .stream_text_table::<ykt_db::DbError>("rows", sql, page, &mut |t| {
                            rows.extend((0..t.len()).map(|r| {
                                t.row(r).map(|v| v.map(str::to_owned)).collect::<Vec<_>>()
                            }));
                            Ok(())
                        })
                        .await
                        .unwrap();
                    assert_eq!(n as usize, rows.len(), "{url}: rows counted");
                    rows
                }
            };
        for page in [1000, 7, 3000] {
            let streamed = sorted(paged(texts, page).await);
            assert!(streamed == expected, "{url}: rows paged by {page} differ");
        }
        assert!(
            db.fetch_text_rows("numbers", numbers).await.is_err(),
            "{url}: a number column is not read as text"
        );
        // A NULL is `None` whatever its column's type, on the first row too (the reconciliation
        // selects `NULL` for the columns a table lacks), by either protocol and every read.
        let null_rows: Vec<Vec<Option<String>>> = (1..=3)
            .map(|g: i64| vec![None, None, Some(g.to_string())])
            .collect();
        assert_eq!(
            db.fetch_text_rows("nulls", nulls).await.unwrap(),
            null_rows,
            "{url}: NULLs fetched"
        );
        assert_eq!(paged(nulls, 2).await, null_rows, "{url}: NULLs paged");
        // The same through a snapshot, whose every read MariaDB answers in its text protocol
        // (numbers as text too: only the check of the column types refuses them). What each
        // query gives, read every way a snapshot reads (`None`: refused), compared in one order
        // where the server has its own.
        let mut snapshot = db.snapshot().await.unwrap();
        for (what, sql, page, gives, in_order) in [
            ("texts", texts, 1000, Some(&expected), false),
            ("a number column", numbers, 1000, None, false),
            ("NULLs", nulls, 2, Some(&null_rows), true),
        ] {
            for (way, rows) in snapshot_reads(&mut snapshot, sql, page)
                .await
                .into_iter()
                .enumerate()
            {
                match gives {
                    Some(rows_expected) => {
                        let rows = rows.unwrap();
                        let rows = if in_order { rows } else { sorted(rows) };
                        assert!(
                            rows == *rows_expected,
                            "{url}: {what} read {way} in a snapshot"
                        );
                    }
                    None => assert!(
                        rows.is_err(),
                        "{url}: {what} read {way} in a snapshot, refused"
                    ),
                }
            }
        }
        snapshot.end().await.unwrap();
        db.close().await;
    }
}

/// A query's rows read the three ways a snapshot reads them: fetched whole, streamed in pages
/// of rows (`page` a page), and paged into `TextRows`.
async fn snapshot_reads(
    snapshot: &mut ykt_db::Snapshot,
    sql: &str,
    page: usize,
) -> [Result<Vec<Vec<Option<String>>>, ykt_db::DbError>; 3] {
    let fetched = snapshot.fetch_text_rows("rows", sql).await;
    let mut streamed = Vec::new();
    let n = snapshot
        .stream_text_rows::<ykt_db::DbError>("rows", sql, page, &mut |rows| {
            streamed.extend(rows);
            Ok(())
        })
        .await;
    let mut paged = Vec::new();
    let m = snapshot
        .stream_text_table::<ykt_db::DbError>("rows", sql, page, &mut |rows| {
            paged.extend((0..rows.len()).map(|r| {
                rows.row(r)
                    .map(|v| v.map(str::to_owned))
                    .collect::<Vec<_>>()
            }));
            Ok(())
        })
        .await;
    [fetched, n.map(|_| streamed), m.map(|_| paged)]
}

/// A legacy table whose columns are of other types than the spec's (text of several kinds and
/// character sets, numbers, decimals, a date-time stored five ways) reads the same whichever
/// way its values come: the extract's read, which takes the columns MariaDB stores as text, and
/// its date-times without fractions of a second, bare in MariaDB's text protocol, against every
/// column cast to text (`DATE_FORMAT` for the date-time) in one plain query through the binary
/// protocol. The values are the hard ones: empty, NULL, leading and trailing spaces, quotes,
/// backslashes, tabs, newlines, NUL, Chinese, emoji, and Chinese in GBK columns; zero dates and
/// fractions of a second.
#[tokio::test]
async fn legacy_columns_of_any_type_read_the_same_bare_or_cast() {
    // GXSJ's stored type, and whether the read takes it bare.
    for (stamp_type, bare) in [
        ("DATETIME", true),
        ("TIMESTAMP NULL", true),
        ("DATETIME(3)", false),
        ("DATE", false),
        ("VARCHAR(30)", false),
    ] {
        let tag = stamp_type
            .split(['(', ' '])
            .next()
            .unwrap_or("")
            .to_lowercase();
        let tag = if stamp_type.contains('(') && tag == "datetime" {
            "datetime3".to_owned()
        } else {
            tag
        };
        let Some(url) = fresh_database(Server::MySql, &format!("legacy_types_{tag}")).await else {
            return;
        };
        read_the_same_bare_or_cast(&url, stamp_type, bare).await;
    }
}

async fn read_the_same_bare_or_cast(url: &DbUrl, stamp_type: &str, bare: bool) {
    let db = Db::connect(url).await.unwrap();
    let types = [
        ("MXID", "BIGINT NOT NULL PRIMARY KEY"),
        ("PCID", "INT"),
        ("DXID", "BIGINT"),
        ("XMDM", "VARCHAR(10) COLLATE utf8mb4_general_ci"),
        ("ND", "INT"),
        ("SL", "DECIMAL(10,2)"),
        ("JE", "DECIMAL(14,2)"),
        ("YHZH", "VARCHAR(30) COLLATE utf8mb4_bin"),
        ("FFZT", "CHAR(8) CHARACTER SET gbk"),
        ("FFRQ", "TINYTEXT"),
        ("YHLSH", "TEXT"),
        ("SBYY", "MEDIUMTEXT CHARACTER SET gbk"),
        ("YMXID", "BIGINT"),
        ("GXSJ", stamp_type),
    ];
    let columns = LegacyTable::Payments.columns();
    assert_eq!(
        types.map(|(c, _)| c).to_vec(),
        columns.iter().map(|c| c.name).collect::<Vec<_>>(),
        "the test's table has the spec's columns"
    );
    let ddl: Vec<String> = types.iter().map(|(c, t)| format!("`{c}` {t}")).collect();
    db.execute(
        "legacy table",
        &format!(
            "CREATE TABLE `T_FFMX` ({}) DEFAULT CHARSET=utf8mb4",
            ddl.join(", ")
        ),
    )
    .await
    .unwrap();
    let texts = [
        "",
        " lead",
        "trail  ",
        "中文",
        "😀 emoji",
        "a\\b",
        "it's",
        "tab\there",
        "nl\nx",
        "\0nul",
        "  ",
    ];
    let gbk = ["", "中文", "发放失败", " x ", "余额不足，退回"];
    let literal = |v: &str| ykt_db::quote_literal(ykt_db::Engine::MySql, v);
    let mut values = Vec::new();
    for i in 1..=300usize {
        let t = |k: usize| match (i + k) % 13 {
            12 => "NULL".to_owned(),
            n => literal(texts[n % texts.len()]),
        };
        let g = |k: usize| match (i + k) % 11 {
            10 => "NULL".to_owned(),
            n => literal(gbk[n % gbk.len()]),
        };
        let (pcid, dxid, year) = (i % 5, i * 7, 2000 + i % 30);
        let quantity = match i % 9 {
            0 => "NULL".to_owned(),
            _ => format!("{}.5", i % 4),
        };
        let amount = format!("{}.{:02}", i * 13, i % 100);
        let original = match i % 4 {
            0 => "NULL".to_owned(),
            _ => (i - 1).to_string(),
        };
        let changed = match i % 17 {
            0 => "NULL".to_owned(),
            // A zero date, which MariaDB keeps where the SQL mode allows it.
            1 => "'0000-00-00 00:00:00'".to_owned(),
            2 => format!("'2020-02-{:02} 23:59:59.{:03}'", 1 + i % 28, i),
            _ => format!("'2020-01-{:02} 08:{:02}:09'", 1 + i % 28, i % 60),
        };
        let (t0, t1, t2, t3, g0, g1) = (t(0), t(1), t(2), t(3), g(0), g(1));
        values.push(format!(
            "({i}, {pcid}, {dxid}, {t0}, {year}, {quantity}, {amount}, {t1}, {g0}, {t2}, {t3}, {g1}, {original}, {changed})"
        ));
    }
    db.execute_script(
        "legacy rows",
        &format!(
            "SET SESSION sql_mode = ''; INSERT INTO `T_FFMX` VALUES {}",
            values.join(", ")
        ),
    )
    .await
    .unwrap();

    let mut snapshot = db.snapshot().await.unwrap();
    let stored = ykt_db::check_table(&mut snapshot, LegacyTable::Payments)
        .await
        .unwrap();
    let as_text: Vec<&str> = columns
        .iter()
        .map(|c| c.name)
        .filter(|c| stored.is_text(c))
        .collect();
    let mut expected_text = vec!["XMDM", "YHZH", "FFZT", "FFRQ", "YHLSH", "SBYY"];
    if stamp_type.starts_with("VARCHAR") {
        expected_text.push("GXSJ");
    }
    assert_eq!(
        as_text, expected_text,
        "{stamp_type}: the text columns are known as text, and only they"
    );
    assert_eq!(
        stored.is_plain_stamp("GXSJ"),
        bare,
        "{stamp_type}: a date-time without fractions of a second is read bare, and only it"
    );
    assert!(
        columns
            .iter()
            .all(|c| c.name == "GXSJ" || !stored.is_plain_stamp(c.name)),
        "{stamp_type}: only a date-time is"
    );
    let mut read: Vec<Vec<Option<String>>> = Vec::new();
    let n = ykt_db::read_table_text::<ykt_db::DbError>(
        &mut snapshot,
        LegacyTable::Payments,
        &stored,
        64,
        |page| {
            read.extend((0..page.len()).map(|r| {
                page.row(r)
                    .map(|v| v.map(str::to_owned))
                    .collect::<Vec<_>>()
            }));
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(n, 300);
    snapshot.end().await.unwrap();
    let cast: Vec<String> = columns
        .iter()
        .map(|c| match c.name {
            "GXSJ" => "DATE_FORMAT(`GXSJ`, '%Y-%m-%d %H:%i:%s')".to_owned(),
            name => format!("CAST(`{name}` AS CHAR)"),
        })
        .collect();
    // Through the pool: a plain query goes by MariaDB's binary protocol there.
    let expected = db
        .fetch_text_rows(
            "every column cast",
            &format!("SELECT {} FROM `T_FFMX` ORDER BY `MXID`", cast.join(", ")),
        )
        .await
        .unwrap();
    assert_eq!(expected.len(), 300);
    for (i, (bare, cast)) in read.iter().zip(&expected).enumerate() {
        assert_eq!(
            bare,
            cast,
            "{stamp_type}: row {} reads differently bare and cast",
            i + 1
        );
    }
    // The hard values did reach the table (the comparison is not of empty columns).
    let all: String = read.iter().flatten().flatten().cloned().collect();
    for needle in [
        "😀 emoji",
        "\0nul",
        "余额不足，退回",
        "tab\there",
        "a\\b",
        "trail  ",
    ] {
        assert!(all.contains(needle), "{needle:?} read back");
    }
    let stamps: Vec<&str> = read.iter().filter_map(|r| r[13].as_deref()).collect();
    assert!(
        stamps.contains(&"0000-00-00 00:00:00"),
        "{stamp_type}: a zero date read back"
    );
    assert!(
        stamp_type == "DATE"
            || stamps
                .iter()
                .any(|s| s.starts_with("2020-02-") && s.ends_with(":59")),
        "{stamp_type}: the stamps with fractions read back, without them"
    );
    db.close().await;
}
