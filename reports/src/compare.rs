//! `ykt report diff OLD NEW`: what changed between two runs' reports.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::{ProvinceSummary, ReportError};

/// A figure of one county that differs between the runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FigureChange {
    pub county_code: String,
    /// e.g. `tables.T_FFMX.loaded_rows`, `rejects.R_ID_CHECKSUM`, `balanced`.
    pub figure: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Lines added to or gone from one county's list (`rejects.csv` or `diffs.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListChange {
    pub county_code: String,
    pub file: &'static str,
    pub added: Vec<String>,
    pub gone: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportChanges {
    pub old_run_id: String,
    pub new_run_id: String,
    /// The two reconciliations' own ids, from their manifests.
    pub old_reconciliation_id: String,
    pub new_reconciliation_id: String,
    pub figures: Vec<FigureChange>,
    pub lists: Vec<ListChange>,
}

impl ReportChanges {
    pub fn is_empty(&self) -> bool {
        self.figures.is_empty() && self.lists.is_empty()
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

fn province(dir: &Path) -> Result<ProvinceSummary, ReportError> {
    let path = dir.join("province.json");
    if !path.is_file() {
        return Err(ReportError::NotReports {
            path: dir.to_owned(),
            reason: "it has no province.json".to_owned(),
        });
    }
    ykt_stage::read_json(&path).map_err(|e| ReportError::NotReports {
        path: dir.to_owned(),
        reason: e.to_string(),
    })
}

fn list_lines(path: &Path) -> Result<String, ReportError> {
    if !path.is_file() {
        return Ok(String::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    let mut lines: Vec<&str> = text
        .trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort_unstable();
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

/// Compares two report folders.
pub fn compare_reports(old: &Path, new: &Path) -> Result<ReportChanges, ReportError> {
    let (a, b) = (province(old)?, province(new)?);
    let mut changes = ReportChanges {
        old_run_id: a.run_id.clone(),
        new_run_id: b.run_id.clone(),
        old_reconciliation_id: crate::manifest::read(old)
            .map(|m| m.reconciliation_id)
            .unwrap_or_default(),
        new_reconciliation_id: crate::manifest::read(new)
            .map(|m| m.reconciliation_id)
            .unwrap_or_default(),
        ..ReportChanges::default()
    };
    let figures = |p: &ProvinceSummary| -> BTreeMap<String, BTreeMap<String, String>> {
        p.counties
            .iter()
            .map(|c| {
                let mut flat = BTreeMap::new();
                if let Ok(v) = serde_json::to_value(c) {
                    flatten("", &v, &mut flat);
                }
                flat.remove("run_id");
                (c.county_code.clone(), flat)
            })
            .collect()
    };
    let (fa, fb) = (figures(&a), figures(&b));
    let counties: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let empty = BTreeMap::new();
    for county in counties {
        let (x, y) = (
            fa.get(county).unwrap_or(&empty),
            fb.get(county).unwrap_or(&empty),
        );
        let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for k in keys {
            if x.get(k) != y.get(k) {
                changes.figures.push(FigureChange {
                    county_code: county.clone(),
                    figure: k.clone(),
                    old: x.get(k).cloned(),
                    new: y.get(k).cloned(),
                });
            }
        }
        for file in ["rejects.csv", "diffs.csv"] {
            let rel = Path::new("counties").join(county).join(file);
            let (lo, ln) = (list_lines(&old.join(&rel))?, list_lines(&new.join(&rel))?);
            let diff = TextDiff::from_lines(&lo, &ln);
            let mut change = ListChange {
                county_code: county.clone(),
                file,
                added: Vec::new(),
                gone: Vec::new(),
            };
            for c in diff.iter_all_changes() {
                let line = c.value().trim_end().to_owned();
                match c.tag() {
                    ChangeTag::Insert => change.added.push(line),
                    ChangeTag::Delete => change.gone.push(line),
                    ChangeTag::Equal => {}
                }
            }
            if !change.added.is_empty() || !change.gone.is_empty() {
                changes.lists.push(change);
            }
        }
    }
    Ok(changes)
}
