//! The transform step: staged legacy tables in, staged platform rows, rejects and
//! corrections out, partitioned by county.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tracing::info;
use ykt_domain::platform::{Basis, PaymentStatus, columns};
use ykt_domain::{CorrectionCode as C, LegacyTable, Regions, RejectCode as R, UNATTRIBUTED_COUNTY};
use ykt_stage::{
    CountyCounts, Stage, StageError, StagedFile, Step, TableCounts, TextTableReader,
    TextTableWriter, TransformManifest, TransformOptions, sha256_file, verified_extract,
};

use ykt_domain::rules::{self, Corrected, DateRead};

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

type Row = Vec<Option<String>>;

/// The staged files, the counts and the codes of a finished transform.
type Finished = (
    BTreeMap<String, StagedFile>,
    CountyCounts,
    BTreeMap<String, u64>,
);

/// A county as a number (`0` = unattributed), to keep lookups small.
fn county_id(code: &str) -> u32 {
    code.parse().unwrap_or(0)
}

fn county_code(id: u32) -> String {
    if id == 0 {
        UNATTRIBUTED_COUNTY.to_owned()
    } else {
        format!("{id:06}")
    }
}

struct Outputs {
    stage: Stage,
    writers: BTreeMap<String, BTreeMap<&'static str, TextTableWriter>>,
    counts: CountyCounts,
    codes: BTreeMap<String, u64>,
}

impl Outputs {
    fn write(
        &mut self,
        group: &str,
        table: &'static str,
        row: &[Option<String>],
    ) -> Result<(), TransformError> {
        if let Some(writer) = self.writers.get_mut(group).and_then(|g| g.get_mut(table)) {
            return Ok(writer.write(row)?);
        }
        let cols = match table {
            "region" => columns::REGION,
            "program" => columns::PROGRAM,
            "allocation" => columns::ALLOCATION,
            "beneficiary" => columns::BENEFICIARY,
            "beneficiary_legacy_map" => columns::BENEFICIARY_LEGACY_MAP,
            "payment_batch" => columns::PAYMENT_BATCH,
            "payment" => columns::PAYMENT,
            "reject" => columns::REJECT,
            _ => columns::CORRECTION,
        };
        let mut writer = TextTableWriter::create(&self.stage.platform_file(group, table), cols)?;
        writer.write(row)?;
        self.writers
            .entry(group.to_owned())
            .or_default()
            .insert(table, writer);
        Ok(())
    }

    fn count(&mut self, county: &str, table: LegacyTable) -> &mut TableCounts {
        if !self.counts.contains_key(county) {
            self.counts.insert(county.to_owned(), BTreeMap::new());
        }
        let tables = self.counts.get_mut(county).expect("just ensured");
        if !tables.contains_key(table.name()) {
            tables.insert(table.name().to_owned(), TableCounts::default());
        }
        tables.get_mut(table.name()).expect("just ensured")
    }

    fn reject(
        &mut self,
        table: LegacyTable,
        key: &str,
        county: &str,
        reject: &Reject,
    ) -> Result<(), TransformError> {
        self.count(county, table).read += 1;
        self.count(county, table).rejected += 1;
        bump_code(&mut self.codes, reject.code.code());
        let detail = format!("{}（字段 {}）", reject.code.explanation(), reject.field);
        let row = vec![
            Some(table.name().to_owned()),
            Some(key.to_owned()),
            Some(county.to_owned()),
            Some(reject.code.code().to_owned()),
            Some(reject.field.to_owned()),
            shown(&reject.raw),
            Some(detail),
        ];
        self.write(county, "reject", &row)
    }

    fn corrections(
        &mut self,
        table: LegacyTable,
        key: &str,
        county: &str,
        corrections: &[Correction],
    ) -> Result<(), TransformError> {
        for c in corrections {
            bump_code(&mut self.codes, c.code.code());
            let row = vec![
                Some(table.name().to_owned()),
                Some(key.to_owned()),
                Some(county.to_owned()),
                Some(c.code.code().to_owned()),
                Some(c.field.to_owned()),
                shown(&c.before),
                shown(&c.after),
            ];
            self.write(county, "correction", &row)?;
        }
        Ok(())
    }

    fn loaded(&mut self, table: LegacyTable, county: &str) {
        let c = self.count(county, table);
        c.read += 1;
        c.loaded += 1;
    }

    fn finish(self) -> Result<Finished, TransformError> {
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
fn shown(value: &Option<String>) -> Option<String> {
    value.as_ref().map(|v| {
        if v.contains('\0') {
            v.replace('\0', "\u{2400}")
        } else {
            v.clone()
        }
    })
}

fn bump_code(codes: &mut BTreeMap<String, u64>, code: &str) {
    match codes.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            codes.insert(code.to_owned(), 1);
        }
    }
}

#[derive(Debug, Clone)]
struct Reject {
    code: R,
    field: &'static str,
    raw: Option<String>,
}

#[derive(Debug, Clone)]
struct Correction {
    code: C,
    field: &'static str,
    before: Option<String>,
    after: Option<String>,
}

/// Collects a row's corrections as its rules run.
#[derive(Default)]
struct RowCorrections(Vec<Correction>);

impl RowCorrections {
    fn add<T>(
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
    fn text(&mut self, row: &Row, cols: &Cols, field: &'static str) -> Option<String> {
        let raw = cols.get(row, field);
        let fixed = rules::text(raw.as_deref());
        self.add(field, raw, &fixed, Clone::clone);
        fixed.value
    }
}

fn reject(code: R, field: &'static str, raw: &Option<String>) -> Reject {
    Reject {
        code,
        field,
        raw: raw.clone(),
    }
}

fn text(d: &Decimal) -> Option<String> {
    Some(d.to_string())
}

fn date_text(d: &NaiveDate) -> Option<String> {
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
        out: Outputs {
            stage: stage.clone(),
            writers: BTreeMap::new(),
            counts: BTreeMap::new(),
            codes: BTreeMap::new(),
        },
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
enum Person {
    Loaded { beneficiary_id: i64, county: u32 },
    Rejected { county: u32 },
}

#[derive(Clone, Copy)]
enum Batch {
    Loaded { county: u32 },
    Rejected { county: u32 },
}

struct Transformer<'a> {
    stage: Stage,
    regions: Regions,
    out: Outputs,
    as_of: NaiveDate,
    legacy_owns_up_to: Option<i32>,
    programs: BTreeSet<String>,
    people: HashMap<i64, Person>,
    allocations: HashSet<i64>,
    batches: HashMap<i64, Batch>,
    progress: &'a dyn Fn(&str, u64),
}

/// Column positions of a legacy table, by name.
struct Cols(LegacyTable);

impl Cols {
    fn get<'r>(&self, row: &'r Row, name: &str) -> &'r Option<String> {
        &row[self.0.column_index(name).expect("a column of the spec")]
    }
}

impl Transformer<'_> {
    /// A legacy key as a number: the extract staged only canonical whole numbers.
    fn key(&self, table: LegacyTable, raw: &str) -> Result<i64, TransformError> {
        raw.parse().map_err(|_| TransformError::BadKey {
            stage: self.stage.dir().to_owned(),
            table: table.name(),
            key: raw.to_owned(),
        })
    }

    fn each_row(
        &mut self,
        table: LegacyTable,
        f: impl FnMut(&mut Self, Row) -> Result<(), TransformError>,
    ) -> Result<(), TransformError> {
        self.each_row_of(table, None, f)
    }

    /// Calls `f` for every row of a staged legacy table; with `only`, the other columns are
    /// not read (they are `None`).
    fn each_row_of(
        &mut self,
        table: LegacyTable,
        only: Option<&[&str]>,
        mut f: impl FnMut(&mut Self, Row) -> Result<(), TransformError>,
    ) -> Result<(), TransformError> {
        let path: PathBuf = self.stage.legacy_file(table.name());
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
        // Decoding the Parquet file runs on its own thread, beside the rules.
        std::thread::scope(|scope| -> Result<(), TransformError> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Row>, StageError>>(4);
            scope.spawn(move || {
                loop {
                    match reader.next_rows() {
                        Ok(Some(rows)) => {
                            if tx.send(Ok(rows)).is_err() {
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
            for rows in rx {
                for row in rows? {
                    f(self, row)?;
                    n += 1;
                }
                (self.progress)(table.name(), n);
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

    /// The county a row's region code tells, without recording anything.
    fn county_of(&self, raw: &Option<String>) -> u32 {
        rules::region(raw.as_deref(), &self.regions).map_or(0, |r| county_id(&r.value.county))
    }

    fn regions_table(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Regions;
        let cols = Cols(table);
        self.each_row(table, |t, row| {
            let raw_code = cols.get(&row, "XZQHDM").clone();
            let key = raw_code.clone().unwrap_or_default();
            let jb = cols.get(&row, "JB");
            // A missing level is told by the code's length; one that does not read is not a
            // region the platform can hold.
            let level: i16 = match jb.as_deref().map(str::trim) {
                None | Some("") => match key.len() {
                    12 => 5,
                    9 => 4,
                    _ => 3,
                },
                Some(l) => match l.parse::<i16>() {
                    Ok(l) if (1..=5).contains(&l) => l,
                    _ => {
                        return t.out.reject(
                            table,
                            &key,
                            UNATTRIBUTED_COUNTY,
                            &reject(R::RegionUnknown, "JB", jb),
                        );
                    }
                },
            };
            let mut notes = RowCorrections::default();
            let resolved = if level <= 2 {
                if key.len() == 6 && key.bytes().all(|b| b.is_ascii_digit()) {
                    Ok((key.clone(), UNATTRIBUTED_COUNTY.to_owned()))
                } else {
                    Err(R::RegionUnknown)
                }
            } else {
                rules::region(raw_code.as_deref(), &t.regions).map(|fixed| {
                    notes.add("XZQHDM", &raw_code, &fixed, |r| Some(r.code.clone()));
                    (fixed.value.code.clone(), fixed.value.county.clone())
                })
            };
            let (code, county) = match resolved {
                Ok(found) => found,
                Err(code) => {
                    return t.out.reject(
                        table,
                        &key,
                        UNATTRIBUTED_COUNTY,
                        &reject(code, "XZQHDM", &raw_code),
                    );
                }
            };
            let sjdm = cols.get(&row, "SJDM");
            let parent = match sjdm.as_deref() {
                None => None,
                Some(p) => match rules::region(Some(p), &t.regions) {
                    Ok(f) if level >= 4 => Some(f.value.code),
                    _ if matches!(p.len(), 6 | 9 | 12) && p.bytes().all(|b| b.is_ascii_digit()) => {
                        Some(p.to_owned())
                    }
                    _ => {
                        notes.0.push(Correction {
                            code: C::ValueCleared,
                            field: "SJDM",
                            before: sjdm.clone(),
                            after: None,
                        });
                        None
                    }
                },
            };
            let name = match (level, t.regions.county(&code)) {
                (3, Some(c)) => c.name.to_owned(),
                _ => notes.text(&row, &cols, "XZQHMC").unwrap_or_default(),
            };
            t.out.write(
                "reference",
                "region",
                &[Some(code), Some(name), Some(level.to_string()), parent],
            )?;
            t.out.loaded(table, &county);
            t.out.corrections(table, &key, &county, &notes.0)
        })
    }

    /// T_BTXM is a reference table: every row is loaded, and a basis or rate that does not read
    /// is cleared (`C_VALUE_CLEARED`), never a reason to reject the program and its lines.
    fn programs_table(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Programs;
        let cols = Cols(table);
        self.each_row(table, |t, row| {
            let code = cols
                .get(&row, "XMDM")
                .as_deref()
                .unwrap_or("")
                .trim()
                .to_owned();
            let mut notes = RowCorrections::default();
            let bzlx = cols.get(&row, "BZLX");
            let basis = rules::basis(bzlx.as_deref());
            notes.add("BZLX", bzlx, &basis, |v| v.map(|b| b.as_str().to_owned()));
            let rate_raw = cols.get(&row, "BZJE").clone();
            let mut rate = rules::optional_rate(rate_raw.as_deref());
            // A fixed amount has no rate.
            if basis.value == Some(Basis::Fixed) && rate.value.is_some() {
                rate = Corrected {
                    value: None,
                    corrections: vec![C::ValueCleared],
                };
            }
            notes.add("BZJE", &rate_raw, &rate, |v| v.as_ref().and_then(text));
            let row_out = vec![
                Some(code.clone()),
                Some(notes.text(&row, &cols, "XMMC").unwrap_or_default()),
                Some(notes.text(&row, &cols, "ZGBM").unwrap_or_default()),
                basis.value.map(|b| b.as_str().to_owned()),
                rate.value.as_ref().and_then(text),
            ];
            t.out.write("reference", "program", &row_out)?;
            t.programs.insert(code.clone());
            t.out.loaded(table, UNATTRIBUTED_COUNTY);
            t.out
                .corrections(table, &code, UNATTRIBUTED_COUNTY, &notes.0)
        })
    }

    /// The rules of one T_BTDX row: the platform row (without id) and its corrections, or the
    /// reject. Also returns the row's county.
    fn person_rules(&self, row: &Row) -> (u32, Result<(Row, RowCorrections, String), Reject>) {
        let cols = Cols(LegacyTable::Beneficiaries);
        let region_raw = cols.get(row, "XZQHDM");
        let county = self.county_of(region_raw);
        let result = (|| {
            let mut notes = RowCorrections::default();
            let sfzh = cols.get(row, "SFZH");
            let id = rules::id_number(sfzh.as_deref(), self.as_of)
                .map_err(|r| reject(r, "SFZH", sfzh))?;
            notes.add("SFZH", sfzh, &id, |v| Some(v.clone()));
            let xm = cols.get(row, "XM");
            let name = rules::name(xm.as_deref()).map_err(|r| reject(r, "XM", xm))?;
            notes.add("XM", xm, &name, |v| Some(v.clone()));
            let region = rules::region(region_raw.as_deref(), &self.regions)
                .map_err(|r| reject(r, "XZQHDM", region_raw))?;
            notes.add("XZQHDM", region_raw, &region, |v| Some(v.code.clone()));
            let dxzt = cols.get(row, "DXZT");
            let status =
                rules::beneficiary_status(dxzt.as_deref()).map_err(|r| reject(r, "DXZT", dxzt))?;
            let hz = cols.get(row, "HZSFZH");
            let head = match hz.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(_) => match rules::id_number(hz.as_deref(), self.as_of) {
                    Ok(fixed) => {
                        notes.add("HZSFZH", hz, &fixed, |v| Some(v.clone()));
                        Some(fixed.value)
                    }
                    Err(_) => {
                        notes.0.push(Correction {
                            code: C::ValueCleared,
                            field: "HZSFZH",
                            before: hz.clone(),
                            after: None,
                        });
                        None
                    }
                },
            };
            let yhzh = cols.get(row, "YHZH");
            let account = rules::account(yhzh.as_deref());
            notes.add("YHZH", yhzh, &account, |v| v.clone());
            let swrq = cols.get(row, "SWRQ");
            let died = rules::optional_date(swrq.as_deref());
            notes.add("SWRQ", swrq, &died, |v| v.as_ref().and_then(date_text));
            let area = (region.value.code.len() > 6).then(|| region.value.code.clone());
            let out = vec![
                None,
                Some(id.value.clone()),
                Some(name.value),
                Some(region.value.county),
                area,
                notes.text(row, &cols, "ZZ"),
                notes.text(row, &cols, "LXDH"),
                account.value,
                notes.text(row, &cols, "KHYH"),
                head,
                Some(status.as_str().to_owned()),
                died.value.as_ref().and_then(date_text),
            ];
            Ok((out, notes, id.value))
        })();
        (county, result)
    }

    fn beneficiaries(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Beneficiaries;
        let cols = Cols(table);
        // Pass 1: the survivor of each ID number: latest GXSJ, tie the highest DXID.
        let mut survivors: HashMap<String, (Option<String>, i64, u32)> = HashMap::new();
        self.each_row(table, |t, row| {
            let Some(dxid) = cols
                .get(&row, "DXID")
                .as_deref()
                .and_then(|k| k.parse::<i64>().ok())
            else {
                return Ok(());
            };
            if let (county, Ok((_, _, id))) = t.person_rules(&row) {
                let stamp = cols.get(&row, "GXSJ").clone();
                let better = survivors
                    .get(&id)
                    .is_none_or(|(s, d, _)| (&stamp, dxid) > (s, *d));
                if better {
                    survivors.insert(id, (stamp, dxid, county));
                }
            }
            Ok(())
        })?;
        // Pass 2: write survivors, map every valid DXID, record merges and rejects.
        self.each_row(table, |t, row| {
            let key_raw = cols.get(&row, "DXID").clone().unwrap_or_default();
            let (county, result) = t.person_rules(&row);
            let county_text = county_code(county);
            let dxid = t.key(table, &key_raw)?;
            match result {
                Err(r) => {
                    t.people.insert(dxid, Person::Rejected { county });
                    t.out.reject(table, &key_raw, &county_text, &r)
                }
                Ok((mut out, notes, id)) => {
                    let (_, survivor, survivor_county) = survivors[&id];
                    // A line that falls back to its beneficiary's county takes the county of
                    // the T_BTDX row its own DXID names, even when that row was merged into a
                    // person registered in another county (`mapping-rules.md`).
                    t.people.insert(
                        dxid,
                        Person::Loaded {
                            beneficiary_id: survivor,
                            county,
                        },
                    );
                    let group = county_code(survivor_county);
                    t.out.write(
                        &group,
                        "beneficiary_legacy_map",
                        &[Some(dxid.to_string()), Some(survivor.to_string())],
                    )?;
                    if survivor == dxid {
                        out[0] = Some(dxid.to_string());
                        t.out.write(&group, "beneficiary", &out)?;
                        t.out.loaded(table, &county_text);
                        t.out.corrections(table, &key_raw, &county_text, &notes.0)
                    } else {
                        let c = t.out.count(&county_text, table);
                        c.read += 1;
                        c.merged += 1;
                        let merged = Correction {
                            code: C::BeneficiaryMerged,
                            field: "DXID",
                            before: Some(dxid.to_string()),
                            after: Some(survivor.to_string()),
                        };
                        t.out.corrections(table, &key_raw, &county_text, &[merged])
                    }
                }
            }
        })
    }

    fn allocations_table(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Allocations;
        let cols = Cols(table);
        self.each_row(table, |t, row| {
            let key = cols.get(&row, "ZBID").clone().unwrap_or_default();
            let region_raw = cols.get(&row, "XZQHDM");
            let county = county_code(t.county_of(region_raw));
            let result = (|| {
                let mut notes = RowCorrections::default();
                let region = rules::region(region_raw.as_deref(), &t.regions)
                    .map_err(|r| reject(r, "XZQHDM", region_raw))?;
                notes.add("XZQHDM", region_raw, &region, |v| Some(v.code.clone()));
                let xmdm = cols.get(&row, "XMDM");
                let program = rules::program(xmdm.as_deref(), &t.programs)
                    .map_err(|r| reject(r, "XMDM", xmdm))?
                    .to_owned();
                let nd = cols.get(&row, "ND");
                let year = rules::fund_year(nd.as_deref()).map_err(|r| reject(r, "ND", nd))?;
                notes.add("ND", nd, &year, |v| Some(v.to_string()));
                let zbje = cols.get(&row, "ZBJE");
                let amount = rules::amount(zbje.as_deref()).map_err(|r| reject(r, "ZBJE", zbje))?;
                notes.add("ZBJE", zbje, &amount, text);
                let xdrq = cols.get(&row, "XDRQ");
                let issued = rules::optional_date(xdrq.as_deref());
                notes.add("XDRQ", xdrq, &issued, |v| v.as_ref().and_then(date_text));
                Ok((
                    vec![
                        Some(key.clone()),
                        Some(region.value.county),
                        Some(program),
                        Some(year.value.to_string()),
                        notes.text(&row, &cols, "ZBWH"),
                        text(&amount.value),
                        issued.value.as_ref().and_then(date_text),
                        Some(key.clone()),
                    ],
                    notes,
                ))
            })();
            let zbid = t.key(table, &key)?;
            match result {
                Ok((out, notes)) => {
                    t.allocations.insert(zbid);
                    t.out.write(&county, "allocation", &out)?;
                    t.out.loaded(table, &county);
                    t.out.corrections(table, &key, &county, &notes.0)
                }
                Err(r) => t.out.reject(table, &key, &county, &r),
            }
        })
    }

    fn batches_table(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Batches;
        let cols = Cols(table);
        self.each_row(table, |t, row| {
            let key = cols.get(&row, "PCID").clone().unwrap_or_default();
            let region_raw = cols.get(&row, "XZQHDM");
            let county_n = t.county_of(region_raw);
            let county = county_code(county_n);
            let result = (|| {
                let mut notes = RowCorrections::default();
                let region = rules::region(region_raw.as_deref(), &t.regions)
                    .map_err(|r| reject(r, "XZQHDM", region_raw))?;
                notes.add("XZQHDM", region_raw, &region, |v| Some(v.code.clone()));
                let xmdm = cols.get(&row, "XMDM");
                let program = rules::program(xmdm.as_deref(), &t.programs)
                    .map_err(|r| reject(r, "XMDM", xmdm))?
                    .to_owned();
                let nd = cols.get(&row, "ND");
                let year = rules::fund_year(nd.as_deref()).map_err(|r| reject(r, "ND", nd))?;
                notes.add("ND", nd, &year, |v| Some(v.to_string()));
                let pczt = cols.get(&row, "PCZT");
                let status =
                    rules::batch_status(pczt.as_deref()).map_err(|r| reject(r, "PCZT", pczt))?;
                let zbid_raw = cols.get(&row, "ZBID");
                let allocation = match zbid_raw.as_deref().map(|z| z.trim().parse::<i64>()) {
                    None => None,
                    Some(Ok(z)) if t.allocations.contains(&z) => Some(z.to_string()),
                    Some(_) => {
                        notes.0.push(Correction {
                            code: C::ValueCleared,
                            field: "ZBID",
                            before: zbid_raw.clone(),
                            after: None,
                        });
                        None
                    }
                };
                let qh = cols.get(&row, "QH");
                let period = rules::period(qh.as_deref());
                notes.add("QH", qh, &period, Clone::clone);
                let mut dates = Vec::new();
                for field in ["GSKSRQ", "GSJSRQ"] {
                    let raw = cols.get(&row, field);
                    let d = rules::optional_date(raw.as_deref());
                    notes.add(field, raw, &d, |v| v.as_ref().and_then(date_text));
                    dates.push(d.value.as_ref().and_then(date_text));
                }
                let zrs = cols.get(&row, "ZRS");
                let declared_count = rules::count(zrs.as_deref());
                notes.add("ZRS", zrs, &declared_count, |v| v.map(|n| n.to_string()));
                let zje = cols.get(&row, "ZJE");
                let declared_amount = rules::optional_amount(zje.as_deref());
                notes.add("ZJE", zje, &declared_amount, |v| v.as_ref().and_then(text));
                Ok((
                    vec![
                        Some(key.clone()),
                        Some(notes.text(&row, &cols, "PCH").unwrap_or_default()),
                        Some(region.value.county),
                        Some(program),
                        Some(year.value.to_string()),
                        period.value,
                        allocation,
                        dates[0].clone(),
                        dates[1].clone(),
                        Some(status.as_str().to_owned()),
                        declared_count.value.map(|n| n.to_string()),
                        declared_amount.value.as_ref().and_then(text),
                        notes.text(&row, &cols, "LRR"),
                        notes.text(&row, &cols, "SHR"),
                        Some(key.clone()),
                    ],
                    notes,
                ))
            })();
            let pcid = t.key(table, &key)?;
            match result {
                Ok((out, notes)) => {
                    t.batches.insert(pcid, Batch::Loaded { county: county_n });
                    t.out.write(&county, "payment_batch", &out)?;
                    t.out.loaded(table, &county);
                    t.out.corrections(table, &key, &county, &notes.0)
                }
                Err(r) => {
                    t.batches.insert(pcid, Batch::Rejected { county: county_n });
                    t.out.reject(table, &key, &county, &r)
                }
            }
        })
    }

    /// The rules of one T_FFMX line, in the spec's precedence. Returns the county and either
    /// the platform row (with `reissue_of` still the raw YMXID) or the reject. With
    /// `verdict_only`, stops once the line is known to pass (an empty row): the first pass over
    /// the lines only needs which lines pass.
    fn line_rules(
        &self,
        row: &Row,
        verdict_only: bool,
    ) -> (u32, Result<(Row, RowCorrections), Reject>) {
        let cols = Cols(LegacyTable::Payments);
        let pcid_raw = cols.get(row, "PCID");
        let dxid_raw = cols.get(row, "DXID");
        let batch = pcid_raw
            .as_deref()
            .and_then(|p| p.trim().parse::<i64>().ok())
            .and_then(|p| self.batches.get(&p).copied().map(|b| (p, b)));
        let person = dxid_raw
            .as_deref()
            .and_then(|d| d.trim().parse::<i64>().ok())
            .and_then(|d| self.people.get(&d).copied());
        let county = match (batch, person) {
            (Some((_, Batch::Loaded { county } | Batch::Rejected { county })), _)
                if county != 0 =>
            {
                county
            }
            (_, Some(Person::Loaded { county, .. } | Person::Rejected { county })) => county,
            _ => 0,
        };
        let result = (|| {
            let (pcid, batch_county) = match batch {
                None => return Err(reject(R::OrphanBatch, "PCID", pcid_raw)),
                Some((_, Batch::Rejected { .. })) => {
                    return Err(reject(R::BatchRejected, "PCID", pcid_raw));
                }
                Some((p, Batch::Loaded { county })) => (p, county),
            };
            let beneficiary = match person {
                None => return Err(reject(R::OrphanBeneficiary, "DXID", dxid_raw)),
                Some(Person::Rejected { .. }) => {
                    return Err(reject(R::BeneficiaryRejected, "DXID", dxid_raw));
                }
                Some(Person::Loaded { beneficiary_id, .. }) => beneficiary_id,
            };
            let mut notes = RowCorrections::default();
            let xmdm = cols.get(row, "XMDM");
            let program = rules::program(xmdm.as_deref(), &self.programs)
                .map_err(|r| reject(r, "XMDM", xmdm))?
                .to_owned();
            let nd = cols.get(row, "ND");
            let year = rules::fund_year(nd.as_deref()).map_err(|r| reject(r, "ND", nd))?;
            notes.add("ND", nd, &year, |v| Some(v.to_string()));
            let ffzt = cols.get(row, "FFZT");
            let status =
                rules::payment_status(ffzt.as_deref()).map_err(|r| reject(r, "FFZT", ffzt))?;
            let je = cols.get(row, "JE");
            let amount = rules::amount(je.as_deref()).map_err(|r| reject(r, "JE", je))?;
            notes.add("JE", je, &amount, text);
            let ffrq = cols.get(row, "FFRQ");
            let paid_on = if status == PaymentStatus::Pending {
                let d = rules::optional_date(ffrq.as_deref());
                notes.add("FFRQ", ffrq, &d, |v| v.as_ref().and_then(date_text));
                d.value
            } else {
                match rules::date(ffrq.as_deref()) {
                    DateRead::Date(d) => {
                        notes.add("FFRQ", ffrq, &d, date_text);
                        Some(d.value)
                    }
                    DateRead::Null | DateRead::Invalid => {
                        return Err(reject(R::DateInvalid, "FFRQ", ffrq));
                    }
                }
            };
            if verdict_only {
                return Ok((Vec::new(), notes));
            }
            let sl = cols.get(row, "SL");
            let quantity = rules::optional_amount(sl.as_deref());
            notes.add("SL", sl, &quantity, |v| v.as_ref().and_then(text));
            let yhzh = cols.get(row, "YHZH");
            let account = rules::account(yhzh.as_deref());
            notes.add("YHZH", yhzh, &account, |v| v.clone());
            let owner = if self
                .legacy_owns_up_to
                .is_some_and(|last| i32::from(year.value) <= last)
                && matches!(status, PaymentStatus::Pending | PaymentStatus::Failed)
            {
                "legacy"
            } else {
                "new"
            };
            let key = cols.get(row, "MXID").clone();
            Ok((
                vec![
                    key.clone(),
                    Some(pcid.to_string()),
                    Some(beneficiary.to_string()),
                    Some(county_code(batch_county)),
                    Some(program),
                    Some(year.value.to_string()),
                    quantity.value.as_ref().and_then(text),
                    text(&amount.value),
                    account.value,
                    Some(status.as_str().to_owned()),
                    paid_on.as_ref().and_then(date_text),
                    notes.text(row, &cols, "YHLSH"),
                    notes.text(row, &cols, "SBYY"),
                    cols.get(row, "YMXID").clone(),
                    Some(owner.to_owned()),
                    key,
                ],
                notes,
            ))
        })();
        (county, result)
    }

    fn payments(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Payments;
        let cols = Cols(table);
        // Pass 0: the lines some reissue points at (few); pass 1: which of them load. Memory
        // grows with reissues, not with lines.
        let mut referenced = HashSet::new();
        self.each_row_of(table, Some(&["YMXID"]), |_, row| {
            if let Some(m) = cols
                .get(&row, "YMXID")
                .as_deref()
                .and_then(|m| m.trim().parse::<i64>().ok())
            {
                referenced.insert(m);
            }
            Ok(())
        })?;
        let mut loaded = HashSet::new();
        let decisive = ["MXID", "PCID", "DXID", "XMDM", "ND", "FFZT", "JE", "FFRQ"];
        self.each_row_of(table, Some(&decisive), |t, row| {
            let Some(m) = cols
                .get(&row, "MXID")
                .as_deref()
                .and_then(|m| m.parse::<i64>().ok())
            else {
                return Ok(());
            };
            if referenced.contains(&m)
                && let (_, Ok(_)) = t.line_rules(&row, true)
            {
                loaded.insert(m);
            }
            Ok(())
        })?;
        let reissue_of = 13;
        self.each_row(table, |t, row| {
            let key = cols.get(&row, "MXID").clone().unwrap_or_default();
            let (county, result) = t.line_rules(&row, false);
            let county = county_code(county);
            match result {
                Err(r) => t.out.reject(table, &key, &county, &r),
                Ok((mut out, mut notes)) => {
                    let ymxid = out[reissue_of].take();
                    if let Some(raw) = ymxid {
                        match raw.trim().parse::<i64>() {
                            Ok(m) if loaded.contains(&m) => out[reissue_of] = Some(m.to_string()),
                            _ => notes.0.push(Correction {
                                code: C::ValueCleared,
                                field: "YMXID",
                                before: Some(raw),
                                after: None,
                            }),
                        }
                    }
                    let group = out[3].clone().unwrap_or_default();
                    t.out.write(&group, "payment", &out)?;
                    t.out.loaded(table, &county);
                    t.out.corrections(table, &key, &county, &notes.0)
                }
            }
        })?;
        info!(
            reissue_targets_loaded = loaded.len(),
            "Transformed payment lines."
        );
        Ok(())
    }
}
