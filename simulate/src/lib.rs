//! `ykt generate`: a deterministic simulator of the legacy payment system.
//!
//! Provincial IT rehearses the cutover before the real window, and correctness and speed are
//! proved at province scale, without the province's real data. The simulator writes a legacy
//! system as found: real Shaanxi counties (some under their obsolete codes), generated townships
//! and villages, the typical subsidy programs, allocations, beneficiaries in households, batches
//! and payment lines for 2013–2020, with every quirk Q1–Q13 of `legacy-system.md` at its own
//! rate and a few real audit cases. A truth file lists each injected case with the code the
//! mapping rules must produce, so later stages are tested against it.
//!
//! Same [`Params`] (seed included), same bytes. Generation streams county by county: memory
//! holds one county's people and one batch's lines.
//!
//! ```no_run
//! use ykt_simulate::{Params, Preset, ExportSink, generate};
//! let params = Params::preset(Preset::Demo, 7);
//! let mut sink = ExportSink::create("legacy-export".as_ref(), &[]).unwrap();
//! let report = generate(&params, &mut sink, ("truth.json".as_ref(), None), &|_| {}).unwrap();
//! println!("{} payment lines", report.payment_lines);
//! ```

mod generator;
mod names;
mod params;
mod programs;
mod rng;
mod sink;
mod truth;
mod variants;

use std::path::PathBuf;

pub use generator::{GenerateReport, generate};
pub use params::{LEGACY_OBSOLETE_CODES, Params, Preset, Quirk, legacy_county_code, pick_counties};
pub use sink::{ChannelSink, ExportSink, RowSink, Tee, write_to_database};

/// Simulation errors.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Extract(#[from] ykt_extract::ExtractError),
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error(
        "the legacy database {url} already has a table {table}: generate into an empty database, or add --replace"
    )]
    NotEmpty { url: String, table: &'static str },
    #[error("the database writer stopped before the simulation ended")]
    WriterGone,
}

impl SimError {
    /// Whether the user must fix something (a path, a URL, a non-empty database).
    pub fn is_input_error(&self) -> bool {
        match self {
            SimError::Io { .. } | SimError::NotEmpty { .. } => true,
            SimError::Extract(e) => e.is_input_error(),
            SimError::Db(e) => e.is_input_error(),
            SimError::WriterGone => false,
        }
    }
}
