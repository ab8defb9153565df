//! T_BTXM, the program table: a reference table, never rejected (an unreadable basis is cleared).

use crate::pipeline::*;

impl Transformer<'_> {
    /// T_BTXM is a reference table: every row is loaded, and a basis or rate that does not read
    /// is cleared (`C_VALUE_CLEARED`), never a reason to reject the program and its lines.
    pub(crate) fn programs_table(&mut self) -> Result<(), TransformError> {
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
            let program = Program {
                code: code.clone(),
                name: notes.text(&row, &cols, "XMMC").unwrap_or_default(),
                department: notes.text(&row, &cols, "ZGBM").unwrap_or_default(),
                basis: basis.value,
                rate: rate.value,
            };
            t.out.write("reference", &program)?;
            t.programs.insert(code.clone());
            t.out.loaded(table, UNATTRIBUTED_COUNTY);
            t.out
                .corrections(table, &code, UNATTRIBUTED_COUNTY, &notes.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::testing::fixture;
    use ykt_domain::LegacyTable::Programs;

    #[test]
    fn every_program_loads_and_an_unreadable_basis_or_a_fixed_rate_is_cleared() {
        let mut f = fixture("programs");
        f.legacy(
            Programs,
            &[
                &[
                    ("XMDM", "NY001"),
                    ("XMMC", "耕地地力保护补贴"),
                    ("BZLX", "7"),
                    ("BZJE", "105.00"),
                ],
                &[
                    ("XMDM", " NY002 "),
                    ("XMMC", "农机购置补贴"),
                    ("BZLX", "4"),
                    ("BZJE", "100.00"),
                ],
                &[
                    ("XMDM", "MZ001"),
                    ("XMMC", "高龄补贴"),
                    ("BZLX", "2"),
                    ("BZJE", "50.00"),
                ],
            ],
        );
        f.t.programs_table().unwrap();
        let c = f.counts("000000", Programs);
        assert_eq!(
            (c.read, c.loaded, c.rejected),
            (3, 3, 0),
            "T_BTXM is never rejected"
        );
        assert_eq!(f.code("C_VALUE_CLEARED"), 2, "NY001's basis, NY002's rate");
        assert!(f.t.programs.contains("NY002"), "codes are trimmed");
        let rows = f.staged("reference", "program");
        let by_code = |code: &str| rows.iter().find(|r| r["code"] == code).unwrap().clone();
        assert!(!by_code("NY001").contains_key("basis"));
        assert_eq!(by_code("NY001")["rate"], "105.00");
        assert_eq!(by_code("NY002")["basis"], "fixed");
        assert!(!by_code("NY002").contains_key("rate"));
        assert_eq!(by_code("MZ001")["basis"], "person");
    }
}
