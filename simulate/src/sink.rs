//! Where simulated rows go: the export folder, a legacy database, or both.

use std::collections::BTreeMap;
use std::path::Path;

use tokio::sync::mpsc;
use ykt_db::ident;
use ykt_db::{Db, Engine, quote_literal};
use ykt_domain::{ColumnKind, LegacyRow, LegacyTable};
use ykt_extract::{ExportEncoding, ExportWriter, create_legacy_schema};

use crate::SimError;

/// Receives simulated legacy rows, one at a time, in generation order.
pub trait RowSink {
    fn row(&mut self, table: LegacyTable, row: LegacyRow) -> Result<(), SimError>;
    fn finish(&mut self) -> Result<(), SimError>;
}

/// Sends every row to several sinks.
pub struct Tee(pub Vec<Box<dyn RowSink + Send>>);

impl RowSink for Tee {
    fn row(&mut self, table: LegacyTable, row: LegacyRow) -> Result<(), SimError> {
        if let Some((last, rest)) = self.0.split_last_mut() {
            for sink in rest {
                sink.row(table, row.clone())?;
            }
            last.row(table, row)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SimError> {
        self.0.iter_mut().try_for_each(|s| s.finish())
    }
}

/// Writes the legacy export folder: one file per table, GBK unless re-saved (Q13), a `合计`
/// totals row at the end of the payment and allocation files, empty lines after the batches.
pub struct ExportSink {
    writers: BTreeMap<LegacyTable, ExportWriter>,
    rows: BTreeMap<LegacyTable, u64>,
    /// The sum a spreadsheet's 合计 row shows under the amount column: the values that read as
    /// money.
    sums: BTreeMap<LegacyTable, rust_decimal::Decimal>,
}

impl ExportSink {
    pub fn create(dir: &Path, utf8_bom_tables: &[String]) -> Result<ExportSink, SimError> {
        std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut writers = BTreeMap::new();
        for table in LegacyTable::ALL {
            let encoding = if utf8_bom_tables
                .iter()
                .any(|t| t.eq_ignore_ascii_case(table.name()))
            {
                ExportEncoding::Utf8Bom
            } else {
                ExportEncoding::Gbk
            };
            writers.insert(table, ExportWriter::create(dir, table, encoding)?);
        }
        Ok(ExportSink {
            writers,
            rows: BTreeMap::new(),
            sums: BTreeMap::new(),
        })
    }

    /// The export files that carry a Q13 quirk (totals row or trailing empty lines).
    pub const Q13_FILES: u64 = 3;
}

impl RowSink for ExportSink {
    fn row(&mut self, table: LegacyTable, row: LegacyRow) -> Result<(), SimError> {
        *self.rows.entry(table).or_default() += 1;
        if let Some(i) = amount_column(table)
            && let Some(v) = ykt_domain::rules::money_value(row[i].as_deref())
        {
            *self.sums.entry(table).or_default() += v;
        }
        self.writers
            .get_mut(&table)
            .expect("a writer per table")
            .write_row(&row)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SimError> {
        for (table, mut writer) in std::mem::take(&mut self.writers) {
            let n = self.rows.get(&table).copied().unwrap_or(0);
            let count = format!("共{n}条");
            let sum = ykt_domain::format_money(self.sums.get(&table).copied().unwrap_or_default());
            match table {
                LegacyTable::Payments | LegacyTable::Allocations => {
                    // 合计, the count under the second column, the sum under the amount column.
                    let mut rest: Vec<Option<&str>> = vec![None; table.columns().len() - 1];
                    rest[0] = Some(count.as_str());
                    if let Some(i) = amount_column(table) {
                        rest[i - 1] = Some(sum.as_str());
                    }
                    writer.write_totals_row(&rest)?;
                }
                LegacyTable::Batches => writer.write_empty_lines(2)?,
                _ => {}
            }
            writer.finish()?;
        }
        Ok(())
    }
}

/// The amount column a 合计 row sums.
fn amount_column(table: LegacyTable) -> Option<usize> {
    match table {
        LegacyTable::Payments => table.column_index("JE"),
        LegacyTable::Allocations => table.column_index("ZBJE"),
        _ => None,
    }
}

const CHUNK_ROWS: usize = 1000;

/// Hands rows in chunks to an async database writer ([`write_to_database`]) over a bounded
/// channel, so generation and inserting run side by side and memory stays bounded.
pub struct ChannelSink {
    tx: mpsc::Sender<(LegacyTable, Vec<LegacyRow>)>,
    buffers: BTreeMap<LegacyTable, Vec<LegacyRow>>,
}

impl ChannelSink {
    pub fn new(tx: mpsc::Sender<(LegacyTable, Vec<LegacyRow>)>) -> ChannelSink {
        ChannelSink {
            tx,
            buffers: BTreeMap::new(),
        }
    }

    fn send(&mut self, table: LegacyTable, rows: Vec<LegacyRow>) -> Result<(), SimError> {
        self.tx
            .blocking_send((table, rows))
            .map_err(|_| SimError::WriterGone)
    }
}

impl RowSink for ChannelSink {
    fn row(&mut self, table: LegacyTable, row: LegacyRow) -> Result<(), SimError> {
        let buffer = self.buffers.entry(table).or_default();
        buffer.push(row);
        if buffer.len() >= CHUNK_ROWS {
            let rows = std::mem::take(buffer);
            self.send(table, rows)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SimError> {
        for (table, rows) in std::mem::take(&mut self.buffers) {
            if !rows.is_empty() {
                self.send(table, rows)?;
            }
        }
        Ok(())
    }
}

/// Creates the legacy tables and inserts every chunk that arrives, each in its own
/// transaction. Returns the rows inserted. The database must not have the tables yet, unless
/// `replace`, which drops them first (for rehearsals).
pub async fn write_to_database(
    db: &Db,
    mut rx: mpsc::Receiver<(LegacyTable, Vec<LegacyRow>)>,
    replace: bool,
) -> Result<u64, SimError> {
    for table in LegacyTable::ALL {
        if replace {
            let sql = format!("DROP TABLE IF EXISTS {}", ident(db.engine(), table.name()));
            db.execute("dropping a legacy table", &sql).await?;
        } else if db.table_exists(table.name()).await? {
            return Err(SimError::NotEmpty {
                url: db.url().to_string(),
                table: table.name(),
            });
        }
    }
    create_legacy_schema(db).await?;
    let mut total = 0u64;
    while let Some((table, rows)) = rx.recv().await {
        total += rows.len() as u64;
        let sql = insert_sql(db.engine(), table, &rows);
        db.execute_script(&format!("inserting into {}", table.name()), &sql)
            .await?;
    }
    Ok(total)
}

fn insert_sql(engine: Engine, table: LegacyTable, rows: &[LegacyRow]) -> String {
    let columns: Vec<String> = table
        .columns()
        .iter()
        .map(|c| ident(engine, c.name))
        .collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES\n",
        ident(engine, table.name()),
        columns.join(", ")
    );
    let mut sql = String::from("BEGIN;\n");
    for chunk in rows.chunks(250) {
        sql.push_str(&head);
        for (i, row) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ",\n(" });
            for (j, (value, column)) in row.iter().zip(table.columns()).enumerate() {
                if j > 0 {
                    sql.push_str(", ");
                }
                match (value, column.kind) {
                    (None, _) => sql.push_str("NULL"),
                    (Some(v), ColumnKind::BigInt | ColumnKind::Int) if v.parse::<i64>().is_ok() => {
                        sql.push_str(v)
                    }
                    (Some(v), _) => sql.push_str(&quote_literal(engine, v)),
                }
            }
            sql.push(')');
        }
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;\n");
    sql
}
