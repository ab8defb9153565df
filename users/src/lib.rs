//! The user forms of the provincial notice (附件 1-2 部门用户信息采集表, 附件 1-3 财政用户信息
//! 采集表): read them as county offices fill them in, check every rule of `cutover-policy.md`,
//! and create the platform's users from them.
//!
//! Forms arrive as `.xlsx` or `.csv` (GBK or UTF-8) laid out as in the notice: a title row,
//! the header row, the example rows offices forget to delete, data rows and empty rows.
//! [`read_forms`] finds the header row and reads the data rows; [`check`] applies the rules and
//! returns every violation at once, each with file, sheet, row and cell; [`import`] writes
//! `platform_user` rows (idempotently) and a per-county account list for the administrator.

mod check;
mod forms;
mod import;
mod legacy;

pub use check::{
    CheckedEntry, FormSet, Post, RegionLevel, ResolvedRegion, Severity, Townships, Violation, check,
};
pub use forms::{Entry, FormKind, read_forms, split_csv};
pub use import::{ImportReport, import};
pub use legacy::{LegacyUser, cross_check, read_legacy_users, townships_from_legacy};

/// Errors reading forms or the databases (the operator fixes a file or a URL).
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read {file}: {message}")]
    File { file: String, message: String },
    #[error(
        "{file}: no sheet has the header row of a user form (业务科（股）室 or 业务主管部门名称, 市县, 姓名, 身份证号, 岗位)"
    )]
    NoForm { file: String },
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error("{what} failed on {url}: {source}")]
    Sql {
        url: String,
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot write {file}: {message}")]
    Write { file: String, message: String },
}

impl UsersError {
    pub fn is_input_error(&self) -> bool {
        match self {
            UsersError::File { .. } | UsersError::NoForm { .. } => true,
            UsersError::Db(e) => e.is_input_error(),
            UsersError::Sql { .. } | UsersError::Write { .. } => false,
        }
    }
}
