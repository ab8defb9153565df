//! The contracts between the steps: what each step's manifest records. The extract writes
//! [`ExtractManifest`], the transform [`TransformManifest`]; the steps after them read these
//! here, without depending on the step that wrote them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Stage, StageError, Step, sha256_file};

/// What was read: the source's fingerprint, rows and checksums per staged file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtractManifest {
    pub ykt_version: String,
    pub source: SourceFingerprint,
    pub tables: BTreeMap<String, StagedTable>,
    pub started_at: String,
    pub finished_at: String,
}

/// Identifies the source without any password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceFingerprint {
    /// `database` or `export`.
    pub kind: String,
    /// `sqlite`, `mysql`, `postgres` or `export`.
    pub engine: String,
    /// The URL with its password hidden, or the export folder.
    pub location: String,
    pub row_counts: BTreeMap<String, u64>,
    /// The latest GXSJ per table that has one.
    pub max_change_stamp: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedTable {
    /// Path relative to the stage folder.
    pub file: String,
    pub rows: u64,
    pub sha256: String,
    /// `合计` totals rows dropped from an export file.
    pub totals_rows_dropped: u64,
    /// The export file's encoding (export sources only).
    pub encoding: Option<String>,
}

/// Settings of a transform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformOptions {
    /// Pending or failed lines of fund years up to this one stay owned by legacy during
    /// dual-run: the cutover policy's `legacy_max_fund_year`, its only source. `None` after the
    /// freeze: every line is the new platform's.
    pub legacy_owns_up_to: Option<i32>,
    /// Birth dates after this day are impossible (`--as-of`). Default: the day the extract
    /// finished, Beijing time.
    pub as_of: Option<NaiveDate>,
    pub overwrite: bool,
}

/// Rows of one legacy table, by fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    pub read: u64,
    pub loaded: u64,
    pub merged: u64,
    pub rejected: u64,
}

/// County → legacy table → counts.
pub type CountyCounts = BTreeMap<String, BTreeMap<String, TableCounts>>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformManifest {
    pub ykt_version: String,
    /// The run this stage loads as: derived from the extract, so loading the same stage twice
    /// is the same run.
    pub run_id: String,
    pub extract_sha256: String,
    pub options: TransformOptions,
    pub as_of: NaiveDate,
    pub counts: CountyCounts,
    /// Rejects and corrections per code.
    pub codes: BTreeMap<String, u64>,
    /// Staged platform files (relative to `platform/`) with rows and checksums.
    pub files: BTreeMap<String, StagedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedFile {
    pub rows: u64,
    pub sha256: String,
}

/// Reads a finished extract's manifest and checks every staged file against its checksum.
pub fn verified_extract(stage: &Stage) -> Result<ExtractManifest, StageError> {
    let manifest: ExtractManifest = stage.manifest(Step::Extract)?;
    for entry in manifest.tables.values() {
        let path = stage.dir().join(&entry.file);
        if sha256_file(&path)? != entry.sha256 {
            return Err(StageError::Checksum { path });
        }
    }
    Ok(manifest)
}
