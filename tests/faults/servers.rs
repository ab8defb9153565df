//! Server faults: the target PostgreSQL restarted during a load, the legacy MariaDB restarted
//! during an extract. ykt stops with one sentence and a state the same command completes
//! (`--resume` for a load), or, for a load whose writer lock is free again after the restart,
//! goes on; either way the target ends identical to an uninterrupted run.
//!
//! What is retried, and why: nothing is retried blindly. A load checks before each county that
//! it still holds the writer lock; after a restart it takes the lock again when nobody else did
//! (its committed counties stand, the county that was cut short rolled back) and goes on, else
//! it stops. An extract never retries: a new connection would read another snapshot than the
//! tables read so far; it stops and is run again.

use std::process::Command;
use std::time::Duration;

use crate::killpoints::dump;
use crate::support::{Server, fresh_database, temp_dir, ykt_ok};

/// Stops PostgreSQL, keeps it down for `down`, and starts it again: a load that asks for its
/// writer lock meanwhile finds the server refusing sessions (shutting down, then gone, then
/// starting up), as a restart that takes its time does.
fn pg_down_for(down: Duration) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a PostgreSQL cluster here")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .expect("a PostgreSQL version");
    let cluster = |action: &str| {
        let ok = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", action])
            .status()
            .expect("pg_ctlcluster runs")
            .success();
        assert!(ok, "PostgreSQL {action}");
    };
    cluster("stop");
    std::thread::sleep(down);
    cluster("start");
}

fn mariadb_running() -> bool {
    Command::new("pgrep")
        .args(["-x", "mariadbd"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn mariadb_restart() {
    let _ = Command::new("mysqladmin")
        .args(["-h", "127.0.0.1", "-u", "root", "shutdown"])
        .status();
    // Gone for good before it is started again (a start while it still shuts down is a no-op).
    for _ in 0..240 {
        if !mariadb_running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Command::new("start-stop-daemon")
        .args([
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/mariadbd",
        ])
        .status()
        .expect("start-stop-daemon runs");
    for _ in 0..240 {
        if Command::new("mysqladmin")
            .args(["-h", "127.0.0.1", "-u", "root", "ping"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("MariaDB did not come back");
}

/// Starts ykt with a pause (a `sleep` kill point) and runs `fault` during it; returns the
/// exit code and stderr.
fn run_with_fault(args: &[&str], pause: &str, fault: impl FnOnce()) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args(args)
        .env("YKT_LOG", "warn")
        .env("FAILPOINTS", pause)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ykt starts");
    std::thread::sleep(Duration::from_secs(3));
    fault();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One sentence: one `error:` line, no panic, no password.
fn one_sentence(err: &str) {
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn a_target_restart_during_the_load_ends_in_the_uninterrupted_target() {
    let dir = temp_dir("fault_pg_restart");
    let legacy = format!("sqlite://{}", dir.join("legacy.sqlite").display());
    ykt_ok(&[
        "generate",
        "--counties",
        "4",
        "--beneficiaries-per-county",
        "150",
        "--seed",
        "31",
        "--legacy",
        &legacy,
    ]);
    let (Some(reference), Some(target)) = (
        fresh_database(Server::Postgres, "fault_pg_ref").await,
        fresh_database(Server::Postgres, "fault_pg").await,
    ) else {
        return;
    };
    let ref_stage = dir.join("stage-ref").display().to_string();
    ykt_ok(&[
        "migrate",
        "--legacy",
        &legacy,
        "--stage",
        &ref_stage,
        "--target",
        reference.expose(),
    ]);
    let want = dump(&reference).await;
    let stage = dir.join("stage").display().to_string();
    let args = [
        "migrate",
        "--legacy",
        &legacy,
        "--stage",
        &stage,
        "--target",
        target.expose(),
    ];
    // After the first county commits, the load pauses 8 s; the server stops meanwhile and is
    // down for 10 s, so that the load most likely asks for its lock while it is down (a
    // restart that took longer than the pause once ended such a load in "cannot connect …
    // the database system is shutting down", exit 2).
    let (code, err) = run_with_fault(&args, "load::county_committed=1*sleep(8000)", || {
        pg_down_for(Duration::from_secs(10))
    });
    // A load that took its lock again goes on to the end.
    if err.contains("taking the lock again") {
        assert_eq!(code, Some(0), "the lock was taken again:\n{err}");
    }
    match code {
        Some(0) => {}
        Some(3) => {
            one_sentence(&err);
            assert!(err.contains("--resume") || err.contains("again"), "{err}");
            let mut resume = args.to_vec();
            resume.push("--resume");
            ykt_ok(&resume);
        }
        other => panic!("a restarted target: exit {other:?}\n{err}"),
    }
    assert_eq!(
        dump(&target).await,
        want,
        "the target equals an uninterrupted load"
    );
}

#[tokio::test]
async fn a_legacy_restart_during_the_extract_stops_and_the_rerun_completes() {
    let dir = temp_dir("fault_mariadb_restart");
    let (Some(legacy), Some(reference), Some(target)) = (
        fresh_database(Server::MySql, "fault_legacy").await,
        fresh_database(Server::Postgres, "fault_my_ref").await,
        fresh_database(Server::Postgres, "fault_my").await,
    ) else {
        return;
    };
    ykt_ok(&[
        "generate",
        "--counties",
        "3",
        "--beneficiaries-per-county",
        "150",
        "--seed",
        "32",
        "--legacy",
        legacy.expose(),
    ]);
    let ref_stage = dir.join("stage-ref").display().to_string();
    ykt_ok(&[
        "migrate",
        "--legacy",
        legacy.expose(),
        "--stage",
        &ref_stage,
        "--target",
        reference.expose(),
    ]);
    let want = dump(&reference).await;
    let stage = dir.join("stage").display().to_string();
    let args = [
        "migrate",
        "--legacy",
        legacy.expose(),
        "--stage",
        &stage,
        "--target",
        target.expose(),
    ];
    // After the third table, the extract pauses 8 s; MariaDB restarts meanwhile.
    let (code, err) = run_with_fault(
        &args,
        "extract::table_done=2*off->1*sleep(8000)",
        mariadb_restart,
    );
    assert_eq!(code, Some(3), "{err}");
    one_sentence(&err);
    assert!(err.contains("lost") && err.contains("again"), "{err}");
    assert!(!err.contains("mysql://root:"), "no password: {err}");
    ykt_ok(&args);
    assert_eq!(
        dump(&target).await,
        want,
        "the rerun equals an uninterrupted migration"
    );
}
