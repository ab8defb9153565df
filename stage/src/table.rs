//! Parquet tables whose every column is nullable text.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::StageError;

const BATCH_ROWS: usize = 8192;
const ROW_GROUP_ROWS: u64 = 65_536;
/// A row group also ends at this many bytes held in memory. A writer that holds many others
/// open (the transform: one per county and table) bounds them all with [`TextTableWriter::memory`]
/// and [`TextTableWriter::spill`].
const ROW_GROUP_BYTES: usize = 16 << 20;

/// Writes rows of text to a Parquet file, a batch at a time.
pub struct TextTableWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    builders: Vec<StringBuilder>,
    buffered: usize,
    rows: u64,
    since_flush: u64,
}

impl TextTableWriter {
    pub fn create(path: &Path, columns: &[&str]) -> Result<TextTableWriter, StageError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StageError::io(parent, e))?;
        }
        let schema: SchemaRef = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(*c, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let file = File::create(path).map_err(|e| StageError::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // Plain encoding, no dictionary: most staged columns are keys, names, ID numbers
            // and amounts, whose dictionaries grow to their limit and are dropped, after every
            // value has been hashed into them. County preset, user CPU (3 runs each, medians):
            // extract 3.54 -> 3.17 s, transform 8.77 -> 7.17 s; the stage 65 -> 75 MB.
            .set_dictionary_enabled(false)
            // No min/max statistics: the stage is read whole, file by file, and never pruned
            // by them, while comparing every text value for its page's and row group's
            // minimum and maximum was 2 % of the transform's samples (`perf record`).
            .set_statistics_enabled(EnabledStatistics::None)
            .set_created_by(format!("ykt {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| StageError::parquet(path, e))?;
        Ok(TextTableWriter {
            path: path.to_owned(),
            builders: columns.iter().map(|_| StringBuilder::new()).collect(),
            schema,
            writer,
            buffered: 0,
            rows: 0,
            since_flush: 0,
        })
    }

    /// Appends one row; it must have one value per column.
    pub fn write<S: AsRef<str>>(&mut self, row: &[Option<S>]) -> Result<(), StageError> {
        if row.len() != self.builders.len() {
            return Err(StageError::Shape {
                path: self.path.clone(),
                expected: self.builders.len(),
                found: row.len(),
            });
        }
        for (builder, value) in self.builders.iter_mut().zip(row) {
            builder.append_option(value.as_ref().map(AsRef::as_ref));
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), StageError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| StageError::arrow(&self.path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| StageError::parquet(&self.path, e))?;
        self.since_flush += self.buffered as u64;
        self.buffered = 0;
        if self.since_flush >= ROW_GROUP_ROWS || self.writer.memory_size() >= ROW_GROUP_BYTES {
            self.end_row_group()?;
        }
        Ok(())
    }

    /// Ends the row group, so the writer holds only metadata for what is on disk.
    fn end_row_group(&mut self) -> Result<(), StageError> {
        self.writer
            .flush()
            .map_err(|e| StageError::parquet(&self.path, e))?;
        self.since_flush = 0;
        Ok(())
    }

    /// Bytes this writer holds in memory: rows not yet encoded and the row group being built.
    pub fn memory(&self) -> usize {
        let unencoded: usize = self
            .builders
            .iter()
            .map(|b| b.values_slice().len() + 4 * b.offsets_slice().len())
            .sum();
        unencoded + self.writer.memory_size()
    }

    /// Encodes what is buffered and ends the row group, so that it is on disk, not in memory.
    pub fn spill(&mut self) -> Result<(), StageError> {
        self.write_batch()?;
        if self.since_flush > 0 {
            self.end_row_group()?;
        }
        Ok(())
    }

    /// Writes what is buffered and the file footer; returns the rows written.
    pub fn finish(mut self) -> Result<u64, StageError> {
        self.write_batch()?;
        self.writer
            .close()
            .map_err(|e| StageError::parquet(&self.path, e))?;
        Ok(self.rows)
    }
}

/// Reads a text table back, a batch of rows at a time.
pub struct TextTableReader {
    path: PathBuf,
    columns: Vec<String>,
    /// The file column each read column comes from.
    positions: Vec<usize>,
    reader: ParquetRecordBatchReader,
}

impl TextTableReader {
    pub fn open(path: &Path) -> Result<TextTableReader, StageError> {
        Self::open_columns(path, None)
    }

    /// Opens a table reading only the named columns (when `only` is given); the others read as
    /// `None`, so rows keep the file's column positions.
    pub fn open_columns(path: &Path, only: Option<&[&str]>) -> Result<TextTableReader, StageError> {
        let file = File::open(path).map_err(|e| StageError::io(path, e))?;
        let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| StageError::parquet(path, e))?;
        let columns: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut positions = (0..columns.len()).collect::<Vec<_>>();
        if let Some(only) = only {
            positions = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| only.contains(&c.as_str()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), positions.clone());
            builder = builder.with_projection(mask);
        }
        let reader = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| StageError::parquet(path, e))?;
        Ok(TextTableReader {
            path: path.to_owned(),
            columns,
            positions,
            reader,
        })
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Result<usize, StageError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| StageError::MissingColumn {
                path: self.path.clone(),
                column: name.to_owned(),
            })
    }

    /// The next batch as read, column by column, without copying its text; `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<TextBatch>, StageError> {
        let Some(batch) = self.reader.next() else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| StageError::arrow(&self.path, e))?;
        let mut columns = vec![None; self.columns.len()];
        for (c, &p) in batch.columns().iter().zip(&self.positions) {
            let text =
                c.as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| StageError::NotText {
                        path: self.path.clone(),
                    })?;
            columns[p] = Some(text.clone());
        }
        Ok(Some(TextBatch {
            columns,
            rows: batch.num_rows(),
        }))
    }

    /// The next batch of rows, or `None` at the end.
    pub fn next_rows(&mut self) -> Result<Option<Vec<Vec<Option<String>>>>, StageError> {
        Ok(self.next_batch()?.map(|batch| batch.rows()))
    }

    /// Calls `f` for every row.
    pub fn for_each(
        mut self,
        mut f: impl FnMut(Vec<Option<String>>) -> Result<(), StageError>,
    ) -> Result<(), StageError> {
        while let Some(rows) = self.next_rows()? {
            for row in rows {
                f(row)?;
            }
        }
        Ok(())
    }
}

/// A batch of a text table's rows, read column by column: values are borrowed from the batch.
/// Columns not read (see [`TextTableReader::open_columns`]) are `None` in every row.
pub struct TextBatch {
    columns: Vec<Option<StringArray>>,
    rows: usize,
}

impl TextBatch {
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The number of columns, read or not.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Row `row`'s value of column `column`.
    pub fn value(&self, row: usize, column: usize) -> Option<&str> {
        let c = self.columns[column].as_ref()?;
        (!c.is_null(row)).then(|| c.value(row))
    }

    /// Row `row` with its text copied out, every column in place (those not read `None`).
    pub fn row(&self, row: usize) -> Vec<Option<String>> {
        (0..self.width())
            .map(|c| self.value(row, c).map(str::to_owned))
            .collect()
    }

    /// Row `row` copied into `into`, every column in place as [`TextBatch::row`] gives it, into
    /// the strings `into` already holds: a pass that looks at one row at a time allocates only
    /// where a cell grows or turns from empty to text (a `String` per cell of every row, made on
    /// one thread and freed on another, was about a tenth of the transform's CPU).
    pub fn row_into(&self, row: usize, into: &mut Vec<Option<String>>) {
        into.resize(self.width(), None);
        for (c, cell) in into.iter_mut().enumerate() {
            match (self.value(row, c), cell) {
                (None, cell) => *cell = None,
                (Some(v), Some(s)) => {
                    s.clear();
                    s.push_str(v);
                }
                (Some(v), cell) => *cell = Some(v.to_owned()),
            }
        }
    }

    /// Every row, copied out as [`TextBatch::row`] does.
    pub fn rows(&self) -> Vec<Vec<Option<String>>> {
        (0..self.num_rows()).map(|i| self.row(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of this test thread's own and a table file in it (removed by the caller).
    fn scratch(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "ykt-stage-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let path = dir.join("t.parquet");
        (dir, path)
    }

    #[test]
    fn round_trips_text_and_nulls_across_batches() {
        let dir = std::env::temp_dir().join(format!("ykt-stage-table-{}", std::process::id()));
        let path = dir.join("t.parquet");
        let mut w = TextTableWriter::create(&path, &["a", "b"]).unwrap();
        let n: u64 = 20_000;
        for i in 0..n {
            let b = if i.is_multiple_of(3) {
                None
            } else {
                Some(format!("值{i} "))
            };
            w.write(&[Some(i.to_string()), b]).unwrap();
        }
        assert_eq!(w.finish().unwrap(), n);
        let mut r = TextTableReader::open(&path).unwrap();
        assert_eq!(r.columns(), ["a", "b"]);
        assert_eq!(r.column("b").unwrap(), 1);
        assert!(r.column("c").is_err());
        let mut projected = TextTableReader::open_columns(&path, Some(&["b"])).unwrap();
        let first = projected.next_rows().unwrap().unwrap();
        assert_eq!(first[1], vec![None, Some("值1 ".to_owned())]);
        let mut seen = 0u64;
        while let Some(rows) = r.next_rows().unwrap() {
            for row in rows {
                assert_eq!(row[0].as_deref(), Some(seen.to_string().as_str()));
                assert_eq!(row[1].is_none(), seen.is_multiple_of(3));
                seen += 1;
            }
        }
        assert_eq!(seen, n);
        assert!(
            TextTableWriter::create(&path, &["a"])
                .unwrap()
                .write(&[Some("x"), Some("y")])
                .is_err()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Two readings of every row agree: copied out fresh ([`TextBatch::row`]) and copied
        /// into one set of cells reused row after row ([`TextBatch::row_into`]), whatever
        /// turns from NULL to text, from long to short or empty, between them; and the reused
        /// cells may start with any shape (a wider or narrower row left in them).
        #[test]
        fn a_row_copied_into_reused_cells_reads_as_a_fresh_copy(
            rows in proptest::collection::vec(
                (proptest::option::of("[a-z值0-9 ]{0,12}"), proptest::option::of("[\\PC]{0,8}")),
                0..400,
            ),
            start in proptest::collection::vec(proptest::option::of("[a-z]{0,20}"), 0..4),
        ) {
            let (dir, path) = scratch("row-into");
            let mut w = TextTableWriter::create(&path, &["a", "b"]).unwrap();
            for (a, b) in &rows {
                w.write(&[a.clone(), b.clone()]).unwrap();
            }
            w.finish().unwrap();
            let mut reader = TextTableReader::open(&path).unwrap();
            let mut cells = start;
            let mut n = 0;
            while let Some(batch) = reader.next_batch().unwrap() {
                for i in 0..batch.num_rows() {
                    batch.row_into(i, &mut cells);
                    proptest::prop_assert_eq!(&cells, &batch.row(i));
                    proptest::prop_assert_eq!(&cells, &vec![rows[n].0.clone(), rows[n].1.clone()]);
                    n += 1;
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
            proptest::prop_assert_eq!(n, rows.len());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Spilling (what the transform does to writers over its memory budget) at any rows
        /// never changes what is read back, and leaves the writer holding less than before.
        #[test]
        fn spilling_anywhere_keeps_every_row_in_order(
            rows in proptest::collection::vec(
                (proptest::option::of("[a-z值0-9 ]{0,12}"), proptest::option::of("[0-9.]{0,8}")),
                0..3000,
            ),
            spills in proptest::collection::btree_set(0usize..3000, 0..6),
        ) {
            let (dir, path) = scratch("spill");
            let mut w = TextTableWriter::create(&path, &["a", "b"]).unwrap();
            for (i, (a, b)) in rows.iter().enumerate() {
                if spills.contains(&i) {
                    let before = w.memory();
                    w.spill().unwrap();
                    proptest::prop_assert!(w.memory() <= before);
                }
                w.write(&[a.clone(), b.clone()]).unwrap();
            }
            proptest::prop_assert_eq!(w.finish().unwrap(), rows.len() as u64);
            let mut back = Vec::new();
            TextTableReader::open(&path)
                .unwrap()
                .for_each(|r| {
                    back.push((r[0].clone(), r[1].clone()));
                    Ok(())
                })
                .unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            proptest::prop_assert_eq!(back, rows);
        }
    }
}
