//! `ykt report verify` and `ykt report diff`: checking and comparing report folders.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{Classify, Failure};

/// Check a report folder against its manifest, or compare two runs' reports.
#[derive(Debug, Args)]
#[command(after_help = super::examples::REPORT)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Recompute the SHA-256 of every file in OUT and compare with OUT/manifest.json.
    ///
    /// Exit 0 when every file is as written, 1 when a file was changed, removed or added.
    Verify {
        /// A report folder written by `ykt reconcile`, `ykt run` or `ykt demo`.
        #[arg(value_name = "OUT")]
        out: PathBuf,
    },
    /// Show what changed between two runs' reports: figures per county, and lines added to or
    /// gone from each county's reject and diff lists.
    ///
    /// Exit 0 when nothing changed, 1 when something did.
    Diff {
        /// The earlier report folder (an OUT of reconcile, run, sync or freeze).
        #[arg(value_name = "OLD_OUT")]
        old: PathBuf,
        /// The later report folder.
        #[arg(value_name = "NEW_OUT")]
        new: PathBuf,
    },
}

pub fn run(args: ReportArgs) -> Result<ExitCode, Failure> {
    match args.command {
        ReportCommand::Verify { out } => {
            let v = ykt_reports::verify(&out).classify()?;
            for f in &v.changed {
                println!("changed  {f}");
            }
            for f in &v.missing {
                println!("missing  {f}");
            }
            for f in &v.extra {
                println!("extra    {f}  (not in the manifest)");
            }
            for f in &v.outside {
                println!(
                    "outside  {}  (names a place outside the folder; not read)",
                    ykt_extract::printable(f)
                );
            }
            if v.ok() {
                println!(
                    "{}: all {} files match manifest.json",
                    out.display(),
                    v.checked
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "{}: {} changed, {} missing, {} not in the manifest, {} outside the folder: this is not the report as written",
                    out.display(),
                    v.changed.len(),
                    v.missing.len(),
                    v.extra.len(),
                    v.outside.len()
                );
                Ok(ExitCode::from(1))
            }
        }
        ReportCommand::Diff { old, new } => {
            let changes = ykt_reports::compare_reports(&old, &new).classify()?;
            println!(
                "reconciliations: {} → {} (migration runs {} → {})",
                changes.old_reconciliation_id,
                changes.new_reconciliation_id,
                changes.old_run_id,
                changes.new_run_id
            );
            for f in &changes.figures {
                println!(
                    "{}  {:<40} {} → {}",
                    f.county_code,
                    f.figure,
                    f.old.as_deref().unwrap_or("(none)"),
                    f.new.as_deref().unwrap_or("(none)")
                );
            }
            for l in &changes.lists {
                println!(
                    "{} {}: {} added, {} gone",
                    l.county_code,
                    l.file,
                    l.added.len(),
                    l.gone.len()
                );
                for line in &l.gone {
                    println!("  - {line}");
                }
                for line in &l.added {
                    println!("  + {line}");
                }
            }
            if changes.is_empty() {
                println!("no figure and no list line changed");
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(1))
            }
        }
    }
}
