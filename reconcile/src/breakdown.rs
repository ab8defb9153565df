//! The control totals by county, legacy table, program, fund year and status, as they are
//! added up: each text held once, each row as numbers.
//!
//! A province's breakdown is about 90,000 rows (107 counties, a few hundred programs, years and
//! statuses between them, the odd legacy values included) over a few hundred distinct texts.
//! Kept as a map keyed by five texts (each row's value with four empty texts of its own), the
//! legacy side's map and the target's grew through the legacy pass: the province preset's
//! reconciliation peaked at 300 and 316 MiB, against 230 and 234 MiB with the rows as numbers
//! here (and its `reconcile.json` byte for byte the same).

use rust_decimal::Decimal;

use crate::FastMap as HashMap;
use crate::balance::BreakdownRow;

/// A row's label: county, program, fund year and status as numbers of [`Breakdown::texts`],
/// and its legacy table.
type Label = ([u32; 4], &'static str);

/// A row's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub(crate) source_rows: u64,
    pub(crate) source_amount: Decimal,
    pub(crate) loaded_rows: u64,
    pub(crate) loaded_amount: Decimal,
    pub(crate) rejected_rows: u64,
    pub(crate) rejected_amount: Decimal,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.source_rows += other.source_rows;
        self.source_amount += other.source_amount;
        self.loaded_rows += other.loaded_rows;
        self.loaded_amount += other.loaded_amount;
        self.rejected_rows += other.rejected_rows;
        self.rejected_amount += other.rejected_amount;
    }

    /// The row of a report, with its labels.
    fn labelled(
        self,
        table: &str,
        program: String,
        fund_year: String,
        status: String,
    ) -> BreakdownRow {
        BreakdownRow {
            table: table.to_owned(),
            program,
            fund_year,
            status,
            source_rows: self.source_rows,
            source_amount: self.source_amount,
            loaded_rows: self.loaded_rows,
            loaded_amount: self.loaded_amount,
            rejected_rows: self.rejected_rows,
            rejected_amount: self.rejected_amount,
        }
    }
}

/// (county, legacy table, program, fund year, status) → figures.
#[derive(Default)]
pub(crate) struct Breakdown {
    /// Each distinct text once, numbered by its place.
    texts: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
    rows: HashMap<Label, Sums>,
}

impl Breakdown {
    fn number(&mut self, text: &str) -> u32 {
        if let Some(&n) = self.numbers.get(text) {
            return n;
        }
        // More than four billion distinct texts cannot come from one run's rows.
        let n = u32::try_from(self.texts.len()).expect("fewer than 2^32 distinct labels");
        self.texts.push(text.into());
        self.numbers.insert(text.into(), n);
        n
    }

    /// The figures of one row, added to by the caller.
    pub(crate) fn row(
        &mut self,
        county: &str,
        table: &'static str,
        program: &str,
        fund_year: &str,
        status: &str,
    ) -> &mut Sums {
        let label = [county, program, fund_year, status].map(|t| self.number(t));
        self.rows.entry((label, table)).or_default()
    }

    /// Adds `other`'s rows to these.
    pub(crate) fn add(&mut self, other: Breakdown) {
        for ((label, table), sums) in other.rows {
            let [county, program, year, status] = label.map(|n| &*other.texts[n as usize]);
            self.row(county, table, program, year, status).add(&sums);
        }
    }

    /// Every row with its county, in the order of (county, table, program, fund year, status)
    /// as texts.
    pub(crate) fn into_rows(self) -> impl Iterator<Item = (String, BreakdownRow)> {
        let Breakdown { texts, rows, .. } = self;
        let mut rows: Vec<(Label, Sums)> = rows.into_iter().collect();
        let text = |n: u32| &*texts[n as usize];
        rows.sort_unstable_by(|((a, at), _), ((b, bt), _)| {
            (text(a[0]), *at, text(a[1]), text(a[2]), text(a[3])).cmp(&(
                text(b[0]),
                *bt,
                text(b[1]),
                text(b[2]),
                text(b[3]),
            ))
        });
        rows.into_iter().map(move |((label, table), s)| {
            let [county, program, fund_year, status] = label.map(|n| texts[n as usize].to_string());
            (county, s.labelled(table, program, fund_year, status))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    type Plain = BTreeMap<(String, &'static str, String, String, String), BreakdownRow>;

    /// Labels from few texts, so that rows meet again, the odd legacy value among them.
    fn label() -> impl Strategy<Value = (String, &'static str, String, String, String)> {
        (
            "61080[12]|000000",
            proptest::sample::select(vec!["T_FFMX", "T_ZJZB", "T_FFPC"]),
            "FG00[1-3]| FG001|",
            "201[89]|201|",
            "paid|failed|7|",
        )
    }

    fn sums() -> impl Strategy<Value = Sums> {
        (
            0u64..5,
            -500i64..500,
            0u64..5,
            -500i64..500,
            0u64..5,
            -500i64..500,
        )
            .prop_map(|(sr, sa, lr, la, rr, ra)| Sums {
                source_rows: sr,
                source_amount: Decimal::new(sa, 2),
                loaded_rows: lr,
                loaded_amount: Decimal::new(la, 2),
                rejected_rows: rr,
                rejected_amount: Decimal::new(ra, 2),
            })
    }

    fn add_plain(
        plain: &mut Plain,
        key: &(String, &'static str, String, String, String),
        s: &Sums,
    ) {
        let row = s.labelled("", String::new(), String::new(), String::new());
        plain.entry(key.clone()).or_default().add(&row);
    }

    proptest! {
        /// Two sides added up and merged here come out as the plain map of texts they
        /// replace gives them: the same rows, figures and order.
        #[test]
        fn adds_up_as_a_map_of_texts(
            target in proptest::collection::vec((label(), sums()), 0..40),
            legacy in proptest::collection::vec((label(), sums()), 0..40),
        ) {
            let mut plain = Plain::new();
            let (mut ours, mut theirs) = (Breakdown::default(), Breakdown::default());
            for (rows, side) in [(&target, &mut ours), (&legacy, &mut theirs)] {
                for (key, s) in rows {
                    add_plain(&mut plain, key, s);
                    let (county, table, program, year, status) = key;
                    side.row(county, table, program, year, status).add(s);
                }
            }
            ours.add(theirs);
            let expected: Vec<(String, BreakdownRow)> = plain
                .into_iter()
                .map(|((county, table, program, fund_year, status), row)| {
                    (county, BreakdownRow { table: table.to_owned(), program, fund_year, status, ..row })
                })
                .collect();
            prop_assert_eq!(ours.into_rows().collect::<Vec<_>>(), expected);
        }
    }
}
