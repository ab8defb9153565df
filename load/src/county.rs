//! One county in one transaction: what it replaces, what it inserts, and its checkpoint.
//!
//! A county is fully loaded or untouched. On a target that already holds migrated data the
//! transaction first removes the county's migrated rows and, wherever they are, the rows whose
//! keys the county now brings (a line or a person that moved between counties), then inserts the
//! stage's rows: never "delete everything, then load", so a crash leaves every county not yet
//! reloaded as it was. On an empty target (a bulk load) there is nothing to remove.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;
use ykt_db::{Db, Engine, quote_literal};
use ykt_stage::{Stage, TextTableReader};

use crate::LoadError;

/// How a county's rows meet the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The target held no migrated rows when the run began: nothing to remove.
    Bulk,
    /// The target holds migrated rows (another run's, or this run's before a rerun).
    Replace,
}

const INTEGER_COLUMNS: &[&str] = &[
    "id",
    "level",
    "fund_year",
    "legacy_zbid",
    "beneficiary_id",
    "legacy_dxid",
    "batch_id",
    "allocation_id",
    "declared_count",
    "reissue_of",
    "legacy_mxid",
    "legacy_pcid",
];

/// The staged files a county inserts, in order (people before their lines), as (file, table,
/// bookkeeping: the table takes the run id first).
const INSERTS: [(&str, &str, bool); 7] = [
    ("beneficiary", "beneficiary", false),
    ("beneficiary_legacy_map", "beneficiary_legacy_map", false),
    ("allocation", "allocation", false),
    ("payment_batch", "payment_batch", false),
    ("payment", "payment", false),
    ("reject", "migration_reject", true),
    ("correction", "migration_correction", true),
];

/// The staged key columns whose rows a county brings, as (file, column, tag in `ykt_replace`).
const KEYS: [(&str, &str, &str); 5] = [
    ("beneficiary", "id", "beneficiary"),
    ("beneficiary_legacy_map", "legacy_dxid", "map"),
    ("allocation", "id", "allocation"),
    ("payment_batch", "id", "payment_batch"),
    ("payment", "id", "payment"),
];

fn sql_err(db: &Db, what: &str) -> impl Fn(sqlx::Error) -> LoadError {
    let url = db.url().to_string();
    let what = what.to_owned();
    move |source| LoadError::Sql {
        url: url.clone(),
        what: what.clone(),
        source,
    }
}

/// The statements that remove what a county replaces (its migrated rows, the rows its keys
/// name elsewhere, this run's bookkeeping of it), once `ykt_replace` holds its keys.
fn replace_statements(county: &str, run_id: &str, engine: Engine) -> Vec<String> {
    let c = quote_literal(engine, county);
    let r = quote_literal(engine, run_id);
    let keys = |tags: &str| format!("SELECT k FROM ykt_replace WHERE tbl IN ({tags})");
    vec![
        // The county's migrated people, before their map rows go; and the people elsewhere
        // whose legacy rows this county now brings (they lose those map rows, and go when
        // they have none left).
        format!(
            "INSERT INTO ykt_replace (tbl, k) SELECT 'old_beneficiary', b.id FROM beneficiary b WHERE b.county_code = {c} \
             AND EXISTS (SELECT 1 FROM beneficiary_legacy_map m WHERE m.beneficiary_id = b.id)"
        ),
        format!(
            "INSERT INTO ykt_replace (tbl, k) SELECT 'touched_beneficiary', m.beneficiary_id FROM beneficiary_legacy_map m \
             WHERE m.legacy_dxid IN ({})",
            keys("'map'")
        ),
        format!(
            "DELETE FROM payment WHERE (county_code = {c} AND legacy_mxid IS NOT NULL) OR id IN ({})",
            keys("'payment'")
        ),
        format!(
            "DELETE FROM payment_batch WHERE (county_code = {c} AND legacy_pcid IS NOT NULL) OR id IN ({})",
            keys("'payment_batch'")
        ),
        format!(
            "DELETE FROM allocation WHERE (county_code = {c} AND legacy_zbid IS NOT NULL) OR id IN ({})",
            keys("'allocation'")
        ),
        format!(
            "DELETE FROM beneficiary_legacy_map WHERE beneficiary_id IN ({}) OR legacy_dxid IN ({})",
            keys("'old_beneficiary', 'beneficiary'"),
            keys("'map'")
        ),
        format!(
            "DELETE FROM beneficiary WHERE id IN ({}) OR (id IN ({}) AND NOT EXISTS (SELECT 1 FROM beneficiary_legacy_map m WHERE m.beneficiary_id = beneficiary.id))",
            keys("'old_beneficiary', 'beneficiary'"),
            keys("'touched_beneficiary'")
        ),
        format!("DELETE FROM migration_reject WHERE run_id = {r} AND county_code = {c}"),
        format!("DELETE FROM migration_correction WHERE run_id = {r} AND county_code = {c}"),
    ]
}

/// The keys a county's staged rows bring, as (tag, key).
fn staged_keys(stage: &Stage, county: &str) -> Result<Vec<(&'static str, i64)>, LoadError> {
    let mut out = Vec::new();
    for (file, column, tag) in KEYS {
        let path = stage.platform_file(county, file);
        if !path.exists() {
            continue;
        }
        let mut reader = TextTableReader::open_columns(&path, Some(&[column]))?;
        let index = reader.column(column)?;
        while let Some(rows) = reader.next_rows()? {
            out.extend(
                rows.iter()
                    .filter_map(|r| r[index].as_deref().and_then(|k| k.parse().ok()))
                    .map(|k| (tag, k)),
            );
        }
    }
    Ok(out)
}

fn checkpoint(engine: Engine, county: &str, run_id: &str, rows: u64) -> String {
    let row = |step: &str, n: u64| {
        format!(
            "({}, {}, '{step}', {}, {n})",
            quote_literal(engine, run_id),
            quote_literal(engine, county),
            crate::loader::now_sql(engine)
        )
    };
    format!(
        "INSERT INTO migration_checkpoint (run_id, county_code, step, completed_at, rows_loaded) VALUES {}, {}",
        row("people", 0),
        row("money", rows)
    )
}

/// One county in one transaction. Returns the rows inserted per table.
///
/// In a bulk load on PostgreSQL the payment lines go over `streams` connections of their own,
/// each in a transaction that commits just before the county's, while the county's own
/// connection copies its other tables: the server parses on more than one core all along.
/// A crash between those commits leaves payment lines of a county without its checkpoint: a
/// resumed bulk load removes them first (see `loader::remove_uncommitted_counties`).
pub(crate) async fn load_county(
    stage: &Stage,
    db: &Db,
    county: &str,
    run_id: &str,
    mode: Mode,
    streams: usize,
) -> Result<BTreeMap<String, u64>, LoadError> {
    let engine = db.engine();
    let what = format!("loading county {county}");
    let keys = match mode {
        Mode::Bulk => Vec::new(),
        Mode::Replace => staged_keys(stage, county)?,
    };
    let mut totals = BTreeMap::new();
    let mut rows_total = 0u64;
    // The same steps on either engine: remove what the county replaces, insert the stage's
    // rows, record the checkpoint, commit.
    macro_rules! county_transaction {
        ($tx:ident, $fill_keys:ident, $insert_all:ident) => {{
            if mode == Mode::Replace {
                $fill_keys(db, &mut $tx, &keys).await?;
                for sql in replace_statements(county, run_id, engine) {
                    sqlx::query(AssertSqlSafe(sql))
                        .execute(&mut *$tx)
                        .await
                        .map_err(sql_err(db, &what))?;
                }
            }
            for (table, n) in $insert_all(stage, db, &mut $tx, county, run_id).await? {
                *totals.entry(table.to_owned()).or_default() += n;
                rows_total += n;
            }
            fail::fail_point!("load::county_before_commit", |_| std::process::abort());
            sqlx::query(AssertSqlSafe(checkpoint(
                engine, county, run_id, rows_total,
            )))
            .execute(&mut *$tx)
            .await
            .map_err(sql_err(db, &what))?;
            $tx.commit().await.map_err(sql_err(db, &what))?;
        }};
    }
    match (db.as_postgres(), db.as_sqlite()) {
        (Some(pool), _) => {
            let main = pool.begin().await.map_err(sql_err(db, &what))?;
            let mut side = Vec::new();
            // Only a county with payment lines has them copied beside it (the unattributed
            // group holds rejects alone).
            if mode == Mode::Bulk && stage.platform_file(county, "payment").exists() {
                for _ in 0..streams {
                    side.push(pool.begin().await.map_err(sql_err(db, &what))?);
                }
            }
            let mut tx = PgCounty { main, side };
            county_transaction!(tx, fill_keys_postgres, copy_all);
        }
        (None, Some(pool)) => {
            // SQLite looks every foreign key up row by row; the load checks them all at once at
            // its end instead (`PRAGMA foreign_key_check`), as PostgreSQL does.
            let mut conn = pool.acquire().await.map_err(sql_err(db, &what))?;
            sqlx::raw_sql("PRAGMA foreign_keys = OFF")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(db, &what))?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(sql_err(db, &what))?;
            county_transaction!(tx, fill_keys_sqlite, insert_all_sqlite);
            sqlx::raw_sql("PRAGMA foreign_keys = ON")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(db, &what))?;
        }
        _ => {
            return Err(LoadError::UnsupportedTarget {
                url: db.url().to_string(),
                engine: engine.name(),
            });
        }
    }
    Ok(totals)
}

/// A county's transaction on PostgreSQL, and in a bulk load the transactions beside it that
/// share its payment lines' COPY. Statements run on the county's own (`main`); committing
/// commits the others first, so the county's checkpoint is the last thing to land.
struct PgCounty<'c> {
    main: sqlx::Transaction<'c, sqlx::Postgres>,
    side: Vec<sqlx::Transaction<'c, sqlx::Postgres>>,
}

impl std::ops::Deref for PgCounty<'_> {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        &self.main
    }
}

impl std::ops::DerefMut for PgCounty<'_> {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        &mut self.main
    }
}

impl PgCounty<'_> {
    async fn commit(self) -> Result<(), sqlx::Error> {
        let split = !self.side.is_empty();
        for side in self.side {
            side.commit().await?;
        }
        if split {
            fail::fail_point!("load::county_between_commits", |_| std::process::abort());
        }
        self.main.commit().await
    }
}

async fn fill_keys_postgres(
    db: &Db,
    tx: &mut PgCounty<'_>,
    keys: &[(&str, i64)],
) -> Result<(), LoadError> {
    let what = "listing the keys a county replaces";
    sqlx::raw_sql(
        "CREATE TEMP TABLE IF NOT EXISTS ykt_replace (tbl TEXT NOT NULL, k BIGINT NOT NULL) ON COMMIT DELETE ROWS",
    )
    .execute(&mut **tx)
    .await
    .map_err(sql_err(db, what))?;
    let mut copy = tx
        .copy_in_raw("COPY ykt_replace (tbl, k) FROM STDIN")
        .await
        .map_err(sql_err(db, what))?;
    let mut buf = Vec::with_capacity(1 << 20);
    for (tag, k) in keys {
        buf.extend_from_slice(format!("{tag}\t{k}\n").as_bytes());
        if buf.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buf))
                .await
                .map_err(sql_err(db, what))?;
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await.map_err(sql_err(db, what))?;
    }
    copy.finish().await.map_err(sql_err(db, what))?;
    Ok(())
}

async fn fill_keys_sqlite(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    keys: &[(&str, i64)],
) -> Result<(), LoadError> {
    let what = "listing the keys a county replaces";
    sqlx::raw_sql(
        "CREATE TEMP TABLE IF NOT EXISTS ykt_replace (tbl TEXT NOT NULL, k INTEGER NOT NULL); DELETE FROM ykt_replace",
    )
    .execute(&mut **tx)
    .await
    .map_err(sql_err(db, what))?;
    for chunk in keys.chunks(400) {
        let sql = format!(
            "INSERT INTO ykt_replace (tbl, k) VALUES {}",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (tag, k) in chunk {
            q = q.bind(*tag).bind(*k);
        }
        q.execute(&mut **tx).await.map_err(sql_err(db, what))?;
    }
    Ok(())
}

/// A staged file's columns (with `run_id` first for the bookkeeping tables) and its reader.
fn staged_rows(
    stage: &Stage,
    county: &str,
    file: &str,
    run_id: Option<&str>,
) -> Result<Option<(Vec<String>, TextTableReader)>, LoadError> {
    let path = stage.platform_file(county, file);
    if !path.exists() {
        return Ok(None);
    }
    let reader = TextTableReader::open(&path)?;
    let mut columns = reader.columns().to_vec();
    if run_id.is_some() {
        columns.insert(0, "run_id".to_owned());
    }
    Ok(Some((columns, reader)))
}

fn quote_column(c: &str) -> String {
    if c == "before" || c == "after" {
        format!("\"{c}\"")
    } else {
        c.to_owned()
    }
}

/// A county's staged tables into PostgreSQL, as (table, rows). In a bulk load the payment lines
/// go over the connections beside the county's own while it copies the other tables (the
/// constraints between them are set aside until the end of the load); otherwise one after
/// the other, in [`INSERTS`] order, on the county's connection.
async fn copy_all(
    stage: &Stage,
    db: &Db,
    tx: &mut PgCounty<'_>,
    county: &str,
    run_id: &str,
) -> Result<Vec<(&'static str, u64)>, LoadError> {
    let PgCounty { main, side } = tx;
    let beside = !side.is_empty();
    let (lines, rest): (Vec<_>, Vec<_>) = INSERTS.iter().partition(|i| beside && i.1 == "payment");
    let mut own = [&mut **main];
    let mut others: Vec<&mut sqlx::PgConnection> = side.iter_mut().map(|s| &mut **s).collect();
    let (mut done, lines) = tokio::try_join!(
        copy_files(stage, db, &mut own, county, rest, run_id),
        copy_files(stage, db, &mut others, county, lines, run_id)
    )?;
    done.extend(lines);
    Ok(done)
}

/// `inserts` one after the other, each over all of `connections`, as (table, rows).
async fn copy_files(
    stage: &Stage,
    db: &Db,
    connections: &mut [&mut sqlx::PgConnection],
    county: &str,
    inserts: Vec<&(&str, &'static str, bool)>,
    run_id: &str,
) -> Result<Vec<(&'static str, u64)>, LoadError> {
    let mut done = Vec::new();
    for &insert in inserts {
        let over = connections.iter_mut().map(|c| &mut **c).collect();
        done.push((
            insert.1,
            copy_file(stage, db, over, county, insert, run_id).await?,
        ));
    }
    Ok(done)
}

/// A county's staged tables into SQLite, one after the other in [`INSERTS`] order, as (table,
/// rows).
async fn insert_all_sqlite(
    stage: &Stage,
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    county: &str,
    run_id: &str,
) -> Result<Vec<(&'static str, u64)>, LoadError> {
    let mut done = Vec::new();
    for (file, table, bookkeeping) in INSERTS {
        let n = insert_file_sqlite(
            stage,
            db,
            tx,
            county,
            (file, table),
            bookkeeping.then_some(run_id),
        )
        .await?;
        done.push((table, n));
    }
    Ok(done)
}

/// PostgreSQL: `COPY … FROM STDIN` in text format. The staged file is decoded and encoded on
/// a thread of its own while this task sends what it made: ykt's share of the work and the
/// server's parsing run at once instead of taking turns. The payment lines of a county loaded
/// over several connections are dealt out to them chunk by chunk.
async fn copy_file(
    stage: &Stage,
    db: &Db,
    connections: Vec<&mut sqlx::PgConnection>,
    county: &str,
    (file, table, bookkeeping): (&str, &str, bool),
    run_id: &str,
) -> Result<u64, LoadError> {
    let run_id = bookkeeping.then_some(run_id);
    let Some((columns, reader)) = staged_rows(stage, county, file, run_id)? else {
        return Ok(0);
    };
    let what = format!("copying {table} of county {county}");
    let cols: Vec<String> = columns.iter().map(|c| quote_column(c)).collect();
    let statement = format!("COPY {table} ({}) FROM STDIN", cols.join(", "));
    let mut copies = Vec::new();
    for connection in connections {
        copies.push(
            connection
                .copy_in_raw(&statement)
                .await
                .map_err(sql_err(db, &what))?,
        );
    }
    // A few chunks in flight: the encoder stays ahead without holding the file in memory. With
    // several connections, chunk i goes to connection i mod n.
    let (senders, receivers): (Vec<_>, Vec<_>) = copies
        .iter()
        .map(|_| tokio::sync::mpsc::channel::<Vec<u8>>(2))
        .unzip();
    let run_id = run_id.map(str::to_owned);
    let encoder = tokio::task::spawn_blocking(move || {
        let mut next = (0..senders.len()).cycle();
        encode_copy(reader, run_id.as_deref(), |chunk| {
            let to = next.next().unwrap_or(0);
            senders[to].blocking_send(chunk).is_ok()
        })
    });
    let sent = futures_util::future::join_all(copies.into_iter().zip(receivers).map(
        |(mut copy, mut encoded)| async move {
            while let Some(chunk) = encoded.recv().await {
                // A failed send drops `encoded`: the encoder ends at its next chunk for it.
                copy.send(chunk).await?;
            }
            Ok(copy)
        },
    ))
    .await;
    let rows = encoder
        .await
        .map_err(|e| LoadError::Worker(e.to_string()))?;
    // A failed send's error is the one to tell; the other copies are abandoned with it.
    let mut copies = Vec::new();
    for copy in sent {
        copies.push(copy.map_err(sql_err(db, &what))?);
    }
    let rows = rows?;
    for copy in copies {
        copy.finish().await.map_err(sql_err(db, &what))?;
    }
    Ok(rows)
}

/// The size of the chunks [`encode_copy`] hands on.
const COPY_CHUNK: usize = 1 << 20;

/// A staged table as `COPY` text, `run_id` first when given, handed to `emit` in chunks of about
/// [`COPY_CHUNK`] bytes; stops early when `emit` returns false. Returns the rows encoded.
pub fn encode_copy(
    mut reader: TextTableReader,
    run_id: Option<&str>,
    mut emit: impl FnMut(Vec<u8>) -> bool,
) -> Result<u64, ykt_stage::StageError> {
    let mut buf: Vec<u8> = Vec::with_capacity(COPY_CHUNK + (64 << 10));
    let mut rows = 0u64;
    while let Some(batch) = reader.next_batch()? {
        for i in 0..batch.num_rows() {
            if let Some(run) = run_id {
                copy_text(&mut buf, Some(run));
                buf.push(b'\t');
            }
            for c in 0..batch.width() {
                if c > 0 {
                    buf.push(b'\t');
                }
                copy_text(&mut buf, batch.value(i, c));
            }
            buf.push(b'\n');
            rows += 1;
            if buf.len() >= COPY_CHUNK {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(COPY_CHUNK + (64 << 10)));
                if !emit(full) {
                    return Ok(rows);
                }
            }
        }
    }
    if !buf.is_empty() {
        emit(buf);
    }
    Ok(rows)
}

/// A value in COPY text format: `\N` for NULL; backslash, tab, newline and CR escaped.
pub fn copy_text(buf: &mut Vec<u8>, value: Option<&str>) {
    let escaped = |b: &u8| matches!(b, b'\\' | b'\t' | b'\n' | b'\r');
    match value {
        None => buf.extend_from_slice(b"\\N"),
        Some(v) if !v.as_bytes().iter().any(escaped) => buf.extend_from_slice(v.as_bytes()),
        Some(v) => {
            for b in v.bytes() {
                match b {
                    b'\\' => buf.extend_from_slice(b"\\\\"),
                    b'\t' => buf.extend_from_slice(b"\\t"),
                    b'\n' => buf.extend_from_slice(b"\\n"),
                    b'\r' => buf.extend_from_slice(b"\\r"),
                    _ => buf.push(b),
                }
            }
        }
    }
}

/// SQLite: prepared multi-row inserts inside the county's transaction.
///
/// The next statement's values are made while sqlx's SQLite thread runs the one before: one
/// after the other, the two kept one core busy between them (`perf record` of a county preset's
/// load: 80 % of its samples on the SQLite thread, 19 % reading and binding on ours). They are
/// made on this task, not on a thread of their own: values made on a thread of the blocking
/// pool and freed on SQLite's left the allocator holding 80 MiB more at the province preset
/// (half of the time sampled, 252 MiB against 169). Each cell is copied out of the rows read,
/// which are dropped here: moved into the values instead, so that SQLite's thread freed every
/// one of them, they held 35 MiB more (204 against 181; peak 259 against 222 MiB).
async fn insert_file_sqlite(
    stage: &Stage,
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    county: &str,
    (file, table): (&str, &str),
    run_id: Option<&str>,
) -> Result<u64, LoadError> {
    let Some((columns, reader)) = staged_rows(stage, county, file, run_id)? else {
        return Ok(0);
    };
    let what = format!("inserting {table} of county {county}");
    let mut inserts = SqliteInserts::new(reader, table, &columns, run_id);
    let mut next = inserts.next()?;
    let mut n = 0u64;
    while let Some((rows, insert)) = next.take() {
        // The statement is handed to SQLite's thread at its first poll, then the next one is
        // made here while it runs.
        let (inserted, made) = tokio::join!(insert.execute(&mut **tx), async { inserts.next() });
        inserted.map_err(sql_err(db, &what))?;
        next = made?;
        n += rows as u64;
    }
    Ok(n)
}

/// An insert of several rows with its values bound.
type SqliteInsert = sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// A staged table's rows as inserts of `per_statement` rows (fewer at the end of each batch
/// read): integer columns as integers where they read as one, the run first when the table
/// has one.
struct SqliteInserts<'a> {
    reader: TextTableReader,
    rows: std::vec::IntoIter<Vec<Option<String>>>,
    run_id: Option<&'a str>,
    integer: Vec<bool>,
    per_statement: usize,
    head: String,
    placeholders: String,
    /// The statement of `per_statement` rows, made once.
    full: std::sync::Arc<str>,
}

impl<'a> SqliteInserts<'a> {
    /// `columns` as [`staged_rows`] gives them (`run_id` first when there is a run).
    fn new(
        reader: TextTableReader,
        table: &str,
        columns: &[String],
        run_id: Option<&'a str>,
    ) -> Self {
        let per_statement = (30_000 / columns.len().max(1)).clamp(1, 500);
        let cols: Vec<String> = columns.iter().map(|c| quote_column(c)).collect();
        let mut inserts = SqliteInserts {
            reader,
            rows: Vec::new().into_iter(),
            run_id,
            integer: columns
                .iter()
                .map(|c| INTEGER_COLUMNS.contains(&c.as_str()))
                .collect(),
            per_statement,
            head: format!("INSERT INTO {table} ({}) VALUES ", cols.join(", ")),
            placeholders: format!("({})", vec!["?"; columns.len()].join(", ")),
            full: std::sync::Arc::from(""),
        };
        inserts.full = inserts.statement(per_statement).into();
        inserts
    }

    fn statement(&self, rows: usize) -> String {
        let values = vec![self.placeholders.as_str(); rows].join(", ");
        format!("{}{values}", self.head)
    }

    /// The next insert and its number of rows; `None` after the last row.
    fn next(&mut self) -> Result<Option<(usize, SqliteInsert)>, ykt_stage::StageError> {
        while self.rows.len() == 0 {
            match self.reader.next_rows()? {
                Some(rows) => self.rows = rows.into_iter(),
                None => return Ok(None),
            }
        }
        let n = self.rows.len().min(self.per_statement);
        let mut insert = if n == self.per_statement {
            sqlx::query(AssertSqlSafe(std::sync::Arc::clone(&self.full)))
        } else {
            sqlx::query(AssertSqlSafe(self.statement(n)))
        };
        for row in self.rows.by_ref().take(n) {
            let cells = self
                .run_id
                .map(str::to_owned)
                .into_iter()
                .map(Some)
                .chain(row.iter().cloned());
            for (value, is_int) in cells.zip(&self.integer) {
                insert = match (value, is_int) {
                    (Some(v), true) => match v.parse::<i64>() {
                        Ok(i) => insert.bind(i),
                        Err(_) => insert.bind(v),
                    },
                    (v, _) => insert.bind(v),
                };
            }
        }
        Ok(Some((n, insert)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A staged table of `rows` rows: an integer column and a text one.
    fn staged(name: &str, rows: usize) -> (std::path::PathBuf, TextTableReader) {
        let dir = std::env::temp_dir().join(format!("ykt-values-{name}-{}", std::process::id()));
        let path = dir.join("t.parquet");
        let mut writer = ykt_stage::TextTableWriter::create(&path, &["id", "name"]).unwrap();
        for i in 0..rows {
            let id = if i == 7 {
                "x7".to_owned()
            } else {
                i.to_string()
            };
            writer
                .write(&[Some(id), (i % 3 != 0).then(|| format!("n{i}"))])
                .unwrap();
        }
        writer.finish().unwrap();
        (dir, TextTableReader::open(&path).unwrap())
    }

    /// The values of a SQLite load: every row once, in statements of `per_statement` rows,
    /// fewer only at the end of a batch read, the run's cell first.
    #[test]
    fn sqlite_values_come_in_whole_statements_every_row_once() {
        use sqlx::{Arguments, Execute};
        for (rows, expected) in [
            (1234usize, vec![500, 500, 234]),
            // Past one batch read (8,192 rows): a statement never spans two.
            (
                10_000,
                [vec![500; 16], vec![192], vec![500; 3], vec![308]].concat(),
            ),
            (0, vec![]),
        ] {
            let (dir, reader) = staged(&format!("whole-{rows}"), rows);
            let columns = ["run_id", "id", "name"].map(str::to_owned);
            let mut values = SqliteInserts::new(reader, "t", &columns, Some("run-1"));
            let mut statements = Vec::new();
            while let Some((n, mut insert)) = values.next().unwrap() {
                let v = insert.take_arguments().unwrap().unwrap();
                assert_eq!(v.len(), n * 3, "every row's three cells");
                statements.push(n);
            }
            assert_eq!(statements, expected, "{rows} rows");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut buf = Vec::new();
        copy_text(&mut buf, Some("a\tb\\c\nd\re"));
        buf.push(b'|');
        copy_text(&mut buf, None);
        assert_eq!(buf, b"a\\tb\\\\c\\nd\\re|\\N");
    }

    /// COPY text read back by the reconciliation's reader of PostgreSQL's COPY lines
    /// ([`ykt_db::TextRows::push_copy_line`]): lines, tab-separated fields, `\N` is NULL; the
    /// encoder here and that decoder written apart.
    fn parse_copy(text: &[u8]) -> Vec<Vec<Option<String>>> {
        let mut copy = ykt_db::CopyText::default();
        copy.push(text).expect("lines COPY reads");
        let table = copy.finish().expect("every row ends with a newline");
        (0..table.len())
            .map(|r| table.row(r).map(|c| c.map(str::to_owned)).collect())
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever text a staged table holds (tabs, newlines, backslashes, a literal `\N`),
        /// its COPY encoding reads back as the same rows, and chunks end only between rows.
        #[test]
        fn staged_rows_read_back_from_their_copy_text(
            rows in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::option::of("(\\\\N|[a-z\\\\\t\n\r 一卡通]){0,12}"),
                    3,
                ),
                0..300,
            ),
            run in proptest::option::of("[a-z0-9-]{1,8}"),
        ) {
            let dir = std::env::temp_dir().join(format!(
                "ykt-copy-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let path = dir.join("t.parquet");
            let mut writer = ykt_stage::TextTableWriter::create(&path, &["a", "b", "c"]).unwrap();
            for row in &rows {
                writer.write(row).unwrap();
            }
            writer.finish().unwrap();
            let reader = TextTableReader::open(&path).unwrap();
            let mut text = Vec::new();
            let n = encode_copy(reader, run.as_deref(), |chunk| {
                assert_eq!(chunk.last(), Some(&b'\n'), "a chunk ends between rows");
                text.extend(chunk);
                true
            })
            .unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            let expected: Vec<Vec<Option<String>>> = rows
                .iter()
                .map(|row| run.iter().cloned().map(Some).chain(row.iter().cloned()).collect())
                .collect();
            proptest::prop_assert_eq!(n, rows.len() as u64);
            proptest::prop_assert_eq!(parse_copy(&text), expected);
        }
    }
}
