//! The legacy export format ("数据导出"): one CSV file per table, GBK, CRLF, first row the
//! Chinese captions, fields quoted with `"` only when they hold `,`, `"` or a line break.
//! Some county offices re-saved the files as UTF-8, with or without a BOM (quirk Q13); some
//! added a last `合计` (totals) row and left empty lines at the end. The reader detects the
//! encoding, drops and counts totals rows, and skips empty lines.
//!
//! Parsing works on bytes: in GBK the trail byte of a two-byte character is never `"`, `,`,
//! CR or LF, so fields can be split before they are decoded, one at a time.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ykt_domain::{LegacyRow, LegacyTable};

use crate::ExtractError;

/// The first field of a totals row that some offices added in a spreadsheet.
pub const TOTALS_MARKER: &str = "合计";

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How an export file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportEncoding {
    /// The legacy system's own output.
    Gbk,
    /// A re-save as UTF-8 with a byte order mark.
    Utf8Bom,
    /// A re-save as UTF-8 without one.
    Utf8,
}

impl ExportEncoding {
    pub fn name(self) -> &'static str {
        match self {
            ExportEncoding::Gbk => "GBK",
            ExportEncoding::Utf8Bom => "UTF-8 (BOM)",
            ExportEncoding::Utf8 => "UTF-8",
        }
    }
}

/// Writes one table's export file.
pub struct ExportWriter {
    path: PathBuf,
    out: BufWriter<File>,
    encoding: ExportEncoding,
    rows: u64,
    line: String,
}

impl ExportWriter {
    /// Creates `DIR/T_XXXX.csv` and writes the caption row.
    pub fn create(
        dir: &Path,
        table: LegacyTable,
        encoding: ExportEncoding,
    ) -> Result<ExportWriter, ExtractError> {
        let path = dir.join(table.file_name());
        let file = File::create(&path).map_err(|source| ExtractError::Io {
            path: path.clone(),
            source,
        })?;
        let mut writer = ExportWriter {
            path,
            out: BufWriter::with_capacity(1 << 16, file),
            encoding,
            rows: 0,
            line: String::new(),
        };
        if encoding == ExportEncoding::Utf8Bom {
            writer.write_bytes(BOM)?;
        }
        let captions: Vec<Option<&str>> = table.columns().iter().map(|c| Some(c.caption)).collect();
        writer.write_fields(&captions)?;
        Ok(writer)
    }

    /// Writes one data row. `None` and empty values are written as an empty field.
    pub fn write_row(&mut self, row: &LegacyRow) -> Result<(), ExtractError> {
        let fields: Vec<Option<&str>> = row.iter().map(Option::as_deref).collect();
        self.write_fields(&fields)?;
        self.rows += 1;
        Ok(())
    }

    /// Writes a totals row: `合计` in the first field, then the given fields.
    pub fn write_totals_row(&mut self, rest: &[Option<&str>]) -> Result<(), ExtractError> {
        let mut fields = vec![Some(TOTALS_MARKER)];
        fields.extend_from_slice(rest);
        self.write_fields(&fields)
    }

    /// Writes `n` empty lines, as a spreadsheet re-save leaves them.
    pub fn write_empty_lines(&mut self, n: usize) -> Result<(), ExtractError> {
        for _ in 0..n {
            self.write_bytes(b"\r\n")?;
        }
        Ok(())
    }

    /// Flushes the file and returns the number of data rows written.
    pub fn finish(mut self) -> Result<u64, ExtractError> {
        let path = self.path.clone();
        self.out
            .flush()
            .map_err(|source| ExtractError::Io { path, source })?;
        Ok(self.rows)
    }

    fn write_fields(&mut self, fields: &[Option<&str>]) -> Result<(), ExtractError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            let value = field.unwrap_or("");
            if value.contains([',', '"', '\r', '\n']) {
                line.push('"');
                line.push_str(&value.replace('"', "\"\""));
                line.push('"');
            } else {
                line.push_str(value);
            }
        }
        line.push_str("\r\n");
        let result = match self.encoding {
            ExportEncoding::Gbk => {
                let (bytes, _, unmappable) = encoding_rs::GBK.encode(&line);
                if unmappable {
                    Err(ExtractError::BadFile {
                        path: self.path.clone(),
                        line: self.rows + 2,
                        problem: format!(
                            "a value cannot be written in GBK: {}",
                            crate::keys::printable(line.trim_end())
                        ),
                    })
                } else {
                    self.write_bytes(&bytes)
                }
            }
            ExportEncoding::Utf8 | ExportEncoding::Utf8Bom => self.write_bytes(line.as_bytes()),
        };
        self.line = line;
        result
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ExtractError> {
        self.out
            .write_all(bytes)
            .map_err(|source| ExtractError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// Reads one table's export file, a row at a time.
pub struct ExportReader {
    path: PathBuf,
    input: BufReader<File>,
    table: LegacyTable,
    encoding: ExportEncoding,
    /// Line number of the next record's first line (1-based).
    line: u64,
    /// Line number of the last row returned.
    last_line: u64,
    totals_rows: u64,
    /// Data rows read, and the sum of the amount column's values that read as money.
    rows_read: u64,
    amount_sum: rust_decimal::Decimal,
    /// What the last `合计` row declares (rows, amount), and its line.
    declared: Option<(Option<u64>, Option<rust_decimal::Decimal>, u64)>,
    buf: Vec<u8>,
}

impl ExportReader {
    /// Opens `DIR/T_XXXX.csv`, detects its encoding and checks its caption row.
    pub fn open(dir: &Path, table: LegacyTable) -> Result<ExportReader, ExtractError> {
        let path = dir.join(table.file_name());
        let file = File::open(&path).map_err(|source| ExtractError::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = ExportReader {
            path,
            input: BufReader::with_capacity(1 << 16, file),
            table,
            encoding: ExportEncoding::Gbk,
            line: 1,
            last_line: 0,
            totals_rows: 0,
            rows_read: 0,
            amount_sum: rust_decimal::Decimal::ZERO,
            declared: None,
            buf: Vec::new(),
        };
        let header = reader
            .next_record()?
            .ok_or_else(|| reader.bad(1, "the file is empty (no caption row)".into()))?;
        let mut header = header;
        if let Some(first) = header.first_mut()
            && first.starts_with(BOM)
        {
            first.drain(..BOM.len());
            reader.encoding = ExportEncoding::Utf8Bom;
        } else if header.iter().all(|f| std::str::from_utf8(f).is_ok()) {
            reader.encoding = ExportEncoding::Utf8;
        }
        let captions: Vec<String> = header
            .iter()
            .map(|f| reader.decode(f, 1))
            .collect::<Result<_, _>>()?;
        for (i, column) in table.columns().iter().enumerate() {
            let found = captions.get(i).map(|c| c.trim());
            if found != Some(column.caption) && found != Some(column.name) {
                return Err(reader.bad(
                    1,
                    format!(
                        "column {} ({}) expected as caption {} but found {}",
                        i + 1,
                        column.name,
                        column.caption,
                        found.map_or("nothing".to_owned(), crate::keys::printable)
                    ),
                ));
            }
        }
        if captions.len() != table.columns().len() {
            return Err(reader.bad(
                1,
                format!(
                    "{} columns in the caption row, {} expected for {}",
                    captions.len(),
                    table.columns().len(),
                    table.name()
                ),
            ));
        }
        Ok(reader)
    }

    /// The encoding the file was found in.
    pub fn encoding(&self) -> ExportEncoding {
        self.encoding
    }

    /// The line (1-based) the last row returned by [`ExportReader::next_row`] started on.
    pub fn last_line(&self) -> u64 {
        self.last_line
    }

    /// The `合计` totals rows dropped so far.
    pub fn totals_rows_dropped(&self) -> u64 {
        self.totals_rows
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The column whose sum a `合计` row declares: JE of T_FFMX, ZBJE of T_ZJZB.
    fn amount_column(&self) -> Option<usize> {
        match self.table {
            LegacyTable::Payments => self.table.column_index("JE"),
            LegacyTable::Allocations => self.table.column_index("ZBJE"),
            _ => None,
        }
    }

    /// What a `合计` row declares: a row count written `共N条` (or 笔, 行), and the sum under the
    /// amount column.
    fn declared(&self, values: &[String]) -> (Option<u64>, Option<rust_decimal::Decimal>) {
        let count = values.iter().skip(1).find_map(|v| {
            let v = v.trim();
            let digits: String = v
                .trim_start_matches('共')
                .trim_end_matches(['条', '笔', '行'])
                .trim()
                .to_owned();
            (v != digits && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
        });
        let amount = self
            .amount_column()
            .and_then(|i| values.get(i))
            .and_then(|v| ykt_domain::rules::money_value(Some(v)));
        (count, amount)
    }

    /// At the end of the file: the rows and the amount read must be what the `合计` row says,
    /// where it says anything. A file cut short with its totals row kept, or edited after it
    /// was summed, is refused.
    fn check_totals(&self) -> Result<(), ExtractError> {
        let Some((count, amount, line)) = self.declared else {
            return Ok(());
        };
        if let Some(count) = count
            && count != self.rows_read
        {
            return Err(self.bad(
                line,
                format!(
                    "its 合计 row says {count} rows, but {} were read: the file looks cut short or edited; export it again",
                    self.rows_read
                ),
            ));
        }
        if let Some(amount) = amount
            && amount != self.amount_sum
        {
            return Err(self.bad(
                line,
                format!(
                    "its 合计 row says an amount of {}, but the rows read add up to {}: the file looks cut short or edited; export it again",
                    ykt_domain::format_money(amount),
                    ykt_domain::format_money(self.amount_sum)
                ),
            ));
        }
        Ok(())
    }

    /// The next data row, or `None` at the end. Empty lines are skipped; totals rows are
    /// dropped and counted, and what they declare is checked at the end.
    pub fn next_row(&mut self) -> Result<Option<LegacyRow>, ExtractError> {
        loop {
            let line = self.line;
            let Some(fields) = self.next_record()? else {
                self.check_totals()?;
                return Ok(None);
            };
            if fields.len() == 1 && fields[0].iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let values: Vec<String> = fields
                .iter()
                .map(|f| self.decode(f, line))
                .collect::<Result<_, _>>()?;
            if values[0].trim().starts_with(TOTALS_MARKER) {
                self.totals_rows += 1;
                let (count, amount) = self.declared(&values);
                self.declared = Some((count, amount, line));
                continue;
            }
            let expected = self.table.columns().len();
            if values.len() != expected {
                return Err(self.bad(
                    line,
                    format!(
                        "{} fields, {expected} expected for {}",
                        values.len(),
                        self.table.name()
                    ),
                ));
            }
            self.last_line = line;
            self.rows_read += 1;
            if let Some(v) = self
                .amount_column()
                .and_then(|i| ykt_domain::rules::money_value(Some(&values[i])))
            {
                self.amount_sum += v;
            }
            return Ok(Some(
                values
                    .into_iter()
                    .map(|v| if v.is_empty() { None } else { Some(v) })
                    .collect(),
            ));
        }
    }

    fn bad(&self, line: u64, problem: String) -> ExtractError {
        ExtractError::BadFile {
            path: self.path.clone(),
            line,
            problem,
        }
    }

    fn decode(&self, bytes: &[u8], line: u64) -> Result<String, ExtractError> {
        let decoded = match self.encoding {
            ExportEncoding::Gbk => encoding_rs::GBK
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|c| c.into_owned()),
            ExportEncoding::Utf8 | ExportEncoding::Utf8Bom => {
                std::str::from_utf8(bytes).ok().map(str::to_owned)
            }
        };
        decoded.ok_or_else(|| {
            self.bad(
                line,
                format!(
                    "bytes that are not valid {} in the value {}",
                    self.encoding.name(),
                    crate::keys::printable(&String::from_utf8_lossy(bytes))
                ),
            )
        })
    }

    /// Splits the next CSV record into raw fields. `None` at the end of the file.
    fn next_record(&mut self) -> Result<Option<Vec<Vec<u8>>>, ExtractError> {
        let mut fields = vec![Vec::new()];
        let mut in_quotes = false;
        let mut any = false;
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| ExtractError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                if in_quotes {
                    return Err(self.bad(self.line, "a quoted field is never closed".into()));
                }
                return Ok(any.then_some(fields));
            }
            any = true;
            self.line += 1;
            let mut i = 0;
            let bytes = &self.buf;
            while i < bytes.len() {
                let b = bytes[i];
                let field = fields.last_mut().expect("at least one field");
                if in_quotes {
                    if b == b'"' {
                        if bytes.get(i + 1) == Some(&b'"') {
                            field.push(b'"');
                            i += 1;
                        } else {
                            in_quotes = false;
                        }
                    } else {
                        field.push(b);
                    }
                } else {
                    match b {
                        b'"' if field.is_empty() => in_quotes = true,
                        b',' => fields.push(Vec::new()),
                        b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
                        b'\n' => return Ok(Some(fields)),
                        _ => field.push(b),
                    }
                }
                i += 1;
            }
            if !in_quotes {
                return Ok(Some(fields));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ykt-export-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn rows() -> Vec<LegacyRow> {
        vec![
            vec![
                Some("1".into()),
                Some("耕地地力保护补贴".into()),
                Some("农业农村局".into()),
                Some("1".into()),
                Some("1,200.00".into()),
                Some("1".into()),
            ],
            vec![
                Some("2".into()),
                Some("say \"hi\"\r\nnext".into()),
                None,
                Some(" 1".into()),
                Some("１２００．００".into()),
                None,
            ],
        ]
    }

    #[test]
    fn round_trips_in_every_encoding_and_drops_totals_rows() {
        for encoding in [
            ExportEncoding::Gbk,
            ExportEncoding::Utf8Bom,
            ExportEncoding::Utf8,
        ] {
            let dir = temp_dir(encoding.name().replace(' ', "").as_str());
            let mut w = ExportWriter::create(&dir, LegacyTable::Programs, encoding).unwrap();
            for row in rows() {
                w.write_row(&row).unwrap();
            }
            w.write_totals_row(&[None, None, None, Some("2400.00"), None])
                .unwrap();
            w.write_empty_lines(2).unwrap();
            assert_eq!(w.finish().unwrap(), 2);

            let mut r = ExportReader::open(&dir, LegacyTable::Programs).unwrap();
            assert_eq!(r.encoding(), encoding);
            let mut read = Vec::new();
            while let Some(row) = r.next_row().unwrap() {
                read.push(row);
            }
            assert_eq!(read, rows());
            assert_eq!(r.totals_rows_dropped(), 1);
        }
    }

    #[test]
    fn gbk_file_is_really_gbk_with_crlf() {
        let dir = temp_dir("gbk-bytes");
        let w = ExportWriter::create(&dir, LegacyTable::Programs, ExportEncoding::Gbk).unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(dir.join("T_BTXM.csv")).unwrap();
        let (expected, _, _) =
            encoding_rs::GBK.encode("项目代码,项目名称,主管部门,标准类型,补贴标准,有效标志\r\n");
        assert_eq!(bytes, expected.as_ref());
        assert!(std::str::from_utf8(&bytes).is_err());
    }

    #[test]
    fn bad_bytes_and_wrong_captions_name_file_and_line() {
        let dir = temp_dir("bad");
        let (header, _, _) =
            encoding_rs::GBK.encode("项目代码,项目名称,主管部门,标准类型,补贴标准,有效标志\r\n");
        let mut bytes = header.into_owned();
        bytes.extend_from_slice(b"NY001,\x81\x20bad,x,1,60,1\r\n");
        std::fs::write(dir.join("T_BTXM.csv"), &bytes).unwrap();
        let mut r = ExportReader::open(&dir, LegacyTable::Programs).unwrap();
        let err = r.next_row().unwrap_err().to_string();
        assert!(
            err.contains("T_BTXM.csv: line 2") && err.contains("GBK"),
            "{err}"
        );

        std::fs::write(dir.join("T_YH.csv"), "用户ID,登录名\r\n").unwrap();
        let err = ExportReader::open(&dir, LegacyTable::Users)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 1") && err.contains("XM"), "{err}");
    }
}
