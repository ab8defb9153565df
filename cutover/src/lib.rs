//! Cutover control (`cutover-policy.md`): the policy as configuration, the phase at a moment,
//! the routing of payment operations, the guards the databases enforce, the delta sync's
//! cursor, the freeze and the county sign-offs.

mod policy;

pub use policy::{Phase, Policy, beijing, parse_time};

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
}

impl CutoverError {
    pub fn is_input_error(&self) -> bool {
        match self {
            CutoverError::Policy { .. } => true,
            CutoverError::Db(e) => e.is_input_error(),
        }
    }
}
