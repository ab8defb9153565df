//! What the legacy system knows about users and townships.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use ykt_db::read_table;
use ykt_db::{Db, DbUrl};
use ykt_domain::rules;
use ykt_domain::{CountyResolution, LegacyTable, Regions};

use crate::UsersError;
use crate::check::{FormSet, Townships};

/// A legacy T_YH user.
#[derive(Debug, Clone)]
pub struct LegacyUser {
    pub login: String,
    pub name: String,
    pub id_number: Option<String>,
    pub unit: String,
    /// The current county (or city) code.
    pub county: String,
    pub active: bool,
}

async fn rows(url: &DbUrl, table: LegacyTable) -> Result<Vec<Vec<Option<String>>>, UsersError> {
    let db = Db::connect(url).await?;
    let mut snapshot = db.snapshot().await?;
    let mut out = Vec::new();
    read_table(&mut snapshot, table, 10_000, |page| {
        out.extend(page);
        Ok::<(), ykt_db::DbError>(())
    })
    .await?;
    snapshot.end().await?;
    db.close().await;
    Ok(out)
}

fn current_county(regions: &Regions, code: &str) -> Option<String> {
    match regions.resolve_county(code) {
        CountyResolution::Current(c) | CountyResolution::Remapped(c) => Some(c.to_owned()),
        CountyResolution::Unknown => code.get(..6).map(str::to_owned),
    }
}

/// The users of the legacy system (T_YH).
pub async fn read_legacy_users(
    url: &DbUrl,
    as_of: NaiveDate,
) -> Result<Vec<LegacyUser>, UsersError> {
    let regions = Regions::shaanxi();
    let t = LegacyTable::Users;
    let col = |name| t.column_index(name).expect("a T_YH column");
    let get = |r: &Vec<Option<String>>, name| r[col(name)].clone().unwrap_or_default();
    Ok(rows(url, t)
        .await?
        .iter()
        .map(|r| LegacyUser {
            login: get(r, "DLM"),
            name: get(r, "XM"),
            id_number: rules::id_number(Some(&get(r, "SFZH")), as_of)
                .ok()
                .map(|f| f.value),
            unit: get(r, "DWMC"),
            county: current_county(&regions, &get(r, "XZQHDM")).unwrap_or_default(),
            active: get(r, "ZT").trim() == "1",
        })
        .collect())
}

/// Township codes and names from legacy T_XZQH (9-digit codes, under current county codes).
pub async fn townships_from_legacy(url: &DbUrl) -> Result<Townships, UsersError> {
    let regions = Regions::shaanxi();
    let mut townships = Townships::default();
    for r in rows(url, LegacyTable::Regions).await? {
        let (Some(code), Some(name)) = (&r[0], &r[1]) else {
            continue;
        };
        if code.len() != 9 {
            continue;
        }
        if let Ok(fixed) = rules::region(Some(code), &regions) {
            townships
                .by_county
                .entry(fixed.value.county.clone())
                .or_default()
                .push((name.trim().to_owned(), fixed.value.code));
        }
    }
    Ok(townships)
}

/// Legacy users of the forms' counties missing from the forms, and form entries whose ID
/// number belongs to a legacy user of another unit. Messages in Chinese.
pub fn cross_check(set: &FormSet, legacy: &[LegacyUser]) -> Vec<String> {
    let mut notes = Vec::new();
    let homes: HashSet<&str> = set
        .entries
        .iter()
        .filter_map(|c| c.region.as_ref().map(|r| r.home.as_str()))
        .collect();
    let in_forms: HashSet<&str> = set
        .entries
        .iter()
        .filter_map(|c| c.id_number.as_deref())
        .collect();
    for u in legacy
        .iter()
        .filter(|u| u.active && homes.contains(u.county.as_str()))
    {
        if u.id_number
            .as_deref()
            .is_none_or(|id| !in_forms.contains(id))
        {
            notes.push(format!(
                "旧系统用户 {}（{}，{}）未出现在 {} 的采集表中",
                u.login, u.name, u.unit, u.county
            ));
        }
    }
    let by_id: HashMap<&str, &LegacyUser> = legacy
        .iter()
        .filter_map(|u| u.id_number.as_deref().map(|id| (id, u)))
        .collect();
    for c in &set.entries {
        let Some(u) = c.id_number.as_deref().and_then(|id| by_id.get(id)) else {
            continue;
        };
        let unit = c.entry.unit.trim();
        if !unit.is_empty() && !u.unit.ends_with(unit) && !unit.ends_with(u.unit.as_str()) {
            notes.push(format!(
                "文件 {} 第 {} 行 {}：身份证号与旧系统用户 {} 相同，但旧系统中的单位是“{}”，采集表填写为“{}”",
                c.entry.file, c.entry.row, c.entry.name, u.login, u.unit, c.entry.unit
            ));
        }
    }
    notes
}
