//! Reading the forms: xlsx sheets or CSV files, the header row found wherever it is.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

use crate::UsersError;

/// Which of the notice's two forms a sheet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FormKind {
    /// 附件 1-3 财政用户信息采集表: 业务科（股）室, 市县, 姓名, 身份证号, 岗位.
    Finance,
    /// 附件 1-2 部门用户信息采集表: 业务主管部门名称, 市县(乡镇), 姓名, 身份证号, 岗位.
    Department,
}

impl FormKind {
    pub fn caption(self) -> &'static str {
        match self {
            FormKind::Finance => "财政用户信息采集表",
            FormKind::Department => "部门用户信息采集表",
        }
    }
}

/// One data row of a form, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: String,
    pub sheet: String,
    /// 1-based row number in the sheet.
    pub row: usize,
    pub kind: FormKind,
    /// 业务科（股）室 or 业务主管部门名称.
    pub unit: String,
    /// 市县 or 市县(乡镇).
    pub region: String,
    pub name: String,
    pub id_number: String,
    pub post: String,
    /// Column letters of unit, region, name, ID number and post.
    pub columns: [String; 5],
    /// The ID number was stored by Excel as a number (its last digits are lost).
    pub id_was_number: bool,
}

/// What was read: the data rows, and the example and note rows skipped.
#[derive(Debug, Default)]
pub struct ReadForms {
    pub entries: Vec<Entry>,
    pub example_rows: Vec<(String, String, usize)>,
    /// Notes, footers and signature lines under or around the table (file, sheet, row, text).
    pub note_rows: Vec<(String, String, usize, String)>,
}

/// A cell's text with spaces removed and full-width brackets made ASCII, for header matching.
fn key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            _ => c,
        })
        .collect()
}

pub(crate) fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(char::from(b'A' + r as u8));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

struct Cell {
    text: String,
    was_number: bool,
}

fn is_example(unit: &str, region: &str, id: &str) -> bool {
    let lower_id = id.to_lowercase();
    let region = key(region).to_lowercase();
    unit.contains("与财政云一致")
        || lower_id.contains("xxx")
        || matches!(region.as_str(), "xx县" | "xx市" | "xx乡镇" | "xx区")
}

/// A note, footer or signature line in the table's rows, not a person: the template's own
/// `说明：…` line, `备注`/`注：`, and the usual footer (`填表人：… 联系电话：… 填表日期：…`,
/// `负责人`, `（盖章）`). A row whose ID column holds an ID number is always a person.
fn is_note(cells: &[String], id: &str) -> bool {
    let digits = id.chars().filter(char::is_ascii_digit).count();
    if digits >= 15 {
        return false;
    }
    let text: String = cells.iter().map(|c| key(c)).collect();
    const STARTS: [&str; 5] = ["说明", "备注", "注:", "注：", "附:"];
    const MARKS: [&str; 6] = [
        "填表人",
        "联系电话:",
        "联系电话：",
        "填表日期",
        "负责人",
        "盖章",
    ];
    STARTS.iter().any(|s| text.starts_with(s)) || MARKS.iter().any(|m| text.contains(m))
}

/// Finds the header row of a grid and reads its data rows.
fn read_grid(
    file: &str,
    sheet: &str,
    first_row: usize,
    rows: Vec<Vec<Cell>>,
    out: &mut ReadForms,
) -> bool {
    for (h, header) in rows.iter().enumerate() {
        let keys: Vec<String> = header.iter().map(|c| key(&c.text)).collect();
        let find = |names: &[&str]| keys.iter().position(|k| names.contains(&k.as_str()));
        let (Some(name), Some(id), Some(post)) = (
            find(&["姓名"]),
            find(&["身份证号", "身份证号码"]),
            find(&["岗位"]),
        ) else {
            continue;
        };
        let (kind, unit) = match (
            find(&["业务科(股)室", "业务科室", "业务股室"]),
            find(&["业务主管部门名称", "业务主管部门"]),
        ) {
            (Some(u), _) => (FormKind::Finance, u),
            (None, Some(u)) => (FormKind::Department, u),
            _ => continue,
        };
        let Some(region) = find(&["市县", "市县(乡镇)", "市县区", "市县(区)"]) else {
            continue;
        };
        let columns = [unit, region, name, id, post].map(column_letter);
        for (i, row) in rows.iter().enumerate().skip(h + 1) {
            let get = |c: usize| {
                row.get(c)
                    .map(|x| x.text.trim().to_owned())
                    .unwrap_or_default()
            };
            let values = [get(unit), get(region), get(name), get(id), get(post)];
            if values.iter().all(String::is_empty) {
                continue;
            }
            let row_number = first_row + i + 1;
            let texts: Vec<String> = row.iter().map(|c| c.text.trim().to_owned()).collect();
            if is_note(&texts, &values[3]) {
                let text: Vec<&str> = texts
                    .iter()
                    .map(String::as_str)
                    .filter(|t| !t.is_empty())
                    .collect();
                out.note_rows.push((
                    file.to_owned(),
                    sheet.to_owned(),
                    row_number,
                    text.join(" "),
                ));
                continue;
            }
            if is_example(&values[0], &values[1], &values[3]) {
                out.example_rows
                    .push((file.to_owned(), sheet.to_owned(), row_number));
                continue;
            }
            let [unit_v, region_v, name_v, id_v, post_v] = values;
            out.entries.push(Entry {
                file: file.to_owned(),
                sheet: sheet.to_owned(),
                row: row_number,
                kind,
                unit: unit_v,
                region: region_v,
                name: name_v,
                id_number: id_v,
                post: post_v,
                columns: columns.clone(),
                id_was_number: row.get(id).is_some_and(|c| c.was_number),
            });
        }
        return true;
    }
    false
}

fn xlsx_cell(data: &Data) -> Cell {
    match data {
        Data::String(s) => Cell {
            text: s.clone(),
            was_number: false,
        },
        Data::Float(f) => Cell {
            text: format!("{f:.0}"),
            was_number: true,
        },
        Data::Int(i) => Cell {
            text: i.to_string(),
            was_number: true,
        },
        Data::Bool(b) => Cell {
            text: b.to_string(),
            was_number: false,
        },
        Data::Empty => Cell {
            text: String::new(),
            was_number: false,
        },
        other => Cell {
            text: other.to_string(),
            was_number: false,
        },
    }
}

/// CSV text (RFC 4180 quoting, CRLF or LF) as rows of cells; also reads back the CSV files
/// the reports write.
pub fn split_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Reads every form in the files (xlsx: every sheet that holds one; csv: the file).
pub fn read_forms(paths: &[impl AsRef<Path>]) -> Result<ReadForms, UsersError> {
    let mut out = ReadForms::default();
    for path in paths {
        let path = path.as_ref();
        let file = path.display().to_string();
        let err = |message: String| UsersError::File {
            file: file.clone(),
            message,
        };
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let mut found = false;
        if is_csv {
            let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
            let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                String::from_utf8(rest.to_vec())
                    .map_err(|_| err("the file starts like UTF-8 but is not".into()))?
            } else if let Ok(t) = std::str::from_utf8(&bytes) {
                t.to_owned()
            } else {
                encoding_rs::GBK
                    .decode_without_bom_handling_and_without_replacement(&bytes)
                    .ok_or_else(|| err("the file is neither UTF-8 nor GBK".into()))?
                    .into_owned()
            };
            let rows = split_csv(&text)
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|text| Cell {
                            text,
                            was_number: false,
                        })
                        .collect()
                })
                .collect();
            found = read_grid(&file, "-", 0, rows, &mut out);
        } else {
            let mut workbook = open_workbook_auto(path).map_err(|e| err(e.to_string()))?;
            for sheet in workbook.sheet_names() {
                let range = workbook
                    .worksheet_range(&sheet)
                    .map_err(|e| err(e.to_string()))?;
                let first_row = range.start().map_or(0, |(r, _)| r as usize);
                let first_col = range.start().map_or(0, |(_, c)| c as usize);
                let rows: Vec<Vec<Cell>> = range
                    .rows()
                    .map(|r| {
                        let mut cells: Vec<Cell> = (0..first_col)
                            .map(|_| Cell {
                                text: String::new(),
                                was_number: false,
                            })
                            .collect();
                        cells.extend(r.iter().map(xlsx_cell));
                        cells
                    })
                    .collect();
                found |= read_grid(&file, &sheet, first_row, rows, &mut out);
            }
        }
        if !found {
            return Err(UsersError::NoForm { file });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
    }

    #[test]
    fn csv_with_title_example_and_empty_rows() {
        let text = "财政用户信息采集表\r\n财政操作\r\n业务科（股）室,市县,姓名,身份证号,岗位\r\n与财政云一致，全称,XX县,张三,610xxxxxxxxxxxxxxxx,01（录入岗）\r\n农业科,榆阳区,王芳,11010519491231002X,01（录入岗）\r\n,,,,\r\n";
        let mut out = ReadForms::default();
        assert!(read_grid("f.csv", "-", 0, grid(text), &mut out));
        assert_eq!(
            out.example_rows,
            vec![("f.csv".to_owned(), "-".to_owned(), 4)]
        );
        assert_eq!(out.entries.len(), 1);
        assert!(out.note_rows.is_empty());
        let e = &out.entries[0];
        assert_eq!(
            (e.row, e.kind, e.unit.as_str(), e.columns[3].as_str()),
            (5, FormKind::Finance, "农业科", "D")
        );
    }

    fn grid(text: &str) -> Vec<Vec<Cell>> {
        split_csv(text)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|text| Cell {
                        text,
                        was_number: false,
                    })
                    .collect()
            })
            .collect()
    }

    /// The notice's template as offices fill it: the 说明 line under the table, a footer, a
    /// signature line; none of them is a person. A person whose unit is called 说明科 still is.
    #[test]
    fn the_templates_note_and_footer_rows_are_skipped_and_listed() {
        let text = "财政用户信息采集表\r\n业务科（股）室,市县,姓名,身份证号,岗位\r\n农业科,榆阳区,王芳,11010519491231002X,01（录入岗）\r\n农业科,榆阳区,李强,110105194912310037,02（审核岗）\r\n说明：每个科（股）室录入岗可为多个，审核岗1个。,,,,\r\n填表人：赵六,,联系电话：0912-1234567,,填表日期：2020年11月5日\r\n,,,,\r\n单位负责人（签字）：,,,单位（盖章）,\r\n说明科,榆阳区,钱七,11010519491231011X,01（录入岗）\r\n";
        let mut out = ReadForms::default();
        assert!(read_grid("f.csv", "-", 0, grid(text), &mut out));
        let people: Vec<&str> = out.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(people, ["王芳", "李强", "钱七"]);
        let notes: Vec<usize> = out.note_rows.iter().map(|n| n.2).collect();
        assert_eq!(notes, [5, 6, 8]);
        assert!(out.note_rows[0].3.starts_with("说明：每个科（股）室"));
    }

    proptest::proptest! {
        /// Whatever the other cells say (note words, footer words, any text), a row whose ID
        /// column holds an ID number is read as a person; and the note check never panics.
        #[test]
        fn a_row_with_an_id_number_is_always_a_person(
            unit in proptest::prop_oneof![
                proptest::prelude::Just("说明：".to_owned()),
                proptest::prelude::Just("填表人".to_owned()),
                proptest::prelude::Just("单位（盖章）".to_owned()),
                "\\PC{0,12}",
            ],
            name in "\\PC{0,8}",
            base in "[1-6][0-9]{5}19[5-9][0-9]0[1-9][12][0-9][0-9]{3}",
        ) {
            let check = ykt_domain::id_check_char(base.as_bytes()).unwrap() as char;
            let id = format!("{base}{check}");
            let cells = [unit.clone(), "榆阳区".to_owned(), name, id.clone(), "01".to_owned()];
            proptest::prop_assert!(!is_note(&cells, &id));
            let _ = is_note(&cells, &unit);
        }
    }
}
