//! The cutover policy as configuration (`ykt.toml`): phase boundaries, the routing year and
//! the application accounts. Validated whole: every problem is reported at once.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde::Deserialize;

use crate::CutoverError;

/// Beijing time, in which the notice states every boundary.
pub use ykt_domain::beijing;

/// The phases of `cutover-policy.md`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Open,
    Paused,
    DualRun,
    Frozen,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Open, Phase::Paused, Phase::DualRun, Phase::Frozen];

    pub const fn name(self) -> &'static str {
        match self {
            Phase::Open => "open",
            Phase::Paused => "paused",
            Phase::DualRun => "dual-run",
            Phase::Frozen => "frozen",
        }
    }

    pub const fn chinese(self) -> &'static str {
        match self {
            Phase::Open => "正常运行期",
            Phase::Paused => "暂停期",
            Phase::DualRun => "双轨运行期",
            Phase::Frozen => "冻结期",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == text)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub paused_from: DateTime<FixedOffset>,
    pub dual_run_from: DateTime<FixedOffset>,
    pub frozen_from: DateTime<FixedOffset>,
    /// Fund years up to and including this one are paid by legacy during dual-run.
    pub legacy_max_fund_year: i32,
    /// The legacy application's database account (MariaDB `user` or `user@host`, PostgreSQL
    /// role), whose write privileges are revoked while legacy is paused or frozen.
    pub legacy_account: Option<String>,
    /// The new platform's application account.
    pub target_account: Option<String>,
    /// `[databases]`: the legacy and target URLs when neither a flag nor `YKT_LEGACY_URL` /
    /// `YKT_TARGET_URL` gives them. Best without a password (see the README).
    pub legacy_url: Option<String>,
    pub target_url: Option<String>,
}

impl Default for Policy {
    fn default() -> Policy {
        let at = |y, m, d| {
            beijing()
                .with_ymd_and_hms(y, m, d, 0, 0, 0)
                .single()
                .expect("a valid default boundary")
        };
        Policy {
            paused_from: at(2020, 11, 10),
            dual_run_from: at(2020, 11, 15),
            frozen_from: at(2021, 1, 1),
            legacy_max_fund_year: 2019,
            legacy_account: None,
            target_account: None,
            legacy_url: None,
            target_url: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    phases: PhasesFile,
    #[serde(default)]
    routing: RoutingFile,
    #[serde(default)]
    accounts: AccountsFile,
    #[serde(default)]
    databases: DatabasesFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabasesFile {
    legacy: Option<String>,
    target: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhasesFile {
    paused: Option<String>,
    dual_run: Option<String>,
    frozen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    legacy_max_fund_year: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    legacy: Option<String>,
    target: Option<String>,
}

/// Reads a time as the operator writes it: RFC 3339 (`2020-11-15T00:00:00+08:00`), or
/// `2020-11-15`, `2020-11-15 08:30` or `2020-11-15 08:30:00` in Beijing time.
pub fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %:z") {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M %:z") {
        return Some(t);
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    beijing().from_local_datetime(&naive).single()
}

impl Policy {
    /// Reads `path`. Every problem is listed in one error.
    pub fn from_file(path: &Path) -> Result<Policy, CutoverError> {
        let text = std::fs::read_to_string(path).map_err(|e| CutoverError::Policy {
            path: path.to_owned(),
            problems: vec![format!("cannot read it: {e}")],
        })?;
        Policy::from_toml(&text).map_err(|problems| CutoverError::Policy {
            path: path.to_owned(),
            problems,
        })
    }

    pub fn from_toml(text: &str) -> Result<Policy, Vec<String>> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut policy = Policy::default();
        let mut problems = Vec::new();
        let mut time = |name: &str, value: &Option<String>, into: &mut DateTime<FixedOffset>| {
            if let Some(v) = value {
                match parse_time(v) {
                    Some(t) => *into = t,
                    None => problems.push(format!(
                        "phases.{name} = {v:?} is not a time (write e.g. \"2020-11-15T00:00:00+08:00\")"
                    )),
                }
            }
        };
        time("paused", &file.phases.paused, &mut policy.paused_from);
        time("dual_run", &file.phases.dual_run, &mut policy.dual_run_from);
        time("frozen", &file.phases.frozen, &mut policy.frozen_from);
        if let Some(y) = file.routing.legacy_max_fund_year {
            if !(2000..=2030).contains(&y) {
                problems.push(format!(
                    "routing.legacy_max_fund_year = {y} is outside 2000–2030"
                ));
            }
            policy.legacy_max_fund_year = y;
        }
        if !(policy.paused_from < policy.dual_run_from && policy.dual_run_from < policy.frozen_from)
        {
            problems.push(format!(
                "the phases must follow each other: paused ({}) < dual_run ({}) < frozen ({})",
                policy.paused_from, policy.dual_run_from, policy.frozen_from
            ));
        }
        for (name, account) in [
            ("legacy", &file.accounts.legacy),
            ("target", &file.accounts.target),
        ] {
            if let Some(a) = account {
                let ok = !a.is_empty()
                    && a.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.@%".contains(c));
                if !ok {
                    problems.push(format!(
                        "accounts.{name} = {a:?}: use letters, digits and _ - . @ % only"
                    ));
                }
            }
        }
        policy.legacy_account = file.accounts.legacy;
        policy.target_account = file.accounts.target;
        policy.legacy_url = file.databases.legacy;
        policy.target_url = file.databases.target;
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(problems)
        }
    }

    /// The phase at a moment.
    pub fn phase_at(&self, at: DateTime<FixedOffset>) -> Phase {
        if at < self.paused_from {
            Phase::Open
        } else if at < self.dual_run_from {
            Phase::Paused
        } else if at < self.frozen_from {
            Phase::DualRun
        } else {
            Phase::Frozen
        }
    }

    /// When a phase begins (`None` for open, which has always been).
    pub fn start_of(&self, phase: Phase) -> Option<DateTime<FixedOffset>> {
        match phase {
            Phase::Open => None,
            Phase::Paused => Some(self.paused_from),
            Phase::DualRun => Some(self.dual_run_from),
            Phase::Frozen => Some(self.frozen_from),
        }
    }

    /// The next boundary after `at`, with the phase it starts.
    pub fn next_boundary(
        &self,
        at: DateTime<FixedOffset>,
    ) -> Option<(Phase, DateTime<FixedOffset>)> {
        [Phase::Paused, Phase::DualRun, Phase::Frozen]
            .into_iter()
            .filter_map(|p| self.start_of(p).map(|t| (p, t)))
            .find(|(_, t)| *t > at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_notice() {
        let p = Policy::default();
        let t = |s: &str| parse_time(s).unwrap();
        assert_eq!(p.phase_at(t("2020-11-09 23:59:59")), Phase::Open);
        assert_eq!(p.phase_at(t("2020-11-10")), Phase::Paused);
        assert_eq!(p.phase_at(t("2020-11-15T00:00:00+08:00")), Phase::DualRun);
        // 2020-12-31 16:00 UTC is 2021-01-01 00:00 in Beijing.
        assert_eq!(p.phase_at(t("2020-12-31T16:00:00Z")), Phase::Frozen);
        assert_eq!(p.phase_at(t("2020-12-31T15:59:59Z")), Phase::DualRun);
        assert_eq!(p.next_boundary(t("2020-11-20")).unwrap().0, Phase::Frozen);
    }

    #[test]
    fn a_bad_file_lists_every_problem() {
        let problems = Policy::from_toml(
            "[phases]\npaused = \"soon\"\nfrozen = \"2020-11-01\"\n[routing]\nlegacy_max_fund_year = 1999\n[accounts]\nlegacy = \"x'; DROP\"\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        let unknown = Policy::from_toml("[phase]\npaused = \"2020-11-10\"\n").unwrap_err();
        assert!(unknown[0].contains("unknown field"), "{unknown:?}");
        let ok = Policy::from_toml("[routing]\nlegacy_max_fund_year = 2018\n").unwrap();
        assert_eq!(ok.legacy_max_fund_year, 2018);
    }
}

#[cfg(test)]
mod example {
    use super::*;

    #[test]
    fn the_documented_example_is_the_default_policy() {
        let text = include_str!("../../ykt.example.toml");
        assert_eq!(Policy::from_toml(text).unwrap(), Policy::default());
    }
}
