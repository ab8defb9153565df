//! The survivor of each ID number: the T_BTDX row a person registered more than once is merged
//! into (latest GXSJ, tie the highest DXID). A province holds one offer per person, so an offer
//! is kept small (32 bytes): the ID number packed into a number, the stamp packed into another
//! when it has the usual `YYYY-MM-DD HH:MM:SS` shape, and no other allocation. The offers go
//! into one list, sorted once when the last is in: a hash map of them held a third of its
//! slots empty (province preset: 43 MB for the map, 24 MB for the list).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The rows offered as survivors, before the choice is made ([`Offers::settle`]).
#[derive(Default)]
pub(crate) struct Offers {
    /// Offers whose ID number packs, in the order offered.
    packed: Vec<Offer>,
    /// ID numbers that do not pack (none pass the ID rule; kept for totality): the best so far.
    other: HashMap<Box<str>, Offer>,
    /// The stamps that do not pack, which a [`Stamp`] with [`TEXT`] set indexes.
    texts: Vec<Box<str>>,
}

/// Where each ID number's survivor is.
pub(crate) struct Survivors {
    /// One offer per packed ID number, sorted by it.
    packed: Vec<Offer>,
    other: HashMap<Box<str>, Offer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chosen {
    pub(crate) dxid: i64,
    pub(crate) county: u32,
}

#[derive(Clone, Copy)]
struct Offer {
    id: u64,
    stamp: Stamp,
    dxid: i64,
    county: u32,
    /// The offer's place in line: of two offers equal in all else, the first stays.
    seq: u32,
}

impl Offers {
    /// Room for `people` offers without growing.
    pub(crate) fn with_capacity(people: usize) -> Offers {
        Offers {
            packed: Vec::with_capacity(people),
            other: HashMap::new(),
            texts: Vec::new(),
        }
    }

    /// Offers row `dxid` (of `county`, changed at `stamp`) as the survivor of `id`; it wins
    /// over another when its (stamp, DXID) is greater, stamps compared as text.
    pub(crate) fn offer(&mut self, id: &str, stamp: Option<&str>, dxid: i64, county: u32) {
        let stamp = Stamp::new(stamp, &mut self.texts);
        let seq = u32::try_from(self.packed.len()).unwrap_or(u32::MAX);
        let offer = |id| Offer {
            id,
            stamp,
            dxid,
            county,
            seq,
        };
        match pack_id(id) {
            Some(key) => self.packed.push(offer(key)),
            None => match self.other.entry(id.into()) {
                Entry::Vacant(v) => {
                    v.insert(offer(0));
                }
                Entry::Occupied(mut o) => {
                    if by_stamp_then_dxid(&self.texts, &offer(0), o.get()) == Ordering::Greater {
                        o.insert(offer(0));
                    }
                }
            },
        }
    }

    /// Chooses each ID number's survivor, once every row is offered.
    pub(crate) fn settle(self) -> Survivors {
        let Offers {
            mut packed,
            other,
            texts,
        } = self;
        // Per ID number the best first: greatest (stamp, DXID), then the first offered.
        packed.sort_unstable_by(|a, b| {
            a.id.cmp(&b.id)
                .then_with(|| by_stamp_then_dxid(&texts, b, a))
                .then(a.seq.cmp(&b.seq))
        });
        packed.dedup_by_key(|o| o.id);
        Survivors { packed, other }
    }
}

fn by_stamp_then_dxid(texts: &[Box<str>], a: &Offer, b: &Offer) -> Ordering {
    a.stamp.cmp(b.stamp, texts).then(a.dxid.cmp(&b.dxid))
}

impl Survivors {
    /// The survivor of `id`, when a row of it was offered.
    pub(crate) fn get(&self, id: &str) -> Option<Chosen> {
        let offer = match pack_id(id) {
            Some(key) => self
                .packed
                .binary_search_by_key(&key, |o| o.id)
                .ok()
                .map(|i| &self.packed[i]),
            None => self.other.get(id),
        }?;
        Some(Chosen {
            dxid: offer.dxid,
            county: offer.county,
        })
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

/// A GXSJ value, ordered exactly as its text (no stamp sorts before any text): `0` for none,
/// `YYYY-MM-DD HH:MM:SS` as its 14 digits plus one, any other text as [`TEXT`] plus its place
/// in the offers' list of texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp(u64);

/// Marks a stamp kept as text. Packed stamps stay below 10^14 + 1.
const TEXT: u64 = 1 << 63;

/// Where the digits of the usual shape are; every other byte is the separator below it.
const SHAPE: &[u8; 19] = b"0000-00-00 00:00:00";

impl Stamp {
    const NONE: Stamp = Stamp(0);

    fn new(text: Option<&str>, texts: &mut Vec<Box<str>>) -> Stamp {
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
            texts.push(text.into());
            return Stamp(TEXT | (texts.len() - 1) as u64);
        }
        let digits = b
            .iter()
            .zip(SHAPE)
            .filter(|(_, s)| **s == b'0')
            .fold(0u64, |n, (c, _)| n * 10 + u64::from(c - b'0'));
        Stamp(digits + 1)
    }

    /// The stamp's text back (`None` for no stamp).
    fn text<'t>(self, texts: &'t [Box<str>]) -> Option<Cow<'t, str>> {
        match self.0 {
            0 => None,
            n if n & TEXT != 0 => texts
                .get(usize::try_from(n & !TEXT).unwrap_or(usize::MAX))
                .map(|t| Cow::Borrowed(&**t)),
            n => {
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
        }
    }

    /// Orders two stamps as their texts.
    fn cmp(self, other: Stamp, texts: &[Box<str>]) -> Ordering {
        if (self.0 | other.0) & TEXT == 0 {
            // Same shape, same separators: the digits decide, as in the text.
            self.0.cmp(&other.0)
        } else {
            self.text(texts).cmp(&other.text(texts))
        }
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
    fn an_offer_is_thirty_two_bytes() {
        assert_eq!(std::mem::size_of::<Offer>(), 32);
    }

    #[test]
    fn the_least_stamp_of_the_usual_shape_is_still_more_than_none() {
        let mut texts = Vec::new();
        let zero = Stamp::new(Some("0000-00-00 00:00:00"), &mut texts);
        assert!(texts.is_empty(), "the usual shape packs");
        assert_eq!(zero.cmp(Stamp::NONE, &texts), Ordering::Greater);
        assert_eq!(zero.text(&texts).as_deref(), Some("0000-00-00 00:00:00"));
        let latest = Stamp::new(Some("9999-12-31 23:59:59"), &mut texts);
        assert!(texts.is_empty() && latest.0 & TEXT == 0);
    }

    proptest! {
        /// The packed stamp orders like the text it came from, and gives the text back.
        #[test]
        fn stamps_order_as_their_text(a in stamp(), b in stamp()) {
            let mut texts = Vec::new();
            let (x, y) = (Stamp::new(a.as_deref(), &mut texts), Stamp::new(b.as_deref(), &mut texts));
            prop_assert_eq!(x.cmp(y, &texts), a.cmp(&b));
            prop_assert_eq!(x.text(&texts).map(|t| t.into_owned()), a);
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

        /// The survivor is the row with the greatest (stamp, DXID), the first offered of
        /// equals, whatever the order the rows come in: against a plain map of texts.
        #[test]
        fn the_survivor_is_the_greatest_stamp_then_dxid(
            rows in proptest::collection::vec(
                (prop_oneof!["61010419800101001[0-9X]", "61010419800101002[0-9X]", ".{0,4}"],
                 stamp(), -3i64..50, 0u32..3),
                0..40,
            )
        ) {
            same_as_a_plain_map(&rows)?;
        }

        /// Rows alike in ID number, stamp and DXID but not in county (a legacy export can
        /// repeat a key): the first offered stays, as it did before the offers were sorted.
        #[test]
        fn of_equal_offers_the_first_stays(
            rows in proptest::collection::vec(
                (prop_oneof!["610104198001010010", "a"],
                 prop_oneof![Just(None), Just(Some("2020-01-01 08:00:00".to_owned())), Just(Some("x".to_owned()))],
                 0i64..2, 0u32..4),
                0..24,
            )
        ) {
            same_as_a_plain_map(&rows)?;
        }
    }

    fn same_as_a_plain_map(
        rows: &[(String, Option<String>, i64, u32)],
    ) -> Result<(), TestCaseError> {
        let mut fast = Offers::with_capacity(4);
        let mut plain: HashMap<String, (Option<String>, i64, u32)> = HashMap::new();
        for (id, stamp, dxid, county) in rows {
            fast.offer(id, stamp.as_deref(), *dxid, *county);
            let better = plain
                .get(id)
                .is_none_or(|(s, d, _)| (stamp, *dxid) > (s, *d));
            if better {
                plain.insert(id.clone(), (stamp.clone(), *dxid, *county));
            }
        }
        let fast = fast.settle();
        for (id, (_, dxid, county)) in &plain {
            prop_assert_eq!(
                fast.get(id),
                Some(Chosen {
                    dxid: *dxid,
                    county: *county
                })
            );
        }
        prop_assert_eq!(fast.get("no such person"), None);
        Ok(())
    }
}
