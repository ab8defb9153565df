//! The legacy DDL on all three engines; the platform migrations on PostgreSQL and SQLite.

use std::collections::BTreeMap;

use ykt_db::{Db, DbUrl, Engine, quote_literal};
use ykt_domain::{LegacyTable, Money, format_money};
use ykt_extract::create_legacy_schema;
use ykt_load::{LoadError, MIGRATIONS_TABLE, apply_migrations, secondary_indexes};

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

/// An index's name and the columns it sorts on (the first parenthesised list of its
/// definition, as written or as the catalog writes it).
fn columns_of(indexes: &[(String, String)]) -> BTreeMap<String, String> {
    indexes
        .iter()
        .map(|(name, create)| {
            let columns = create
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .map_or("", |(columns, _)| columns);
            (name.clone(), columns.to_owned())
        })
        .collect()
}

/// The indexes a database holds that back no key (primary or unique), read from its catalog.
async fn indexes_in(db: &Db) -> BTreeMap<String, String> {
    let sql = match db.engine() {
        Engine::Postgres => {
            "SELECT CAST(i.indexrelid::regclass AS TEXT), pg_get_indexdef(i.indexrelid) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = current_schema()::regnamespace \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        }
        _ => "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    };
    let rows = db.fetch_text_rows("the indexes", sql).await.unwrap();
    let found: Vec<(String, String)> = rows
        .into_iter()
        .map(|mut r| {
            let mut take = |i: usize| r[i].take().unwrap_or_default();
            (take(0), take(1))
        })
        .collect();
    columns_of(&found)
}

async fn migrations_apply_once_then_change_nothing(url: DbUrl) {
    let db = Db::connect_or_create(&url).await.expect("connect");
    let first = apply_migrations(&db).await.expect("first apply");
    assert_eq!(
        first,
        vec![
            "0001_platform".to_owned(),
            "0002_cutover".to_owned(),
            "0003_program_basis".to_owned(),
            "0004_exact_money".to_owned(),
            "0005_two_person_signoff".to_owned(),
            "0006_reject_context".to_owned(),
            "0007_account_check".to_owned(),
            "0008_account_collation".to_owned(),
            "0009_account_digits".to_owned(),
            "0010_payment_county_index".to_owned()
        ]
    );
    assert_eq!(
        indexes_in(&db).await,
        columns_of(&secondary_indexes(db.engine())),
        "the indexes a bulk load sets aside and builds again are those the migrations leave"
    );
    for table in PLATFORM_TABLES {
        assert!(
            db.table_exists(table).await.unwrap(),
            "{table} missing on {url}"
        );
    }
    let recorded = format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}");
    assert_eq!(db.fetch_i64("count", &recorded).await.unwrap(), Some(10));

    let second = apply_migrations(&db).await.expect("second apply");
    assert!(
        second.is_empty(),
        "an up-to-date database gets nothing: {second:?}"
    );
    assert_eq!(db.fetch_i64("count", &recorded).await.unwrap(), Some(10));

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

/// Amount texts a loose CHECK let into SQLite though PostgreSQL's NUMERIC(14,2) CHECK (> 0)
/// refuses them (#14): zero, a thousands separator, letters, a sign, past 12 integer digits.
const AMOUNTS_BOTH_REFUSE: &[&str] = &[
    "0.00",
    "1,200.00",
    "12abc.00",
    "-5.00",
    "1000000000000.00",
    "",
    "abc",
];

/// Exact money on both targets (#14 item 6): the same random amounts go into SQLite and
/// PostgreSQL; `money_by_county` gives the exact decimal sum on both (two independent readings
/// of one total agree with the sum taken here), and both refuse the same malformed amounts.
async fn money_is_exact_and_strict(url: DbUrl, amounts: &[Money]) -> Vec<(String, String)> {
    let db = Db::connect_or_create(&url).await.expect("connect");
    apply_migrations(&db).await.expect("migrations");
    db.execute("program", "INSERT INTO program (code, name, department, basis, rate) VALUES ('NY001', '耕地地力保护补贴', '农业农村局', 'area', '60.00')")
        .await
        .expect("a program");
    for (i, amount) in amounts.iter().enumerate() {
        let county = if i % 2 == 0 { "610102" } else { "610103" };
        db.execute("allocation", &format!("INSERT INTO allocation (id, county_code, program_code, fund_year, amount) VALUES ({}, '{county}', 'NY001', 2020, '{}')", i + 1, format_money(*amount)))
            .await
            .unwrap_or_else(|e| panic!("{} refused on {url}: {e}", format_money(*amount)));
    }
    for (i, bad) in AMOUNTS_BOTH_REFUSE.iter().enumerate() {
        let refused = db
            .execute("bad amount", &format!("INSERT INTO allocation (id, county_code, program_code, fund_year, amount) VALUES ({}, '610102', 'NY001', 2020, '{bad}')", 100_000 + i))
            .await;
        assert!(refused.is_err(), "{bad:?} must be refused on {url}");
    }
    let rate = db
        .execute(
            "bad rate",
            "UPDATE program SET rate = '0.00' WHERE code = 'NY001'",
        )
        .await;
    assert!(rate.is_err(), "a zero rate must be refused on {url}");
    let rows = db
        .fetch_text_rows("totals", "SELECT county_code, amount FROM money_by_county WHERE money_table = 'allocation' ORDER BY county_code")
        .await
        .expect("the auditors' view");
    db.close().await;
    rows.into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn money_is_exact_and_strict_on_sqlite_and_postgres() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    // Amounts from one fen to the largest NUMERIC(14,2), many of them with cents that a
    // float sum gets wrong.
    let strategy =
        prop::collection::vec(prop_oneof![1i64..100_000, 1i64..100_000_000_000_000], 1..40);
    use proptest::strategy::ValueTree;
    let mut runner = TestRunner::new(Config::default());
    for case in 0..4 {
        let fen = strategy.new_tree(&mut runner).expect("a case").current();
        let amounts: Vec<Money> = fen.iter().map(|f| Money::new(*f, 2)).collect();
        let expected: Vec<(String, String)> = ["610102", "610103"]
            .iter()
            .enumerate()
            .filter(|(k, _)| amounts.len() > *k)
            .map(|(k, county)| {
                let sum: Money = amounts.iter().skip(k).step_by(2).sum();
                ((*county).to_owned(), format_money(sum))
            })
            .collect();
        let sqlite = fresh_sqlite(&format!("money_exact_{case}"), "platform.sqlite");
        let got = money_is_exact_and_strict(sqlite, &amounts).await;
        assert_eq!(got, expected, "SQLite, amounts {amounts:?}");
        if let Some(url) = fresh_database(Server::Postgres, &format!("money_exact_{case}")).await {
            let got = money_is_exact_and_strict(url, &amounts).await;
            assert_eq!(got, expected, "PostgreSQL, amounts {amounts:?}");
        }
    }
}

/// Which of `accounts` a platform's account-number check takes, as (on a person, on a line).
async fn accounts_taken(url: DbUrl, accounts: &[String]) -> Vec<(bool, bool)> {
    let db = Db::connect_or_create(&url).await.expect("connect");
    apply_migrations(&db).await.expect("migrations");
    db.execute_script("a program, a person and a batch", "INSERT INTO program (code, name, department, basis, rate) VALUES ('NY001', '耕地地力保护补贴', '农业农村局', 'area', '60.00'); \
        INSERT INTO beneficiary (id, id_number, name, county_code, status) VALUES (1, '11010519491231002X', '张三', '610102', 'active'); \
        INSERT INTO payment_batch (id, batch_no, county_code, program_code, fund_year, status) VALUES (1, 'P1', '610102', 'NY001', 2020, 'sent')")
        .await
        .expect("parents");
    let mut taken = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let a = quote_literal(db.engine(), account);
        let n = i + 2;
        let id_number = format!("{:017}", 61010219800101000u64 + n as u64);
        let check = ykt_domain::id_check_char(id_number.as_bytes()).expect("17 digits") as char;
        let person = db
            .execute("a person", &format!("INSERT INTO beneficiary (id, id_number, name, county_code, account_no, status) VALUES ({n}, '{id_number}{check}', '张三', '610102', {a}, 'active')"))
            .await
            .is_ok();
        let line = db
            .execute("a line", &format!("INSERT INTO payment (id, batch_id, beneficiary_id, county_code, program_code, fund_year, amount, account_no, status, system_of_record) VALUES ({n}, 1, 1, '610102', 'NY001', 2020, '10.00', {a}, 'paid', 'legacy')"))
            .await
            .is_ok();
        taken.push((person, line));
    }
    db.close().await;
    taken
}

#[tokio::test]
async fn account_checks_agree_with_the_account_rule_on_sqlite_and_postgres() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    // Near misses of "8 to 30 ASCII digits": lengths around the bounds, full-width and other
    // non-ASCII digits, letters, spaces, signs.
    let strategy = prop::collection::vec("[0-9０-９٣a-z +-]{0,3}[0-9]{0,31}[0-9X ]{0,2}", 1..30);
    // ... and the case that tells the engines apart: 30 digits and a space.
    let thirty_and_a_space = format!("{} ", "9".repeat(30));
    let mut runner = TestRunner::new(Config::default());
    for case in 0..3 {
        let mut accounts = strategy.new_tree(&mut runner).expect("a case").current();
        accounts.extend(
            [
                "12345678",
                "1234567",
                &"9".repeat(30),
                &"9".repeat(31),
                "",
                &thirty_and_a_space,
            ]
            .map(str::to_owned),
        );
        let rule = |a: &str| (8..=30).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_digit());
        let expected: Vec<(bool, bool)> = accounts.iter().map(|a| (rule(a), rule(a))).collect();
        // PostgreSQL's VARCHAR(30) first drops spaces past the 30th character (the SQL
        // standard; found by this test): it stores, and checks, the first 30 characters.
        let varchar30 = |a: &str| match a.char_indices().nth(30) {
            Some((at, _)) if a[at..].bytes().all(|b| b == b' ') => a[..at].to_owned(),
            _ => a.to_owned(),
        };
        let expected_pg: Vec<(bool, bool)> = accounts
            .iter()
            .map(|a| rule(&varchar30(a)))
            .map(|ok| (ok, ok))
            .collect();
        let sqlite = fresh_sqlite(&format!("account_check_{case}"), "platform.sqlite");
        assert_eq!(
            accounts_taken(sqlite, &accounts).await,
            expected,
            "SQLite, accounts {accounts:?}"
        );
        if let Some(url) = fresh_database(Server::Postgres, &format!("account_check_{case}")).await
        {
            assert_eq!(
                accounts_taken(url, &accounts).await,
                expected_pg,
                "PostgreSQL, accounts {accounts:?}"
            );
        }
    }
}

/// Every PostgreSQL session ykt opens runs without JIT and with room for its aggregations
/// (`ykt_db::PG_SESSION`), unless the URL sets a value itself.
#[tokio::test]
async fn postgres_sessions_take_ykts_settings_unless_the_url_names_them() {
    let Some(url) = fresh_database(Server::Postgres, "session_settings").await else {
        return;
    };
    let settings = |url: DbUrl| async move {
        session_settings(Db::connect(&url).await.unwrap(), &["jit", "work_mem"]).await
    };
    assert_eq!(settings(url.clone()).await, ["off", "64MB"]);
    let own: DbUrl = format!("{}?options[work_mem]=8MB", url.expose())
        .parse()
        .unwrap();
    assert_eq!(settings(own).await, ["off", "8MB"]);
}

/// A session's values of `names`, the session then closed.
async fn session_settings(db: Db, names: &[&str]) -> Vec<String> {
    let select: Vec<String> = names
        .iter()
        .map(|n| format!("current_setting('{n}')"))
        .collect();
    let row = db
        .fetch_text_rows("reading settings", &format!("SELECT {}", select.join(", ")))
        .await
        .unwrap()
        .remove(0);
    db.close().await;
    row.into_iter().map(Option::unwrap).collect()
}

/// A reconciliation's sessions also run without parallel workers
/// (`ykt_db::PG_READING_SESSION`), unless the URL sets a value itself; other sessions keep the
/// server's own.
#[tokio::test]
async fn reading_sessions_take_no_parallel_workers_unless_the_url_names_them() {
    let Some(url) = fresh_database(Server::Postgres, "reading_settings").await else {
        return;
    };
    let workers = |db: Db| async move {
        session_settings(db, &["max_parallel_workers_per_gather", "jit"]).await
    };
    let reading = Db::connect_for_reading(&url).await.unwrap();
    assert_eq!(workers(reading).await, ["0", "off"]);
    let other = workers(Db::connect(&url).await.unwrap()).await;
    assert_ne!(
        other[0], "0",
        "the server's default applies to other sessions"
    );
    let own: DbUrl = format!(
        "{}?options[max_parallel_workers_per_gather]=1",
        url.expose()
    )
    .parse()
    .unwrap();
    let reading = Db::connect_for_reading(&own).await.unwrap();
    assert_eq!(workers(reading).await, ["1", "off"]);
}
