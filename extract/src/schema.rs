//! The legacy DDL for SQLite, MySQL/MariaDB and PostgreSQL: the spec's exact upper-case table
//! and column names, codes and amounts as text.

use ykt_db::{Db, Engine, ident};
use ykt_domain::{ColumnKind, LegacyTable};

use crate::ExtractError;

fn sql_type(engine: Engine, kind: ColumnKind) -> String {
    match kind {
        ColumnKind::Varchar(n) => format!("VARCHAR({n})"),
        ColumnKind::Char(n) => format!("CHAR({n})"),
        ColumnKind::BigInt => "BIGINT".into(),
        ColumnKind::Int => "INT".into(),
        ColumnKind::DateTime => match engine {
            Engine::Postgres => "TIMESTAMP(0)".into(),
            Engine::MySql | Engine::Sqlite => "DATETIME".into(),
        },
    }
}

/// The `CREATE TABLE` statements of the seven legacy tables for an engine.
pub fn legacy_ddl(engine: Engine) -> String {
    let mut sql = String::new();
    for table in LegacyTable::ALL {
        let columns: Vec<String> = table
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pk = if i == 0 { " NOT NULL PRIMARY KEY" } else { "" };
                format!(
                    "  {} {}{pk}",
                    ident(engine, c.name),
                    sql_type(engine, c.kind)
                )
            })
            .collect();
        let options = match engine {
            Engine::MySql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            _ => "",
        };
        sql.push_str(&format!(
            "CREATE TABLE {} (\n{}\n){options};\n",
            ident(engine, table.name()),
            columns.join(",\n")
        ));
    }
    sql
}

/// Creates the legacy tables in an empty database.
pub async fn create_legacy_schema(db: &Db) -> Result<(), ExtractError> {
    db.execute_script("creating the legacy tables", &legacy_ddl(db.engine()))
        .await?;
    Ok(())
}
