//! T_FFMX, the payment lines: the rules in the spec's precedence, the county of each line, reissues and routing by fund year.

use crate::pipeline::*;

impl Transformer<'_> {
    /// The rules of one T_FFMX line, in the spec's precedence. Returns the county and either
    /// the platform row (with `reissue_of` still the raw YMXID) or the reject. With
    /// `verdict_only`, stops once the line is known to pass (an empty row): the first pass over
    /// the lines only needs which lines pass.
    pub(crate) fn line_rules(
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

    pub(crate) fn payments(&mut self) -> Result<(), TransformError> {
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

#[cfg(test)]
mod tests {
    use crate::pipeline::testing::fixture;
    use crate::pipeline::{Batch, Person};
    use ykt_domain::LegacyTable::Payments;

    #[test]
    fn a_line_follows_its_batch_and_person_and_old_unpaid_lines_stay_with_legacy() {
        let mut f = fixture("payments");
        f.t.programs.insert("NY001".to_owned());
        f.t.people.insert(
            1,
            Person::Loaded {
                beneficiary_id: 1,
                county: 610802,
            },
        );
        f.t.people.insert(2, Person::Rejected { county: 610881 });
        f.t.batches.insert(10, Batch::Loaded { county: 610802 });
        f.t.batches.insert(11, Batch::Rejected { county: 610802 });
        f.t.batches.insert(12, Batch::Loaded { county: 0 });
        let line = |mxid: &'static str,
                    pcid: &'static str,
                    dxid: &'static str,
                    nd: &'static str,
                    ffzt: &'static str| {
            let paid = if ffzt == "1" { "2020-03-20" } else { "" };
            vec![
                ("MXID", mxid),
                ("PCID", pcid),
                ("DXID", dxid),
                ("XMDM", "NY001"),
                ("ND", nd),
                ("JE", "150.00"),
                ("FFZT", ffzt),
                ("FFRQ", paid),
            ]
        };
        let rows = [
            line("100", "10", "1", "2020", "1"),
            line("101", "11", "1", "2020", "1"),
            line("102", "10", "2", "2020", "1"),
            line("103", "99", "1", "2020", "1"),
            line("104", "10", "1", "2019", "0"),
            line("105", "10", "1", "2020", "0"),
            // A batch whose region is unknown: the line falls back to its person's county.
            line("106", "12", "2", "2020", "1"),
        ];
        let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
        f.legacy(Payments, &rows);
        f.t.payments().unwrap();

        let c = f.counts("610802", Payments);
        assert_eq!((c.read, c.loaded, c.rejected), (6, 3, 3));
        assert_eq!(
            f.counts("610881", Payments).rejected,
            1,
            "line 106, by its person"
        );
        assert_eq!(f.code("R_BATCH_REJECTED"), 1);
        assert_eq!(f.code("R_BENEFICIARY_REJECTED"), 2);
        assert_eq!(f.code("R_ORPHAN_BATCH"), 1);
        let lines = f.staged("610802", "payment");
        let by_id = |id: &str| lines.iter().find(|r| r["id"] == id).unwrap().clone();
        assert_eq!(by_id("100")["status"], "paid");
        assert_eq!(by_id("100")["paid_on"], "2020-03-20");
        assert_eq!(by_id("100")["amount"], "150.00");
        assert_eq!(
            by_id("104")["system_of_record"],
            "legacy",
            "pending, fund year 2019"
        );
        assert_eq!(
            by_id("105")["system_of_record"],
            "new",
            "pending, fund year 2020"
        );
        assert_eq!(by_id("100")["system_of_record"], "new");
    }
}
