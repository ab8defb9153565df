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
}
