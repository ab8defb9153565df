//! Property tests of the field rules (`mapping-rules.md` § Field rules): every rule is a total
//! function over any Unicode text, and never accepts what the spec rejects.
//!
//! `PROPTEST_CASES` sets the number of cases per property (CI runs a modest count,
//! `scripts/properties.sh` a large one).

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;
use ykt_domain::rules::{self, DateRead, MoneyRead};
use ykt_domain::{CorrectionCode as C, Regions, RejectCode as R, id_check_char};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 11, 10).expect("a date")
}

/// Characters legacy data is known to hold, plus the ones that break byte-slicing code:
/// multi-byte characters (2, 3 and 4 bytes), combining marks, NUL and other controls.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('0', '9'),
        2 => prop::char::range('０', '９'),
        1 => prop::sample::select(vec![
            'x', 'X', 'ｘ', 'Ｘ', ' ', '\u{3000}', '\t', '\n', '\r', '\0', '\u{1}', '\u{7f}',
            '-', '－', '.', '．', ',', '，', '/', ':', '年', '月', '日', '号', '·', '•', '・',
            'é', '\u{301}', '😀', '\u{feff}', '\u{a0}', '\u{200b}', 'N', 'U', 'L', '+', 'e',
        ]),
        1 => any::<char>(),
    ]
}

/// Text of the hostile characters, short or long.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(hostile_char(), 0..24).prop_map(|v| v.into_iter().collect()),
        2 => any::<String>(),
        1 => (prop::collection::vec(hostile_char(), 0..4), 9_990usize..10_010)
            .prop_map(|(v, n)| {
                let mut s: String = v.into_iter().collect();
                s.extend(std::iter::repeat_n('9', n));
                s
            }),
    ]
}

/// A valid 18-character ID number with a multi-byte character inserted at any char position,
/// or replacing one: the input that made byte-length dispatch slice inside a character.
fn id_with_multibyte() -> impl Strategy<Value = String> {
    (
        0usize..19,
        prop::sample::select(vec!["号", "é", "😀", "\u{3000}", "Ｘ", "\0"]),
        any::<bool>(),
    )
        .prop_map(|(at, c, replace)| {
            let mut chars: Vec<String> =
                "61010419620927690".chars().map(|c| c.to_string()).collect();
            chars.push("8".into());
            let at = at.min(chars.len());
            if replace && at < chars.len() {
                chars[at] = c.to_owned();
            } else {
                chars.insert(at, c.to_owned());
            }
            chars.concat()
        })
}

fn is_id18(s: &str) -> bool {
    s.len() == 18
        && s.bytes().take(17).all(|b| b.is_ascii_digit())
        && (s.as_bytes()[17].is_ascii_digit() || s.as_bytes()[17] == b'X')
}

/// The value an amount's text must have, read digit by digit without any decimal type: the
/// cleaned text with leading zeros and zero decimals past the second dropped, two decimals.
fn expected_money_text(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' => '.',
            '，' => ',',
            '－' => '-',
            _ => c,
        })
        .filter(|c| *c != ',')
        .collect();
    let (neg, body) = match cleaned.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, cleaned.as_str()),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (body.contains('.') && frac.is_empty())
    {
        return None;
    }
    if frac.chars().skip(2).any(|c| c != '0') {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 12 {
        return None;
    }
    let mut cents: String = frac.chars().take(2).collect();
    while cents.len() < 2 {
        cents.push('0');
    }
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && cents == "00";
    Some(format!(
        "{}{int}.{cents}",
        if neg && !zero { "-" } else { "" }
    ))
}

proptest! {
    #[test]
    fn every_rule_returns_for_any_text(raw in hostile_text()) {
        let regions = Regions::shaanxi();
        let known: BTreeSet<String> = ["NY001".to_owned()].into();
        let r = Some(raw.as_str());
        let _ = rules::id_number(r, as_of());
        let _ = rules::name(r);
        let _ = rules::region(r, &regions);
        let _ = rules::money_value(r);
        let _ = rules::read_money(&raw);
        let _ = rules::amount(r);
        let _ = rules::optional_amount(r);
        let _ = rules::optional_rate(r);
        let _ = rules::date(r);
        let _ = rules::optional_date(r);
        let _ = rules::fund_year(r);
        let _ = rules::payment_status(r);
        let _ = rules::batch_status(r);
        let _ = rules::beneficiary_status(r);
        let _ = rules::basis(r);
        let _ = rules::account(r);
        let _ = rules::program(r, &known);
        let _ = rules::text(r);
        let _ = rules::period(r);
        let _ = rules::count(r);
    }

    #[test]
    fn id_rules_never_panic_on_a_multibyte_character_anywhere(raw in id_with_multibyte()) {
        if let Ok(fixed) = rules::id_number(Some(&raw), as_of()) {
            prop_assert!(is_id18(&fixed.value), "{raw:?} → {:?}", fixed.value);
        }
    }

    #[test]
    fn an_accepted_id_number_is_a_valid_one(raw in prop_oneof![hostile_text(), id_with_multibyte()]) {
        if let Ok(fixed) = rules::id_number(Some(&raw), as_of()) {
            let id = &fixed.value;
            prop_assert!(is_id18(id), "{raw:?} → {id:?}");
            prop_assert_eq!(id_check_char(&id.as_bytes()[..17]), Some(id.as_bytes()[17]));
            let birth = NaiveDate::parse_from_str(&id[6..14], "%Y%m%d");
            prop_assert!(birth.is_ok_and(|b| b.year() >= 1890 && b <= as_of()), "{id}");
        }
    }

    #[test]
    fn amounts_are_read_exactly_digit_by_digit(raw in prop_oneof![
        hostile_text(),
        "[-－]?[0-9０-９,，]{1,20}([.．][0-9]{0,40})?",
        " ?[0-9]{1,3}(,[0-9]{3}){0,6}\\.[0-9]{2}0{0,30}[1-9]? ?",
    ]) {
        let expected = expected_money_text(&raw);
        let read = rules::money_value(Some(&raw));
        prop_assert_eq!(read.map(ykt_domain::format_money), expected.clone(), "{:?}", raw);
        match rules::amount(Some(&raw)) {
            Ok(fixed) => {
                prop_assert!(fixed.value > Decimal::ZERO);
                prop_assert_eq!(fixed.value.scale(), 2);
                prop_assert_eq!(Some(ykt_domain::format_money(fixed.value)), expected);
            }
            Err(R::AmountNonpositive) => prop_assert!(read.is_some_and(|v| v <= Decimal::ZERO)),
            // What the balance counts as unreadable is exactly what the rule rejects as such.
            Err(R::AmountInvalid | R::AmountPrecision) => prop_assert!(read.is_none(), "{:?}", raw),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
        if let Some(v) = rules::optional_amount(Some(&raw)).value {
            prop_assert!(v > Decimal::ZERO && v.scale() == 2);
        }
        if let Some(v) = rules::optional_rate(Some(&raw)).value {
            prop_assert!(v > Decimal::ZERO && v < Decimal::from(10_000_000_000i64));
        }
    }

    #[test]
    fn an_accepted_date_is_a_real_one(raw in prop_oneof![
        hostile_text(),
        "[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?",
        "[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日",
        "[0-9]{8}",
    ]) {
        if let DateRead::Date(fixed) = rules::date(Some(&raw)) {
            prop_assert!(fixed.value.year() >= 1, "{raw:?}");
            let iso = fixed.value.format("%Y-%m-%d").to_string();
            prop_assert_eq!(fixed.corrections.is_empty(), iso == raw, "{:?}", raw);
        }
    }

    #[test]
    fn other_rules_only_produce_platform_values(raw in hostile_text()) {
        if let Ok(y) = rules::fund_year(Some(&raw)) {
            prop_assert!((2000..=2030).contains(&y.value));
        }
        if let Some(a) = rules::account(Some(&raw)).value {
            prop_assert!((8..=30).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_digit()));
        }
        if let Ok(n) = rules::name(Some(&raw)) {
            prop_assert!(!n.value.is_empty());
            prop_assert!(!n.value.contains(|c: char| c.is_whitespace() || c == '\0'));
        }
        if let Some(t) = rules::text(Some(&raw)).value {
            prop_assert!(!t.contains('\0'));
        }
        if let Some(p) = rules::period(Some(&raw)).value {
            prop_assert!(p.len() == 6 && (1..=12).contains(&p[4..].parse::<u32>().unwrap_or(0)));
        }
        let regions = Regions::shaanxi();
        if let Ok(r) = rules::region(Some(&raw), &regions) {
            prop_assert!(regions.county(&r.value.county).is_some());
            prop_assert!(matches!(r.value.code.len(), 6 | 9 | 12));
            prop_assert!(r.value.code.starts_with(&r.value.county));
        }
    }
}

#[test]
fn regression_issue_10_multibyte_id_number_is_invalid_not_a_panic() {
    for raw in [
        "610104620927690号",
        "61010462092769号0",
        "6101046209276901号",
    ] {
        assert_eq!(
            rules::id_number(Some(raw), as_of()),
            Err(R::IdInvalid),
            "{raw}"
        );
    }
}

#[test]
fn regression_issue_10_money_is_never_rounded() {
    let raw = "1200.00000000000000000000000001";
    assert_eq!(rules::amount(Some(raw)), Err(R::AmountPrecision));
    assert_eq!(rules::money_value(Some(raw)), None);
    assert_eq!(rules::read_money(raw), MoneyRead::Precision);
    // Zeros past the second decimal are not a loss, however many.
    let zeros = "1200.000000000000000000000000000000000";
    assert_eq!(
        rules::amount(Some(zeros)).map(|f| f.value),
        Ok(Decimal::from_str("1200.00").expect("a decimal"))
    );
    // More integer digits than NUMERIC(14,2) holds: not money.
    assert_eq!(
        rules::amount(Some("1234567890123.00")),
        Err(R::AmountInvalid)
    );
    assert_eq!(rules::money_value(Some("-1234567890123")), None);
    assert_eq!(
        rules::money_value(Some("999999999999.99")),
        Some(Decimal::from_str("999999999999.99").expect("a decimal"))
    );
}

#[test]
fn nul_in_free_text_is_removed_and_recorded() {
    let fixed = rules::text(Some("榆阳区\0镇川镇"));
    assert_eq!(fixed.value.as_deref(), Some("榆阳区镇川镇"));
    assert_eq!(fixed.corrections, vec![C::TextCleaned]);
    assert_eq!(rules::text(Some("镇川镇")).corrections, vec![]);
    let name = rules::name(Some("张\0三")).expect("a name");
    assert_eq!(name.value, "张三");
    assert!(name.corrections.contains(&C::TextCleaned));
    assert_eq!(rules::name(Some("\0")), Err(R::NameMissing));
}

#[test]
fn a_date_in_year_zero_is_not_a_real_date() {
    assert_eq!(rules::date(Some("0000-01-01")), DateRead::Invalid);
    assert_eq!(rules::date(Some("0000-00-00 00:00:00")), DateRead::Null);
    assert_eq!(rules::date(Some(" 0000-00-00 ")), DateRead::Null);
}
