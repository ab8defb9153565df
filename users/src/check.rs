//! The rules of `cutover-policy.md` § User accounts, applied to the forms as a whole.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::NaiveDate;
use ykt_domain::Regions;
use ykt_domain::rules;

use crate::forms::{Entry, FormKind, ReadForms};

/// How hard a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The form must be corrected.
    Error,
    /// A rule the notice states "in principle" (原则上); `--accept-warnings` lets it pass.
    Warning,
}

/// One broken rule, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub severity: Severity,
    pub file: String,
    pub sheet: String,
    pub row: usize,
    /// The cell, e.g. `D7`; empty for a rule about a group of rows.
    pub cell: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Error => "错误",
            Severity::Warning => "提示（原则性要求）",
        };
        write!(f, "[{tag}] 文件 {}", self.file)?;
        if self.sheet != "-" {
            write!(f, " · 工作表 {}", self.sheet)?;
        }
        write!(f, " · 第 {} 行", self.row)?;
        if !self.cell.is_empty() {
            write!(f, " · 单元格 {}", self.cell)?;
        }
        write!(f, "：{}", self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Post {
    /// 01 录入岗.
    Entry,
    /// 02 审核岗.
    Review,
}

impl Post {
    pub fn code(self) -> &'static str {
        match self {
            Post::Entry => "01",
            Post::Review => "02",
        }
    }

    pub fn caption(self) -> &'static str {
        match self {
            Post::Entry => "录入岗",
            Post::Review => "审核岗",
        }
    }

    /// `01（录入岗）`, `01 (录入岗)`, `01`, `录入岗` → entry; likewise for 02.
    pub fn parse(text: &str) -> Option<Post> {
        let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let entry = t.starts_with("01") || t == "1" || t.contains("录入");
        let review = t.starts_with("02") || t == "2" || t.contains("审核");
        match (entry, review) {
            (true, false) => Some(Post::Entry),
            (false, true) => Some(Post::Review),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionLevel {
    City,
    County,
    Township,
}

/// A region named in words, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolvedRegion {
    /// The code: city or county (6 digits), or township (9 digits when known, else its county's).
    pub code: String,
    pub level: RegionLevel,
    /// The county, or the city for a city-level entry: the account list it goes in.
    pub home: String,
    /// The name as the form gave it, normalised.
    pub name: String,
}

/// A form row after the rules: its normalised values where they could be read.
#[derive(Debug, Clone)]
pub struct CheckedEntry {
    pub entry: Entry,
    pub id_number: Option<String>,
    pub post: Option<Post>,
    pub region: Option<ResolvedRegion>,
}

/// The checked forms.
#[derive(Debug, Default)]
pub struct FormSet {
    pub entries: Vec<CheckedEntry>,
    pub violations: Vec<Violation>,
    /// Example rows of the notice left in the forms (skipped).
    pub example_rows: usize,
    /// Note, footer and signature rows (skipped): file, sheet, row, text.
    pub note_rows: Vec<(String, String, usize, String)>,
}

impl FormSet {
    pub fn errors(&self) -> usize {
        self.violations
            .iter()
            .filter(|v| v.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.violations
            .iter()
            .filter(|v| v.severity == Severity::Warning)
            .count()
    }
}

/// Township codes by county, from legacy T_XZQH when it is at hand.
#[derive(Debug, Default, Clone)]
pub struct Townships {
    pub by_county: HashMap<String, Vec<(String, String)>>,
}

impl Townships {
    fn code(&self, county: &str, name: &str) -> Option<String> {
        self.by_county
            .get(county)?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
    }
}

const TOWNSHIP_SUFFIXES: [&str; 6] = ["街道办事处", "街道办", "街道", "乡镇", "镇", "乡"];

fn names_index(regions: &Regions) -> HashMap<String, (String, RegionLevel)> {
    let mut map = HashMap::new();
    for (old, new) in regions.remapped_codes() {
        if let Some(name) = regions.name(old) {
            map.insert(name.to_owned(), (new.to_owned(), RegionLevel::County));
        }
    }
    for (code, name) in regions.cities() {
        map.insert(name.to_owned(), (code.to_owned(), RegionLevel::City));
    }
    for c in regions.counties() {
        map.insert(c.name.to_owned(), (c.code.to_owned(), RegionLevel::County));
    }
    map
}

fn normalise(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Applies every rule; returns all violations at once.
pub fn check(
    read: ReadForms,
    regions: &Regions,
    townships: &Townships,
    as_of: NaiveDate,
) -> FormSet {
    let names = names_index(regions);
    let mut set = FormSet {
        example_rows: read.example_rows.len(),
        note_rows: read.note_rows.clone(),
        ..FormSet::default()
    };
    let violation =
        |e: &Entry, severity: Severity, column: Option<usize>, message: String| Violation {
            severity,
            file: e.file.clone(),
            sheet: e.sheet.clone(),
            row: e.row,
            cell: column
                .map(|c| format!("{}{}", e.columns[c], e.row))
                .unwrap_or_default(),
            message,
        };
    // The county each sheet is about: the one county its rows name (for townships named alone).
    let mut sheet_counties: HashMap<(String, String), Vec<String>> = HashMap::new();
    for e in &read.entries {
        if let Some((code, RegionLevel::County)) = names.get(&normalise(&e.region)) {
            let list = sheet_counties
                .entry((e.file.clone(), e.sheet.clone()))
                .or_default();
            if !list.contains(code) {
                list.push(code.clone());
            }
        }
    }
    for e in read.entries {
        let mut v = Vec::new();
        if e.unit.is_empty() {
            let what = if e.kind == FormKind::Finance {
                "业务科（股）室"
            } else {
                "业务主管部门名称"
            };
            v.push(violation(
                &e,
                Severity::Error,
                Some(0),
                format!("{what}为空，应填写与财政云一致的全称"),
            ));
        }
        if normalise(&e.name).is_empty() {
            v.push(violation(&e, Severity::Error, Some(2), "姓名为空".into()));
        }
        let id_number = if e.id_was_number {
            v.push(violation(
                &e,
                Severity::Error,
                Some(3),
                "身份证号被 Excel 存成了数字，末几位已经丢失；请把该列设为文本后重新填写".into(),
            ));
            None
        } else {
            match rules::id_number(Some(&e.id_number), as_of) {
                Ok(fixed) => Some(fixed.value),
                Err(code) => {
                    v.push(violation(
                        &e,
                        Severity::Error,
                        Some(3),
                        format!("身份证号“{}”无效：{}", e.id_number, code.explanation()),
                    ));
                    None
                }
            }
        };
        let post = Post::parse(&e.post);
        if post.is_none() {
            v.push(violation(
                &e,
                Severity::Error,
                Some(4),
                format!("岗位“{}”无法识别，应为 01（录入岗）或 02（审核岗）", e.post),
            ));
        }
        let region = resolve(&e, &names, townships, &sheet_counties);
        match &region {
            Err(message) => v.push(violation(&e, Severity::Error, Some(1), message.clone())),
            Ok(r) if e.kind == FormKind::Finance && r.level == RegionLevel::Township => {
                v.push(violation(
                    &e,
                    Severity::Error,
                    Some(1),
                    "财政用户的“市县”应填写市或县（区），不填乡镇".into(),
                ));
            }
            Ok(_) => {}
        }
        set.violations.extend(v);
        set.entries.push(CheckedEntry {
            entry: e,
            id_number,
            post,
            region: region.ok(),
        });
    }
    group_rules(&mut set);
    set.violations.sort_by(|a, b| {
        (&a.file, &a.sheet, a.row, &a.cell, &a.message)
            .cmp(&(&b.file, &b.sheet, b.row, &b.cell, &b.message))
    });
    set
}

fn resolve(
    e: &Entry,
    names: &HashMap<String, (String, RegionLevel)>,
    townships: &Townships,
    sheet_counties: &HashMap<(String, String), Vec<String>>,
) -> Result<ResolvedRegion, String> {
    let text = normalise(&e.region);
    if text.is_empty() {
        return Err("市县为空".into());
    }
    if let Some((code, level)) = names.get(&text) {
        let home = code.clone();
        return Ok(ResolvedRegion {
            code: code.clone(),
            level: *level,
            home,
            name: text,
        });
    }
    if !TOWNSHIP_SUFFIXES.iter().any(|s| text.ends_with(s)) {
        return Err(format!(
            "“{}”不是陕西省现行的市或县（区）名称，也不是乡镇",
            e.region
        ));
    }
    // A township: "榆阳区镇川镇", or "镇川镇" in a sheet about one county.
    let prefixed = names
        .iter()
        .filter(|(n, (_, level))| {
            *level == RegionLevel::County && text.starts_with(n.as_str()) && text.len() > n.len()
        })
        .max_by_key(|(n, _)| n.len())
        .map(|(n, (code, _))| (code.clone(), text[n.len()..].to_owned()));
    let (county, township) = match prefixed {
        Some(found) => found,
        None => match sheet_counties
            .get(&(e.file.clone(), e.sheet.clone()))
            .map(Vec::as_slice)
        {
            Some([county]) => (county.clone(), text.clone()),
            Some(many) if many.len() > 1 => {
                return Err(format!(
                    "乡镇“{}”前未写县（区）名，而本表涉及多个县（区）；请写成“县区名+乡镇名”",
                    e.region
                ));
            }
            _ => {
                return Err(format!(
                    "无法确定乡镇“{}”属于哪个县（区）；请写成“县区名+乡镇名”，如“榆阳区镇川镇”",
                    e.region
                ));
            }
        },
    };
    let code = townships
        .code(&county, &township)
        .unwrap_or_else(|| county.clone());
    Ok(ResolvedRegion {
        code,
        level: RegionLevel::Township,
        home: county,
        name: text,
    })
}

/// The rules about groups of rows: posts per unit, one post per person, no duplicates.
fn group_rules(set: &mut FormSet) {
    let mut groups: BTreeMap<(FormKind, String, ResolvedRegion), Vec<usize>> = BTreeMap::new();
    for (i, c) in set.entries.iter().enumerate() {
        if let (Some(region), false) = (&c.region, c.entry.unit.is_empty()) {
            groups
                .entry((c.entry.kind, c.entry.unit.clone(), region.clone()))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for ((kind, unit, region), members) in &groups {
        let first = &set.entries[members[0]].entry;
        let posts = |p: Post| {
            members
                .iter()
                .filter(|&&i| set.entries[i].post == Some(p))
                .collect::<Vec<_>>()
        };
        let (entries, reviews) = (posts(Post::Entry), posts(Post::Review));
        let rows = |list: &[&usize]| {
            list.iter()
                .map(|&&i| set.entries[i].entry.row.to_string())
                .collect::<Vec<_>>()
                .join("、")
        };
        let at = |severity, message: String| Violation {
            severity,
            file: first.file.clone(),
            sheet: first.sheet.clone(),
            row: first.row,
            cell: String::new(),
            message,
        };
        match (kind, region.level) {
            (FormKind::Finance, _) => {
                if entries.is_empty() {
                    out.push(at(
                        Severity::Error,
                        format!(
                            "科（股）室“{unit}”（{}）没有录入岗（01），至少应有 1 个",
                            region.name
                        ),
                    ));
                }
                if reviews.len() != 1 {
                    out.push(at(
                        Severity::Error,
                        format!(
                            "科（股）室“{unit}”（{}）有 {} 个审核岗（02）{}，应为 1 个",
                            region.name,
                            reviews.len(),
                            if reviews.is_empty() {
                                String::new()
                            } else {
                                format!("（第 {} 行）", rows(&reviews))
                            }
                        ),
                    ));
                }
            }
            (FormKind::Department, RegionLevel::Township) => {
                if entries.len() != 1 {
                    out.push(at(
                        Severity::Warning,
                        format!(
                            "部门“{unit}”在乡镇“{}”有 {} 个录入岗（01）{}，原则上每个乡镇 1 个",
                            region.name,
                            entries.len(),
                            if entries.is_empty() {
                                String::new()
                            } else {
                                format!("（第 {} 行）", rows(&entries))
                            }
                        ),
                    ));
                }
                if !reviews.is_empty() {
                    out.push(at(
                        Severity::Warning,
                        format!(
                            "部门“{unit}”在乡镇“{}”设了审核岗（第 {} 行），原则上乡镇只设录入岗",
                            region.name,
                            rows(&reviews)
                        ),
                    ));
                }
            }
            (FormKind::Department, level) => {
                let level_name = if level == RegionLevel::City {
                    "市"
                } else {
                    "县（区）"
                };
                if entries.len() != 1 || reviews.len() != 1 {
                    out.push(at(
                        Severity::Error,
                        format!(
                            "部门“{unit}”在{level_name}“{}”有录入岗 {} 个、审核岗 {} 个，应各 1 个",
                            region.name,
                            entries.len(),
                            reviews.len()
                        ),
                    ));
                }
            }
        }
    }
    out.extend(duplicate_people(set));
    set.violations.extend(out);
}

/// One person, one post in one unit; and each person once across all forms.
fn duplicate_people(set: &FormSet) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, c) in set.entries.iter().enumerate() {
        let Some(id) = &c.id_number else { continue };
        match seen.get(id) {
            None => {
                seen.insert(id.clone(), i);
            }
            Some(&j) => {
                let (a, b) = (&set.entries[j], c);
                let same_unit = a.entry.kind == b.entry.kind
                    && a.entry.unit == b.entry.unit
                    && a.region == b.region;
                let message = if same_unit {
                    format!(
                        "“{}”在同一单位“{}”担任两个岗位（另见第 {} 行），一人只能有一个岗位",
                        b.entry.name, b.entry.unit, a.entry.row
                    )
                } else {
                    format!(
                        "“{}”（身份证号同 {} 第 {} 行）在采集表中重复出现",
                        b.entry.name, a.entry.file, a.entry.row
                    )
                };
                out.push(Violation {
                    severity: Severity::Error,
                    file: b.entry.file.clone(),
                    sheet: b.entry.sheet.clone(),
                    row: b.entry.row,
                    cell: format!("{}{}", b.entry.columns[3], b.entry.row),
                    message,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_spellings() {
        for t in [
            "01（录入岗）",
            "01 (录入岗)",
            "01",
            "录入岗",
            " 01（录入岗） ",
        ] {
            assert_eq!(Post::parse(t), Some(Post::Entry), "{t}");
        }
        for t in ["02（审核岗）", "02 (审核岗)", "02", "审核岗"] {
            assert_eq!(Post::parse(t), Some(Post::Review), "{t}");
        }
        assert_eq!(Post::parse("03"), None);
        assert_eq!(Post::parse("01（审核岗）"), None, "contradictory");
    }
}
