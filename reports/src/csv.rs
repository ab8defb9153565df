//! CSV for Excel: UTF-8 with a byte-order mark, so Chinese opens correctly.

use std::io::Write;
use std::path::Path;

use crate::ReportError;

fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn line(w: &mut impl Write, cells: &[String]) -> std::io::Result<()> {
    let text: Vec<String> = cells.iter().map(|c| field(c)).collect();
    write!(w, "{}\r\n", text.join(","))
}

/// Writes a header and rows, CRLF line ends, UTF-8 with BOM.
pub(crate) fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<(), ReportError> {
    let write = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        w.write_all("\u{feff}".as_bytes())?;
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        line(&mut w, &header)?;
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

    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(field("王芳"), "王芳");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
