//! `reconciliation.xlsx`: the county report's sections, one sheet each. Amounts are numeric
//! cells formatted to two decimals (an xlsx number is a double; the exact text is in the CSV
//! and `summary.json`, and two-decimal yuan amounts below 10^13 read back exactly).

use std::path::Path;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::html::program_years;
use crate::{CountyReport, ReportError, listings, table_caption};

/// Excel's row limit, less the header.
const MAX_ROWS: usize = 1_048_575;
/// Rows handed at a time from the thread that makes a listing's rows to its sheet's.
const BATCH_ROWS: usize = 1024;

enum Cell {
    Text(String),
    Int(i64),
    Money(Decimal),
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

struct Sheet<'a> {
    ws: &'a mut Worksheet,
    row: u32,
    bold: Format,
    money: Format,
}

impl<'a> Sheet<'a> {
    fn new(
        book: &'a mut Workbook,
        name: &str,
        header: &[&str],
        widths: &[f64],
    ) -> Result<Sheet<'a>, XlsxError> {
        // Constant memory: each sheet goes to a temporary file row by row, so a county with a
        // hundred thousand rejects does not hold its whole workbook in memory.
        let ws = book.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        let bold = Format::new().set_bold();
        for (c, h) in header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(c as u16, *w)?;
        }
        ws.set_freeze_panes(1, 0)?;
        Ok(Sheet::below_header(ws))
    }

    /// A sheet whose header [`Sheet::new`] wrote, to go on from its second row.
    fn below_header(ws: &'a mut Worksheet) -> Sheet<'a> {
        Sheet {
            ws,
            row: 1,
            bold: Format::new().set_bold(),
            money: Format::new().set_num_format("#,##0.00"),
        }
    }

    fn push(&mut self, cells: Vec<Cell>) -> Result<(), XlsxError> {
        self.push_styled(cells, false)
    }

    fn push_styled(&mut self, cells: Vec<Cell>, bold: bool) -> Result<(), XlsxError> {
        if self.row as usize > MAX_ROWS {
            return Ok(());
        }
        for (c, cell) in cells.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) if bold => {
                    self.ws
                        .write_string_with_format(self.row, c, &s, &self.bold)?;
                }
                Cell::Text(s) => {
                    self.ws.write_string(self.row, c, s)?;
                }
                Cell::Int(n) => {
                    self.ws.write_number(self.row, c, n as f64)?;
                }
                Cell::Money(d) => {
                    let value = d.to_f64().unwrap_or_default();
                    self.ws
                        .write_number_with_format(self.row, c, value, &self.money)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }
}

fn build(r: &CountyReport<'_>, book: &mut Workbook) -> Result<(), XlsxError> {
    let s = &r.summary;
    {
        let mut sh = Sheet::new(book, "结论", &["项目", "内容"], &[18.0, 90.0])?;
        sh.push(vec![
            text("县（区）"),
            Cell::Text(format!("{}（{}）", s.county_name, s.county_code)),
        ])?;
        sh.push(vec![text("迁移批次"), text(&s.run_id)])?;
        sh.push(vec![text("生成时间"), text(r.generated_at)])?;
        sh.push_styled(
            vec![text("核对结论"), Cell::Text(s.verdict_sentence())],
            true,
        )?;
        for p in &r.balance.problems {
            sh.push(vec![text("原因"), text(p)])?;
        }
    }
    {
        let mut sh = Sheet::new(
            book,
            "总体情况",
            &[
                "表",
                "数据",
                "旧系统行数",
                "迁移",
                "合并",
                "拒绝",
                "旧系统金额",
                "迁移金额",
                "拒绝金额",
                "金额无法识别（行）",
            ],
            &[9.0, 10.0, 11.0, 11.0, 8.0, 8.0, 18.0, 18.0, 16.0, 12.0],
        )?;
        for (t, f) in &s.tables {
            let mut row = vec![
                text(t),
                text(table_caption(t)),
                Cell::Int(f.source_rows as i64),
                Cell::Int(f.loaded_rows as i64),
                Cell::Int(f.merged_rows as i64),
                Cell::Int(f.rejected_rows as i64),
            ];
            if crate::has_amounts(t) {
                row.extend([
                    Cell::Money(f.source_amount),
                    Cell::Money(f.loaded_amount),
                    Cell::Money(f.rejected_amount),
                    Cell::Int(f.unreadable_amount_rows as i64),
                ]);
            }
            sh.push(row)?;
        }
    }
    {
        let mut sh = Sheet::new(
            book,
            "分项目年度",
            &[
                "表",
                "项目代码",
                "项目名称",
                "资金年度",
                "旧系统行数",
                "旧系统金额",
                "迁移",
                "迁移金额",
                "合并",
                "拒绝",
                "拒绝金额",
                "行数差额",
                "金额差额",
            ],
            &[
                9.0, 10.0, 22.0, 9.0, 11.0, 16.0, 11.0, 16.0, 6.0, 8.0, 14.0, 9.0, 12.0,
            ],
        )?;
        for table in ["T_FFMX", "T_ZJZB"] {
            for p in program_years(r, table) {
                sh.push(vec![
                    text(table),
                    text(&p.program),
                    text(r.programs.get(&p.program).map_or("", String::as_str)),
                    text(&p.fund_year),
                    Cell::Int(p.source_rows as i64),
                    Cell::Money(p.source_amount),
                    Cell::Int(p.loaded_rows as i64),
                    Cell::Money(p.loaded_amount),
                    Cell::Int(0),
                    Cell::Int(p.rejected_rows as i64),
                    Cell::Money(p.rejected_amount),
                    Cell::Int(p.row_difference()),
                    Cell::Money(p.amount_difference()),
                ])?;
            }
        }
    }
    // The listings' sheets are made (in order, with their headers) here and filled each on a
    // thread of its own: one after the other, the rejects and corrections of the county
    // preset kept the workbook's thread busy a second after the CSV files and the page were
    // written, with the other core idle.
    let mut rows = Vec::new();
    for listing in listings(r) {
        let Some(sheet) = listing.sheet else { continue };
        Sheet::new(book, sheet, &listing.header, &listing.widths)?;
        rows.push(listing.rows);
    }
    // Each sheet's rows are made on a thread of their own and handed over in batches: the
    // sheet's thread only writes cells. (The rejects sheet of the county preset was the
    // report step's last 0.37 s, a fifth of it making its rows, with the other core idle.)
    let first = book.worksheets_mut().len() - rows.len();
    std::thread::scope(|scope| {
        let fills: Vec<_> = book.worksheets_mut()[first..]
            .iter_mut()
            .zip(rows)
            .map(|(ws, rows)| {
                let (batches, made) = std::sync::mpsc::sync_channel::<Vec<Vec<Cell>>>(4);
                scope.spawn(move || {
                    let mut batch = Vec::with_capacity(BATCH_ROWS);
                    for row in rows {
                        batch.push(
                            row.into_iter()
                                .map(|c| Cell::Text(c.into_owned()))
                                .collect(),
                        );
                        if batch.len() == BATCH_ROWS {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                            // The sheet's thread stopped (an error): nothing more to make.
                            if batches.send(full).is_err() {
                                return;
                            }
                        }
                    }
                    let _ = batches.send(batch);
                });
                scope.spawn(move || {
                    let mut sh = Sheet::below_header(ws);
                    made.into_iter().flatten().try_for_each(|row| sh.push(row))
                })
            })
            .collect();
        fills.into_iter().try_for_each(|fill| {
            fill.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })?;
    {
        let mut sh = Sheet::new(book, "签字确认", &["项目", "签字"], &[20.0, 40.0])?;
        sh.push(vec![
            text("核对结论"),
            text("经核对，本县（区）迁移数据与旧系统一致（核对无误）。"),
        ])?;
        for label in ["核对人", "审核人", "日期", "单位（盖章）", "异议说明"] {
            sh.push(vec![text(label), text("")])?;
        }
    }
    Ok(())
}

/// The workbook's deflate level, 1 to 9 (the writer's default: 6). The deflate ends a
/// reconciliation alone on one core. County preset, the county's workbook: at level 6 it was
/// a third of the report step's CPU; at level 3 the save took 0.31–0.34 s and 10.3 MB, at level
/// 1 (the fastest match search) 0.19 s and 14.1 MB.
const ZIP_LEVEL: u8 = 1;

pub(crate) fn county(r: &CountyReport<'_>, path: &Path) -> Result<(), ReportError> {
    let err = |e: XlsxError| ReportError::Xlsx {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut book = Workbook::new();
    book.set_zip_compression_level(ZIP_LEVEL);
    // The temporary sheets beside the report, under the report folder's own permissions
    // (an unmasked report's folder is the owner's only): never in a shared /tmp.
    if let Some(dir) = path.parent() {
        book.set_tempdir(dir).map_err(err)?;
    }
    build(r, &mut book).map_err(err)?;
    book.save(path).map_err(err)
}
