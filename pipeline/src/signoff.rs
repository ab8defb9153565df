//! A county's sign-off (核对无误) of its report, bound to the report's SHA-256: the report
//! must be the county's latest reconciliation. Two people sign, as the form has it: the 核对人
//! (checker), then the 审核人 (reviewer) on the same report. A report that does not balance or
//! has rejected rows pending is refused unless the signer accepts it with a reason.

use std::path::Path;

use ykt_cutover::Context;
use ykt_db::{DbUrl, quote_literal};
use ykt_reports::{CountySummary, Verdict};

use crate::target::open_for_writing;
use crate::{PipelineError, input};

/// Who signs, as the form names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 核对人: checks the figures against the county's own records; signs first.
    Checker,
    /// 审核人: reviews the checker's work; signs the same report after them.
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Checker => "checker",
            Role::Reviewer => "reviewer",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Role::Checker => "核对人",
            Role::Reviewer => "审核人",
        }
    }
}

/// What is signed, by whom.
#[derive(Debug, Clone)]
pub struct Signing<'a> {
    pub county: &'a str,
    pub role: Role,
    pub by: &'a str,
    pub report: &'a Path,
    /// `--accept-pending --reason`: sign a report that does not balance or has rejected rows
    /// pending, as it is, for this reason.
    pub accepted_reason: Option<&'a str>,
}

/// A recorded sign-off.
#[derive(Debug, Clone)]
pub struct Signed {
    pub summary: CountySummary,
    pub summary_sha256: String,
    pub signed_at: String,
    pub verdict: Verdict,
    /// Both people have now signed this report.
    pub complete: bool,
}

/// Refuses a verdict the signer has not accepted as it is.
fn check_verdict(
    summary: &CountySummary,
    verdict: Verdict,
    accepted_reason: Option<&str>,
) -> Result<(), PipelineError> {
    let county = &summary.county_code;
    if let Some(reason) = accepted_reason {
        if reason.trim().is_empty() {
            return Err(input(
                "--reason must say why the report is accepted as it is",
            ));
        }
        return Ok(());
    }
    let p = &summary.pending;
    match verdict {
        Verdict::Clean => Ok(()),
        Verdict::Pending => Err(input(format!(
            "county {county}'s report balances but {} rejected rows ({} payment lines, ¥{}) wait for the county to correct them; correct and migrate them again, or sign it as it is with --accept-pending --reason TEXT",
            p.rows,
            p.payment_lines,
            ykt_domain::format_money(p.payment_amount)
        ))),
        Verdict::Unbalanced => Err(input(format!(
            "county {county}'s report does not balance (不平衡); find the difference first, or sign it as it is with --accept-pending --reason TEXT"
        ))),
    }
}

/// Records one signature on `county`'s report `summary.json` in the target.
pub async fn signoff(
    context: &Context,
    target: &DbUrl,
    signing: &Signing<'_>,
) -> Result<Signed, PipelineError> {
    let Signing {
        county,
        role,
        by,
        report,
        accepted_reason,
    } = *signing;
    if county == ykt_domain::UNATTRIBUTED_COUNTY {
        return Err(input(format!(
            "{county} (未归属) is the province's task list, not a county's report: nobody signs it"
        )));
    }
    if by.trim().is_empty() {
        return Err(input("--by must name the person who signs"));
    }
    let summary: CountySummary = ykt_stage::read_json(report).map_err(|e| {
        input(format!(
            "{} is not a county summary.json: {e}",
            report.display()
        ))
    })?;
    if summary.county_code != county {
        return Err(input(format!(
            "{} is county {}'s report, not {county}",
            report.display(),
            summary.county_code,
        )));
    }
    // Judged from the figures, not from the verdict the file states.
    let (verdict, _) = Verdict::judge(summary.balanced, &summary.tables);
    check_verdict(&summary, verdict, accepted_reason)?;
    let sha = ykt_stage::sha256_file(report).map_err(input)?;
    let write = open_for_writing(target, "signoff", false, None).await?;
    let db = &write.db;
    ykt_load::apply_migrations(db).await?;
    let q = |v: &str| quote_literal(db.engine(), v);
    let latest = db
        .fetch_text_rows(
            "reading the latest report",
            &format!(
                "SELECT summary_sha256, at FROM cutover_county_report WHERE county_code = {} ORDER BY id DESC LIMIT 1",
                q(county)
            ),
        )
        .await?;
    match latest.first() {
        Some(r) if r[0].as_deref() == Some(sha.as_str()) => {}
        Some(r) => {
            return Err(input(format!(
                "{} is not county {county}'s latest report (the latest was written at {}); sign that one",
                report.display(),
                r[1].clone().unwrap_or_default()
            )));
        }
        None => {
            return Err(input(format!(
                "{target} has no reconciliation of county {county} to sign"
            )));
        }
    }
    let checker = ykt_reports::latest_signature(db, county, "checker", Some(&sha)).await?;
    if role == Role::Reviewer {
        match &checker {
            None => {
                return Err(input(format!(
                    "county {county}'s report has no 核对人 signature yet: the checker signs first (--role checker), then the reviewer"
                )));
            }
            Some(c) if c.by.trim() == by.trim() => {
                return Err(input(format!(
                    "{by} signed this report as 核对人; the 审核人 must be another person"
                )));
            }
            Some(_) => {}
        }
    }
    let signed_at = context.stamp();
    let reason = accepted_reason.map_or("NULL".to_owned(), |r| q(r.trim()));
    db.execute(
        "recording the sign-off",
        &format!(
            "INSERT INTO cutover_signoff (county_code, signed_by, signed_at, summary_sha256, run_id, role, verdict, accepted_reason) VALUES ({}, {}, {}, {}, {}, {}, {}, {reason})",
            q(county),
            q(by.trim()),
            q(&signed_at),
            q(&sha),
            q(&summary.run_id),
            q(role.as_str()),
            q(verdict.code()),
        ),
    )
    .await?;
    let complete = role == Role::Reviewer
        || ykt_reports::latest_signature(db, county, "reviewer", Some(&sha))
            .await?
            .is_some();
    db.close().await;
    Ok(Signed {
        summary,
        summary_sha256: sha,
        signed_at,
        verdict,
        complete,
    })
}
