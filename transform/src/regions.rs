//! T_XZQH, the region table: every code of the reference, legacy's own names kept.

use crate::pipeline::*;

impl Transformer<'_> {
    pub(crate) fn regions_table(&mut self) -> Result<(), TransformError> {
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
                            &row,
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
                        &row,
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
            let region = Region {
                code,
                name,
                level,
                parent_code: parent,
            };
            t.out.write("reference", &region)?;
            t.out.loaded(table, &county);
            t.out.corrections(table, &key, &county, &notes.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::testing::fixture;
    use ykt_domain::LegacyTable::Regions;

    #[test]
    fn a_county_takes_the_reference_name_and_an_obsolete_code_its_successor() {
        let mut f = fixture("regions");
        f.legacy(
            Regions,
            &[
                &[("XZQHDM", "610000"), ("XZQHMC", "陕西省"), ("JB", "1")],
                &[
                    ("XZQHDM", "610802"),
                    ("XZQHMC", "榆林市榆阳区"),
                    ("SJDM", "610800"),
                    ("JB", "3"),
                ],
                &[
                    ("XZQHDM", "610821"),
                    ("XZQHMC", "神木县"),
                    ("SJDM", "610800"),
                    ("JB", "3"),
                ],
                &[
                    ("XZQHDM", "610802001"),
                    ("XZQHMC", "鼓楼街道"),
                    ("SJDM", "610802"),
                    ("JB", ""),
                ],
                &[("XZQHDM", "610802"), ("XZQHMC", "x"), ("JB", "9")],
            ],
        );
        f.t.regions_table().unwrap();
        assert_eq!(f.code("R_REGION_UNKNOWN"), 1, "level 9");
        assert_eq!(
            f.code("C_REGION_REMAPPED"),
            1,
            "神木县 610821 is 神木市 610881"
        );
        let rows = f.staged("reference", "region");
        let by_code = |code: &str| rows.iter().find(|r| r["code"] == code).unwrap().clone();
        assert_eq!(
            by_code("610802")["name"],
            "榆阳区",
            "the reference's name for a county"
        );
        assert_eq!(by_code("610881")["name"], "神木市");
        assert_eq!(
            by_code("610802001")["level"],
            "4",
            "a level told by the code's length"
        );
        assert_eq!(by_code("610802001")["parent_code"], "610802");
        assert_eq!(by_code("610000")["level"], "1");
        assert_eq!(f.counts("610802", Regions).loaded, 2);
        assert_eq!(f.counts("610881", Regions).loaded, 1);
    }
}
