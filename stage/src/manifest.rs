//! Stage folder bookkeeping: steps in progress, manifests, checksums.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Stage errors: each names the file.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{}: {}", path.display(), io_problem(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: a row of {found} values for {expected} columns", path.display())]
    Shape {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error("{}: has no column {column}", path.display())]
    MissingColumn { path: PathBuf, column: String },
    #[error("{}: a column is not text", path.display())]
    NotText { path: PathBuf },
    #[error("the stage folder {} was left by an interrupted {step} (it is marked in progress); run {step} again with --overwrite to start it afresh", dir.display())]
    Interrupted { dir: PathBuf, step: &'static str },
    #[error("the stage folder {} already holds a finished {step}; use --overwrite to replace it, or another --stage folder", dir.display())]
    AlreadyDone { dir: PathBuf, step: &'static str },
    #[error("the stage folder {} has no finished {step}: run `ykt {step}` first", dir.display())]
    NotDone { dir: PathBuf, step: &'static str },
    #[error("{}: its SHA-256 is not the one its manifest records; the stage was changed after it was written", path.display())]
    Checksum { path: PathBuf },
    #[error("the stage folder {} is in use by {holder}; wait for it to finish, or use another --stage folder", dir.display())]
    Busy { dir: PathBuf, holder: String },
}

/// An I/O error as a sentence an operator acts on: a full disk is said plainly.
fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            format!("the disk is full ({e}); free space there or choose another folder")
        }
        _ => e.to_string(),
    }
}

impl StageError {
    /// Whether the operator must act (a folder that cannot be written, a full disk, a stage left
    /// by a crash or in use, a stage changed by hand: exit 2) rather than ykt having failed on a
    /// stage it wrote (exit 3). Every crate that meets a `StageError` asks this, so the same
    /// error always exits alike.
    pub fn is_input_error(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            StageError::Io { source, .. } => matches!(
                source.kind(),
                K::PermissionDenied
                    | K::NotFound
                    | K::ReadOnlyFilesystem
                    | K::StorageFull
                    | K::NotADirectory
                    | K::IsADirectory
                    | K::QuotaExceeded
                    | K::AlreadyExists
            ),
            StageError::Format { .. }
            | StageError::Shape { .. }
            | StageError::NotText { .. }
            | StageError::MissingColumn { .. } => false,
            StageError::Interrupted { .. }
            | StageError::AlreadyDone { .. }
            | StageError::NotDone { .. }
            | StageError::Checksum { .. }
            | StageError::Busy { .. } => true,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> StageError {
        StageError::Io {
            path: path.to_owned(),
            source,
        }
    }
    /// A Parquet error; the file system's own (a full disk, say) stays an I/O error, so it is
    /// classified as the operator's to fix.
    pub(crate) fn parquet(path: &Path, e: parquet::errors::ParquetError) -> StageError {
        match e {
            parquet::errors::ParquetError::External(inner) => StageError::external(path, inner),
            e => StageError::format(path, e),
        }
    }
    pub(crate) fn arrow(path: &Path, e: arrow_schema::ArrowError) -> StageError {
        match e {
            arrow_schema::ArrowError::IoError(_, io) => StageError::io(path, io),
            arrow_schema::ArrowError::ExternalError(inner) => StageError::external(path, inner),
            e => StageError::format(path, e),
        }
    }

    /// An error a library passed on: an I/O error (a full disk, a read-only folder) stays one.
    fn external(path: &Path, inner: Box<dyn std::error::Error + Send + Sync>) -> StageError {
        match inner.downcast::<std::io::Error>() {
            Ok(io) => StageError::io(path, *io),
            Err(other) => StageError::format(path, other),
        }
    }

    fn format(path: &Path, message: impl std::fmt::Display) -> StageError {
        StageError::Format {
            path: path.to_owned(),
            message: message.to_string(),
        }
    }
}

/// The steps that write into a stage folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Extract,
    Transform,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Extract => "extract",
            Step::Transform => "transform",
        }
    }
}

/// Written into a stage by a delta sync that refreshed it: the run its rows are recorded under
/// in the target (`ykt sync`). A new extract removes it.
pub const SYNC_MARKER: &str = "sync.json";

/// A stage folder.
#[derive(Debug, Clone)]
pub struct Stage {
    dir: PathBuf,
}

impl Stage {
    pub fn new(dir: &Path) -> Stage {
        Stage {
            dir: dir.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn legacy_file(&self, table: &str) -> PathBuf {
        self.dir.join("legacy").join(format!("{table}.parquet"))
    }

    pub fn platform_dir(&self) -> PathBuf {
        self.dir.join("platform")
    }

    /// The county groups that have staged platform files (none before a transform).
    pub fn platform_groups(&self) -> Result<Vec<String>, StageError> {
        let dir = self.platform_dir();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut groups = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| StageError::io(&dir, e))? {
            let entry = entry.map_err(|e| StageError::io(&dir, e))?;
            if entry.path().is_dir() {
                groups.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        groups.sort();
        Ok(groups)
    }

    pub fn platform_file(&self, group: &str, table: &str) -> PathBuf {
        self.platform_dir()
            .join(group)
            .join(format!("{table}.parquet"))
    }

    /// The manifest of a finished step.
    pub fn manifest_path(&self, step: Step) -> PathBuf {
        match step {
            Step::Extract => self.dir.join("manifest.json"),
            Step::Transform => self.platform_dir().join("manifest.json"),
        }
    }

    fn marker(&self, step: Step) -> PathBuf {
        self.dir.join(format!(".{}-in-progress", step.name()))
    }

    /// Whether a step was started and never finished.
    pub fn interrupted(&self, step: Step) -> bool {
        self.marker(step).exists()
    }

    pub fn is_done(&self, step: Step) -> bool {
        self.manifest_path(step).exists() && !self.interrupted(step)
    }

    /// Starts a step: refuses a folder left by a crash or already holding the step's output,
    /// unless `overwrite`, in which case the old output is removed. Marks the step in progress.
    pub fn begin(&self, step: Step, overwrite: bool) -> Result<(), StageError> {
        if self.interrupted(step) && !overwrite {
            return Err(StageError::Interrupted {
                dir: self.dir.clone(),
                step: step.name(),
            });
        }
        if self.manifest_path(step).exists() && !overwrite {
            return Err(StageError::AlreadyDone {
                dir: self.dir.clone(),
                step: step.name(),
            });
        }
        crate::create_private_dir(&self.dir)?;
        let outputs: Vec<PathBuf> = match step {
            Step::Extract => vec![
                self.dir.join("legacy"),
                // A new snapshot is not the one a delta sync refreshed.
                self.dir.join(SYNC_MARKER),
                self.manifest_path(Step::Extract),
                self.platform_dir(),
                self.marker(Step::Transform),
            ],
            Step::Transform => vec![self.platform_dir()],
        };
        for path in outputs {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StageError::io(&path, e)),
            }
        }
        std::fs::write(self.marker(step), b"").map_err(|e| StageError::io(&self.marker(step), e))
    }

    /// Writes the step's manifest and clears its in-progress mark.
    pub fn finish<T: Serialize>(&self, step: Step, manifest: &T) -> Result<(), StageError> {
        write_json(&self.manifest_path(step), manifest)?;
        std::fs::remove_file(self.marker(step)).map_err(|e| StageError::io(&self.marker(step), e))
    }

    /// Reads a finished step's manifest.
    pub fn manifest<T: DeserializeOwned>(&self, step: Step) -> Result<T, StageError> {
        if !self.is_done(step) {
            if self.interrupted(step) {
                return Err(StageError::Interrupted {
                    dir: self.dir.clone(),
                    step: step.name(),
                });
            }
            return Err(StageError::NotDone {
                dir: self.dir.clone(),
                step: step.name(),
            });
        }
        read_json(&self.manifest_path(step))
    }
}

/// Writes `value` as pretty JSON, whole or not at all (a temporary file renamed into place),
/// streamed to the file: a province's `reconcile.json` is about 40 MB, and held whole as text
/// it was the reconciliation's memory peak.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StageError> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StageError::io(parent, e))?;
    }
    let written = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| StageError::io(&tmp, e))?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, value).map_err(|e| match e.io_error_kind() {
            Some(kind) => StageError::io(&tmp, std::io::Error::new(kind, e)),
            None => StageError::Format {
                path: path.to_owned(),
                message: e.to_string(),
            },
        })?;
        out.flush().map_err(|e| StageError::io(&tmp, e))
    })();
    if let Err(e) = written {
        // Nothing half-written is left beside the file.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| StageError::io(path, e))
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StageError> {
    let bytes = std::fs::read(path).map_err(|e| StageError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| StageError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String, StageError> {
    let mut file = std::fs::File::open(path).map_err(|e| StageError::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| StageError::io(path, e))?;
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_step_is_detected_and_never_silently_reused() {
        let dir = std::env::temp_dir().join(format!("ykt-stage-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stage = Stage::new(&dir);
        stage.begin(Step::Extract, false).unwrap();
        assert!(matches!(
            stage.manifest::<serde_json::Value>(Step::Extract),
            Err(StageError::Interrupted { .. })
        ));
        assert!(matches!(
            stage.begin(Step::Extract, false),
            Err(StageError::Interrupted { .. })
        ));
        stage.begin(Step::Extract, true).unwrap();
        stage
            .finish(Step::Extract, &serde_json::json!({"rows": 1}))
            .unwrap();
        assert_eq!(
            stage.manifest::<serde_json::Value>(Step::Extract).unwrap()["rows"],
            1
        );
        assert!(matches!(
            stage.begin(Step::Extract, false),
            Err(StageError::AlreadyDone { .. })
        ));
        assert!(matches!(
            stage.manifest::<serde_json::Value>(Step::Transform),
            Err(StageError::NotDone { .. })
        ));
    }
}
