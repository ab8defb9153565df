//! A county's listed rows (its rejects, its corrections) in the order the county works in,
//! with memory bounded whatever their number: up to [`held_rows`] rows are held and sorted in
//! memory; past that, each [`held_rows`] rows are sorted and written to a temporary file as a
//! run, and the runs are merged as the rows are read. A county whose every payment line was
//! rejected (1,015,645 rejects) took a reconciliation to 646–649 MiB with its listing held
//! whole, and 149–150 MiB this way (`bench/rejects.sh`).
//!
//! The merge keeps rows that sort equal in the order they came (an earlier run's first), so
//! the rows come out exactly as one stable sort of them all would give them.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Rows held in memory before they go to disk in sorted runs, unless `YKT_REPORT_HELD_ROWS`
/// says otherwise (the tests set it low, to read every listing through the runs). A listed
/// row holds about 700 bytes: 100,000 rows are about 70 MB, and at most four listings are
/// being read or written at once (a county's two, and the next county's read ahead). The
/// county preset's largest listing (86,000 rejects) stays in memory, as it did before.
pub(crate) fn held_rows() -> usize {
    std::env::var("YKT_REPORT_HELD_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100_000)
}

/// A row of a listing: written to a run as its cells and read back from them.
pub(crate) trait Listed: Clone + Send + Sync {
    /// The row's cells, in the order [`Listed::from_cells`] takes them.
    fn cells(&self) -> Vec<Option<&str>>;
    /// The row from its cells (as many as [`Listed::cells`] gives; each taken).
    fn from_cells(cells: &mut [Option<String>]) -> Self;
    /// The row's place in the county's listing.
    fn order(&self, other: &Self) -> Ordering;
    /// Its reject or correction code, counted as the rows come.
    fn code(&self) -> &str;
}

/// Rows being gathered, in the order they come: sorted in runs once they are many.
pub(crate) struct Sorting<T> {
    held: Vec<T>,
    limit: usize,
    dir: PathBuf,
    runs: Option<Runs>,
    codes: BTreeMap<String, u64>,
    len: usize,
}

/// The runs on disk: one anonymous temporary file (it has no name in the folder, and goes
/// when closed) and each run's place in it.
struct Runs {
    file: File,
    width: usize,
    spans: Vec<(u64, u64)>,
}

impl<T: Listed> Sorting<T> {
    /// Runs, if any, go to an anonymous file in `dir` (the report folder: under its own
    /// permissions, as the rows hold personal data; never a shared /tmp).
    pub(crate) fn new(dir: &Path, limit: usize) -> Sorting<T> {
        Sorting {
            held: Vec::new(),
            limit: limit.max(1),
            dir: dir.to_owned(),
            runs: None,
            codes: BTreeMap::new(),
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, row: T) -> io::Result<()> {
        match self.codes.get_mut(row.code()) {
            Some(n) => *n += 1,
            None => {
                self.codes.insert(row.code().to_owned(), 1);
            }
        }
        self.len += 1;
        self.held.push(row);
        if self.held.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// The held rows, sorted, as the next run.
    fn spill(&mut self) -> io::Result<()> {
        let mut rows = std::mem::take(&mut self.held);
        rows.sort_by(T::order);
        let runs = match &mut self.runs {
            Some(runs) => runs,
            None => self.runs.insert(Runs {
                file: tempfile::tempfile_in(&self.dir)?,
                width: rows.first().map_or(0, |r| r.cells().len()),
                spans: Vec::new(),
            }),
        };
        let start = runs.file.seek(io::SeekFrom::End(0))?;
        let mut out = BufWriter::with_capacity(1 << 16, &runs.file);
        for row in &rows {
            write_cells(&mut out, &row.cells())?;
        }
        out.flush()?;
        drop(out);
        let end = runs.file.stream_position()?;
        runs.spans.push((start, end));
        Ok(())
    }

    /// The rows gathered, in order.
    pub(crate) fn finish(mut self) -> io::Result<Sorted<T>> {
        if self.runs.is_some() && !self.held.is_empty() {
            self.spill()?;
        }
        self.held.sort_by(T::order);
        Ok(Sorted {
            held: self.held,
            runs: self.runs.map(Arc::new),
            codes: self.codes,
            len: self.len,
            failed: Mutex::new(None),
        })
    }
}

/// A county's listing, in order: held, or in runs on disk read back as they are merged.
pub(crate) struct Sorted<T> {
    held: Vec<T>,
    runs: Option<Arc<Runs>>,
    codes: BTreeMap<String, u64>,
    len: usize,
    /// The first error reading the runs back (the rows then stop short; see [`Sorted::check`]).
    failed: Mutex<Option<io::Error>>,
}

impl<T: Listed> Sorted<T> {
    /// Rows held in memory and sorted, whatever their number (nothing goes to disk).
    #[cfg(test)]
    pub(crate) fn held(rows: Vec<T>) -> Sorted<T> {
        let mut sorting = Sorting::new(Path::new("/nonexistent"), usize::MAX);
        for row in rows {
            sorting.push(row).expect("held rows are never written");
        }
        sorting.finish().expect("held rows are never written")
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The rows per code.
    pub(crate) fn codes(&self) -> &BTreeMap<String, u64> {
        &self.codes
    }

    /// Whether the rows went to disk.
    pub(crate) fn spilled(&self) -> bool {
        self.runs.is_some()
    }

    /// The rows in order, borrowed when held and read back when not. Each call reads on its
    /// own (the page, the CSV file and the workbook each read the rows at once).
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, T>> + Send + '_> {
        let Some(runs) = &self.runs else {
            return Box::new(self.held.iter().map(Cow::Borrowed));
        };
        let mut merge = Merge {
            readers: Vec::new(),
            heads: BinaryHeap::new(),
            width: runs.width,
            failed: &self.failed,
        };
        for (run, &(start, end)) in runs.spans.iter().enumerate() {
            let reader = BufReader::with_capacity(
                1 << 16,
                RunReader {
                    runs: Arc::clone(runs),
                    at: start,
                    end,
                },
            );
            merge.readers.push(reader);
            merge.advance(run);
        }
        Box::new(merge)
    }

    /// The first error met reading the rows back, if any (once: it is taken): a listing
    /// written from them is then short, and the report must fail rather than be kept.
    pub(crate) fn check(&self) -> io::Result<()> {
        let failed = match self.failed.lock() {
            Ok(mut f) => f.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        failed.map_or(Ok(()), Err)
    }
}

/// A run's bytes, read at their place in the file (each reader its own place: one file serves
/// the readers of every run at once).
struct RunReader {
    runs: Arc<Runs>,
    at: u64,
    end: u64,
}

impl Read for RunReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.runs.file.read_at(&mut buf[..want], self.at)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// A run's next row in the merge: the smallest first, and of equal rows the earlier run's.
struct Head<T> {
    row: T,
    run: usize,
}

impl<T: Listed> Ord for Head<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // `BinaryHeap` pops its greatest: reversed.
        other
            .row
            .order(&self.row)
            .then_with(|| other.run.cmp(&self.run))
    }
}

impl<T: Listed> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Listed> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Listed> Eq for Head<T> {}

struct Merge<'a, T> {
    readers: Vec<BufReader<RunReader>>,
    heads: BinaryHeap<Head<T>>,
    width: usize,
    failed: &'a Mutex<Option<io::Error>>,
}

impl<T: Listed> Merge<'_, T> {
    /// Reads run `run`'s next row into the heads, if it has one.
    fn advance(&mut self, run: usize) {
        match read_cells(&mut self.readers[run], self.width) {
            Ok(Some(mut cells)) => self.heads.push(Head {
                row: T::from_cells(&mut cells),
                run,
            }),
            Ok(None) => {}
            Err(e) => {
                if let Ok(mut failed) = self.failed.lock() {
                    failed.get_or_insert(e);
                }
                // Nothing more is read: the listing stops short and the report fails.
                self.heads.clear();
                self.readers.clear();
            }
        }
    }
}

impl<'a, T: Listed + 'a> Iterator for Merge<'a, T> {
    type Item = Cow<'a, T>;

    fn next(&mut self) -> Option<Cow<'a, T>> {
        let Head { row, run } = self.heads.pop()?;
        if run < self.readers.len() {
            self.advance(run);
        }
        Some(Cow::Owned(row))
    }
}

/// A row as its cells: each a length (one more than the text's bytes; 0 for none) and its
/// bytes.
fn write_cells(out: &mut impl Write, cells: &[Option<&str>]) -> io::Result<()> {
    for cell in cells {
        match cell {
            None => out.write_all(&0u32.to_le_bytes())?,
            Some(text) => {
                let len = u32::try_from(text.len() + 1)
                    .map_err(|_| io::Error::other("a listed value of more than 4 GiB"))?;
                out.write_all(&len.to_le_bytes())?;
                out.write_all(text.as_bytes())?;
            }
        }
    }
    Ok(())
}

/// The next row's `width` cells; `None` at the run's end.
fn read_cells(input: &mut impl Read, width: usize) -> io::Result<Option<Vec<Option<String>>>> {
    let mut cells = Vec::with_capacity(width);
    for i in 0..width {
        let mut len = [0u8; 4];
        if i == 0 {
            // The run's end comes only between rows.
            match input.read(&mut len[..1])? {
                0 => return Ok(None),
                _ => input.read_exact(&mut len[1..])?,
            }
        } else {
            input.read_exact(&mut len)?;
        }
        let len = u32::from_le_bytes(len) as usize;
        if len == 0 {
            cells.push(None);
            continue;
        }
        let mut text = vec![0u8; len - 1];
        input.read_exact(&mut text)?;
        let text =
            String::from_utf8(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        cells.push(Some(text));
    }
    Ok(Some(cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A row sorted by its first cell alone, so that many rows sort equal and the merge's
    /// keeping of their order is tested.
    #[derive(Debug, Clone, PartialEq)]
    struct Row(Option<String>, Option<String>, String);

    impl Listed for Row {
        fn cells(&self) -> Vec<Option<&str>> {
            vec![self.0.as_deref(), self.1.as_deref(), Some(&self.2)]
        }
        fn from_cells(cells: &mut [Option<String>]) -> Row {
            Row(
                cells[0].take(),
                cells[1].take(),
                cells[2].take().unwrap_or_default(),
            )
        }
        fn order(&self, other: &Row) -> Ordering {
            self.0.cmp(&other.0)
        }
        fn code(&self) -> &str {
            &self.2
        }
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            prop::option::of("[ab]{0,2}"),
            prop::option::of("\\PC{0,6}"),
            "R_[AB]",
        )
            .prop_map(|(a, b, c)| Row(a, b, c))
    }

    proptest! {
        /// Rows gathered with any limit (in memory, or in runs on disk merged back) come out
        /// as one stable sort of them all, with the same count per code; two readers at once
        /// read the same.
        #[test]
        fn runs_read_back_as_one_stable_sort(
            rows in prop::collection::vec(row(), 0..60),
            limit in 1usize..70,
        ) {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let mut sorting = Sorting::new(dir.path(), limit);
            for r in &rows {
                sorting.push(r.clone()).expect("written");
            }
            let sorted = sorting.finish().expect("sorted");
            let whole = Sorted::held(rows.clone());
            prop_assert_eq!(sorted.len(), rows.len());
            prop_assert_eq!(sorted.codes(), whole.codes());
            prop_assert_eq!(sorted.spilled(), rows.len() >= limit);
            let mut first = sorted.iter();
            let mut second = sorted.iter();
            let expected: Vec<Row> = whole.iter().map(Cow::into_owned).collect();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            loop {
                match (first.next(), second.next()) {
                    (None, None) => break,
                    (x, y) => {
                        a.extend(x.map(Cow::into_owned));
                        b.extend(y.map(Cow::into_owned));
                    }
                }
            }
            prop_assert_eq!(&a, &expected);
            prop_assert_eq!(&b, &expected);
            prop_assert!(sorted.check().is_ok());
            // Nothing is left in the folder: the runs' file has no name.
            prop_assert_eq!(std::fs::read_dir(dir.path()).expect("listed").count(), 0);
        }
    }

    /// A run cut short on disk ends the rows and is reported, not read as a shorter listing.
    #[test]
    fn a_damaged_run_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut sorting = Sorting::new(dir.path(), 2);
        for i in 0..5 {
            let text = format!("{i}");
            sorting
                .push(Row(Some(text.clone()), Some(text), "R_A".to_owned()))
                .expect("written");
        }
        let sorted = sorting.finish().expect("sorted");
        let runs = sorted.runs.as_ref().expect("in runs");
        let end = runs.spans.last().expect("a run").1;
        runs.file.set_len(end - 2).expect("cut");
        let read = sorted.iter().count();
        assert!(read < 5, "{read}");
        let err = sorted.check().expect_err("the cut is found");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
