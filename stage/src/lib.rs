//! The stage folder: what one ykt stage hands the next.
//!
//! Every stage boundary is data on disk, so any stage can be re-run, inspected or resumed on
//! its own. Tables are Parquet files of nullable text columns ([`TextTableWriter`],
//! [`TextTableReader`]): legacy values exactly as found, platform values in their canonical
//! text (`1200.00`, `2019-03-05`). Each step writes a JSON manifest with row counts and SHA-256
//! checksums, and marks itself in progress until it has finished, so that a folder left by a
//! crash is detected ([`Stage::begin`]) rather than silently reused.
//!
//! Layout:
//! ```text
//! STAGE/manifest.json                 extract manifest (source fingerprint, rows, checksums)
//! STAGE/legacy/T_FFMX.parquet         legacy tables as found
//! STAGE/platform/manifest.json        transform manifest (counts per county and table)
//! STAGE/platform/reference/*.parquet  region, program
//! STAGE/platform/<county>/*.parquet   allocation, beneficiary, …, reject, correction
//! ```

mod contracts;
mod lock;
mod manifest;
mod table;

pub use contracts::{
    CountyCounts, ExtractManifest, SourceFingerprint, StagedFile, StagedTable, TableCounts,
    TransformManifest, TransformOptions, verified_extract,
};
pub use lock::{StageLock, create_private_dir};
pub use manifest::{SYNC_MARKER, Stage, StageError, Step, read_json, sha256_file, write_json};
pub use table::{TextBatch, TextTableReader, TextTableWriter};
