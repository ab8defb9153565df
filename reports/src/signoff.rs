//! County sign-offs as the reports see them: whether the last sign-off still applies to the
//! report just written, the lines carried over at the freeze, and the sync increments.

use ykt_db::{Db, quote_literal};

use crate::ReportError;

/// A county's latest sign-off, judged against a report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignoffState {
    pub signed_by: String,
    pub signed_at: String,
    pub summary_sha256: String,
    /// The report signed is the same as this one, and no synced change touched the county
    /// since.
    pub applies: bool,
    /// Why it no longer applies, in Chinese.
    pub reason: Option<String>,
}

/// The latest sign-off of a county, judged against the summary.json whose SHA-256 is `current`.
/// The target must have the cutover tables (platform migration 0002).
pub async fn signoff_state(
    target: &Db,
    county: &str,
    current: &str,
) -> Result<Option<SignoffState>, ReportError> {
    let e = target.engine();
    let c = quote_literal(e, county);
    let rows = target
        .fetch_text_rows(
            "reading the sign-off",
            &format!("SELECT signed_by, signed_at, summary_sha256 FROM cutover_signoff WHERE county_code = {c} ORDER BY id DESC LIMIT 1"),
        )
        .await?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    let (signed_by, signed_at, sha) = (
        r[0].clone().unwrap_or_default(),
        r[1].clone().unwrap_or_default(),
        r[2].clone().unwrap_or_default(),
    );
    let synced = target
        .fetch_i64(
            "looking for changes since the sign-off",
            &format!(
                "SELECT COUNT(*) FROM cutover_sync_change c JOIN cutover_sync_increment i ON i.id = c.increment_id WHERE c.county_code = {c} AND i.at > {}",
                quote_literal(e, &signed_at)
            ),
        )
        .await?
        .unwrap_or(0);
    let reason = if sha != current {
        Some("签字后数据或核对结果发生了变化，本次报告与签字时的报告不同".to_owned())
    } else if synced > 0 {
        Some(format!(
            "签字后双轨期同步带来了本县 {synced} 行旧系统数据的变动"
        ))
    } else {
        None
    };
    Ok(Some(SignoffState {
        signed_by,
        signed_at,
        summary_sha256: sha,
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
