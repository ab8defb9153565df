//! The simulation itself: county by county, people, allocations, batches and lines.

mod people;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use ykt_domain::platform::Basis;
use ykt_domain::{
    AuditFlag, CorrectionCode as C, LegacyRow, LegacyTable, Regions, RejectCode as R,
    UNATTRIBUTED_COUNTY, id_check_char,
};

use crate::params::{Params, Quirk, legacy_county_code};
use crate::programs::{ProgramDef, programs};
use crate::rng::Rng;
use crate::sink::{ExportSink, RowSink};
use crate::truth::{Case, FlagCase, TruthWriter};
use crate::variants::{self, Outcome, Variant, iso, money_text};
use crate::{SimError, names};

/// What a simulation wrote.
#[derive(Debug, Clone)]
pub struct GenerateReport {
    pub counties: usize,
    /// Rows per legacy table.
    pub rows: BTreeMap<&'static str, u64>,
    pub payment_lines: u64,
    /// Quirk and audit cases listed in the truth file.
    pub cases: u64,
    pub flags: u64,
    pub truth_path: PathBuf,
}

/// The day legacy stopped paying (the pause starts 2020-11-10): later periods are pending.
const LAST_PAY_DAY: (i32, u32, u32) = (2020, 11, 9);
const ORPHAN_BASE: i64 = 9_000_000_000;
const UNKNOWN_PROGRAM: &str = "NY099";

const BANKS: &[(&str, &str, usize)] = &[
    ("陕西信合", "621786", 19),
    ("中国邮政储蓄银行", "621799", 19),
    ("中国农业银行", "622848", 19),
    ("中国建设银行", "621700", 19),
    ("长安银行", "621449", 16),
    ("陕西信合（存折）", "2701", 17),
];

/// The quirks an allocation, a batch and a payment line may draw (a paid line may also draw
/// Q5, a malformed payment date).
const ALLOCATION_QUIRKS: &[Quirk] = &[
    Quirk::Q3,
    Quirk::Q4,
    Quirk::Q5,
    Quirk::Q9,
    Quirk::Q10,
    Quirk::Hostile,
    Quirk::Multi,
];
const BATCH_QUIRKS: &[Quirk] = &[
    Quirk::Q3,
    Quirk::Q4,
    Quirk::Q5,
    Quirk::Q6,
    Quirk::Q9,
    Quirk::Q10,
    Quirk::Q12,
    Quirk::Hostile,
    Quirk::Multi,
];
const LINE_QUIRKS: &[Quirk] = &[
    Quirk::Q4,
    Quirk::Q6,
    Quirk::Q7,
    Quirk::Q9,
    Quirk::Q10,
    Quirk::Q11,
    Quirk::Hostile,
    Quirk::Multi,
];

const FAILURE_REASONS: &[&str] = &["户名与账号不符", "账号不存在", "账户已销户", "账户冻结"];

/// Runs a simulation into `sink`, writing the truth file (and, when a second path is given,
/// the expected platform rows). `progress` is called with the number of payment lines
/// written so far.
pub fn generate(
    params: &Params,
    sink: &mut dyn RowSink,
    (truth_path, values_path): (&Path, Option<&Path>),
    progress: &dyn Fn(u64),
) -> Result<GenerateReport, SimError> {
    let mut truth = TruthWriter::create(truth_path, values_path, params)?;
    let mut g = Gen {
        params,
        rng: Rng::new(params.seed),
        sink,
        regions: Regions::shaanxi(),
        programs: programs(),
        rows: BTreeMap::new(),
        cases: 0,
        next: Ids::default(),
        progress,
        pay_cutoff: NaiveDate::from_ymd_opt(LAST_PAY_DAY.0, LAST_PAY_DAY.1, LAST_PAY_DAY.2)
            .expect("a real date"),
        carried: Vec::new(),
    };
    g.reference_rows(&mut truth)?;
    for (i, county) in params.counties.iter().enumerate() {
        let mut rng = g.rng.fork(i as u64);
        g.county(&mut truth, &mut rng, county)?;
    }
    g.sink.finish()?;
    truth.file_quirk(Quirk::Q13, ExportSink::Q13_FILES);
    let flags = truth.flags.len() as u64;
    let cases = g.cases;
    let rows = g.rows.clone();
    let truth_path = truth.finish()?;
    Ok(GenerateReport {
        counties: params.counties.len(),
        payment_lines: rows.get("T_FFMX").copied().unwrap_or(0),
        rows,
        cases,
        flags,
        truth_path,
    })
}

#[derive(Default)]
struct Ids {
    dxid: i64,
    zbid: i64,
    pcid: i64,
    mxid: i64,
    yhid: i64,
    orphan: i64,
}

fn bump(id: &mut i64) -> i64 {
    *id += 1;
    *id
}

struct Gen<'a> {
    params: &'a Params,
    rng: Rng,
    sink: &'a mut dyn RowSink,
    regions: Regions,
    programs: Vec<ProgramDef>,
    rows: BTreeMap<&'static str, u64>,
    cases: u64,
    next: Ids,
    progress: &'a dyn Fn(u64),
    pay_cutoff: NaiveDate,
    /// People of the county just simulated whom the next county may register again.
    carried: Vec<people::Carried>,
}

/// A reason a row must be rejected: the code, the field to blame and its raw value.
#[derive(Debug, Clone)]
struct Defect {
    code: R,
    field: &'static str,
    raw: Option<String>,
}

/// The reject codes of each table in the order `mapping-rules.md` § Precedence gives: a row
/// with several defects is rejected with the first.
fn precedence(table: LegacyTable) -> &'static [R] {
    match table {
        LegacyTable::Payments => &[
            R::OrphanBatch,
            R::BatchRejected,
            R::OrphanBeneficiary,
            R::BeneficiaryRejected,
            R::ProgramUnknown,
            R::YearInvalid,
            R::StatusUnknown,
            R::AmountInvalid,
            R::AmountPrecision,
            R::AmountNonpositive,
            R::DateInvalid,
        ],
        LegacyTable::Beneficiaries => &[
            R::IdInvalid,
            R::IdChecksum,
            R::NameMissing,
            R::RegionUnknown,
            R::StatusUnknown,
        ],
        LegacyTable::Batches => &[
            R::RegionUnknown,
            R::ProgramUnknown,
            R::YearInvalid,
            R::StatusUnknown,
        ],
        _ => &[
            R::RegionUnknown,
            R::ProgramUnknown,
            R::YearInvalid,
            R::AmountInvalid,
            R::AmountPrecision,
            R::AmountNonpositive,
        ],
    }
}

/// The fate of one row as the rules must decide it.
#[derive(Default)]
struct Fate {
    quirk: Option<Quirk>,
    variant: &'static str,
    field: Option<&'static str>,
    raw: Option<String>,
    /// Every defect the row carries; the rules reject it with the first by precedence.
    defects: Vec<Defect>,
    corrections: Vec<C>,
    merged: bool,
}

impl Fate {
    fn apply(&mut self, quirk: Quirk, field: &'static str, variant: &Variant) {
        self.quirk = Some(quirk);
        self.variant = variant.name;
        self.field = Some(field);
        self.raw = variant.raw.clone();
        match variant.outcome {
            Outcome::Keep => {}
            Outcome::Correct(c) => self.corrections.push(c),
            Outcome::Reject(r) => self.defect(r, field, variant.raw.clone()),
        }
    }

    /// Adds a defect without a quirk of its own (a line of a rejected batch or person).
    fn defect(&mut self, code: R, field: &'static str, raw: Option<String>) {
        self.defects.push(Defect { code, field, raw });
    }

    fn rejected(&self) -> bool {
        !self.defects.is_empty()
    }

    /// The defect the row is rejected for in `table`.
    fn reject(&self, table: LegacyTable) -> Option<&Defect> {
        let order = precedence(table);
        self.defects.iter().min_by_key(|d| {
            order
                .iter()
                .position(|c| *c == d.code)
                .unwrap_or(usize::MAX)
        })
    }

    /// Whether the row carries a defect of this code (rejected for it or for an earlier one):
    /// a row whose region is unknown belongs to no county, whatever it is rejected for.
    fn has_defect(&self, code: R) -> bool {
        self.defects.iter().any(|d| d.code == code)
    }
}

struct Enrollment {
    program: usize,
    quantity: Option<Decimal>,
    amount: Decimal,
    from_year: i32,
}

struct Person {
    dxid: i64,
    household: u32,
    account: String,
    death: Option<NaiveDate>,
    suspended: bool,
    enroll: Vec<Enrollment>,
    /// Rejected by the rules: its lines are rejected with it.
    rejected: bool,
    /// No quirk at all and no twin: may carry an audit case.
    clean: bool,
    /// Its county when loaded, for lines whose batch cannot tell.
    county: String,
    /// Programs of this person and its duplicate registration.
    all_programs: Vec<usize>,
    paid_after_death_case: bool,
    program_mismatch_used: bool,
    /// The DXID the platform keeps this person under (itself, or the registration it is
    /// merged into); none when rejected.
    survivor: Option<i64>,
}

struct County {
    current: String,
    legacy: String,
    obsolete: bool,
    name: String,
    city_initial: String,
    villages: Vec<(String, String)>,
    entry_login: String,
    review_login: String,
}

#[derive(Default)]
struct AuditQuota {
    used: HashMap<AuditFlag, u32>,
}

impl<'a> Gen<'a> {
    fn emit(
        &mut self,
        truth: &mut TruthWriter,
        county: &str,
        table: LegacyTable,
        row: LegacyRow,
    ) -> Result<(), SimError> {
        *self.rows.entry(table.name()).or_default() += 1;
        truth.row(county, table.name());
        if table == LegacyTable::Payments {
            let n = self.rows[table.name()];
            if n.is_multiple_of(10_000) {
                (self.progress)(n);
            }
        }
        self.sink.row(table, row)
    }

    fn record(
        &mut self,
        truth: &mut TruthWriter,
        table: LegacyTable,
        key: i64,
        county: &str,
        fate: Fate,
    ) -> Result<(), SimError> {
        let reject = fate.reject(table).cloned();
        let expect: Vec<&'static str> = if fate.merged {
            vec![C::BeneficiaryMerged.code()]
        } else if let Some(d) = &reject {
            vec![d.code.code()]
        } else {
            fate.corrections.iter().map(|c| c.code()).collect()
        };
        if fate.quirk.is_none() && expect.is_empty() {
            return Ok(());
        }
        // A rejected row names the field and value it is rejected for.
        let (field, raw) = match &reject {
            Some(d) if !fate.merged => (Some(d.field), d.raw.clone()),
            _ => (fate.field, fate.raw),
        };
        self.cases += 1;
        truth.case(&Case {
            quirk: fate.quirk.map(Quirk::name),
            variant: if fate.variant.is_empty() {
                "consequence"
            } else {
                fate.variant
            },
            table: table.name(),
            key,
            county,
            field,
            raw: raw.as_deref(),
            expect,
        })
    }

    /// Draws at most one of `quirks` for a row, each at its own rate.
    fn draw(&self, truth: &mut TruthWriter, rng: &mut Rng, quirks: &[Quirk]) -> Option<Quirk> {
        let mut u = rng.below(1_000_000);
        let mut hit = None;
        for q in quirks {
            truth.eligible(*q);
            let rate = u64::from(self.params.rate(*q));
            if hit.is_none() {
                if u < rate {
                    hit = Some(*q);
                } else {
                    u -= rate;
                }
            }
        }
        hit
    }

    fn reference_rows(&mut self, truth: &mut TruthWriter) -> Result<(), SimError> {
        let s = |v: &str| Some(v.to_owned());
        self.emit(
            truth,
            UNATTRIBUTED_COUNTY,
            LegacyTable::Regions,
            vec![s("610000"), s("陕西省"), None, s("1"), s("1")],
        )?;
        let cities: Vec<(&str, &str)> = self.regions.cities().collect();
        for (code, name) in cities {
            self.emit(
                truth,
                UNATTRIBUTED_COUNTY,
                LegacyTable::Regions,
                vec![s(code), s(name), s("610000"), s("2"), s("1")],
            )?;
        }
        let programs = self.programs.clone();
        for p in &programs {
            let row = vec![
                s(p.code),
                s(p.name),
                s(p.department),
                s(p.basis_code()),
                p.rate.map(money_text),
                s("1"),
            ];
            self.emit(truth, UNATTRIBUTED_COUNTY, LegacyTable::Programs, row)?;
        }
        Ok(())
    }

    fn county(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        current: &str,
    ) -> Result<(), SimError> {
        let info = self
            .regions
            .county(current)
            .expect("validated county")
            .clone();
        let legacy = legacy_county_code(current).to_owned();
        let obsolete = legacy != current;
        let name = if obsolete {
            self.regions.name(&legacy).unwrap_or(info.name).to_owned()
        } else {
            info.name.to_owned()
        };
        let s = |v: &str| Some(v.to_owned());
        self.emit(
            truth,
            current,
            LegacyTable::Regions,
            vec![s(&legacy), s(&name), s(info.city_code), s("3"), s("1")],
        )?;
        let mut villages = Vec::new();
        let townships = rng.range(6, 12);
        for t in 0..townships {
            let t_code = format!("{legacy}{:03}", 100 + t);
            let suffix = if t == 0 {
                "街道办"
            } else if rng.percent(70) {
                "镇"
            } else {
                "乡"
            };
            let t_name = format!("{}{suffix}", names::place_name(rng));
            self.emit(
                truth,
                current,
                LegacyTable::Regions,
                vec![s(&t_code), s(&t_name), s(&legacy), s("4"), s("1")],
            )?;
            for v in 0..rng.range(4, 10) {
                let v_code = format!("{t_code}{:03}", 200 + v);
                let v_name = format!("{}村", names::place_name(rng));
                self.emit(
                    truth,
                    current,
                    LegacyTable::Regions,
                    vec![s(&v_code), s(&v_name), s(&t_code), s("5"), s("1")],
                )?;
                villages.push((v_code, format!("{t_name}{v_name}")));
            }
        }
        let mut county = County {
            current: current.to_owned(),
            legacy,
            obsolete,
            name,
            city_initial: info.city_name.chars().next().unwrap_or('陕').to_string(),
            villages,
            entry_login: String::new(),
            review_login: String::new(),
        };
        self.users(truth, rng, &mut county)?;
        let mut people = self.people(truth, rng, &county)?;
        let allocations = self.allocations(truth, rng, &county, &people)?;
        self.batches(truth, rng, &county, &mut people, &allocations)?;
        Ok(())
    }

    fn users(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &mut County,
    ) -> Result<(), SimError> {
        let units = [
            ("财政局农业股", "CZ", "01"),
            ("财政局农业股", "CZ", "01"),
            ("财政局农业股", "CZ", "02"),
            ("农业农村局", "BM", "01"),
            ("民政局", "BM", "01"),
            ("财政局", "GL", "01"),
        ];
        let mut used = HashSet::new();
        for (i, (unit, role, post)) in units.iter().enumerate() {
            let yhid = bump(&mut self.next.yhid);
            let login = format!("{}{}{:02}", role.to_lowercase(), county.legacy, i + 1);
            if *role == "CZ" && *post == "01" && county.entry_login.is_empty() {
                county.entry_login = login.clone();
            }
            if *role == "CZ" && *post == "02" {
                county.review_login = login.clone();
            }
            let birth = random_date(rng, 1965, 1995);
            let id = make_id(rng, &county.current, birth, &mut used, false);
            let row = vec![
                Some(yhid.to_string()),
                Some(login),
                Some(names::person_name(rng)),
                Some(id),
                Some(format!("{}{unit}", county.name)),
                Some(county.legacy.clone()),
                Some((*role).to_owned()),
                Some((*post).to_owned()),
                Some("1".into()),
            ];
            self.emit(truth, &county.current.clone(), LegacyTable::Users, row)?;
        }
        Ok(())
    }

    fn birthplace(&self, rng: &mut Rng, county: &County) -> String {
        // Birth-place codes of people born before re-codings are historical codes.
        let old: Vec<&str> = self
            .regions
            .remapped_codes()
            .filter(|(_, new)| *new == county.current)
            .map(|(o, _)| o)
            .collect();
        if !old.is_empty() && rng.percent(30) {
            (*rng.pick(&old)).to_owned()
        } else {
            county.current.clone()
        }
    }

    fn enrollments(&self, rng: &mut Rng, exclude: &[usize], max: usize) -> Vec<Enrollment> {
        let count = (1 + usize::from(rng.percent(45)) + usize::from(rng.percent(15))).min(max);
        let mut out: Vec<Enrollment> = Vec::new();
        let weights: Vec<u32> = self
            .programs
            .iter()
            .enumerate()
            .map(|(i, p)| if exclude.contains(&i) { 0 } else { p.weight })
            .collect();
        for _ in 0..count * 3 {
            if out.len() >= count {
                break;
            }
            let program = rng.weighted(&weights);
            if out.iter().any(|e| e.program == program) || weights[program] == 0 {
                continue;
            }
            let p = &self.programs[program];
            let quantity = match p.basis {
                Basis::Area if p.whole_mu => Some(Decimal::from(rng.range(1, 30))),
                Basis::Area => Some(Decimal::new(rng.range(10, 300), 1)),
                Basis::Person | Basis::Household => Some(Decimal::ONE),
                Basis::Fixed => None,
            };
            let amount = match (p.rate, quantity) {
                (Some(rate), Some(q)) => rate * q,
                _ => Decimal::from(
                    rng.range(p.fixed_range.0 / 10, p.fixed_range.1.max(100) / 10) * 10,
                ),
            };
            let from_year = if rng.percent(60) {
                self.params.first_year
            } else {
                rng.range(
                    i64::from(self.params.first_year),
                    i64::from(self.params.last_year),
                ) as i32
            };
            out.push(Enrollment {
                program,
                quantity,
                amount,
                from_year,
            });
        }
        out
    }

    fn allocations(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        people: &[Person],
    ) -> Result<Allocations, SimError> {
        let mut out = HashMap::new();
        for (pi, program) in self.programs.clone().iter().enumerate() {
            for year in self.params.first_year..=self.params.last_year {
                let enrolled: usize = people
                    .iter()
                    .filter(|p| {
                        p.enroll
                            .iter()
                            .any(|e| e.program == pi && e.from_year <= year)
                    })
                    .count();
                if enrolled == 0 {
                    continue;
                }
                let (zbid, loaded) =
                    self.allocation(truth, rng, county, (program, year), enrolled)?;
                out.insert((pi, year), (zbid, loaded));
            }
        }
        Ok(out)
    }

    /// One program's allocation for a year, sized by the people enrolled; returns its ZBID and
    /// whether it loads.
    fn allocation(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        (program, year): (&ProgramDef, i32),
        enrolled: usize,
    ) -> Result<(i64, bool), SimError> {
        let zbid = bump(&mut self.next.zbid);
        let periods = program.months.len() as i64;
        let typical = program
            .rate
            .unwrap_or(Decimal::from(program.fixed_range.1.max(100)));
        let amount = (typical * Decimal::from(enrolled as i64 * periods * 12) / Decimal::TEN)
            .round_dp(0)
            * Decimal::from(10);
        let quirk = self.draw(truth, rng, ALLOCATION_QUIRKS);
        let mut fate = Fate::default();
        let mut xzqhdm = county.legacy.clone();
        let mut xmdm = program.code.to_owned();
        let mut nd = year.to_string();
        let mut zbje = Some(money_text(amount));
        let issued =
            NaiveDate::from_ymd_opt(year, 1, 10).expect("date") + Duration::days(rng.range(0, 60));
        let mut xdrq = Some(iso(issued));
        let mut issued_on = Some(issued);
        let dept = department_initial(program.department);
        let mut zbwh = format!(
            "{}财{dept}〔{year}〕{}号",
            county.city_initial,
            rng.range(1, 120)
        );
        match quirk {
            Some(Quirk::Q3) => {
                xzqhdm = format!("619{}", &county.legacy[3..]);
                fate.apply(Quirk::Q3, "XZQHDM", &Variant::unknown_code(&xzqhdm));
            }
            Some(Quirk::Q4) => {
                let (variant, _) = variants::amount(rng, amount);
                zbje = variant.raw.clone();
                fate.apply(Quirk::Q4, "ZBJE", &variant);
            }
            Some(Quirk::Q5) => {
                let variant = variants::date(rng, issued, false);
                xdrq = variant.raw.clone();
                issued_on = kept(&variant, issued);
                fate.apply(Quirk::Q5, "XDRQ", &variant);
            }
            Some(Quirk::Q9) => {
                xmdm = UNKNOWN_PROGRAM.into();
                fate.apply(Quirk::Q9, "XMDM", &Variant::unknown_program(&xmdm));
            }
            Some(Quirk::Q10) => {
                let variant = variants::year(rng, year);
                nd = variant.raw.clone().unwrap_or_default();
                fate.apply(Quirk::Q10, "ND", &variant);
            }
            Some(Quirk::Hostile) => {
                let (field, variant) = self.hostile_allocation_value(rng, &zbwh, year);
                match field {
                    "ZBWH" => zbwh = variant.raw.clone().unwrap_or_default(),
                    "ZBJE" => zbje = variant.raw.clone(),
                    _ => nd = variant.raw.clone().unwrap_or_default(),
                }
                fate.apply(Quirk::Hostile, field, &variant);
            }
            Some(Quirk::Multi) => {
                for (field, variant) in
                    multi_coded(rng, &["XZQHDM", "XMDM", "ND", "ZBJE"], &county.legacy, year)
                {
                    match field {
                        "XZQHDM" => xzqhdm = variant.raw.clone().unwrap_or_default(),
                        "XMDM" => xmdm = variant.raw.clone().unwrap_or_default(),
                        "ND" => nd = variant.raw.clone().unwrap_or_default(),
                        _ => zbje = variant.raw.clone(),
                    }
                    fate.apply(Quirk::Multi, field, &variant);
                }
            }
            _ => {}
        }
        if county.obsolete && !fate.rejected() {
            fate.corrections.insert(0, C::RegionRemapped);
        }
        let row_county = if fate.has_defect(R::RegionUnknown) {
            UNATTRIBUTED_COUNTY
        } else {
            county.current.as_str()
        }
        .to_owned();
        if !fate.rejected() {
            truth.expect_row(
                "allocation",
                zbid,
                &[
                    ("id", Some(zbid.to_string())),
                    ("county_code", Some(county.current.clone())),
                    ("program_code", Some(program.code.to_owned())),
                    ("fund_year", Some(year.to_string())),
                    ("doc_no", Some(zbwh.replace('\0', ""))),
                    ("amount", Some(money_text(amount))),
                    ("issued_on", issued_on.map(iso)),
                    ("legacy_zbid", Some(zbid.to_string())),
                ],
            )?;
        }
        let row = vec![
            Some(zbid.to_string()),
            Some(xzqhdm),
            Some(xmdm),
            Some(nd),
            Some(zbwh),
            zbje,
            xdrq,
        ];
        self.emit(truth, &county.current, LegacyTable::Allocations, row)?;
        let loaded = !fate.rejected();
        self.record(truth, LegacyTable::Allocations, zbid, &row_county, fate)?;
        Ok((zbid, loaded))
    }

    /// A hostile text value: a NUL inside it where the legacy engine can hold one (the rules
    /// remove it), else the text filled up to its column's width with `fill` (kept).
    fn text_filled_or_nul(&self, rng: &mut Rng, text: &str, fill: char, width: usize) -> Variant {
        if self.params.nul_in_text {
            variants::raw_variant(
                "nul_in_text",
                variants::with_nul(rng, text),
                Outcome::Correct(C::TextCleaned),
            )
        } else {
            filled(text, fill, width)
        }
    }

    /// A hostile value in an allocation: a NUL or a full document number, twenty digits of
    /// amount, a full-width year.
    fn hostile_allocation_value(
        &self,
        rng: &mut Rng,
        zbwh: &str,
        year: i32,
    ) -> (&'static str, Variant) {
        match rng.weighted(&[40, 30, 30]) {
            0 => ("ZBWH", self.text_filled_or_nul(rng, zbwh, '〇', 100)),
            1 => (
                "ZBJE",
                variants::raw_variant(
                    "twenty_digits",
                    "9".repeat(20),
                    Outcome::Reject(R::AmountInvalid),
                ),
            ),
            _ => (
                "ND",
                variants::raw_variant(
                    "full_width_year",
                    variants::full_width(&year.to_string()),
                    Outcome::Reject(R::YearInvalid),
                ),
            ),
        }
    }

    fn batches(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        people: &mut [Person],
        allocations: &Allocations,
    ) -> Result<(), SimError> {
        let mut quota = AuditQuota::default();
        let fixed_programs: Vec<usize> = self
            .programs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.basis == Basis::Fixed)
            .map(|(i, _)| i)
            .collect();
        for (pi, program) in self.programs.clone().iter().enumerate() {
            for year in self.params.first_year..=self.params.last_year {
                for (period_no, month) in program.months.iter().enumerate() {
                    let announce_from = NaiveDate::from_ymd_opt(year, *month, 1).expect("date")
                        + Duration::days(rng.range(0, 5));
                    let announce_to = announce_from + Duration::days(7);
                    let pay_day = announce_to + Duration::days(rng.range(3, 10));
                    let pending = pay_day > self.pay_cutoff;
                    let members: Vec<(usize, usize)> = people
                        .iter()
                        .enumerate()
                        .filter_map(|(i, p)| {
                            let e = p.enroll.iter().position(|e| e.program == pi)?;
                            let e_ref = &p.enroll[e];
                            let active = if program.one_off {
                                e_ref.from_year == year && period_no == 0
                            } else {
                                e_ref.from_year <= year
                            };
                            let alive = p
                                .death
                                .is_none_or(|d| pay_day <= d || p.paid_after_death_case);
                            let not_suspended = !p.suspended || year < self.params.last_year;
                            (active && alive && not_suspended).then_some((i, e))
                        })
                        .collect();
                    if members.is_empty() {
                        continue;
                    }
                    let pcid = bump(&mut self.next.pcid);
                    let ctx = BatchCtx {
                        pi,
                        year,
                        month: *month,
                        announce_from,
                        announce_to,
                        pay_day,
                        pending,
                        pcid,
                    };
                    self.batch(
                        truth,
                        rng,
                        county,
                        people,
                        &members,
                        allocations,
                        &ctx,
                        &fixed_programs,
                        &mut quota,
                    )?;
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn batch(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        people: &mut [Person],
        members: &[(usize, usize)],
        allocations: &Allocations,
        ctx: &BatchCtx,
        fixed_programs: &[usize],
        quota: &mut AuditQuota,
    ) -> Result<(), SimError> {
        let program = self.programs[ctx.pi].clone();
        let head = self.batch_head(truth, rng, county, ctx, &program);
        let mut lines = BatchLines {
            declared_count: 0,
            declared_amount: Decimal::ZERO,
            any_failed: false,
            last_for_shared: None,
            last_gxsj: ctx.pay_day,
        };
        for &member in members {
            self.batch_line(
                truth,
                rng,
                people,
                member,
                (ctx, &program, &head),
                fixed_programs,
                quota,
                &mut lines,
            )?;
        }
        self.batch_row(
            truth,
            rng,
            county,
            allocations,
            (ctx, &program),
            head,
            lines,
        )
    }

    /// A batch's own columns as legacy writes them, with the quirk it draws (if any).
    fn batch_head(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        ctx: &BatchCtx,
        program: &ProgramDef,
    ) -> BatchHead {
        let quirk = self.draw(truth, rng, BATCH_QUIRKS);
        let mut fate = Fate::default();
        let mut xzqhdm = county.legacy.clone();
        let mut xmdm = program.code.to_owned();
        let mut nd = ctx.year.to_string();
        let status_code = if ctx.pending { "3" } else { "4" };
        let mut pczt = status_code.to_owned();
        let mut gsksrq = Some(iso(ctx.announce_from));
        let mut gsjsrq = Some(iso(ctx.announce_to));
        let mut expect = BatchExpect {
            announce_from: Some(ctx.announce_from),
            announce_to: Some(ctx.announce_to),
            period: Some(format!("{}{:02}", ctx.year, ctx.month)),
            declared_amount: None,
        };
        let mut pch = format!(
            "PC{}{:02}{}-{:03}",
            ctx.year,
            ctx.month,
            program.code,
            ctx.pcid % 1000
        );
        let mut qh = format!("{}{:02}", ctx.year, ctx.month);
        let mut lrr = county.entry_login.clone();
        match quirk {
            Some(Quirk::Q3) => {
                xzqhdm = format!("619{}", &county.legacy[3..]);
                fate.apply(Quirk::Q3, "XZQHDM", &Variant::unknown_code(&xzqhdm));
            }
            Some(Quirk::Q5) => {
                let (field, date) = if rng.percent(50) {
                    ("GSKSRQ", ctx.announce_from)
                } else {
                    ("GSJSRQ", ctx.announce_to)
                };
                let variant = variants::date(rng, date, false);
                if field == "GSKSRQ" {
                    gsksrq = variant.raw.clone();
                    expect.announce_from = kept(&variant, date);
                } else {
                    gsjsrq = variant.raw.clone();
                    expect.announce_to = kept(&variant, date);
                }
                fate.apply(Quirk::Q5, field, &variant);
            }
            Some(Quirk::Q6) => {
                let variant = variants::status(rng, status_code);
                pczt = variant.raw.clone().unwrap_or_default();
                fate.apply(Quirk::Q6, "PCZT", &variant);
            }
            Some(Quirk::Q9) => {
                xmdm = UNKNOWN_PROGRAM.into();
                fate.apply(Quirk::Q9, "XMDM", &Variant::unknown_program(&xmdm));
            }
            Some(Quirk::Q10) => {
                let variant = variants::year(rng, ctx.year);
                nd = variant.raw.clone().unwrap_or_default();
                fate.apply(Quirk::Q10, "ND", &variant);
            }
            Some(Quirk::Hostile) => {
                let (field, variant) = self.hostile_batch_value(rng, ctx, &pch, &lrr);
                match field {
                    "PCH" => pch = variant.raw.clone().unwrap_or_default(),
                    "QH" => {
                        qh = variant.raw.clone().unwrap_or_default();
                        expect.period = None;
                    }
                    "LRR" => lrr = variant.raw.clone().unwrap_or_default(),
                    _ => nd = variant.raw.clone().unwrap_or_default(),
                }
                fate.apply(Quirk::Hostile, field, &variant);
            }
            Some(Quirk::Multi) => {
                for (field, variant) in multi_coded(
                    rng,
                    &["XZQHDM", "XMDM", "ND", "PCZT"],
                    &county.legacy,
                    ctx.year,
                ) {
                    match field {
                        "XZQHDM" => xzqhdm = variant.raw.clone().unwrap_or_default(),
                        "XMDM" => xmdm = variant.raw.clone().unwrap_or_default(),
                        "ND" => nd = variant.raw.clone().unwrap_or_default(),
                        _ => pczt = variant.raw.clone().unwrap_or_default(),
                    }
                    fate.apply(Quirk::Multi, field, &variant);
                }
            }
            _ => {}
        }
        BatchHead {
            rejected: fate.rejected(),
            county: (!fate.has_defect(R::RegionUnknown)).then(|| county.current.clone()),
            clean: quirk.is_none(),
            quirk,
            fate,
            xzqhdm,
            xmdm,
            nd,
            status_code,
            pczt,
            gsksrq,
            gsjsrq,
            expect,
            pch,
            qh,
            lrr,
        }
    }

    /// A hostile value in one of a batch's text columns: a NUL or a full column, a
    /// full-width month or year, an over-long clerk name.
    fn hostile_batch_value(
        &self,
        rng: &mut Rng,
        ctx: &BatchCtx,
        pch: &str,
        lrr: &str,
    ) -> (&'static str, Variant) {
        match rng.weighted(&[30, 25, 20, 25]) {
            0 => ("PCH", self.text_filled_or_nul(rng, pch, '〇', 40)),
            1 => (
                "QH",
                variants::raw_variant(
                    "full_width_month",
                    format!(
                        "{}{}",
                        ctx.year,
                        variants::full_width(&format!("{:02}", ctx.month))
                    ),
                    Outcome::Correct(C::ValueCleared),
                ),
            ),
            2 => ("LRR", filled(lrr, '录', 30)),
            _ => (
                "ND",
                variants::raw_variant(
                    "full_width_year",
                    variants::full_width(&ctx.year.to_string()),
                    Outcome::Reject(R::YearInvalid),
                ),
            ),
        }
    }

    /// One member's payment line of a batch, with the audit case or quirk it draws, and the
    /// duplicate or reissue that follows it.
    #[allow(clippy::too_many_arguments)]
    fn batch_line(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        people: &mut [Person],
        (person_index, enroll_index): (usize, usize),
        (ctx, program, head): (&BatchCtx, &ProgramDef, &BatchHead),
        fixed_programs: &[usize],
        quota: &mut AuditQuota,
        lines: &mut BatchLines,
    ) -> Result<(), SimError> {
        let member = {
            let p = &people[person_index];
            let e = &p.enroll[enroll_index];
            Member {
                index: person_index,
                line_county: head.county.clone().unwrap_or_else(|| p.county.clone()),
                county: p.county.clone(),
                rejected: p.rejected,
                clean: p.clean,
                amount: e.amount,
                quantity: e.quantity,
            }
        };
        let (eligible_audit, audit) =
            self.line_audit(rng, people, &member, (ctx, program, head), quota, lines);
        let mxid = bump(&mut self.next.mxid);
        let mut line = LineDraft::drawn(mxid, (ctx, program), &people[person_index], &member);
        let extra_duplicate = match audit {
            Some(kind) => self.apply_audit(truth, rng, kind, &mut line, ctx, lines)?,
            None => false,
        };
        // A line of a rejected batch or person may carry defects of its own; the rules
        // name the first by precedence.
        if audit.is_none() {
            self.line_quirk(
                truth,
                rng,
                &mut line,
                people,
                person_index,
                fixed_programs,
                (ctx, head.rejected),
            )?;
        }
        line.cascade(
            ctx.pcid,
            head.rejected,
            people[person_index].dxid,
            member.rejected,
        );
        line.settle_county(
            ctx.pcid,
            &head.county,
            people[person_index].dxid,
            &member.county,
        );
        // A bank return: the line is reissued by a later line, or refunded.
        let fails = audit.is_none()
            && !ctx.pending
            && people[person_index].death.is_none()
            && rng.percent(1);
        let reissue = if fails {
            lines.any_failed = true;
            line.bank_return(rng, ctx)
        } else {
            None
        };
        if audit.is_none() && eligible_audit && line.fate.quirk.is_none() && !fails {
            lines.last_for_shared = Some((
                mxid,
                people[person_index].account.clone(),
                people[person_index].household,
                person_index,
            ));
        }
        if line.gxsj > lines.last_gxsj {
            lines.last_gxsj = line.gxsj;
        }
        let original_pcid = line.pcid;
        self.write_line(
            truth,
            rng,
            line,
            &mut lines.declared_count,
            &mut lines.declared_amount,
            original_pcid == ctx.pcid,
        )?;
        if extra_duplicate {
            self.write_duplicate(
                truth,
                rng,
                &people[person_index],
                &member,
                (ctx, program),
                lines,
                mxid,
            )?;
        }
        if let Some(original_rejected) = reissue {
            self.write_reissue(
                truth,
                rng,
                people,
                &member,
                (ctx, program, head),
                fixed_programs,
                lines,
                (mxid, original_rejected),
            )?;
        }
        Ok(())
    }

    /// The duplicate of line `mxid`: the same person, program and amount paid again.
    #[allow(clippy::too_many_arguments)]
    fn write_duplicate(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        person: &Person,
        member: &Member,
        (ctx, program): (&BatchCtx, &ProgramDef),
        lines: &mut BatchLines,
        mxid: i64,
    ) -> Result<(), SimError> {
        let dup_mxid = bump(&mut self.next.mxid);
        let dup = LineDraft::paid(
            dup_mxid,
            ctx,
            person,
            program.code,
            member.quantity,
            member.amount,
            ctx.pay_day,
            &member.line_county,
        );
        self.flag(
            truth,
            AuditFlag::DuplicatePayment,
            "T_FFMX",
            vec![mxid, dup_mxid],
            &member.line_county,
        );
        self.write_line(
            truth,
            rng,
            dup,
            &mut lines.declared_count,
            &mut lines.declared_amount,
            true,
        )?;
        Ok(())
    }

    /// The line that reissues a returned line `mxid` (whose own fate says whether it was
    /// rejected), paid 20 days later.
    #[allow(clippy::too_many_arguments)]
    fn write_reissue(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        people: &mut [Person],
        member: &Member,
        (ctx, program, head): (&BatchCtx, &ProgramDef, &BatchHead),
        fixed_programs: &[usize],
        lines: &mut BatchLines,
        (mxid, original_rejected): (i64, bool),
    ) -> Result<(), SimError> {
        let new_mxid = bump(&mut self.next.mxid);
        let reissue_day = ctx.pay_day + Duration::days(20);
        let mut line = LineDraft::paid(
            new_mxid,
            ctx,
            &people[member.index],
            program.code,
            member.quantity,
            member.amount,
            reissue_day,
            &member.line_county,
        );
        line.ymxid = Some(mxid);
        line.reissue_of = (!original_rejected).then_some(mxid);
        self.line_quirk(
            truth,
            rng,
            &mut line,
            people,
            member.index,
            fixed_programs,
            (ctx, head.rejected),
        )?;
        line.cascade(
            ctx.pcid,
            head.rejected,
            people[member.index].dxid,
            member.rejected,
        );
        line.settle_county(
            ctx.pcid,
            &head.county,
            people[member.index].dxid,
            &member.county,
        );
        if original_rejected && !line.fate.rejected() {
            line.fate.corrections.push(C::ValueCleared);
            if line.fate.field.is_none() {
                line.fate.field = Some("YMXID");
            }
        }
        if reissue_day > lines.last_gxsj {
            lines.last_gxsj = reissue_day;
        }
        let in_batch = line.pcid == ctx.pcid;
        self.write_line(
            truth,
            rng,
            line,
            &mut lines.declared_count,
            &mut lines.declared_amount,
            in_batch,
        )?;
        Ok(())
    }

    /// Whether a line may be an audit case, and the case it is: paid after the person's death
    /// (once per person marked for it), else at most a few of each kind per county.
    fn line_audit(
        &self,
        rng: &mut Rng,
        people: &mut [Person],
        member: &Member,
        (ctx, program, head): (&BatchCtx, &ProgramDef, &BatchHead),
        quota: &mut AuditQuota,
        lines: &BatchLines,
    ) -> (bool, Option<AuditFlag>) {
        let person = &mut people[member.index];
        let paid_after_death = person.paid_after_death_case
            && !ctx.pending
            && !head.rejected
            && person.death.is_some_and(|d| ctx.pay_day > d);
        if paid_after_death {
            person.paid_after_death_case = false;
        }
        let eligible = !ctx.pending && !head.rejected && member.clean && !paid_after_death;
        let audit = if paid_after_death {
            Some(AuditFlag::PaidAfterDeath)
        } else if eligible && rng.chance_ppm(4_000) {
            self.audit_case(rng, people, member.index, (program, head), quota, lines)
        } else {
            None
        };
        (eligible, audit)
    }

    /// The audit case a clean line draws, if its kind suits the line and the county's quota
    /// for it is not used up.
    fn audit_case(
        &self,
        rng: &mut Rng,
        people: &[Person],
        person_index: usize,
        (program, head): (&ProgramDef, &BatchHead),
        quota: &mut AuditQuota,
        lines: &BatchLines,
    ) -> Option<AuditFlag> {
        let kinds = [
            AuditFlag::DuplicatePayment,
            AuditFlag::RateMismatch,
            AuditFlag::PaidBeforeAnnounced,
            AuditFlag::FailedNotReissued,
            AuditFlag::SharedAccount,
        ];
        let kind = *rng.pick(&kinds);
        let allowed = match kind {
            AuditFlag::RateMismatch => program.rate.is_some() && program.basis != Basis::Fixed,
            AuditFlag::PaidBeforeAnnounced => head.clean,
            AuditFlag::SharedAccount => {
                lines.last_for_shared.as_ref().is_some_and(|(_, _, h, i)| {
                    *h != people[person_index].household && *i != person_index
                })
            }
            _ => true,
        };
        (allowed && quota.take(kind, self.params)).then_some(kind)
    }

    /// Makes a line an audit case of `kind` and records the case; `true` when the case is a
    /// duplicate line still to be written.
    fn apply_audit(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        kind: AuditFlag,
        line: &mut LineDraft,
        ctx: &BatchCtx,
        lines: &mut BatchLines,
    ) -> Result<bool, SimError> {
        let mxid = line.mxid;
        let county = line.county.clone();
        // The amount as drawn: nothing has changed the line yet.
        let amount = line.readable.unwrap_or_default();
        match kind {
            AuditFlag::RateMismatch => {
                let wrong = amount + Decimal::TEN;
                line.je = Some(money_text(wrong));
                line.readable = Some(wrong);
                self.flag(
                    truth,
                    AuditFlag::RateMismatch,
                    "T_FFMX",
                    vec![mxid],
                    &county,
                );
            }
            AuditFlag::PaidBeforeAnnounced => {
                let early = ctx.announce_from + Duration::days(1);
                line.ffrq = Some(iso(early));
                line.paid_on = Some(early);
                line.gxsj = early;
                self.flag(
                    truth,
                    AuditFlag::PaidBeforeAnnounced,
                    "T_FFMX",
                    vec![mxid],
                    &county,
                );
            }
            AuditFlag::FailedNotReissued => {
                line.ffzt = "2".into();
                line.sbyy = Some((*rng.pick(FAILURE_REASONS)).to_owned());
                line.gxsj = ctx.pay_day + Duration::days(7);
                lines.any_failed = true;
                self.flag(
                    truth,
                    AuditFlag::FailedNotReissued,
                    "T_FFMX",
                    vec![mxid],
                    &county,
                );
            }
            AuditFlag::SharedAccount => {
                let (other_mxid, other_account, ..) =
                    lines.last_for_shared.clone().expect("checked above");
                line.yhzh = Some(other_account.clone());
                line.account = Some(other_account);
                self.flag(
                    truth,
                    AuditFlag::SharedAccount,
                    "T_FFMX",
                    vec![other_mxid, mxid],
                    &county,
                );
            }
            AuditFlag::PaidAfterDeath => {
                self.flag(
                    truth,
                    AuditFlag::PaidAfterDeath,
                    "T_FFMX",
                    vec![mxid],
                    &county,
                );
            }
            AuditFlag::DuplicatePayment => return Ok(true),
            _ => {}
        }
        Ok(false)
    }

    /// Q12: a batch whose declared count or amount is off from its lines, an audit case.
    fn totals_off(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        (county, ctx): (&County, &BatchCtx),
        fate: &mut Fate,
        (zrs, zje_value): (&mut i64, &mut Decimal),
    ) {
        let variant = if rng.percent(50) {
            *zrs += 1;
            Variant {
                name: "count_off",
                raw: Some(zrs.to_string()),
                outcome: Outcome::Keep,
            }
        } else {
            *zje_value += Decimal::from(100);
            Variant {
                name: "amount_off",
                raw: Some(money_text(*zje_value)),
                outcome: Outcome::Keep,
            }
        };
        fate.apply(
            Quirk::Q12,
            if variant.name == "count_off" {
                "ZRS"
            } else {
                "ZJE"
            },
            &variant,
        );
        self.flag(
            truth,
            AuditFlag::BatchTotalMismatch,
            "T_FFPC",
            vec![ctx.pcid],
            &county.current,
        );
    }

    /// The batch row, once its lines are written: totals, allocation and status from them.
    #[allow(clippy::too_many_arguments)]
    fn batch_row(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        allocations: &Allocations,
        (ctx, program): (&BatchCtx, &ProgramDef),
        head: BatchHead,
        lines: BatchLines,
    ) -> Result<(), SimError> {
        let BatchHead {
            quirk,
            mut fate,
            xzqhdm,
            xmdm,
            nd,
            status_code,
            pczt,
            gsksrq,
            gsjsrq,
            mut expect,
            pch,
            qh,
            lrr,
            rejected: batch_rejected,
            county: batch_county,
            clean: _,
        } = head;
        // The totals are declared from the lines (Q12 breaks them).
        let mut zrs = lines.declared_count;
        let mut zje_value = lines.declared_amount;
        if quirk == Some(Quirk::Q12) {
            self.totals_off(
                truth,
                rng,
                (county, ctx),
                &mut fate,
                (&mut zrs, &mut zje_value),
            );
        }
        let mut zje = Some(money_text(zje_value));
        if zje_value <= Decimal::ZERO {
            // A total that is not a positive amount is cleared like any optional amount.
            if !batch_rejected {
                fate.corrections.push(C::ValueCleared);
            }
        } else if quirk == Some(Quirk::Q4) {
            let variant = variants::optional_amount(rng, zje_value);
            zje = variant.raw.clone();
            expect.declared_amount = kept(&variant, zje_value);
            fate.apply(Quirk::Q4, "ZJE", &variant);
        } else {
            expect.declared_amount = Some(zje_value);
        }
        // Old batches often carry no allocation; a batch drawing on a rejected allocation keeps
        // the id in legacy, and the rules clear the reference.
        let zbid = match allocations.get(&(ctx.pi, ctx.year)) {
            Some(_) if ctx.year <= 2014 && rng.percent(30) => None,
            Some(&(zbid, loaded)) => {
                if !loaded && !batch_rejected {
                    fate.corrections.push(C::ValueCleared);
                    if fate.field.is_none() {
                        fate.field = Some("ZBID");
                    }
                }
                Some(zbid)
            }
            None => None,
        };
        if county.obsolete && !batch_rejected {
            fate.corrections.insert(0, C::RegionRemapped);
        }
        let pczt = if lines.any_failed && !ctx.pending && pczt == status_code {
            "5".to_owned()
        } else {
            pczt
        };
        if !batch_rejected {
            let row = ExpectedBatch {
                pch: &pch,
                lrr: &lrr,
                pczt: &pczt,
                zbid,
                zrs,
                expect: &expect,
            };
            expect_batch(truth, county, allocations, (ctx, program), row)?;
        }
        let cjsj = (ctx.announce_from - Duration::days(3)).min(self.pay_cutoff);
        let row = vec![
            Some(ctx.pcid.to_string()),
            Some(pch),
            Some(xzqhdm),
            Some(xmdm),
            Some(nd),
            zbid.map(|z| z.to_string()),
            Some(qh),
            gsksrq,
            gsjsrq,
            Some(pczt),
            Some(zrs.to_string()),
            zje,
            Some(lrr),
            Some(county.review_login.clone()),
            Some(datetime(cjsj, rng)),
            Some(datetime(
                lines.last_gxsj.max(cjsj).min(self.pay_cutoff),
                rng,
            )),
        ];
        let row_county = batch_county.unwrap_or_else(|| UNATTRIBUTED_COUNTY.to_owned());
        self.emit(truth, &county.current, LegacyTable::Batches, row)?;
        self.record(truth, LegacyTable::Batches, ctx.pcid, &row_county, fate)
    }

    fn flag(
        &mut self,
        truth: &mut TruthWriter,
        flag: AuditFlag,
        table: &'static str,
        keys: Vec<i64>,
        county: &str,
    ) {
        truth.flag(FlagCase {
            flag: flag.code(),
            table,
            keys,
            county: county.to_owned(),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn line_quirk(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        line: &mut LineDraft,
        people: &mut [Person],
        person_index: usize,
        fixed_programs: &[usize],
        (ctx, batch_rejected): (&BatchCtx, bool),
    ) -> Result<(), SimError> {
        let mut options = LINE_QUIRKS.to_vec();
        if line.ffrq.is_some() {
            options.insert(1, Quirk::Q5);
        }
        let Some(quirk) = self.draw(truth, rng, &options) else {
            return Ok(());
        };
        match quirk {
            Quirk::Q4 => {
                if let (Some(sl), true) = (line.sl.clone(), rng.percent(20)) {
                    let value: Decimal = sl.parse().unwrap_or(Decimal::ONE);
                    let variant = variants::optional_amount(rng, value);
                    line.sl = variant.raw.clone();
                    line.quantity = kept(&variant, value);
                    line.fate.apply(Quirk::Q4, "SL", &variant);
                } else {
                    let amount = line.readable.unwrap_or_default();
                    let (variant, readable) = variants::amount(rng, amount);
                    line.je = variant.raw.clone();
                    line.readable = readable;
                    line.fate.apply(Quirk::Q4, "JE", &variant);
                }
            }
            Quirk::Q5 => {
                let date = line
                    .ffrq
                    .as_deref()
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .unwrap_or(ctx.pay_day);
                let variant = variants::date(rng, date, true);
                line.ffrq = variant.raw.clone();
                line.paid_on = kept(&variant, date);
                line.fate.apply(Quirk::Q5, "FFRQ", &variant);
            }
            Quirk::Q6 => {
                let variant = variants::status(rng, &line.ffzt.clone());
                line.ffzt = variant.raw.clone().unwrap_or_default();
                line.fate.apply(Quirk::Q6, "FFZT", &variant);
            }
            Quirk::Q7 => {
                let person_county = people[person_index].county.clone();
                self.orphan_line(rng, line, &person_county);
            }
            Quirk::Q9 => {
                let person = &mut people[person_index];
                let other = fixed_programs
                    .iter()
                    .find(|p| !person.all_programs.contains(p) && **p != ctx.pi);
                match other {
                    Some(&other)
                        if !person.program_mismatch_used && person.clean && !batch_rejected =>
                    {
                        person.program_mismatch_used = true;
                        line.xmdm = self.programs[other].code.to_owned();
                        line.fate.apply(
                            Quirk::Q9,
                            "XMDM",
                            &Variant {
                                name: "program_mismatch",
                                raw: Some(line.xmdm.clone()),
                                outcome: Outcome::Keep,
                            },
                        );
                        truth.flag(FlagCase {
                            flag: AuditFlag::ProgramMismatch.code(),
                            table: "T_FFMX",
                            keys: vec![line.mxid],
                            county: line.county.clone(),
                        });
                    }
                    _ => {
                        line.xmdm = UNKNOWN_PROGRAM.into();
                        line.fate
                            .apply(Quirk::Q9, "XMDM", &Variant::unknown_program(&line.xmdm));
                    }
                }
            }
            Quirk::Q10 => {
                let variant = variants::year(rng, ctx.year);
                line.nd = variant.raw.clone().unwrap_or_default();
                line.fate.apply(Quirk::Q10, "ND", &variant);
            }
            Quirk::Q11 => {
                let account = line.yhzh.clone().unwrap_or_default();
                let variant = variants::account(rng, &account);
                line.yhzh = variant.raw.clone();
                line.account = kept(&variant, account);
                line.fate.apply(Quirk::Q11, "YHZH", &variant);
            }
            Quirk::Hostile => self.hostile_line(rng, line),
            Quirk::Multi => {
                let orphan = ORPHAN_BASE + bump(&mut self.next.orphan);
                multi_line(rng, line, orphan);
            }
            _ => {}
        }
        Ok(())
    }

    /// Q7: a line naming a batch or a person legacy does not hold; a line without its batch
    /// takes its person's county.
    fn orphan_line(&mut self, rng: &mut Rng, line: &mut LineDraft, person_county: &str) {
        let orphan = ORPHAN_BASE + bump(&mut self.next.orphan);
        if rng.percent(50) {
            line.pcid = orphan;
            line.county = person_county.to_owned();
            line.fate.apply(
                Quirk::Q7,
                "PCID",
                &Variant {
                    name: "orphan_batch",
                    raw: Some(orphan.to_string()),
                    outcome: Outcome::Reject(R::OrphanBatch),
                },
            );
        } else {
            line.dxid = orphan;
            line.fate.apply(
                Quirk::Q7,
                "DXID",
                &Variant {
                    name: "orphan_beneficiary",
                    raw: Some(orphan.to_string()),
                    outcome: Outcome::Reject(R::OrphanBeneficiary),
                },
            );
        }
    }

    /// Hostile text in one field of a payment line.
    fn hostile_line(&mut self, rng: &mut Rng, line: &mut LineDraft) {
        let amount = line
            .readable
            .map(money_text)
            .unwrap_or_else(|| "100.00".into());
        let pick = rng.weighted(&[20, 20, 20, 20, if line.ffrq.is_some() { 20 } else { 0 }]);
        let (field, variant) = match pick {
            0 => (
                "JE",
                variants::raw_variant(
                    "twenty_digits",
                    "9".repeat(20),
                    Outcome::Reject(R::AmountInvalid),
                ),
            ),
            1 => {
                // A non-zero digit far past the second decimal, within the column's 20.
                let mut raw = format!("{amount}00000000000000000000");
                raw.truncate(19);
                raw.push('1');
                (
                    "JE",
                    variants::raw_variant(
                        "far_precision",
                        raw,
                        Outcome::Reject(R::AmountPrecision),
                    ),
                )
            }
            2 if self.params.nul_in_text && line.yhlsh.is_some() => {
                let raw = variants::with_nul(rng, line.yhlsh.as_deref().unwrap_or(""));
                (
                    "YHLSH",
                    variants::raw_variant("nul_in_text", raw, Outcome::Correct(C::TextCleaned)),
                )
            }
            2 => (
                "ND",
                variants::raw_variant(
                    "full_width_year",
                    variants::full_width(&line.year.to_string()),
                    Outcome::Reject(R::YearInvalid),
                ),
            ),
            3 => (
                "JE",
                variants::raw_variant(
                    "amount_with_unit",
                    format!("{amount}元"),
                    Outcome::Reject(R::AmountInvalid),
                ),
            ),
            _ => {
                let day = line.paid_on.unwrap_or(NaiveDate::MIN);
                let raw = format!("{}年{}月{}号", day.year(), day.month(), day.day());
                (
                    "FFRQ",
                    variants::raw_variant("date_with_hao", raw, Outcome::Reject(R::DateInvalid)),
                )
            }
        };
        match field {
            "JE" => {
                line.je = variant.raw.clone();
                line.readable = None;
            }
            "YHLSH" => line.yhlsh = variant.raw.clone(),
            "ND" => line.nd = variant.raw.clone().unwrap_or_default(),
            _ => line.ffrq = variant.raw.clone(),
        }
        line.fate.apply(Quirk::Hostile, field, &variant);
    }

    fn write_line(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        line: LineDraft,
        count: &mut i64,
        amount: &mut Decimal,
        in_batch: bool,
    ) -> Result<(), SimError> {
        if in_batch {
            *count += 1;
            if let Some(a) = line.readable {
                *amount += a;
            }
        }
        if !line.fate.rejected() {
            truth.expect_row("payment", line.mxid, &line.expected())?;
        }
        let row = vec![
            Some(line.mxid.to_string()),
            Some(line.pcid.to_string()),
            Some(line.dxid.to_string()),
            Some(line.xmdm),
            Some(line.nd),
            line.sl,
            line.je,
            line.yhzh,
            Some(line.ffzt),
            line.ffrq,
            line.yhlsh,
            line.sbyy,
            line.ymxid.map(|m| m.to_string()),
            // Legacy data is as of the pause: no change stamp after it.
            Some(datetime(line.gxsj.min(self.pay_cutoff), rng)),
        ];
        let county = line.county.clone();
        self.emit(truth, &county, LegacyTable::Payments, row)?;
        self.record(truth, LegacyTable::Payments, line.mxid, &county, line.fate)
    }
}

/// Allocation id and whether it is loaded, per (program, fund year).
type Allocations = HashMap<(usize, i32), (i64, bool)>;

/// What the platform must hold for a batch's fields that quirks may change.
struct BatchExpect {
    announce_from: Option<NaiveDate>,
    announce_to: Option<NaiveDate>,
    period: Option<String>,
    declared_amount: Option<Decimal>,
}

/// A batch's own columns as legacy writes them, and what the rules must make of them.
struct BatchHead {
    quirk: Option<Quirk>,
    fate: Fate,
    xzqhdm: String,
    xmdm: String,
    nd: String,
    /// The status the batch has before its lines (3 announced, 4 sent).
    status_code: &'static str,
    pczt: String,
    gsksrq: Option<String>,
    gsjsrq: Option<String>,
    expect: BatchExpect,
    pch: String,
    qh: String,
    lrr: String,
    /// The batch is rejected (its lines follow it).
    rejected: bool,
    /// The county its lines belong to, unless the batch's region is unknown.
    county: Option<String>,
    /// The batch drew no quirk.
    clean: bool,
}

/// A batch's columns the platform's row is expected from.
struct ExpectedBatch<'a> {
    pch: &'a str,
    lrr: &'a str,
    pczt: &'a str,
    zbid: Option<i64>,
    zrs: i64,
    expect: &'a BatchExpect,
}

/// Records the platform row a loaded batch must become.
fn expect_batch(
    truth: &mut TruthWriter,
    county: &County,
    allocations: &Allocations,
    (ctx, program): (&BatchCtx, &ProgramDef),
    row: ExpectedBatch<'_>,
) -> Result<(), SimError> {
    let allocation = row
        .zbid
        .filter(|z| allocations.values().any(|(id, loaded)| id == z && *loaded));
    let status = ykt_domain::platform::legacy_status_name(LegacyTable::Batches, row.pczt.trim())
        .unwrap_or("void");
    let text = |v: &str| Some(v.replace('\0', ""));
    truth.expect_row(
        "payment_batch",
        ctx.pcid,
        &[
            ("id", Some(ctx.pcid.to_string())),
            ("batch_no", text(row.pch)),
            ("county_code", Some(county.current.clone())),
            ("program_code", Some(program.code.to_owned())),
            ("fund_year", Some(ctx.year.to_string())),
            ("period", row.expect.period.clone()),
            ("allocation_id", allocation.map(|z| z.to_string())),
            ("announce_from", row.expect.announce_from.map(iso)),
            ("announce_to", row.expect.announce_to.map(iso)),
            ("status", Some(status.to_owned())),
            ("declared_count", Some(row.zrs.to_string())),
            (
                "declared_amount",
                row.expect.declared_amount.map(money_text),
            ),
            ("entered_by", text(row.lrr)),
            ("reviewed_by", Some(county.review_login.clone())),
            ("legacy_pcid", Some(ctx.pcid.to_string())),
        ],
    )?;
    Ok(())
}

/// A text filled up to its column's width with `fill`: legacy keeps it as written.
fn filled(text: &str, fill: char, width: usize) -> Variant {
    let value: String = text
        .chars()
        .chain(std::iter::repeat(fill))
        .take(width)
        .collect();
    variants::raw_variant("column_filling", value, Outcome::Keep)
}

/// The person a batch line is paid to, with what the line needs of them.
struct Member {
    index: usize,
    /// The county the person's row names.
    county: String,
    /// The county the line belongs to: the batch's, else the person's.
    line_county: String,
    rejected: bool,
    clean: bool,
    amount: Decimal,
    quantity: Option<Decimal>,
}

/// What a batch's lines add up to as they are written.
struct BatchLines {
    declared_count: i64,
    declared_amount: Decimal,
    any_failed: bool,
    /// The last clean line (mxid, account, household, person), for a shared-account case.
    last_for_shared: Option<(i64, String, u32, usize)>,
    /// The latest change stamp of a line.
    last_gxsj: NaiveDate,
}

struct BatchCtx {
    pi: usize,
    year: i32,
    month: u32,
    announce_from: NaiveDate,
    announce_to: NaiveDate,
    pay_day: NaiveDate,
    pending: bool,
    pcid: i64,
}

struct LineDraft {
    mxid: i64,
    pcid: i64,
    dxid: i64,
    xmdm: String,
    year: i32,
    nd: String,
    sl: Option<String>,
    je: Option<String>,
    /// The amount as batch totals count it (reads as money with at most two decimals).
    readable: Option<Decimal>,
    yhzh: Option<String>,
    ffzt: String,
    ffrq: Option<String>,
    yhlsh: Option<String>,
    sbyy: Option<String>,
    ymxid: Option<i64>,
    gxsj: NaiveDate,
    fate: Fate,
    county: String,
    /// What the platform must hold: the quantity, account and day paid (after the rules), the
    /// person the line is paid to and the line it reissues.
    quantity: Option<Decimal>,
    account: Option<String>,
    paid_on: Option<NaiveDate>,
    beneficiary: Option<i64>,
    reissue_of: Option<i64>,
}

impl LineDraft {
    /// The bank returns the line: failed, then refunded or (`Some`, with whether the line is
    /// rejected) reissued.
    fn bank_return(&mut self, rng: &mut Rng, ctx: &BatchCtx) -> Option<bool> {
        self.sbyy = Some((*rng.pick(FAILURE_REASONS)).to_owned());
        self.gxsj = ctx.pay_day + Duration::days(7);
        let refunded = rng.percent(30);
        self.ffzt = set_status(&self.ffzt, if refunded { "3" } else { "4" });
        // A padded status (Q6) stays padded: the case lists the text as written.
        if self.fate.field == Some("FFZT") {
            self.fate.raw = Some(self.ffzt.clone());
        }
        (!refunded).then(|| self.fate.rejected())
    }

    /// A line as its batch and person make it, before any audit case or quirk.
    fn drawn(
        mxid: i64,
        (ctx, program): (&BatchCtx, &ProgramDef),
        person: &Person,
        member: &Member,
    ) -> LineDraft {
        let mut line = LineDraft {
            mxid,
            pcid: ctx.pcid,
            dxid: person.dxid,
            xmdm: program.code.to_owned(),
            year: ctx.year,
            nd: ctx.year.to_string(),
            sl: member.quantity.map(|q| q.normalize().to_string()),
            je: Some(money_text(member.amount)),
            readable: Some(member.amount),
            yhzh: Some(person.account.clone()),
            ffzt: if ctx.pending { "0" } else { "1" }.to_owned(),
            ffrq: (!ctx.pending).then(|| iso(ctx.pay_day)),
            yhlsh: None,
            sbyy: None,
            ymxid: None,
            gxsj: ctx.pay_day,
            fate: Fate::default(),
            county: member.line_county.clone(),
            quantity: member.quantity,
            account: Some(person.account.clone()),
            paid_on: (!ctx.pending).then_some(ctx.pay_day),
            beneficiary: person.survivor,
            reissue_of: None,
        };
        if !ctx.pending {
            line.yhlsh = Some(format!("{}{mxid:010}", ctx.pay_day.format("%Y%m%d")));
        }
        line
    }

    /// The platform's payment row for this line, when it is loaded.
    fn expected(&self) -> Vec<(&'static str, Option<String>)> {
        let status = ykt_domain::platform::legacy_status_name(
            ykt_domain::LegacyTable::Payments,
            self.ffzt.trim(),
        )
        .unwrap_or("reissued");
        // Pending and failed lines of fund years up to 2019 stay with legacy.
        let owner = if self.year <= 2019 && matches!(status, "pending" | "failed") {
            "legacy"
        } else {
            "new"
        };
        let text = |v: &Option<String>| v.as_ref().map(|t| t.replace('\0', ""));
        vec![
            ("id", Some(self.mxid.to_string())),
            ("batch_id", Some(self.pcid.to_string())),
            ("beneficiary_id", self.beneficiary.map(|b| b.to_string())),
            ("county_code", Some(self.county.clone())),
            ("program_code", Some(self.xmdm.clone())),
            ("fund_year", Some(self.year.to_string())),
            ("quantity", self.quantity.map(money_text)),
            ("amount", self.readable.map(money_text)),
            ("account_no", self.account.clone()),
            ("status", Some(status.to_owned())),
            ("paid_on", self.paid_on.map(iso)),
            ("bank_serial", text(&self.yhlsh)),
            ("failure_reason", text(&self.sbyy)),
            ("reissue_of", self.reissue_of.map(|m| m.to_string())),
            ("system_of_record", Some(owner.to_owned())),
            ("legacy_mxid", Some(self.mxid.to_string())),
        ]
    }

    /// The county the line belongs to once its quirks are in: its batch's when it still points
    /// at its batch and that batch's county is known, else its person's when it still points at
    /// its person, else none.
    fn settle_county(
        &mut self,
        pcid: i64,
        batch_county: &Option<String>,
        dxid: i64,
        person_county: &str,
    ) {
        let by_batch = batch_county.clone().filter(|_| self.pcid == pcid);
        let by_person = (self.dxid == dxid).then(|| person_county.to_owned());
        self.county = by_batch
            .or(by_person)
            .unwrap_or_else(|| UNATTRIBUTED_COUNTY.to_owned());
    }

    /// The defects a line takes from its batch and its person, when it still points at them.
    fn cascade(&mut self, pcid: i64, batch_rejected: bool, dxid: i64, person_rejected: bool) {
        if batch_rejected && self.pcid == pcid {
            self.fate
                .defect(R::BatchRejected, "PCID", Some(pcid.to_string()));
        }
        if person_rejected && self.dxid == dxid {
            self.fate
                .defect(R::BeneficiaryRejected, "DXID", Some(dxid.to_string()));
        }
    }

    /// A clean paid line of a batch (a duplicate payment, or the line that reissues a failed one).
    #[allow(clippy::too_many_arguments)]
    fn paid(
        mxid: i64,
        ctx: &BatchCtx,
        person: &Person,
        program: &str,
        quantity: Option<Decimal>,
        amount: Decimal,
        day: NaiveDate,
        county: &str,
    ) -> LineDraft {
        LineDraft {
            mxid,
            pcid: ctx.pcid,
            dxid: person.dxid,
            xmdm: program.to_owned(),
            year: ctx.year,
            nd: ctx.year.to_string(),
            sl: quantity.map(|q| q.normalize().to_string()),
            je: Some(money_text(amount)),
            readable: Some(amount),
            yhzh: Some(person.account.clone()),
            ffzt: "1".into(),
            ffrq: Some(iso(day)),
            yhlsh: Some(format!("{}{mxid:010}", day.format("%Y%m%d"))),
            sbyy: None,
            ymxid: None,
            gxsj: day,
            fate: Fate::default(),
            county: county.to_owned(),
            quantity,
            account: Some(person.account.clone()),
            paid_on: Some(day),
            beneficiary: person.survivor,
            reissue_of: None,
        }
    }
}

impl AuditQuota {
    fn take(&mut self, flag: AuditFlag, params: &Params) -> bool {
        let used = self.used.entry(flag).or_default();
        if *used < params.audit_cases_per_county {
            *used += 1;
            true
        } else {
            false
        }
    }
}

/// Two or three defects among the coded fields of an allocation or batch: its region, program,
/// year, and its amount (ZBJE) or status (PCZT).
fn multi_coded(
    rng: &mut Rng,
    fields: &[&'static str],
    legacy_county: &str,
    year: i32,
) -> Vec<(&'static str, Variant)> {
    let mut fields = fields.to_vec();
    let keep = 2 + rng.below(2) as usize;
    while fields.len() > keep {
        fields.remove(rng.below(fields.len() as u64) as usize);
    }
    fields
        .into_iter()
        .map(|field| {
            let variant = match field {
                "XZQHDM" => Variant::unknown_code(&format!("619{}", &legacy_county[3..])),
                "XMDM" => Variant::unknown_program(UNKNOWN_PROGRAM),
                "ND" => variants::raw_variant(
                    "truncated",
                    (year / 10).to_string(),
                    Outcome::Reject(R::YearInvalid),
                ),
                "PCZT" => variants::raw_variant(
                    "unknown_value",
                    "7".into(),
                    Outcome::Reject(R::StatusUnknown),
                ),
                _ => match rng.below(3) {
                    0 => variants::raw_variant(
                        "null_text",
                        "NULL".into(),
                        Outcome::Reject(R::AmountInvalid),
                    ),
                    1 => variants::raw_variant(
                        "three_decimals",
                        "100.005".into(),
                        Outcome::Reject(R::AmountPrecision),
                    ),
                    _ => variants::raw_variant(
                        "negative",
                        "-50.00".into(),
                        Outcome::Reject(R::AmountNonpositive),
                    ),
                },
            };
            (field, variant)
        })
        .collect()
}

/// Two or three defects in one payment line: its batch or person missing, its program, year,
/// status, amount or (when paid) its date.
fn multi_line(rng: &mut Rng, line: &mut LineDraft, orphan: i64) {
    let mut fields = vec!["PCID", "DXID", "XMDM", "ND", "FFZT", "JE"];
    if line.ffrq.is_some() {
        fields.push("FFRQ");
    }
    let keep = 2 + rng.below(2) as usize;
    while fields.len() > keep {
        fields.remove(rng.below(fields.len() as u64) as usize);
    }
    for field in fields {
        let variant = match field {
            "PCID" => variants::raw_variant(
                "orphan_batch",
                orphan.to_string(),
                Outcome::Reject(R::OrphanBatch),
            ),
            "DXID" => variants::raw_variant(
                "orphan_beneficiary",
                orphan.to_string(),
                Outcome::Reject(R::OrphanBeneficiary),
            ),
            "XMDM" => Variant::unknown_program(UNKNOWN_PROGRAM),
            "ND" => variants::raw_variant(
                "truncated",
                (line.year / 10).to_string(),
                Outcome::Reject(R::YearInvalid),
            ),
            "FFZT" => variants::raw_variant(
                "unknown_value",
                "7".into(),
                Outcome::Reject(R::StatusUnknown),
            ),
            "JE" => match rng.below(3) {
                0 => variants::raw_variant(
                    "null_text",
                    "NULL".into(),
                    Outcome::Reject(R::AmountInvalid),
                ),
                1 => variants::raw_variant(
                    "three_decimals",
                    "100.005".into(),
                    Outcome::Reject(R::AmountPrecision),
                ),
                _ => {
                    variants::raw_variant("zero", "0".into(), Outcome::Reject(R::AmountNonpositive))
                }
            },
            _ => variants::raw_variant(
                "impossible",
                "2019-02-30".into(),
                Outcome::Reject(R::DateInvalid),
            ),
        };
        let raw = variant.raw.clone();
        match field {
            "PCID" => line.pcid = orphan,
            "DXID" => line.dxid = orphan,
            "XMDM" => line.xmdm = raw.unwrap_or_default(),
            "ND" => line.nd = raw.unwrap_or_default(),
            "FFZT" => line.ffzt = raw.unwrap_or_default(),
            "JE" => {
                line.readable = money_read(raw.as_deref());
                line.je = raw;
            }
            _ => line.ffrq = raw,
        }
        line.fate.apply(Quirk::Multi, field, &variant);
    }
}

/// The value a batch total counts for an amount's text (at most two decimals, any sign).
fn money_read(raw: Option<&str>) -> Option<Decimal> {
    let raw = raw?;
    let value: Decimal = raw.parse().ok()?;
    (value.normalize().scale() <= 2
        && !raw.contains(|c: char| !c.is_ascii_digit() && c != '.' && c != '-'))
    .then_some(value)
}

/// The value a field must have in the target: the clean value, or none when the variant
/// written into the field is cleared by the rules.
fn kept<T>(variant: &Variant, clean: T) -> Option<T> {
    match variant.outcome {
        Outcome::Correct(C::ValueCleared) => None,
        _ => Some(clean),
    }
}

/// Replaces the paid status inside a possibly padded status text; a broken one stays broken.
fn set_status(current: &str, code: &str) -> String {
    if current.trim() == "1" {
        current.replace(current.trim(), code)
    } else {
        current.to_owned()
    }
}

fn department_initial(department: &str) -> &'static str {
    match department {
        d if d.starts_with("农业") => "农",
        d if d.starts_with("林业") => "林",
        d if d.starts_with("民政") => "社",
        d if d.starts_with("移民") => "移",
        d if d.starts_with("卫生") => "卫",
        d if d.starts_with("退役") => "退",
        d if d.starts_with("住房") => "建",
        _ => "发",
    }
}

fn random_date(rng: &mut Rng, from_year: i32, to_year: i32) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(from_year, 1, 1).expect("date");
    let end = NaiveDate::from_ymd_opt(to_year, 12, 31).expect("date");
    start + Duration::days(rng.range(0, (end - start).num_days()))
}

fn datetime(day: NaiveDate, rng: &mut Rng) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        iso(day),
        rng.range(8, 18),
        rng.range(0, 59),
        rng.range(0, 59)
    )
}

/// A unique 18-digit ID with a real check character; `want_x` asks for one ending in X.
fn make_id(
    rng: &mut Rng,
    birthplace: &str,
    birth: NaiveDate,
    used: &mut HashSet<String>,
    want_x: bool,
) -> String {
    let mut day = birth;
    loop {
        let start = rng.below(1000);
        for k in 0..1000 {
            let seq = (start + k) % 1000;
            let first17 = format!("{birthplace}{}{seq:03}", day.format("%Y%m%d"));
            let check = id_check_char(first17.as_bytes()).expect("17 digits") as char;
            if want_x && check != 'X' {
                continue;
            }
            let id = format!("{first17}{check}");
            if used.insert(id.clone()) {
                return id;
            }
        }
        day += Duration::days(1);
    }
}

fn to_id15(id18: &str) -> String {
    format!("{}{}", &id18[..6], &id18[8..17])
}

fn wrong_check(rng: &mut Rng, id18: &str) -> String {
    let right = &id18[17..];
    loop {
        let c = *rng.pick(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"]);
        if c != right {
            return format!("{}{c}", &id18[..17]);
        }
    }
}

/// A Q1 variant of a person's own ID number. `pick` 1 and 6 need an ID ending in X.
fn id_variant_for(rng: &mut Rng, pick: usize, id18: &str, birth: NaiveDate) -> Variant {
    let variant = |name, raw: String, outcome| Variant {
        name,
        raw: Some(raw),
        outcome,
    };
    match pick {
        0 if birth.year() < 2000 => {
            variant("id15", to_id15(id18), Outcome::Correct(C::Id15Upgraded))
        }
        1 => variant(
            "lower_case_x",
            id18.replace('X', "x"),
            Outcome::Correct(C::IdNormalized),
        ),
        2 => {
            let fw: String = id18
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i < 6 && c.is_ascii_digit() {
                        char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            variant("full_width_digits", fw, Outcome::Correct(C::IdNormalized))
        }
        0 | 3 => {
            let raw = match rng.below(3) {
                0 => format!(" {id18}"),
                1 => format!("{id18}\u{3000}"),
                _ => format!("{} {}", &id18[..6], &id18[6..]),
            };
            variant("spaces", raw, Outcome::Correct(C::IdNormalized))
        }
        4 => variant(
            "wrong_check_character",
            wrong_check(rng, id18),
            Outcome::Reject(R::IdChecksum),
        ),
        5 => {
            // An impossible birth date (the 30th of February) with a matching check character.
            let first17 = format!("{}{}0230{}", &id18[..6], birth.year(), &id18[14..17]);
            let check = id_check_char(first17.as_bytes()).expect("17 digits") as char;
            variant(
                "impossible_birth_date",
                format!("{first17}{check}"),
                Outcome::Reject(R::IdInvalid),
            )
        }
        _ => variant(
            "lost_trailing_x",
            id18[..17].to_owned(),
            Outcome::Correct(C::IdCheckRestored),
        ),
    }
}

fn make_account(rng: &mut Rng, prefix: &str, len: usize, county_index: usize, seq: u64) -> String {
    let body = format!("{prefix}{county_index:03}{seq:07}");
    let mut out = body;
    while out.len() < len {
        out.push(char::from(b'0' + rng.below(10) as u8));
    }
    out
}
