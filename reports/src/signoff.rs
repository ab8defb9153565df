//! County sign-offs as the reports see them: whether the last sign-off still applies to the
//! report just written, the lines carried over at the freeze, and the sync increments.

use ykt_db::{Db, quote_literal};

use crate::ReportError;

/// One signature on a county report: who, when, on which report, and — for a report that did
/// not balance or had rejected rows pending — the reason the signer accepted it as it was.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Signature {
    pub by: String,
    pub at: String,
    pub summary_sha256: String,
    /// The verdict signed (clean, pending, unbalanced).
    pub verdict: Option<String>,
    pub accepted_reason: Option<String>,
}

/// A county's sign-off as the form has it, judged against a report: the 核对人 (checker) and
/// the 审核人 (reviewer) who signed the checker's report after them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignoffState {
    pub checker: Signature,
    pub reviewer: Option<Signature>,
    /// The report signed is the same as this one, and no synced change touched the county
    /// since.
    pub applies: bool,
    /// Why it no longer applies, in Chinese.
    pub reason: Option<String>,
}

impl SignoffState {
    /// Both people signed, and it still applies.
    pub fn complete(&self) -> bool {
        self.applies && self.reviewer.is_some()
    }

    /// One line for a terminal.
    pub fn describe(&self) -> String {
        let who = match &self.reviewer {
            Some(r) => format!(
                "checked by {} at {}, reviewed by {} at {}",
                self.checker.by, self.checker.at, r.by, r.at
            ),
            None => format!(
                "checked by {} at {}, not reviewed yet",
                self.checker.by, self.checker.at
            ),
        };
        match &self.reason {
            None => format!("{who}: applies"),
            Some(reason) => format!("{who}: NO LONGER APPLIES ({reason})"),
        }
    }
}

fn signature(r: &mut [Option<String>]) -> Signature {
    Signature {
        by: r[0].take().unwrap_or_default(),
        at: r[1].take().unwrap_or_default(),
        summary_sha256: r[2].take().unwrap_or_default(),
        verdict: r[3].take(),
        accepted_reason: r[4].take(),
    }
}

/// The latest signature of a role on a county's reports (of one report, when `sha` is given).
pub async fn latest_signature(
    target: &Db,
    county: &str,
    role: &str,
    sha: Option<&str>,
) -> Result<Option<Signature>, ReportError> {
    let e = target.engine();
    let of_report = sha.map_or(String::new(), |sha| {
        format!(" AND summary_sha256 = {}", quote_literal(e, sha))
    });
    let rows = target
        .fetch_text_rows(
            "reading the sign-off",
            &format!(
                "SELECT signed_by, signed_at, summary_sha256, verdict, accepted_reason FROM cutover_signoff WHERE county_code = {} AND role = {}{of_report} ORDER BY id DESC LIMIT 1",
                quote_literal(e, county),
                quote_literal(e, role)
            ),
        )
        .await?;
    Ok(rows.into_iter().next().map(|mut r| signature(&mut r)))
}

/// The latest sign-off of a county, judged against the summary.json whose SHA-256 is `current`.
/// The target must have the cutover tables (platform migrations 0002 and 0005).
pub async fn signoff_state(
    target: &Db,
    county: &str,
    current: &str,
) -> Result<Option<SignoffState>, ReportError> {
    let e = target.engine();
    let Some(checker) = latest_signature(target, county, "checker", None).await? else {
        return Ok(None);
    };
    // The reviewer signs the report the checker signed.
    let reviewer =
        latest_signature(target, county, "reviewer", Some(&checker.summary_sha256)).await?;
    let synced = target
        .fetch_i64(
            "looking for changes since the sign-off",
            &format!(
                "SELECT COUNT(*) FROM cutover_sync_change c JOIN cutover_sync_increment i ON i.id = c.increment_id WHERE c.county_code = {} AND i.at > {}",
                quote_literal(e, county),
                quote_literal(e, &checker.at)
            ),
        )
        .await?
        .unwrap_or(0);
    let reason = if checker.summary_sha256 != current {
        Some("签字后数据或核对结果发生了变化，本次报告与签字时的报告不同".to_owned())
    } else if synced > 0 {
        Some(format!(
            "签字后双轨期同步带来了本县 {synced} 行旧系统数据的变动"
        ))
    } else {
        None
    };
    Ok(Some(SignoffState {
        checker,
        reviewer,
        applies: reason.is_none(),
        reason,
    }))
}

/// A line carried over at the freeze: still owed, now paid in the new platform.
#[derive(Debug, Clone)]
pub(crate) struct CarriedLine {
    pub legacy_mxid: String,
    pub program: String,
    pub fund_year: String,
    pub amount: ykt_domain::Money,
    pub status: String,
}

pub(crate) async fn carried_over(
    target: &Db,
    county: &str,
) -> Result<Vec<CarriedLine>, ReportError> {
    let e = target.engine();
    let rows = target
        .fetch_text_rows(
            "reading the carried-over lines",
            &format!(
                "SELECT CAST(legacy_mxid AS TEXT), program_code, CAST(fund_year AS TEXT), amount, status FROM cutover_carry_over WHERE county_code = {} ORDER BY legacy_mxid",
                quote_literal(e, county)
            ),
        )
        .await?;
    rows.into_iter()
        .map(|mut r| {
            let raw = r[3].take().unwrap_or_default();
            let amount = ykt_domain::parse_money(&raw).ok_or_else(|| ReportError::Unreadable {
                what: format!(
                    "cutover_carry_over, line {}",
                    r[0].as_deref().unwrap_or("?")
                ),
                value: raw.clone(),
                expected: "an amount",
            })?;
            Ok(CarriedLine {
                legacy_mxid: r[0].take().unwrap_or_default(),
                program: r[1].take().unwrap_or_default(),
                fund_year: r[2].take().unwrap_or_default(),
                amount,
                status: r[4].take().unwrap_or_default(),
            })
        })
        .collect()
}

/// The sync increments that changed the county: (increment, when, legacy rows).
pub(crate) async fn increments(
    target: &Db,
    county: &str,
) -> Result<Vec<(String, String, u64)>, ReportError> {
    let rows = target
        .fetch_text_rows(
            "reading the sync increments",
            &format!(
                "SELECT CAST(i.id AS TEXT), i.at, CAST(COUNT(*) AS TEXT) FROM cutover_sync_change c JOIN cutover_sync_increment i ON i.id = c.increment_id WHERE c.county_code = {} GROUP BY i.id, i.at ORDER BY i.id",
                quote_literal(target.engine(), county)
            ),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|mut r| {
            (
                r[0].take().unwrap_or_default(),
                r[1].take().unwrap_or_default(),
                r[2].as_deref().and_then(|n| n.parse().ok()).unwrap_or(0),
            )
        })
        .collect())
}

/// Records a county report written (its summary.json checksum).
pub(crate) async fn record_report(
    target: &Db,
    at: &str,
    county: &str,
    run_id: &str,
    balanced: bool,
    sha: &str,
    out: &str,
) -> Result<(), ReportError> {
    let e = target.engine();
    let q = |v: &str| quote_literal(e, v);
    target
        .execute(
            "recording the county report",
            &format!(
                "INSERT INTO cutover_county_report (at, county_code, run_id, balanced, summary_sha256, out_dir) VALUES ({}, {}, {}, {}, {}, {})",
                q(at),
                q(county),
                q(run_id),
                i32::from(balanced),
                q(sha),
                q(out)
            ),
        )
        .await?;
    Ok(())
}
