//! The typical subsidy programs (`reference/programs.csv`) and how the simulator pays them.

use std::str::FromStr;

use rust_decimal::Decimal;
use ykt_domain::platform::Basis;

const PROGRAMS_CSV: &str = include_str!("../../reference/programs.csv");

/// A program as the simulator runs it.
#[derive(Debug, Clone)]
pub(crate) struct ProgramDef {
    pub code: &'static str,
    pub name: &'static str,
    pub department: &'static str,
    pub basis: Basis,
    pub rate: Option<Decimal>,
    /// Months of the year in which a period is paid.
    pub months: &'static [u32],
    /// Paid once, in the year of enrolment (machinery, housing).
    pub one_off: bool,
    /// Relative share of people enrolled.
    pub weight: u32,
    /// Fixed amount range in yuan for programs without a rate.
    pub fixed_range: (i64, i64),
    /// Whole mu only (the rate has cents that a tenth of a mu would split).
    pub whole_mu: bool,
}

impl ProgramDef {
    /// The legacy BZLX code.
    pub(crate) fn basis_code(&self) -> &'static str {
        match self.basis {
            Basis::Area => "1",
            Basis::Person => "2",
            Basis::Household => "3",
            Basis::Fixed => "4",
        }
    }
}

const QUARTERLY: &[u32] = &[3, 6, 9, 12];

fn behaviour(code: &str) -> (&'static [u32], bool, u32, (i64, i64)) {
    match code {
        "NY001" => (&[4], false, 300, (0, 0)),
        "NY002" => (&[7], false, 80, (0, 0)),
        "NJ001" => (&[5], true, 15, (3_000, 30_000)),
        "YM001" => (&[9], false, 40, (0, 0)),
        "LY001" => (&[10], false, 40, (0, 0)),
        "LY002" => (&[10], false, 60, (0, 0)),
        "LY003" => (&[10], false, 40, (0, 0)),
        "LY004" => (&[12], false, 15, (6_000, 10_000)),
        "MZ001" => (QUARTERLY, false, 45, (300, 900)),
        "MZ002" => (QUARTERLY, false, 12, (1_200, 1_800)),
        "MZ003" => (&[6], false, 40, (0, 0)),
        "MZ004" => (QUARTERLY, false, 20, (0, 0)),
        "MZ005" => (QUARTERLY, false, 15, (0, 0)),
        "WJ001" => (&[8], false, 30, (0, 0)),
        "TY001" => (&[8], false, 12, (2_000, 6_000)),
        "ZJ001" => (&[11], true, 10, (15_000, 35_000)),
        "FG001" => (&[11], false, 30, (0, 0)),
        _ => (&[6], false, 10, (500, 2_000)),
    }
}

/// The programs of the committed reference list, in file order.
pub(crate) fn programs() -> Vec<ProgramDef> {
    PROGRAMS_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&'static str> = line.splitn(6, ',').collect();
            let basis = Basis::parse(f[3]).unwrap_or(Basis::Fixed);
            let rate = Decimal::from_str(f[4]).ok();
            let (months, one_off, weight, fixed_range) = behaviour(f[0]);
            let whole_mu = rate.is_some_and(|r| (r * Decimal::TEN).fract() != Decimal::ZERO);
            ProgramDef {
                code: f[0],
                name: f[1],
                department: f[2],
                basis,
                rate,
                months,
                one_off,
                weight,
                fixed_range,
                whole_mu,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_programs_load_with_rates_for_rated_bases() {
        let p = programs();
        assert_eq!(p.len(), 17);
        let ly003 = p.iter().find(|p| p.code == "LY003").unwrap();
        assert_eq!(ly003.rate, Some(Decimal::from_str("4.75").unwrap()));
        assert!(ly003.whole_mu);
        assert!(
            p.iter()
                .filter(|p| p.basis == Basis::Fixed)
                .all(|p| p.rate.is_none())
        );
    }
}
