//! The survivor of each ID number: the T_BTDX row a person registered more than once is merged
//! into (latest GXSJ, tie the highest DXID). A province holds one entry per person, so an
//! entry is kept small: the ID number packed into a number, the stamp inline when it has the
//! usual `YYYY-MM-DD HH:MM:SS` shape, and no other allocation.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Where each ID number's survivor is.
#[derive(Default)]
pub(crate) struct Survivors {
    packed: HashMap<u64, Survivor>,
    /// ID numbers that do not pack (none pass the ID rule; kept for totality).
    other: HashMap<Box<str>, Survivor>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chosen {
    pub(crate) dxid: i64,
    pub(crate) county: u32,
}

struct Survivor {
    stamp: Stamp,
    chosen: Chosen,
}

impl Survivors {
    /// Room for `people` ID numbers without growing.
    pub(crate) fn with_capacity(people: usize) -> Survivors {
        Survivors {
            packed: HashMap::with_capacity(people),
            other: HashMap::new(),
        }
    }

    /// Offers row `dxid` (of `county`, changed at `stamp`) as the survivor of `id`; it wins
    /// over the current one when its (stamp, DXID) is greater, stamps compared as text.
    pub(crate) fn offer(&mut self, id: &str, stamp: Option<&str>, dxid: i64, county: u32) {
        let candidate = Survivor {
            stamp: Stamp::new(stamp),
            chosen: Chosen { dxid, county },
        };
        match pack_id(id) {
            Some(key) => keep(self.packed.entry(key), candidate),
            None => keep(self.other.entry(id.into()), candidate),
        }
    }

    /// The survivor of `id`, when a row of it was offered.
    pub(crate) fn get(&self, id: &str) -> Option<Chosen> {
        match pack_id(id) {
            Some(key) => self.packed.get(&key),
            None => self.other.get(id),
        }
        .map(|s| s.chosen)
    }
}

fn keep<K>(slot: Entry<'_, K, Survivor>, candidate: Survivor) {
    match slot {
        Entry::Vacant(v) => {
            v.insert(candidate);
        }
        Entry::Occupied(mut o) => {
            if candidate.beats(o.get()) {
                o.insert(candidate);
            }
        }
    }
}

impl Survivor {
    fn beats(&self, other: &Survivor) -> bool {
        self.stamp
            .cmp(&other.stamp)
            .then(self.chosen.dxid.cmp(&other.chosen.dxid))
            == Ordering::Greater
    }
}

/// An 18-character ID number (17 digits and a check digit or `X`) as one number, one to one.
fn pack_id(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let check = match b[17] {
        d @ b'0'..=b'9' => u64::from(d - b'0'),
        b'X' => 10,
        _ => return None,
    };
    let digits = b[..17]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    // 10^17 · 11 < 2^64.
    Some(digits * 11 + check)
}

/// A GXSJ value, ordered exactly as its text (no stamp sorts before any text). The usual shape
/// is packed into a number; anything else keeps its text.
#[derive(Debug, PartialEq, Eq)]
enum Stamp {
    /// No stamp (`Packed(0)`) or `YYYY-MM-DD HH:MM:SS` as its 14 digits plus one.
    Packed(u64),
    Text(Box<str>),
}

/// Where the digits of the usual shape are; every other byte is the separator below it.
const SHAPE: &[u8; 19] = b"0000-00-00 00:00:00";

impl Stamp {
    const NONE: Stamp = Stamp::Packed(0);

    fn new(text: Option<&str>) -> Stamp {
        let Some(text) = text else {
            return Stamp::NONE;
        };
        let b = text.as_bytes();
        let shaped = b.len() == SHAPE.len()
            && b.iter().zip(SHAPE).all(|(c, s)| match s {
                b'0' => c.is_ascii_digit(),
                _ => c == s,
            });
        if !shaped {
            return Stamp::Text(text.into());
        }
        let digits = b
            .iter()
            .zip(SHAPE)
            .filter(|(_, s)| **s == b'0')
            .fold(0u64, |n, (c, _)| n * 10 + u64::from(c - b'0'));
        Stamp::Packed(digits + 1)
    }

    /// The stamp's text back (`None` for no stamp).
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Stamp::Packed(0) => None,
            Stamp::Packed(n) => {
                let mut digits = format!("{:014}", n - 1).into_bytes().into_iter();
                let text: String = SHAPE
                    .iter()
                    .map(|s| match s {
                        b'0' => char::from(digits.next().unwrap_or(b'0')),
                        _ => char::from(*s),
                    })
                    .collect();
                Some(text.into())
            }
            Stamp::Text(t) => Some(std::borrow::Cow::Borrowed(t)),
        }
    }
}

impl Ord for Stamp {
    fn cmp(&self, other: &Stamp) -> Ordering {
        match (self, other) {
            // Same shape, same separators: the digits decide, as in the text.
            (Stamp::Packed(a), Stamp::Packed(b)) => a.cmp(b),
            _ => self.text().cmp(&other.text()),
        }
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Stamp) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Stamps of the usual shape, near-shapes and anything else, to compare with their text.
    fn stamp() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}".prop_map(Some),
            "20[0-2][0-9]-[01][0-9]-[0-3][0-9]([ T][0-2][0-9]:[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,3})?)?)?"
                .prop_map(Some),
            any::<String>().prop_map(Some),
        ]
    }

    /// What one person costs: a province holds hundreds of thousands.
    #[test]
    fn an_entry_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<(u64, Survivor)>(), 40);
    }

    #[test]
    fn the_least_stamp_of_the_usual_shape_is_still_more_than_none() {
        let zero = Stamp::new(Some("0000-00-00 00:00:00"));
        assert!(matches!(zero, Stamp::Packed(_)));
        assert!(zero > Stamp::NONE);
        assert_eq!(zero.text().as_deref(), Some("0000-00-00 00:00:00"));
    }

    proptest! {
        /// The packed stamp orders like the text it came from, and gives the text back.
        #[test]
        fn stamps_order_as_their_text(a in stamp(), b in stamp()) {
            let (x, y) = (Stamp::new(a.as_deref()), Stamp::new(b.as_deref()));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x.text().map(|t| t.into_owned()), a);
        }

        /// Two ID numbers pack to the same number only when they are the same text.
        #[test]
        fn id_numbers_pack_one_to_one(a in "[0-9]{17}[0-9X]", b in "[0-9]{17}[0-9X]|.{0,20}") {
            let pa = pack_id(&a);
            prop_assert!(pa.is_some());
            if let Some(pb) = pack_id(&b) {
                prop_assert_eq!(pa == Some(pb), a == b);
            }
        }

        /// The survivor is the row with the greatest (stamp, DXID), whatever the order the
        /// rows come in: against a plain map of texts.
        #[test]
        fn the_survivor_is_the_greatest_stamp_then_dxid(
            rows in proptest::collection::vec(
                (prop_oneof!["61010419800101001[0-9X]", "61010419800101002[0-9X]", ".{0,4}"],
                 stamp(), -3i64..50, 0u32..3),
                0..40,
            )
        ) {
            let mut fast = Survivors::with_capacity(4);
            let mut plain: HashMap<String, (Option<String>, i64, u32)> = HashMap::new();
            for (id, stamp, dxid, county) in &rows {
                fast.offer(id, stamp.as_deref(), *dxid, *county);
                let better = plain
                    .get(id)
                    .is_none_or(|(s, d, _)| (stamp, *dxid) > (s, *d));
                if better {
                    plain.insert(id.clone(), (stamp.clone(), *dxid, *county));
                }
            }
            for (id, (_, dxid, county)) in &plain {
                prop_assert_eq!(fast.get(id), Some(Chosen { dxid: *dxid, county: *county }));
            }
            prop_assert_eq!(fast.get("no such person"), None);
        }
    }
}
