//! Crash safety and server faults (issue 11).
//!
//! ykt is killed at deterministic points (failpoints: the process aborts there, as a crash
//! would) and at random moments (SIGKILL), during `migrate` (extract, transform, each county's
//! load, the index build, the foreign-key validation), `sync` and `freeze`; and its database
//! servers are restarted mid-run. After each, the run is continued (`--resume`, or the same
//! command again where resuming does not apply) and must leave the target identical to an
//! uninterrupted run (sorted dumps of every table) with every county balanced.
//!
//! Built only with `--features failpoints`; it restarts the local servers, so it runs on its
//! own (`.ci/run`: a subset; `scripts/faults.sh`: every point). `YKT_FAULTS=all` runs every
//! kill point.

#[path = "../it/support.rs"]
#[allow(dead_code)]
mod support;

mod killpoints;
mod servers;
