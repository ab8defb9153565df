//! Two independent readings of a legacy value agree: the reconciliation reads money, counties,
//! fund years and statuses on its own (to check the transform with a second implementation),
//! and here both readings run over the same random inputs.
//!
//! `PROPTEST_CASES` sets the number of cases per property.

use crate::legacy_side::{county_of, fund_year_label, money, status_label};
use proptest::prelude::*;
use ykt_domain::platform::{BatchStatus, BeneficiaryStatus, PaymentStatus};
use ykt_domain::rules;
use ykt_domain::{LegacyTable, Regions, UNATTRIBUTED_COUNTY};

fn legacy_text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        6 => prop::char::range('0', '9'),
        1 => prop::char::range('０', '９'),
        2 => prop::sample::select(vec![
            '.', '．', ',', '，', '-', '－', ' ', '\u{3000}', '年', 'x', '\0', '😀', '+', 'e', '号',
        ]),
        1 => any::<char>(),
    ];
    prop_oneof![
        6 => prop::collection::vec(chars, 0..32).prop_map(|v| v.into_iter().collect()),
        1 => "[0-9]{1,40}(\\.[0-9]{0,40})?",
        1 => any::<String>(),
    ]
}

proptest! {
    #[test]
    fn money_reads_alike(raw in legacy_text()) {
        prop_assert_eq!(money(Some(&raw)), rules::money_value(Some(&raw)), "{:?}", raw);
    }

    #[test]
    fn counties_read_alike(raw in prop_oneof![
        legacy_text(),
        "(6108|6108[0-9][0-9]|610821|610126|619999)[0-9]{0,6}",
    ]) {
        let regions = Regions::shaanxi();
        let by_rule = rules::region(Some(&raw), &regions)
            .map_or_else(|_| UNATTRIBUTED_COUNTY.to_owned(), |f| f.value.county);
        prop_assert_eq!(county_of(&regions, Some(&raw)), by_rule, "{:?}", raw);
    }

    #[test]
    fn fund_years_read_alike(raw in prop_oneof![legacy_text(), "[ ]?[0-9]{2,4}[ ]?年?[ ]?"]) {
        if let Ok(year) = rules::fund_year(Some(&raw)) {
            prop_assert_eq!(fund_year_label(Some(&raw)), year.value.to_string(), "{:?}", raw);
        }
    }

    #[test]
    fn statuses_read_alike(raw in prop_oneof![legacy_text(), "[ ]?[0-9][ ]?"]) {
        let r = Some(raw.as_str());
        for (table, by_rule) in [
            (LegacyTable::Payments, rules::payment_status(r).map(PaymentStatus::as_str)),
            (LegacyTable::Batches, rules::batch_status(r).map(BatchStatus::as_str)),
            (LegacyTable::Beneficiaries, rules::beneficiary_status(r).map(BeneficiaryStatus::as_str)),
        ] {
            if let Ok(name) = by_rule {
                prop_assert_eq!(status_label(table, r), name, "{:?}", raw);
            } else {
                let label = status_label(table, r);
                let known = [PaymentStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    BatchStatus::ALL.iter().map(|s| s.as_str()).collect(),
                    BeneficiaryStatus::ALL.iter().map(|s| s.as_str()).collect()].concat();
                prop_assert!(!known.contains(&label.as_str()) || label == raw.trim(), "{raw:?} → {label}");
            }
        }
    }
}
