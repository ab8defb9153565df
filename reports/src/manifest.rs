//! `manifest.json`: a SHA-256 for every file of a report folder, so a changed report is found.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{ReportError, ReportInput};

pub(crate) const MANIFEST: &str = "manifest.json";
/// Marks a folder as ykt's report folder from the start of a run (a run cut short leaves it).
pub(crate) const MARKER: &str = ".ykt-reports";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative to the report folder, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The migration run the reconciled rows belong to (the stage's id).
    pub run_id: String,
    /// This reconciliation's own id: every run of `ykt reconcile` has its own.
    #[serde(default)]
    pub reconciliation_id: String,
    pub ykt_version: String,
    pub generated_at: String,
    /// The legacy source and target, without passwords.
    pub legacy: String,
    pub target: String,
    /// True when ID numbers and accounts were written in full (`--unmasked`).
    pub unmasked: bool,
    pub parameters: serde_json::Value,
    pub files: Vec<ManifestFile>,
}

fn files_under(root: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ReportError::io(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| ReportError::io(&dir, e))?.path();
            // A link is listed, never followed: it could lead out of the folder.
            let kind = std::fs::symlink_metadata(&path).map_err(|e| ReportError::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if path != root.join(MANIFEST) && path != root.join(MARKER) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn describe(root: &Path, path: &Path) -> Result<ManifestFile, ReportError> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| ReportError::io(path, e))?
        .len();
    Ok(ManifestFile {
        path: relative(root, path),
        sha256: ykt_stage::sha256_file(path)?,
        bytes,
    })
}

/// Writes the manifest of every file now in `out`.
pub(crate) fn write(out: &Path, input: &ReportInput<'_>) -> Result<PathBuf, ReportError> {
    let files = files_under(out)?
        .iter()
        .map(|p| describe(out, p))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = Manifest {
        run_id: input.reconciliation.run_id.clone(),
        reconciliation_id: input.reconciliation_id.clone(),
        ykt_version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: input.generated_at.clone(),
        legacy: input.legacy.clone(),
        target: input.target.clone(),
        unmasked: input.unmasked,
        parameters: input.parameters.clone(),
        files,
    };
    let path = out.join(MANIFEST);
    ykt_stage::write_json(&path, &manifest)?;
    Ok(path)
}

/// Reads a report folder's manifest.
pub fn read(out: &Path) -> Result<Manifest, ReportError> {
    let path = out.join(MANIFEST);
    if !path.is_file() {
        return Err(ReportError::NotReports {
            path: out.to_owned(),
            reason: format!("it has no {MANIFEST}"),
        });
    }
    ykt_stage::read_json(&path).map_err(|e| ReportError::NotReports {
        path: out.to_owned(),
        reason: e.to_string(),
    })
}

/// What `ykt report verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub checked: usize,
    /// Files whose content no longer matches their checksum.
    pub changed: Vec<String>,
    /// Files the manifest lists that are gone.
    pub missing: Vec<String>,
    /// Files in the folder the manifest does not list.
    pub extra: Vec<String>,
    /// Entries that name a place outside the folder (`../…`, an absolute path, a link that
    /// leads out): never read.
    pub outside: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.changed.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
            && self.outside.is_empty()
    }
}

/// The file a manifest entry names, when it lies inside the report folder: a relative path of
/// plain names only, that still resolves inside the folder once links are followed.
fn inside(out: &Path, entry: &str) -> Option<PathBuf> {
    use std::path::Component;
    let rel = Path::new(entry);
    if entry.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let path = out.join(rel);
    match (std::fs::canonicalize(&path), std::fs::canonicalize(out)) {
        (Ok(real), Ok(root)) if !real.starts_with(&root) => None,
        _ => Some(path),
    }
}

/// Checks every file of a report folder against its manifest.
pub fn verify(out: &Path) -> Result<Verification, ReportError> {
    let manifest = read(out)?;
    let mut v = Verification::default();
    let listed: std::collections::BTreeSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for f in &manifest.files {
        let Some(path) = inside(out, &f.path) else {
            v.outside.push(f.path.clone());
            continue;
        };
        if !path.is_file() {
            v.missing.push(f.path.clone());
            continue;
        }
        v.checked += 1;
        if ykt_stage::sha256_file(&path)? != f.sha256 {
            v.changed.push(f.path.clone());
        }
    }
    for p in files_under(out)? {
        let rel = relative(out, &p);
        if !listed.contains(rel.as_str()) {
            v.extra.push(rel);
        }
    }
    Ok(v)
}
