//! Wrong flags, bad URLs and unwritable folders: one clear sentence, exit code 2, no password.

use crate::support::{temp_dir, ykt};

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = ykt(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_preset_is_a_usage_error() {
    let (code, err) = stderr_of(&["generate", "--preset", "galaxy", "--export", "x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("galaxy") && err.contains("demo"), "{err}");
}

#[test]
fn bad_urls_exit_2_and_never_show_the_password() {
    let (code, err) = stderr_of(&["generate", "--legacy", "oracle://scott:tiger123@db/legacy"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("unsupported") && !err.contains("tiger123"),
        "{err}"
    );

    // A server that is not there (port 9 on loopback refuses at once).
    let (code, err) = stderr_of(&[
        "generate",
        "--legacy",
        "postgres://ykt:s3cr3t-pw@127.0.0.1:9/legacy",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("127.0.0.1:9") && !err.contains("s3cr3t-pw"),
        "{err}"
    );
    assert!(err.contains("ykt:***@"), "{err}");
}

#[test]
fn unwritable_folder_exits_2() {
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("export");
    let (code, err) = stderr_of(&["generate", "--export", target.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("a-file"), "{err}");
}

#[test]
fn nothing_to_write_to_is_a_usage_error() {
    let (code, err) = stderr_of(&["generate", "--preset", "demo"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--legacy") && err.contains("--export"),
        "{err}"
    );
}

#[test]
fn bad_rates_and_counties_are_reported_together() {
    let (code, err) = stderr_of(&[
        "generate",
        "--county",
        "619999",
        "--beneficiaries-per-county",
        "5",
        "--export",
        "x",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("619999") && err.contains("at least 20"),
        "{err}"
    );
    let (code, err) = stderr_of(&["generate", "--rate", "Q99=1%", "--export", "x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("Q99"), "{err}");
}

/// `ykt … 2>&1 | head`: closed pipes end the run quietly (141, as a shell tool does), never
/// with an abort (134) from a panic inside the panic hook, nor a hang. The logger itself panics
/// when stderr is gone, so the case needs logging and a closed stderr.
#[test]
fn closed_stdout_and_stderr_end_quietly() {
    let dir = crate::support::temp_dir("closed_pipes");
    let legacy = format!("sqlite://{}", dir.join("legacy.sqlite").display());
    for (args, close_stdout) in [
        (vec!["schema", "legacy-ddl", "--engine", "mysql"], true),
        (
            vec![
                "generate",
                "--preset",
                "demo",
                "--replace",
                "--legacy",
                &legacy,
            ],
            false,
        ),
        (
            vec![
                "generate",
                "--preset",
                "demo",
                "--replace",
                "--legacy",
                &legacy,
            ],
            true,
        ),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ykt"))
            .args(&args)
            .env("YKT_LOG", "debug")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let stdout = child.stdout.take();
        if close_stdout {
            drop(stdout);
        } else {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = std::io::Read::read_to_end(&mut stdout.unwrap(), &mut out);
            });
        }
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "{args:?} hangs on closed pipes"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(141), "{args:?}: {status:?}");
    }
}

#[test]
fn explain_tells_what_a_code_means_and_refuses_an_unknown_one() {
    let out = ykt(&["explain", "r_beneficiary_rejected"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let code = ykt_domain::RejectCode::BeneficiaryRejected;
    assert!(text.contains(code.explanation()), "{text}");
    assert!(text.contains(code.county_action()), "{text}");
    let (status, stderr) = stderr_of(&["explain", "R_NO_SUCH"]);
    assert_eq!(status, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ykt explain --all"), "{stderr}");
    let all = ykt(&["explain", "--all"]);
    let all = String::from_utf8_lossy(&all.stdout);
    assert_eq!(
        all.lines().filter(|l| !l.starts_with(' ')).count(),
        ykt_domain::catalogue().len(),
        "one heading line per code"
    );
}

#[test]
fn signoff_refuses_what_no_county_signs() {
    let dir = temp_dir("signoff_refusals");
    let target = format!("sqlite://{}", dir.join("platform.sqlite").display());
    let report = dir.join("summary.json");
    let signoff = |county: &str, role: &str, extra: &[&str]| {
        let mut args = vec![
            "signoff",
            "--county",
            county,
            "--role",
            role,
            "--by",
            "王会计",
            "--report",
            report.to_str().unwrap(),
            "--target",
            &target,
        ];
        args.extend(extra);
        stderr_of(&args)
    };
    // 000000 (未归属) is the province's task list: nobody signs it.
    let (code, err) = signoff("000000", "checker", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("000000") && err.contains("nobody signs"),
        "{err}"
    );
    // A reason without accepting, or accepting without a reason, is a usage error.
    for extra in [&["--reason", "x"][..], &["--accept-pending"][..]] {
        let (code, err) = signoff("610802", "checker", extra);
        assert_eq!(code, Some(2), "{err}");
    }
    // The role is one of the form's two.
    let (code, err) = signoff("610802", "boss", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("checker") && err.contains("reviewer"), "{err}");
}
