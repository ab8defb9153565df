//! Where each rejected legacy row's reject is recorded: (legacy table, key) → county. A
//! province has hundreds of thousands of rejects and every legacy row is looked up, so the
//! usual entry (a canonical whole-number key, a six-digit county) is two numbers, and a
//! lookup that finds nothing allocates nothing.

use std::collections::HashMap;

use ykt_domain::LegacyTable;

#[derive(Default)]
pub(crate) struct Rejected {
    /// (table, key) → county as a number.
    /// Hashed by foldhash (seeded for each run): every legacy row asks it, and SipHash was
    /// 8 % of the legacy pass's CPU at the county preset.
    numbered: crate::FastMap<(LegacyTable, i64), u32>,
    /// Anything else, as text.
    other: HashMap<(&'static str, String), String>,
}

impl Rejected {
    pub(crate) fn insert(&mut self, table: LegacyTable, key: &str, county: &str) {
        match (number_key(table, key), county_number(county)) {
            (Some(k), Some(c)) => {
                self.numbered.insert(k, c);
                if !self.other.is_empty() {
                    self.other.remove(&(table.name(), key.to_owned()));
                }
            }
            (k, _) => {
                if let Some(k) = k {
                    self.numbered.remove(&k);
                }
                self.other
                    .insert((table.name(), key.to_owned()), county.to_owned());
            }
        }
    }

    /// The county the reject of `table`'s row `key` is recorded under, if it was rejected.
    pub(crate) fn county(&self, table: LegacyTable, key: &str) -> Option<String> {
        if let Some(k) = number_key(table, key)
            && let Some(c) = self.numbered.get(&k)
        {
            return Some(format!("{c:06}"));
        }
        if self.other.is_empty() {
            return None;
        }
        self.other.get(&(table.name(), key.to_owned())).cloned()
    }
}

/// A key written as a canonical whole number (`12`, never `012` or `+12`), with its table.
fn number_key(table: LegacyTable, key: &str) -> Option<(LegacyTable, i64)> {
    ykt_domain::canonical_bigint(key).map(|n| (table, n))
}

/// A county code of exactly six ASCII digits.
fn county_number(county: &str) -> Option<u32> {
    (county.len() == 6 && county.bytes().all(|b| b.is_ascii_digit()))
        .then(|| county.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> impl Strategy<Value = LegacyTable> {
        proptest::sample::select(LegacyTable::ALL[3..5].to_vec())
    }

    proptest! {
        /// Whatever the keys and counties look like, the compact map answers as a plain map
        /// of texts does.
        #[test]
        fn answers_as_a_plain_map(
            rows in proptest::collection::vec(
                // Few keys and counties, so that one key comes back with another county.
                (table(), "-?0?[0-9]|\\+[0-9]| ?[0-9a-c]{0,2}|9223372036854775808",
                 "61080[0-2]|00000[0-1]|[0-9]{5}|6108x2|"),
                0..40,
            ),
            probes in proptest::collection::vec(
                (table(), "-?0?[0-9]|\\+[0-9]| ?[0-9a-c]{0,2}"), 0..40),
        ) {
            let mut compact = Rejected::default();
            let mut plain: HashMap<(&'static str, String), String> = HashMap::new();
            for (table, key, county) in &rows {
                compact.insert(*table, key, county);
                plain.insert((table.name(), key.clone()), county.clone());
            }
            let asked = rows.iter().map(|(t, k, _)| (*t, k.clone())).chain(probes);
            for (table, key) in asked {
                prop_assert_eq!(
                    compact.county(table, &key),
                    plain.get(&(table.name(), key.clone())).cloned(),
                    "{} {:?}", table.name(), key
                );
            }
        }
    }
}
