//! Creating the platform's users from checked forms, and the administrators' account lists.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use pinyin::ToPinyin;
use rust_xlsxwriter::{Format, Workbook};
use ykt_db::{Db, Engine, quote_literal};

use crate::UsersError;
use crate::check::FormSet;
use crate::forms::FormKind;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// One account list per county (or city) for its administrator.
    pub account_lists: Vec<PathBuf>,
}

use ykt_domain::mask_id;

/// The login stem for a person: region code and the name in pinyin, e.g. `610802wangfang`.
fn login_stem(region_code: &str, name: &str) -> String {
    let mut stem = region_code.to_owned();
    for c in name.chars() {
        match c.to_pinyin() {
            Some(p) => stem.push_str(p.plain()),
            None if c.is_ascii_alphanumeric() => stem.push(c.to_ascii_lowercase()),
            None => {}
        }
    }
    stem
}

struct Row {
    id: i64,
    login: String,
    name: String,
    id_number: String,
    unit: String,
    region: String,
    role: &'static str,
    post: &'static str,
}

/// Creates or updates `platform_user` rows for every valid entry of the forms. The login is
/// derived from region and name and made unique; a person already imported keeps login and
/// id, so importing the same forms again changes nothing.
pub async fn import(db: &Db, set: &FormSet, out_dir: &Path) -> Result<ImportReport, UsersError> {
    let existing = db
        .fetch_text_rows(
            "reading platform users",
            "SELECT CAST(id AS TEXT), login, name, id_number, unit_name, region_code, role, post FROM platform_user",
        )
        .await?;
    let text = |r: &Vec<Option<String>>, i: usize| r[i].clone().unwrap_or_default();
    let mut taken: HashSet<String> = existing.iter().map(|r| text(r, 1)).collect();
    let by_person: HashMap<(String, String, String), Vec<Option<String>>> = existing
        .iter()
        .map(|r| ((text(r, 3), text(r, 4), text(r, 5)), r.clone()))
        .collect();
    let mut next_id = existing
        .iter()
        .filter_map(|r| text(r, 0).parse::<i64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let engine = db.engine();
    let q = |v: &str| quote_literal(engine, v);
    let active = if engine == Engine::Postgres {
        "TRUE"
    } else {
        "1"
    };
    let mut report = ImportReport::default();
    let mut rows: Vec<(String, Row)> = Vec::new();
    for c in &set.entries {
        let (Some(id_number), Some(post), Some(region)) = (&c.id_number, c.post, &c.region) else {
            continue;
        };
        let name: String = c
            .entry
            .name
            .chars()
            .filter(|ch| !ch.is_whitespace())
            .collect();
        let unit = c.entry.unit.clone();
        let role = match c.entry.kind {
            FormKind::Finance => "finance",
            FormKind::Department => "department",
        };
        let key = (id_number.clone(), unit.clone(), region.code.clone());
        let row = match by_person.get(&key) {
            Some(old) => {
                let changed =
                    text(old, 2) != name || text(old, 6) != role || text(old, 7) != post.code();
                let id: i64 = text(old, 0).parse().unwrap_or(0);
                if changed {
                    db.execute(
                        "updating a platform user",
                        &format!(
                            "UPDATE platform_user SET name = {}, role = {}, post = {}, active = {active} WHERE id = {id}",
                            q(&name), q(role), q(post.code())
                        ),
                    )
                    .await?;
                    report.updated += 1;
                } else {
                    report.unchanged += 1;
                }
                Row {
                    id,
                    login: text(old, 1),
                    name,
                    id_number: id_number.clone(),
                    unit,
                    region: region.code.clone(),
                    role,
                    post: post.code(),
                }
            }
            None => {
                let stem = login_stem(&region.code, &name);
                let mut login = stem.clone();
                let mut n = 2;
                while taken.contains(&login) {
                    login = format!("{stem}{n}");
                    n += 1;
                }
                taken.insert(login.clone());
                let id = next_id;
                next_id += 1;
                db.execute(
                    "creating a platform user",
                    &format!(
                        "INSERT INTO platform_user (id, login, name, id_number, unit_name, region_code, role, post, active) VALUES ({id}, {}, {}, {}, {}, {}, {}, {}, {active})",
                        q(&login), q(&name), q(id_number), q(&unit), q(&region.code), q(role), q(post.code())
                    ),
                )
                .await?;
                report.created += 1;
                Row {
                    id,
                    login,
                    name,
                    id_number: id_number.clone(),
                    unit,
                    region: region.code.clone(),
                    role,
                    post: post.code(),
                }
            }
        };
        rows.push((region.home.clone(), row));
    }
    report.account_lists = write_account_lists(&rows, out_dir)?;
    Ok(report)
}

fn write_account_lists(rows: &[(String, Row)], out_dir: &Path) -> Result<Vec<PathBuf>, UsersError> {
    let mut by_home: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for (home, row) in rows {
        by_home.entry(home).or_default().push(row);
    }
    let mut paths = Vec::new();
    for (home, mut list) in by_home {
        list.sort_by(|a, b| (&a.unit, a.post, &a.login).cmp(&(&b.unit, b.post, &b.login)));
        let path = out_dir.join(home).join("accounts.xlsx");
        let err = |message: String| UsersError::Write {
            file: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(path.parent().unwrap_or(out_dir))
            .map_err(|e| err(e.to_string()))?;
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("账号清单").map_err(|e| err(e.to_string()))?;
        let bold = Format::new().set_bold();
        let headers = [
            "用户ID",
            "登录名",
            "姓名",
            "身份证号（已脱敏）",
            "单位",
            "区划代码",
            "角色",
            "岗位",
        ];
        for (c, h) in headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(|e| err(e.to_string()))?;
        }
        for (r, row) in list.iter().enumerate() {
            let r = r as u32 + 1;
            let role = if row.role == "finance" {
                "财政"
            } else {
                "部门"
            };
            let post = if row.post == "01" {
                "01 录入岗"
            } else {
                "02 审核岗"
            };
            let cells = [
                row.login.as_str(),
                row.name.as_str(),
                &mask_id(&row.id_number),
                row.unit.as_str(),
                row.region.as_str(),
                role,
                post,
            ];
            sheet
                .write_number(r, 0, row.id as f64)
                .map_err(|e| err(e.to_string()))?;
            for (c, v) in cells.iter().enumerate() {
                sheet
                    .write_string(r, c as u16 + 1, *v)
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        sheet.autofit();
        book.save(&path).map_err(|e| err(e.to_string()))?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_masks() {
        assert_eq!(login_stem("610802", "王芳"), "610802wangfang");
        assert_eq!(
            login_stem("610802", "阿依古丽·买买提"),
            "610802ayigulimaimaiti"
        );
        assert_eq!(mask_id("610802196209276908"), "610802********6908");
    }
}
