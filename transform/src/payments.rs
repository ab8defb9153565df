//! T_FFMX, the payment lines: the rules in the spec's precedence, the county of each line, reissues and routing by fund year.

use crate::pipeline::*;

/// What the deciding rules of a line made of it (see [`Transformer::line_verdict`]).
pub(crate) struct LineVerdict {
    pcid: i64,
    batch_county: u32,
    beneficiary: i64,
    program: String,
    year: i16,
    status: PaymentStatus,
    amount: Decimal,
    paid_on: Option<NaiveDate>,
    notes: RowCorrections,
}

/// A payment line as the rules left it, for the thread that writes the stage.
enum Line {
    Loaded {
        /// Made into its cells on the writer's thread: the rules' thread is the busier one
        /// (making the cells was a fifth of its CPU at the county preset).
        payment: Payment,
        key: String,
        /// The county the line is counted in.
        county: String,
        notes: Vec<Correction>,
    },
    Rejected {
        key: String,
        county: String,
        reject: Reject,
        row: Row,
    },
}

impl Line {
    fn stage(self, table: LegacyTable, out: &mut Outputs) -> Result<(), TransformError> {
        match self {
            Line::Loaded {
                payment,
                key,
                county,
                notes,
            } => {
                // The staged file's county group: the batch's county.
                out.write(&payment.county_code, &payment)?;
                out.loaded(table, &county);
                out.corrections(table, &key, &county, &notes)
            }
            Line::Rejected {
                key,
                county,
                reject,
                row,
            } => out.reject(table, &key, &county, &reject, &row),
        }
    }
}

impl Transformer<'_> {
    /// The rules that decide whether a T_FFMX line loads, in the spec's precedence. Returns the
    /// line's county and either what was decided or the reject. The first pass over the lines
    /// needs only this; [`Transformer::line_row`] makes the platform row of a line that passes.
    pub(crate) fn line_verdict(&self, row: &Row) -> (u32, Result<LineVerdict, Reject>) {
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
            let (program, year) = self.program_and_year(row, &cols, &mut notes)?;
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
            Ok(LineVerdict {
                pcid,
                batch_county,
                beneficiary,
                program,
                year,
                status,
                amount: amount.value,
                paid_on,
                notes,
            })
        })();
        (county, result)
    }

    /// The platform row of a line that passed [`Transformer::line_verdict`] (its `reissue_of`
    /// still to be resolved), with all its corrections.
    pub(crate) fn line_row(
        &self,
        mxid: i64,
        row: &Row,
        verdict: LineVerdict,
    ) -> (Payment, RowCorrections) {
        let cols = Cols(LegacyTable::Payments);
        let LineVerdict {
            pcid,
            batch_county,
            beneficiary,
            program,
            year,
            status,
            amount,
            paid_on,
            mut notes,
        } = verdict;
        let sl = cols.get(row, "SL");
        let quantity = rules::optional_amount(sl.as_deref());
        notes.add("SL", sl, &quantity, |v| v.as_ref().and_then(text));
        let yhzh = cols.get(row, "YHZH");
        let account = rules::account(yhzh.as_deref());
        notes.add("YHZH", yhzh, &account, |v| v.clone());
        let owner = if self
            .legacy_owns_up_to
            .is_some_and(|last| i32::from(year) <= last)
            && matches!(status, PaymentStatus::Pending | PaymentStatus::Failed)
        {
            SystemOfRecord::Legacy
        } else {
            SystemOfRecord::New
        };
        let payment = Payment {
            id: mxid,
            batch_id: pcid,
            beneficiary_id: beneficiary,
            county_code: county_code(batch_county),
            program_code: program,
            fund_year: year,
            quantity: quantity.value,
            amount,
            account_no: account.value,
            status,
            paid_on,
            bank_serial: notes.text(row, &cols, "YHLSH"),
            failure_reason: notes.text(row, &cols, "SBYY"),
            reissue_of: None,
            system_of_record: owner,
            legacy_mxid: mxid,
        };
        (payment, notes)
    }

    /// What a line comes to: its platform row and corrections, or its reject.
    fn line(&self, row: &Row, loaded: &HashSet<i64>) -> Result<Line, TransformError> {
        let table = LegacyTable::Payments;
        let cols = Cols(table);
        let key = cols.get(row, "MXID").clone().unwrap_or_default();
        let (county, verdict) = self.line_verdict(row);
        let county = county_code(county);
        let verdict = match verdict {
            Err(reject) => {
                return Ok(Line::Rejected {
                    key,
                    county,
                    reject,
                    row: row.clone(),
                });
            }
            Ok(verdict) => verdict,
        };
        let (mut payment, mut notes) = self.line_row(self.key(table, &key)?, row, verdict);
        if let Some(raw) = cols.get(row, "YMXID").clone() {
            match raw.trim().parse::<i64>() {
                Ok(m) if loaded.contains(&m) => payment.reissue_of = Some(m),
                _ => notes.0.push(Correction {
                    code: C::ValueCleared,
                    field: "YMXID",
                    before: Some(raw),
                    after: None,
                }),
            }
        }
        Ok(Line::Loaded {
            payment,
            key,
            county,
            notes: notes.0,
        })
    }

    pub(crate) fn payments(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Payments;
        let cols = Cols(table);
        // Pass 0: the lines some reissue points at (few); pass 1: which of them load. Memory
        // grows with reissues, not with lines. Both look at a column or two of every line in
        // the batch as read, and copy out only the lines pointed at (copying every line's
        // cells out as text was most of the two passes' work).
        let (ymxid, mxid) = (cols.index("YMXID"), cols.index("MXID"));
        let mut referenced = HashSet::new();
        read_staged_batches(
            &self.stage,
            table,
            Some(&["YMXID"]),
            self.progress,
            |batch| {
                referenced.extend((0..batch.num_rows()).filter_map(|i| {
                    batch
                        .value(i, ymxid)
                        .and_then(|m| m.trim().parse::<i64>().ok())
                }));
                Ok(())
            },
        )?;
        let mut loaded = HashSet::new();
        let decisive = ["MXID", "PCID", "DXID", "XMDM", "ND", "FFZT", "JE", "FFRQ"];
        read_staged_batches(
            &self.stage,
            table,
            Some(&decisive),
            self.progress,
            |batch| {
                for i in 0..batch.num_rows() {
                    let Some(m) = batch.value(i, mxid).and_then(|m| m.parse::<i64>().ok()) else {
                        continue;
                    };
                    if referenced.contains(&m)
                        && let (_, Ok(_)) = self.line_verdict(&batch.row(i))
                    {
                        loaded.insert(m);
                    }
                }
                Ok(())
            },
        )?;
        // The rules and the rows' cells are made on this thread, the staged files written on
        // another, in the lines' order (the decoding has a thread of its own too).
        let mut out = std::mem::replace(&mut self.out, Outputs::new(self.stage.clone()));
        let (stage, progress) = (self.stage.clone(), self.progress);
        let this = &*self;
        let written = std::thread::scope(|scope| -> Result<Outputs, TransformError> {
            let (lines, made) = std::sync::mpsc::sync_channel::<Vec<Line>>(1);
            let writer = scope.spawn(move || -> Result<Outputs, TransformError> {
                for batch in made {
                    for line in batch {
                        line.stage(table, &mut out)?;
                    }
                }
                Ok(out)
            });
            // Each line is copied out of the batch into the same cells, line after line.
            let mut row = Row::new();
            let read = read_staged_batches(&stage, table, None, progress, |batch| {
                let batch = (0..batch.num_rows())
                    .map(|i| {
                        batch.row_into(i, &mut row);
                        this.line(&row, &loaded)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // A writer that stopped has its error, told below.
                let _ = lines.send(batch);
                Ok(())
            });
            drop(lines);
            let out = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            read?;
            Ok(out)
        })?;
        self.out = written;
        info!(
            reissue_targets_loaded = loaded.len(),
            "Transformed payment lines."
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::testing::{Fixture, fixture};
    use crate::pipeline::{Batch, Person};
    use ykt_domain::LegacyTable::Payments;

    /// A fixture with program NY001, person 1 loaded and batch 10 loaded, both in 610802.
    fn with_person_and_batch(name: &str) -> Fixture {
        let mut f = fixture(name);
        f.t.programs.insert("NY001".to_owned());
        f.t.people.insert(
            1,
            Person::Loaded {
                beneficiary_id: 1,
                county: 610802,
            },
        );
        f.t.batches.insert(10, Batch::Loaded { county: 610802 });
        f
    }

    /// A reissue keeps its link only to a line that loads, wherever that line is in the
    /// file (before the reissue, after it, over a batch boundary of the reader); a link to a
    /// rejected, missing or unreadable line is cleared and the clearing recorded.
    #[test]
    fn a_reissue_links_to_a_loaded_line_wherever_it_is_and_nowhere_else() {
        let mut f = with_person_and_batch("reissues");
        let line = |mxid: String, pcid: &'static str, ymxid: Option<String>| {
            let mut row = vec![
                ("MXID", mxid),
                ("PCID", pcid.to_owned()),
                ("DXID", "1".to_owned()),
                ("XMDM", "NY001".to_owned()),
                ("ND", "2020".to_owned()),
                ("JE", "150.00".to_owned()),
                ("FFZT", "1".to_owned()),
                ("FFRQ", "2020-03-20".to_owned()),
            ];
            if let Some(y) = ymxid {
                row.push(("YMXID", y));
            }
            row
        };
        // Filler lines put the last reissue's target past the reader's first batch.
        let mut rows = vec![
            line("1".into(), "10", Some("20000".into())), // target after it, loads
            line("2".into(), "10", Some("3".into())),     // target rejected (orphan batch)
            line("3".into(), "99", None),
            line("4".into(), "10", Some("9999999".into())), // no such line
            line("5".into(), "10", Some("x5".into())),      // not a number
            line("6".into(), "10", Some("1".into())),       // target before it, loads
        ];
        rows.extend((7..20000).map(|m| line(m.to_string(), "10", None)));
        rows.push(line("20000".into(), "10", None));
        f.legacy_owned(Payments, &rows);
        f.t.payments().unwrap();

        let lines = f.staged("610802", "payment");
        let reissue_of = |id: &str| {
            lines
                .iter()
                .find(|r| r["id"] == id)
                .map(|r| r.get("reissue_of").cloned().unwrap_or_default())
                .unwrap()
        };
        assert_eq!(reissue_of("1"), "20000");
        assert_eq!(reissue_of("6"), "1");
        for cleared in ["2", "4", "5"] {
            assert_eq!(reissue_of(cleared), "", "line {cleared}");
        }
        assert_eq!(f.code("C_VALUE_CLEARED"), 3);
    }

    #[test]
    fn a_line_follows_its_batch_and_person_and_old_unpaid_lines_stay_with_legacy() {
        let mut f = with_person_and_batch("payments");
        f.t.people.insert(2, Person::Rejected { county: 610881 });
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
