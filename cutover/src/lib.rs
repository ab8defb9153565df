//! Cutover control (`cutover-policy.md`): the policy as configuration, the phase at a moment,
//! the routing of payment operations, the guards the databases enforce, and the records the
//! cutover keeps in the target (guard events, freeze steps, carried-over lines). The sequences
//! that use them (the delta sync, the freeze) are in `ykt-pipeline`.

mod context;
mod freeze;
mod guard;
mod policy;
mod route;

pub use context::Context;
pub use freeze::{carry_over, mark_step, record_guard, step_done};
pub use guard::{
    Expect, Outcome, Probe, Side, install, installed, missing_triggers, remove,
    set_write_privileges, verify,
};
pub use policy::{Phase, Policy, beijing, parse_time};
pub use route::{Operation, Route, System, fund_year, legacy_may_write, route};

/// Cutover errors.
#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error("{path}: the cutover policy has {} problem(s):\n  {}", problems.len(), problems.join("\n  "))]
    Policy {
        path: std::path::PathBuf,
        problems: Vec<String>,
    },
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error(
        "{url}: no completed migration run; run ykt migrate (or ykt run) before the cutover commands"
    )]
    NotMigrated { url: String },
    #[error("{0}")]
    Refused(String),
}

impl CutoverError {
    pub fn is_input_error(&self) -> bool {
        match self {
            CutoverError::Policy { .. }
            | CutoverError::NotMigrated { .. }
            | CutoverError::Refused(_) => true,
            CutoverError::Db(e) => e.is_input_error(),
        }
    }
}
