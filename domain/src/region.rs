//! The Shaanxi region reference as of 2020-12-31, and the remap of obsolete county codes.
//!
//! Both files are committed under `reference/` (CC0, from the public areacodes dataset) and
//! compiled in, so the product works without any outside file.

use std::collections::BTreeMap;

const REGIONS_CSV: &str = include_str!("../../reference/regions-shaanxi.csv");
const REMAP_CSV: &str = include_str!("../../reference/region-remap.csv");

/// The county code of rows whose county cannot be told.
pub const UNATTRIBUTED_COUNTY: &str = "000000";

/// A county-level unit current on 2020-12-31.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct County {
    pub code: &'static str,
    pub name: &'static str,
    /// The prefecture-level city, e.g. `610800`.
    pub city_code: &'static str,
    /// e.g. `榆林市`.
    pub city_name: &'static str,
}

/// How the first six digits of a legacy region code resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountyResolution {
    /// A county code current on 2020-12-31: kept.
    Current(&'static str),
    /// An obsolete code with a successor: replaced (`C_REGION_REMAPPED`).
    Remapped(&'static str),
    /// Neither (`R_REGION_UNKNOWN`).
    Unknown,
}

/// The region reference: current counties, cities and the remap of obsolete county codes.
#[derive(Debug, Clone)]
pub struct Regions {
    counties: BTreeMap<&'static str, County>,
    cities: BTreeMap<&'static str, &'static str>,
    remap: BTreeMap<&'static str, &'static str>,
    names: BTreeMap<&'static str, &'static str>,
}

impl Regions {
    /// The committed Shaanxi reference.
    pub fn shaanxi() -> Regions {
        let mut counties = BTreeMap::new();
        let mut cities = BTreeMap::new();
        let mut names = BTreeMap::new();
        // code,name,parent_code,parent_name,level,status,start_year,end_year,successor_codes,valid_2020_12_31
        for line in REGIONS_CSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&'static str> = line.split(',').collect();
            let (code, name, parent, parent_name, level, valid) =
                (f[0], f[1], f[2], f[3], f[4], f[9]);
            names.entry(code).or_insert(name);
            if valid.trim() != "Y" {
                continue;
            }
            names.insert(code, name);
            match level {
                "county" => {
                    counties.insert(
                        code,
                        County {
                            code,
                            name,
                            city_code: parent,
                            city_name: parent_name,
                        },
                    );
                }
                "prefecture" => {
                    cities.insert(code, name);
                }
                _ => {}
            }
        }
        let remap = REMAP_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let f: Vec<&'static str> = line.split(',').collect();
                (f[0], f[2])
            })
            .collect();
        Regions {
            counties,
            cities,
            remap,
            names,
        }
    }

    /// Resolves the first six digits of a region code (6, 9 or 12 digits long).
    pub fn resolve_county(&self, code: &str) -> CountyResolution {
        let Some(county) = code.get(..6) else {
            return CountyResolution::Unknown;
        };
        if let Some(c) = self.counties.get(county) {
            return CountyResolution::Current(c.code);
        }
        match self.remap.get(county) {
            Some(successor) if self.counties.contains_key(successor) => {
                CountyResolution::Remapped(successor)
            }
            _ => CountyResolution::Unknown,
        }
    }

    /// The current county for a code, if it is one.
    pub fn county(&self, code: &str) -> Option<&County> {
        self.counties.get(code)
    }

    /// All counties current on 2020-12-31, in code order (107 in Shaanxi).
    pub fn counties(&self) -> impl Iterator<Item = &County> {
        self.counties.values()
    }

    /// Prefecture-level cities current on 2020-12-31, as (code, name).
    pub fn cities(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.cities.iter().map(|(c, n)| (*c, *n))
    }

    /// Obsolete county codes that have a current successor, as (old, new).
    pub fn remapped_codes(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.remap
            .iter()
            .filter(|(_, new)| self.counties.contains_key(*new))
            .map(|(o, n)| (*o, *n))
    }

    /// The name of any code the reference has ever listed (current or historical).
    pub fn name(&self, code: &str) -> Option<&'static str> {
        self.names.get(code).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaanxi_has_107_counties_and_ten_cities() {
        let r = Regions::shaanxi();
        assert_eq!(r.counties().count(), 107);
        assert_eq!(r.cities().count(), 10);
        assert_eq!(r.county("610802").unwrap().name, "榆阳区");
        assert_eq!(r.county("610802").unwrap().city_name, "榆林市");
    }

    #[test]
    fn resolves_current_obsolete_and_unknown_codes() {
        let r = Regions::shaanxi();
        assert_eq!(
            r.resolve_county("610802"),
            CountyResolution::Current("610802")
        );
        assert_eq!(
            r.resolve_county("610821101203"),
            CountyResolution::Remapped("610881")
        );
        for old in [
            "610126", "610125", "610521", "610823", "610624", "610821", "610721", "610427",
            "610623",
        ] {
            assert!(
                matches!(r.resolve_county(old), CountyResolution::Remapped(_)),
                "{old}"
            );
        }
        assert_eq!(r.resolve_county("619999"), CountyResolution::Unknown);
        assert_eq!(r.resolve_county("6108"), CountyResolution::Unknown);
    }
}
