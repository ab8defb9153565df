//! The hot paths of a migration, in elements per second: the field rules every legacy value
//! goes through, reading a GBK export, encoding rows for PostgreSQL's COPY, and the row diff of
//! the reconciliation. `cargo bench --bench hot_paths`; the end-to-end comparison with
//! pgloader is `bench/run.sh`.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ykt_domain::{LegacyTable, rules};

/// Raw values as the legacy system holds them: clean ones and every quirk the rules fix.
const IDS: &[&str] = &[
    "610802198001011235",
    " 610802198001011235 ",
    "６１０８０２１９８００１０１１２３５",
    "61080219800101123x",
    "610802800101123",
    "61080219800101123",
    "610802198013011235",
    "not an id",
];
const AMOUNTS: &[&str] = &[
    "1200.00",
    "1,200.00",
    "１２００．００",
    " 88.8 ",
    "12abc",
    "-50",
    "0.005",
];
const DATES: &[&str] = &[
    "2019-03-05",
    "20190305",
    "2019/3/5",
    "2019-02-30",
    "0000-00-00",
    "2019年3月5日",
];
const YEARS: &[&str] = &["2019", "2019年", "19", "201", "２０１９"];
const ACCOUNTS: &[&str] = &[
    "6222000011112222",
    "6222 0000 1111 2222",
    "6222-0000-1111-2222",
    "x",
];

fn field_rules(c: &mut Criterion) {
    let as_of = NaiveDate::from_ymd_opt(2020, 11, 10).expect("a date");
    let mut g = c.benchmark_group("field_rules");
    let n = 10_000u64;
    g.throughput(Throughput::Elements(n));
    g.bench_function("id_number", |b| {
        b.iter(|| {
            for i in 0..n as usize {
                black_box(rules::id_number(Some(IDS[i % IDS.len()]), as_of).ok());
            }
        })
    });
    g.bench_function("amount", |b| {
        b.iter(|| {
            for i in 0..n as usize {
                black_box(rules::amount(Some(AMOUNTS[i % AMOUNTS.len()])).ok());
            }
        })
    });
    g.bench_function("date", |b| {
        b.iter(|| {
            for i in 0..n as usize {
                black_box(rules::date(Some(DATES[i % DATES.len()])));
            }
        })
    });
    g.bench_function("fund_year", |b| {
        b.iter(|| {
            for i in 0..n as usize {
                black_box(rules::fund_year(Some(YEARS[i % YEARS.len()])).ok());
            }
        })
    });
    g.bench_function("account", |b| {
        b.iter(|| {
            for i in 0..n as usize {
                black_box(rules::account(Some(ACCOUNTS[i % ACCOUNTS.len()])));
            }
        })
    });
    g.finish();
}

/// A simulated GBK export of the demo preset, made once.
fn export_dir() -> std::path::PathBuf {
    use ykt_simulate::{ExportSink, Params, Preset, RowSink};
    let dir = std::env::temp_dir().join(format!("ykt-bench-export-{}", std::process::id()));
    if !dir.join("export").is_dir() {
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let params = Params::preset(Preset::Demo, 7);
        let mut sink = ExportSink::create(&dir.join("export"), &[]).expect("an export folder");
        ykt_simulate::generate(
            &params,
            &mut sink as &mut dyn RowSink,
            (&dir.join("truth.json"), None),
            &|_| {},
        )
        .expect("a simulated export");
    }
    dir.join("export")
}

fn gbk_export_reader(c: &mut Criterion) {
    let dir = export_dir();
    let count = || {
        let mut reader =
            ykt_extract::ExportReader::open(&dir, LegacyTable::Payments).expect("T_FFMX.csv");
        let mut n = 0u64;
        while let Some(row) = reader.next_row().expect("a row") {
            black_box(&row);
            n += 1;
        }
        n
    };
    let rows = count();
    let mut g = c.benchmark_group("export_reader");
    g.throughput(Throughput::Elements(rows));
    g.bench_function("gbk_payment_lines", |b| b.iter(count));
    g.finish();
}

/// Rows shaped like staged payment lines.
fn payment_rows(n: usize) -> Vec<Vec<Option<String>>> {
    (0..n)
        .map(|i| {
            vec![
                Some(i.to_string()),
                Some((i / 40).to_string()),
                Some((i / 7).to_string()),
                Some("610802".to_owned()),
                Some("NY001".to_owned()),
                Some("2019".to_owned()),
                (i % 3 == 0).then(|| "12.50".to_owned()),
                Some(format!("{}.{:02}", 100 + i % 900, i % 100)),
                Some(format!("62220000{:08}", i)),
                Some("paid".to_owned()),
                Some("2019-06-30".to_owned()),
                (i % 50 == 0).then(|| "户名与账号不符\t(退回)".to_owned()),
            ]
        })
        .collect()
}

/// The load's COPY path as it runs: a staged Parquet file of payment lines decoded and encoded
/// as COPY text, in chunks.
fn copy_encoder(c: &mut Criterion) {
    let rows = payment_rows(10_000);
    let dir = std::env::temp_dir().join(format!("ykt-bench-copy-{}", std::process::id()));
    let path = dir.join("payment.parquet");
    let columns: Vec<String> = (0..rows[0].len()).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut writer = ykt_stage::TextTableWriter::create(&path, &names).expect("bench file");
    for row in &rows {
        writer.write(row).expect("bench row");
    }
    writer.finish().expect("bench file");
    let mut g = c.benchmark_group("copy_encoder");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("staged_payment_rows", |b| {
        b.iter(|| {
            let reader = ykt_stage::TextTableReader::open(&path).expect("bench file");
            let mut bytes = 0;
            let n = ykt_load::encode_copy(reader, None, |chunk| {
                bytes += chunk.len();
                true
            })
            .expect("encoded");
            black_box((n, bytes))
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn row_diff(c: &mut Criterion) {
    let columns: Vec<String> = [
        "legacy_mxid",
        "batch_id",
        "beneficiary_id",
        "county_code",
        "program_code",
        "fund_year",
        "quantity",
        "amount",
        "account_no",
        "status",
        "paid_on",
        "failure_reason",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    let expected = payment_rows(10_000);
    let mut actual = expected.clone();
    // A few differences of every kind: a changed amount, a missing row, an extra row.
    actual[17][7] = Some("999.99".to_owned());
    actual.remove(4_000);
    actual.push(payment_rows(10_001).pop().expect("a row"));
    // Both sides as the diff holds them: the cells of a chunk in one buffer.
    let table = |rows: &[Vec<Option<String>>]| {
        let mut t = ykt_db::TextRows::new(columns.len());
        for r in rows {
            t.push_row(r.iter().map(|c| c.as_deref()));
        }
        t
    };
    let (expected, actual) = (table(&expected), table(&actual));
    let mut g = c.benchmark_group("row_diff");
    g.throughput(Throughput::Elements(expected.len() as u64));
    g.bench_function("payment_chunk", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            ykt_reconcile::compare_rows(
                ("610802", "payment", "legacy_mxid"),
                &columns,
                &expected,
                &actual,
                false,
                &mut out,
            )
            .expect("a comparison");
            assert_eq!(out.len(), 3);
            black_box(out)
        })
    });
    g.finish();
}

/// The row diff's read of the target on PostgreSQL: `COPY … TO STDOUT` text lines of payment
/// lines split into one buffer of cells.
fn copy_reader(c: &mut Criterion) {
    let rows = payment_rows(10_000);
    // Each line as the load's COPY encoder writes it (PostgreSQL's own escapes are the same).
    let lines: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| {
            let mut line = Vec::new();
            for (i, cell) in r.iter().enumerate() {
                if i > 0 {
                    line.push(b'\t');
                }
                ykt_load::copy_text(&mut line, cell.as_deref());
            }
            line
        })
        .collect();
    let width = rows[0].len();
    let mut g = c.benchmark_group("copy_reader");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("payment_lines", |b| {
        b.iter(|| {
            let mut table = ykt_db::TextRows::new(width);
            for line in &lines {
                table.push_copy_line(line).expect("a line");
            }
            black_box(table.len())
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    field_rules,
    gbk_export_reader,
    copy_encoder,
    copy_reader,
    row_diff
);
criterion_main!(benches);
