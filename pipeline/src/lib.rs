//! ykt's sequences over the stages, each a plan (checked before any work), its execution and
//! a report the command line prints: a migration ([`migrate`]) with its target and stage
//! opened safely ([`target`]), a reconciliation with its reports ([`reconcile`]), the delta sync
//! ([`sync`]), the guards ([`guard`]), the year-end freeze ([`freeze`]), a county's sign-off
//! ([`signoff`]) and the cutover's status ([`status`]).
//!
//! The stage crates (extract, transform, load, reconcile, reports, users, cutover) know nothing
//! of each other; this crate is where they meet. Every sequence takes the moment and policy
//! as a value ([`ykt_cutover::Context`]), so each can be tested at any moment without the
//! binary.

pub mod freeze;
pub mod guard;
pub mod migrate;
pub mod reconcile;
pub mod signoff;
pub mod status;
pub mod sync;
pub mod target;

/// An error of any step of a sequence, sorted by who acts on it: [`PipelineError::is_input_error`]
/// is the operator's to fix (exit 2), the rest failed outside their control (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A check before the work found something the operator must fix.
    #[error("{0}")]
    Input(String),
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
    #[error(transparent)]
    Reconcile(#[from] ykt_reconcile::ReconcileError),
    #[error(transparent)]
    Report(#[from] ykt_reports::ReportError),
    #[error(transparent)]
    Cutover(#[from] ykt_cutover::CutoverError),
    /// A worker thread of a step stopped (a defect of ykt; its panic was reported).
    #[error("a worker of the run stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

impl PipelineError {
    pub fn is_input_error(&self) -> bool {
        match self {
            PipelineError::Input(_) => true,
            PipelineError::Db(e) => e.is_input_error(),
            PipelineError::Stage(e) => e.is_input_error(),
            PipelineError::Extract(e) => e.is_input_error(),
            PipelineError::Transform(e) => e.is_input_error(),
            PipelineError::Load(e) => e.is_input_error(),
            PipelineError::Reconcile(e) => e.is_input_error(),
            PipelineError::Report(e) => e.is_input_error(),
            PipelineError::Cutover(e) => e.is_input_error(),
            PipelineError::Worker(_) => false,
        }
    }
}

/// An input error with its sentence.
pub(crate) fn input(message: impl std::fmt::Display) -> PipelineError {
    PipelineError::Input(message.to_string())
}

/// Who does a cutover step, for the record: the name given, else `$USER`.
pub fn who(by: Option<&str>) -> String {
    by.map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
