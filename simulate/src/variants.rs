//! How each quirk is written into a value, and what the mapping rules must make of it.
//!
//! Every function returns the raw text as it will be found and the expected outcome. The
//! expectations are written here from `mapping-rules.md`, independently of the transform
//! code, so that testing the transform against the truth file means something.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use ykt_domain::{CorrectionCode as C, RejectCode as R};

use crate::rng::Rng;

/// What the rules must do with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Loaded as is.
    Keep,
    /// Loaded with these corrections.
    Correct(C),
    /// The row is rejected.
    Reject(R),
}

pub(crate) struct Variant {
    pub name: &'static str,
    pub raw: Option<String>,
    pub outcome: Outcome,
}

impl Variant {
    /// A program code that T_BTXM does not have (Q9).
    pub(crate) fn unknown_program(raw: &str) -> Variant {
        v(
            "unknown_program",
            Some(raw.to_owned()),
            Outcome::Reject(R::ProgramUnknown),
        )
    }

    /// A region code that exists nowhere (Q3).
    pub(crate) fn unknown_code(raw: &str) -> Variant {
        v(
            "unknown_code",
            Some(raw.to_owned()),
            Outcome::Reject(R::RegionUnknown),
        )
    }
}

fn v(name: &'static str, raw: Option<String>, outcome: Outcome) -> Variant {
    Variant { name, raw, outcome }
}

/// A variant whose raw text is given.
pub(crate) fn raw_variant(name: &'static str, raw: String, outcome: Outcome) -> Variant {
    v(name, Some(raw), outcome)
}

/// `text` with a NUL at a random character position.
pub(crate) fn with_nul(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len() as u64 + 1) as usize;
    chars.insert(at, '\0');
    chars.into_iter().collect()
}

/// `1200.00`-style text.
pub(crate) fn money_text(amount: Decimal) -> String {
    let mut a = amount;
    a.rescale(2);
    a.to_string()
}

pub(crate) fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c),
            '.' => '．',
            ',' => '，',
            '-' => '－',
            'X' => 'Ｘ',
            _ => c,
        })
        .collect()
}

fn with_thousands(text: &str) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A required amount (JE, ZBJE) with quirk Q4. Also returns the value the batch totals count
/// (values that read as money with at most two decimals).
pub(crate) fn amount(rng: &mut Rng, amount: Decimal) -> (Variant, Option<Decimal>) {
    let text = money_text(amount);
    match rng.weighted(&[20, 20, 15, 10, 10, 8, 5, 7, 5]) {
        0 if amount >= Decimal::from(1000) => (
            v(
                "thousands_separator",
                Some(with_thousands(&text)),
                Outcome::Correct(C::AmountNormalized),
            ),
            Some(amount),
        ),
        0 | 1 => (
            v(
                "surrounding_spaces",
                Some(format!(" {text} ")),
                Outcome::Correct(C::AmountNormalized),
            ),
            Some(amount),
        ),
        2 => (
            v(
                "full_width",
                Some(full_width(&text)),
                Outcome::Correct(C::AmountNormalized),
            ),
            Some(amount),
        ),
        3 => (
            v(
                "plain_form",
                Some(amount.normalize().to_string()),
                Outcome::Keep,
            ),
            Some(amount),
        ),
        4 => (
            v(
                "three_decimals",
                Some(format!("{text}5")),
                Outcome::Reject(R::AmountPrecision),
            ),
            None,
        ),
        5 => (
            v(
                "negative",
                Some("-50.00".into()),
                Outcome::Reject(R::AmountNonpositive),
            ),
            Some(Decimal::from(-50)),
        ),
        6 => (
            v(
                "zero",
                Some("0".into()),
                Outcome::Reject(R::AmountNonpositive),
            ),
            Some(Decimal::ZERO),
        ),
        7 => (
            v(
                "null_text",
                Some("NULL".into()),
                Outcome::Reject(R::AmountInvalid),
            ),
            None,
        ),
        _ => (v("empty", None, Outcome::Reject(R::AmountInvalid)), None),
    }
}

/// An optional amount (ZJE, SL): what would be rejected in a required field is cleared.
pub(crate) fn optional_amount(rng: &mut Rng, value: Decimal) -> Variant {
    let text = money_text(value);
    match rng.weighted(&[30, 20, 20, 15, 15]) {
        0 => v(
            "surrounding_spaces",
            Some(format!(" {text} ")),
            Outcome::Correct(C::AmountNormalized),
        ),
        1 => v(
            "full_width",
            Some(full_width(&text)),
            Outcome::Correct(C::AmountNormalized),
        ),
        2 if value >= Decimal::from(1000) => v(
            "thousands_separator",
            Some(with_thousands(&text)),
            Outcome::Correct(C::AmountNormalized),
        ),
        2 | 3 => v(
            "null_text",
            Some("NULL".into()),
            Outcome::Correct(C::ValueCleared),
        ),
        _ => v(
            "three_decimals",
            Some(format!("{text}5")),
            Outcome::Correct(C::ValueCleared),
        ),
    }
}

pub(crate) fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A date with quirk Q5. `required` is true for the FFRQ of a paid (failed, refunded,
/// reissued) line.
pub(crate) fn date(rng: &mut Rng, d: NaiveDate, required: bool) -> Variant {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let bad = if required {
        Outcome::Reject(R::DateInvalid)
    } else {
        Outcome::Correct(C::ValueCleared)
    };
    let pick = rng.weighted(&[
        15,
        15,
        15,
        15,
        10,
        10,
        if required { 10 } else { 0 },
        if required { 10 } else { 0 },
    ]);
    match pick {
        0 => v(
            "slashes",
            Some(format!("{y}/{m}/{day}")),
            Outcome::Correct(C::DateNormalized),
        ),
        1 => v(
            "compact",
            Some(format!("{y}{m:02}{day:02}")),
            Outcome::Correct(C::DateNormalized),
        ),
        2 => v(
            "with_time",
            Some(format!(
                "{} {:02}:{:02}:{:02}",
                iso(d),
                rng.range(8, 17),
                rng.range(0, 59),
                rng.range(0, 59)
            )),
            Outcome::Correct(C::DateNormalized),
        ),
        3 => v(
            "chinese",
            Some(format!("{y}年{m}月{day}日")),
            Outcome::Correct(C::DateNormalized),
        ),
        4 if m < 10 || day < 10 => v(
            "unpadded",
            Some(format!("{y}-{m}-{day}")),
            Outcome::Correct(C::DateNormalized),
        ),
        4 | 5 => v("impossible", Some(format!("{y}-02-30")), bad),
        6 => v("zero_date", Some("0000-00-00".into()), bad),
        _ => v("missing", None, bad),
    }
}

/// A fund year (ND) with quirk Q10.
pub(crate) fn year(rng: &mut Rng, y: i32) -> Variant {
    match rng.weighted(&[30, 25, 25, 20]) {
        0 => v(
            "two_digits",
            Some(format!("{:02}", y % 100)),
            Outcome::Correct(C::YearNormalized),
        ),
        1 => v(
            "year_suffix",
            Some(format!("{y}年")),
            Outcome::Correct(C::YearNormalized),
        ),
        2 => v(
            "trailing_space",
            Some(format!("{y} ")),
            Outcome::Correct(C::YearNormalized),
        ),
        _ => v(
            "truncated",
            Some(format!("{}", y / 10)),
            Outcome::Reject(R::YearInvalid),
        ),
    }
}

/// A status code with quirk Q6.
pub(crate) fn status(rng: &mut Rng, code: &str) -> Variant {
    match rng.weighted(&[35, 35, 30]) {
        0 => v("leading_space", Some(format!(" {code}")), Outcome::Keep),
        1 => v("trailing_space", Some(format!("{code} ")), Outcome::Keep),
        _ => v(
            "unknown_value",
            Some((*rng.pick(&["7", "A", "x"])).to_owned()),
            Outcome::Reject(R::StatusUnknown),
        ),
    }
}

/// An account number with quirk Q11.
pub(crate) fn account(rng: &mut Rng, account: &str) -> Variant {
    let grouped = |sep: &str| {
        account
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(sep)
    };
    match rng.weighted(&[35, 30, 20, 15]) {
        0 => v(
            "spaces",
            Some(grouped(" ")),
            Outcome::Correct(C::AccountNormalized),
        ),
        1 => v(
            "hyphens",
            Some(grouped("-")),
            Outcome::Correct(C::AccountNormalized),
        ),
        2 => {
            let mut s = account.to_owned();
            s.replace_range(5..6, "O");
            v(
                "letter_in_digits",
                Some(s),
                Outcome::Correct(C::ValueCleared),
            )
        }
        _ => v(
            "too_short",
            Some(account[..6].to_owned()),
            Outcome::Correct(C::ValueCleared),
        ),
    }
}

/// A name with quirk Q2. `minority` names carry the separator `·`.
pub(crate) fn name(rng: &mut Rng, name: &str) -> Variant {
    if name.contains('·') && rng.percent(60) {
        // `•` and `・` occur in the database too, but GBK cannot write them, so the
        // simulator (whose export must equal its database) uses the GBK-writable ones.
        let sep = *rng.pick(&["．", ".", "-"]);
        return v(
            "minority_separator",
            Some(name.replace('·', sep)),
            Outcome::Correct(C::NameNormalized),
        );
    }
    match rng.weighted(&[40, 30, 30]) {
        0 => {
            let mut chars: Vec<char> = name.chars().collect();
            chars.insert(1, *rng.pick(&[' ', '\u{3000}']));
            v(
                "inner_space",
                Some(chars.into_iter().collect()),
                Outcome::Correct(C::NameNormalized),
            )
        }
        1 => v(
            "surrounding_spaces",
            Some(format!(" {name}\u{3000}")),
            Outcome::Correct(C::NameNormalized),
        ),
        _ => v("empty", None, Outcome::Reject(R::NameMissing)),
    }
}
