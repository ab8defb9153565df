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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::TextRows;

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
