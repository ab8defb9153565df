//! Reads the legacy system: its schema, its database tables and its export folder.
//!
//! The legacy system is a given (`legacy-system.md`): this crate knows its DDL for the three
//! engines ([`create_legacy_schema`]), reads its tables page by page from a live database
//! (`ykt_db::read_table`), and reads and writes its "数据导出" export format: GBK (or UTF-8 re-saved)
//! CSV with Chinese captions and CRLF ([`ExportReader`], [`ExportWriter`]). Values are never
//! parsed here; they stay the raw text that was found.

mod error;
mod export;
mod keys;
mod schema;
mod stage;

pub use error::ExtractError;
pub use export::{ExportEncoding, ExportReader, ExportWriter, TOTALS_MARKER};
pub use keys::{KeyProblem, printable};
pub use schema::{create_legacy_schema, legacy_ddl};
pub use stage::{LegacySource, extract};
