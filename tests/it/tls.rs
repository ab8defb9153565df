//! Issue 11: encrypted connections. PostgreSQL here runs SSL with the distribution's snakeoil
//! certificate (issued to `localhost`); MariaDB runs TLS with a test CA that `.ci/run` makes
//! (`YKT_TEST_MYSQL_CA`). A verifying mode that cannot verify is refused with one sentence
//! (exit 2); a requiring mode connects encrypted.

use std::path::PathBuf;

use crate::support::{Server, fresh_database, servers_required, temp_dir, ykt};

fn with_param(url: &ykt_db::DbUrl, param: &str) -> String {
    let raw = url.expose();
    let sep = if raw.contains('?') { '&' } else { '?' };
    format!("{raw}{sep}{param}")
}

fn refused_with(args: &[&str], needle: &str) {
    let o = ykt(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
}

#[tokio::test]
async fn postgres_urls_require_and_verify_ssl() {
    let Some(url) = fresh_database(Server::Postgres, "tls_pg").await else {
        return;
    };
    // Encrypted, not verified: connects.
    let require = with_param(&url, "sslmode=require");
    let o = ykt(&["schema", "apply", "--target", &require]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Verified: the snakeoil certificate is issued to `localhost` and sits in the system's
    // certificate folder, so it verifies as a CA, and for the name localhost, not 127.0.0.1.
    let verify = with_param(&url, "sslmode=verify-full");
    refused_with(&["schema", "apply", "--target", &verify], "certificate");
    let by_name = with_param(&url, "sslmode=verify-full").replace("@127.0.0.1:", "@localhost:");
    let o = ykt(&["schema", "apply", "--target", &by_name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let verify_ca = with_param(&url, "sslmode=verify-ca");
    let o = ykt(&["schema", "apply", "--target", &verify_ca]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn mysql_ca() -> Option<PathBuf> {
    let path = PathBuf::from(
        std::env::var("YKT_TEST_MYSQL_CA").unwrap_or_else(|_| "/etc/mysql/ykt-tls/ca.pem".into()),
    );
    if path.is_file() {
        return Some(path);
    }
    if servers_required() {
        panic!(
            "MariaDB's test CA {} is missing: .ci/run makes it",
            path.display()
        );
    }
    crate::support::skipped(
        "tls",
        &format!(
            "MariaDB's test CA {} is missing (.ci/run makes it)",
            path.display()
        ),
    );
    None
}

#[tokio::test]
async fn mariadb_urls_require_and_verify_tls() {
    let Some(ca) = mysql_ca() else {
        return;
    };
    let Some(url) = fresh_database(Server::MySql, "tls_my").await else {
        return;
    };
    let dir = temp_dir("tls_my");
    let truth = dir.join("truth.json");
    let generate = |legacy: &str, extra: &[&str]| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "generate",
            "--counties",
            "1",
            "--beneficiaries-per-county",
            "20",
            "--replace",
            "--legacy",
            legacy,
            "--truth",
            truth.to_str().unwrap(),
        ]);
        ykt(&args)
    };
    let ca_arg = ca.display().to_string();
    // Verified against the test CA given with --ca-file: connects.
    let identity = with_param(&url, "ssl-mode=VERIFY_IDENTITY");
    let o = generate(&identity, &["--ca-file", &ca_arg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The CA in the URL itself.
    let in_url = with_param(&url, &format!("ssl-mode=VERIFY_CA&ssl-ca={ca_arg}"));
    let stage = dir.join("stage");
    let o = ykt(&[
        "extract",
        "--legacy",
        &in_url,
        "--stage",
        stage.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Required, not verified: connects.
    let required = with_param(&url, "ssl-mode=REQUIRED");
    let o = ykt(&[
        "extract",
        "--legacy",
        &required,
        "--stage",
        stage.to_str().unwrap(),
        "--overwrite",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Verified without the CA: refused, one sentence, exit 2.
    let verify = with_param(&url, "ssl-mode=VERIFY_CA");
    refused_with(
        &[
            "extract",
            "--legacy",
            &verify,
            "--stage",
            stage.to_str().unwrap(),
            "--overwrite",
        ],
        "certificate",
    );
    // A CA file that is not there.
    refused_with(&["--ca-file", "/nonexistent/ca.pem", "status"], "--ca-file");
}
