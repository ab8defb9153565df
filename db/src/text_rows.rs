//! Rows of text held in one buffer: every cell's text side by side, one allocation per
//! buffer instead of one per cell. The row diff reads about sixteen cells a payment line on
//! each side; as one `String` each, allocating, copying and freeing them was a quarter of
//! the reconciliation's own CPU at the county preset.

/// A table of text cells, `width` to a row, NULL kept apart from the empty text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextRows {
    width: usize,
    text: String,
    /// Where each cell's bytes end in `text`, row after row (a cell begins where the one
    /// before it ends), with [`NULL`] set for NULL: 8 bytes a cell. (As a range, 24 bytes a
    /// cell: the diff's chunks of payment lines were three times the size, and growing them
    /// was most of the page faults of the reconciliation's own CPU.)
    ends: Vec<u64>,
}

/// The bit of an end that marks its cell NULL.
const NULL: u64 = 1 << 63;

impl TextRows {
    pub fn new(width: usize) -> TextRows {
        TextRows {
            width,
            ..TextRows::default()
        }
    }

    /// Cells per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.ends.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends a row. A row of fewer cells than the width is filled with NULLs, and cells past
    /// the width are left out, so rows stay aligned whatever the caller hands in.
    pub fn push_row<'a>(&mut self, cells: impl IntoIterator<Item = Option<&'a str>>) {
        let pushed: Result<(), std::convert::Infallible> =
            self.try_push_row(cells.into_iter().map(Ok));
        let Ok(()) = pushed;
    }

    /// Appends a row whose cells may fail to read: on the first that does, nothing of the row
    /// is kept and its error is returned.
    pub fn try_push_row<'a, E>(
        &mut self,
        cells: impl IntoIterator<Item = Result<Option<&'a str>, E>>,
    ) -> Result<(), E> {
        let (start, text) = (self.ends.len(), self.text.len());
        for cell in cells.into_iter().take(self.width) {
            match cell {
                Ok(Some(t)) => {
                    self.text.push_str(t);
                    self.ends.push(self.text.len() as u64);
                }
                Ok(None) => self.ends.push(self.text.len() as u64 | NULL),
                Err(e) => {
                    self.ends.truncate(start);
                    self.text.truncate(text);
                    return Err(e);
                }
            }
        }
        self.ends
            .resize(start + self.width, self.text.len() as u64 | NULL);
        Ok(())
    }

    /// Appends one line of PostgreSQL's `COPY … TO STDOUT` text format, its newline removed:
    /// cells split at tabs, `\N` for NULL, backslash escapes decoded (`\t`, `\n`, `\\`, the
    /// others `COPY` writes, and the octal and hex ones it reads). A line whose number of cells
    /// is not the width, or that is not UTF-8 text once decoded, is refused and nothing of it
    /// is kept.
    pub fn push_copy_line(&mut self, line: &[u8]) -> Result<(), CopyLineError> {
        let line = std::str::from_utf8(line).map_err(|_| CopyLineError::NotUtf8)?;
        let (start, text) = (self.ends.len(), self.text.len());
        let undo = |table: &mut TextRows, e: CopyLineError| {
            table.ends.truncate(start);
            table.text.truncate(text);
            Err(e)
        };
        // Cells and backslashes found byte by byte (a tab is one byte of UTF-8, so every cell is
        // text), the next backslash looked for again only once a cell has passed it. (Split at
        // the character `\t`, each cell's end was a `memchr` and a `memcmp`: 4 % of a
        // reconciliation's own CPU.)
        let bytes = line.as_bytes();
        let find = |byte: u8, from: usize| {
            memchr::memchr(byte, &bytes[from..]).map_or(bytes.len(), |i| from + i)
        };
        let mut backslash = find(b'\\', 0);
        let mut cells = 0;
        let mut from = 0;
        loop {
            let end = find(b'\t', from);
            let cell = &line[from..end];
            cells += 1;
            if cells > self.width {
                return undo(self, CopyLineError::Cells(self.width));
            }
            if backslash < from {
                backslash = find(b'\\', from);
            }
            if backslash >= end {
                self.text.push_str(cell);
                self.ends.push(self.text.len() as u64);
            } else if cell == "\\N" {
                self.ends.push(self.text.len() as u64 | NULL);
            } else {
                match unescape_copy(cell) {
                    Some(decoded) => self.text.push_str(&decoded),
                    None => return undo(self, CopyLineError::NotUtf8),
                }
                self.ends.push(self.text.len() as u64);
            }
            if end == line.len() {
                break;
            }
            from = end + 1;
        }
        if cells != self.width {
            return undo(self, CopyLineError::Cells(self.width));
        }
        Ok(())
    }

    /// Row `row`'s cell `column`: `None` for NULL (and outside the table).
    pub fn get(&self, row: usize, column: usize) -> Option<&str> {
        if column >= self.width {
            return None;
        }
        let at = row.checked_mul(self.width)?.checked_add(column)?;
        let end = *self.ends.get(at)?;
        if end & NULL != 0 {
            return None;
        }
        let start = match at {
            0 => 0,
            _ => self.ends[at - 1] & !NULL,
        };
        self.text.get(start as usize..end as usize)
    }

    /// Row `row`'s cells in order.
    pub fn row(&self, row: usize) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.width).map(move |c| self.get(row, c))
    }

    /// Empties the table, keeping its buffers for the next rows.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// `COPY … TO STDOUT` text as it arrives, in pieces that need not end at a line's end, read
/// into one [`TextRows`] whose width is the first line's number of cells.
#[derive(Debug, Default)]
pub struct CopyText {
    table: Option<TextRows>,
    /// The start of a line whose end has not come yet.
    partial: Vec<u8>,
    /// Rows read and handed on as pages (see [`CopyText::full_page`]).
    handed: usize,
}

/// Why `COPY` text could not be read (its text is never shown: it may be personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CopyTextError {
    #[error("{error} (row {row})")]
    Line { error: CopyLineError, row: usize },
    #[error("COPY data ended inside a line")]
    Unfinished,
}

impl CopyText {
    /// Reads the lines `data` ends, and keeps what follows the last for the next piece.
    pub fn push(&mut self, data: &[u8]) -> Result<(), CopyTextError> {
        let mut rest = data;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                self.line(&rest[..end])?;
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.partial);
                self.line(&line)?;
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> Result<(), CopyTextError> {
        let rows = self
            .table
            .get_or_insert_with(|| TextRows::new(line.iter().filter(|b| **b == b'\t').count() + 1));
        rows.push_copy_line(line)
            .map_err(|error| CopyTextError::Line {
                error,
                row: self.handed + rows.len() + 1,
            })
    }

    /// When at least `size` rows are read, hands them to `take` and forgets them (memory then
    /// holds a page, not the result).
    pub fn full_page<R>(&mut self, size: usize, take: impl FnOnce(&TextRows) -> R) -> Option<R> {
        let rows = self.table.as_mut().filter(|t| t.len() >= size)?;
        let taken = take(rows);
        self.handed += rows.len();
        rows.clear();
        Some(taken)
    }

    /// The rows read; an error if the text stopped inside a line.
    pub fn finish(self) -> Result<TextRows, CopyTextError> {
        if !self.partial.is_empty() {
            return Err(CopyTextError::Unfinished);
        }
        Ok(self.table.unwrap_or_default())
    }
}

/// Why a line of `COPY` text could not be read (its text is never shown: it may be personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CopyLineError {
    #[error("a COPY line did not have the {0} cells the query selects")]
    Cells(usize),
    #[error("a COPY line was not UTF-8 text")]
    NotUtf8,
}

/// One cell of `COPY` text with its backslash escapes decoded; `None` when the bytes it
/// stands for are not UTF-8. A backslash before any other character stands for that character,
/// as `COPY … FROM` reads it.
fn unescape_copy(cell: &str) -> Option<String> {
    let bytes = cell.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = bytes.get(i) else {
            out.push(b'\\');
            break;
        };
        i += 1;
        match e {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match bytes.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' if bytes.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match bytes.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(v as u8);
            }
            // Itself (of a multi-byte character, its first byte: the rest follow unescaped).
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{CopyLineError, CopyText, CopyTextError, TextRows};

    /// A cell as `COPY … TO STDOUT` writes it in text format.
    fn copy_cell(cell: Option<&str>) -> String {
        let Some(cell) = cell else {
            return "\\N".to_owned();
        };
        let mut out = String::new();
        for ch in cell.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                other => out.push(other),
            }
        }
        out
    }

    #[test]
    fn copy_escapes_decode_as_copy_from_reads_them() {
        let mut table = TextRows::new(4);
        let line = b"a\\101\\x42c\t\\N\t\\\\N\t\\q\xc3\xa9";
        assert_eq!(table.push_copy_line(line), Ok(()));
        assert_eq!(
            table.row(0).collect::<Vec<_>>(),
            [Some("aABc"), None, Some("\\N"), Some("q\u{e9}")]
        );
        // Too few and too many cells, and bytes that are not UTF-8 once decoded.
        assert_eq!(table.push_copy_line(b"a\tb"), Err(CopyLineError::Cells(4)));
        assert_eq!(
            table.push_copy_line(b"a\tb\tc\td\te"),
            Err(CopyLineError::Cells(4))
        );
        assert_eq!(
            table.push_copy_line(b"\\377\tb\tc\td"),
            Err(CopyLineError::NotUtf8)
        );
        assert_eq!(table.len(), 1);
    }

    proptest! {
        /// Whatever is pushed reads back cell by cell, NULL and empty text apart, rows of the
        /// wrong length padded or cut to the width.
        #[test]
        fn cells_read_back_as_pushed(
            width in 0usize..5,
            rows in prop::collection::vec(prop::collection::vec(prop::option::of(".{0,6}"), 0..7), 0..20),
        ) {
            let mut table = TextRows::new(width);
            for r in &rows {
                table.push_row(r.iter().map(|c| c.as_deref()));
            }
            prop_assert_eq!(table.len(), if width == 0 { 0 } else { rows.len() });
            for (i, r) in rows.iter().enumerate().take(table.len()) {
                for c in 0..width {
                    let pushed = r.get(c).cloned().flatten();
                    prop_assert_eq!(table.get(i, c), pushed.as_deref());
                }
                prop_assert_eq!(table.get(i, width), None);
            }
            table.clear();
            prop_assert!(table.is_empty());
        }

        /// A row written as PostgreSQL's `COPY … TO STDOUT` writes it (escapes as in
        /// `CopyAttributeOutText`) reads back cell for cell, NULL and the text `\N` apart.
        #[test]
        fn copy_lines_read_back_as_written(
            rows in prop::collection::vec(prop::collection::vec(prop::option::of("(\\PC|[\\\\\t\n\r\u{8}\u{b}\u{c}N]){0,8}"), 3), 0..12),
        ) {
            let mut table = TextRows::new(3);
            for r in &rows {
                let line: Vec<String> = r.iter().map(|c| copy_cell(c.as_deref())).collect();
                prop_assert_eq!(table.push_copy_line(line.join("\t").as_bytes()), Ok(()));
            }
            prop_assert_eq!(table.len(), rows.len());
            for (i, r) in rows.iter().enumerate() {
                for (c, cell) in r.iter().enumerate() {
                    prop_assert_eq!(table.get(i, c), cell.as_deref());
                }
            }
        }

        /// `COPY` text cut into pieces anywhere (as the server's messages may cut it) reads as
        /// the whole text does; text that stops inside a line is refused.
        #[test]
        fn copy_text_in_pieces_reads_as_the_whole(
            rows in prop::collection::vec(prop::collection::vec(prop::option::of("(\\PC|[\\\\\t\n])"), 2), 1..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            unfinished in any::<bool>(),
            page in 1usize..4,
        ) {
            let mut text: Vec<u8> = rows
                .iter()
                .flat_map(|r| {
                    let cells: Vec<String> = r.iter().map(|c| copy_cell(c.as_deref())).collect();
                    format!("{}\n", cells.join("\t")).into_bytes()
                })
                .collect();
            if unfinished {
                text.extend_from_slice(b"a\tb");
            }
            let mut whole = CopyText::default();
            whole.push(&text).expect("lines COPY writes");
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = CopyText::default();
            // Read in pages of `page` rows as well: the pages and the rest hold the same rows.
            let mut paged = CopyText::default();
            let mut pages: Vec<Vec<Option<String>>> = Vec::new();
            let mut taken = |t: &TextRows| {
                (0..t.len()).for_each(|i| pages.push(t.row(i).map(|c| c.map(str::to_owned)).collect()));
            };
            let mut from = 0;
            for cut in at.into_iter().chain([text.len()]) {
                pieces.push(&text[from..cut]).expect("lines COPY writes");
                paged.push(&text[from..cut]).expect("lines COPY writes");
                while paged.full_page(page, &mut taken).is_some() {}
                from = cut;
            }
            let (whole, pieces, paged) = (whole.finish(), pieces.finish(), paged.finish());
            prop_assert_eq!(&whole, &pieces);
            if let (Ok(whole), Ok(rest)) = (&whole, &paged) {
                taken(rest);
                let all: Vec<Vec<Option<String>>> = (0..whole.len())
                    .map(|i| whole.row(i).map(|c| c.map(str::to_owned)).collect())
                    .collect();
                prop_assert_eq!(&all, &pages);
                prop_assert!(rest.len() < page);
            }
            prop_assert_eq!(whole.is_ok(), paged.is_ok());
            match whole {
                Ok(table) => {
                    prop_assert!(!unfinished);
                    prop_assert_eq!(table.len(), rows.len());
                }
                Err(e) => prop_assert_eq!((unfinished, e), (true, CopyTextError::Unfinished)),
            }
        }

        /// Any bytes at all: no panic; a line is kept whole with its width of cells, or refused
        /// and the table left as it was.
        #[test]
        fn any_copy_line_is_read_or_refused_whole(
            kept in prop::collection::vec(prop::option::of("[a-z]{0,3}"), 2),
            line in prop::collection::vec(prop::sample::select(b"ab\\\tNx07\n\xc3\xa9\xff".to_vec()), 0..16),
        ) {
            let mut table = TextRows::new(2);
            table.push_row(kept.iter().map(|c| c.as_deref()));
            let before = table.clone();
            match table.push_copy_line(&line) {
                Ok(()) => {
                    prop_assert_eq!(table.len(), 2);
                    prop_assert_eq!(table.row(0).collect::<Vec<_>>(), before.row(0).collect::<Vec<_>>());
                }
                Err(_) => prop_assert_eq!(&table, &before),
            }
        }

        /// The line read cell by cell agrees with a plain reading of it: split at every tab,
        /// `\N` for NULL, any other cell with a backslash decoded.
        #[test]
        fn copy_lines_read_as_a_plain_split_reads_them(
            line in prop::collection::vec(prop::sample::select(b"ab\\\tN\\\t7x\xc3\xa9".to_vec()), 0..24),
            width in 1usize..6,
        ) {
            let plain = || -> Option<Vec<Option<String>>> {
                let text = std::str::from_utf8(&line).ok()?;
                let cells: Vec<Option<String>> = text
                    .split('\t')
                    .map(|c| match c {
                        "\\N" => Some(None),
                        c => super::unescape_copy(c).map(Some),
                    })
                    .collect::<Option<_>>()?;
                (cells.len() == width).then_some(cells)
            };
            let mut table = TextRows::new(width);
            match (table.push_copy_line(&line), plain()) {
                (Ok(()), Some(cells)) => {
                    prop_assert_eq!(table.row(0).map(|c| c.map(str::to_owned)).collect::<Vec<_>>(), cells);
                }
                (Err(_), None) => prop_assert!(table.is_empty()),
                (read, plain) => prop_assert!(false, "read {:?}, plainly {:?}", read, plain),
            }
        }

        /// A row that fails part-way leaves the table as it was.
        #[test]
        fn a_row_that_fails_to_read_is_not_kept(
            rows in prop::collection::vec(prop::collection::vec(prop::option::of("[a-c]{0,3}"), 3), 1..6),
            bad in 0usize..3,
        ) {
            let mut table = TextRows::new(3);
            for r in &rows {
                table.push_row(r.iter().map(|c| c.as_deref()));
            }
            let before = table.clone();
            let failing = (0..3).map(|c| if c == bad { Err("unreadable") } else { Ok(Some("x")) });
            prop_assert_eq!(table.try_push_row(failing), Err("unreadable"));
            prop_assert_eq!(table, before);
        }
    }
}
