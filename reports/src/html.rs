//! Printable HTML (A4) in Chinese: the county report, the provincial summary and the
//! auditors' field-level diff.
//!
//! The pages are minijinja templates in `reports/templates/` (compiled into the binary), with
//! auto-escaping: every value is escaped unless it is built as safe HTML here (the character
//! diff, whose parts are escaped one by one). This module only prepares what the templates
//! show: figures as county staff read them, captions, the first rows of long lists.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment};
use rust_decimal::Decimal;
use serde::Serialize;
use similar::{ChangeTag, TextDiff};
use ykt_domain::{AuditFlag, CorrectionCode, RejectCode, format_money};
use ykt_reconcile::{BreakdownRow, PlatformFigures, Reconciliation, RowDiff, TableFigures};

use crate::summary::{ProvinceSummary, Verdict};
use crate::{CountyReport, Masker, ReportInput, diff_kind_caption, table_caption, table_label};

/// How many rows of a long list the printed report shows; the CSV and Excel files hold all.
const PRINTED_CORRECTIONS: usize = 60;
const PRINTED_REJECTS: usize = 500;
const PRINTED_FLAGS: usize = 300;
const PRINTED_DIFFS: usize = 200;
const AUDIT_DIFFS: usize = 20_000;

const TITLE: &str = "财政惠民补贴资金“一卡通”数据迁移核对报告";

const TABLE_ORDER: [&str; 4] = ["T_BTDX", "T_ZJZB", "T_FFPC", "T_FFMX"];

/// The report templates, parsed once.
fn templates() -> &'static Environment<'static> {
    static TEMPLATES: OnceLock<Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        // Text is escaped as HTML needs it and no more: a `/` in a date or a URL stays a `/`,
        // so the page source reads like the page.
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == AutoEscape::Html
                && value.kind() == ValueKind::String
                && !value.is_safe()
            {
                out.write_str(&escape_html(value.as_str().unwrap_or_default()))?;
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        for (name, source) in [
            ("style.css", include_str!("../templates/style.css")),
            ("page.html", include_str!("../templates/page.html")),
            ("parts.html", include_str!("../templates/parts.html")),
            ("county.html", include_str!("../templates/county.html")),
            ("province.html", include_str!("../templates/province.html")),
            (
                "audit-diff.html",
                include_str!("../templates/audit-diff.html"),
            ),
        ] {
            // The templates are part of the build; the unit tests render each of them.
            if let Err(e) = env.add_template(name, source) {
                panic!("report template {name} does not parse: {e:#}");
            }
        }
        env
    })
}

/// Renders one of the report templates.
fn render(name: &str, view: impl Serialize) -> String {
    match templates().get_template(name).and_then(|t| t.render(view)) {
        Ok(html) => html,
        // Only a defect of a template gets here; the unit tests render every branch.
        Err(e) => panic!("report template {name} does not render: {e:#}"),
    }
}

/// The running header of every printed page (a CSS string in `@page`, where HTML escapes do
/// not apply): quotes, backslashes, markup and control characters dropped.
fn page_label(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '"' | '\\' | '<' | '>' | '&' | '\'') && !c.is_control())
        .collect()
}

/// Text as HTML shows it: `&`, `<`, `>`, `"` and `'` escaped.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `1,234,567.80`: amounts as county staff read them.
pub(crate) fn yuan(amount: Decimal) -> String {
    let text = format_money(amount);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{frac}")
}

/// Program × fund year figures of one table, summed over status.
pub(crate) fn program_years(r: &CountyReport<'_>, table: &str) -> Vec<BreakdownRow> {
    let mut sums: BTreeMap<(String, String), BreakdownRow> = BTreeMap::new();
    for b in r.balance.breakdown.iter().filter(|b| b.table == table) {
        let year = year_label(&b.fund_year);
        sums.entry((b.program.clone(), year.clone()))
            .or_insert_with(|| BreakdownRow {
                table: b.table.clone(),
                program: b.program.clone(),
                fund_year: year,
                ..BreakdownRow::default()
            })
            .add(b);
    }
    sums.into_values().collect()
}

/// The label of a fund year in the program × year tables: the year, or 年度无法识别 for every
/// value that is not a fund year the platform takes (2000–2030), which then sorts after the
/// valid years as one row.
pub(crate) const UNREADABLE_YEAR: &str = "年度无法识别";

fn year_label(raw: &str) -> String {
    match raw.parse::<u16>() {
        Ok(y) if raw.len() == 4 && (2000..=2030).contains(&y) => raw.to_owned(),
        _ => UNREADABLE_YEAR.to_owned(),
    }
}

/// One row of the figures table: a legacy table's rows, and for money tables its amounts.
#[derive(Serialize)]
struct FigureLine {
    label: String,
    source_rows: u64,
    loaded_rows: u64,
    merged_rows: u64,
    rejected_rows: u64,
    row_difference: i64,
    money: Option<MoneyCells>,
}

#[derive(Serialize)]
struct MoneyCells {
    source: String,
    loaded: String,
    rejected: String,
    difference: String,
    bad: bool,
    unreadable_rows: u64,
}

impl MoneyCells {
    fn of(f: &TableFigures) -> MoneyCells {
        MoneyCells {
            source: yuan(f.source_amount),
            loaded: yuan(f.loaded_amount),
            rejected: yuan(f.rejected_amount),
            difference: yuan(f.amount_difference()),
            bad: !f.amount_difference().is_zero(),
            unreadable_rows: f.unreadable_amount_rows,
        }
    }
}

/// One line next to the figures for each one a county may wonder about.
fn figure_notes(tables: &BTreeMap<String, TableFigures>) -> Vec<String> {
    let mut notes = Vec::new();
    for &table in TABLE_ORDER.iter() {
        let Some(f) = tables.get(table) else { continue };
        let name = table_caption(table);
        if f.merged_rows > 0 {
            notes.push(format!(
                "{name}“合并” {} 行：同一身份证号的重复登记合并为一人（一人一卡），这些行已随合并后的人迁移，不是丢失。",
                f.merged_rows
            ));
        }
        if !has_amounts(table) {
            continue;
        }
        if f.rejected_amount < Decimal::ZERO {
            notes.push(format!(
                "{name}拒绝金额为负数（{} 元）：被拒绝的行中有负数金额，按原值计入拒绝金额，“旧系统金额 = 迁移金额 + 拒绝金额”才成立；这些行本身就是拒绝原因（金额必须大于 0）。",
                yuan(f.rejected_amount)
            ));
        } else if f.rejected_rows > 0 && f.rejected_amount == Decimal::ZERO {
            notes.push(format!(
                "{name}拒绝 {} 行但拒绝金额为 0.00：这些行的金额为空、为零或无法识别为金额，不计入金额合计。",
                f.rejected_rows
            ));
        }
        if f.unreadable_amount_rows > 0 {
            notes.push(format!(
                "{name}“金额无法识别” {} 行：旧系统中写法无法识别为金额的值（如含字母），只计行数、不计入任何金额合计，逐条见拒绝清单。",
                f.unreadable_amount_rows
            ));
        }
    }
    if tables.contains_key("T_BTDX") || tables.contains_key("T_FFPC") {
        notes.push("补贴对象和发放批次没有金额，金额栏空着。".to_owned());
    }
    notes
}

/// The legacy tables that hold money: payment lines and allocations.
pub fn has_amounts(table: &str) -> bool {
    matches!(table, "T_FFMX" | "T_ZJZB")
}

fn figure_lines(tables: &BTreeMap<String, TableFigures>) -> Vec<FigureLine> {
    TABLE_ORDER
        .iter()
        .filter_map(|&table| {
            let f = tables.get(table)?;
            let money = has_amounts(table).then(|| MoneyCells::of(f));
            Some(FigureLine {
                label: format!("{}（{table}）", table_caption(table)),
                source_rows: f.source_rows,
                loaded_rows: f.loaded_rows,
                merged_rows: f.merged_rows,
                rejected_rows: f.rejected_rows,
                row_difference: f.row_difference(),
                money,
            })
        })
        .collect()
}

/// A program × fund year table with its total line.
#[derive(Serialize)]
struct ProgramYears {
    unit: &'static str,
    lines: Vec<ProgramYearLine>,
}

#[derive(Serialize)]
struct ProgramYearLine {
    label: String,
    fund_year: String,
    source_rows: u64,
    source_amount: String,
    loaded_rows: u64,
    loaded_amount: String,
    rejected_rows: u64,
    rejected_amount: String,
    row_difference: i64,
    amount_difference: String,
    amount_bad: bool,
    total: bool,
}

impl ProgramYearLine {
    fn new(row: &BreakdownRow, label: String, total: bool) -> ProgramYearLine {
        ProgramYearLine {
            label,
            fund_year: row.fund_year.clone(),
            source_rows: row.source_rows,
            source_amount: yuan(row.source_amount),
            loaded_rows: row.loaded_rows,
            loaded_amount: yuan(row.loaded_amount),
            rejected_rows: row.rejected_rows,
            rejected_amount: yuan(row.rejected_amount),
            row_difference: row.row_difference(),
            amount_difference: yuan(row.amount_difference()),
            amount_bad: !row.amount_difference().is_zero(),
            total,
        }
    }
}

fn program_year_table(r: &CountyReport<'_>, table: &str, unit: &'static str) -> ProgramYears {
    let rows = program_years(r, table);
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let mut total = BreakdownRow::default();
    for row in &rows {
        let label = match r.programs.get(&row.program) {
            Some(name) => format!("{} {}", row.program, name),
            None if row.program.is_empty() => "（空）".to_owned(),
            None => format!("{}（项目表中没有）", row.program),
        };
        lines.push(ProgramYearLine::new(row, label, false));
        total.add(row);
    }
    if !rows.is_empty() {
        lines.push(ProgramYearLine::new(&total, "合计".to_owned(), true));
    }
    ProgramYears { unit, lines }
}

/// A cell of a printed list: text, a code (monospace) or a number (right-aligned).
#[derive(Serialize)]
struct Cell {
    kind: &'static str,
    value: String,
}

fn text(value: impl Into<String>) -> Cell {
    Cell {
        kind: "text",
        value: value.into(),
    }
}

fn code(value: impl Into<String>) -> Cell {
    Cell {
        kind: "code",
        value: value.into(),
    }
}

fn number(value: impl Into<String>) -> Cell {
    Cell {
        kind: "num",
        value: value.into(),
    }
}

/// The first rows of a long list, how many there are, and the file that holds them all.
#[derive(Serialize)]
struct Listing {
    headers: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
    total: usize,
    file: &'static str,
    /// Column widths in percent of the page, for a list with many columns.
    widths: Option<&'static [u8]>,
}

impl Listing {
    fn new(
        headers: &'static [&'static str],
        rows: impl ExactSizeIterator<Item = Vec<Cell>>,
        shown: usize,
        file: &'static str,
    ) -> Listing {
        let total = rows.len();
        Listing::of(headers, rows, total, shown, file)
    }

    /// The first `shown` of `total` rows.
    fn of(
        headers: &'static [&'static str],
        rows: impl Iterator<Item = Vec<Cell>>,
        total: usize,
        shown: usize,
        file: &'static str,
    ) -> Listing {
        Listing {
            headers,
            rows: rows.take(shown).collect(),
            total,
            file,
            widths: None,
        }
    }

    fn with_widths(mut self, widths: &'static [u8]) -> Listing {
        self.widths = Some(widths);
        self
    }
}

/// A section of coded rows: its heading, the count per code with its explanation (and, for
/// rejects, what the county does about it), and the list.
#[derive(Serialize)]
struct CodedSection {
    title: &'static str,
    total: usize,
    with_action: bool,
    codes: Vec<CodeCount>,
    list: Listing,
    /// Lines held back with their batch or person (rejects only).
    followers: usize,
}

#[derive(Serialize)]
struct CodeCount {
    code: String,
    explanation: &'static str,
    action: Option<&'static str>,
    count: u64,
}

fn code_counts(
    counts: &BTreeMap<String, u64>,
    explain: impl Fn(&str) -> (&'static str, Option<&'static str>),
) -> Vec<CodeCount> {
    counts
        .iter()
        .map(|(code, &count)| {
            let (explanation, action) = explain(code);
            CodeCount {
                code: code.clone(),
                explanation,
                action,
                count,
            }
        })
        .collect()
}

/// A payment line's status as county staff say it.
fn status_caption(status: &str) -> &str {
    ykt_domain::platform::PaymentStatus::parse(status).map_or(status, |s| s.chinese())
}

/// The rows the target holds that no legacy row explains, one phrase per platform table.
fn platform_rows(rows: &BTreeMap<String, PlatformFigures>) -> String {
    let parts: Vec<String> = rows
        .iter()
        .map(|(table, f)| {
            let amount = if table == "payment" || table == "allocation" {
                format!("，金额 {}", format_money(f.amount))
            } else {
                String::new()
            };
            format!(
                "{} {} 行{amount}",
                ykt_reconcile::platform_caption(table),
                f.rows
            )
        })
        .collect();
    parts.join("；")
}

/// The first five cells of a reject or correction line: village, person, batch, program and
/// year, amount.
fn context_cells(r: &CountyReport<'_>, c: &crate::RowContext) -> Vec<Cell> {
    let person = [
        r.mask.name(c.name.as_deref()),
        r.mask.show("SFZH", c.id_number.as_deref()),
    ];
    let program = [
        c.program_name(r.programs).to_owned(),
        c.fund_year.clone().unwrap_or_default(),
    ];
    vec![
        text(c.place()),
        text(joined(&person)),
        text(c.batch_no.as_deref().unwrap_or("")),
        text(joined(&program)),
        text(c.amount.as_deref().unwrap_or("")),
    ]
}

/// The non-empty parts, separated by a space.
fn joined(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

fn rejects_section(r: &CountyReport<'_>) -> CodedSection {
    // A line rejected with its batch or person is fixed by fixing that batch or person: the
    // printed list shows the rows to fix; rejects.csv lists every row.
    let cascaded = |code: &str| matches!(code, "R_BATCH_REJECTED" | "R_BENEFICIARY_REJECTED");
    let followers: u64 = (r.rejects.codes().iter())
        .filter(|(code, _)| cascaded(code))
        .map(|(_, n)| n)
        .sum();
    let followers = usize::try_from(followers).unwrap_or(usize::MAX);
    let to_fix = r.rejects.iter().filter(|x| !cascaded(&x.code));
    CodedSection {
        title: if r.summary.county_code == ykt_domain::UNATTRIBUTED_COUNTY {
            "三、拒绝清单（未迁移，省级迁移组待办：查明所属县区）"
        } else {
            "三、拒绝清单（未迁移，需县区处理）"
        },
        total: r.rejects.len(),
        with_action: !r.summary.rejects.is_empty(),
        codes: code_counts(&r.summary.rejects, |c| {
            let code = RejectCode::from_code(c);
            (
                code.map_or("", |c| c.explanation()),
                Some(code.map_or("", |c| c.county_action())),
            )
        }),
        followers,
        list: Listing::of(
            &[
                "村（社区）",
                "姓名 / 身份证号",
                "批次号",
                "项目 / 年度",
                "金额（元）",
                "数据 / 旧系统主键",
                "代码",
                "字段：原始值",
            ],
            to_fix.map(|x| {
                let mut row = context_cells(r, &x.context);
                row.extend([
                    text(format!("{} {}", table_caption(&x.table), x.key)),
                    code(&x.code),
                    text(format!(
                        "{}：{}",
                        x.field,
                        r.mask.show(&x.field, x.raw.as_deref())
                    )),
                ]);
                row
            }),
            r.rejects.len() - followers,
            PRINTED_REJECTS,
            "rejects.csv",
        )
        .with_widths(&[15, 14, 13, 13, 8, 9, 14, 14]),
    }
}

fn corrections_section(r: &CountyReport<'_>) -> CodedSection {
    CodedSection {
        title: "四、更正记录（已迁移，数值按规则规范化）",
        total: r.corrections.len(),
        with_action: false,
        codes: code_counts(&r.summary.corrections, |c| {
            (
                CorrectionCode::from_code(c).map_or("", |c| c.explanation()),
                None,
            )
        }),
        followers: 0,
        list: Listing::of(
            &[
                "村（社区）",
                "姓名 / 身份证号",
                "批次号",
                "项目 / 年度",
                "金额（元）",
                "数据 / 旧系统主键",
                "代码",
                "字段：更正前 → 更正后（改了什么）",
            ],
            r.corrections.iter().map(|x| {
                let mut row = context_cells(r, &x.context);
                let change =
                    crate::context::change_in_words(x.before.as_deref(), x.after.as_deref());
                let change = if change.is_empty() {
                    String::new()
                } else {
                    format!("（{change}）")
                };
                row.extend([
                    text(format!("{} {}", table_caption(&x.table), x.key)),
                    code(&x.code),
                    text(format!(
                        "{}：{} → {}{change}",
                        x.field,
                        r.mask.show(&x.field, x.before.as_deref()),
                        r.mask.show(&x.field, x.after.as_deref())
                    )),
                ]);
                row
            }),
            r.corrections.len(),
            PRINTED_CORRECTIONS,
            "corrections.csv",
        )
        .with_widths(&[15, 14, 13, 13, 8, 9, 14, 14]),
    }
}

fn flags_section(r: &CountyReport<'_>) -> CodedSection {
    CodedSection {
        title: "五、审计标记（供核查，不影响迁移）",
        total: r.flags.len(),
        with_action: false,
        codes: code_counts(&r.summary.flags, |c| {
            (
                AuditFlag::from_code(c).map_or("", |c| c.explanation()),
                None,
            )
        }),
        followers: 0,
        list: Listing::new(
            &["代码", "数据", "涉及的旧系统主键", "详情"],
            r.flags.iter().map(|f| {
                let keys = if f.legacy_keys.len() > 8 {
                    format!(
                        "{} 等 {} 条",
                        f.legacy_keys[..8].join("、"),
                        f.legacy_keys.len()
                    )
                } else {
                    f.legacy_keys.join("、")
                };
                vec![
                    code(f.flag),
                    text(table_label(f.table)),
                    text(keys),
                    text(&f.detail),
                ]
            }),
            PRINTED_FLAGS,
            "flags.csv",
        ),
    }
}

fn diffs_listing(r: &CountyReport<'_>) -> Listing {
    Listing::new(
        &[
            "数据",
            "旧系统主键",
            "差异",
            "字段",
            "应为（按旧系统）",
            "目标库实际",
        ],
        r.diffs.iter().map(|x| {
            let field = x.field.clone().unwrap_or_default();
            let expected = r.mask.show(&field, x.expected.as_deref());
            let actual = r.mask.show(&field, x.actual.as_deref());
            vec![
                text(table_label(x.table)),
                text(&x.key),
                text(diff_kind_caption(x.kind)),
                text(field),
                text(expected),
                text(actual),
            ]
        }),
        PRINTED_DIFFS,
        "diffs.csv",
    )
}

fn carried_listing(r: &CountyReport<'_>) -> Option<(String, Listing)> {
    if r.carried.is_empty() {
        return None;
    }
    let total: Decimal = r.carried.iter().map(|c| c.amount).sum();
    let list = Listing::new(
        &["旧系统明细主键", "项目", "资金年度", "金额（元）", "状态"],
        r.carried.iter().map(|c| {
            vec![
                text(&c.legacy_mxid),
                text(&c.program),
                text(&c.fund_year),
                number(yuan(c.amount)),
                text(status_caption(&c.status)),
            ]
        }),
        PRINTED_REJECTS,
        "carried-over.csv",
    );
    Some((yuan(total), list))
}

/// The county report: the verdict, the figures, what the county must fix, the sign-off form.
pub(crate) fn county(r: &CountyReport<'_>) -> String {
    #[derive(Serialize)]
    struct Increment<'a> {
        id: &'a str,
        at: &'a str,
        rows: u64,
    }
    #[derive(Serialize)]
    struct Carried {
        total: usize,
        amount: String,
        #[serde(flatten)]
        list: Listing,
    }
    let s = &r.summary;
    let lines = s.tables.get("T_FFMX").cloned().unwrap_or_default();
    let carried = carried_listing(r).map(|(amount, list)| Carried {
        total: list.total,
        amount,
        list,
    });
    render(
        "county.html",
        minijinja::context! {
            title => TITLE,
            page_label => page_label(&format!("{}（{}）{TITLE}", s.county_name, s.county_code)),
            county_name => &s.county_name,
            county_code => &s.county_code,
            run_id => &s.run_id,
            generated_at => r.generated_at,
            as_of => r.as_of.unwrap_or("—"),
            unmasked => r.mask.unmasked,
            verdict => s.verdict,
            tone => s.verdict.tone(),
            verdict_sentence => s.verdict_sentence(),
            pending_rows => s.pending.rows,
            unattributed => s.county_code == ykt_domain::UNATTRIBUTED_COUNTY,
            problems => &r.balance.problems,
            lines => minijinja::context! {
                source_rows => lines.source_rows,
                source_amount => yuan(lines.source_amount),
                loaded_rows => lines.loaded_rows,
                loaded_amount => yuan(lines.loaded_amount),
                rejected_rows => lines.rejected_rows,
                rejected_amount => yuan(lines.rejected_amount),
            },
            figures => figure_lines(&s.tables),
            figure_notes => figure_notes(&s.tables),
            platform_rows => platform_rows(&s.platform_rows),
            payments_by_program => program_year_table(r, "T_FFMX", "笔数"),
            allocations_by_program => program_year_table(r, "T_ZJZB", "条数"),
            rejects => rejects_section(r),
            corrections => corrections_section(r),
            flags => flags_section(r),
            row_diff => &s.row_diff,
            diffs => diffs_listing(r),
            increments => r.increments.iter().map(|(id, at, rows)| Increment { id, at, rows: *rows }).collect::<Vec<_>>(),
            carried => carried,
            signoff => &r.signoff,
        },
    )
}

/// One county's line (or the total line) of the provincial table.
#[derive(Serialize)]
struct CountyLine<'a> {
    code: &'a str,
    name: &'a str,
    /// The verdict's label and tone; empty on the total line.
    verdict: &'static str,
    /// Where the county's sign-off stands (payment-line table only).
    signoff: String,
    tone: &'static str,
    total: bool,
    source_rows: u64,
    loaded_rows: u64,
    rejected_rows: u64,
    row_difference: i64,
    money: MoneyCells,
    flags: u64,
    diffs: u64,
}

impl<'a> CountyLine<'a> {
    fn new(
        (code, name): (&'a str, &'a str),
        (tables, table): (&BTreeMap<String, TableFigures>, &str),
        (flags, diffs): (u64, u64),
        verdict: Option<Verdict>,
    ) -> CountyLine<'a> {
        let f = tables.get(table).cloned().unwrap_or_default();
        CountyLine {
            signoff: String::new(),
            code,
            name,
            verdict: verdict.map_or("", Verdict::label),
            tone: verdict.map_or("", Verdict::tone),
            total: verdict.is_none(),
            source_rows: f.source_rows,
            loaded_rows: f.loaded_rows,
            rejected_rows: f.rejected_rows,
            row_difference: f.row_difference(),
            money: MoneyCells::of(&f),
            flags,
            diffs,
        }
    }
}

/// The provincial summary: every county's verdict and payment figures, the totals, the reasons.
/// Where a county's sign-off stands, for the provincial table.
fn signoff_label(county: &str, state: Option<&Option<crate::SignoffState>>) -> String {
    if county == ykt_domain::UNATTRIBUTED_COUNTY {
        return "不需签字".to_owned();
    }
    match state {
        None | Some(None) => "未签字".to_owned(),
        Some(Some(s)) if !s.applies => "签字已不适用，需重签".to_owned(),
        Some(Some(s)) => match &s.reviewer {
            Some(r) => format!("已签字（{}、{}）", s.checker.by, r.by),
            None => format!("核对人 {} 已签，待审核人", s.checker.by),
        },
    }
}

pub(crate) fn province(
    p: &ProvinceSummary,
    rec: &Reconciliation,
    input: &ReportInput<'_>,
    signoffs: &BTreeMap<String, Option<crate::SignoffState>>,
) -> String {
    #[derive(Serialize)]
    struct Problem<'a> {
        code: &'a str,
        problem: &'a str,
    }
    let lines = |table: &str| {
        let mut lines: Vec<CountyLine<'_>> = p
            .counties
            .iter()
            .map(|c| {
                let mut line = CountyLine::new(
                    (&c.county_code, &c.county_name),
                    (&c.tables, table),
                    (c.flags.values().sum(), c.row_diff.total()),
                    Some(c.verdict),
                );
                line.signoff = signoff_label(&c.county_code, signoffs.get(&c.county_code));
                line
            })
            .collect();
        lines.push(CountyLine::new(
            ("", "合计"),
            (&p.totals.tables, table),
            (p.totals.flags.values().sum(), p.totals.row_diff.total()),
            None,
        ));
        lines
    };
    let problems: Vec<Problem<'_>> = rec
        .counties
        .iter()
        .flat_map(|c| {
            c.problems.iter().map(move |p| Problem {
                code: &c.county_code,
                problem: p,
            })
        })
        .collect();
    render(
        "province.html",
        minijinja::context! {
            title => TITLE,
            page_label => page_label(&format!("{TITLE}（全省汇总）")),
            run_id => &p.run_id,
            reconciliation_id => &input.reconciliation_id,
            generated_at => &input.generated_at,
            legacy => &input.legacy,
            target => &input.target,
            balanced => p.balanced,
            counties => p.counties.len(),
            unbalanced => p.counties.iter().filter(|c| !c.balanced).count(),
            pending => p.counties.iter().filter(|c| c.verdict == Verdict::Pending).count(),
            lines => lines("T_FFMX"),
            allocation_lines => lines("T_ZJZB"),
            figures => figure_lines(&p.totals.tables),
            unreadable_amounts => rec.unreadable_amounts.len(),
            problems => problems,
        },
    )
}

/// A value pair as an inline character diff, each part escaped: deletions struck, insertions
/// marked.
fn inline_diff(expected: &str, actual: &str) -> (String, String) {
    let diff = TextDiff::from_chars(expected, actual);
    let (mut old, mut new) = (String::new(), String::new());
    for change in diff.iter_all_changes() {
        let escaped = escape_html(change.value());
        match change.tag() {
            ChangeTag::Equal => {
                old.push_str(&escaped);
                new.push_str(&escaped);
            }
            ChangeTag::Delete => old.push_str(&format!("<del>{escaped}</del>")),
            ChangeTag::Insert => new.push_str(&format!("<ins>{escaped}</ins>")),
        }
    }
    (old, new)
}

/// The auditors' diff: every field-level difference, the changed characters marked.
pub(crate) fn audit_diff(
    rec: &Reconciliation,
    diffs: &[RowDiff],
    mask: Masker,
    generated_at: &str,
) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        county: &'a str,
        table: &'a str,
        key: &'a str,
        kind: &'a str,
        field: String,
        old: minijinja::Value,
        new: minijinja::Value,
    }
    let escaped = escape_html;
    let lines: Vec<Line<'_>> = diffs
        .iter()
        .take(AUDIT_DIFFS)
        .map(|d| {
            let field = d.field.clone().unwrap_or_default();
            let expected = mask.show(&field, d.expected.as_deref());
            let actual = mask.show(&field, d.actual.as_deref());
            let (old, new) = if d.kind != "value_mismatch" {
                (escaped(&expected), escaped(&actual))
            } else if expected == actual && d.expected != d.actual {
                (
                    escaped(&expected),
                    format!("{}（差异在遮蔽部分）", escaped(&actual)),
                )
            } else {
                inline_diff(&expected, &actual)
            };
            Line {
                county: &d.county_code,
                table: table_caption(d.table),
                key: &d.key,
                kind: diff_kind_caption(d.kind),
                field,
                old: minijinja::Value::from_safe_string(old),
                new: minijinja::Value::from_safe_string(new),
            }
        })
        .collect();
    render(
        "audit-diff.html",
        minijinja::context! {
            page_label => page_label("审计逐行差异"),
            run_id => &rec.run_id,
            generated_at => generated_at,
            unmasked => mask.unmasked,
            total => diffs.len(),
            diffs => lines,
            unreadable => &rec.unreadable_amounts,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_puzzling_figure_is_explained() {
        let figures = |rows: u64, amount: &str, unreadable: u64, merged: u64| TableFigures {
            source_rows: 10,
            loaded_rows: 10 - rows - merged,
            merged_rows: merged,
            rejected_rows: rows,
            rejected_amount: amount.parse().unwrap(),
            unreadable_amount_rows: unreadable,
            ..TableFigures::default()
        };
        let notes =
            |f: TableFigures, table: &str| figure_notes(&BTreeMap::from([(table.to_owned(), f)]));
        assert!(
            notes(figures(1, "-50.00", 0, 0), "T_FFMX")
                .iter()
                .any(|n| n.contains("负数（-50.00 元）"))
        );
        assert!(
            notes(figures(3, "0", 2, 0), "T_FFMX")
                .iter()
                .any(|n| n.contains("拒绝 3 行但拒绝金额为 0.00"))
        );
        assert!(
            notes(figures(3, "0", 2, 0), "T_FFMX")
                .iter()
                .any(|n| n.contains("“金额无法识别” 2 行"))
        );
        assert!(
            notes(figures(0, "0", 0, 2), "T_BTDX")
                .iter()
                .any(|n| n.contains("“合并” 2 行"))
        );
        assert!(notes(figures(0, "0", 0, 0), "T_FFMX").is_empty());
    }

    #[test]
    fn unreadable_fund_years_are_one_row_after_the_years() {
        assert_eq!(year_label("2019"), "2019");
        for raw in ["201", "202", "", "1999", "2031", "２０１９", "+201"] {
            assert_eq!(year_label(raw), UNREADABLE_YEAR, "{raw:?}");
        }
        assert!(UNREADABLE_YEAR > "2030", "sorts after the valid years");
    }

    #[test]
    fn page_labels_cannot_break_out_of_their_css_string() {
        assert_eq!(page_label("神木市（610881）"), "神木市（610881）");
        assert_eq!(
            page_label("a\"; } body { x: \\\"</style>\n"),
            "a; } body { x: /style"
        );
    }

    #[test]
    fn amounts_read_like_money() {
        assert_eq!(yuan("1234567.8".parse().unwrap()), "1,234,567.80");
        assert_eq!(yuan("-50".parse().unwrap()), "-50.00");
        assert_eq!(yuan("999".parse().unwrap()), "999.00");
    }

    #[test]
    fn inline_diff_marks_the_changed_characters() {
        let (old, new) = inline_diff("1200.00", "1300.00");
        assert_eq!(old, "1<del>2</del>00.00");
        assert_eq!(new, "1<ins>3</ins>00.00");
        assert_eq!(escape_html("<a&b>/"), "&lt;a&amp;b&gt;/");
    }
}
