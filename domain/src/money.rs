//! Money: exact decimal yuan, never a float.

use rust_decimal::Decimal;

/// An amount in yuan. Summed exactly; stored with two decimals on the platform.
pub type Money = Decimal;

/// Formats an amount with exactly two decimals, as reports and `summary.json` show it.
/// Amounts with more decimals are not rounded here: callers only pass values read as money.
pub fn format_money(amount: Money) -> String {
    let mut value = amount;
    if value.scale() < 2 {
        value.rescale(2);
    }
    value.to_string()
}

/// Reads an amount written by [`format_money`] (or any plain decimal): `None` for anything
/// else, never a silent zero.
pub fn parse_money(text: &str) -> Option<Money> {
    let t = text.trim();
    let plain = !t.is_empty()
        && t.trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1;
    // Exact: a value past 28 significant digits is not read at all, never rounded.
    if plain {
        Money::from_str_exact(t).ok()
    } else {
        None
    }
}

/// Serde for an amount as `summary.json` and the other JSON files write it: a string with two
/// decimals (`"1200.00"`), read back strictly (a malformed amount is an error, not 0).
pub mod two_decimals {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Money, format_money, parse_money};

    pub fn serialize<S: Serializer>(amount: &Money, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_money(*amount))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let text = String::deserialize(d)?;
        parse_money(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an amount")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn two_decimals() {
        assert_eq!(format_money(Decimal::from_str("1200").unwrap()), "1200.00");
        assert_eq!(format_money(Decimal::from_str("-50.5").unwrap()), "-50.50");
        assert_eq!(format_money(Decimal::from_str("0.07").unwrap()), "0.07");
    }

    #[test]
    fn parsing_is_strict() {
        assert_eq!(
            parse_money("1200.00"),
            Some(Decimal::from_str("1200.00").unwrap())
        );
        assert_eq!(
            parse_money("-50.50"),
            Some(Decimal::from_str("-50.50").unwrap())
        );
        for bad in ["", "1,200.00", "12abc", "1.2.3", "--1", "NaN"] {
            assert_eq!(parse_money(bad), None, "{bad}");
        }
    }
}
