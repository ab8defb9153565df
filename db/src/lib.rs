//! Database URLs, connections and the differences between the three engines ykt talks to.
//!
//! Every stage that touches a database goes through here, so that a URL is always shown with its
//! password hidden ([`DbUrl`]'s `Display`), a connection failure always reads as one sentence that
//! names the server, and engine quirks (quoting, upserts) live in one place.
//!
//! ```
//! use ykt_db::{DbUrl, Engine};
//! let url: DbUrl = "mysql://root:secret@127.0.0.1:3306/legacy".parse().unwrap();
//! assert_eq!(url.engine(), Engine::MySql);
//! assert_eq!(url.to_string(), "mysql://root:***@127.0.0.1:3306/legacy");
//! ```

mod error;
mod legacy;
mod lock;
mod option_files;
mod pool;
mod text_rows;
mod url;

/// A fresh folder under the temporary directory (named for `what` and this process) and the
/// URL of a SQLite file in it, for the tests.
#[cfg(test)]
fn temp_sqlite(what: &str) -> (std::path::PathBuf, DbUrl) {
    let dir = std::env::temp_dir().join(format!("ykt-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("t.sqlite").display())
        .parse()
        .unwrap();
    (dir, url)
}

pub use error::{DbError, server_gone};
pub use legacy::{StoredColumns, check_table, ident, read_table, read_table_text, select_rows_sql};
pub use lock::{WriterLock, set_identity};
pub use pool::{
    Db, PG_SESSION, Snapshot, cast_text, columns_sql, quote_literal, recreate_database, set_ca_file,
};
pub use text_rows::{CopyLineError, CopyText, CopyTextError, TextRows};
pub use url::{DbUrl, Engine};
