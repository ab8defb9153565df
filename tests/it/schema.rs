//! The legacy DDL on all three engines; the platform migrations on PostgreSQL and SQLite.

use ykt_db::{Db, DbUrl};
use ykt_domain::LegacyTable;
use ykt_extract::create_legacy_schema;
use ykt_load::{LoadError, MIGRATIONS_TABLE, apply_migrations};

use crate::support::{Server, fresh_database, fresh_sqlite};

async fn legacy_ddl_creates_every_table(url: DbUrl) {
    let db = Db::connect_or_create(&url).await.expect("connect");
    create_legacy_schema(&db).await.expect("legacy DDL");
    for table in LegacyTable::ALL {
        assert!(
            db.table_exists(table.name()).await.unwrap(),
            "{} missing on {url}",
            table.name()
        );
        // The exact upper-case column names are there, text columns take padded text.
        let columns: Vec<String> = table
            .columns()
            .iter()
            .map(|c| ykt_db::ident(db.engine(), c.name))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE 1 = 0",
            columns.join(", "),
            ykt_db::ident(db.engine(), table.name())
        );
        db.fetch_text_rows("selecting every column", &sql)
            .await
            .expect("every column exists");
    }
    let ident = |n| ykt_db::ident(db.engine(), n);
    let insert = format!(
        "INSERT INTO {} ({}, {}, {}) VALUES (1, ' 1', '１２００．００')",
        ident("T_FFMX"),
        ident("MXID"),
        ident("FFZT"),
        ident("JE")
    );
    db.execute("padded status", &insert)
        .await
        .expect("status columns take a padded value (Q6) and amounts any text (Q4)");
    db.close().await;
}

#[tokio::test]
async fn legacy_ddl_on_sqlite() {
    legacy_ddl_creates_every_table(fresh_sqlite("legacy_ddl_on_sqlite", "legacy.sqlite")).await;
}

#[tokio::test]
async fn legacy_ddl_on_mariadb() {
    if let Some(url) = fresh_database(Server::MySql, "legacy_ddl").await {
        legacy_ddl_creates_every_table(url).await;
    }
}

#[tokio::test]
async fn legacy_ddl_on_postgres() {
    if let Some(url) = fresh_database(Server::Postgres, "legacy_ddl").await {
        legacy_ddl_creates_every_table(url).await;
    }
}

const PLATFORM_TABLES: &[&str] = &[
    "region",
    "program",
    "allocation",
    "beneficiary",
    "beneficiary_legacy_map",
    "payment_batch",
    "payment",
    "platform_user",
    "migration_run",
    "migration_checkpoint",
    "migration_reject",
    "migration_correction",
    "cutover_guard_event",
    "cutover_sync_cursor",
    "cutover_sync_increment",
    "cutover_sync_change",
    "cutover_carry_over",
    "cutover_freeze_step",
    "cutover_county_report",
    "cutover_signoff",
];

async fn migrations_apply_once_then_change_nothing(url: DbUrl) {
    let db = Db::connect_or_create(&url).await.expect("connect");
    let first = apply_migrations(&db).await.expect("first apply");
    assert_eq!(
        first,
        vec![
            "0001_platform".to_owned(),
            "0002_cutover".to_owned(),
            "0003_program_basis".to_owned()
        ]
    );
    for table in PLATFORM_TABLES {
        assert!(
            db.table_exists(table).await.unwrap(),
            "{table} missing on {url}"
        );
    }
    let recorded = format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}");
    assert_eq!(db.fetch_i64("count", &recorded).await.unwrap(), Some(3));

    let second = apply_migrations(&db).await.expect("second apply");
    assert!(
        second.is_empty(),
        "an up-to-date database gets nothing: {second:?}"
    );
    assert_eq!(db.fetch_i64("count", &recorded).await.unwrap(), Some(3));

    // A real platform refuses what the spec forbids.
    db.execute("program", "INSERT INTO program (code, name, department, basis, rate) VALUES ('NY001', '耕地地力保护补贴', '农业农村局', 'area', '60.00')")
        .await
        .expect("a valid program");
    let bad = db
        .execute(
            "bad basis",
            "INSERT INTO program (code, name, department, basis) VALUES ('X1', 'x', 'y', 'per mu')",
        )
        .await;
    assert!(bad.is_err(), "an unknown basis must be refused");
    // A basis that did not read is cleared (issue 10: T_BTXM rows are never rejected) ...
    db.execute(
        "null basis",
        "INSERT INTO program (code, name, department, basis) VALUES ('X2', 'x', 'y', NULL)",
    )
    .await
    .expect("a program whose basis is unknown");
    // ... and the programs' children still refer to them (SQLite rebuilt the table).
    let orphan = db
        .execute("orphan allocation", "INSERT INTO allocation (id, county_code, program_code, fund_year, amount, legacy_zbid) VALUES (1, '610802', 'NOPE', 2019, '10.00', 1)")
        .await;
    assert!(
        orphan.is_err(),
        "an allocation of an unknown program must be refused"
    );
    db.execute("allocation", "INSERT INTO allocation (id, county_code, program_code, fund_year, amount, legacy_zbid) VALUES (2, '610802', 'X2', 2019, '10.00', 2)")
        .await
        .expect("an allocation of a known program");
    let bad_id = db
        .execute("bad id", "INSERT INTO beneficiary (id, id_number, name, county_code, status) VALUES (1, '61010419620927690', '张三', '610104', 'active')")
        .await;
    assert!(bad_id.is_err(), "a 17-character ID number must be refused");

    // A migration changed after it was applied is refused, not skipped.
    db.execute(
        "tamper",
        &format!("UPDATE {MIGRATIONS_TABLE} SET checksum = 'x' WHERE version = 1"),
    )
    .await
    .unwrap();
    match apply_migrations(&db).await {
        Err(LoadError::MigrationChanged { version: 1, .. }) => {}
        other => panic!("expected a refused changed migration, got {other:?}"),
    }
    db.close().await;
}

#[tokio::test]
async fn platform_migrations_on_sqlite() {
    migrations_apply_once_then_change_nothing(fresh_sqlite(
        "platform_migrations_on_sqlite",
        "platform.sqlite",
    ))
    .await;
}

#[tokio::test]
async fn platform_migrations_on_postgres() {
    if let Some(url) = fresh_database(Server::Postgres, "platform_migrations").await {
        migrations_apply_once_then_change_nothing(url).await;
    }
}

#[tokio::test]
async fn mysql_is_refused_as_a_target() {
    if let Some(url) = fresh_database(Server::MySql, "mysql_target").await {
        let db = Db::connect(&url).await.unwrap();
        let err = apply_migrations(&db).await.unwrap_err();
        assert!(matches!(err, LoadError::UnsupportedTarget { .. }), "{err}");
    }
}
