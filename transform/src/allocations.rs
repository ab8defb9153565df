//! T_ZJZB, the allocations (fund indicators).

use crate::pipeline::*;

impl Transformer<'_> {
    pub(crate) fn allocations_table(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Allocations;
        let cols = Cols(table);
        self.each_row(table, |t, row| {
            let key = cols.get(&row, "ZBID").clone().unwrap_or_default();
            let region_raw = cols.get(&row, "XZQHDM");
            let county = county_code(t.county_of(region_raw));
            let zbid = t.key(table, &key)?;
            let result = (|| {
                let mut notes = RowCorrections::default();
                let (county_code, program, fund_year) =
                    t.funded_row_rules(&row, &cols, &mut notes)?;
                let zbje = cols.get(&row, "ZBJE");
                let amount = rules::amount(zbje.as_deref()).map_err(|r| reject(r, "ZBJE", zbje))?;
                notes.add("ZBJE", zbje, &amount, text);
                let xdrq = cols.get(&row, "XDRQ");
                let issued = rules::optional_date(xdrq.as_deref());
                notes.add("XDRQ", xdrq, &issued, |v| v.as_ref().and_then(date_text));
                let allocation = Allocation {
                    id: zbid,
                    county_code,
                    program_code: program,
                    fund_year,
                    doc_no: notes.text(&row, &cols, "ZBWH"),
                    amount: amount.value,
                    issued_on: issued.value,
                    legacy_zbid: zbid,
                };
                Ok((allocation, notes))
            })();
            match result {
                Ok((allocation, notes)) => {
                    t.allocations.insert(zbid);
                    t.out.write(&county, &allocation)?;
                    t.out.loaded(table, &county);
                    t.out.corrections(table, &key, &county, &notes.0)
                }
                Err(r) => t.out.reject(table, &key, &county, &r, &row),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::testing::fixture;
    use ykt_domain::LegacyTable::Allocations;

    #[test]
    fn an_allocation_loads_under_its_current_county_or_is_rejected_with_the_first_defect() {
        let mut f = fixture("allocations");
        f.t.programs.insert("NY001".to_owned());
        f.legacy(
            Allocations,
            &[
                // 610821 (神木县) is now 610881 (神木市).
                &[
                    ("ZBID", "1"),
                    ("XZQHDM", "610821"),
                    ("XMDM", "NY001"),
                    ("ND", "2019年"),
                    ("ZBJE", "1,200.00"),
                ],
                &[
                    ("ZBID", "2"),
                    ("XZQHDM", "610881"),
                    ("XMDM", "NY999"),
                    ("ND", "2019"),
                    ("ZBJE", "10.00"),
                ],
                &[
                    ("ZBID", "3"),
                    ("XZQHDM", "610881"),
                    ("XMDM", "NY001"),
                    ("ND", "2019"),
                    ("ZBJE", "12.345"),
                ],
                &[
                    ("ZBID", "4"),
                    ("XZQHDM", "619999"),
                    ("XMDM", "NY001"),
                    ("ND", "2019"),
                    ("ZBJE", "10.00"),
                ],
            ],
        );
        f.t.allocations_table().unwrap();
        let c = f.counts("610881", Allocations);
        assert_eq!((c.read, c.loaded, c.rejected), (3, 1, 2));
        assert_eq!(
            f.counts("000000", Allocations).rejected,
            1,
            "an unknown region"
        );
        assert_eq!(f.code("C_REGION_REMAPPED"), 1);
        assert_eq!(f.code("R_PROGRAM_UNKNOWN"), 1);
        assert_eq!(f.code("R_AMOUNT_PRECISION"), 1);
        assert_eq!(f.code("R_REGION_UNKNOWN"), 1);
        assert!(f.t.allocations.contains(&1) && !f.t.allocations.contains(&2));
        let rows = f.staged("610881", "allocation");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["county_code"], "610881");
        assert_eq!(rows[0]["fund_year"], "2019");
        assert_eq!(rows[0]["amount"], "1200.00");
    }
}
