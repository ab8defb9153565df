//! One connection pool over whichever engine a URL names.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::MySqlConnection;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::legacy::MYSQL_PLAIN_STAMP_TYPES;
use crate::{CopyText, CopyTextError, DbError, DbUrl, Engine, TextRows};

/// Runs `$sql` on `$conn` (a connection or a pool) and hands its rows, every column text, to
/// `$on_page` `$page_size` at a time as the server sends them: the same loop on each engine.
/// `Ok(Err(_))` is `$on_page`'s own error. With `text protocol`, the query goes to MariaDB as
/// plain text and its rows come back as text (see [`mysql_text_cell`]).
macro_rules! pages {
    ($conn:expr, $sql:expr, $page_size:expr, $on_page:expr) => {
        pages!(@rows sqlx::query(AssertSqlSafe($sql.to_owned())).fetch($conn), decode_text_row, $page_size, $on_page)
    };
    (text protocol $conn:expr, $sql:expr, $page_size:expr, $on_page:expr) => {
        pages!(@rows sqlx::raw_sql(AssertSqlSafe($sql.to_owned())).fetch($conn), decode_mysql_text_row, $page_size, $on_page)
    };
    (@rows $rows:expr, $decode:path, $page_size:expr, $on_page:expr) => {
        async {
            use futures_util::TryStreamExt;
            let mut rows = $rows;
            let mut page = Vec::with_capacity($page_size);
            let mut n = 0u64;
            while let Some(row) = rows.try_next().await? {
                page.push($decode(&row, n == 0)?);
                n += 1;
                if page.len() >= $page_size {
                    let full = std::mem::replace(&mut page, Vec::with_capacity($page_size));
                    if let Err(e) = $on_page(full) {
                        return Ok(Err(e));
                    }
                }
            }
            if !page.is_empty()
                && let Err(e) = $on_page(page)
            {
                return Ok(Err(e));
            }
            Ok::<Result<u64, E>, sqlx::Error>(Ok(n))
        }
        .await
    };
}

/// Runs `$sql` on `$conn` (a connection or a pool) and gathers its rows, every column text,
/// into [`TextRows`] as the server sends them: each full page of `$page_size` rows to
/// `$on_page` (`Ok(Err(_))` is its own error), the rest returned with the count of rows read. The column types are checked
/// on the first row (each row of a PostgreSQL or MariaDB result has the same), on every row
/// where `$check_all`: in SQLite, which types each value on its own (see [`decode_text_row`]).
/// With `text protocol`, as [`pages!`].
macro_rules! text_pages {
    ($conn:expr, $sql:expr, $check_all:expr, $page_size:expr, $on_page:expr) => {
        text_pages!(@rows sqlx::query(AssertSqlSafe($sql.to_owned())).fetch($conn),
            typed, $check_all, $page_size, $on_page)
    };
    (text protocol $conn:expr, $sql:expr, $page_size:expr, $on_page:expr) => {
        text_pages!(@rows sqlx::raw_sql(AssertSqlSafe($sql.to_owned())).fetch($conn),
            mysql_text_cell, false, $page_size, $on_page)
    };
    // A first row's cell: asked of the driver as `&str` (its type checked), or of `$f`.
    (@cell typed, $row:expr, $i:expr) => {
        $row.try_get::<Option<&str>, _>($i)
    };
    (@cell $f:path, $row:expr, $i:expr) => {
        $f($row, $i)
    };
    (@rows $rows:expr, $checked:tt, $check_all:expr, $page_size:expr, $on_page:expr) => {
        async {
            use futures_util::TryStreamExt;
            let mut rows = $rows;
            let mut page: Option<TextRows> = None;
            let (check_all, page_size): (bool, usize) = ($check_all, $page_size);
            let mut n = 0u64;
            while let Some(row) = rows.try_next().await? {
                let table = page.get_or_insert_with(|| TextRows::new(row.len()));
                let check = n == 0 || check_all;
                n += 1;
                table.try_push_row((0..row.len()).map(|i| {
                    if check {
                        text_pages!(@cell $checked, &row, i)
                    } else {
                        row.try_get_unchecked::<Option<&str>, _>(i)
                    }
                }))?;
                if table.len() >= page_size {
                    if let Err(e) = $on_page(&*table) {
                        return Ok(Err(e));
                    }
                    table.clear();
                }
            }
            Ok(Ok((page.unwrap_or_default(), n)))
        }
        .await
    };
}

/// A query's rows by `COPY (query) TO STDOUT` in text format, each line split into cells as it
/// arrives (one `CopyData` message a line, as PostgreSQL sends them; a line split across
/// messages is joined first): each full page of `page_size` rows to `on_page` (`Ok(Err(_))` is
/// its own error), the rest returned with the count of rows read, as [`text_pages!`] does.
async fn copy_text_pages<E>(
    pool: &PgPool,
    sql: &str,
    page_size: usize,
    on_page: &mut (dyn FnMut(&TextRows) -> Result<(), E> + Send),
) -> Result<Result<(TextRows, u64), E>, sqlx::Error> {
    use futures_util::TryStreamExt;
    use sqlx::postgres::PgPoolCopyExt;
    let statement = format!("COPY ({sql}) TO STDOUT");
    let mut lines = pool.copy_out_raw(&statement).await?;
    let unreadable = |e: CopyTextError| sqlx::Error::Protocol(e.to_string());
    let mut text = CopyText::default();
    let (mut n, mut failed) = (0u64, None);
    while let Some(data) = lines.try_next().await? {
        text.push(&data).map_err(unreadable)?;
        // After an error of `on_page`, the rest is read and dropped: the connection goes back
        // to its pool at the end of the `COPY`, not inside it.
        while let Some(taken) = text.full_page(page_size, |page| {
            n += page.len() as u64;
            if failed.is_none() {
                on_page(page)
            } else {
                Ok(())
            }
        }) {
            if let Err(e) = taken {
                failed = Some(e);
            }
        }
    }
    if let Some(e) = failed {
        return Ok(Err(e));
    }
    let rest = text.finish().map_err(unreadable)?;
    n += rest.len() as u64;
    Ok(Ok((rest, n)))
}

/// Each SQLite connection's page cache, in KiB (`PRAGMA cache_size` takes it negative), and with
/// it the memory a sort holds before it goes to a temporary file. Up to 8 connections are open
/// at once (a reconciliation's two pools), 96 MiB at most in all.
///
/// SQLite's heap is not capped in another way: the build leaves out its memory statistics
/// (`.cargo/config.toml`), which a `soft_heap_limit` needs. With them, every allocation and
/// free of every connection took one process-wide mutex; `perf record` of a province
/// reconciliation had 45 % of its samples in the kernel, switching between threads that waited
/// for it. Without them, at the county preset: `ykt reconcile` SQLite / SQLite 13.8–14.6 →
/// 6.3–6.7 s and `ykt migrate` SQLite → SQLite 12.8–13.0 → 10.0–10.1 s (32 MiB caches and a
/// 96 MiB soft limit before; the peaks under the README's Performance).
const SQLITE_CACHE_KIB: i64 = 12 << 10;

/// Rows a SQLite connection's own thread may run ahead of the reader (sqlx's default: 50).
/// With 50, the thread and the reader handed each other the CPU every few rows: a county's
/// extract (one million lines) spent its time in thread switches, locks and frees of rows
/// made on the other thread, 6.95–7.14 s; with 1024, 4.93–5.31 s and about 10 MiB more (4096:
/// 4.55 s, 30 MiB more). Over 3 alternating pairs at the county preset, `ykt migrate` SQLite →
/// SQLite 15.42–15.98 → 13.04–13.85 s and `ykt reconcile` 15.76–16.70 → 13.49–13.71 s, peaks
/// within the runs' spread (README, Performance).
const SQLITE_ROW_BUFFER: usize = 1024;

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
    Postgres(PgPool),
}

/// A connection pool on one database, remembering its (redactable) URL for messages.
#[derive(Debug, Clone)]
pub struct Db {
    url: DbUrl,
    pool: Pool,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static CA_FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The CA certificate that server certificates are verified against (`--ca-file`), for URLs
/// that do not name one themselves (`sslrootcert=` on PostgreSQL, `ssl-ca=` on MariaDB). The
/// system's trusted roots are used besides.
pub fn set_ca_file(path: &std::path::Path) {
    let _ = CA_FILE.set(path.to_owned());
}

/// A PostgreSQL URL's options: its own `sslmode` and `sslrootcert`, else `--ca-file`; and the
/// application name that tells the server which ykt this is.
pub(crate) fn pg_options(url: &DbUrl) -> Result<PgConnectOptions, sqlx::Error> {
    pg_options_with(url, &[])
}

/// [`pg_options`] with `session` settings besides [`PG_SESSION`] (a URL's own still win).
fn pg_options_with(url: &DbUrl, session: &[(&str, &str)]) -> Result<PgConnectOptions, sqlx::Error> {
    // Statements carry legacy values (ID numbers among them): never logged, slow or not.
    let mut options = PgConnectOptions::from_str(url.expose())?
        .application_name(&crate::lock::identity())
        .disable_statement_logging();
    if let Some(ca) = CA_FILE.get()
        && !url.expose().contains("sslrootcert=")
    {
        options = options.ssl_root_cert(ca);
    }
    // ykt's reads are few large scans and aggregations: compiling each with JIT cost more than
    // it saved (0.4 to 1.1 s a query on a county's million lines), and hash aggregations over
    // a million groups spill to disk in the default 4 MB. A URL's own `options=` wins.
    for &(setting, value) in PG_SESSION.iter().chain(session) {
        if !url.expose().contains(setting) {
            options = options.options([(setting, value)]);
        }
    }
    Ok(options)
}

/// Session settings of every PostgreSQL connection ykt opens (README: Performance).
pub const PG_SESSION: [(&str, &str); 2] = [("jit", "off"), ("work_mem", "64MB")];

/// Session settings of a reconciliation's connections besides [`PG_SESSION`]: no parallel
/// workers. Its three paths already keep the server's cores busy with a query each; a parallel
/// plan only added its workers' overhead (county preset, 2 cores: the loaded breakdown's
/// `GROUP BY` 0.4 core-seconds on three processes, 0.22 alone; the reconciliation, 5 pairs,
/// 3.02–3.19 → 2.87–3.07 s, the machine's CPU 5.69 → 5.44 core-seconds).
pub const PG_READING_SESSION: [(&str, &str); 1] = [("max_parallel_workers_per_gather", "0")];

/// A MariaDB URL's options: its own `ssl-mode` and `ssl-ca`, else `--ca-file`; a URL without
/// a password takes it as the MariaDB client would (`MYSQL_PWD`, then the option files).
pub(crate) fn mysql_options(url: &DbUrl) -> Result<MySqlConnectOptions, sqlx::Error> {
    let mut options = MySqlConnectOptions::from_str(url.expose())?.disable_statement_logging();
    if !url.has_password()
        && let Some(password) = crate::option_files::mysql_password()
    {
        options = options.password(&password);
    }
    if let Some(ca) = CA_FILE.get()
        && !url.expose().contains("ssl-ca=")
    {
        options = options.ssl_ca(ca);
    }
    Ok(options)
}

impl Db {
    /// Connects to an existing database. A missing SQLite file is an error, not a new file.
    pub async fn connect(url: &DbUrl) -> Result<Db, DbError> {
        Self::open(url, false, &[]).await
    }

    /// Connects for a reconciliation's reads: on PostgreSQL with [`PG_READING_SESSION`].
    pub async fn connect_for_reading(url: &DbUrl) -> Result<Db, DbError> {
        Self::open(url, false, &PG_READING_SESSION).await
    }

    /// Connects, creating the database first when it does not exist (a SQLite file, or a
    /// PostgreSQL/MySQL database on a reachable server).
    pub async fn connect_or_create(url: &DbUrl) -> Result<Db, DbError> {
        if url.engine() != Engine::Sqlite {
            create_database_if_missing(url).await.map_err(|e| match e {
                // Name the server the user asked for, not the maintenance database.
                DbError::Connect { source, .. } => DbError::Connect {
                    url: url.to_string(),
                    source,
                },
                other => other,
            })?;
        }
        Self::open(url, true, &[]).await
    }

    async fn open(url: &DbUrl, create: bool, session: &[(&str, &str)]) -> Result<Db, DbError> {
        let connect_err = |source| DbError::Connect {
            url: url.to_string(),
            source,
        };
        let pool = match url.engine() {
            Engine::Sqlite => {
                let options = SqliteConnectOptions::from_str(url.expose())
                    .map_err(connect_err)?
                    .disable_statement_logging()
                    .create_if_missing(create)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    // 12 MiB of page cache instead of 2: bulk loads and index builds need it.
                    // Sorts and temporary tables that outgrow it go to temporary files (the
                    // default), not to memory: a GROUP BY over a province's ten million lines
                    // held over a gigabyte in memory.
                    .pragma("cache_size", (-SQLITE_CACHE_KIB).to_string())
                    .row_buffer_size(SQLITE_ROW_BUFFER);
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Sqlite(pool)
            }
            Engine::MySql => {
                let options = mysql_options(url).map_err(connect_err)?;
                // One direct connection first: a pool would only say it timed out, while this
                // says why (refused, wrong password, no such database).
                MySqlConnection::connect_with(&options)
                    .await
                    .map_err(connect_err)?
                    .close()
                    .await
                    .map_err(connect_err)?;
                let pool = MySqlPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::MySql(pool)
            }
            Engine::Postgres => {
                let options = pg_options_with(url, session).map_err(connect_err)?;
                PgConnection::connect_with(&options)
                    .await
                    .map_err(connect_err)?
                    .close()
                    .await
                    .map_err(connect_err)?;
                // A bulk load holds up to 4 county transactions, each with one more for its
                // payment lines, and its last county up to 4 of those (ykt-load): 3 × 2 + 5 =
                // 11, so 12 never makes one wait for another.
                let pool = PgPoolOptions::new()
                    .max_connections(12)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Postgres(pool)
            }
        };
        Ok(Db {
            url: url.clone(),
            pool,
        })
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    pub fn engine(&self) -> Engine {
        self.url.engine()
    }

    /// The SQLite pool, for engine-specific fast paths.
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(p) => Some(p),
            _ => None,
        }
    }

    /// The PostgreSQL pool, for engine-specific fast paths (COPY).
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Some(p),
            _ => None,
        }
    }

    /// The MySQL/MariaDB pool.
    pub fn as_mysql(&self) -> Option<&MySqlPool> {
        match &self.pool {
            Pool::MySql(p) => Some(p),
            _ => None,
        }
    }

    fn query_err(&self, what: &str) -> impl FnOnce(sqlx::Error) -> DbError + '_ {
        let what = what.to_owned();
        move |source| DbError::Query {
            url: self.url.to_string(),
            what,
            source,
        }
    }

    /// Runs one or more statements separated by `;`, without results.
    pub async fn execute_script(&self, what: &str, sql: &str) -> Result<(), DbError> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.pool {
            Pool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Pool::MySql(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Pool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        }
        .map_err(self.query_err(what))
    }

    /// Runs one statement and returns the rows it affected.
    pub async fn execute(&self, what: &str, sql: &str) -> Result<u64, DbError> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Pool::MySql(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        }
        .map_err(self.query_err(what))
    }

    /// Runs statements in one transaction: all of them or none.
    pub async fn execute_in_transaction(
        &self,
        what: &str,
        statements: &[String],
    ) -> Result<(), DbError> {
        macro_rules! all_or_none {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for s in statements {
                    sqlx::raw_sql(AssertSqlSafe(s.clone()))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }};
        }
        let result: Result<(), sqlx::Error> = async {
            match &self.pool {
                Pool::Sqlite(p) => all_or_none!(p),
                Pool::MySql(p) => all_or_none!(p),
                Pool::Postgres(p) => all_or_none!(p),
            }
        }
        .await;
        result.map_err(self.query_err(what))
    }

    /// Runs one statement inside a transaction that is always rolled back: how a guard is
    /// tested without changing anything. Returns the rows it would have affected, or the
    /// database's own message when it refused.
    pub async fn try_rolled_back(&self, sql: &str) -> Result<u64, String> {
        let sql = AssertSqlSafe(sql.to_owned());
        let message = |e: sqlx::Error| match e.as_database_error() {
            Some(d) => d.message().to_owned(),
            None => e.to_string(),
        };
        macro_rules! rolled_back {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await.map_err(message)?;
                let result = sqlx::query(sql).execute(&mut *tx).await;
                let _ = tx.rollback().await;
                result.map(|r| r.rows_affected()).map_err(message)
            }};
        }
        match &self.pool {
            Pool::Sqlite(p) => rolled_back!(p),
            Pool::MySql(p) => rolled_back!(p),
            Pool::Postgres(p) => rolled_back!(p),
        }
    }

    /// Runs a query whose every column is text (cast in SQL where needed) and returns the rows.
    ///
    /// All rows are held at once (twice, briefly: the driver's and the strings); callers read
    /// in bounded pages or key ranges.
    pub async fn fetch_text_rows(
        &self,
        what: &str,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let sql = AssertSqlSafe(sql.to_owned());
        let result = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(sql)
                .fetch_all(p)
                .await
                .and_then(decode_text_rows),
            Pool::MySql(p) => sqlx::query(sql)
                .fetch_all(p)
                .await
                .and_then(decode_text_rows),
            Pool::Postgres(p) => sqlx::query(sql)
                .fetch_all(p)
                .await
                .and_then(decode_text_rows),
        };
        result.map_err(self.query_err(what))
    }

    /// Runs a query whose every column is text (cast in SQL where needed) and returns its rows
    /// in one [`TextRows`], read as the server sends them: no `String` per cell, and the
    /// driver's rows are not all held first. The same values as [`Db::fetch_text_rows`].
    ///
    /// On PostgreSQL the query runs as `COPY (…) TO STDOUT`, whose text lines are split here:
    /// no row description, no decoding cell by cell. A column that is not text comes out as
    /// its type's output function writes it, which is what `CAST(… AS TEXT)` gives for every
    /// type but `char(n)` (the cast drops the padding) and `boolean` (`t`, not `true`): see
    /// [`Db::text_columns`].
    pub async fn fetch_text_table(&self, what: &str, sql: &str) -> Result<TextRows, DbError> {
        let mut no_pages = |_: &TextRows| Ok::<(), DbError>(());
        let read = self.text_table_pages(sql, usize::MAX, &mut no_pages).await;
        Ok(read.map_err(self.query_err(what))??.0)
    }

    /// [`Db::fetch_text_table`] a page at a time: each page of `page_size` rows to `on_page`
    /// as the server sends them (memory holds one page, not the result). Returns the rows read.
    pub async fn stream_text_table<E: From<DbError>>(
        &self,
        what: &str,
        sql: &str,
        page_size: usize,
        on_page: &mut (dyn FnMut(&TextRows) -> Result<(), E> + Send),
    ) -> Result<u64, E> {
        let read = self.text_table_pages(sql, page_size.max(1), on_page).await;
        let (rest, n) = read.map_err(|e| E::from(self.query_err(what)(e)))??;
        if !rest.is_empty() {
            on_page(&rest)?;
        }
        Ok(n)
    }

    /// The one loop of [`Db::fetch_text_table`] and [`Db::stream_text_table`]: full pages to
    /// `on_page`, the rest returned.
    async fn text_table_pages<E>(
        &self,
        sql: &str,
        page_size: usize,
        on_page: &mut (dyn FnMut(&TextRows) -> Result<(), E> + Send),
    ) -> Result<Result<(TextRows, u64), E>, sqlx::Error> {
        match &self.pool {
            Pool::Sqlite(p) => text_pages!(p, sql, true, page_size, on_page),
            Pool::MySql(p) => text_pages!(p, sql, false, page_size, on_page),
            Pool::Postgres(p) => copy_text_pages(p, sql, page_size, on_page).await,
        }
    }

    /// `columns` of `table` as a select list whose every value reads as the column's text in
    /// [`Db::fetch_text_table`]: on PostgreSQL a column is cast only where `COPY`'s output
    /// would differ from the cast or the type is not one known to agree (numbers, dates and
    /// text agree: the cast is their output function, and casting a million lines' cells cost
    /// PostgreSQL about a third of reading them); elsewhere every column is cast.
    pub async fn text_columns(
        &self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<String>, DbError> {
        let cast = |c: &String| cast_text(self.engine(), c);
        if self.engine() != Engine::Postgres {
            return Ok(columns.iter().map(cast).collect());
        }
        let sql = format!(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = {} \
             AND data_type IN ('bigint', 'integer', 'smallint', 'numeric', 'text', 'character varying', 'date')",
            quote_literal(self.engine(), table)
        );
        let plain: std::collections::HashSet<String> = self
            .fetch_text_rows("reading the target's column types", &sql)
            .await?
            .into_iter()
            .filter_map(|mut r| r.first_mut().and_then(Option::take))
            .collect();
        Ok(columns
            .iter()
            .map(|c| {
                if plain.contains(c) {
                    c.clone()
                } else {
                    cast(c)
                }
            })
            .collect())
    }

    /// Runs a query returning one integer (NULL and no row give `None`).
    ///
    /// Reads every row (there is one): a SQLite statement left half-read keeps its read
    /// snapshot open, and the connection would then see a stale schema and stale rows.
    pub async fn fetch_i64(&self, what: &str, sql: &str) -> Result<Option<i64>, DbError> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar::<_, Option<i64>>(sql).fetch_all(p).await,
            Pool::MySql(p) => sqlx::query_scalar::<_, Option<i64>>(sql).fetch_all(p).await,
            Pool::Postgres(p) => sqlx::query_scalar::<_, Option<i64>>(sql).fetch_all(p).await,
        }
        .map(|rows| rows.into_iter().next().flatten())
        .map_err(self.query_err(what))
    }

    /// Whether a table exists in the connected database (current schema).
    pub async fn table_exists(&self, table: &str) -> Result<bool, DbError> {
        let name = quote_literal(self.engine(), table);
        let sql = match self.engine() {
            Engine::Sqlite => {
                format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = {name}")
            }
            Engine::MySql => format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = {name}"
            ),
            Engine::Postgres => format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = {name}"
            ),
        };
        Ok(self
            .fetch_i64("looking up a table", &sql)
            .await?
            .unwrap_or(0)
            > 0)
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::MySql(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// One connection holding a read-only transaction, so that every table read through it
/// comes from the same consistent snapshot of the database. On MySQL/MariaDB its reads are
/// plain queries (`sqlx::raw_sql`), which the server answers in its text protocol: a
/// `DATETIME` comes as its text, so the legacy reads need no `DATE_FORMAT` for it (see
/// `mysql_text_cell`).
pub struct Snapshot {
    url: DbUrl,
    conn: SnapshotConn,
}

enum SnapshotConn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

fn decode_text_rows<R: Row>(rows: Vec<R>) -> Result<Vec<Vec<Option<String>>>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    decode_rows(&rows, decode_text_row)
}

/// Every row of a result decoded by `decode`, told which row is the first.
fn decode_rows<R>(
    rows: &[R],
    decode: impl Fn(&R, bool) -> Result<Vec<Option<String>>, sqlx::Error>,
) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| decode(row, i == 0))
        .collect()
}

/// A row's columns as text. A column that is not text is an error, found on the `first` row
/// of a result: PostgreSQL and MariaDB give every row of a result the same column types, so
/// the rest are decoded without asking again (the check built and dropped a list of six
/// types per value: a third of the decoding of the reconciliation's target rows). SQLite
/// types each value on its own: there every value is checked.
fn decode_text_row<R: Row>(row: &R, first: bool) -> Result<Vec<Option<String>>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if first || <R::Database as sqlx::Database>::NAME == "SQLite" {
        (0..row.len()).map(|i| row.try_get(i)).collect()
    } else {
        (0..row.len()).map(|i| row.try_get_unchecked(i)).collect()
    }
}

/// A cell of a row MariaDB sent in its text protocol (a query without parameters, as every
/// read through a [`Snapshot`] is sent), checked to be one the reads may take as text: a
/// string type in a character set, as sqlx's `&str` takes it, or a date-time without
/// fractions of a second, which MariaDB sends as `YYYY-MM-DD hh:mm:ss`, the text
/// `DATE_FORMAT(…, '%Y-%m-%d %H:%i:%s')` makes of it (see `StoredColumns::is_plain_stamp`).
/// A number or anything else is refused, as through the binary protocol: every read casts
/// what it does not take bare. A NULL is `None` whatever its column's type, as sqlx's own
/// check has it (a `NULL` selected for a column a table lacks has the type `NULL`).
fn mysql_text_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Option<&str>, sqlx::Error> {
    use sqlx::{Column, TypeInfo, ValueRef};
    if row.try_get_raw(i)?.is_null() {
        return Ok(None);
    }
    let ty = row.column(i).type_info();
    let stamp = MYSQL_PLAIN_STAMP_TYPES
        .iter()
        .any(|t| ty.name().eq_ignore_ascii_case(t));
    if !(<str as sqlx::Type<sqlx::MySql>>::compatible(ty) || stamp) {
        return Err(sqlx::Error::ColumnDecode {
            index: i.to_string(),
            source: format!("a {} column is not read as text", ty.name()).into(),
        });
    }
    row.try_get_unchecked(i)
}

/// [`decode_text_row`] of a row MariaDB sent in its text protocol: the `first` row's cells
/// checked by [`mysql_text_cell`].
fn decode_mysql_text_row(
    row: &sqlx::mysql::MySqlRow,
    first: bool,
) -> Result<Vec<Option<String>>, sqlx::Error> {
    (0..row.len())
        .map(|i| {
            let cell = if first {
                mysql_text_cell(row, i)
            } else {
                row.try_get_unchecked::<Option<&str>, _>(i)
            };
            cell.map(|c| c.map(str::to_owned))
        })
        .collect()
}

impl Db {
    /// Opens a consistent read-only snapshot: `REPEATABLE READ, READ ONLY` on PostgreSQL,
    /// `WITH CONSISTENT SNAPSHOT, READ ONLY` on MySQL/MariaDB, a read transaction on SQLite.
    pub async fn snapshot(&self) -> Result<Snapshot, DbError> {
        let err = self.query_err("opening a consistent snapshot");
        let conn = match &self.pool {
            Pool::Sqlite(p) => {
                let mut c = p.acquire().await.map_err(err)?;
                sqlx::raw_sql("BEGIN")
                    .execute(&mut *c)
                    .await
                    .map_err(self.query_err("opening a consistent snapshot"))?;
                SnapshotConn::Sqlite(c)
            }
            Pool::MySql(p) => {
                let mut c = p.acquire().await.map_err(err)?;
                sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .execute(&mut *c)
                    .await
                    .map_err(self.query_err("opening a consistent snapshot"))?;
                SnapshotConn::MySql(c)
            }
            Pool::Postgres(p) => {
                let mut c = p.acquire().await.map_err(err)?;
                sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *c)
                    .await
                    .map_err(self.query_err("opening a consistent snapshot"))?;
                SnapshotConn::Postgres(c)
            }
        };
        Ok(Snapshot {
            url: self.url.clone(),
            conn,
        })
    }
}

impl Snapshot {
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    pub fn engine(&self) -> Engine {
        self.url.engine()
    }

    /// Runs a query whose every column is text and returns the rows.
    pub async fn fetch_text_rows(
        &mut self,
        what: &str,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let q = AssertSqlSafe(sql.to_owned());
        let result = match &mut self.conn {
            SnapshotConn::Sqlite(c) => sqlx::query(q)
                .fetch_all(&mut **c)
                .await
                .and_then(decode_text_rows),
            SnapshotConn::MySql(c) => sqlx::raw_sql(q)
                .fetch_all(&mut **c)
                .await
                .and_then(|rows| decode_rows(&rows, decode_mysql_text_row)),
            SnapshotConn::Postgres(c) => sqlx::query(q)
                .fetch_all(&mut **c)
                .await
                .and_then(decode_text_rows),
        };
        result.map_err(|source| DbError::Query {
            url: self.url.to_string(),
            what: what.to_owned(),
            source,
        })
    }

    /// [`Snapshot::stream_text_rows`] with each page in one [`TextRows`]: no `String` per
    /// cell. Returns the rows read.
    pub async fn stream_text_table<E: From<DbError>>(
        &mut self,
        what: &str,
        sql: &str,
        page_size: usize,
        on_page: &mut dyn FnMut(&TextRows) -> Result<(), E>,
    ) -> Result<u64, E> {
        let page_size = page_size.max(1);
        let result: Result<Result<(TextRows, u64), E>, sqlx::Error> = match &mut self.conn {
            SnapshotConn::Sqlite(c) => text_pages!(&mut **c, sql, true, page_size, on_page),
            SnapshotConn::MySql(c) => text_pages!(text protocol &mut **c, sql, page_size, on_page),
            SnapshotConn::Postgres(c) => text_pages!(&mut **c, sql, false, page_size, on_page),
        };
        let (rest, n) = match result {
            Ok(read) => read?,
            Err(source) => {
                return Err(DbError::Query {
                    url: self.url.to_string(),
                    what: what.to_owned(),
                    source,
                }
                .into());
            }
        };
        if !rest.is_empty() {
            on_page(&rest)?;
        }
        Ok(n)
    }

    /// Runs a query whose every column is text and hands its rows to `on_page`, `page_size`
    /// at a time, as the server sends them: one query, so the server produces the next rows
    /// while these are handled; memory holds one page.
    pub async fn stream_text_rows<E: From<DbError>>(
        &mut self,
        what: &str,
        sql: &str,
        page_size: usize,
        on_page: &mut dyn FnMut(Vec<Vec<Option<String>>>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let result: Result<Result<u64, E>, sqlx::Error> = match &mut self.conn {
            SnapshotConn::Sqlite(c) => pages!(&mut **c, sql, page_size, on_page),
            SnapshotConn::MySql(c) => pages!(text protocol &mut **c, sql, page_size, on_page),
            SnapshotConn::Postgres(c) => pages!(&mut **c, sql, page_size, on_page),
        };
        match result {
            Ok(done) => done,
            Err(source) => Err(DbError::Query {
                url: self.url.to_string(),
                what: what.to_owned(),
                source,
            }
            .into()),
        }
    }

    /// Ends the snapshot (nothing was written).
    pub async fn end(mut self) -> Result<(), DbError> {
        let result = match &mut self.conn {
            SnapshotConn::Sqlite(c) => sqlx::raw_sql("COMMIT").execute(&mut **c).await.map(drop),
            SnapshotConn::MySql(c) => sqlx::raw_sql("COMMIT").execute(&mut **c).await.map(drop),
            SnapshotConn::Postgres(c) => sqlx::raw_sql("COMMIT").execute(&mut **c).await.map(drop),
        };
        result.map_err(|source| DbError::Query {
            url: self.url.to_string(),
            what: "ending the snapshot".into(),
            source,
        })
    }
}

/// The SQL listing the columns of a table (current database and schema): a row each, its name
/// and its data type as the engine spells it; on MySQL/MariaDB also the fractional digits of
/// a date-time's seconds (NULL for other types).
pub fn columns_sql(engine: Engine, table: &str) -> String {
    let name = quote_literal(engine, table);
    match engine {
        Engine::Sqlite => format!("SELECT name, type FROM pragma_table_info({name})"),
        Engine::MySql => format!(
            "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(datetime_precision AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {name}"
        ),
        Engine::Postgres => format!(
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = {name}"
        ),
    }
}

/// A SQL string literal for the engine: quotes doubled, and backslashes doubled for MySQL
/// (which treats them as escapes by default).
/// An expression read as text: `CAST(… AS CHAR)` on MariaDB, `CAST(… AS TEXT)` elsewhere.
pub fn cast_text(engine: Engine, expr: &str) -> String {
    match engine {
        Engine::MySql => format!("CAST({expr} AS CHAR)"),
        _ => format!("CAST({expr} AS TEXT)"),
    }
}

/// A NUL character is written as `\0` for MySQL and as `char(0)` joined in for SQLite (whose
/// SQL text ends at a NUL); PostgreSQL text cannot hold one at all.
pub fn quote_literal(engine: Engine, value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if engine == Engine::MySql => out.push_str("\\\\"),
            '\0' if engine == Engine::MySql => out.push_str("\\0"),
            '\0' if engine == Engine::Sqlite => out.push_str("' || char(0) || '"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Creates the URL's PostgreSQL or MySQL database when the server does not have it.
async fn create_database_if_missing(url: &DbUrl) -> Result<(), DbError> {
    let name = url.database().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DbError::BadUrl {
            url: url.to_string(),
            reason: "ykt creates databases only with names of letters, digits and _",
        });
    }
    let (admin, exists_sql, create_sql) = match url.engine() {
        Engine::Postgres => (
            url.with_database("postgres"),
            format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"),
            format!("CREATE DATABASE \"{name}\""),
        ),
        Engine::MySql => (
            url.with_database(""),
            format!(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{name}'"
            ),
            format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        ),
        Engine::Sqlite => return Ok(()),
    };
    let admin_db = Db::open(&admin, false, &[]).await?;
    let exists = admin_db
        .fetch_i64("looking up the database", &exists_sql)
        .await?
        .unwrap_or(0)
        > 0;
    if !exists {
        admin_db
            .execute("creating the database", &create_sql)
            .await?;
    }
    admin_db.close().await;
    Ok(())
}

/// Drops the URL's database (or SQLite file) and creates it empty. For tests and rehearsals.
pub async fn recreate_database(url: &DbUrl) -> Result<(), DbError> {
    let name = url.database().to_owned();
    match url.engine() {
        Engine::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{name}{suffix}"));
            }
            Ok(())
        }
        Engine::Postgres | Engine::MySql => {
            let is_pg = url.engine() == Engine::Postgres;
            let admin = url.with_database(if is_pg { "postgres" } else { "" });
            let admin_db = Db::open(&admin, false, &[]).await?;
            let drop_sql = if is_pg {
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
            } else {
                format!("DROP DATABASE IF EXISTS `{name}`")
            };
            admin_db.execute("dropping the database", &drop_sql).await?;
            admin_db.close().await;
            create_database_if_missing(url).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection of the pool keeps a cache of its own, of SQLITE_CACHE_KIB.
    #[tokio::test]
    async fn sqlite_connections_each_keep_a_cache_of_its_own() {
        let (dir, url) = crate::temp_sqlite("pool");
        let db = Db::connect_or_create(&url).await.unwrap();
        // Held at once, so that each is a connection of its own.
        let Pool::Sqlite(pool) = &db.pool else {
            panic!("a SQLite pool")
        };
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut conn = pool.acquire().await.unwrap();
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(cache, -SQLITE_CACHE_KIB);
            held.push(conn);
        }
        drop(held);
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The SQLite built into ykt is the one `.cargo/config.toml` asks for: without memory
    /// statistics (one mutex around every allocation of every connection) and with a page cache
    /// per connection, not one shared under a lock. A build that missed the file (cargo run
    /// from another folder) fails here.
    #[tokio::test]
    async fn sqlite_is_built_without_the_process_wide_memory_locks() {
        let (dir, url) = crate::temp_sqlite("options");
        let db = Db::connect_or_create(&url).await.unwrap();
        let options: Vec<String> = db
            .fetch_text_rows("reading the build options", "PRAGMA compile_options")
            .await
            .unwrap()
            .into_iter()
            .filter_map(|mut r| r[0].take())
            .collect();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "SQLite keeps memory statistics: {options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "SQLite shares one page cache: {options:?}"
        );
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
