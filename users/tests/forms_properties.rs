//! The user-form reader and checker on arbitrary content: they read what they can, report what
//! is wrong, and never panic, whatever an office typed into the form (an 18-byte ID number with
//! a multi-byte character, NUL, a huge cell, a broken CSV).
//!
//! `PROPTEST_CASES` sets the number of cases.

use chrono::NaiveDate;
use proptest::prelude::*;
use ykt_domain::Regions;
use ykt_users::{Townships, check, read_forms};

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "榆阳区", "榆林市", "榆阳区镇川镇", "财政局农业股", "农业农村局", "王芳", "01", "02",
            "610104196209276908", "61010462092769号", "61010419620927690号", "", "说明：每个科（股）室录入岗可为多个，审核岗1个。",
            "填表人：张三 联系电话：13800000000", "6.10104E+17", "\"", "\"\"", ",", "\0",
        ]).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => "\\PC{0,30}",
        1 => (prop::sample::select(vec!['张', '9']), 1000usize..3000).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

fn form() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("序号,业务科（股）室,市县,姓名,身份证号,岗位,联系电话".to_owned()),
        Just("序号,业务主管部门名称,市县,姓名,身份证号,岗位,联系电话".to_owned()),
        Just("财政用户信息采集表".to_owned()),
        "\\PC{0,20}",
    ];
    (
        header,
        prop::collection::vec(prop::collection::vec(cell(), 0..9), 0..12),
        any::<bool>(),
    )
        .prop_map(|(header, rows, gbk)| {
            let mut text = format!("{header}\r\n");
            for row in rows {
                text.push_str(&row.join(","));
                text.push_str("\r\n");
            }
            if gbk {
                encoding_rs::GBK.encode(&text).0.into_owned()
            } else {
                text.into_bytes()
            }
        })
}

proptest! {
    #[test]
    fn forms_are_read_and_checked_without_panicking(bytes in form()) {
        let dir = std::env::temp_dir().join(format!("ykt-forms-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("财政用户.csv");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(read) = read_forms(&[&path]) {
            let regions = Regions::shaanxi();
            let as_of = NaiveDate::from_ymd_opt(2020, 11, 10).unwrap();
            let set = check(read, &regions, &Townships::default(), as_of);
            for v in &set.violations {
                prop_assert!(!v.message.is_empty());
            }
        }
    }
}
