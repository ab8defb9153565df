//! The field rules of `mapping-rules.md`, one function per kind of value.
//!
//! Each rule takes the raw legacy text and returns either the platform value with the
//! corrections made on the way (`C_…`), or the reject code (`R_…`) that stops the row. Rules
//! are total functions over any Unicode text: a malformed value is an outcome, never an error
//! and never a panic. Every rule works on characters, not bytes, until it has proved its text
//! is ASCII.
//!
//! ```
//! use ykt_domain::rules;
//! use ykt_domain::RejectCode;
//! assert_eq!(rules::amount(Some(" 1,200.5 ")).unwrap().value.to_string(), "1200.50");
//! assert_eq!(rules::amount(Some("1200.005")), Err(RejectCode::AmountPrecision));
//! ```

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::platform::{Basis, BatchStatus, BeneficiaryStatus, PaymentStatus};
use crate::{CorrectionCode as C, CountyResolution, Regions, RejectCode as R, id_check_char};

/// A value that passed its rule, with the corrections the rule made to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrected<T> {
    pub value: T,
    pub corrections: Vec<C>,
}

impl<T> Corrected<T> {
    fn new(value: T) -> Corrected<T> {
        Corrected {
            value,
            corrections: Vec::new(),
        }
    }

    fn with(value: T, changed: bool, code: C) -> Corrected<T> {
        Corrected {
            value,
            corrections: if changed { vec![code] } else { Vec::new() },
        }
    }

    /// A value that could not be read and was cleared to NULL (`C_VALUE_CLEARED`).
    fn cleared() -> Corrected<Option<T>> {
        Corrected {
            value: None,
            corrections: vec![C::ValueCleared],
        }
    }
}

/// Full-width digits and the full-width `．，－Ｘｘ` to ASCII.
fn half_width(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        '．' => '.',
        '，' => ',',
        '－' => '-',
        'Ｘ' | 'ｘ' => 'X',
        _ => c,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn birth_date_ok(digits8: &str, as_of: NaiveDate) -> bool {
    let earliest = NaiveDate::from_ymd_opt(1890, 1, 1).unwrap_or(NaiveDate::MIN);
    ymd(
        digits8.get(0..4).unwrap_or(""),
        digits8.get(4..6).unwrap_or(""),
        digits8.get(6..8).unwrap_or(""),
    )
    .is_some_and(|d| d >= earliest && d <= as_of)
}

/// ID numbers (SFZH, HZSFZH): normalise, check, upgrade 15 digits, restore a lost X.
/// The first six digits (birth place) are never checked against current regions.
pub fn id_number(raw: Option<&str>, as_of: NaiveDate) -> Result<Corrected<String>, R> {
    let raw = raw.unwrap_or("");
    let text: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(half_width)
        .map(|c| if c == 'x' { 'X' } else { c })
        .collect();
    // Every valid form is ASCII: from here on a byte is a character.
    if !text.is_ascii() {
        return Err(R::IdInvalid);
    }
    let mut corrections = Vec::new();
    if text != raw {
        corrections.push(C::IdNormalized);
    }
    let id18 = match text.len() {
        18 => {
            let (first17, last) = text.split_at(17);
            if !all_digits(first17) || !(all_digits(last) || last == "X") {
                return Err(R::IdInvalid);
            }
            if !birth_date_ok(&text[6..14], as_of) {
                return Err(R::IdInvalid);
            }
            if id_check_char(first17.as_bytes()) != Some(last.as_bytes()[0]) {
                return Err(R::IdChecksum);
            }
            text
        }
        15 if all_digits(&text) => {
            let first17 = format!("{}19{}", &text[..6], &text[6..]);
            if !birth_date_ok(&first17[6..14], as_of) {
                return Err(R::IdInvalid);
            }
            let check = id_check_char(first17.as_bytes()).ok_or(R::IdInvalid)? as char;
            corrections.push(C::Id15Upgraded);
            format!("{first17}{check}")
        }
        17 if all_digits(&text) => {
            if id_check_char(text.as_bytes()) != Some(b'X') || !birth_date_ok(&text[6..14], as_of) {
                return Err(R::IdInvalid);
            }
            corrections.push(C::IdCheckRestored);
            format!("{text}X")
        }
        _ => return Err(R::IdInvalid),
    };
    Ok(Corrected {
        value: id18,
        corrections,
    })
}

const NAME_SEPARATORS: [char; 6] = ['·', '•', '・', '．', '.', '-'];

/// Names (XM): no white space; a minority-name separator between two characters becomes `·`.
/// A NUL character (which no platform database can hold) is removed first, as in [`text`].
pub fn name(raw: Option<&str>) -> Result<Corrected<String>, R> {
    let cleaned = text(raw);
    let raw_clean = cleaned.value.as_deref().unwrap_or("");
    let chars: Vec<char> = raw_clean.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.is_empty() {
        return Err(R::NameMissing);
    }
    let last = chars.len() - 1;
    let value: String = chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let between = i > 0
                && i < last
                && !NAME_SEPARATORS.contains(&chars[i - 1])
                && !NAME_SEPARATORS.contains(&chars[i + 1]);
            if NAME_SEPARATORS.contains(c) && between {
                '·'
            } else {
                *c
            }
        })
        .collect();
    let mut corrections = cleaned.corrections;
    if value != raw_clean {
        corrections.push(C::NameNormalized);
    }
    Ok(Corrected { value, corrections })
}

/// Free text kept as it is (addresses, phones, bank names, batch numbers, logins, bank serials,
/// failure reasons, document numbers, captions): only the NUL character, which no platform
/// database can store, is removed (`C_TEXT_CLEANED`).
pub fn text(raw: Option<&str>) -> Corrected<Option<String>> {
    match raw {
        None => Corrected::new(None),
        Some(r) if r.contains('\0') => {
            Corrected::with(Some(r.replace('\0', "")), true, C::TextCleaned)
        }
        Some(r) => Corrected::new(Some(r.to_owned())),
    }
}

/// A region code resolved to the current county.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The current county code (6 digits).
    pub county: String,
    /// The whole code under the current county (6, 9 or 12 digits).
    pub code: String,
}

/// Region codes (XZQHDM): a current county code is kept; an obsolete one is remapped to its
/// successor with the township/village digits kept; anything else is unknown.
pub fn region(raw: Option<&str>, regions: &Regions) -> Result<Corrected<Region>, R> {
    let raw = raw.unwrap_or("");
    if !all_digits(raw) || !matches!(raw.len(), 6 | 9 | 12) {
        return Err(R::RegionUnknown);
    }
    match regions.resolve_county(raw) {
        CountyResolution::Current(county) => Ok(Corrected::new(Region {
            county: county.to_owned(),
            code: raw.to_owned(),
        })),
        CountyResolution::Remapped(county) => Ok(Corrected::with(
            Region {
                county: county.to_owned(),
                code: format!("{county}{}", &raw[6..]),
            },
            true,
            C::RegionRemapped,
        )),
        CountyResolution::Unknown => Err(R::RegionUnknown),
    }
}

/// The most integer digits an amount may have: the platform's `NUMERIC(14,2)`.
pub const AMOUNT_INTEGER_DIGITS: usize = 12;
/// The most integer digits a program rate may have: `NUMERIC(12,2)`.
pub const RATE_INTEGER_DIGITS: usize = 10;

/// The text of an amount after the rule's clean-up: trimmed, full-width to ASCII, every `,`
/// dropped.
fn clean_amount(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(half_width)
        .filter(|c| *c != ',')
        .collect()
}

/// How a cleaned amount's text reads, digit by digit (no decimal type is asked to parse it, so
/// nothing is ever rounded to fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyRead {
    /// `-?digits(.digits)?` with at most two significant decimals and at most
    /// [`AMOUNT_INTEGER_DIGITS`] integer digits: its exact value, two decimals.
    Money(Decimal),
    /// A non-zero digit after the second decimal.
    Precision,
    /// Not of that form, or more integer digits than the platform holds.
    Invalid,
}

/// Reads a cleaned amount (see [`MoneyRead`]).
pub fn read_money(cleaned: &str) -> MoneyRead {
    read_money_within(cleaned, AMOUNT_INTEGER_DIGITS)
}

fn read_money_within(cleaned: &str, integer_digits: usize) -> MoneyRead {
    let (negative, body) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return MoneyRead::Invalid;
    }
    let frac = frac.unwrap_or("");
    if frac.bytes().skip(2).any(|b| b != b'0') {
        return MoneyRead::Precision;
    }
    let int = int.trim_start_matches('0');
    if int.len() > integer_digits {
        return MoneyRead::Invalid;
    }
    // At most 12 + 2 digits: the cents fit an i64 exactly.
    let mut cents: i64 = 0;
    for b in int
        .bytes()
        .chain(frac.bytes().chain(std::iter::repeat(b'0')).take(2))
    {
        cents = cents * 10 + i64::from(b - b'0');
    }
    MoneyRead::Money(Decimal::new(if negative { -cents } else { cents }, 2))
}

/// The value of an amount's text when it reads as money (at most two decimals, any sign), as
/// the balance identity counts it; `None` otherwise.
pub fn money_value(raw: Option<&str>) -> Option<Decimal> {
    match read_money(&clean_amount(raw?)) {
        MoneyRead::Money(value) => Some(value),
        MoneyRead::Precision | MoneyRead::Invalid => None,
    }
}

fn amount_within(raw: Option<&str>, integer_digits: usize) -> Result<Corrected<Decimal>, R> {
    let raw = raw.ok_or(R::AmountInvalid)?;
    if raw.trim().is_empty() || raw.trim().eq_ignore_ascii_case("NULL") {
        return Err(R::AmountInvalid);
    }
    let cleaned = clean_amount(raw);
    let value = match read_money_within(&cleaned, integer_digits) {
        MoneyRead::Money(v) => v,
        MoneyRead::Precision => return Err(R::AmountPrecision),
        MoneyRead::Invalid => return Err(R::AmountInvalid),
    };
    if value <= Decimal::ZERO {
        return Err(R::AmountNonpositive);
    }
    Ok(Corrected::with(value, cleaned != raw, C::AmountNormalized))
}

/// Required amounts (JE, ZBJE): exact decimals, never rounded, positive.
pub fn amount(raw: Option<&str>) -> Result<Corrected<Decimal>, R> {
    amount_within(raw, AMOUNT_INTEGER_DIGITS)
}

fn optional_within(raw: Option<&str>, integer_digits: usize) -> Corrected<Option<Decimal>> {
    match raw {
        None => Corrected::new(None),
        Some(r) if r.trim().is_empty() => Corrected::new(None),
        Some(_) => match amount_within(raw, integer_digits) {
            Ok(f) => Corrected {
                value: Some(f.value),
                corrections: f.corrections,
            },
            Err(_) => Corrected::cleared(),
        },
    }
}

/// Optional amounts (ZJE, SL): what a required field would reject is cleared to NULL.
/// An empty value is simply NULL.
pub fn optional_amount(raw: Option<&str>) -> Corrected<Option<Decimal>> {
    optional_within(raw, AMOUNT_INTEGER_DIGITS)
}

/// A program's rate (BZJE): an optional amount the platform holds in `NUMERIC(12,2)`.
pub fn optional_rate(raw: Option<&str>) -> Corrected<Option<Decimal>> {
    optional_within(raw, RATE_INTEGER_DIGITS)
}

/// How a date's text reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRead {
    /// Empty, `0000-00-00` or `0000-00-00 00:00:00`.
    Null,
    Date(Corrected<NaiveDate>),
    /// Not a real date in an accepted form.
    Invalid,
}

/// A real calendar date from its year (4 digits, not 0000), month and day (1–2 digits).
fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let ok = |s: &str, lo: usize, hi: usize| (lo..=hi).contains(&s.len()) && all_digits(s);
    if !ok(y, 4, 4) || !ok(m, 1, 2) || !ok(d, 1, 2) {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    if year < 1 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, m.parse().ok()?, d.parse().ok()?)
}

fn is_time(t: &str) -> bool {
    let parts: Vec<&str> = t.split(':').collect();
    parts.len() == 3 && parts.iter().all(|p| p.len() == 2 && all_digits(p))
}

/// Dates (FFRQ, XDRQ, GSKSRQ, GSJSRQ, SWRQ) in the accepted forms: `YYYY-MM-DD`, `YYYY/M/D`,
/// `YYYY-M-D`, `YYYYMMDD`, `YYYY年M月D日`, and the first three followed by ` HH:MM:SS`.
pub fn date(raw: Option<&str>) -> DateRead {
    let Some(raw) = raw else {
        return DateRead::Null;
    };
    let text = raw.trim();
    if text.is_empty() || text == "0000-00-00" || text == "0000-00-00 00:00:00" {
        return DateRead::Null;
    }
    let parsed = if let Some(rest) = text.strip_suffix('日') {
        rest.split_once('年')
            .and_then(|(y, md)| md.split_once('月').and_then(|(m, d)| ymd(y, m, d)))
    } else if text.len() == 8 && all_digits(text) {
        ymd(&text[..4], &text[4..6], &text[6..])
    } else {
        let (day, time_ok) = match text.split_once(' ') {
            Some((d, t)) => (d, is_time(t)),
            None => (text, true),
        };
        let sep = if day.contains('/') { '/' } else { '-' };
        let parts: Vec<&str> = day.split(sep).collect();
        match parts.as_slice() {
            [y, m, d] if time_ok => ymd(y, m, d),
            _ => None,
        }
    };
    match parsed {
        Some(d) => {
            let iso = raw.len() == 10
                && raw.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    _ => b.is_ascii_digit(),
                });
            DateRead::Date(Corrected::with(d, !iso, C::DateNormalized))
        }
        None => DateRead::Invalid,
    }
}

/// An optional date: invalid text is cleared to NULL with `C_VALUE_CLEARED`.
pub fn optional_date(raw: Option<&str>) -> Corrected<Option<NaiveDate>> {
    match date(raw) {
        DateRead::Null => Corrected::new(None),
        DateRead::Date(f) => Corrected {
            value: Some(f.value),
            corrections: f.corrections,
        },
        DateRead::Invalid => Corrected::cleared(),
    }
}

/// Fund years (ND): `2019`, `19`, `2019年`, `2019 ` → 2019, within 2000–2030.
pub fn fund_year(raw: Option<&str>) -> Result<Corrected<i16>, R> {
    let raw = raw.ok_or(R::YearInvalid)?;
    let text = raw.trim();
    let text = text.strip_suffix('年').unwrap_or(text).trim();
    if !all_digits(text) {
        return Err(R::YearInvalid);
    }
    let year: i16 = match text.len() {
        2 => 2000 + text.parse::<i16>().map_err(|_| R::YearInvalid)?,
        4 => text.parse().map_err(|_| R::YearInvalid)?,
        _ => return Err(R::YearInvalid),
    };
    if !(2000..=2030).contains(&year) {
        return Err(R::YearInvalid);
    }
    Ok(Corrected::with(
        year,
        year.to_string() != raw,
        C::YearNormalized,
    ))
}

/// Status codes (FFZT, PCZT, DXZT): trimmed (not recorded), mapped, else unknown.
pub fn status<T: Copy>(raw: Option<&str>, map: &[(&str, T)]) -> Result<T, R> {
    let text = raw.unwrap_or("").trim();
    map.iter()
        .find(|(code, _)| *code == text)
        .map(|(_, v)| *v)
        .ok_or(R::StatusUnknown)
}

/// FFZT: 0–4 → pending, paid, failed, refunded, reissued.
pub fn payment_status(raw: Option<&str>) -> Result<PaymentStatus, R> {
    status(raw, PaymentStatus::LEGACY)
}

/// PCZT: 0–5, 9 → entered, reviewed, announcing, announced, sent, returned, void.
pub fn batch_status(raw: Option<&str>) -> Result<BatchStatus, R> {
    status(raw, BatchStatus::LEGACY)
}

/// DXZT: 1, 2, 9 → active, suspended, deceased.
pub fn beneficiary_status(raw: Option<&str>) -> Result<BeneficiaryStatus, R> {
    status(raw, BeneficiaryStatus::LEGACY)
}

/// BZLX: 1–4 → area, person, household, fixed. T_BTXM is never rejected: a basis that does
/// not read is cleared to NULL with `C_VALUE_CLEARED`.
pub fn basis(raw: Option<&str>) -> Corrected<Option<Basis>> {
    match status(raw, Basis::LEGACY) {
        Ok(b) => Corrected::new(Some(b)),
        Err(_) => Corrected::cleared(),
    }
}

/// Accounts (YHZH): spaces and hyphens removed; 8–30 digits kept; anything else cleared.
/// The Luhn check never rejects.
pub fn account(raw: Option<&str>) -> Corrected<Option<String>> {
    let Some(raw) = raw else {
        return Corrected::new(None);
    };
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if cleaned.is_empty() {
        return Corrected::new(None);
    }
    if (8..=30).contains(&cleaned.len()) && all_digits(&cleaned) {
        let changed = cleaned != raw;
        Corrected::with(Some(cleaned), changed, C::AccountNormalized)
    } else {
        Corrected::cleared()
    }
}

/// Program codes (XMDM): trimmed, must be a known program.
pub fn program<'a>(raw: Option<&str>, known: &'a BTreeSet<String>) -> Result<&'a str, R> {
    let text = raw.unwrap_or("").trim();
    known.get(text).map(String::as_str).ok_or(R::ProgramUnknown)
}

/// A batch's period (QH): `YYYYMM` with a real month, else cleared.
pub fn period(raw: Option<&str>) -> Corrected<Option<String>> {
    match raw {
        None => Corrected::new(None),
        Some(p)
            if p.len() == 6
                && all_digits(p)
                && (1..=12).contains(&p[4..].parse::<u32>().unwrap_or(0)) =>
        {
            Corrected::new(Some(p.to_owned()))
        }
        Some(_) => Corrected::cleared(),
    }
}

/// A declared count (ZRS): a whole number (`INT`), else cleared.
pub fn count(raw: Option<&str>) -> Corrected<Option<i32>> {
    match raw.map(|z| z.trim().parse::<i32>()) {
        None => Corrected::new(None),
        Some(Ok(n)) => Corrected::new(Some(n)),
        Some(Err(_)) => Corrected::cleared(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 11, 10).unwrap()
    }

    fn id(raw: &str) -> Result<Corrected<String>, R> {
        id_number(Some(raw), as_of())
    }

    #[test]
    fn id_check_digit_vectors_from_the_spec() {
        assert_eq!(
            id("11010519491231002X"),
            Ok(Corrected {
                value: "11010519491231002X".into(),
                corrections: vec![]
            })
        );
        assert_eq!(
            id("610104620927690"),
            Ok(Corrected {
                value: "610104196209276908".into(),
                corrections: vec![C::Id15Upgraded]
            })
        );
    }

    #[test]
    fn id_quirks_q1() {
        assert_eq!(
            id("11010519491231002x").unwrap().corrections,
            vec![C::IdNormalized]
        );
        assert_eq!(
            id("６１０１０４１９６２０９２７６９０８").unwrap().value,
            "610104196209276908"
        );
        assert_eq!(
            id(" 610104 196209276908\u{3000}").unwrap(),
            Corrected {
                value: "610104196209276908".into(),
                corrections: vec![C::IdNormalized]
            }
        );
        assert_eq!(id("610104196209276907"), Err(R::IdChecksum));
        assert_eq!(id("610104196202306904"), Err(R::IdInvalid), "30 February");
        assert_eq!(
            id("610104188001016901"),
            Err(R::IdInvalid),
            "born before 1890"
        );
        assert_eq!(
            id("11010519491231002").unwrap(),
            Corrected {
                value: "11010519491231002X".into(),
                corrections: vec![C::IdCheckRestored]
            }
        );
        assert_eq!(
            id("61010419620927690"),
            Err(R::IdInvalid),
            "17 digits whose check is not X"
        );
        assert_eq!(id("61010462023069"), Err(R::IdInvalid));
        assert_eq!(id("61010A196209276908"), Err(R::IdInvalid));
        assert_eq!(id_number(None, as_of()), Err(R::IdInvalid));
        // A historical birth-place code is fine.
        let first17 = "61210119620927001";
        let historical = format!(
            "{first17}{}",
            id_check_char(first17.as_bytes()).unwrap() as char
        );
        assert_eq!(id(&historical).unwrap().value, historical);
    }

    #[test]
    fn names_q2() {
        assert_eq!(name(Some("张三")).unwrap().corrections, vec![]);
        assert_eq!(
            name(Some(" 张 三\u{3000}")).unwrap(),
            Corrected {
                value: "张三".into(),
                corrections: vec![C::NameNormalized]
            }
        );
        for sep in ["·", "•", "・", "．", ".", "-"] {
            let fixed = name(Some(&format!("阿依古丽{sep}买买提"))).unwrap();
            assert_eq!(fixed.value, "阿依古丽·买买提");
            assert_eq!(fixed.corrections.is_empty(), sep == "·");
        }
        assert_eq!(name(Some("  ")), Err(R::NameMissing));
        assert_eq!(name(None), Err(R::NameMissing));
    }

    #[test]
    fn regions_q3() {
        let r = Regions::shaanxi();
        assert_eq!(region(Some("610802"), &r).unwrap().value.county, "610802");
        let remapped = region(Some("610821101203"), &r).unwrap();
        assert_eq!(
            remapped.value,
            Region {
                county: "610881".into(),
                code: "610881101203".into()
            }
        );
        assert_eq!(remapped.corrections, vec![C::RegionRemapped]);
        assert_eq!(region(Some("619802100"), &r), Err(R::RegionUnknown));
        assert_eq!(region(Some("61080"), &r), Err(R::RegionUnknown));
        assert_eq!(region(None, &r), Err(R::RegionUnknown));
    }

    #[test]
    fn amounts_q4() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(
            amount(Some("1200")).unwrap(),
            Corrected {
                value: d("1200.00"),
                corrections: vec![]
            }
        );
        assert_eq!(amount(Some("1200.00")).unwrap().corrections, vec![]);
        assert_eq!(
            amount(Some("1,200.00")).unwrap(),
            Corrected {
                value: d("1200.00"),
                corrections: vec![C::AmountNormalized]
            }
        );
        assert_eq!(
            amount(Some(" 1200.5 ")).unwrap(),
            Corrected {
                value: d("1200.50"),
                corrections: vec![C::AmountNormalized]
            }
        );
        assert_eq!(amount(Some("１２００．００")).unwrap().value, d("1200.00"));
        assert_eq!(amount(Some("1200.005")), Err(R::AmountPrecision));
        assert_eq!(
            amount(Some("1200.000")).unwrap().value,
            d("1200.00"),
            "a zero third decimal is not a precision loss"
        );
        assert_eq!(amount(Some("-50.00")), Err(R::AmountNonpositive));
        assert_eq!(amount(Some("0")), Err(R::AmountNonpositive));
        assert_eq!(amount(Some("")), Err(R::AmountInvalid));
        assert_eq!(amount(None), Err(R::AmountInvalid));
        assert_eq!(amount(Some("NULL")), Err(R::AmountInvalid));
        assert_eq!(amount(Some("12O0")), Err(R::AmountInvalid));
        assert_eq!(amount(Some("1.2.3")), Err(R::AmountInvalid));
        // Optional fields clear what a required one rejects.
        assert_eq!(
            optional_amount(Some("NULL")),
            Corrected {
                value: None,
                corrections: vec![C::ValueCleared]
            }
        );
        assert_eq!(
            optional_amount(Some("3.505")),
            Corrected {
                value: None,
                corrections: vec![C::ValueCleared]
            }
        );
        assert_eq!(
            optional_amount(None),
            Corrected {
                value: None,
                corrections: vec![]
            }
        );
        assert_eq!(optional_amount(Some(" 3.5 ")).value, Some(d("3.50")));
        // What the balance counts as money.
        assert_eq!(money_value(Some("-50.00")), Some(d("-50")));
        assert_eq!(money_value(Some("1200.005")), None);
        assert_eq!(money_value(Some("NULL")), None);
    }

    #[test]
    fn dates_q5() {
        let day = NaiveDate::from_ymd_opt(2019, 3, 5).unwrap();
        let normalized = DateRead::Date(Corrected {
            value: day,
            corrections: vec![C::DateNormalized],
        });
        assert_eq!(
            date(Some("2019-03-05")),
            DateRead::Date(Corrected {
                value: day,
                corrections: vec![]
            })
        );
        for raw in [
            "2019/3/5",
            "2019-3-5",
            "20190305",
            "2019-03-05 10:22:01",
            "2019年3月5日",
        ] {
            assert_eq!(date(Some(raw)), normalized, "{raw}");
        }
        assert_eq!(date(Some("")), DateRead::Null);
        assert_eq!(date(None), DateRead::Null);
        assert_eq!(date(Some("0000-00-00")), DateRead::Null);
        assert_eq!(date(Some("2019-02-30")), DateRead::Invalid);
        assert_eq!(date(Some("2019-13-01")), DateRead::Invalid);
        assert_eq!(date(Some("March 5")), DateRead::Invalid);
        assert_eq!(
            optional_date(Some("2019-02-30")),
            Corrected {
                value: None,
                corrections: vec![C::ValueCleared]
            }
        );
    }

    #[test]
    fn fund_years_q10() {
        assert_eq!(
            fund_year(Some("2019")),
            Ok(Corrected {
                value: 2019,
                corrections: vec![]
            })
        );
        for raw in ["19", "2019年", "2019 "] {
            assert_eq!(
                fund_year(Some(raw)),
                Ok(Corrected {
                    value: 2019,
                    corrections: vec![C::YearNormalized]
                }),
                "{raw}"
            );
        }
        assert_eq!(fund_year(Some("201")), Err(R::YearInvalid));
        assert_eq!(fund_year(Some("1999")), Err(R::YearInvalid));
        assert_eq!(fund_year(Some("2031")), Err(R::YearInvalid));
        assert_eq!(fund_year(None), Err(R::YearInvalid));
    }

    #[test]
    fn statuses_q6() {
        let map = [("1", 'p'), ("2", 'f')];
        assert_eq!(status(Some(" 1"), &map), Ok('p'));
        assert_eq!(status(Some("2 "), &map), Ok('f'));
        assert_eq!(status(Some("7"), &map), Err(R::StatusUnknown));
        assert_eq!(status(None, &map), Err(R::StatusUnknown));
    }

    #[test]
    fn accounts_q11() {
        assert_eq!(
            account(Some("6217 8600 0000 1234")),
            Corrected {
                value: Some("6217860000001234".into()),
                corrections: vec![C::AccountNormalized]
            }
        );
        assert_eq!(
            account(Some("6217-8600-0000-1234")).value.as_deref(),
            Some("6217860000001234")
        );
        assert_eq!(
            account(Some("6217860000001235")).corrections,
            vec![],
            "Luhn failures are kept and not flagged"
        );
        assert_eq!(
            account(Some("621786")),
            Corrected {
                value: None,
                corrections: vec![C::ValueCleared]
            }
        );
        assert_eq!(
            account(Some("62178O0000001234")),
            Corrected {
                value: None,
                corrections: vec![C::ValueCleared]
            }
        );
        assert_eq!(
            account(None),
            Corrected {
                value: None,
                corrections: vec![]
            }
        );
    }

    #[test]
    fn programs_q9() {
        let known: std::collections::BTreeSet<String> = ["NY001".to_owned()].into();
        assert_eq!(program(Some(" NY001 "), &known), Ok("NY001"));
        assert_eq!(program(Some("NY099"), &known), Err(R::ProgramUnknown));
    }
}
