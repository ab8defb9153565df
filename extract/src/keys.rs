//! The keys of legacy rows, checked as they are read, before anything depends on them.
//!
//! A legacy key is what the legacy database can hold as a primary key: a `BIGINT` key is a
//! whole number written canonically (`123`, never `0123`, ` 123` or `12a`); the text key of a
//! reference table is not empty and not longer than its column (program codes after trimming,
//! as the rules read them); no key occurs twice. Only an export file (or a SQLite file, which
//! does not enforce column types) can break this. Such a source is refused, naming the table,
//! the line and the value: a row without a usable key could not be recorded as loaded, merged
//! or rejected under its key, so no honest outcome exists for it inside the run.

use std::collections::HashSet;

use ykt_domain::{ColumnKind, LegacyTable};

/// What is wrong with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    NotANumber(String),
    Empty,
    TooLong { value: String, max: u16 },
    Duplicate(String),
}

impl KeyProblem {
    /// The problem as a sentence fragment, e.g. `the key MXID “12a” is not a whole number`.
    pub fn describe(&self, table: LegacyTable) -> String {
        let column = table.key_column().name;
        match self {
            KeyProblem::NotANumber(v) => format!(
                "the key {column} {} is not a whole number (legacy keys are BIGINT)",
                printable(v)
            ),
            KeyProblem::Empty => format!("the key {column} is empty"),
            KeyProblem::TooLong { value, max } => format!(
                "the key {column} {} is longer than its {max} characters",
                printable(value)
            ),
            KeyProblem::Duplicate(v) => {
                format!("the key {column} {} occurs more than once", printable(v))
            }
        }
    }
}

/// A value as a message may show it: quoted, control characters escaped, at most 40
/// characters.
pub fn printable(value: &str) -> String {
    let mut out = String::from("“");
    for (i, c) in value.chars().enumerate() {
        if i == 40 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out.push('”');
    out
}

/// Checks the keys of one table as its rows go by.
pub(crate) struct KeyCheck {
    table: LegacyTable,
    /// Keys arrive in key order (a database read): a repeat shows as a key not above the last.
    ordered: bool,
    last: Option<i64>,
    numbers: Vec<i64>,
    texts: HashSet<String>,
}

impl KeyCheck {
    pub(crate) fn new(table: LegacyTable, ordered: bool) -> KeyCheck {
        KeyCheck {
            table,
            ordered,
            last: None,
            numbers: Vec::new(),
            texts: HashSet::new(),
        }
    }

    pub(crate) fn check(&mut self, key: Option<&str>) -> Result<(), KeyProblem> {
        let raw = key.unwrap_or("");
        let column = self.table.key_column();
        if let ColumnKind::BigInt = column.kind {
            let n = ykt_domain::canonical_bigint(raw)
                .ok_or_else(|| KeyProblem::NotANumber(raw.to_owned()))?;
            if self.ordered {
                if self.last.is_some_and(|last| n <= last) {
                    return Err(KeyProblem::Duplicate(raw.to_owned()));
                }
                self.last = Some(n);
            } else {
                self.numbers.push(n);
            }
            return Ok(());
        }
        // Program codes are read trimmed: two codes that differ only in spaces are one.
        let text = if self.table == LegacyTable::Programs {
            raw.trim()
        } else {
            raw
        };
        if text.trim().is_empty() {
            return Err(KeyProblem::Empty);
        }
        let max = match column.kind {
            ColumnKind::Varchar(n) | ColumnKind::Char(n) => n,
            _ => u16::MAX,
        };
        if text.chars().count() > usize::from(max) {
            return Err(KeyProblem::TooLong {
                value: raw.to_owned(),
                max,
            });
        }
        if !self.texts.insert(text.to_owned()) {
            return Err(KeyProblem::Duplicate(raw.to_owned()));
        }
        Ok(())
    }

    /// The repeats among keys that arrived out of order.
    pub(crate) fn finish(mut self) -> Result<(), KeyProblem> {
        self.numbers.sort_unstable();
        match self.numbers.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(KeyProblem::Duplicate(w[0].to_string())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical_numbers_or_short_unique_texts() {
        let mut k = KeyCheck::new(LegacyTable::Payments, false);
        assert_eq!(k.check(Some("12")), Ok(()));
        for bad in [
            "012",
            " 12",
            "12a",
            "",
            "1.0",
            "１２",
            "99999999999999999999",
        ] {
            assert!(
                matches!(k.check(Some(bad)), Err(KeyProblem::NotANumber(_))),
                "{bad}"
            );
        }
        assert_eq!(k.check(Some("7")), Ok(()));
        assert_eq!(k.check(Some("12")), Ok(()));
        assert_eq!(k.finish(), Err(KeyProblem::Duplicate("12".into())));

        let mut ordered = KeyCheck::new(LegacyTable::Payments, true);
        assert_eq!(ordered.check(Some("5")), Ok(()));
        assert!(matches!(
            ordered.check(Some("5")),
            Err(KeyProblem::Duplicate(_))
        ));

        let mut p = KeyCheck::new(LegacyTable::Programs, false);
        assert_eq!(p.check(Some("NY001")), Ok(()));
        assert!(matches!(
            p.check(Some(" NY001 ")),
            Err(KeyProblem::Duplicate(_))
        ));
        assert_eq!(p.check(Some("  ")), Err(KeyProblem::Empty));
        assert!(matches!(
            p.check(Some("NY001NY001X")),
            Err(KeyProblem::TooLong { max: 10, .. })
        ));
        assert_eq!(printable("a\0b"), "“a\\u{0}b”");
    }
}
