//! The truth file: every injected quirk and audit case, with the source key and the code
//! `mapping-rules.md` says it must produce, plus expected counts per county.
//!
//! It is written as the simulation runs (cases stream to disk), so it stays small in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::SimError;
use crate::params::{Params, Quirk};

/// One legacy row whose fate the mapping rules decide in a known way.
#[derive(Debug, Serialize)]
pub(crate) struct Case<'a> {
    /// The quirk injected in this row; `None` for a consequence (a line of a rejected batch).
    pub quirk: Option<&'static str>,
    pub variant: &'static str,
    pub table: &'static str,
    pub key: i64,
    /// The (current) county the row belongs to, `000000` when it cannot be told.
    pub county: &'a str,
    pub field: Option<&'static str>,
    pub raw: Option<&'a str>,
    /// The codes the row must produce: one `R_` code, or the `C_` codes, or nothing.
    pub expect: Vec<&'static str>,
}

/// One audit case: the flag and the rows involved.
#[derive(Debug, Serialize)]
pub(crate) struct FlagCase {
    pub flag: &'static str,
    pub table: &'static str,
    pub keys: Vec<i64>,
    pub county: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct QuirkCount {
    pub occurrences: u64,
    pub eligible_rows: u64,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    /// county → table → rows written.
    pub rows: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// quirk → occurrences and the rows it could have occurred in.
    pub quirks: BTreeMap<&'static str, QuirkCount>,
    /// county → code → expected count (R_ rejects, C_ corrections, A_ flags).
    pub expected: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

pub(crate) struct TruthWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// The expected platform rows (`--truth-values`): one JSON object a line.
    values: Option<(PathBuf, BufWriter<File>)>,
    first_case: bool,
    pub flags: Vec<FlagCase>,
    pub summary: Summary,
}

impl TruthWriter {
    pub(crate) fn create(
        path: &Path,
        values: Option<&Path>,
        params: &Params,
    ) -> Result<TruthWriter, SimError> {
        let open = |path: &Path| {
            File::create(path).map_err(|source| SimError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let file = open(path)?;
        let values = match values {
            Some(v) => Some((v.to_owned(), BufWriter::new(open(v)?))),
            None => None,
        };
        let mut w = TruthWriter {
            path: path.to_owned(),
            out: BufWriter::new(file),
            values,
            first_case: true,
            flags: Vec::new(),
            summary: Summary::default(),
        };
        let params = serde_json::to_string(params).map_err(|e| w.json_err(e))?;
        w.write(format!("{{\"generator\":\"ykt generate\",\"version\":\"{}\",\"params\":{params},\n\"cases\":[\n", env!("CARGO_PKG_VERSION")).as_bytes())?;
        Ok(w)
    }

    pub(crate) fn case(&mut self, case: &Case<'_>) -> Result<(), SimError> {
        if let Some(q) = case.quirk {
            self.summary.quirks.entry(q).or_default().occurrences += 1;
        }
        let counts = self
            .summary
            .expected
            .entry(case.county.to_owned())
            .or_default();
        for code in &case.expect {
            *counts.entry(code).or_default() += 1;
        }
        let json = serde_json::to_string(case).map_err(|e| self.json_err(e))?;
        let sep: &[u8] = if self.first_case { b"" } else { b",\n" };
        self.first_case = false;
        self.write(sep)?;
        self.write(json.as_bytes())
    }

    /// The platform row a legacy row must become, column by column as the target holds it
    /// (canonical text: `1200.00`, `2019-03-05`, `NULL` as null).
    pub(crate) fn expect_row(
        &mut self,
        table: &'static str,
        key: i64,
        row: &[(&'static str, Option<String>)],
    ) -> Result<(), SimError> {
        let Some((path, out)) = &mut self.values else {
            return Ok(());
        };
        let columns: serde_json::Map<String, serde_json::Value> = row
            .iter()
            .map(|(c, v)| {
                (
                    (*c).to_owned(),
                    v.clone()
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                )
            })
            .collect();
        let line = serde_json::json!({"table": table, "key": key, "row": columns});
        writeln!(out, "{line}").map_err(|source| SimError::Io {
            path: path.clone(),
            source,
        })
    }

    pub(crate) fn flag(&mut self, flag: FlagCase) {
        *self
            .summary
            .expected
            .entry(flag.county.clone())
            .or_default()
            .entry(flag.flag)
            .or_default() += 1;
        self.flags.push(flag);
    }

    pub(crate) fn eligible(&mut self, quirk: Quirk) {
        self.summary
            .quirks
            .entry(quirk.name())
            .or_default()
            .eligible_rows += 1;
    }

    /// Counts a file-level quirk (Q13).
    pub(crate) fn file_quirk(&mut self, quirk: Quirk, files: u64) {
        let c = self.summary.quirks.entry(quirk.name()).or_default();
        c.occurrences += files;
        c.eligible_rows += 7;
    }

    pub(crate) fn row(&mut self, county: &str, table: &'static str) {
        *self
            .summary
            .rows
            .entry(county.to_owned())
            .or_default()
            .entry(table)
            .or_default() += 1;
    }

    pub(crate) fn finish(mut self) -> Result<PathBuf, SimError> {
        let flags = serde_json::to_string(&self.flags).map_err(|e| self.json_err(e))?;
        let summary = serde_json::to_string_pretty(&self.summary).map_err(|e| self.json_err(e))?;
        self.write(format!("\n],\n\"flags\":{flags},\n\"summary\":{summary}\n}}\n").as_bytes())?;
        self.out.flush().map_err(|source| SimError::Io {
            path: self.path.clone(),
            source,
        })?;
        if let Some((path, out)) = &mut self.values {
            out.flush().map_err(|source| SimError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(self.path)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), SimError> {
        self.out.write_all(bytes).map_err(|source| SimError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn json_err(&self, e: serde_json::Error) -> SimError {
        SimError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        }
    }
}
