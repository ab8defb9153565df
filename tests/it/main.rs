//! End-to-end tests of ykt, against real SQLite files and real PostgreSQL and MariaDB servers.
//!
//! Server tests need `YKT_TEST_POSTGRES_URL` / `YKT_TEST_MYSQL_URL` (defaults: the local
//! servers). Where a server cannot be reached they print a loud SKIPPED line, unless
//! `YKT_REQUIRE_SERVERS=1` (as in CI), where they fail.

mod architecture;
mod bad_input;
mod cli_errors;
mod config;
mod cutover;
mod generate;
mod issue10;
mod migrate;
mod privacy;
mod properties;
mod reconcile;
mod reports;
mod schema;
mod support;
mod tls;
mod users;
