//! The export reader on arbitrary bytes: it reads rows or says what is wrong with the file
//! (naming it and the line), and never panics, whatever a county office's re-save, a truncated
//! copy or a stray binary file holds.
//!
//! `PROPTEST_CASES` sets the number of cases.

use proptest::prelude::*;
use ykt_domain::LegacyTable;
use ykt_extract::{ExportReader, ExtractError};

/// Bytes that look like an export file: a caption row (right, wrong or missing), then lines of
/// fields built from CSV syntax, GBK and UTF-8 fragments, and arbitrary bytes.
fn export_bytes() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("明细ID,批次ID,对象ID,项目代码,资金年度,数量,金额,银行账号,发放状态,发放日期,银行流水号,失败原因,原明细ID,更新时间\r\n".to_owned()),
        Just("MXID,PCID,DXID,XMDM,ND,SL,JE,YHZH,FFZT,FFRQ,YHLSH,SBYY,YMXID,GXSJ\n".to_owned()),
        Just(String::new()),
        "\\PC{0,40}\r\n",
    ];
    let piece = prop_oneof![
        4 => Just(b"1,2,3,NY001,2019,,1200.00,6217,1,2019-03-05,,,,2019-03-05 10:00:00\r\n".to_vec()),
        2 => Just(b",".to_vec()),
        2 => Just(b"\"".to_vec()),
        1 => Just(b"\"\"".to_vec()),
        2 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just("合计,共3条".as_bytes().to_vec()),
        1 => Just(vec![0xB9, 0xFE]),
        1 => Just(vec![0xEF, 0xBB, 0xBF]),
        1 => Just(vec![0x81]),
        1 => Just(vec![0]),
        2 => prop::collection::vec(any::<u8>(), 0..16),
        2 => "\\PC{0,8}".prop_map(String::into_bytes),
    ];
    (header, prop::collection::vec(piece, 0..40)).prop_map(|(h, pieces)| {
        let mut out = h.into_bytes();
        for p in pieces {
            out.extend(p);
        }
        out
    })
}

proptest! {
    #[test]
    fn the_export_reader_never_panics(bytes in export_bytes()) {
        let dir = tempdir();
        std::fs::write(dir.join("T_FFMX.csv"), &bytes).unwrap();
        match ExportReader::open(&dir, LegacyTable::Payments) {
            Ok(mut reader) => loop {
                match reader.next_row() {
                    Ok(Some(row)) => prop_assert_eq!(row.len(), LegacyTable::Payments.columns().len()),
                    Ok(None) => break,
                    Err(e) => {
                        check_message(&e);
                        break;
                    }
                }
            },
            Err(e) => check_message(&e),
        }
    }
}

/// An error names the file, carries no raw control byte, and is the operator's to fix.
fn check_message(e: &ExtractError) {
    let text = e.to_string();
    assert!(text.contains("T_FFMX.csv"), "{text}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in {text:?}"
    );
    assert!(e.is_input_error(), "{text}");
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ykt-export-prop-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
