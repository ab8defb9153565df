//! T_FFPC, the payment batches.

use crate::pipeline::*;

impl Transformer<'_> {
    pub(crate) fn batches_table(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Batches;
        let cols = Cols(table);
        self.each_row(table, |t, row| {
            let key = cols.get(&row, "PCID").clone().unwrap_or_default();
            let region_raw = cols.get(&row, "XZQHDM");
            let county_n = t.county_of(region_raw);
            let county = county_code(county_n);
            let pcid = t.key(table, &key)?;
            let result = (|| {
                let mut notes = RowCorrections::default();
                let (county_code, program, fund_year) =
                    t.funded_row_rules(&row, &cols, &mut notes)?;
                let pczt = cols.get(&row, "PCZT");
                let status =
                    rules::batch_status(pczt.as_deref()).map_err(|r| reject(r, "PCZT", pczt))?;
                let zbid_raw = cols.get(&row, "ZBID");
                let allocation = match zbid_raw.as_deref().map(|z| z.trim().parse::<i64>()) {
                    None => None,
                    Some(Ok(z)) if t.allocations.contains(&z) => Some(z),
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
                    dates.push(d.value);
                }
                let zrs = cols.get(&row, "ZRS");
                let declared_count = rules::count(zrs.as_deref());
                notes.add("ZRS", zrs, &declared_count, |v| v.map(|n| n.to_string()));
                let zje = cols.get(&row, "ZJE");
                let declared_amount = rules::optional_amount(zje.as_deref());
                notes.add("ZJE", zje, &declared_amount, |v| v.as_ref().and_then(text));
                let batch = PaymentBatch {
                    id: pcid,
                    batch_no: notes.text(&row, &cols, "PCH").unwrap_or_default(),
                    county_code,
                    program_code: program,
                    fund_year,
                    period: period.value,
                    allocation_id: allocation,
                    announce_from: dates[0],
                    announce_to: dates[1],
                    status,
                    declared_count: declared_count.value,
                    declared_amount: declared_amount.value,
                    entered_by: notes.text(&row, &cols, "LRR"),
                    reviewed_by: notes.text(&row, &cols, "SHR"),
                    legacy_pcid: pcid,
                };
                Ok((batch, notes))
            })();
            match result {
                Ok((batch, notes)) => {
                    t.batches.insert(pcid, Batch::Loaded { county: county_n });
                    t.out.write(&county, &batch)?;
                    t.out.loaded(table, &county);
                    t.out.corrections(table, &key, &county, &notes.0)
                }
                Err(r) => {
                    t.batches.insert(pcid, Batch::Rejected { county: county_n });
                    t.out.reject(table, &key, &county, &r, &row)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::testing::fixture;
    use ykt_domain::LegacyTable::Batches;

    #[test]
    fn a_batch_keeps_only_a_loaded_allocation_and_a_bad_status_rejects_it() {
        let mut f = fixture("batches");
        f.t.programs.insert("NY001".to_owned());
        f.t.allocations.insert(7);
        let batch = |pcid: &'static str, zbid: &'static str, pczt: &'static str| {
            vec![
                ("PCID", pcid),
                ("XZQHDM", "610802"),
                ("XMDM", "NY001"),
                ("ND", "2020"),
                ("ZBID", zbid),
                ("QH", "202003"),
                ("PCZT", pczt),
                ("ZRS", "2"),
                ("ZJE", "300.00"),
            ]
        };
        let rows = [
            batch("1", "7", "4"),
            batch("2", "8", "3"),
            batch("3", "7", "X"),
        ];
        let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
        f.legacy(Batches, &rows);
        f.t.batches_table().unwrap();
        let c = f.counts("610802", Batches);
        assert_eq!((c.read, c.loaded, c.rejected), (3, 2, 1));
        assert_eq!(f.code("R_STATUS_UNKNOWN"), 1);
        assert_eq!(
            f.code("C_VALUE_CLEARED"),
            1,
            "batch 2's allocation 8 was never loaded"
        );
        let staged = f.staged("610802", "payment_batch");
        let by_id = |id: &str| staged.iter().find(|r| r["id"] == id).unwrap().clone();
        assert_eq!(by_id("1")["allocation_id"], "7");
        assert!(!by_id("2").contains_key("allocation_id"));
        assert_eq!(by_id("1")["status"], "sent");
        assert_eq!(by_id("2")["status"], "announced");
        assert_eq!(by_id("1")["period"], "202003");
    }
}
