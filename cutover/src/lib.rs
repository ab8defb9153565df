//! Cutover control (`cutover-policy.md`): the policy as configuration, the phase at a moment,
//! the routing of payment operations, the guards the databases enforce, the delta sync's
//! cursor, the freeze and the county sign-offs.

mod freeze;
mod guard;
mod policy;
mod route;
mod sync;

pub use freeze::{
    LateWrite, archive, carry_over, mark_step, record_guard, step_done, writes_after,
};
pub use guard::{
    Expect, Outcome, Probe, Side, install, installed, missing_triggers, remove,
    set_write_privileges, verify,
};
pub use policy::{Phase, Policy, beijing, parse_time};
pub use route::{Operation, Route, System, fund_year, legacy_may_write, route};
pub use sync::{SYNCED, SyncOptions, SyncReport, base_run, stage_run_id, sync};

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
    #[error(transparent)]
    Stage(#[from] ykt_stage::StageError),
    #[error(transparent)]
    Extract(#[from] ykt_extract::ExtractError),
    #[error(transparent)]
    Transform(#[from] ykt_transform::TransformError),
    #[error(transparent)]
    Load(#[from] ykt_load::LoadError),
    #[error(
        "{url}: no completed migration run; run ykt migrate (or ykt run) before the cutover commands"
    )]
    NotMigrated { url: String },
    #[error(
        "{stage}: the delta sync has no cursor yet and cannot start from this stage ({reason}); pass the stage the full migration was loaded from"
    )]
    NoCursor {
        stage: std::path::PathBuf,
        reason: String,
    },
    #[error("{0}")]
    Refused(String),
}

impl CutoverError {
    pub fn is_input_error(&self) -> bool {
        match self {
            CutoverError::Policy { .. }
            | CutoverError::NotMigrated { .. }
            | CutoverError::NoCursor { .. }
            | CutoverError::Refused(_) => true,
            CutoverError::Db(e) => e.is_input_error(),
            CutoverError::Extract(e) => e.is_input_error(),
            CutoverError::Transform(e) => e.is_input_error(),
            CutoverError::Load(e) => e.is_input_error(),
            CutoverError::Stage(e) => e.is_input_error(),
        }
    }
}
