//! What to simulate: counties, scale, years, quirk rates, audit cases.

use std::collections::BTreeMap;

use serde::Serialize;
use ykt_domain::Regions;

/// The quirks of `legacy-system.md`, each injected at its own rate, and what legacy data
/// nobody here wrote showed besides them (issue 10): people registered in two counties, ID
/// numbers shared by mistake across counties, hostile text, rows with several defects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Quirk {
    Q1,
    Q2,
    Q3,
    Q4,
    Q5,
    Q6,
    Q7,
    Q8,
    Q9,
    Q10,
    Q11,
    Q12,
    Q13,
    /// A person registered in an earlier county is registered here too (people move): the
    /// same ID number and name, merged, with lines in both counties.
    #[serde(rename = "MOVED")]
    Moved,
    /// Another person in an earlier county has the same ID number (a mistake at province
    /// scale): merged by the rules, and their names differ.
    #[serde(rename = "SHARED_ID")]
    SharedId,
    /// Hostile text: multi-byte characters inside ID numbers, amounts, years, statuses and
    /// accounts; NUL characters and column-filling values in free text; 20-digit amounts.
    #[serde(rename = "HOSTILE")]
    Hostile,
    /// Two or three defects in one row: the rules name the first by precedence.
    #[serde(rename = "MULTI")]
    Multi,
}

impl Quirk {
    pub const ALL: [Quirk; 17] = [
        Quirk::Q1,
        Quirk::Q2,
        Quirk::Q3,
        Quirk::Q4,
        Quirk::Q5,
        Quirk::Q6,
        Quirk::Q7,
        Quirk::Q8,
        Quirk::Q9,
        Quirk::Q10,
        Quirk::Q11,
        Quirk::Q12,
        Quirk::Q13,
        Quirk::Moved,
        Quirk::SharedId,
        Quirk::Hostile,
        Quirk::Multi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Quirk::Q1 => "Q1",
            Quirk::Q2 => "Q2",
            Quirk::Q3 => "Q3",
            Quirk::Q4 => "Q4",
            Quirk::Q5 => "Q5",
            Quirk::Q6 => "Q6",
            Quirk::Q7 => "Q7",
            Quirk::Q8 => "Q8",
            Quirk::Q9 => "Q9",
            Quirk::Q10 => "Q10",
            Quirk::Q11 => "Q11",
            Quirk::Q12 => "Q12",
            Quirk::Q13 => "Q13",
            Quirk::Moved => "MOVED",
            Quirk::SharedId => "SHARED_ID",
            Quirk::Hostile => "HOSTILE",
            Quirk::Multi => "MULTI",
        }
    }

    pub fn parse(s: &str) -> Option<Quirk> {
        Quirk::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s))
    }

    /// Default rate in parts per million of the rows the quirk can occur in (0.5–2 %).
    const fn default_ppm(self) -> u32 {
        match self {
            Quirk::Q1 => 15_000,
            Quirk::Q2 => 10_000,
            Quirk::Q3 => 5_000,
            Quirk::Q4 => 10_000,
            Quirk::Q5 => 10_000,
            Quirk::Q6 => 5_000,
            Quirk::Q7 => 5_000,
            Quirk::Q8 => 10_000,
            Quirk::Q9 => 5_000,
            Quirk::Q10 => 10_000,
            Quirk::Q11 => 10_000,
            Quirk::Q12 => 20_000,
            // Q13 is about files, not rows: the totals row and trailing empty lines are
            // always written; re-saves are chosen with `utf8_bom_tables`.
            Quirk::Q13 => 0,
            Quirk::Moved => 20_000,
            Quirk::SharedId => 10_000,
            Quirk::Hostile => 5_000,
            Quirk::Multi => 4_000,
        }
    }
}

/// A preset scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 3 counties, about 30 000 payment lines.
    Demo,
    /// 1 county, about 1 000 000 payment lines.
    County,
    /// 107 counties, about 10 000 000 payment lines.
    Province,
}

impl Preset {
    pub const NAMES: &'static str = "demo, county, province";

    pub fn parse(s: &str) -> Option<Preset> {
        match s {
            "demo" => Some(Preset::Demo),
            "county" => Some(Preset::County),
            "province" => Some(Preset::Province),
            _ => None,
        }
    }

    /// (number of counties, beneficiaries per county)
    fn scale(self) -> (usize, u32) {
        match self {
            Preset::Demo => (3, 740),
            Preset::County => (1, 73_500),
            Preset::Province => (107, 6_900),
        }
    }
}

/// The counties a simulation starts from, in this order: the first three cover a current
/// county, one that legacy still keeps under its obsolete code, and one more.
const PREFERRED_COUNTIES: &[&str] = &["610802", "610881", "610502"];

/// Counties re-coded after 2013: legacy still has them under the old code everywhere.
pub const LEGACY_OBSOLETE_CODES: &[(&str, &str)] = &[
    ("610117", "610126"),
    ("610118", "610125"),
    ("610503", "610521"),
    ("610803", "610823"),
    ("610603", "610624"),
    ("610881", "610821"),
    ("610703", "610721"),
    ("610482", "610427"),
    ("610681", "610623"),
];

/// Everything a simulation depends on. Same params, same seed: same bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub seed: u64,
    /// Current county codes to simulate.
    pub counties: Vec<String>,
    pub beneficiaries_per_county: u32,
    pub first_year: i32,
    pub last_year: i32,
    /// Quirk rates in parts per million.
    pub quirk_ppm: BTreeMap<Quirk, u32>,
    /// Audit cases of each kind per county.
    pub audit_cases_per_county: u32,
    /// Export tables re-saved as UTF-8 with a BOM (Q13); the rest are GBK.
    pub utf8_bom_tables: Vec<String>,
    /// Hostile values may hold a NUL character (not when a PostgreSQL legacy database is
    /// written: PostgreSQL text cannot hold one).
    pub nul_in_text: bool,
}

impl Params {
    /// The parameters of a preset, with default rates.
    pub fn preset(preset: Preset, seed: u64) -> Params {
        let (n, per_county) = preset.scale();
        Params {
            seed,
            counties: pick_counties(n),
            beneficiaries_per_county: per_county,
            first_year: 2013,
            last_year: 2020,
            quirk_ppm: Quirk::ALL.iter().map(|q| (*q, q.default_ppm())).collect(),
            audit_cases_per_county: 2,
            utf8_bom_tables: Vec::new(),
            nul_in_text: true,
        }
    }

    pub fn rate(&self, quirk: Quirk) -> u32 {
        self.quirk_ppm.get(&quirk).copied().unwrap_or(0)
    }

    /// Checks the parameters as a whole and lists every problem.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let regions = Regions::shaanxi();
        let mut problems = Vec::new();
        for code in &self.counties {
            if regions.county(code).is_none() {
                problems.push(format!(
                    "{code} is not a Shaanxi county code current on 2020-12-31"
                ));
            }
        }
        if self.counties.is_empty() {
            problems.push("no county to simulate".into());
        }
        if self.beneficiaries_per_county < 20 {
            problems.push("--beneficiaries-per-county must be at least 20".into());
        }
        if !(2000..=2030).contains(&self.first_year)
            || !(2000..=2030).contains(&self.last_year)
            || self.first_year > self.last_year
        {
            problems.push("--years must be a range within 2000-2030, e.g. 2013-2020".into());
        }
        let total: u32 = self.quirk_ppm.values().sum();
        if total > 1_000_000 {
            problems.push("the quirk rates add up to more than 100 %".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The first `n` counties: the preferred ones, then the rest in code order.
pub fn pick_counties(n: usize) -> Vec<String> {
    let regions = Regions::shaanxi();
    let mut out: Vec<String> = PREFERRED_COUNTIES.iter().map(|c| (*c).to_owned()).collect();
    for county in regions.counties() {
        if !out.iter().any(|c| c == county.code) {
            out.push(county.code.to_owned());
        }
    }
    out.truncate(n);
    out
}

/// The code legacy keeps a current county under.
pub fn legacy_county_code(current: &str) -> &str {
    LEGACY_OBSOLETE_CODES
        .iter()
        .find(|(new, _)| *new == current)
        .map_or(current, |(_, old)| old)
}
