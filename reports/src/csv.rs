//! CSV for Excel: UTF-8 with a byte-order mark, so Chinese opens correctly.

use std::io::Write;
use std::path::Path;

use crate::ReportError;

/// One cell as CSV: quoted (its quotes doubled) where it holds a comma, quote or line end.
fn field(w: &mut impl Write, value: &str) -> std::io::Result<()> {
    if !value.contains([',', '"', '\n', '\r']) {
        return w.write_all(value.as_bytes());
    }
    w.write_all(b"\"")?;
    for (i, part) in value.split('"').enumerate() {
        if i > 0 {
            w.write_all(b"\"\"")?;
        }
        w.write_all(part.as_bytes())?;
    }
    w.write_all(b"\"")
}

/// One row, written cell by cell (no copy of a cell: a county's rejects are a hundred
/// thousand rows of fourteen).
fn line(w: &mut impl Write, cells: &[impl AsRef<str>]) -> std::io::Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        field(w, cell.as_ref())?;
    }
    w.write_all(b"\r\n")
}

/// Writes a header and rows, CRLF line ends, UTF-8 with BOM.
pub(crate) fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<impl AsRef<str>>>,
) -> Result<(), ReportError> {
    let write = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
        w.write_all("\u{feff}".as_bytes())?;
        line(&mut w, header)?;
        for row in rows {
            line(&mut w, &row)?;
        }
        w.flush()
    };
    write().map_err(|e| ReportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = Vec::new();
        field(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(cell("王芳"), "王芳");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("\""), "\"\"\"\"");
        assert_eq!(cell("a\r\nb"), "\"a\r\nb\"");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn writes_rows_with_crlf_and_a_bom() {
        let path = std::env::temp_dir().join(format!("ykt-csv-{}.csv", std::process::id()));
        write_csv(&path, &["a", "b"], [vec!["1", "x,y"], vec!["", "z"]]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, "\u{feff}a,b\r\n1,\"x,y\"\r\n,z\r\n");
    }
}
