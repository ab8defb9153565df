//! Test helpers: fresh databases on real servers, temporary folders, the ykt binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use ykt_db::read_table;
use ykt_db::{Db, DbUrl, Engine, columns_sql, recreate_database};
use ykt_domain::{LegacyRow, LegacyTable};
use ykt_extract::ExportReader;

#[derive(Debug, Clone, Copy)]
pub enum Server {
    Postgres,
    MySql,
}

impl Server {
    fn base_url(self) -> String {
        match self {
            Server::Postgres => std::env::var("YKT_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
            Server::MySql => std::env::var("YKT_TEST_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into()),
        }
    }
}

pub fn servers_required() -> bool {
    std::env::var("YKT_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A fresh, empty database named after the test on a real server, or `None` (loudly) when
/// the server is missing and servers are not required.
pub async fn fresh_database(server: Server, test: &str) -> Option<DbUrl> {
    let base: DbUrl = server.base_url().parse().expect("a valid test server URL");
    let url = base.with_database(&format!("ykt_test_{test}"));
    match recreate_database(&url).await {
        Ok(()) => Some(url),
        Err(e) if servers_required() => {
            panic!("{server:?} is required (YKT_REQUIRE_SERVERS=1) but failed: {e}")
        }
        Err(e) => {
            skipped(test, &format!("{server:?} is not reachable ({e})"));
            None
        }
    }
}

/// Says loudly that a test did not run for want of a server or tool, and records it where
/// `scripts/test` counts it for the run's last line (libtest hides a passing test's output):
/// `YKT_SKIP_LOG`, else `target/tmp/skipped-server-tests`.
pub fn skipped(test: &str, why: &str) {
    eprintln!(
        "\n*** SKIPPED {test}: {why}. Set YKT_REQUIRE_SERVERS=1 to make this a failure. ***\n"
    );
    let log = std::env::var_os("YKT_SKIP_LOG").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-server-tests"),
        PathBuf::from,
    );
    let line = format!("{test}: {why}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    if let Err(e) = written {
        eprintln!("*** cannot record the skip in {}: {e} ***", log.display());
    }
}

/// A fresh temporary folder for a test.
pub fn temp_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A fresh SQLite database URL in a test's temporary folder.
pub fn fresh_sqlite(test: &str, name: &str) -> DbUrl {
    let dir = temp_dir(&format!("{test}-db"));
    format!("sqlite://{}", dir.join(name).display())
        .parse()
        .expect("sqlite url")
}

/// Runs the ykt binary.
pub fn ykt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ykt"))
        .args(args)
        .env("YKT_LOG", "warn")
        .output()
        .expect("ykt runs")
}

/// Runs ykt and insists on success.
pub fn ykt_ok(args: &[&str]) -> Output {
    let out = ykt(args);
    assert!(
        out.status.success(),
        "ykt {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn key_order(a: &LegacyRow, b: &LegacyRow) -> std::cmp::Ordering {
    let num = |r: &LegacyRow| r[0].as_deref().and_then(|k| k.parse::<i64>().ok());
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a[0].cmp(&b[0]),
    }
}

/// Every row of a legacy table in a database, sorted by key.
pub async fn database_rows(url: &DbUrl, table: LegacyTable) -> Vec<LegacyRow> {
    let db = ykt_db::Db::connect(url).await.expect("connect");
    let mut snapshot = db.snapshot().await.expect("snapshot");
    let mut rows = Vec::new();
    read_table(&mut snapshot, table, 5_000, |page| {
        rows.extend(page);
        Ok::<(), ykt_db::DbError>(())
    })
    .await
    .expect("read table");
    snapshot.end().await.expect("end snapshot");
    db.close().await;
    rows.sort_by(key_order);
    rows
}

/// Every data row of a legacy export file, sorted by key, and the totals rows dropped.
pub fn export_rows(dir: &std::path::Path, table: LegacyTable) -> (Vec<LegacyRow>, u64) {
    let mut reader = ExportReader::open(dir, table).expect("open export file");
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row().expect("read export row") {
        rows.push(row);
    }
    rows.sort_by(key_order);
    (rows, reader.totals_rows_dropped())
}

/// Rows of a table, each column as text.
pub type Rows = Vec<Vec<Option<String>>>;

/// A database's constraints (on PostgreSQL with whether they are validated) and indexes, as
/// its catalog writes them: two targets loaded alike, crashed or not, must show the same.
pub async fn schema_of(url: &DbUrl) -> Vec<String> {
    let db = Db::connect(url).await.expect("connect for the schema");
    let sql = match db.engine() {
        Engine::Postgres => {
            "SELECT CAST(conrelid::regclass AS TEXT) || ' ' || conname || ' ' || pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END \
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
             UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
        }
        _ => {
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY 1"
        }
    };
    let rows = db
        .fetch_text_rows("the schema", sql)
        .await
        .expect("the schema");
    db.close().await;
    rows.into_iter()
        .filter_map(|mut r| r.pop().flatten())
        .collect()
}

/// The named tables of a database (those that exist), each column as text except the `skip`
/// ones, rows sorted: two databases compared this way hold the same data.
pub async fn dump_tables(url: &DbUrl, tables: &[&str], skip: &[&str]) -> BTreeMap<String, Rows> {
    let db = Db::connect(url).await.expect("connect for a dump");
    let mut out = BTreeMap::new();
    for table in tables {
        if !db.table_exists(table).await.expect("table exists") {
            continue;
        }
        let columns: Vec<String> = db
            .fetch_text_rows("columns", &columns_sql(db.engine(), table))
            .await
            .expect("columns")
            .into_iter()
            .filter_map(|mut r| r.first_mut().and_then(Option::take))
            .filter(|c| !skip.contains(&c.as_str()))
            .collect();
        let cast: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
            .collect();
        let mut rows = db
            .fetch_text_rows(
                "dump",
                &format!("SELECT {} FROM \"{table}\"", cast.join(", ")),
            )
            .await
            .expect("dump");
        rows.sort();
        out.insert((*table).to_owned(), rows);
    }
    db.close().await;
    out
}

/// Every table of a database with every column: a refused run must leave this unchanged.
pub async fn dump_all(url: &DbUrl) -> BTreeMap<String, Rows> {
    let db = Db::connect(url).await.expect("connect for a dump");
    let sql = match db.engine() {
        Engine::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        _ => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
        }
    };
    let tables: Vec<String> = db
        .fetch_text_rows("tables", sql)
        .await
        .expect("tables")
        .into_iter()
        .filter_map(|mut r| r.pop().flatten())
        .collect();
    db.close().await;
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    dump_tables(url, &names, &[]).await
}

/// The legacy keys a flag of `flags.json` lists.
pub fn legacy_keys(flag: &serde_json::Value) -> Vec<String> {
    flag["legacy_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}
