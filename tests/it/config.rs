//! The operator's tool (#14): database URLs and passwords kept off the command line
//! (`YKT_LEGACY_URL` and `YKT_TARGET_URL`, `[databases]` in ykt.toml, the MariaDB client's
//! option files), `--json` summaries, a run id per run, and Beijing time in the logs.

use std::path::Path;
use std::process::{Command, Output};

use ykt_db::Db;

use crate::support::{Server, fresh_database, temp_dir};

/// ykt in `dir`, with these variables and nothing of the caller's that names a database.
fn ykt_in(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ykt"));
    cmd.args(args)
        .current_dir(dir)
        .env("YKT_LOG", "warn")
        .env_remove("YKT_LEGACY_URL")
        .env_remove("YKT_TARGET_URL")
        .env_remove("MYSQL_PWD");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("ykt runs")
}

#[test]
fn target_urls_come_from_the_flag_then_the_environment_then_ykt_toml() {
    let dir = temp_dir("urls_from_config");
    let url = |name: &str| format!("sqlite://{}", dir.join(name).display());
    let apply = |vars: &[(&str, &str)], args: &[&str]| {
        let mut all = vec!["schema", "apply"];
        all.extend(args);
        ykt_in(&dir, vars, &all)
    };
    // Nothing says where the target is: one sentence naming the three ways, exit 2.
    let none = apply(&[], &[]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("--target") && err.contains("YKT_TARGET_URL") && err.contains("[databases]"),
        "{err}"
    );
    // ykt.toml's [databases] ...
    std::fs::write(
        dir.join("ykt.toml"),
        format!("[databases]\ntarget = \"{}\"\n", url("from-toml.sqlite")),
    )
    .unwrap();
    assert!(apply(&[], &[]).status.success());
    assert!(dir.join("from-toml.sqlite").is_file());
    // ... the environment wins over it ...
    let env_url = url("from-env.sqlite");
    assert!(apply(&[("YKT_TARGET_URL", &env_url)], &[]).status.success());
    assert!(dir.join("from-env.sqlite").is_file());
    // ... and the flag over both.
    let flag_url = url("from-flag.sqlite");
    let out = apply(&[("YKT_TARGET_URL", &env_url)], &["--target", &flag_url]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("from-flag.sqlite"));
    assert!(dir.join("from-flag.sqlite").is_file());
}

/// A MariaDB password from `~/.my.cnf` (or `MYSQL_PWD`), as the MariaDB client takes it:
/// never on the command line.
#[tokio::test]
async fn mariadb_password_from_the_option_file() {
    let Some(url) = fresh_database(Server::MySql, "password_file").await else {
        return;
    };
    let root = Db::connect(&url).await.unwrap();
    for sql in [
        "DROP USER IF EXISTS 'ykt_pw'@'%'",
        "CREATE USER 'ykt_pw'@'%' IDENTIFIED BY 'from-option-file'",
        "GRANT ALL ON ykt_test_password_file.* TO 'ykt_pw'@'%'",
    ] {
        root.execute("the test account", sql).await.unwrap();
    }
    root.close().await;
    let home = temp_dir("password_file_home");
    let dir = temp_dir("password_file_work");
    let authority = url.expose().split_once('@').unwrap().1;
    let legacy = format!("mysql://ykt_pw@{authority}");
    let generate = |vars: &[(&str, &str)]| {
        let mut all = vec![("HOME", home.to_str().unwrap())];
        all.extend(vars);
        ykt_in(
            &dir,
            &all,
            &[
                "generate",
                "--preset",
                "demo",
                "--replace",
                "--legacy",
                &legacy,
            ],
        )
    };
    // No password anywhere: refused by the server, one sentence, exit 2.
    let refused = generate(&[]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    // The password in ~/.my.cnf's [client] section.
    std::fs::write(
        home.join(".my.cnf"),
        "[mysqld]\npassword = wrong\n[client]\npassword = \"from-option-file\"\n",
    )
    .unwrap();
    let out = generate(&[]);
    assert!(out.status.success(), "{out:?}");
    // MYSQL_PWD wins over the file, as for the client.
    let wrong = generate(&[("MYSQL_PWD", "not-it")]);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !stderr.contains("not-it") && !stderr.contains("from-option-file"),
        "{stderr}"
    );
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn json_summaries_run_ids_and_beijing_time() {
    let dir = temp_dir("json_summaries");
    let demo = dir.join("demo");
    let out = ykt_in(&dir, &[], &["demo", "--dir", demo.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let url = |f: &str| format!("sqlite://{}", demo.join(f).display());
    let (legacy, target) = (url("legacy.sqlite"), url("platform.sqlite"));
    let stage = demo.join("stage");
    let vars = [
        ("YKT_LEGACY_URL", legacy.as_str()),
        ("YKT_TARGET_URL", target.as_str()),
        ("YKT_LOG", "info"),
    ];
    let reconcile = |name: &str| {
        let out = dir.join(name);
        ykt_in(
            &dir,
            &vars,
            &[
                "reconcile",
                "--stage",
                stage.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
        )
    };
    let (first, second) = (reconcile("out-1"), reconcile("out-2"));
    let (a, b) = (json_of(&first), json_of(&second));
    assert_eq!(a["command"], "reconcile");
    assert_eq!(a["balanced"], true);
    // Each run its own id; the stage's migration run beside it, the same for both.
    assert_ne!(a["run_id"], b["run_id"]);
    assert_eq!(a["stage_run_id"], b["stage_run_id"]);
    let counties = a["counties"].as_array().unwrap();
    assert_eq!(counties.len(), 4, "three demo counties and 000000");
    for c in counties {
        assert!(
            ["clean", "pending"].contains(&c["verdict"].as_str().unwrap()),
            "{c}"
        );
    }
    // Logs in Beijing time, naming the run.
    let log = String::from_utf8_lossy(&first.stderr);
    let started = log
        .lines()
        .find(|l| l.contains("ykt started"))
        .expect("the first log line");
    assert!(
        started.contains("+08:00") && started.contains(a["run_id"].as_str().unwrap()),
        "{started}"
    );
    // The manifest keeps the run's id; report diff names both runs.
    let diff = ykt_in(
        &dir,
        &[],
        &[
            "report",
            "diff",
            dir.join("out-1").to_str().unwrap(),
            dir.join("out-2").to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(
        text.contains(&format!(
            "reconciliations: {} → {}",
            a["run_id"].as_str().unwrap(),
            b["run_id"].as_str().unwrap()
        )),
        "{text}"
    );
    // status --json, the target from the environment.
    let status = json_of(&ykt_in(
        &dir,
        &vars,
        &["--at", "2020-11-20", "status", "--json"],
    ));
    assert_eq!(status["phase"], "dual-run");
    assert_eq!(
        status["counties"].as_array().map(Vec::len),
        Some(4),
        "{status}"
    );
    // migrate --json (a dry run: nothing is touched).
    let migrate = json_of(&ykt_in(
        &dir,
        &vars,
        &[
            "migrate",
            "--stage",
            dir.join("stage-2").to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(migrate["command"], "migrate");
    assert_eq!(migrate["dry_run"], true);
    assert!(
        migrate["tables"]["T_FFMX"]["read"].as_u64().unwrap() > 0,
        "{migrate}"
    );
}
