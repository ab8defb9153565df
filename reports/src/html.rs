//! Printable HTML (A4) in Chinese: the county report, the provincial summary and the
//! auditors' field-level diff.

use std::collections::BTreeMap;
use std::fmt::Write;

use rust_decimal::Decimal;
use similar::{ChangeTag, TextDiff};
use ykt_domain::{AuditFlag, CorrectionCode, RejectCode, format_money};
use ykt_reconcile::{Reconciliation, RowDiff};

use crate::summary::{CountySummary, ProvinceSummary, TableSummary, amount};
use crate::{CountyReport, Masker, ReportInput, diff_kind_caption, table_caption};

/// How many rows of a long list the printed report shows; the CSV and Excel files hold all.
const PRINTED_CORRECTIONS: usize = 60;
const PRINTED_REJECTS: usize = 500;
const PRINTED_FLAGS: usize = 300;
const PRINTED_DIFFS: usize = 200;
const AUDIT_DIFFS: usize = 20_000;

const TITLE: &str = "财政惠民补贴资金“一卡通”数据迁移核对报告";

const STYLE: &str = r#"
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 10pt; color: #111; margin: 0; line-height: 1.45; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 2mm 0; }
h2 { font-size: 12pt; margin: 6mm 0 2mm 0; border-bottom: 1px solid #444; padding-bottom: 1mm; }
p.sub { text-align: center; margin: 0 0 4mm 0; font-size: 12pt; }
.meta { font-size: 8.5pt; color: #444; margin-bottom: 3mm; }
.verdict { border: 2px solid; padding: 3mm 4mm; margin: 3mm 0; font-size: 11pt; }
.verdict b { font-size: 14pt; }
.ok { border-color: #1a7f37; background: #eef8f0; }
.bad { border-color: #b3261e; background: #fdeeee; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm 0; font-size: 8pt; line-height: 1.3; }
th, td { border: 1px solid #777; padding: 0.5mm 1.2mm; vertical-align: top; }
td.label { white-space: nowrap; }
th { background: #eee; font-weight: bold; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f6f6f6; }
td.diff-bad { color: #b3261e; font-weight: bold; }
.note { font-size: 8.5pt; color: #444; }
.sign { margin-top: 8mm; page-break-inside: avoid; }
.sign table td { height: 13mm; font-size: 10.5pt; }
del { background: #ffd7d5; text-decoration: line-through; }
ins { background: #ccf0d5; text-decoration: none; }
code { font-family: "Noto Sans Mono CJK SC", monospace; font-size: 8.5pt; }
a { color: #0b57d0; }
"#;

pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
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

fn yuan_text(text: &str) -> String {
    yuan(amount(text))
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

fn td(out: &mut String, text: &str) {
    let _ = write!(out, "<td>{}</td>", esc(text));
}

fn num(out: &mut String, n: impl std::fmt::Display) {
    let _ = write!(out, "<td class=\"n\">{n}</td>");
}

fn diff_cell(out: &mut String, text: String, bad: bool) {
    let class = if bad { "n diff-bad" } else { "n" };
    let _ = write!(out, "<td class=\"{class}\">{}</td>", esc(&text));
}

fn header(out: &mut String, cells: &[&str]) {
    out.push_str("<thead><tr>");
    for c in cells {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr></thead>\n");
}

const TABLE_ORDER: [&str; 4] = ["T_BTDX", "T_ZJZB", "T_FFPC", "T_FFMX"];

/// The headline in plain words, and why.
fn verdict(s: &CountySummary, problems: &[String]) -> String {
    let mut out = String::new();
    let lines = s.tables.get("T_FFMX").cloned().unwrap_or_default();
    if s.balanced {
        let _ = writeln!(
            out,
            "<div class=\"verdict ok\">核对结论：<b>平衡</b><br>旧系统 {} 笔发放明细、金额 {} 元，已全部迁移或列入拒绝清单：迁移 {} 笔、{} 元，拒绝 {} 笔、{} 元；补贴对象、资金指标、发放批次的行数同样对平；逐行比对未发现差异。</div>",
            lines.source_rows,
            yuan_text(&lines.source_amount),
            lines.loaded_rows,
            yuan_text(&lines.loaded_amount),
            lines.rejected_rows,
            yuan_text(&lines.rejected_amount)
        );
    } else {
        out.push_str("<div class=\"verdict bad\">核对结论：<b>不平衡</b><br>原因：<ul>");
        for p in problems {
            let _ = write!(out, "<li>{}</li>", esc(p));
        }
        out.push_str("</ul>请勿在新平台办理本县（区）发放，先与省级迁移组联系查明差异。</div>\n");
    }
    out
}

fn figures_table(out: &mut String, tables: &BTreeMap<String, TableSummary>) {
    out.push_str("<table>");
    header(
        out,
        &[
            "数据",
            "旧系统行数",
            "迁移",
            "合并",
            "拒绝",
            "行数差额",
            "旧系统金额（元）",
            "迁移金额（元）",
            "拒绝金额（元）",
            "金额差额（元）",
            "金额无法识别（行）",
        ],
    );
    for t in TABLE_ORDER {
        let Some(f) = tables.get(t) else { continue };
        let rows = f.row_difference();
        out.push_str("<tr>");
        td(out, &format!("{}（{t}）", table_caption(t)));
        num(out, f.source_rows);
        num(out, f.loaded_rows);
        num(out, f.merged_rows);
        num(out, f.rejected_rows);
        diff_cell(out, rows.to_string(), rows != 0);
        if matches!(t, "T_FFMX" | "T_ZJZB") {
            let d = f.amount_difference();
            num(out, yuan_text(&f.source_amount));
            num(out, yuan_text(&f.loaded_amount));
            num(out, yuan_text(&f.rejected_amount));
            diff_cell(out, yuan(d), !d.is_zero());
            num(out, f.unreadable_amount_rows);
        } else {
            out.push_str("<td></td><td></td><td></td><td></td><td></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Program × fund year figures of one table, summed over status.
pub(crate) struct ProgramYear {
    pub program: String,
    pub year: String,
    pub source_rows: u64,
    pub source_amount: Decimal,
    pub loaded_rows: u64,
    pub loaded_amount: Decimal,
    pub rejected_rows: u64,
    pub rejected_amount: Decimal,
}

impl ProgramYear {
    pub(crate) fn row_difference(&self) -> i64 {
        self.source_rows as i64 - self.loaded_rows as i64 - self.rejected_rows as i64
    }
    pub(crate) fn amount_difference(&self) -> Decimal {
        self.source_amount - self.loaded_amount - self.rejected_amount
    }
}

pub(crate) fn program_years(r: &CountyReport<'_>, table: &str) -> Vec<ProgramYear> {
    let mut sums: BTreeMap<(String, String), ProgramYear> = BTreeMap::new();
    for b in r.balance.breakdown.iter().filter(|b| b.table == table) {
        let e = sums
            .entry((b.program.clone(), b.fund_year.clone()))
            .or_insert_with(|| ProgramYear {
                program: b.program.clone(),
                year: b.fund_year.clone(),
                source_rows: 0,
                source_amount: Decimal::ZERO,
                loaded_rows: 0,
                loaded_amount: Decimal::ZERO,
                rejected_rows: 0,
                rejected_amount: Decimal::ZERO,
            });
        e.source_rows += b.source_rows;
        e.source_amount += b.source_amount;
        e.loaded_rows += b.loaded_rows;
        e.loaded_amount += b.loaded_amount;
        e.rejected_rows += b.rejected_rows;
        e.rejected_amount += b.rejected_amount;
    }
    sums.into_values().collect()
}

fn program_year_table(out: &mut String, r: &CountyReport<'_>, table: &str, unit: &str) {
    let rows = program_years(r, table);
    if rows.is_empty() {
        out.push_str("<p class=\"note\">无。</p>\n");
        return;
    }
    out.push_str("<table>");
    header(
        out,
        &[
            "项目",
            "资金年度",
            &format!("旧系统{unit}"),
            "旧系统金额（元）",
            &format!("迁移{unit}"),
            "迁移金额（元）",
            "合并",
            &format!("拒绝{unit}"),
            "拒绝金额（元）",
            &format!("差额{unit}"),
            "差额金额（元）",
        ],
    );
    let mut total = ProgramYear {
        program: String::new(),
        year: String::new(),
        source_rows: 0,
        source_amount: Decimal::ZERO,
        loaded_rows: 0,
        loaded_amount: Decimal::ZERO,
        rejected_rows: 0,
        rejected_amount: Decimal::ZERO,
    };
    let line = |out: &mut String, p: &ProgramYear, label: String, class: &str| {
        let _ = write!(out, "<tr{class}><td class=\"label\">{}</td>", esc(&label));
        td(out, &p.year);
        num(out, p.source_rows);
        num(out, yuan(p.source_amount));
        num(out, p.loaded_rows);
        num(out, yuan(p.loaded_amount));
        num(out, 0);
        num(out, p.rejected_rows);
        num(out, yuan(p.rejected_amount));
        diff_cell(out, p.row_difference().to_string(), p.row_difference() != 0);
        diff_cell(
            out,
            yuan(p.amount_difference()),
            !p.amount_difference().is_zero(),
        );
        out.push_str("</tr>\n");
    };
    for p in &rows {
        let label = match r.programs.get(&p.program) {
            Some(name) => format!("{} {}", p.program, name),
            None if p.program.is_empty() => "（空）".to_owned(),
            None => format!("{}（项目表中没有）", p.program),
        };
        line(out, p, label, "");
        total.source_rows += p.source_rows;
        total.source_amount += p.source_amount;
        total.loaded_rows += p.loaded_rows;
        total.loaded_amount += p.loaded_amount;
        total.rejected_rows += p.rejected_rows;
        total.rejected_amount += p.rejected_amount;
    }
    line(out, &total, "合计".to_owned(), " class=\"total\"");
    out.push_str("</table>\n");
}

fn more(out: &mut String, shown: usize, total: usize, file: &str) {
    if total > shown {
        let _ = writeln!(
            out,
            "<p class=\"note\">以上列出前 {shown} 条，共 {total} 条；完整清单见同一文件夹中的 {file} 和 reconciliation.xlsx。</p>"
        );
    }
}

/// A payment line's status as county staff say it.
fn status_caption(status: &str) -> &str {
    match status {
        "pending" => "待发放",
        "paid" => "已发放",
        "failed" => "发放失败",
        "refunded" => "已退回国库",
        "reissued" => "已重发",
        other => other,
    }
}

/// A cell of a printed list.
enum Cell {
    Text(String),
    Code(String),
    Num(String),
}

fn text(v: impl Into<String>) -> Cell {
    Cell::Text(v.into())
}

/// A list table: the first `shown` rows, and where to find the rest.
fn listing(
    out: &mut String,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<Cell>>,
    (shown, total, file): (usize, usize, &str),
) {
    out.push_str("<table>");
    header(out, headers);
    for row in rows.take(shown) {
        out.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Text(t) => td(out, &t),
                Cell::Code(c) => {
                    let _ = write!(out, "<td><code>{}</code></td>", esc(&c));
                }
                Cell::Num(n) => num(out, n),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    more(out, shown, total, file);
}

/// The head of a section of coded rows: the heading with the total, "无。" when there are none,
/// else the count per code. Returns whether there is a list to print.
fn coded_section(
    out: &mut String,
    title: &str,
    total: usize,
    counts: &BTreeMap<String, u64>,
    explain: impl Fn(&str) -> (String, Option<String>),
) -> bool {
    let _ = writeln!(out, "<h2>{title}：共 {total} 条</h2>");
    if total == 0 {
        out.push_str("<p class=\"note\">无。</p>\n");
        return false;
    }
    code_counts(out, counts, explain);
    true
}

fn code_counts(
    out: &mut String,
    counts: &BTreeMap<String, u64>,
    explain: impl Fn(&str) -> (String, Option<String>),
) {
    let with_action = counts.keys().any(|c| explain(c).1.is_some());
    out.push_str("<table>");
    if with_action {
        header(out, &["代码", "说明", "县区需做的处理", "条数"]);
    } else {
        header(out, &["代码", "说明", "条数"]);
    }
    for (code, n) in counts {
        let (zh, action) = explain(code);
        out.push_str("<tr>");
        let _ = write!(out, "<td><code>{}</code></td>", esc(code));
        td(out, &zh);
        if with_action {
            td(out, action.as_deref().unwrap_or(""));
        }
        num(out, n);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The rows the target holds that no legacy row explains, one line per platform table.
fn platform_rows(b: &mut String, rows: &BTreeMap<String, crate::PlatformSummary>) {
    if rows.is_empty() {
        return;
    }
    b.push_str(
        "<p class=\"note\">新平台自有数据（目标库中没有旧系统主键的数据，不是从旧系统迁移来的）：",
    );
    let parts: Vec<String> = rows
        .iter()
        .map(|(table, f)| {
            let amount = if table == "payment" || table == "allocation" {
                format!("，金额 {}", f.amount)
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
    b.push_str(&esc(&parts.join("；")));
    b.push_str("。新平台上线（双轨运行）前出现这类数据说明目标库被写入了旧系统以外的数据，本县不平衡；上线后它们是新平台自己的业务。</p>\n");
}

pub(crate) fn county(r: &CountyReport<'_>) -> String {
    let s = &r.summary;
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{TITLE}</h1>");
    let _ = writeln!(
        b,
        "<p class=\"sub\">{}（区划代码 {}）</p>",
        esc(&s.county_name),
        esc(&s.county_code)
    );
    let _ = writeln!(
        b,
        "<div class=\"meta\">迁移批次：<code>{}</code>　生成时间：{}　身份证出生日期判断基准日：{}　{}</div>",
        esc(&s.run_id),
        esc(r.generated_at),
        esc(r.as_of.unwrap_or("—")),
        if r.mask.unmasked {
            "本报告含完整身份证号和账号，仅供审计使用，请妥善保管。"
        } else {
            "身份证号只显示前 6 位和后 4 位，账号只显示后 4 位。"
        }
    );
    b.push_str(&verdict(s, &r.balance.problems));

    b.push_str("<h2>一、总体情况</h2>\n");
    b.push_str("<p class=\"note\">平衡的含义：旧系统行数 = 迁移 + 合并（重复登记的同一人） + 拒绝；发放明细和资金指标的旧系统金额 = 迁移金额 + 拒绝金额。旧系统数字直接取自旧系统数据库，迁移数字取自新平台数据库，两边独立统计。</p>\n");
    figures_table(&mut b, &s.tables);
    platform_rows(&mut b, &s.platform_rows);

    b.push_str("<h2>二、分项目、分年度发放明细</h2>\n");
    program_year_table(&mut b, r, "T_FFMX", "笔数");
    b.push_str("<p class=\"note\">资金指标：</p>\n");
    program_year_table(&mut b, r, "T_ZJZB", "条数");

    if coded_section(
        &mut b,
        "三、拒绝清单（未迁移，需县区处理）",
        r.rejects.len(),
        &s.rejects,
        |c| {
            let code = RejectCode::from_code(c);
            (
                code.map_or("", |c| c.explanation()).to_owned(),
                Some(code.map_or("", |c| c.county_action()).to_owned()),
            )
        },
    ) {
        // A line rejected with its batch or person is fixed by fixing that batch or person:
        // the printed list shows the rows to fix; rejects.csv lists every row.
        let cascaded = |code: &str| matches!(code, "R_BATCH_REJECTED" | "R_BENEFICIARY_REJECTED");
        let to_fix: Vec<&crate::RejectRow> =
            r.rejects.iter().filter(|x| !cascaded(&x.code)).collect();
        let followers = r.rejects.len() - to_fix.len();
        if followers > 0 {
            let _ = writeln!(
                b,
                "<p class=\"note\">其中 {followers} 条发放明细因所属批次或补贴对象被拒绝而一并暂缓，更正下列批次、对象后会随之迁移，逐条清单见 rejects.csv。下表列出需要县区逐条更正的 {} 条：</p>",
                to_fix.len()
            );
        }
        listing(
            &mut b,
            &["数据", "旧系统主键", "代码", "字段", "原始值"],
            to_fix.iter().map(|x| {
                vec![
                    text(table_caption(&x.table)),
                    text(&x.key),
                    Cell::Code(x.code.clone()),
                    text(&x.field),
                    text(r.mask.show(&x.field, x.raw.as_deref())),
                ]
            }),
            (PRINTED_REJECTS, to_fix.len(), "rejects.csv"),
        );
    }

    if coded_section(
        &mut b,
        "四、更正记录（已迁移，数值按规则规范化）",
        r.corrections.len(),
        &s.corrections,
        |c| {
            (
                CorrectionCode::from_code(c)
                    .map_or("", |c| c.explanation())
                    .to_owned(),
                None,
            )
        },
    ) {
        listing(
            &mut b,
            &["数据", "旧系统主键", "代码", "字段", "更正前", "更正后"],
            r.corrections.iter().map(|x| {
                vec![
                    text(table_caption(&x.table)),
                    text(&x.key),
                    Cell::Code(x.code.clone()),
                    text(&x.field),
                    text(r.mask.show(&x.field, x.before.as_deref())),
                    text(r.mask.show(&x.field, x.after.as_deref())),
                ]
            }),
            (PRINTED_CORRECTIONS, r.corrections.len(), "corrections.csv"),
        );
    }

    if coded_section(
        &mut b,
        "五、审计标记（供核查，不影响迁移）",
        r.flags.len(),
        &s.flags,
        |c| {
            (
                AuditFlag::from_code(c)
                    .map_or("", |c| c.explanation())
                    .to_owned(),
                None,
            )
        },
    ) {
        listing(
            &mut b,
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
                    Cell::Code(f.flag.to_owned()),
                    text(table_caption(f.table)),
                    text(keys),
                    text(&f.detail),
                ]
            }),
            (PRINTED_FLAGS, r.flags.len(), "flags.csv"),
        );
    }

    let d = &s.row_diff;
    let _ = writeln!(
        b,
        "<h2>六、逐行比对：目标库缺少 {} 行，多出 {} 行，字段值不一致 {} 处</h2>",
        d.missing_in_target, d.unexpected_in_target, d.value_mismatches
    );
    if r.diffs.is_empty() {
        b.push_str(
            "<p class=\"note\">按旧系统数据逐行推算的应迁移数据与新平台实际数据完全一致。</p>\n",
        );
    } else {
        listing(
            &mut b,
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
                vec![
                    text(table_caption(x.table)),
                    text(&x.key),
                    text(diff_kind_caption(x.kind)),
                    text(&field),
                    text(r.mask.show(&field, x.expected.as_deref())),
                    text(r.mask.show(&field, x.actual.as_deref())),
                ]
            }),
            (PRINTED_DIFFS, r.diffs.len(), "diffs.csv"),
        );
    }

    if !r.increments.is_empty() {
        b.push_str("<h2>双轨运行期同步增量</h2>\n<p class=\"note\">旧系统在双轨期继续办理 2019 年及以前年度资金，变动按增量同步到新平台，每次同步后重新核对。</p>\n<table>");
        header(&mut b, &["增量", "同步时间", "本县变动行数"]);
        for (id, at, n) in &r.increments {
            b.push_str("<tr>");
            td(&mut b, id);
            td(&mut b, at);
            num(&mut b, n);
            b.push_str("</tr>\n");
        }
        b.push_str("</table>\n");
    }
    if !r.carried.is_empty() {
        let total: Decimal = r.carried.iter().map(|c| amount(&c.amount)).sum();
        let _ = writeln!(
            b,
            "<h2>年末结转清单：{} 笔，金额 {} 元</h2>\n<p class=\"note\">冻结时仍由旧系统负责（待发或发放失败）的明细，已转由新平台办理，是本县尚需发放的资金。完整清单见 carried-over.csv。</p>",
            r.carried.len(),
            yuan(total)
        );
        listing(
            &mut b,
            &["旧系统明细主键", "项目", "资金年度", "金额（元）", "状态"],
            r.carried.iter().map(|c| {
                vec![
                    text(&c.legacy_mxid),
                    text(&c.program),
                    text(&c.fund_year),
                    Cell::Num(yuan_text(&c.amount)),
                    text(status_caption(&c.status)),
                ]
            }),
            (PRINTED_REJECTS, r.carried.len(), "carried-over.csv"),
        );
    }
    b.push_str("<div class=\"sign\"><h2>七、签字确认</h2>\n");
    match &r.signoff {
        Some(s) if s.applies => {
            let _ = writeln!(
                b,
                "<div class=\"verdict ok\">已签字：{} 于 {} 签字确认（核对无误）。本次核对结果与签字时的报告一致，签字仍然有效。</div>",
                esc(&s.signed_by),
                esc(&s.signed_at)
            );
        }
        Some(s) => {
            let _ = writeln!(
                b,
                "<div class=\"verdict bad\">原签字不再适用：{} 曾于 {} 签字确认，但{}。请重新核对并签字。</div>",
                esc(&s.signed_by),
                esc(&s.signed_at),
                esc(s.reason.as_deref().unwrap_or(""))
            );
        }
        None => {}
    }
    b.push_str(
        "<p>经核对，本县（区）上述迁移数据与旧系统一致（核对无误）。如有异议，请在下方注明。</p>\n",
    );
    b.push_str("<table><tr><td style=\"width:18%\">核对人（签字）</td><td style=\"width:32%\"></td><td style=\"width:18%\">审核人（签字）</td><td></td></tr>\n");
    b.push_str(
        "<tr><td>日期</td><td>　　　　年　　月　　日</td><td>单位（盖章）</td><td></td></tr>\n",
    );
    b.push_str("<tr><td>异议说明</td><td colspan=\"3\"></td></tr></table>\n");
    let _ = writeln!(
        b,
        "<p class=\"note\">本报告对应的 summary.json 的 SHA-256 校验值记录在报告文件夹的 manifest.json 中；数据变动后重新生成的报告校验值不同，原签字不再适用。</p></div>"
    );
    page(&format!("{} {}", s.county_name, TITLE), &b)
}

pub(crate) fn province(
    p: &ProvinceSummary,
    rec: &Reconciliation,
    input: &ReportInput<'_>,
) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{TITLE}（全省汇总）</h1>");
    let bad = p.counties.iter().filter(|c| !c.balanced).count();
    let _ = writeln!(
        b,
        "<div class=\"meta\">迁移批次：<code>{}</code>　生成时间：{}　旧系统：<code>{}</code>　新平台：<code>{}</code></div>",
        esc(&p.run_id),
        esc(&input.generated_at),
        esc(&input.legacy),
        esc(&input.target)
    );
    if p.balanced {
        let _ = writeln!(
            b,
            "<div class=\"verdict ok\">全省核对结论：<b>平衡</b><br>{} 个县（区）（含未归属 000000）全部平衡。</div>",
            p.counties.len()
        );
    } else {
        let _ = writeln!(
            b,
            "<div class=\"verdict bad\">全省核对结论：<b>不平衡</b><br>{} 个县（区）中有 {bad} 个不平衡，见下表红色数字和各县报告。</div>",
            p.counties.len()
        );
    }
    b.push_str("<h2>各县（区）核对情况（发放明细）</h2>\n<table>");
    header(
        &mut b,
        &[
            "区划代码",
            "名称",
            "结论",
            "旧系统笔数",
            "迁移",
            "拒绝",
            "行数差额",
            "旧系统金额（元）",
            "迁移金额（元）",
            "拒绝金额（元）",
            "金额差额（元）",
            "审计标记",
            "逐行差异",
        ],
    );
    let line = |b: &mut String,
                code: &str,
                name: &str,
                balanced: Option<bool>,
                f: &TableSummary,
                flags: u64,
                diffs: u64,
                link: bool,
                class: &str| {
        let rows = f.row_difference();
        let money = f.amount_difference();
        let _ = write!(b, "<tr{class}>");
        if link {
            let _ = write!(
                b,
                "<td class=\"label\"><a href=\"counties/{0}/reconciliation.html\">{0}</a></td>",
                esc(code)
            );
        } else {
            td(b, code);
        }
        let _ = write!(b, "<td class=\"label\">{}</td>", esc(name));
        match balanced {
            Some(true) => b.push_str("<td class=\"label\">平衡</td>"),
            Some(false) => b.push_str("<td class=\"label diff-bad\">不平衡</td>"),
            None => b.push_str("<td></td>"),
        }
        num(b, f.source_rows);
        num(b, f.loaded_rows);
        num(b, f.rejected_rows);
        diff_cell(b, rows.to_string(), rows != 0);
        num(b, yuan_text(&f.source_amount));
        num(b, yuan_text(&f.loaded_amount));
        num(b, yuan_text(&f.rejected_amount));
        diff_cell(b, yuan(money), !money.is_zero());
        num(b, flags);
        diff_cell(b, diffs.to_string(), diffs != 0);
        b.push_str("</tr>\n");
    };
    for c in &p.counties {
        let f = c.tables.get("T_FFMX").cloned().unwrap_or_default();
        line(
            &mut b,
            &c.county_code,
            &c.county_name,
            Some(c.balanced),
            &f,
            c.flags.values().sum(),
            c.row_diff.total(),
            true,
            "",
        );
    }
    let t = p.totals.tables.get("T_FFMX").cloned().unwrap_or_default();
    line(
        &mut b,
        "",
        "合计",
        None,
        &t,
        p.totals.flags.values().sum(),
        p.totals.row_diff.total(),
        false,
        " class=\"total\"",
    );
    b.push_str("</table>\n");
    b.push_str("<h2>全省各类数据合计</h2>\n");
    figures_table(&mut b, &p.totals.tables);
    if !rec.unreadable_amounts.is_empty() {
        let _ = writeln!(
            b,
            "<p class=\"note\">旧系统中有 {} 个金额无法识别为货币（不计入金额合计，列入拒绝清单），明细见 reconcile.json。</p>",
            rec.unreadable_amounts.len()
        );
    }
    let problems: Vec<(&str, &String)> = rec
        .counties
        .iter()
        .flat_map(|c| c.problems.iter().map(move |p| (c.county_code.as_str(), p)))
        .collect();
    if !problems.is_empty() {
        b.push_str("<h2>不平衡的原因</h2>\n<table>");
        header(&mut b, &["区划代码", "原因"]);
        for (code, p) in problems {
            b.push_str("<tr>");
            td(&mut b, code);
            td(&mut b, p);
            b.push_str("</tr>\n");
        }
        b.push_str("</table>\n");
    }
    b.push_str("<p class=\"note\">审计用的逐行差异见 audit/diff.html；每个文件的 SHA-256 校验值见 manifest.json，可用 <code>ykt report verify</code> 检查报告是否被改动。</p>\n");
    page(&format!("{TITLE}（全省汇总）"), &b)
}

/// A value pair as an inline character diff: deletions struck, insertions marked.
fn inline_diff(expected: &str, actual: &str) -> (String, String) {
    let diff = TextDiff::from_chars(expected, actual);
    let (mut old, mut new) = (String::new(), String::new());
    for change in diff.iter_all_changes() {
        let v = esc(change.value());
        match change.tag() {
            ChangeTag::Equal => {
                old.push_str(&v);
                new.push_str(&v);
            }
            ChangeTag::Delete => {
                let _ = write!(old, "<del>{v}</del>");
            }
            ChangeTag::Insert => {
                let _ = write!(new, "<ins>{v}</ins>");
            }
        }
    }
    (old, new)
}

pub(crate) fn audit_diff(
    rec: &Reconciliation,
    diffs: &[RowDiff],
    mask: Masker,
    generated_at: &str,
) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>逐行比对差异（审计用）</h1>");
    let _ = writeln!(
        b,
        "<div class=\"meta\">迁移批次：<code>{}</code>　生成时间：{}　{}</div>",
        esc(&rec.run_id),
        esc(generated_at),
        if mask.unmasked {
            "身份证号和账号完整显示。"
        } else {
            "身份证号和账号已遮蔽；遮蔽部分内的差异用 ykt reconcile --unmasked 查看。"
        }
    );
    b.push_str("<p class=\"note\">“应为”是按旧系统数据和迁移规则逐行推算的新平台数据，“实际”是新平台数据库中的数据。删除线标出应有而实际没有的字符，底色标出实际多出的字符。</p>\n");
    if diffs.is_empty() {
        b.push_str("<div class=\"verdict ok\"><b>无差异</b>：新平台数据与按旧系统推算的数据逐行、逐字段一致。</div>\n");
    } else {
        let _ = writeln!(
            b,
            "<div class=\"verdict bad\"><b>共 {} 处差异</b></div>",
            diffs.len()
        );
        b.push_str("<table>");
        header(
            &mut b,
            &[
                "县（区）",
                "数据",
                "旧系统主键",
                "差异",
                "字段",
                "应为",
                "实际",
            ],
        );
        for d in diffs.iter().take(AUDIT_DIFFS) {
            let field = d.field.clone().unwrap_or_default();
            let expected = mask.show(&field, d.expected.as_deref());
            let actual = mask.show(&field, d.actual.as_deref());
            let (old, new) = if d.kind == "value_mismatch" {
                if expected == actual && d.expected != d.actual {
                    let hidden = "（差异在遮蔽部分）".to_owned();
                    (esc(&expected), format!("{}{hidden}", esc(&actual)))
                } else {
                    inline_diff(&expected, &actual)
                }
            } else {
                (esc(&expected), esc(&actual))
            };
            b.push_str("<tr>");
            td(&mut b, &d.county_code);
            td(&mut b, table_caption(d.table));
            td(&mut b, &d.key);
            td(&mut b, diff_kind_caption(d.kind));
            td(&mut b, &field);
            let _ = write!(b, "<td>{old}</td><td>{new}</td>");
            b.push_str("</tr>\n");
        }
        b.push_str("</table>\n");
        if diffs.len() > AUDIT_DIFFS {
            let _ = writeln!(
                b,
                "<p class=\"note\">以上列出前 {AUDIT_DIFFS} 处；完整清单见各县文件夹中的 diffs.csv 和 diffs.json。</p>"
            );
        }
    }
    if !rec.unreadable_amounts.is_empty() {
        let _ = writeln!(
            b,
            "<h2>旧系统中无法识别的金额：{} 个</h2>\n<table>",
            rec.unreadable_amounts.len()
        );
        header(&mut b, &["县（区）", "表", "旧系统主键", "原始值"]);
        for u in &rec.unreadable_amounts {
            b.push_str("<tr>");
            td(&mut b, &u.county_code);
            td(&mut b, &u.table);
            td(&mut b, &u.key);
            td(&mut b, u.raw.as_deref().unwrap_or("（空）"));
            b.push_str("</tr>\n");
        }
        b.push_str("</table>\n");
    }
    page("逐行比对差异（审计用）", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(esc("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
