//! Guards: triggers that make the databases refuse what the phase forbids
//! (`cutover-policy.md` § Guards), their removal, and their verification by trying each write
//! inside a rolled-back transaction.

use ykt_db::ident;
use ykt_db::{Db, Engine, cast_text, quote_literal};
use ykt_domain::LegacyTable;

use crate::route::legacy_may_write;
use crate::{CutoverError, Phase, Policy};

/// Every guard trigger's name starts with this; every refusal message contains `MARK`.
const PREFIX: &str = "ykt_guard_";
const MARK: &str = "YKT";

/// Which database a guard protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Legacy,
    Target,
}

impl Side {
    pub const fn name(self) -> &'static str {
        match self {
            Side::Legacy => "legacy",
            Side::Target => "target",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::Insert, Op::Update, Op::Delete];
    pub const fn sql(self) -> &'static str {
        match self {
            Op::Insert => "INSERT",
            Op::Update => "UPDATE",
            Op::Delete => "DELETE",
        }
    }
}

/// One trigger: refuse `op` on `table` (when `when` holds, else always).
struct Rule {
    table: &'static str,
    op: Op,
    when: Option<String>,
    message: String,
}

const PAUSED: &str = "YKT暂停期：旧系统禁止一切写入 | ykt paused: legacy takes no writes";
const FROZEN: &str = "YKT冻结期：旧系统只读，禁止一切写入 | ykt frozen: legacy is read-only";
/// The dual-run refusal, from the policy's routing year.
fn dual_run_message(legacy_max_fund_year: i32) -> String {
    format!(
        "YKT双轨期：{}及以后年度资金只能在新平台办理 | ykt dual-run: legacy pays fund years up to {legacy_max_fund_year} only",
        legacy_max_fund_year + 1
    )
}
const TARGET: &str = "YKT双轨期：该明细归旧系统办理，新平台不得标记已发放 | ykt: line owned by legacy; new may not pay it";

/// SQL that is true when a fund-year column holds a year legacy may still write: the same
/// reading as `route::fund_year` and the same bound as `route::legacy_may_write`.
fn year_is_legacy(engine: Engine, column: &str, max: i32) -> String {
    let d = format!("REPLACE(TRIM({column}), '年', '')");
    let (four, two, int) = match engine {
        Engine::Sqlite => (
            format!("{d} GLOB '[0-9][0-9][0-9][0-9]'"),
            format!("{d} GLOB '[0-9][0-9]'"),
            "INTEGER",
        ),
        Engine::MySql => (
            format!("{d} REGEXP '^[0-9]{{4}}$'"),
            format!("{d} REGEXP '^[0-9]{{2}}$'"),
            "SIGNED",
        ),
        Engine::Postgres => (
            format!("{d} ~ '^[0-9]{{4}}$'"),
            format!("{d} ~ '^[0-9]{{2}}$'"),
            "INTEGER",
        ),
    };
    format!(
        "COALESCE((CASE WHEN {four} THEN CAST({d} AS {int}) WHEN {two} THEN 2000 + CAST({d} AS {int}) END) BETWEEN 2000 AND {max}, FALSE)"
    )
}

fn legacy_rules(engine: Engine, policy: &Policy, phase: Phase) -> Vec<Rule> {
    let mut rules = Vec::new();
    match phase {
        Phase::Open => {}
        Phase::Paused | Phase::Frozen => {
            let message = if phase == Phase::Paused {
                PAUSED
            } else {
                FROZEN
            };
            for t in LegacyTable::ALL {
                for op in Op::ALL {
                    rules.push(Rule {
                        table: t.name(),
                        op,
                        when: None,
                        message: message.to_owned(),
                    });
                }
            }
        }
        Phase::DualRun => {
            let max = policy.legacy_max_fund_year;
            let nd =
                |row: &str| year_is_legacy(engine, &format!("{row}.{}", ident(engine, "ND")), max);
            for t in [LegacyTable::Batches, LegacyTable::Payments] {
                for op in Op::ALL {
                    let when = match op {
                        Op::Insert => format!("NOT {}", nd("NEW")),
                        Op::Update => format!("NOT ({} AND {})", nd("NEW"), nd("OLD")),
                        Op::Delete => format!("NOT {}", nd("OLD")),
                    };
                    rules.push(Rule {
                        table: t.name(),
                        op,
                        when: Some(when),
                        message: dual_run_message(max),
                    });
                }
            }
        }
    }
    rules
}

fn target_rules(phase: Phase) -> Vec<Rule> {
    match phase {
        Phase::DualRun | Phase::Frozen => vec![
            Rule {
                table: "payment",
                op: Op::Insert,
                when: Some("NEW.status = 'paid' AND NEW.system_of_record = 'legacy'".to_owned()),
                message: TARGET.to_owned(),
            },
            Rule {
                table: "payment",
                op: Op::Update,
                when: Some(
                    "NEW.status = 'paid' AND OLD.status <> 'paid' AND OLD.system_of_record = 'legacy'"
                        .to_owned(),
                ),
                message: TARGET.to_owned(),
            },
        ],
        Phase::Open | Phase::Paused => Vec::new(),
    }
}

fn rules(side: Side, engine: Engine, policy: &Policy, phase: Phase) -> Vec<Rule> {
    match side {
        Side::Legacy => legacy_rules(engine, policy, phase),
        Side::Target => target_rules(phase),
    }
}

fn trigger_name(phase: Phase, rule: &Rule) -> String {
    format!(
        "{PREFIX}{}_{}_{}",
        phase.name().replace('-', "_"),
        rule.table.to_lowercase(),
        rule.op.sql().to_lowercase()
    )
}

fn create_sql(engine: Engine, phase: Phase, rule: &Rule) -> Vec<String> {
    let name = trigger_name(phase, rule);
    let table = ident(engine, rule.table);
    let op = rule.op.sql();
    let msg = quote_literal(engine, &rule.message);
    match engine {
        Engine::Sqlite => {
            let when = rule
                .when
                .as_ref()
                .map_or(String::new(), |w| format!(" WHEN {w}"));
            vec![format!(
                "CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW{when} BEGIN SELECT RAISE(ABORT, {msg}); END"
            )]
        }
        Engine::MySql => {
            let signal = format!("SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {msg}");
            let body = match &rule.when {
                Some(w) => format!("BEGIN IF {w} THEN {signal}; END IF; END"),
                None => signal,
            };
            vec![format!(
                "CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW {body}"
            )]
        }
        Engine::Postgres => {
            let when = rule
                .when
                .as_ref()
                .map_or(String::new(), |w| format!(" WHEN ({w})"));
            let mut out = vec![format!(
                "CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION ykt_guard_refuse({msg})"
            )];
            // TRUNCATE skips row triggers: refuse it too wherever deletes are guarded.
            if rule.op == Op::Delete {
                out.push(format!(
                    "CREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION ykt_guard_refuse({msg})"
                ));
            }
            out
        }
    }
}

fn drop_sql(engine: Engine, name: &str, table: &str) -> String {
    match engine {
        Engine::Postgres => format!("DROP TRIGGER IF EXISTS {name} ON {}", ident(engine, table)),
        _ => format!("DROP TRIGGER IF EXISTS {name}"),
    }
}

/// The guard triggers in a database: (trigger, table).
pub async fn installed(db: &Db) -> Result<Vec<(String, String)>, CutoverError> {
    let sql = match db.engine() {
        Engine::Sqlite => format!(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND substr(name, 1, {}) = '{PREFIX}' ORDER BY name",
            PREFIX.len()
        ),
        Engine::MySql => format!(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND LEFT(TRIGGER_NAME, {}) = '{PREFIX}' ORDER BY TRIGGER_NAME",
            PREFIX.len()
        ),
        Engine::Postgres => format!(
            "SELECT t.tgname::text, c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid) AND left(t.tgname, {}) = '{PREFIX}' ORDER BY 1",
            PREFIX.len()
        ),
    };
    Ok(db
        .fetch_text_rows("listing guard triggers", &sql)
        .await?
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect())
}

/// Drops every guard trigger; returns how many there were.
pub async fn remove(db: &Db) -> Result<usize, CutoverError> {
    let engine = db.engine();
    let triggers = installed(db).await?;
    for (name, table) in &triggers {
        db.execute_script("dropping a guard trigger", &drop_sql(engine, name, table))
            .await?;
    }
    Ok(triggers.len())
}

/// Replaces whatever guard is on with the phase's; returns the triggers created.
pub async fn install(
    db: &Db,
    side: Side,
    policy: &Policy,
    phase: Phase,
) -> Result<usize, CutoverError> {
    let engine = db.engine();
    let mut statements = Vec::new();
    if engine == Engine::MySql {
        remove(db).await?;
    } else {
        // Off and on in one transaction: there is never a moment without a guard.
        for (name, table) in installed(db).await? {
            statements.push(drop_sql(engine, &name, &table));
        }
    }
    if engine == Engine::Postgres {
        statements.push(
            "CREATE OR REPLACE FUNCTION ykt_guard_refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'P0001'; END $f$"
                .to_owned(),
        );
    }
    for rule in rules(side, engine, policy, phase) {
        statements.extend(create_sql(engine, phase, &rule));
    }
    let created = statements
        .iter()
        .filter(|s| s.starts_with("CREATE TRIGGER"))
        .count();
    match engine {
        // MariaDB commits each trigger on its own; PostgreSQL and SQLite take them all or none.
        Engine::MySql => {
            for s in &statements {
                db.execute_script("installing a guard trigger", s).await?;
            }
        }
        _ => {
            db.execute_in_transaction("installing the guard", &statements)
                .await?;
        }
    }
    Ok(created)
}

/// MariaDB `'user'@'host'` (host `%` by default) or a PostgreSQL role, quoted.
fn account(engine: Engine, account: &str) -> String {
    match engine {
        Engine::MySql => {
            let (user, host) = account.split_once('@').unwrap_or((account, "%"));
            format!("'{user}'@'{host}'")
        }
        _ => format!("\"{account}\""),
    }
}

/// Takes the application account's write privileges away (paused, frozen) or gives them back
/// (other phases). SQLite has no accounts. Returns what was done, for the record.
pub async fn set_write_privileges(
    db: &Db,
    who: &str,
    allowed: bool,
) -> Result<Option<String>, CutoverError> {
    let engine = db.engine();
    let acct = account(engine, who);
    let sql = match (engine, allowed) {
        (Engine::Sqlite, _) => return Ok(None),
        (Engine::MySql, false) => {
            format!(
                "REVOKE INSERT, UPDATE, DELETE ON {}.* FROM {acct}",
                ident(engine, db.url().database())
            )
        }
        (Engine::MySql, true) => {
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON {}.* TO {acct}",
                ident(engine, db.url().database())
            )
        }
        (Engine::Postgres, false) => {
            format!(
                "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM {acct}"
            )
        }
        (Engine::Postgres, true) => {
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {acct}")
        }
    };
    db.execute_script("changing the application account's privileges", &sql)
        .await?;
    Ok(Some(sql))
}

/// What a verification expects of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Refused,
    Allowed,
}

/// What one write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Refused by a ykt guard (the message).
    Refused(String),
    Allowed,
    /// Failed for another reason (a constraint, say): the guard did not decide it.
    Failed(String),
    /// Nothing to try it on (an empty table).
    Untested(String),
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub side: Side,
    pub table: String,
    pub op: &'static str,
    pub case: String,
    pub expect: Expect,
    pub outcome: Outcome,
}

impl Probe {
    /// A write the phase forbids that went through: the guard is not doing its job.
    pub fn is_breach(&self) -> bool {
        self.expect == Expect::Refused
            && !matches!(self.outcome, Outcome::Refused(_) | Outcome::Untested(_))
    }
}

async fn attempt(db: &Db, sql: &str) -> Outcome {
    match db.try_rolled_back(sql).await {
        Ok(_) => Outcome::Allowed,
        Err(m) if m.contains(MARK) => Outcome::Refused(m),
        Err(m) => Outcome::Failed(m),
    }
}

async fn first_key(
    db: &Db,
    table: &str,
    key: &str,
    filter: &str,
) -> Result<Option<String>, CutoverError> {
    let e = db.engine();
    let k = ident(e, key);
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {k} LIMIT 1",
        cast_text(e, &k),
        ident(e, table)
    );
    Ok(db
        .fetch_text_rows("finding a row to try", &sql)
        .await?
        .into_iter()
        .next()
        .and_then(|r| r[0].clone()))
}

/// Tries every write the guards of `phase` decide, each in a rolled-back transaction.
pub async fn verify(
    db: &Db,
    side: Side,
    policy: &Policy,
    phase: Phase,
) -> Result<Vec<Probe>, CutoverError> {
    let e = db.engine();
    let mut probes = Vec::new();
    match side {
        Side::Legacy => {
            for t in LegacyTable::ALL {
                let key = t.key_column().name;
                let k = ident(e, key);
                let table = ident(e, t.name());
                let years: Vec<Option<i32>> = if t.column_index("ND").is_some()
                    && phase == Phase::DualRun
                    && matches!(t, LegacyTable::Batches | LegacyTable::Payments)
                {
                    vec![
                        Some(policy.legacy_max_fund_year),
                        Some(policy.legacy_max_fund_year + 1),
                    ]
                } else {
                    vec![None]
                };
                for year in years {
                    let expect = if match t {
                        LegacyTable::Batches | LegacyTable::Payments => {
                            legacy_may_write(policy, phase, year.or(Some(2000)))
                        }
                        _ => matches!(phase, Phase::Open | Phase::DualRun),
                    } {
                        Expect::Allowed
                    } else {
                        Expect::Refused
                    };
                    let case =
                        year.map_or_else(|| "any row".to_owned(), |y| format!("fund year {y}"));
                    let nd = ident(e, "ND");
                    let insert = match year {
                        Some(y) => {
                            format!("INSERT INTO {table} ({k}, {nd}) VALUES (-424242, '{y}')")
                        }
                        None => format!("INSERT INTO {table} ({k}) VALUES (-424242)"),
                    };
                    let filter = year.map_or(String::new(), |y| format!(" WHERE {nd} = '{y}'"));
                    let existing = first_key(db, t.name(), key, &filter).await?;
                    for op in Op::ALL {
                        let outcome = match (op, &existing) {
                            (Op::Insert, _) => attempt(db, &insert).await,
                            (_, None) => Outcome::Untested("no such row".to_owned()),
                            (Op::Update, Some(v)) => {
                                let v = quote_literal(e, v);
                                attempt(
                                    db,
                                    &format!("UPDATE {table} SET {k} = {k} WHERE {k} = {v}"),
                                )
                                .await
                            }
                            (Op::Delete, Some(v)) => {
                                let v = quote_literal(e, v);
                                attempt(db, &format!("DELETE FROM {table} WHERE {k} = {v}")).await
                            }
                        };
                        probes.push(Probe {
                            side,
                            table: t.name().to_owned(),
                            op: op.sql(),
                            case: case.clone(),
                            expect,
                            outcome,
                        });
                    }
                }
            }
        }
        Side::Target => {
            if !matches!(phase, Phase::DualRun | Phase::Frozen) {
                return Ok(probes);
            }
            for (owner, expect) in [("legacy", Expect::Refused), ("new", Expect::Allowed)] {
                let line = first_key(
                    db,
                    "payment",
                    "id",
                    &format!(" WHERE system_of_record = '{owner}' AND status <> 'paid'"),
                )
                .await?;
                let outcome = match line {
                    Some(id) => attempt(db, &format!("UPDATE payment SET status = 'paid', paid_on = '2020-12-01' WHERE id = {id}")).await,
                    None => Outcome::Untested(format!("no unpaid line owned by {owner}")),
                };
                probes.push(Probe {
                    side,
                    table: "payment".to_owned(),
                    op: "UPDATE",
                    case: format!("pay a line owned by {owner}"),
                    expect,
                    outcome,
                });
            }
        }
    }
    Ok(probes)
}

/// Whether the triggers the phase needs are all there (by name).
pub async fn missing_triggers(
    db: &Db,
    side: Side,
    policy: &Policy,
    phase: Phase,
) -> Result<Vec<String>, CutoverError> {
    let have: Vec<String> = installed(db).await?.into_iter().map(|(n, _)| n).collect();
    Ok(rules(side, db.engine(), policy, phase)
        .iter()
        .map(|r| trigger_name(phase, r))
        .filter(|n| !have.contains(n))
        .collect())
}
