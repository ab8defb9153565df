//! Reads legacy tables from a live database, page by page (keyset pagination on the primary
//! key), every value as text exactly as stored, all from one consistent snapshot. The extract
//! reads every table this way; the user-form checks read the legacy accounts and regions.

use ykt_domain::{ColumnKind, LegacyColumn, LegacyRow, LegacyTable};

use crate::{DbError, Engine, Snapshot, TextRows, cast_text, columns_sql};

/// A quoted identifier: `"T_FFMX"` (PostgreSQL keeps the case only when quoted; SQLite
/// accepts the same) or `` `T_FFMX` `` for MySQL.
pub fn ident(engine: Engine, name: &str) -> String {
    match engine {
        Engine::MySql => format!("`{name}`"),
        Engine::Sqlite | Engine::Postgres => format!("\"{name}\""),
    }
}

/// MariaDB's data types that hold text in a character set: selected bare, their values arrive
/// as the connection's UTF-8, the same text `CAST(… AS CHAR)` gives, without the server making a
/// new string of every value (T_FFMX at the county preset: the client's read of all its rows
/// 1.9–2.3 s cast, 1.4–2.0 s bare, the same bytes). A binary string is another type (`binary`,
/// `varbinary`, `blob`) and stays cast, as does everything else.
const MYSQL_TEXT_TYPES: [&str; 6] = [
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
];

/// MariaDB's date-time types, read bare where they hold no fractions of a second (see
/// [`StoredColumns::is_plain_stamp`]), which a [`Snapshot`]'s reads then take as text.
pub(crate) const MYSQL_PLAIN_STAMP_TYPES: [&str; 2] = ["datetime", "timestamp"];

/// A legacy table's columns as [`check_table`] found them: which of the spec's columns the
/// database stores as text, so that a read takes them as they are.
#[derive(Debug, Clone, Default)]
pub struct StoredColumns {
    /// The spec's names of those columns.
    text: Vec<&'static str>,
    /// The spec's names of the columns MariaDB stores as `DATETIME` or `TIMESTAMP` without
    /// fractions of a second.
    plain_stamps: Vec<&'static str>,
}

impl StoredColumns {
    /// Whether the database stores the column as text (known on MariaDB only: elsewhere every
    /// column is read through a cast, which costs PostgreSQL and SQLite nothing on text).
    pub fn is_text(&self, column: &str) -> bool {
        self.text.iter().any(|c| c.eq_ignore_ascii_case(column))
    }

    /// Whether MariaDB stores the column as a date-time without fractions of a second, whose
    /// text in MariaDB's text protocol (every [`Snapshot`] read) is `YYYY-MM-DD hh:mm:ss`,
    /// the text the reads otherwise ask of `DATE_FORMAT`, which took MariaDB about a quarter
    /// of its CPU for T_FFMX: its read at the county preset, 1.3–1.5 s of server CPU with
    /// `DATE_FORMAT`, 0.9–1.0 s bare, the same bytes (zero dates too).
    pub fn is_plain_stamp(&self, column: &str) -> bool {
        self.plain_stamps
            .iter()
            .any(|c| c.eq_ignore_ascii_case(column))
    }

    /// `expr`, a value of `column`, as text: bare when the database stores it so, else cast.
    pub fn as_text(&self, engine: Engine, column: &str, expr: &str) -> String {
        match engine {
            Engine::MySql if self.is_text(column) => expr.to_owned(),
            _ => cast_text(engine, expr),
        }
    }
}

fn select_expr(engine: Engine, column: &LegacyColumn, stored: &StoredColumns) -> String {
    let name = ident(engine, column.name);
    match (engine, column.kind) {
        (Engine::Postgres, ColumnKind::DateTime) => {
            format!("to_char({name}, 'YYYY-MM-DD HH24:MI:SS')")
        }
        (Engine::MySql, ColumnKind::DateTime) if stored.is_plain_stamp(column.name) => name,
        (Engine::MySql, ColumnKind::DateTime) => {
            format!("DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s')")
        }
        _ => stored.as_text(engine, column.name, &name),
    }
}

/// The `SELECT` of a table's rows: every column as text, keys above `after`, in key order, at
/// most `limit` of them. `stored` is what [`check_table`] found of the table.
pub fn select_rows_sql(
    engine: Engine,
    table: LegacyTable,
    stored: &StoredColumns,
    after: Option<i64>,
    limit: Option<usize>,
) -> String {
    let columns: Vec<String> = table
        .columns()
        .iter()
        .map(|c| select_expr(engine, c, stored))
        .collect();
    let key = ident(engine, table.key_column().name);
    let filter = after.map_or(String::new(), |k| format!(" WHERE {key} > {k}"));
    let limit = limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    format!(
        "SELECT {} FROM {}{filter} ORDER BY {key}{limit}",
        columns.join(", "),
        ident(engine, table.name()),
    )
}

/// Checks that the table and every column the spec names exist; returns which of them the
/// database stores as text.
pub async fn check_table(
    snapshot: &mut Snapshot,
    table: LegacyTable,
) -> Result<StoredColumns, DbError> {
    let engine = snapshot.engine();
    let found: Vec<(String, Option<String>, Option<String>)> = snapshot
        .fetch_text_rows("listing columns", &columns_sql(engine, table.name()))
        .await?
        .into_iter()
        .filter_map(|mut r| {
            let mut take = |i: usize| r.get_mut(i).and_then(Option::take);
            Some((take(0)?, take(1), take(2)))
        })
        .collect();
    if found.is_empty() {
        return Err(DbError::MissingTable {
            url: snapshot.url().to_string(),
            table: table.name(),
        });
    }
    let mut stored = StoredColumns::default();
    for column in table.columns() {
        let Some((_, data_type, fractions)) = found
            .iter()
            .find(|(f, _, _)| f.eq_ignore_ascii_case(column.name))
        else {
            return Err(DbError::MissingColumn {
                url: snapshot.url().to_string(),
                table: table.name(),
                column: column.name,
            });
        };
        // The data type matters on MariaDB only (the other engines' reads cast every column).
        if engine != Engine::MySql {
            continue;
        }
        let is = |types: &[&str]| {
            data_type
                .as_deref()
                .is_some_and(|t| types.iter().any(|x| t.eq_ignore_ascii_case(x)))
        };
        if is(&MYSQL_TEXT_TYPES) {
            stored.text.push(column.name);
        } else if is(&MYSQL_PLAIN_STAMP_TYPES) && fractions.as_deref() == Some("0") {
            stored.plain_stamps.push(column.name);
        }
    }
    Ok(stored)
}

/// Reads a whole table, handing each page of rows to `on_page`, in key order. Memory holds one
/// page.
/// The reference tables (text keys) are small and read in one page, sorted by key.
pub async fn read_table<E: From<DbError>>(
    snapshot: &mut Snapshot,
    table: LegacyTable,
    page_size: usize,
    on_page: impl FnMut(Vec<LegacyRow>) -> Result<(), E>,
) -> Result<u64, E> {
    let stored = check_table(snapshot, table).await?;
    read_checked(snapshot, table, &stored, page_size, on_page).await
}

/// [`read_table`] of a table [`check_table`] found as `stored`.
async fn read_checked<E: From<DbError>>(
    snapshot: &mut Snapshot,
    table: LegacyTable,
    stored: &StoredColumns,
    page_size: usize,
    mut on_page: impl FnMut(Vec<LegacyRow>) -> Result<(), E>,
) -> Result<u64, E> {
    let what = format!("reading {}", table.name());
    let sql = select_rows_sql(snapshot.engine(), table, stored, None, None);
    if !table.has_numeric_key() {
        let mut rows = snapshot.fetch_text_rows(&what, &sql).await?;
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
        let n = rows.len() as u64;
        on_page(rows)?;
        return Ok(n);
    }
    // One query in key order, streamed: the server sends the next rows while these are
    // written (pages of `LIMIT` queries left one side idle while the other worked).
    snapshot
        .stream_text_rows(&what, &sql, page_size, &mut on_page)
        .await
}

/// [`read_table`] with each page of rows in one [`TextRows`]: one buffer a page instead of a
/// `String` a cell (the extract's read: making, handing over and freeing a `String` for each of
/// a million lines' fifteen cells was about a third of its own CPU). `on_page` borrows the
/// page, which is emptied for the next rows once it returns. `stored` is what [`check_table`]
/// found of the table (the extract checks every table before it reads any).
pub async fn read_table_text<E: From<DbError>>(
    snapshot: &mut Snapshot,
    table: LegacyTable,
    stored: &StoredColumns,
    page_size: usize,
    mut on_page: impl FnMut(&TextRows) -> Result<(), E>,
) -> Result<u64, E> {
    if !table.has_numeric_key() {
        let mut page = TextRows::new(table.columns().len());
        let n = read_checked(snapshot, table, stored, page_size, |rows| {
            for row in &rows {
                page.push_row(row.iter().map(Option::as_deref));
            }
            Ok::<(), E>(())
        })
        .await?;
        on_page(&page)?;
        return Ok(n);
    }
    let what = format!("reading {}", table.name());
    let sql = select_rows_sql(snapshot.engine(), table, stored, None, None);
    snapshot
        .stream_text_table(&what, &sql, page_size, &mut on_page)
        .await
}
