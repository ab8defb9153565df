//! The target's payment lines, watched as the row diff reads them: the audit flags that compare
//! lines with each other (the same payment twice, one account for two households) or with
//! their batch, person and program are then asked of the few lines the watch points at, by
//! legacy key, instead of by scans, sorts and joins of every line in the target.
//!
//! The row diff reads every migrated payment line once (every county, every key range), so
//! the flags need no read of their own. The watch is a sieve, not a judge: it keeps every line
//! that could have one of these flags, and some that do not (a fingerprint shared by chance,
//! a date it cannot read); the flags' own SQL, asked of those lines only, decides. A line the
//! sieve dropped could not have been flagged: that is what the property tests check.
//!
//! Memory stays bounded: the lines that need each other to be judged (a group of a person's
//! payments, an account's people) go to temporary files as fixed records, spread over
//! buckets by fingerprint, and are sorted a bucket at a time. What is held is the batches,
//! the programs and the people with a date of death.

// The watch's lookups (batches, programs' rates, the dead): every payment line asks each of
// them, and SipHash was 2 % of a reconciliation's own CPU.
use crate::FastMap as HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::sync::Mutex;

use rust_decimal::Decimal;
use ykt_db::{Db, TextRows};

use crate::ReconcileError;

/// The legacy keys of the lines each flag's SQL is to judge.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineCandidates {
    /// Paid lines whose person, program, fund year and period are another paid line's too
    /// (`A_DUPLICATE_PAYMENT`).
    pub duplicates: Vec<i64>,
    /// Paid lines of an account and fund year paid to two people or more (`A_SHARED_ACCOUNT`).
    pub shared_accounts: Vec<i64>,
    /// Lines that may have a one-line flag: paid after death, before the announcement ended,
    /// quantity × rate ≠ amount, another program than their batch's.
    pub one_line: Vec<i64>,
    /// Failed lines (`A_FAILED_NOT_REISSUED`, if nothing reissues them).
    pub failed: Vec<i64>,
}

/// A batch as the one-line flags and the duplicates see it.
#[derive(Debug, Clone)]
struct Batch {
    period: Option<Box<str>>,
    program: Option<Box<str>>,
    announce_to: Option<Box<str>>,
}

/// The columns of the payment lines the watch reads, by position in the diff's rows.
#[derive(Debug, Clone, Copy)]
struct Columns {
    key: usize,
    batch: usize,
    person: usize,
    program: usize,
    year: usize,
    status: usize,
    account: usize,
    paid_on: usize,
    quantity: usize,
    amount: usize,
    /// Cells a row.
    width: usize,
}

impl Columns {
    fn find(columns: &[String]) -> Result<Columns, ReconcileError> {
        let at = |name: &str| {
            columns.iter().position(|c| c == name).ok_or_else(|| {
                ReconcileError::Target(format!(
                    "payment: the row diff's lines have no {name} column, which the audit flags need"
                ))
            })
        };
        Ok(Columns {
            key: at("legacy_mxid")?,
            batch: at("batch_id")?,
            person: at("beneficiary_id")?,
            program: at("program_code")?,
            year: at("fund_year")?,
            status: at("status")?,
            account: at("account_no")?,
            paid_on: at("paid_on")?,
            quantity: at("quantity")?,
            amount: at("amount")?,
            width: columns.len(),
        })
    }
}

/// A line whose batch was not in the batches read at the start (a batch made since): judged
/// when the watch ends, against the batches read again.
type Deferred = Vec<Option<String>>;

struct State {
    columns: Option<(Vec<String>, Columns)>,
    batches: HashMap<Box<str>, Batch>,
    /// The rates of the programs that pay by one (the rate flag's).
    rates: HashMap<Box<str>, Box<str>>,
    /// The dead's dates of death.
    dead: HashMap<Box<str>, Box<str>>,
    /// (fingerprint of person, program, fund year and period; legacy key)
    duplicates: Spill<2>,
    /// (fingerprint of account and fund year; 1 where the person does not read as a number;
    /// the person; legacy key)
    accounts: Spill<4>,
    one_line: Vec<i64>,
    failed: Vec<i64>,
    deferred: Vec<Deferred>,
    /// The fingerprints' keys.
    keys: RandomState,
}

/// The watch over the row diff's payment lines. Shared by the diff's counties (two at a time).
pub(crate) struct LineWatch {
    state: Mutex<State>,
}

/// Reads the batches.
async fn batches(target: &Db) -> Result<HashMap<Box<str>, Batch>, ReconcileError> {
    let rows = target
        .fetch_text_rows(
            "reading the batches for the audit flags",
            "SELECT CAST(id AS TEXT), period, program_code, CAST(announce_to AS TEXT) FROM payment_batch",
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| {
            let boxed = |c: &mut Option<String>| c.take().map(String::into_boxed_str);
            let id = boxed(&mut r[0])?;
            Some((
                id,
                Batch {
                    period: boxed(&mut r[1]),
                    program: boxed(&mut r[2]),
                    announce_to: boxed(&mut r[3]),
                },
            ))
        })
        .collect())
}

/// Two columns of text as a map from the first to the second (rows with a NULL left out).
async fn pairs(
    target: &Db,
    what: &str,
    sql: &str,
) -> Result<HashMap<Box<str>, Box<str>>, ReconcileError> {
    Ok(target
        .fetch_text_rows(what, sql)
        .await?
        .into_iter()
        .filter_map(|mut r| Some((r[0].take()?.into(), r[1].take()?.into())))
        .collect())
}

impl LineWatch {
    /// A watch over `target`'s lines: its batches, rated programs and dead people read first.
    pub(crate) async fn new(target: &Db) -> Result<LineWatch, ReconcileError> {
        // Three small reads at once: the diff waits for them before its first key range.
        let (rates, dead, batches) = tokio::try_join!(
            pairs(
                target,
                "reading the programs for the audit flags",
                "SELECT code, CAST(rate AS TEXT) FROM program WHERE basis IN ('area', 'person', 'household') AND rate IS NOT NULL",
            ),
            pairs(
                target,
                "reading the dead for the audit flags",
                "SELECT CAST(id AS TEXT), CAST(deceased_on AS TEXT) FROM beneficiary WHERE deceased_on IS NOT NULL",
            ),
            batches(target),
        )?;
        let state = State::new(batches, rates, dead).map_err(spill_error)?;
        Ok(LineWatch {
            state: Mutex::new(state),
        })
    }

    /// Watches payment lines the diff read: `rows`, with `columns` named as the stage names them.
    pub(crate) fn observe(
        &self,
        columns: &[String],
        rows: &TextRows,
    ) -> Result<(), ReconcileError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ReconcileError::Target("the payment lines' watch failed".into()))?;
        let at = match &state.columns {
            Some((named, at)) if named[..] == columns[..] => *at,
            _ => {
                let at = Columns::find(columns)?;
                state.columns = Some((columns.to_vec(), at));
                at
            }
        };
        for r in 0..rows.len() {
            let cell = |c: usize| rows.get(r, c);
            state.line(at, &cell)?;
        }
        Ok(())
    }

    /// Ends the watch: the legacy keys of the lines each flag is to judge.
    pub(crate) async fn finish(self, target: &Db) -> Result<LineCandidates, ReconcileError> {
        let mut state = self
            .state
            .into_inner()
            .map_err(|_| ReconcileError::Target("the payment lines' watch failed".into()))?;
        if !state.deferred.is_empty() {
            let batches = batches(target).await?;
            state.rejudge(batches)?;
        }
        // The spills sorted on a blocking thread: at the province preset, millions of records.
        tokio::task::spawn_blocking(move || state.candidates())
            .await
            .map_err(|e| ReconcileError::Target(format!("the payment lines' watch failed: {e}")))?
            .map_err(spill_error)
    }
}

fn spill_error(e: std::io::Error) -> ReconcileError {
    ReconcileError::Target(format!(
        "could not write the audit flags' temporary files ({}): {e}",
        std::env::temp_dir().display()
    ))
}

impl State {
    fn new(
        batches: HashMap<Box<str>, Batch>,
        rates: HashMap<Box<str>, Box<str>>,
        dead: HashMap<Box<str>, Box<str>>,
    ) -> std::io::Result<State> {
        Ok(State {
            columns: None,
            batches,
            rates,
            dead,
            duplicates: Spill::new()?,
            accounts: Spill::new()?,
            one_line: Vec::new(),
            failed: Vec::new(),
            deferred: Vec::new(),
            keys: RandomState::new(),
        })
    }

    /// The lines whose batch was not known, judged again with `batches` read since. A batch
    /// still unknown is in no table: the flags' SQL, which joins the batches, flags none of
    /// its lines.
    fn rejudge(&mut self, batches: HashMap<Box<str>, Batch>) -> Result<(), ReconcileError> {
        self.batches = batches;
        let deferred = std::mem::take(&mut self.deferred);
        if let Some(at) = self.columns.as_ref().map(|(_, at)| *at) {
            for line in &deferred {
                let cell = |c: usize| line.get(c).and_then(|v| v.as_deref());
                if let Some(key) = legacy_key(at, &cell)? {
                    self.with_batch(at, &cell, key)?;
                }
            }
        }
        Ok(())
    }

    /// The legacy keys each flag is to judge, from what was watched.
    fn candidates(self) -> std::io::Result<LineCandidates> {
        // An account and year paid to two people: the run, in person order, ends on another
        // person than it begins with (or holds one that is not a number, and another line).
        let two_people = |run: &[[u64; 4]]| {
            let person = |r: Option<&[u64; 4]>| r.map(|r| [r[1], r[2]]);
            person(run.first()) != person(run.last())
                || (run.len() > 1 && run.iter().any(|r| r[1] == 1))
        };
        let mut out = LineCandidates {
            duplicates: self.duplicates.runs(|run| run.len() > 1)?,
            shared_accounts: self.accounts.runs(two_people)?,
            one_line: self.one_line,
            failed: self.failed,
        };
        for keys in [
            &mut out.duplicates,
            &mut out.shared_accounts,
            &mut out.one_line,
            &mut out.failed,
        ] {
            keys.sort_unstable();
            keys.dedup();
        }
        Ok(out)
    }

    /// One line: into the spills it belongs to, and among the one-line candidates if it may
    /// have a one-line flag.
    fn line<'a>(
        &mut self,
        at: Columns,
        cell: &impl Fn(usize) -> Option<&'a str>,
    ) -> Result<(), ReconcileError> {
        let Some(key) = legacy_key(at, cell)? else {
            return Ok(()); // the flags are of migrated lines only
        };
        if cell(at.status) == Some("failed") {
            self.failed.push(key);
        }
        if cell(at.status) == Some("paid")
            && let Some(account) = cell(at.account)
        {
            let fingerprint = fingerprint(&self.keys, &[Some(account), cell(at.year)]);
            // A person that does not read as a number (only a hand-made SQLite target has
            // one) is told from the others by no number: its account's lines are judged.
            let person = match cell(at.person).and_then(|p| p.parse::<i64>().ok()) {
                Some(person) => [0, person as u64],
                None => [1, 0],
            };
            self.accounts
                .push([fingerprint, person[0], person[1], key as u64])
                .map_err(spill_error)?;
        }
        if !self.with_batch(at, cell, key)? {
            self.deferred
                .push((0..at.width).map(|c| cell(c).map(str::to_owned)).collect());
        }
        Ok(())
    }

    /// What needs the line's batch: the duplicates and the one-line flags. `false` when the
    /// batch is not known (yet).
    fn with_batch<'a>(
        &mut self,
        at: Columns,
        cell: &impl Fn(usize) -> Option<&'a str>,
        key: i64,
    ) -> Result<bool, ReconcileError> {
        let Some(batch) = cell(at.batch).and_then(|b| self.batches.get(b)) else {
            // A line without a batch is in no join of the flags' SQL.
            return Ok(cell(at.batch).is_none());
        };
        let paid = cell(at.status) == Some("paid");
        if paid && let Some(period) = &batch.period {
            let fingerprint = fingerprint(
                &self.keys,
                &[
                    cell(at.person),
                    cell(at.program),
                    cell(at.year),
                    Some(period),
                ],
            );
            self.duplicates
                .push([fingerprint, key as u64])
                .map_err(spill_error)?;
        }
        if one_line_candidate(
            paid,
            batch,
            cell(at.program)
                .and_then(|p| self.rates.get(p))
                .map(|r| &**r),
            cell(at.person).and_then(|p| self.dead.get(p)).map(|d| &**d),
            at,
            cell,
        ) {
            self.one_line.push(key);
        }
        Ok(true)
    }
}

/// A line's legacy key, as a number.
fn legacy_key<'a>(
    at: Columns,
    cell: &impl Fn(usize) -> Option<&'a str>,
) -> Result<Option<i64>, ReconcileError> {
    cell(at.key)
        .map(|key| {
            key.parse().map_err(|_| {
                ReconcileError::Target(format!(
                    "payment: a line's legacy key {key:?} is not a number"
                ))
            })
        })
        .transpose()
}

/// Whether a line may have one of the one-line flags (the SQL in `flags.rs` decides): paid
/// after its person's death, paid before its batch's announcement ended, quantity × rate ≠
/// amount where its program pays by a rate, another program than its batch's. Where a value
/// does not read as this sieve expects (a date not `YYYY-MM-DD`, money not `0.00`), the line
/// is kept.
fn one_line_candidate<'a>(
    paid: bool,
    batch: &Batch,
    rate: Option<&str>,
    deceased_on: Option<&str>,
    at: Columns,
    cell: &impl Fn(usize) -> Option<&'a str>,
) -> bool {
    let paid_on = cell(at.paid_on);
    let after_death =
        paid && deceased_on.is_some_and(|d| paid_on.is_some_and(|p| !(iso(p) && iso(d)) || p > d));
    let before_announced = paid
        && batch
            .announce_to
            .as_deref()
            .is_some_and(|t| paid_on.is_some_and(|p| !(iso(p) && iso(t)) || p <= t));
    let program_code = cell(at.program);
    // `rate`: the line's program pays by one (a program the target lacks has no line flagged:
    // the SQL joins the programs).
    let rate = match (rate, cell(at.quantity)) {
        (Some(rate), Some(quantity)) => !product_is(quantity, rate, cell(at.amount)),
        _ => false,
    };
    let other_program = batch.program.as_deref() != program_code;
    after_death || before_announced || rate || other_program
}

/// `YYYY-MM-DD`: such dates compare as text as they do as dates.
fn iso(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// Money as the platform writes it: digits, a point and two decimals (a minus sign allowed).
/// Such text compares alike as a number in PostgreSQL and as integer fen in SQLite.
fn canonical_money(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.split_once('.') {
        Some((whole, fraction)) => {
            !whole.is_empty()
                && whole.bytes().all(|c| c.is_ascii_digit())
                && fraction.len() == 2
                && fraction.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Whether quantity × rate is exactly the amount, every value in the platform's form; `false`
/// where any is not (the line is then judged by the SQL).
fn product_is(quantity: &str, rate: &str, amount: Option<&str>) -> bool {
    let Some(amount) = amount else {
        return false;
    };
    if ![quantity, rate, amount].iter().all(|v| canonical_money(v)) {
        return false;
    }
    let read = |v: &str| v.parse::<Decimal>().ok();
    match (read(quantity), read(rate), read(amount)) {
        (Some(q), Some(r), Some(a)) => q.checked_mul(r) == Some(a),
        _ => false,
    }
}

/// A fingerprint of cells: equal cells, equal fingerprints (a NULL apart from any text). Keyed
/// by `keys`, random for each run: an account's fingerprint in the temporary files tells
/// nothing of the account to whoever reads them.
///
/// SipHash reads a stream of bytes: each cell's tag, length and text, gathered here and
/// handed over a buffer at a time. (Written piece by piece, three writes a cell, SipHash's
/// handling of each short piece was 2 % of a reconciliation's own CPU; the bytes, and so the
/// fingerprints, are the same.)
fn fingerprint(keys: &RandomState, cells: &[Option<&str>]) -> u64 {
    let mut h = keys.build_hasher();
    let mut buffer = [0u8; 64];
    let mut held = 0;
    let mut put = |h: &mut std::hash::DefaultHasher, bytes: &[u8]| {
        if held + bytes.len() > buffer.len() {
            h.write(&buffer[..held]);
            held = 0;
            if bytes.len() > buffer.len() {
                h.write(bytes);
                return;
            }
        }
        buffer[held..held + bytes.len()].copy_from_slice(bytes);
        held += bytes.len();
    };
    for c in cells {
        match c {
            None => put(&mut h, &[0]),
            Some(text) => {
                put(&mut h, &[1]);
                put(&mut h, &text.len().to_le_bytes());
                put(&mut h, text.as_bytes());
            }
        }
    }
    h.write(&buffer[..held]);
    h.finish()
}

/// Records of `W` numbers, the first a fingerprint, spread over temporary files by the
/// fingerprint's top bits, read back and sorted a file at a time.
struct Spill<const W: usize> {
    files: Vec<BufWriter<File>>,
}

/// Buckets: at the province preset (10 million lines) a bucket of the widest records is about
/// 8 MB.
const BUCKET_BITS: u32 = 5;

impl<const W: usize> Spill<W> {
    fn new() -> std::io::Result<Spill<W>> {
        Ok(Spill {
            files: (0..1 << BUCKET_BITS)
                .map(|_| tempfile::tempfile().map(|f| BufWriter::with_capacity(16 * 1024, f)))
                .collect::<std::io::Result<_>>()?,
        })
    }

    fn push(&mut self, record: [u64; W]) -> std::io::Result<()> {
        let bucket = (record[0] >> (64 - BUCKET_BITS)) as usize;
        let mut bytes = [0u8; 32];
        for (i, n) in record.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&n.to_le_bytes());
        }
        self.files[bucket].write_all(&bytes[..W * 8])
    }

    /// The last number (a legacy key) of every record in a run of one fingerprint that
    /// `keep` keeps; a bucket's records sorted in full first.
    fn runs(self, keep: impl Fn(&[[u64; W]]) -> bool) -> std::io::Result<Vec<i64>> {
        let mut out = Vec::new();
        for file in self.files {
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            let mut bytes = Vec::new();
            BufReader::new(file).read_to_end(&mut bytes)?;
            let mut records: Vec<[u64; W]> = bytes
                .chunks_exact(W * 8)
                .map(|r| {
                    std::array::from_fn(|i| {
                        u64::from_le_bytes(r[i * 8..i * 8 + 8].try_into().unwrap_or_default())
                    })
                })
                .collect();
            drop(bytes);
            records.sort_unstable();
            for run in records.chunk_by(|a, b| a[0] == b[0]) {
                if keep(run) {
                    out.extend(run.iter().map(|r| r[W - 1] as i64));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::NaiveDate;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use ykt_db::TextRows;

    use super::HashMap;
    use super::{Batch, LineCandidates, LineWatch, State};
    use std::sync::Mutex;

    /// A batch: id, period, program, the end of its announcement.
    type BatchCells = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    /// The keys the sieve keeps, without a database.
    /// `late`: the batches are read only after the lines (a batch made while the diff ran).
    fn sieve(
        batches: &[BatchCells],
        programs: &[(&str, Option<&str>)],
        dead: &[(&str, &str)],
        lines: &TextRows,
        columns: &[String],
        late: bool,
    ) -> LineCandidates {
        let batches: HashMap<Box<str>, Batch> = batches
            .iter()
            .map(|(id, period, program, announce_to)| {
                (
                    (*id).into(),
                    Batch {
                        period: period.map(Into::into),
                        program: program.map(Into::into),
                        announce_to: announce_to.map(Into::into),
                    },
                )
            })
            .collect();
        // As the target gives them: the rates of the programs with one.
        let rates = programs
            .iter()
            .filter_map(|(code, rate)| Some(((*code).into(), (*rate)?.into())))
            .collect();
        let dead = dead
            .iter()
            .map(|(id, d)| ((*id).into(), (*d).into()))
            .collect();
        let known = if late {
            HashMap::default()
        } else {
            batches.clone()
        };
        let state = State::new(known, rates, dead).unwrap();
        let watch = LineWatch {
            state: Mutex::new(state),
        };
        watch.observe(columns, lines).unwrap();
        let mut state = watch.state.into_inner().unwrap();
        if late {
            state.rejudge(batches).unwrap();
        }
        state.candidates().unwrap()
    }

    const BATCHES: [BatchCells; 4] = [
        ("1", Some("202001"), Some("P1"), Some("2020-03-05")),
        ("2", Some("202001"), Some("P2"), None),
        ("3", None, Some("P1"), Some("2020-03-01")),
        ("4", Some("202002"), Some("P1"), Some("2020/03/05")),
    ];
    /// Programs that pay by a rate (P3 does not; P2's rate is not set).
    const PROGRAMS: [(&str, Option<&str>); 2] = [("P1", Some("1.50")), ("P2", None)];
    const DEAD: [(&str, &str); 2] = [("1", "2020-03-04"), ("2", "20200304")];

    /// One line's cells by name (the ones the watch reads).
    #[derive(Debug, Clone)]
    struct Line {
        key: i64,
        batch: Option<&'static str>,
        person: &'static str,
        program: &'static str,
        year: &'static str,
        status: &'static str,
        account: Option<&'static str>,
        paid_on: Option<&'static str>,
        quantity: Option<&'static str>,
        amount: &'static str,
    }

    fn line() -> impl Strategy<Value = Line> {
        (
            prop::sample::select(vec![
                Some("1"),
                Some("2"),
                Some("3"),
                Some("4"),
                Some("9"),
                None,
            ]),
            prop::sample::select(vec!["1", "2", "3", "x", "y"]),
            prop::sample::select(vec!["P1", "P2", "P3"]),
            prop::sample::select(vec!["2020", "2021"]),
            prop::sample::select(vec!["paid", "paid", "failed"]),
            prop::sample::select(vec![None, Some("62170001"), Some("62170002")]),
            prop::sample::select(vec![
                None,
                Some("2020-03-01"),
                Some("2020-03-05"),
                Some("2020-03-09"),
                Some("2020-3-9"),
            ]),
            prop::sample::select(vec![None, Some("2.00"), Some("3.00"), Some("3.0")]),
            prop::sample::select(vec!["3.00", "4.50", "4.5"]),
        )
            .prop_map(
                |(batch, person, program, year, status, account, paid_on, quantity, amount)| Line {
                    key: 0,
                    batch,
                    person,
                    program,
                    year,
                    status,
                    account,
                    paid_on,
                    quantity,
                    amount,
                },
            )
    }

    fn columns() -> Vec<String> {
        ykt_domain::platform::columns::PAYMENT
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }

    fn table(lines: &[Line]) -> TextRows {
        let columns = columns();
        let mut rows = TextRows::new(columns.len());
        for l in lines {
            let key = l.key.to_string();
            rows.push_row(columns.iter().map(|c| match c.as_str() {
                "legacy_mxid" => Some(key.as_str()),
                "batch_id" => l.batch,
                "beneficiary_id" => Some(l.person),
                "program_code" => Some(l.program),
                "fund_year" => Some(l.year),
                "status" => Some(l.status),
                "account_no" => l.account,
                "paid_on" => l.paid_on,
                "quantity" => l.quantity,
                "amount" => Some(l.amount),
                "county_code" => Some("610802"),
                _ => None,
            }));
        }
        rows
    }

    /// The flags' rules read again, exactly, over the lines (as the SQL joins them).
    fn flagged(lines: &[Line]) -> LineCandidates {
        let batch = |l: &Line| BATCHES.iter().find(|b| Some(b.0) == l.batch);
        let date = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        let money = |m: &str| m.parse::<Decimal>().unwrap();
        let mut periods: BTreeMap<_, Vec<i64>> = BTreeMap::new();
        let mut accounts: BTreeMap<_, (BTreeSet<&str>, Vec<i64>)> = BTreeMap::new();
        let mut one_line = Vec::new();
        let mut failed = Vec::new();
        for l in lines {
            if l.status == "failed" {
                failed.push(l.key);
            }
            let paid = l.status == "paid";
            if paid && let Some(account) = l.account {
                let group = accounts.entry((account, l.year)).or_default();
                group.0.insert(l.person);
                group.1.push(l.key);
            }
            let Some(b) = batch(l) else { continue };
            if paid && let Some(period) = b.1 {
                periods
                    .entry((l.person, l.program, l.year, period))
                    .or_default()
                    .push(l.key);
            }
            let deceased = DEAD.iter().find(|d| d.0 == l.person).map(|d| d.1);
            let after_death = paid
                && matches!((l.paid_on.and_then(date), deceased.and_then(date)), (Some(p), Some(d)) if p > d);
            let before_announced = paid
                && matches!((l.paid_on.and_then(date), b.3.and_then(date)), (Some(p), Some(t)) if p <= t);
            let rate = PROGRAMS
                .iter()
                .find(|p| p.0 == l.program)
                .and_then(|p| p.1)
                .zip(l.quantity)
                .is_some_and(|(r, q)| money(q) * money(r) != money(l.amount));
            let other_program = b.2 != Some(l.program);
            if after_death || before_announced || rate || other_program {
                one_line.push(l.key);
            }
        }
        let mut duplicates: Vec<i64> = periods
            .into_values()
            .filter(|k| k.len() > 1)
            .flatten()
            .collect();
        let mut shared: Vec<i64> = accounts
            .into_values()
            .filter(|(people, _)| people.len() > 1)
            .flat_map(|(_, keys)| keys)
            .collect();
        duplicates.sort_unstable();
        shared.sort_unstable();
        LineCandidates {
            duplicates,
            shared_accounts: shared,
            one_line,
            failed,
        }
    }

    /// Whether every value of a line is in the platform's own form (as a PostgreSQL target
    /// gives them): there the sieve keeps exactly the flagged lines.
    fn canonical(l: &Line) -> bool {
        !matches!(l.paid_on, Some("2020-3-9"))
            && !matches!(l.quantity, Some("3.0"))
            && l.amount != "4.5"
            && l.person != "2"
            && l.batch != Some("4")
    }

    proptest! {
        /// The sieve drops no line any of its flags would flag: the duplicates and the shared
        /// accounts are exactly the groups of two or more (a fingerprint shared by chance
        /// would only add lines), and the one-line candidates hold every line a rule flags,
        /// and no other where every value is in the platform's form.
        #[test]
        fn the_sieve_keeps_every_line_a_flag_would_flag(mut lines in prop::collection::vec(line(), 0..40)) {
            for (i, l) in lines.iter_mut().enumerate() {
                l.key = i as i64 * 7 + 1;
            }
            let kept = sieve(&BATCHES, &PROGRAMS, &DEAD, &table(&lines), &columns(), false);
            // Batches read after the lines (made while the diff ran) judge the lines alike.
            let late = sieve(&BATCHES, &PROGRAMS, &DEAD, &table(&lines), &columns(), true);
            prop_assert_eq!(&late, &kept);
            let exact = flagged(&lines);
            prop_assert_eq!(&kept.duplicates, &exact.duplicates);
            prop_assert_eq!(&kept.failed, &exact.failed);
            let people: Vec<i64> = lines.iter().filter(|l| l.person == "x" || l.person == "y").map(|l| l.key).collect();
            // A person that does not read as a number: the account's lines are always judged.
            let shared: BTreeSet<i64> = exact.shared_accounts.iter().copied().collect();
            let kept_shared: BTreeSet<i64> = kept.shared_accounts.iter().copied().collect();
            prop_assert!(shared.is_subset(&kept_shared));
            for k in kept_shared.difference(&shared) {
                prop_assert!(people.contains(k), "line {} kept for no shared account", k);
            }
            let kept_one: BTreeSet<i64> = kept.one_line.iter().copied().collect();
            for k in &exact.one_line {
                prop_assert!(kept_one.contains(k), "flagged line {} dropped", k);
            }
            for l in lines.iter().filter(|l| canonical(l)) {
                prop_assert_eq!(kept_one.contains(&l.key), exact.one_line.contains(&l.key), "line {:?}", l);
            }
        }
    }

    proptest! {
        /// The fingerprint of cells gathered into a buffer is the one of the same cells
        /// written to SipHash piece by piece (tag, length, text), with the same keys.
        #[test]
        fn a_gathered_fingerprint_is_the_one_written_piece_by_piece(
            cells in prop::collection::vec(prop::option::of("\\PC{0,40}"), 0..6),
        ) {
            use std::hash::{BuildHasher, Hasher};
            let keys = std::hash::RandomState::new();
            let mut h = keys.build_hasher();
            for c in &cells {
                match c {
                    None => h.write_u8(0),
                    Some(text) => {
                        h.write_u8(1);
                        h.write_usize(text.len());
                        h.write(text.as_bytes());
                    }
                }
            }
            let cells: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
            prop_assert_eq!(super::fingerprint(&keys, &cells), h.finish());
        }
    }

    #[test]
    fn fingerprints_tell_a_null_from_empty_text_and_cells_from_their_concatenation() {
        let keys = std::hash::RandomState::new();
        let fingerprint = |cells: &[Option<&str>]| super::fingerprint(&keys, cells);
        assert_ne!(fingerprint(&[None]), fingerprint(&[Some("")]));
        assert_ne!(
            fingerprint(&[Some("ab"), Some("c")]),
            fingerprint(&[Some("a"), Some("bc")])
        );
        assert_eq!(
            fingerprint(&[Some("1"), Some("P1")]),
            fingerprint(&[Some("1"), Some("P1")])
        );
        // Another run's keys: another number for the same account.
        let other = std::hash::RandomState::new();
        assert_ne!(
            super::fingerprint(&other, &[Some("6217000000000000001")]),
            fingerprint(&[Some("6217000000000000001")])
        );
    }
}
