//! The transform step: staged legacy tables in, staged platform rows, rejects and
//! corrections out, partitioned by county.

pub(crate) use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
pub(crate) use std::path::PathBuf;

pub(crate) use chrono::NaiveDate;
pub(crate) use rust_decimal::Decimal;
pub(crate) use tracing::info;
pub(crate) use ykt_domain::platform::{
    Allocation, Basis, Beneficiary, BeneficiaryLegacyMap, CorrectionRecord, Payment, PaymentBatch,
    PaymentStatus, PlatformRow, Program, Region, RejectRecord, SystemOfRecord,
};
pub(crate) use ykt_domain::{
    CorrectionCode as C, LegacyTable, Regions, RejectCode as R, UNATTRIBUTED_COUNTY,
};
pub(crate) use ykt_stage::{
    CountyCounts, ExtractManifest, Stage, StageError, StagedFile, Step, TableCounts, TextBatch,
    TextTableReader, TextTableWriter, TransformManifest, TransformOptions, sha256_file,
    verified_extract,
};

pub(crate) use ykt_domain::rules::{self, Corrected, DateRead};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The extract refuses such keys, so the stage was not written by it.
    #[error("{}: {table} holds the key {key:?}, which the extract never stages; extract again", stage.display())]
    BadKey {
        stage: PathBuf,
        table: &'static str,
        key: String,
    },
}

impl TransformError {
    pub fn is_input_error(&self) -> bool {
        match self {
            TransformError::Stage(e) => e.is_input_error(),
            TransformError::BadKey { .. } => true,
        }
    }
}

pub(crate) type Row = Vec<Option<String>>;

/// The staged files, the counts and the codes of a finished transform.
pub(crate) type Finished = (
    BTreeMap<String, StagedFile>,
    CountyCounts,
    BTreeMap<String, u64>,
);

/// A county as a number (`0` = unattributed), to keep lookups small.
pub(crate) fn county_id(code: &str) -> u32 {
    code.parse().unwrap_or(0)
}

pub(crate) fn county_code(id: u32) -> String {
    if id == 0 {
        UNATTRIBUTED_COUNTY.to_owned()
    } else {
        format!("{id:06}")
    }
}

pub(crate) struct Outputs {
    pub(crate) stage: Stage,
    pub(crate) writers: BTreeMap<String, BTreeMap<&'static str, TextTableWriter>>,
    pub(crate) counts: CountyCounts,
    pub(crate) codes: BTreeMap<String, u64>,
    /// Rows written since the writers' memory was last looked at.
    pub(crate) since_budget: usize,
    /// What the open writers may hold together ([`WRITERS_BUDGET`]; tests make it small).
    pub(crate) budget: usize,
}

/// What all open writers together may hold in memory. A writer is open per county and table,
/// hundreds at the province scale: each alone would keep up to a row group. What they hold
/// counts once more in the growing buffers' spare room and the allocator's pages: at 32 MiB the
/// province preset's transform peaked at 245–252 MiB, at 16 MiB (with the survivors' list)
/// 209–215 MiB, in the same time (3 alternating pairs).
pub(crate) const WRITERS_BUDGET: usize = 16 << 20;
/// Rows between two looks at the writers' memory.
const BUDGET_EVERY: usize = 4096;

impl Outputs {
    pub(crate) fn new(stage: Stage) -> Outputs {
        Outputs {
            stage,
            writers: BTreeMap::new(),
            counts: BTreeMap::new(),
            codes: BTreeMap::new(),
            since_budget: 0,
            budget: WRITERS_BUDGET,
        }
    }

    /// Stages a platform row in its county group's file of its table.
    pub(crate) fn write<P: PlatformRow>(
        &mut self,
        group: &str,
        row: &P,
    ) -> Result<(), TransformError> {
        let cells = row.cells();
        self.since_budget += 1;
        if self.since_budget >= BUDGET_EVERY {
            self.since_budget = 0;
            self.keep_to_budget()?;
        }
        if let Some(writer) = self
            .writers
            .get_mut(group)
            .and_then(|g| g.get_mut(P::TABLE))
        {
            return Ok(writer.write(&cells)?);
        }
        let mut writer =
            TextTableWriter::create(&self.stage.platform_file(group, P::TABLE), P::COLUMNS)?;
        writer.write(&cells)?;
        self.writers
            .entry(group.to_owned())
            .or_default()
            .insert(P::TABLE, writer);
        Ok(())
    }

    /// Over the budget, the writers holding most spill their rows to disk until the open
    /// writers hold half of it.
    fn keep_to_budget(&mut self) -> Result<(), TransformError> {
        let mut held: Vec<(usize, &mut TextTableWriter)> = self
            .writers
            .values_mut()
            .flat_map(|g| g.values_mut())
            .map(|w| (w.memory(), w))
            .collect();
        let mut total: usize = held.iter().map(|(m, _)| m).sum();
        if total <= self.budget {
            return Ok(());
        }
        held.sort_by_key(|(m, _)| std::cmp::Reverse(*m));
        for (memory, writer) in held {
            if total <= self.budget / 2 {
                break;
            }
            writer.spill()?;
            total -= memory;
        }
        Ok(())
    }

    pub(crate) fn count(&mut self, county: &str, table: LegacyTable) -> &mut TableCounts {
        if !self.counts.contains_key(county) {
            self.counts.insert(county.to_owned(), BTreeMap::new());
        }
        let tables = self.counts.get_mut(county).expect("just ensured");
        if !tables.contains_key(table.name()) {
            tables.insert(table.name().to_owned(), TableCounts::default());
        }
        tables.get_mut(table.name()).expect("just ensured")
    }

    /// Records a rejected row, with the values the county finds it by (see [`add_context`]).
    pub(crate) fn reject(
        &mut self,
        table: LegacyTable,
        key: &str,
        county: &str,
        reject: &Reject,
        row: &Row,
    ) -> Result<(), TransformError> {
        self.count(county, table).read += 1;
        self.count(county, table).rejected += 1;
        bump_code(&mut self.codes, reject.code.code());
        let mut record = RejectRecord {
            source_table: table.name().to_owned(),
            source_key: key.to_owned(),
            county_code: county.to_owned(),
            reason_code: reject.code.code().to_owned(),
            field: reject.field.to_owned(),
            raw_value: shown(&reject.raw),
            detail: format!("{}（字段 {}）", reject.code.explanation(), reject.field),
            person_key: None,
            batch_key: None,
            name: None,
            id_number: None,
            area_code: None,
            batch_no: None,
            program_code: None,
            fund_year: None,
            amount: None,
        };
        add_context(&mut record, table, row);
        self.write(county, &record)
    }

    pub(crate) fn corrections(
        &mut self,
        table: LegacyTable,
        key: &str,
        county: &str,
        corrections: &[Correction],
    ) -> Result<(), TransformError> {
        for c in corrections {
            bump_code(&mut self.codes, c.code.code());
            let record = CorrectionRecord {
                source_table: table.name().to_owned(),
                source_key: key.to_owned(),
                county_code: county.to_owned(),
                correction_code: c.code.code().to_owned(),
                field: c.field.to_owned(),
                before: shown(&c.before),
                after: shown(&c.after),
            };
            self.write(county, &record)?;
        }
        Ok(())
    }

    pub(crate) fn loaded(&mut self, table: LegacyTable, county: &str) {
        let c = self.count(county, table);
        c.read += 1;
        c.loaded += 1;
    }

    pub(crate) fn finish(self) -> Result<Finished, TransformError> {
        let mut files = BTreeMap::new();
        let writers = self
            .writers
            .into_iter()
            .flat_map(|(g, ws)| ws.into_iter().map(move |(t, w)| (g.clone(), t, w)));
        for (group, table, writer) in writers {
            let rows = writer.finish()?;
            let path = self.stage.platform_file(&group, table);
            files.insert(
                format!("{group}/{table}.parquet"),
                StagedFile {
                    rows,
                    sha256: sha256_file(&path)?,
                },
            );
        }
        Ok((files, self.counts, self.codes))
    }
}

/// A legacy value as the bookkeeping tables record it: exactly as found, except that a NUL
/// character, which no platform database can hold, is shown as `␀` (U+2400).
pub(crate) fn shown(value: &Option<String>) -> Option<String> {
    value.as_ref().map(|v| {
        if v.contains('\0') {
            v.replace('\0', "\u{2400}")
        } else {
            v.clone()
        }
    })
}

pub(crate) fn bump_code(codes: &mut BTreeMap<String, u64>, code: &str) {
    match codes.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            codes.insert(code.to_owned(), 1);
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Reject {
    pub(crate) code: R,
    pub(crate) field: &'static str,
    pub(crate) raw: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Correction {
    pub(crate) code: C,
    pub(crate) field: &'static str,
    pub(crate) before: Option<String>,
    pub(crate) after: Option<String>,
}

/// Collects a row's corrections as its rules run.
#[derive(Default)]
pub(crate) struct RowCorrections(pub(crate) Vec<Correction>);

impl RowCorrections {
    pub(crate) fn add<T>(
        &mut self,
        field: &'static str,
        raw: &Option<String>,
        fixed: &Corrected<T>,
        after: impl Fn(&T) -> Option<String>,
    ) {
        for code in &fixed.corrections {
            self.0.push(Correction {
                code: *code,
                field,
                before: raw.clone(),
                after: after(&fixed.value),
            });
        }
    }
}

impl RowCorrections {
    /// A free-text column kept as found (a NUL removed and recorded, see `rules::text`).
    pub(crate) fn text(&mut self, row: &Row, cols: &Cols, field: &'static str) -> Option<String> {
        let raw = cols.get(row, field);
        let fixed = rules::text(raw.as_deref());
        self.add(field, raw, &fixed, Clone::clone);
        fixed.value
    }
}

/// What a county searches by to find a rejected row at the source, as the row holds it: trimmed
/// and shown as found (a value that broke a rule is still what the county sees in its system).
fn add_context(record: &mut RejectRecord, table: LegacyTable, row: &Row) {
    let get = |name: &str| {
        table
            .column_index(name)
            .and_then(|i| row.get(i))
            .and_then(shown)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    // A key only when it reads as one, so the reports can join on it.
    let key = |name: &str| {
        get(name)
            .and_then(|k| k.parse::<i64>().ok())
            .map(|k| k.to_string())
    };
    let r = record;
    match table {
        LegacyTable::Beneficiaries => {
            r.person_key = key("DXID");
            r.name = get("XM");
            r.id_number = get("SFZH");
            r.area_code = get("XZQHDM");
        }
        LegacyTable::Batches => {
            r.batch_key = key("PCID");
            r.batch_no = get("PCH");
            r.program_code = get("XMDM");
            r.fund_year = get("ND");
        }
        LegacyTable::Payments => {
            r.person_key = key("DXID");
            r.batch_key = key("PCID");
            r.program_code = get("XMDM");
            r.fund_year = get("ND");
            r.amount = get("JE");
        }
        LegacyTable::Allocations => {
            r.program_code = get("XMDM");
            r.fund_year = get("ND");
            r.amount = get("ZBJE");
        }
        _ => {}
    }
}

/// Calls `f` with every batch of rows of a staged legacy table, decoded on a thread of its own
/// beside the rules; with `only`, the other columns are not read (they are `None`).
pub(crate) fn read_staged(
    stage: &Stage,
    table: LegacyTable,
    only: Option<&[&str]>,
    progress: &dyn Fn(&str, u64),
    f: impl FnMut(Vec<Row>) -> Result<(), TransformError>,
) -> Result<(), TransformError> {
    read_staged_as(stage, table, only, progress, |batch| batch.rows(), f)
}

/// [`read_staged`] a batch at a time, its text not copied out: for a pass that looks at a
/// column or two of every row and copies out only the few rows it needs, or that copies each
/// row into cells of its own ([`TextBatch::row_into`]).
pub(crate) fn read_staged_batches(
    stage: &Stage,
    table: LegacyTable,
    only: Option<&[&str]>,
    progress: &dyn Fn(&str, u64),
    f: impl FnMut(TextBatch) -> Result<(), TransformError>,
) -> Result<(), TransformError> {
    read_staged_as(stage, table, only, progress, |batch| batch, f)
}

/// Reads a staged legacy table on a thread of its own, which also makes each batch into what
/// `f` takes (`made`), handing them to `f` on this one.
fn read_staged_as<T: Send>(
    stage: &Stage,
    table: LegacyTable,
    only: Option<&[&str]>,
    progress: &dyn Fn(&str, u64),
    made: impl Fn(TextBatch) -> T + Send,
    mut f: impl FnMut(T) -> Result<(), TransformError>,
) -> Result<(), TransformError> {
    let path: PathBuf = stage.legacy_file(table.name());
    let mut reader = TextTableReader::open_columns(&path, only)?;
    for (i, column) in table.columns().iter().enumerate() {
        if reader.column(column.name)? != i {
            return Err(StageError::Format {
                path,
                message: format!("column {} out of place", column.name),
            }
            .into());
        }
    }
    let mut n = 0u64;
    let started = std::time::Instant::now();
    std::thread::scope(|scope| -> Result<(), TransformError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, T), StageError>>(4);
        scope.spawn(move || {
            loop {
                match reader.next_batch() {
                    Ok(Some(batch)) => {
                        if tx.send(Ok((batch.num_rows(), made(batch)))).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        for batch in rx {
            let (rows, batch) = batch?;
            n += rows as u64;
            f(batch)?;
            progress(table.name(), n);
        }
        Ok(())
    })?;
    tracing::debug!(
        table = table.name(),
        rows = n,
        ms = started.elapsed().as_millis() as u64,
        "Read a staged table."
    );
    Ok(())
}

pub(crate) fn reject(code: R, field: &'static str, raw: &Option<String>) -> Reject {
    Reject {
        code,
        field,
        raw: raw.clone(),
    }
}

pub(crate) fn text(d: &Decimal) -> Option<String> {
    Some(d.to_string())
}

pub(crate) fn date_text(d: &NaiveDate) -> Option<String> {
    use chrono::Datelike;
    Some(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

/// Applies the mapping rules to a finished extract in `stage`, writing `stage/platform/`.
pub fn transform(
    stage: &Stage,
    options: &TransformOptions,
    progress: &dyn Fn(&str, u64),
) -> Result<TransformManifest, TransformError> {
    let extract = verified_extract(stage)?;
    let extract_sha256 = sha256_file(&stage.manifest_path(Step::Extract))?;
    // The day ID birth dates are judged against: given, else the day (Beijing time) the extract
    // finished. Recorded in the manifest, so a rehearsal and the real run can judge alike.
    let as_of = options.as_of.unwrap_or_else(|| {
        chrono::DateTime::parse_from_rfc3339(&extract.finished_at)
            .map(|d| {
                d.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00"))
                    .date_naive()
            })
            .unwrap_or(NaiveDate::MAX)
    });
    if stage.interrupted(Step::Transform) {
        tracing::warn!(stage = %stage.dir().display(), "An earlier transform of this stage was interrupted; doing it again from the start.");
    }
    stage.begin(Step::Transform, true)?;
    let mut t = Transformer {
        stage: stage.clone(),
        regions: Regions::shaanxi(),
        out: Outputs::new(stage.clone()),
        as_of,
        legacy_owns_up_to: options.legacy_owns_up_to,
        programs: BTreeSet::new(),
        people: HashMap::new(),
        allocations: HashSet::new(),
        batches: HashMap::new(),
        progress,
    };
    t.regions_table()?;
    t.programs_table()?;
    t.beneficiaries()?;
    fail::fail_point!("transform::table_done", |_| std::process::abort());
    t.allocations_table()?;
    t.batches_table()?;
    fail::fail_point!("transform::table_done", |_| std::process::abort());
    t.payments()?;
    let (files, counts, codes) = t.out.finish()?;
    let manifest = TransformManifest {
        ykt_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id: format!("run-{}", &extract_sha256[..12]),
        extract_sha256,
        options: options.clone(),
        as_of,
        counts,
        codes,
        files,
    };
    stage.finish(Step::Transform, &manifest)?;
    Ok(manifest)
}

#[derive(Clone, Copy)]
pub(crate) enum Person {
    Loaded { beneficiary_id: i64, county: u32 },
    Rejected { county: u32 },
}

#[derive(Clone, Copy)]
pub(crate) enum Batch {
    Loaded { county: u32 },
    Rejected { county: u32 },
}

pub(crate) struct Transformer<'a> {
    pub(crate) stage: Stage,
    pub(crate) regions: Regions,
    pub(crate) out: Outputs,
    pub(crate) as_of: NaiveDate,
    pub(crate) legacy_owns_up_to: Option<i32>,
    pub(crate) programs: BTreeSet<String>,
    pub(crate) people: HashMap<i64, Person>,
    pub(crate) allocations: HashSet<i64>,
    pub(crate) batches: HashMap<i64, Batch>,
    pub(crate) progress: &'a dyn Fn(&str, u64),
}

/// Column positions of a legacy table, by name.
pub(crate) struct Cols(pub(crate) LegacyTable);

impl Cols {
    #[inline]
    pub(crate) fn get<'r>(&self, row: &'r Row, name: &str) -> &'r Option<String> {
        &row[self.index(name)]
    }

    /// The position of a column the spec gives the table.
    #[inline]
    pub(crate) fn index(&self, name: &str) -> usize {
        self.0.column_index(name).expect("a column of the spec")
    }
}

impl Transformer<'_> {
    /// A legacy key as a number: the extract staged only canonical whole numbers.
    pub(crate) fn key(&self, table: LegacyTable, raw: &str) -> Result<i64, TransformError> {
        raw.parse().map_err(|_| TransformError::BadKey {
            stage: self.stage.dir().to_owned(),
            table: table.name(),
            key: raw.to_owned(),
        })
    }

    /// How many rows of `table` the extract staged (0 when its manifest does not say): the
    /// size of the per-row maps, made once instead of grown.
    pub(crate) fn staged_rows(&self, table: LegacyTable) -> usize {
        self.stage
            .manifest::<ExtractManifest>(Step::Extract)
            .ok()
            .and_then(|m| m.tables.get(table.name()).map(|t| t.rows))
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    }

    pub(crate) fn each_row(
        &mut self,
        table: LegacyTable,
        f: impl FnMut(&mut Self, Row) -> Result<(), TransformError>,
    ) -> Result<(), TransformError> {
        self.each_row_of(table, None, f)
    }

    /// Calls `f` for every row of a staged legacy table; with `only`, the other columns are
    /// not read (they are `None`).
    pub(crate) fn each_row_of(
        &mut self,
        table: LegacyTable,
        only: Option<&[&str]>,
        mut f: impl FnMut(&mut Self, Row) -> Result<(), TransformError>,
    ) -> Result<(), TransformError> {
        let (stage, progress) = (self.stage.clone(), self.progress);
        read_staged(&stage, table, only, progress, |rows| {
            for row in rows {
                f(self, row)?;
            }
            Ok(())
        })
    }

    /// The rules an allocation or a batch runs first, in the spec's precedence: its region,
    /// program and fund year, their corrections recorded in `notes`. Returns the county code,
    /// the program code and the fund year.
    pub(crate) fn funded_row_rules(
        &self,
        row: &Row,
        cols: &Cols,
        notes: &mut RowCorrections,
    ) -> Result<(String, String, i16), Reject> {
        let region_raw = cols.get(row, "XZQHDM");
        let region = rules::region(region_raw.as_deref(), &self.regions)
            .map_err(|r| reject(r, "XZQHDM", region_raw))?;
        notes.add("XZQHDM", region_raw, &region, |v| Some(v.code.clone()));
        let (program, year) = self.program_and_year(row, cols, notes)?;
        Ok((region.value.county, program, year))
    }

    /// A row's program (one of T_BTXM's) and fund year, the year's correction in `notes`.
    pub(crate) fn program_and_year(
        &self,
        row: &Row,
        cols: &Cols,
        notes: &mut RowCorrections,
    ) -> Result<(String, i16), Reject> {
        let xmdm = cols.get(row, "XMDM");
        let program = rules::program(xmdm.as_deref(), &self.programs)
            .map_err(|r| reject(r, "XMDM", xmdm))?
            .to_owned();
        let nd = cols.get(row, "ND");
        let year = rules::fund_year(nd.as_deref()).map_err(|r| reject(r, "ND", nd))?;
        notes.add("ND", nd, &year, |v| Some(v.to_string()));
        Ok((program, year.value))
    }

    /// The county a row's region code tells, without recording anything.
    pub(crate) fn county_of(&self, raw: &Option<String>) -> u32 {
        rules::region(raw.as_deref(), &self.regions).map_or(0, |r| county_id(&r.value.county))
    }
}

/// A transformer over a throwaway stage, for the per-table unit tests: stage a few legacy
/// rows, run one table's step, read what it staged and counted.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    fn quiet(_: &str, _: u64) {}

    /// A transformer over an empty stage in a fresh temporary folder (removed on drop).
    pub(crate) struct Fixture {
        pub(crate) t: Transformer<'static>,
        dir: PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub(crate) fn fixture(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "ykt-transform-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let stage = Stage::new(&dir);
        let t = Transformer {
            stage: stage.clone(),
            regions: Regions::shaanxi(),
            out: Outputs::new(stage),
            as_of: NaiveDate::from_ymd_opt(2020, 11, 30).expect("a day"),
            legacy_owns_up_to: Some(2019),
            programs: BTreeSet::new(),
            people: HashMap::new(),
            allocations: HashSet::new(),
            batches: HashMap::new(),
            progress: &quiet,
        };
        Fixture { t, dir }
    }

    impl Fixture {
        /// Stages rows of a legacy table, each given by the columns it fills (the rest NULL).
        pub(crate) fn legacy(&self, table: LegacyTable, rows: &[&[(&str, &str)]]) {
            let names: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
            let path = self.t.stage.legacy_file(table.name());
            let mut writer = TextTableWriter::create(&path, &names).expect("a staged table");
            for given in rows {
                let row: Row = names
                    .iter()
                    .map(|n| {
                        given
                            .iter()
                            .find(|(c, _)| c == n)
                            .map(|(_, v)| (*v).to_owned())
                    })
                    .collect();
                writer.write(&row).expect("a row");
            }
            writer.finish().expect("the table written");
        }

        /// [`Fixture::legacy`] for rows whose values the test made.
        pub(crate) fn legacy_owned(&self, table: LegacyTable, rows: &[Vec<(&str, String)>]) {
            let rows: Vec<Vec<(&str, &str)>> = rows
                .iter()
                .map(|r| r.iter().map(|(c, v)| (*c, v.as_str())).collect())
                .collect();
            let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
            self.legacy(table, &rows);
        }

        /// Read, loaded, merged and rejected rows of a legacy table in a county.
        pub(crate) fn counts(&self, county: &str, table: LegacyTable) -> TableCounts {
            self.t
                .out
                .counts
                .get(county)
                .and_then(|c| c.get(table.name()))
                .cloned()
                .unwrap_or_default()
        }

        /// How often a code was recorded.
        pub(crate) fn code(&self, code: &str) -> u64 {
            self.t.out.codes.get(code).copied().unwrap_or(0)
        }

        /// The rows staged so far for a platform table of a county group, by column name.
        pub(crate) fn staged(&mut self, group: &str, table: &str) -> Vec<BTreeMap<String, String>> {
            let Some(writer) = self
                .t
                .out
                .writers
                .get_mut(group)
                .and_then(|g| g.remove(table))
            else {
                return Vec::new();
            };
            writer.finish().expect("the staged table");
            let path = self.t.stage.platform_file(group, table);
            let mut reader = TextTableReader::open(&path).expect("the staged table");
            let names: Vec<String> = reader.columns().to_vec();
            let mut out = Vec::new();
            while let Some(rows) = reader.next_rows().expect("rows") {
                for row in rows {
                    out.push(
                        names
                            .iter()
                            .zip(row)
                            .filter_map(|(n, v)| v.map(|v| (n.clone(), v)))
                            .collect(),
                    );
                }
            }
            out
        }
    }
}
