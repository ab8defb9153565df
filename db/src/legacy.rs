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

fn select_expr(engine: Engine, column: &LegacyColumn) -> String {
    let name = ident(engine, column.name);
    match (engine, column.kind) {
        (Engine::Postgres, ColumnKind::DateTime) => {
            format!("to_char({name}, 'YYYY-MM-DD HH24:MI:SS')")
        }
        (Engine::MySql, ColumnKind::DateTime) => {
            format!("DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s')")
        }
        _ => cast_text(engine, &name),
    }
}

/// The `SELECT` of a table's rows: every column as text, keys above `after`, in key order, at
/// most `limit` of them.
pub fn select_rows_sql(
    engine: Engine,
    table: LegacyTable,
    after: Option<i64>,
    limit: Option<usize>,
) -> String {
    let columns: Vec<String> = table
        .columns()
        .iter()
        .map(|c| select_expr(engine, c))
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

/// Checks that the table and every column the spec names exist.
pub async fn check_table(snapshot: &mut Snapshot, table: LegacyTable) -> Result<(), DbError> {
    let found: Vec<String> = snapshot
        .fetch_text_rows(
            "listing columns",
            &columns_sql(snapshot.engine(), table.name()),
        )
        .await?
        .into_iter()
        .filter_map(|mut r| r.pop().flatten())
        .collect();
    if found.is_empty() {
        return Err(DbError::MissingTable {
            url: snapshot.url().to_string(),
            table: table.name(),
        });
    }
    for column in table.columns() {
        if !found.iter().any(|f| f.eq_ignore_ascii_case(column.name)) {
            return Err(DbError::MissingColumn {
                url: snapshot.url().to_string(),
                table: table.name(),
                column: column.name,
            });
        }
    }
    Ok(())
}

/// Reads a whole table, handing each page of rows to `on_page`, in key order. Memory holds one
/// page.
/// The reference tables (text keys) are small and read in one page, sorted by key.
pub async fn read_table<E: From<DbError>>(
    snapshot: &mut Snapshot,
    table: LegacyTable,
    page_size: usize,
    mut on_page: impl FnMut(Vec<LegacyRow>) -> Result<(), E>,
) -> Result<u64, E> {
    check_table(snapshot, table).await?;
    let what = format!("reading {}", table.name());
    let engine = snapshot.engine();
    if !table.has_numeric_key() {
        let sql = select_rows_sql(engine, table, None, None);
        let mut rows = snapshot.fetch_text_rows(&what, &sql).await?;
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
        let n = rows.len() as u64;
        on_page(rows)?;
        return Ok(n);
    }
    // One query in key order, streamed: the server sends the next rows while these are
    // written (pages of `LIMIT` queries left one side idle while the other worked).
    let sql = select_rows_sql(engine, table, None, None);
    snapshot
        .stream_text_rows(&what, &sql, page_size, &mut on_page)
        .await
}

/// [`read_table`] with each page of rows in one [`TextRows`]: one buffer a page instead of a
/// `String` a cell (the extract's read: making, handing over and freeing a `String` for each of
/// a million lines' fifteen cells was about a third of its own CPU). `on_page` borrows the
/// page, which is emptied for the next rows once it returns.
pub async fn read_table_text<E: From<DbError>>(
    snapshot: &mut Snapshot,
    table: LegacyTable,
    page_size: usize,
    mut on_page: impl FnMut(&TextRows) -> Result<(), E>,
) -> Result<u64, E> {
    if !table.has_numeric_key() {
        let mut page = TextRows::new(table.columns().len());
        let n = read_table(snapshot, table, page_size, |rows| {
            for row in &rows {
                page.push_row(row.iter().map(Option::as_deref));
            }
            Ok::<(), E>(())
        })
        .await?;
        on_page(&page)?;
        return Ok(n);
    }
    check_table(snapshot, table).await?;
    let what = format!("reading {}", table.name());
    let sql = select_rows_sql(snapshot.engine(), table, None, None);
    snapshot
        .stream_text_table(&what, &sql, page_size, &mut on_page)
        .await
}
