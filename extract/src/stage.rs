//! The extract step: the legacy system, database or export folder, into the stage folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tracing::info;
use ykt_db::{Db, DbUrl};
use ykt_domain::LegacyTable;
use ykt_stage::{
    ExtractManifest, SourceFingerprint, Stage, StagedTable, Step, TextTableWriter, sha256_file,
};

use crate::keys::KeyCheck;
use crate::{ExportReader, ExtractError};
use ykt_db::{TextRows, read_table_text};

/// Where the legacy data comes from.
#[derive(Debug, Clone)]
pub enum LegacySource {
    Database(DbUrl),
    Export(PathBuf),
}

impl std::fmt::Display for LegacySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LegacySource::Database(url) => write!(f, "{url}"),
            LegacySource::Export(dir) => write!(f, "{}", dir.display()),
        }
    }
}

const PAGE_ROWS: usize = 20_000;

struct TableSink {
    table: LegacyTable,
    keys: KeyCheck,
    writer: TextTableWriter,
    stamp_index: Option<usize>,
    max_stamp: Option<String>,
    rows: u64,
}

impl TableSink {
    /// `ordered`: rows arrive in key order (a database read).
    fn new(stage: &Stage, table: LegacyTable, ordered: bool) -> Result<TableSink, ExtractError> {
        let columns: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
        Ok(TableSink {
            table,
            keys: KeyCheck::new(table, ordered && table.has_numeric_key()),
            writer: TextTableWriter::create(&stage.legacy_file(table.name()), &columns)?,
            stamp_index: table.change_stamp_index(),
            max_stamp: None,
            rows: 0,
        })
    }

    /// Writes a row; `place` names where it was read, for a message about its key.
    fn write<S: AsRef<str>>(
        &mut self,
        row: &[Option<S>],
        place: impl Fn() -> String,
    ) -> Result<(), ExtractError> {
        if let Err(problem) = self.keys.check(row.first().and_then(text)) {
            return Err(ExtractError::BadKey {
                place: place(),
                problem: problem.describe(self.table),
            });
        }
        if let Some(i) = self.stamp_index
            && let Some(stamp) = row.get(i).and_then(text)
            && self.max_stamp.as_deref().is_none_or(|m| stamp > m)
        {
            self.max_stamp = Some(stamp.to_owned());
        }
        self.rows += 1;
        Ok(self.writer.write(row)?)
    }
}

/// A cell's text.
fn text<S: AsRef<str>>(cell: &Option<S>) -> Option<&str> {
    cell.as_ref().map(AsRef::as_ref)
}

/// Reads every legacy table into `stage/legacy/`, values exactly as found, and writes the
/// manifest. `progress` hears (table, rows so far).
pub async fn extract(
    source: &LegacySource,
    stage: &Stage,
    overwrite: bool,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<ExtractManifest, ExtractError> {
    let started_at = ykt_domain::beijing_stamp();
    let mut tables = BTreeMap::new();
    let mut stamps = BTreeMap::new();
    let (kind, engine) = match source {
        LegacySource::Database(url) => {
            from_database(url, stage, overwrite, progress, (&mut tables, &mut stamps)).await?
        }
        LegacySource::Export(dir) => {
            from_export(dir, stage, overwrite, progress, (&mut tables, &mut stamps))?
        }
    };
    let manifest = ExtractManifest {
        ykt_version: env!("CARGO_PKG_VERSION").to_owned(),
        source: SourceFingerprint {
            kind: kind.to_owned(),
            engine: engine.to_owned(),
            location: source.to_string(),
            row_counts: tables
                .iter()
                .map(|(t, s): (&String, &StagedTable)| (t.clone(), s.rows))
                .collect(),
            max_change_stamp: stamps,
        },
        tables,
        started_at,
        finished_at: ykt_domain::beijing_stamp(),
    };
    stage.finish(Step::Extract, &manifest)?;
    Ok(manifest)
}

/// What the staged tables hold: each table's file, and its latest change stamp.
type Staged<'a> = (
    &'a mut BTreeMap<String, StagedTable>,
    &'a mut BTreeMap<String, String>,
);

/// Reads every table from one consistent snapshot of the legacy database, page by page.
/// Returns the source's kind and engine.
async fn from_database(
    url: &ykt_db::DbUrl,
    stage: &Stage,
    overwrite: bool,
    progress: &(dyn Fn(&str, u64) + Sync),
    (tables, stamps): Staged<'_>,
) -> Result<(&'static str, &'static str), ExtractError> {
    let db = Db::connect(url).await?;
    let mut snapshot = db.snapshot().await?;
    // Every table checked before the stage is touched; what each check found drives its read.
    let mut checked = Vec::new();
    for table in LegacyTable::ALL {
        checked.push(ykt_db::check_table(&mut snapshot, table).await?);
    }
    stage.begin(Step::Extract, overwrite)?;
    for (table, stored) in LegacyTable::ALL.into_iter().zip(&checked) {
        // Writing Parquet runs on its own thread while the next page is fetched.
        let mut sink = TableSink::new(stage, table, true)?;
        let place = format!("{} of {url}", table.name());
        // The pages as read (one buffer each, no `String` per cell), copied for the writer.
        let (tx, rx) = std::sync::mpsc::sync_channel::<TextRows>(2);
        let writer = std::thread::spawn(move || -> Result<TableSink, ExtractError> {
            for page in rx {
                let mut cells = Vec::with_capacity(page.width());
                for i in 0..page.len() {
                    cells.clear();
                    cells.extend(page.row(i));
                    sink.write(&cells, || place.clone())?;
                }
            }
            Ok(sink)
        });
        let mut read = 0u64;
        let result = read_table_text(&mut snapshot, table, stored, PAGE_ROWS, |page| {
            read += page.len() as u64;
            progress(table.name(), read);
            tx.send(page.clone())
                .map_err(|_| ExtractError::WriterStopped {
                    table: table.name(),
                })
        })
        .await;
        drop(tx);
        let sink = writer.join().map_err(|_| ExtractError::WriterStopped {
            table: table.name(),
        })??;
        result.map_err(|e| e.lost_in(table))?;
        finish_table(
            stage,
            table,
            sink,
            (0, None),
            &format!("{} of {url}", table.name()),
            tables,
            stamps,
        )?;
    }
    snapshot.end().await?;
    db.close().await;
    Ok(("database", url.engine().name()))
}

/// Reads every file of the export folder, after opening them all. Returns the source's kind
/// and engine.
fn from_export(
    dir: &std::path::Path,
    stage: &Stage,
    overwrite: bool,
    progress: &(dyn Fn(&str, u64) + Sync),
    (tables, stamps): Staged<'_>,
) -> Result<(&'static str, &'static str), ExtractError> {
    // Open every file first: a missing or foreign file stops the run before the stage
    // folder is touched.
    let mut readers = Vec::new();
    for table in LegacyTable::ALL {
        readers.push((table, ExportReader::open(dir, table)?));
    }
    stage.begin(Step::Extract, overwrite)?;
    for (table, mut reader) in readers {
        let mut sink = TableSink::new(stage, table, false)?;
        let encoding = reader.encoding().name().to_owned();
        let file = reader.path().display().to_string();
        if table.has_numeric_key() {
            while let Some(row) = reader.next_row()? {
                sink.write(&row, || format!("{file}: line {}", reader.last_line()))?;
                if sink.rows.is_multiple_of(PAGE_ROWS as u64) {
                    progress(table.name(), sink.rows);
                }
            }
        } else {
            // Reference tables are small: sorted by key, as a database read gives them.
            let mut rows = Vec::new();
            while let Some(row) = reader.next_row()? {
                rows.push((reader.last_line(), row));
            }
            rows.sort_by(|a, b| a.1[0].cmp(&b.1[0]));
            for (line, row) in &rows {
                sink.write(row, || format!("{file}: line {line}"))?;
            }
        }
        progress(table.name(), sink.rows);
        let dropped = reader.totals_rows_dropped();
        finish_table(
            stage,
            table,
            sink,
            (dropped, Some(encoding)),
            &file,
            tables,
            stamps,
        )?;
    }
    Ok(("export", "export"))
}

/// Closes a table's staged file. `export`: the totals rows dropped and the encoding of an
/// export file; `place` names the source in a message about its keys.
fn finish_table(
    stage: &Stage,
    table: LegacyTable,
    sink: TableSink,
    (totals_rows_dropped, encoding): (u64, Option<String>),
    place: &str,
    tables: &mut BTreeMap<String, StagedTable>,
    stamps: &mut BTreeMap<String, String>,
) -> Result<(), ExtractError> {
    if let Err(problem) = sink.keys.finish() {
        return Err(ExtractError::BadKey {
            place: place.to_owned(),
            problem: problem.describe(table),
        });
    }
    let rows = sink.writer.finish()?;
    let path = stage.legacy_file(table.name());
    if let Some(stamp) = sink.max_stamp {
        stamps.insert(table.name().to_owned(), stamp);
    }
    info!(
        table = table.name(),
        rows, totals_rows_dropped, "Extracted table."
    );
    fail::fail_point!("extract::table_done", |_| std::process::abort());
    tables.insert(
        table.name().to_owned(),
        StagedTable {
            file: format!("legacy/{}.parquet", table.name()),
            rows,
            sha256: sha256_file(&path)?,
            totals_rows_dropped,
            encoding,
        },
    );
    Ok(())
}
