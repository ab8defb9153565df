//! A county's sign-off (核对无误) of its report, bound to the report's SHA-256: the report
//! must be the county's latest reconciliation.

use std::path::Path;

use ykt_cutover::Context;
use ykt_db::{DbUrl, quote_literal};
use ykt_reports::CountySummary;

use crate::target::open_for_writing;
use crate::{PipelineError, input};

/// A recorded sign-off.
#[derive(Debug, Clone)]
pub struct Signed {
    pub summary: CountySummary,
    pub summary_sha256: String,
    pub signed_at: String,
}

/// Records `by`'s sign-off of `county`'s report `summary.json` in the target.
pub async fn signoff(
    context: &Context,
    target: &DbUrl,
    county: &str,
    by: &str,
    report: &Path,
) -> Result<Signed, PipelineError> {
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
    let signed_at = context.stamp();
    db.execute(
        "recording the sign-off",
        &format!(
            "INSERT INTO cutover_signoff (county_code, signed_by, signed_at, summary_sha256, run_id) VALUES ({}, {}, {}, {}, {})",
            q(county),
            q(by),
            q(&signed_at),
            q(&sha),
            q(&summary.run_id)
        ),
    )
    .await?;
    db.close().await;
    Ok(Signed {
        summary,
        summary_sha256: sha,
        signed_at,
    })
}
