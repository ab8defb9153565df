//! `ykt schema`: create or print the database schemas.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use ykt_db::Engine;

use super::{Classify, Failure, database_url};

/// Create the new platform's tables, or print the legacy system's DDL.
#[derive(Debug, Args)]
#[command(after_help = super::examples::SCHEMA)]
pub struct SchemaArgs {
    #[command(subcommand)]
    action: SchemaAction,
}

#[derive(Debug, Subcommand)]
enum SchemaAction {
    /// Apply the platform migrations to a target database (PostgreSQL or SQLite). Safe to run
    /// again: applied migrations are skipped, and a changed one is refused.
    Apply {
        /// The new platform: postgres://USER@HOST:PORT/DB or sqlite://FILE. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
        #[arg(long, value_name = "URL")]
        target: Option<String>,
    },
    /// Print the legacy tables' DDL for an engine (to set up a rehearsal by hand).
    LegacyDdl {
        #[arg(long, value_enum)]
        engine: EngineArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EngineArg {
    Sqlite,
    Mysql,
    Postgres,
}

pub async fn run(ctx: &ykt_cutover::Context, args: SchemaArgs) -> Result<ExitCode, Failure> {
    match args.action {
        SchemaAction::Apply { target } => {
            let target = super::required_url(ctx, &target, super::DbRole::Target)?;
            let url = database_url(&target)?;
            let write = super::open_target_for_writing(&target, "schema", true, None).await?;
            let applied = ykt_load::apply_migrations(&write.db).await.classify()?;
            write.db.close().await;
            if applied.is_empty() {
                println!("{url}: the platform schema is up to date.");
            } else {
                println!("{url}: applied {}.", applied.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaAction::LegacyDdl { engine } => {
            let engine = match engine {
                EngineArg::Sqlite => Engine::Sqlite,
                EngineArg::Mysql => Engine::MySql,
                EngineArg::Postgres => Engine::Postgres,
            };
            print!("{}", ykt_extract::legacy_ddl(engine));
            Ok(ExitCode::SUCCESS)
        }
    }
}
