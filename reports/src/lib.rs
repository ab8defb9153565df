//! The reports: one folder per county for county finance to verify and sign (Chinese HTML for
//! A4, Excel, CSV with BOM, `summary.json`), a provincial summary, a field-level diff report for
//! auditors, and `manifest.json` with a SHA-256 for every file written.
//!
//! Reports read what reconcile found and the target's reject and correction records; they
//! never recompute a figure. ID numbers and accounts are masked unless asked otherwise.

mod compare;
mod context;
mod csv;
mod html;
mod manifest;
mod signoff;
mod sorted;
mod summary;
mod xlsx;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ykt_db::{Db, Engine, TextRows, quote_literal};
use ykt_reconcile::{CountyBalance, FlagHit, Reconciliation, RowDiff};

pub use compare::{ReportChanges, compare_reports};
use sorted::{Listed, Sorted, Sorting};

pub use html::has_amounts;
pub use manifest::{Manifest, ManifestFile, Verification, verify};
pub use signoff::{Signature, SignoffState, latest_signature, signoff_state};
pub use summary::{CountySummary, Pending, ProvinceSummary, ProvinceTotals, Verdict};
pub use ykt_domain::{Masker, mask_account, mask_id};

/// Report errors.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Xlsx { path: PathBuf, message: String },
    #[error(transparent)]
    Db(#[from] ykt_db::DbError),
    #[error(transparent)]
    Stage(#[from] ykt_stage::StageError),
    #[error("{path}: cannot write the reports there: {source}")]
    OutFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a report folder of ykt ({reason})")]
    NotReports { path: PathBuf, reason: String },
    /// The target holds a value ykt wrote that does not read back (never a silent 0).
    #[error("{what}: {value:?} does not read back as {expected}")]
    Unreadable {
        what: String,
        value: String,
        expected: &'static str,
    },
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// A missing or foreign folder is the caller's input, not a failure of ykt.
    pub fn is_input_error(&self) -> bool {
        match self {
            ReportError::NotReports { .. } | ReportError::OutFolder { .. } => true,
            ReportError::Db(e) => e.is_input_error(),
            ReportError::Stage(e) => e.is_input_error(),
            // A report folder that cannot be written, or a full disk, is the operator's to fix.
            ReportError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::ReadOnlyFilesystem
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::QuotaExceeded
            ),
            ReportError::Xlsx { .. } | ReportError::Unreadable { .. } => false,
        }
    }
}

/// What the reports are made from.
pub struct ReportInput<'a> {
    pub reconciliation: &'a Reconciliation,
    pub flags: &'a [FlagHit],
    pub diffs: &'a [RowDiff],
    /// Write ID numbers and accounts in full (auditors); recorded in the manifest.
    pub unmasked: bool,
    /// The legacy source and the target as they may be shown (no passwords).
    pub legacy: String,
    pub target: String,
    /// When the reports were made (shown, and recorded in the manifest).
    pub generated_at: String,
    /// This reconciliation's own id (recorded in the manifest and shown).
    pub reconciliation_id: String,
    /// The day ID numbers' birth dates were judged against (`--as-of`), as the stage recorded.
    pub as_of: Option<String>,
    /// The parameters of the run, recorded in the manifest.
    pub parameters: serde_json::Value,
}

/// Where the main reports went.
#[derive(Debug, Clone)]
pub struct WrittenReports {
    pub province_html: PathBuf,
    pub manifest: PathBuf,
    pub files: usize,
}

pub(crate) use context::RowContext;

/// A rejected legacy row as the county sees it.
#[derive(Debug, Clone)]
pub(crate) struct RejectRow {
    pub table: String,
    pub key: String,
    pub code: String,
    pub field: String,
    pub raw: Option<String>,
    pub context: RowContext,
}

/// A value changed on the way in.
#[derive(Debug, Clone)]
pub(crate) struct CorrectionRow {
    pub table: String,
    pub key: String,
    pub code: String,
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub context: RowContext,
}

/// One county's report, assembled.
pub(crate) struct CountyReport<'a> {
    pub summary: CountySummary,
    pub balance: &'a CountyBalance,
    pub rejects: Sorted<RejectRow>,
    pub corrections: Sorted<CorrectionRow>,
    pub flags: Vec<&'a FlagHit>,
    pub diffs: Vec<&'a RowDiff>,
    pub programs: &'a BTreeMap<String, String>,
    pub mask: Masker,
    pub generated_at: &'a str,
    pub as_of: Option<&'a str>,
    pub signoff: Option<SignoffState>,
    pub carried: Vec<signoff::CarriedLine>,
    pub increments: Vec<(String, String, u64)>,
}

/// A legacy key's place in a listing: by number, then as written. Borrowed: the listings'
/// sorts call it twice a comparison (owned, it copied both keys each time: the rejects' sort
/// was 3 % of the reconciliation's own CPU samples at the county preset).
fn key_order(key: &str) -> (i64, &str) {
    (key.parse().unwrap_or(i64::MAX), key)
}

impl Listed for RejectRow {
    fn cells(&self) -> Vec<Option<&str>> {
        let own = [&self.table, &self.key, &self.code, &self.field].map(|c| Some(c.as_str()));
        let mut cells = own.to_vec();
        cells.push(self.raw.as_deref());
        cells.extend(self.context.cells());
        cells
    }

    fn from_cells(r: &mut [Option<String>]) -> RejectRow {
        let mut take = |i: usize| r.get_mut(i).and_then(Option::take).unwrap_or_default();
        RejectRow {
            table: take(0),
            key: take(1),
            code: take(2),
            field: take(3),
            raw: r.get_mut(4).and_then(Option::take),
            context: RowContext::from_cells(r.get_mut(5..).unwrap_or_default()),
        }
    }

    /// The way the county works: village by village, person by person.
    fn order(&self, b: &RejectRow) -> Ordering {
        let a = self;
        (a.context.order(), &a.table, &a.code, key_order(&a.key)).cmp(&(
            b.context.order(),
            &b.table,
            &b.code,
            key_order(&b.key),
        ))
    }

    fn code(&self) -> &str {
        &self.code
    }
}

impl Listed for CorrectionRow {
    fn cells(&self) -> Vec<Option<&str>> {
        let own = [&self.table, &self.key, &self.code, &self.field].map(|c| Some(c.as_str()));
        let mut cells = own.to_vec();
        cells.extend([self.before.as_deref(), self.after.as_deref()]);
        cells.extend(self.context.cells());
        cells
    }

    fn from_cells(r: &mut [Option<String>]) -> CorrectionRow {
        let mut take = |i: usize| r.get_mut(i).and_then(Option::take).unwrap_or_default();
        CorrectionRow {
            table: take(0),
            key: take(1),
            code: take(2),
            field: take(3),
            before: r.get_mut(4).and_then(Option::take),
            after: r.get_mut(5).and_then(Option::take),
            context: RowContext::from_cells(r.get_mut(6..).unwrap_or_default()),
        }
    }

    fn order(&self, b: &CorrectionRow) -> Ordering {
        let a = self;
        (
            a.context.order(),
            &a.table,
            &a.code,
            key_order(&a.key),
            &a.field,
        )
            .cmp(&(
                b.context.order(),
                &b.table,
                &b.code,
                key_order(&b.key),
                &b.field,
            ))
    }

    fn code(&self) -> &str {
        &self.code
    }
}

/// A county's rejects and corrections, each in the county's order.
struct CountyRows {
    rejects: Sorted<RejectRow>,
    corrections: Sorted<CorrectionRow>,
}

/// Rows read a page at a time (on PostgreSQL by `COPY`: no row decoded cell by cell; the
/// county preset's 86,000 rejects were 2.5 % of a reconciliation's own CPU in the driver's
/// decoding), each page's cells owned and gathered in the county's order: memory holds a page
/// and the rows [`sorted::held_rows`] allows, whatever the county's number of rows.
async fn read_sorted<T: Listed>(
    target: &Db,
    what: &str,
    sql: &str,
    spill: &Path,
) -> Result<Sorted<T>, ReportError> {
    let mut sorting = Sorting::new(spill, sorted::held_rows());
    target
        .stream_text_table(what, sql, 10_000, &mut |page: &TextRows| {
            (0..page.len()).try_for_each(|i| {
                let mut cells: Vec<Option<String>> =
                    page.row(i).map(|c| c.map(str::to_owned)).collect();
                sorting
                    .push(T::from_cells(&mut cells))
                    .map_err(|e| ReportError::io(spill, e))
            })
        })
        .await?;
    sorting.finish().map_err(|e| ReportError::io(spill, e))
}

/// A county's rejects and corrections: two queries of the target at once (0.3 and 0.6 s of
/// PostgreSQL at the county preset, one after the other before). Rows past what memory holds
/// are sorted in runs in `spill`.
async fn county_rows(
    target: &Db,
    run_id: &str,
    county: &str,
    spill: &Path,
) -> Result<CountyRows, ReportError> {
    let e = target.engine();
    let (rejects, corrections) = (
        rejects_sql(e, run_id, county),
        corrections_sql(e, run_id, county),
    );
    let (rejects, corrections) = tokio::try_join!(
        read_sorted(target, "reading the county's rejects", &rejects, spill),
        read_sorted(
            target,
            "reading the county's corrections",
            &corrections,
            spill
        )
    )?;
    Ok(CountyRows {
        rejects,
        corrections,
    })
}

/// A county's rejects and corrections being read ahead of its report, on a task of its own
/// (so that the server reads them while other work runs); cancelled if dropped unread.
pub struct RowsAhead {
    county: String,
    spill: PathBuf,
    reading: tokio::task::JoinHandle<Result<CountyRows, ReportError>>,
}

impl RowsAhead {
    /// Begins to read the rows of `county` in run `run_id`, for reports written to `out`
    /// (where rows past what memory holds are sorted on disk).
    pub fn start(target: &Db, run_id: &str, county: &str, out: &Path) -> RowsAhead {
        let (db, run, code, spill) = (
            target.clone(),
            run_id.to_owned(),
            county.to_owned(),
            out.to_owned(),
        );
        RowsAhead {
            county: county.to_owned(),
            spill: out.to_owned(),
            reading: tokio::spawn(async move { county_rows(&db, &run, &code, &spill).await }),
        }
    }

    /// The rows, once read.
    async fn rows(mut self, target: &Db, run_id: &str) -> Result<CountyRows, ReportError> {
        match (&mut self.reading).await {
            Ok(rows) => rows,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled (which happens only at shutdown): read them here.
            Err(_) => county_rows(target, run_id, &self.county, &self.spill).await,
        }
    }
}

impl Drop for RowsAhead {
    fn drop(&mut self) {
        self.reading.abort();
    }
}

/// The county's rejects with what the county finds each row by: a line's person and batch come
/// from the target when they were loaded (a merged person's survivor is the same person), or from
/// their own reject when they were not.
fn rejects_sql(e: Engine, run_id: &str, county: &str) -> String {
    let area = "COALESCE(r.area_code, pr.area_code, b.area_code)";
    let (run, county) = (quote_literal(e, run_id), quote_literal(e, county));
    // The people's rejects and merged people of the county's rejects only (as for the
    // corrections below): joined on the whole run, the planner hashed all of
    // `beneficiary_legacy_map` and every T_BTDX reject of the run for each county (province
    // preset, PostgreSQL, the county with the most rejects: 118–123 ms, 83–88 ms this way).
    let persons = format!(
        "FROM migration_reject WHERE run_id = {run} AND county_code = {county} AND person_key IS NOT NULL"
    );
    // The merged people by their legacy keys' index. Asked `IN (…)`, PostgreSQL hashed the
    // county's keys and scanned all of `beneficiary_legacy_map` on three processes for every
    // county (province preset: 110–143 ms a county, 52–62 ms this way; county preset the
    // same either way, 330–400 ms; the same rows). SQLite has no arrays; its `IN` is a lookup.
    let merged_keys = match e {
        Engine::Postgres => {
            format!("legacy_dxid = ANY (ARRAY(SELECT CAST(person_key AS BIGINT) {persons}))")
        }
        _ => format!("legacy_dxid IN (SELECT CAST(person_key AS BIGINT) {persons})"),
    };
    format!(
        "SELECT r.source_table, r.source_key, r.reason_code, r.field, r.raw_value, \
         COALESCE(r.name, pr.name, b.name), COALESCE(r.id_number, pr.id_number, b.id_number), {area}, g.name, \
         COALESCE(r.batch_no, br.batch_no, pb.batch_no), COALESCE(r.program_code, br.program_code, pb.program_code), \
         COALESCE(r.fund_year, br.fund_year, CAST(pb.fund_year AS TEXT)), r.amount \
         FROM migration_reject r \
         LEFT JOIN (SELECT run_id, source_key, name, id_number, area_code FROM migration_reject \
         WHERE run_id = {run} AND source_table = 'T_BTDX' AND source_key IN (SELECT person_key {persons})) pr \
         ON pr.run_id = r.run_id AND pr.source_key = r.person_key \
         LEFT JOIN (SELECT legacy_dxid, beneficiary_id FROM beneficiary_legacy_map \
         WHERE {merged_keys}) m ON m.legacy_dxid = CAST(r.person_key AS BIGINT) \
         LEFT JOIN beneficiary b ON b.id = m.beneficiary_id \
         LEFT JOIN migration_reject br ON br.run_id = r.run_id AND br.source_table = 'T_FFPC' AND br.source_key = r.batch_key \
         LEFT JOIN payment_batch pb ON pb.legacy_pcid = CAST(r.batch_key AS BIGINT) \
         LEFT JOIN region g ON g.code = {area} \
         WHERE r.run_id = {run} AND r.county_code = {county}"
    )
}

/// The county's corrections, each with its row's context from the target (a corrected row was
/// loaded): the person, village, batch, program, fund year and amount.
fn corrections_sql(e: Engine, run_id: &str, county: &str) -> String {
    // Legacy keys of the four tables are whole numbers; other tables' keys are never cast.
    let key = |table: &str| {
        format!("CAST(CASE WHEN c.source_table = '{table}' THEN c.source_key END AS BIGINT)")
    };
    let (run, county) = (quote_literal(e, run_id), quote_literal(e, county));
    // The payment lines and merged people of the county's corrections only: joined on the
    // `CASE` keys above, the planner cannot tell how few rows match and, with the session's
    // `work_mem`, hashed all of `beneficiary_legacy_map` for each county (province preset,
    // PostgreSQL: 120 ms a county alone, 200–280 ms in a reconciliation, 33–37 s of reports
    // for 107 counties; 37 ms this way) or all of `payment` (county preset: 0.5–0.7 s, 0.31 s
    // this way). The payment lines asked `= ANY (ARRAY(…))`, as the rejects ask for merged
    // people, were quicker at the county preset (0.57–0.63 → 0.48–0.52 s alone) but not at the
    // province's: for its county with the most corrections the planner then hashed every
    // person on three processes (0.31–0.33 → 0.69 s). Tried and dropped.
    let keys_of = |table: &str| {
        format!(
            "(SELECT CAST(source_key AS BIGINT) FROM migration_correction \
             WHERE run_id = {run} AND county_code = {county} AND source_table = '{table}')"
        )
    };
    format!(
        "SELECT c.source_table, c.source_key, c.correction_code, c.field, c.\"before\", c.\"after\", \
         b.name, b.id_number, b.area_code, g.name, COALESCE(pb.batch_no, ob.batch_no), \
         COALESCE(p.program_code, ob.program_code, a.program_code), \
         CAST(COALESCE(p.fund_year, ob.fund_year, a.fund_year) AS TEXT), CAST(COALESCE(p.amount, a.amount) AS TEXT) \
         FROM migration_correction c \
         LEFT JOIN (SELECT legacy_mxid, beneficiary_id, batch_id, program_code, fund_year, amount FROM payment \
         WHERE legacy_mxid IN {}) p ON p.legacy_mxid = {} \
         LEFT JOIN (SELECT legacy_dxid, beneficiary_id FROM beneficiary_legacy_map \
         WHERE legacy_dxid IN {}) m ON m.legacy_dxid = {} \
         LEFT JOIN beneficiary b ON b.id = COALESCE(p.beneficiary_id, m.beneficiary_id) \
         LEFT JOIN payment_batch pb ON pb.id = p.batch_id \
         LEFT JOIN payment_batch ob ON ob.legacy_pcid = {} \
         LEFT JOIN allocation a ON a.legacy_zbid = {} \
         LEFT JOIN region g ON g.code = b.area_code \
         WHERE c.run_id = {run} AND c.county_code = {county}",
        keys_of("T_FFMX"),
        key("T_FFMX"),
        keys_of("T_BTDX"),
        key("T_BTDX"),
        key("T_FFPC"),
        key("T_ZJZB"),
    )
}

fn counts<'a>(codes: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for c in codes {
        *out.entry(c.to_owned()).or_default() += 1;
    }
    out
}

/// Makes `out` ready for a run's reports, removing what an earlier run wrote there. Only a
/// folder ykt wrote reports into (it has a manifest, or the marker of an interrupted
/// run) is cleared; anything else named `counties/` or `audit/` is left alone and refused.
pub fn prepare_out(out: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::OutFolder {
        path: out.to_owned(),
        source,
    })?;
    let ours = out.join(manifest::MANIFEST).is_file() || out.join(manifest::MARKER).is_file();
    let occupied = ["counties", "audit"].iter().any(|d| out.join(d).exists());
    if occupied && !ours {
        return Err(ReportError::NotReports {
            path: out.to_owned(),
            reason:
                "it holds a counties/ or audit/ folder that ykt did not write; choose another --out"
                    .to_owned(),
        });
    }
    std::fs::write(out.join(manifest::MARKER), "ykt reports\n")
        .map_err(|e| ReportError::io(&out.join(manifest::MARKER), e))?;
    for dir in ["counties", "audit"] {
        let p = out.join(dir);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| ReportError::io(&p, e))?;
        }
    }
    for file in ["province.html", "province.json", manifest::MANIFEST] {
        let p = out.join(file);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| ReportError::io(&p, e))?;
        }
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(path).map_err(|e| ReportError::io(path, e))
}

fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|e| ReportError::io(path, e))
}

/// Writes every report into `out` (which may already hold `reconcile.json` and the like: those
/// are checksummed too), county by county, then the manifest last.
pub async fn write_reports(
    input: &ReportInput<'_>,
    target: &Db,
    out: &Path,
    ahead: Vec<RowsAhead>,
) -> Result<WrittenReports, ReportError> {
    prepare_out(out)?;
    // A report folder with ID numbers and accounts in full is for its owner's eyes only.
    if input.unmasked {
        ykt_stage::create_private_dir(out)?;
    }
    let rec = input.reconciliation;
    let mask = Masker {
        unmasked: input.unmasked,
    };
    let programs: BTreeMap<String, String> = target
        .fetch_text_rows("reading program names", "SELECT code, name FROM program")
        .await?
        .into_iter()
        .map(|mut r| {
            (
                r[0].take().unwrap_or_default(),
                r[1].take().unwrap_or_default(),
            )
        })
        .collect();
    // A target with the cutover tables (migration 0002) keeps sign-offs, syncs and carry-overs.
    let cutover = target.table_exists("cutover_county_report").await?;
    let mut summaries = Vec::new();
    let mut signoffs = BTreeMap::new();
    // The next county's rows are read while this one's files are written (on a task of their
    // own: the writing holds this thread), so that the server and the writing overlap; at
    // most two counties' rows are held. The first counties' may be under way already
    // (`ahead`, begun by the caller once it knew the counties).
    let mut ahead = ahead;
    let rows_of = |balance: &CountyBalance, ahead: &mut Vec<RowsAhead>| match ahead
        .iter()
        .position(|a| a.county == balance.county_code)
    {
        Some(at) => ahead.swap_remove(at),
        None => RowsAhead::start(target, &rec.run_id, &balance.county_code, out),
    };
    let mut next = rec.counties.first().map(|b| rows_of(b, &mut ahead));
    for (i, balance) in rec.counties.iter().enumerate() {
        let code = &balance.county_code;
        let reading = next.take().unwrap_or_else(|| rows_of(balance, &mut ahead));
        let CountyRows {
            rejects,
            corrections,
        } = reading.rows(target, &rec.run_id).await?;
        next = rec.counties.get(i + 1).map(|b| rows_of(b, &mut ahead));
        let flags: Vec<&FlagHit> = input
            .flags
            .iter()
            .filter(|f| &f.county_code == code)
            .collect();
        let diffs: Vec<&RowDiff> = input
            .diffs
            .iter()
            .filter(|d| &d.county_code == code)
            .collect();
        if rejects.spilled() || corrections.spilled() {
            tracing::info!(
                county = %code,
                rejects = rejects.len(),
                corrections = corrections.len(),
                "Many listed rows: sorted on disk beside the reports, a part at a time."
            );
        }
        let summary = CountySummary::new(
            &rec.run_id,
            balance,
            rejects.codes().clone(),
            corrections.codes().clone(),
            counts(flags.iter().map(|f| f.flag)),
        );
        let dir = out.join("counties").join(code);
        create_dir(&dir)?;
        let summary_path = dir.join("summary.json");
        ykt_stage::write_json(&summary_path, &summary)?;
        let sha = ykt_stage::sha256_file(&summary_path)?;
        let (signoff, carried, increments) = if cutover {
            (
                signoff::signoff_state(target, code, &sha).await?,
                signoff::carried_over(target, code).await?,
                signoff::increments(target, code).await?,
            )
        } else {
            (None, Vec::new(), Vec::new())
        };
        let report = CountyReport {
            signoff,
            carried,
            increments,
            summary,
            balance,
            rejects,
            corrections,
            flags,
            diffs,
            programs: &programs,
            mask,
            generated_at: &input.generated_at,
            as_of: input.as_of.as_deref(),
        };
        // The workbook (its deflate the slowest part) on a second core while this one writes
        // the CSV files and the page.
        let xlsx_path = dir.join("reconciliation.xlsx");
        summaries.push(report.summary.clone());
        signoffs.insert(code.clone(), report.signoff.clone());
        let last = i + 1 == rec.counties.len();
        std::thread::scope(|scope| {
            let workbook = scope.spawn(|| xlsx::county(&report, &xlsx_path));
            let mut rest = write_county_csvs(&report, &dir).and_then(|()| {
                write_text(&dir.join("reconciliation.html"), &html::county(&report))
            });
            // The province's pages while the last county's workbook is made: they need every
            // county's summary, not its files.
            if last && rest.is_ok() {
                rest = write_province_pages(input, out, &summaries, &signoffs, mask);
            }
            let workbook = workbook
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            rest.and(workbook)
        })?;
        // A listing read back from disk short (its runs damaged) fails the report.
        for read in [report.rejects.check(), report.corrections.check()] {
            read.map_err(|e| ReportError::io(out, e))?;
        }
        if cutover {
            signoff::record_report(
                target,
                &input.generated_at,
                code,
                &rec.run_id,
                report.summary.balanced,
                &sha,
                &out.display().to_string(),
            )
            .await?;
        }
        tracing::info!(county = %code, balanced = report.summary.balanced, "County report written.");
        let CountyReport {
            rejects,
            corrections,
            ..
        } = report;
        // Freed on a thread of their own: a county's hundred thousand listed rows, read on
        // another thread, took this one 40 ms to free (county preset) before the next work.
        std::thread::spawn(move || drop((rejects, corrections)));
    }
    if rec.counties.is_empty() {
        write_province_pages(input, out, &summaries, &signoffs, mask)?;
    }
    let manifest_path = manifest::write(out, input)?;
    let files = manifest::read(out)?.files.len();
    Ok(WrittenReports {
        province_html: out.join("province.html"),
        manifest: manifest_path,
        files,
    })
}

/// The province's summary and page, and the auditors' page of every difference.
fn write_province_pages(
    input: &ReportInput<'_>,
    out: &Path,
    summaries: &[CountySummary],
    signoffs: &BTreeMap<String, Option<SignoffState>>,
    mask: Masker,
) -> Result<(), ReportError> {
    let rec = input.reconciliation;
    let province = ProvinceSummary::new(&rec.run_id, summaries.to_vec());
    ykt_stage::write_json(&out.join("province.json"), &province)?;
    write_text(
        &out.join("province.html"),
        &html::province(&province, rec, input, signoffs),
    )?;
    create_dir(&out.join("audit"))?;
    write_text(
        &out.join("audit").join("diff.html"),
        &html::audit_diff(rec, input.diffs, mask, &input.generated_at),
    )
}

pub(crate) fn table_caption(table: &str) -> &'static str {
    match table {
        "T_BTDX" | "beneficiary" => "补贴对象",
        "T_ZJZB" | "allocation" => "资金指标",
        "T_FFPC" | "payment_batch" => "发放批次",
        "T_FFMX" | "payment" => "发放明细",
        "T_XZQH" | "region" => "行政区划",
        "T_BTXM" | "program" => "补贴项目",
        _ => "",
    }
}

/// A table as the county knows it, beside legacy keys: its caption and legacy name, whichever
/// name (legacy or platform) the caller has: `发放批次（T_FFPC）`.
pub(crate) fn table_label(table: &str) -> String {
    let legacy = match table {
        "beneficiary" => "T_BTDX",
        "allocation" => "T_ZJZB",
        "payment_batch" => "T_FFPC",
        "payment" => "T_FFMX",
        "region" => "T_XZQH",
        "program" => "T_BTXM",
        other => other,
    };
    match table_caption(table) {
        "" => legacy.to_owned(),
        caption => format!("{caption}（{legacy}）"),
    }
}

/// One list of the county report as its CSV file and Excel sheet both hold it: the file, the
/// sheet (none: CSV only), the header, the column widths in Excel, and the rows.
pub(crate) struct Listing<'a> {
    pub file: &'static str,
    pub sheet: Option<&'static str>,
    pub header: Vec<&'static str>,
    pub widths: Vec<f64>,
    pub rows: Box<dyn Iterator<Item = Vec<Cow<'a, str>>> + Send + 'a>,
}

/// A listing's cell: borrowed from the report where it is there as shown, made where not.
fn made<'a>(text: String) -> Cow<'a, str> {
    Cow::Owned(text)
}

/// The columns of [`context_cells`], and their widths in Excel.
const CONTEXT_HEADER: &[&str] = &[
    "村（社区）",
    "姓名",
    "身份证号",
    "批次号",
    "项目",
    "资金年度",
    "金额（元）",
];
const CONTEXT_WIDTHS: &[f64] = &[24.0, 8.0, 20.0, 18.0, 18.0, 8.0, 12.0];

/// A row's context as the lists show it: village, masked name and ID, batch, program, fund
/// year, amount.
fn context_cells<'a>(
    c: &'a RowContext,
    m: Masker,
    programs: &'a BTreeMap<String, String>,
) -> Vec<Cow<'a, str>> {
    let text = |v: &'a Option<String>| Cow::Borrowed(v.as_deref().unwrap_or_default());
    vec![
        made(c.place()),
        made(m.name(c.name.as_deref())),
        made(m.show("SFZH", c.id_number.as_deref())),
        text(&c.batch_no),
        Cow::Borrowed(c.program_name(programs)),
        text(&c.fund_year),
        text(&c.amount),
    ]
}

/// How a listing makes a row's cells, borrowing from the row and the program names.
type RowCells<T> = for<'b> fn(&'b T, Masker, &'b BTreeMap<String, String>) -> Vec<Cow<'b, str>>;

/// A listed row's cells: borrowed from the row where it is held, owned where it was read back
/// from disk (the cells then outlive the row).
fn listed<'a, T: Clone>(
    row: Cow<'a, T>,
    m: Masker,
    programs: &'a BTreeMap<String, String>,
    cells: RowCells<T>,
) -> Vec<Cow<'a, str>> {
    match row {
        Cow::Borrowed(row) => cells(row, m, programs),
        Cow::Owned(row) => cells(&row, m, programs)
            .into_iter()
            .map(|c| Cow::Owned(c.into_owned()))
            .collect(),
    }
}

/// A reject's cells in `rejects.csv` and its sheet.
fn reject_cells<'b>(
    x: &'b RejectRow,
    m: Masker,
    programs: &'b BTreeMap<String, String>,
) -> Vec<Cow<'b, str>> {
    let code = ykt_domain::RejectCode::from_code(&x.code);
    let mut row = context_cells(&x.context, m, programs);
    row.extend([
        Cow::Borrowed(x.table.as_str()),
        Cow::Borrowed(x.key.as_str()),
        Cow::Borrowed(x.code.as_str()),
        Cow::Borrowed(x.field.as_str()),
        made(m.show(&x.field, x.raw.as_deref())),
        Cow::Borrowed(code.map_or("", |c| c.explanation())),
        Cow::Borrowed(code.map_or("", |c| c.county_action())),
    ]);
    row
}

/// A correction's cells in `corrections.csv` and its sheet.
fn correction_cells<'b>(
    x: &'b CorrectionRow,
    m: Masker,
    programs: &'b BTreeMap<String, String>,
) -> Vec<Cow<'b, str>> {
    let mut row = context_cells(&x.context, m, programs);
    row.extend([
        Cow::Borrowed(x.table.as_str()),
        Cow::Borrowed(x.key.as_str()),
        Cow::Borrowed(x.code.as_str()),
        Cow::Borrowed(x.field.as_str()),
        made(m.show(&x.field, x.before.as_deref())),
        made(m.show(&x.field, x.after.as_deref())),
        made(context::change_in_words(
            x.before.as_deref(),
            x.after.as_deref(),
        )),
        Cow::Borrowed(
            ykt_domain::CorrectionCode::from_code(&x.code).map_or("", |c| c.explanation()),
        ),
    ]);
    row
}

/// The county's lists, in sheet order; personal fields masked as the report is.
pub(crate) fn listings<'a>(r: &'a CountyReport<'_>) -> Vec<Listing<'a>> {
    use ykt_domain::AuditFlag;
    let m = r.mask;
    let mut out = vec![
        Listing {
            file: "rejects.csv",
            sheet: Some("拒绝清单"),
            header: [
                CONTEXT_HEADER,
                &[
                    "表",
                    "旧系统主键",
                    "拒绝代码",
                    "字段",
                    "原始值",
                    "说明",
                    "县区需做的处理",
                ],
            ]
            .concat(),
            widths: [CONTEXT_WIDTHS, &[9.0, 12.0, 24.0, 9.0, 22.0, 40.0, 50.0]].concat(),
            rows: Box::new(
                r.rejects
                    .iter()
                    .map(move |x| listed(x, m, r.programs, reject_cells)),
            ),
        },
        Listing {
            file: "corrections.csv",
            sheet: Some("更正记录"),
            header: [
                CONTEXT_HEADER,
                &[
                    "表",
                    "旧系统主键",
                    "更正代码",
                    "字段",
                    "更正前",
                    "更正后",
                    "改了什么",
                    "说明",
                ],
            ]
            .concat(),
            widths: [
                CONTEXT_WIDTHS,
                &[9.0, 12.0, 24.0, 9.0, 22.0, 22.0, 20.0, 40.0],
            ]
            .concat(),
            rows: Box::new(
                r.corrections
                    .iter()
                    .map(move |x| listed(x, m, r.programs, correction_cells)),
            ),
        },
        Listing {
            file: "flags.csv",
            sheet: Some("审计标记"),
            header: vec!["审计标记", "说明", "表", "旧系统主键", "详情"],
            widths: vec![26.0, 36.0, 18.0, 30.0, 40.0],
            rows: Box::new(r.flags.iter().map(|f| {
                vec![
                    Cow::Borrowed(f.flag),
                    Cow::Borrowed(AuditFlag::from_code(f.flag).map_or("", |c| c.explanation())),
                    made(table_label(f.table)),
                    made(f.legacy_keys.join(" ")),
                    Cow::Borrowed(f.detail.as_str()),
                ]
            })),
        },
        Listing {
            file: "diffs.csv",
            sheet: Some("逐行差异"),
            header: vec![
                "表",
                "旧系统主键",
                "差异类型",
                "字段",
                "应为（按旧系统）",
                "目标库实际",
            ],
            widths: vec![18.0, 12.0, 22.0, 16.0, 24.0, 24.0],
            rows: Box::new(r.diffs.iter().map(move |d| {
                let field = d.field.as_deref().unwrap_or_default();
                vec![
                    made(table_label(d.table)),
                    Cow::Borrowed(d.key.as_str()),
                    Cow::Borrowed(diff_kind_caption(d.kind)),
                    Cow::Borrowed(field),
                    made(m.show(field, d.expected.as_deref())),
                    made(m.show(field, d.actual.as_deref())),
                ]
            })),
        },
    ];
    if !r.carried.is_empty() {
        out.push(Listing {
            file: "carried-over.csv",
            sheet: None,
            header: vec!["旧系统明细主键", "项目代码", "资金年度", "金额", "状态"],
            widths: Vec::new(),
            rows: Box::new(r.carried.iter().map(|c| {
                vec![
                    Cow::Borrowed(c.legacy_mxid.as_str()),
                    Cow::Borrowed(c.program.as_str()),
                    Cow::Borrowed(c.fund_year.as_str()),
                    made(ykt_domain::format_money(c.amount)),
                    Cow::Borrowed(c.status.as_str()),
                ]
            })),
        });
    }
    out
}

fn write_county_csvs(r: &CountyReport<'_>, dir: &Path) -> Result<(), ReportError> {
    for listing in listings(r) {
        csv::write_csv(&dir.join(listing.file), &listing.header, listing.rows)?;
    }
    Ok(())
}

pub(crate) fn diff_kind_caption(kind: &str) -> &'static str {
    match kind {
        "missing_in_target" => "目标库缺少",
        "unexpected_in_target" => "目标库多出（非旧系统数据）",
        _ => "字段值不一致",
    }
}
