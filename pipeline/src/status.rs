//! The cutover's status at a moment: the phase, what each system may do, the next boundary,
//! and per county the last reconciliation and whether its sign-off still applies.

use chrono::{DateTime, FixedOffset};
use ykt_cutover::{Context, Phase};
use ykt_db::{Db, DbUrl};

use crate::PipelineError;

/// The status at a moment.
#[derive(Debug, Clone)]
pub struct Status {
    pub phase: Phase,
    /// What the legacy system may do, and what the new platform does.
    pub legacy_may: String,
    pub platform_may: String,
    /// The next phase and when it starts; `None` once the cutover is complete.
    pub next: Option<(Phase, DateTime<FixedOffset>)>,
    /// Per county, when a target was given and holds reconciliations.
    pub counties: Option<Vec<CountyStatus>>,
}

/// A county's last reconciliation and its sign-off.
#[derive(Debug, Clone)]
pub struct CountyStatus {
    pub county: String,
    pub reconciled_at: String,
    pub balanced: bool,
    pub signoff: Option<ykt_reports::SignoffState>,
}

/// What each system may do in a phase, from the policy's routing year.
pub fn allowed(context: &Context, phase: Phase) -> (String, String) {
    let year = context.policy.legacy_max_fund_year;
    let legacy = match phase {
        Phase::Open => "read-write".to_owned(),
        Phase::Paused => "no writes at all".to_owned(),
        Phase::DualRun => format!("payments for fund years ≤ {year} only"),
        Phase::Frozen => "read-only".to_owned(),
    };
    let new = match phase {
        Phase::Open => "not live".to_owned(),
        Phase::Paused => "migration, reconciliation, county reports".to_owned(),
        Phase::DualRun => format!(
            "live; fund years ≥ {}; may not pay lines owned by legacy",
            year + 1
        ),
        Phase::Frozen => "the only system".to_owned(),
    };
    (legacy, new)
}

/// The status at the context's moment, with the counties of `target` when given.
pub async fn status(context: &Context, target: Option<&DbUrl>) -> Result<Status, PipelineError> {
    let phase = context.phase();
    let (legacy_may, platform_may) = allowed(context, phase);
    let counties = match target {
        Some(url) => counties(url).await?,
        None => None,
    };
    Ok(Status {
        phase,
        legacy_may,
        platform_may,
        next: context.policy.next_boundary(context.at),
        counties,
    })
}

async fn counties(url: &DbUrl) -> Result<Option<Vec<CountyStatus>>, PipelineError> {
    let db = Db::connect(url).await?;
    if !db.table_exists("cutover_county_report").await? {
        db.close().await;
        return Ok(None);
    }
    let rows = db
        .fetch_text_rows(
            "reading the county reports",
            "SELECT r.county_code, r.at, CAST(r.balanced AS TEXT), r.summary_sha256 FROM cutover_county_report r WHERE r.id = (SELECT MAX(id) FROM cutover_county_report x WHERE x.county_code = r.county_code) ORDER BY r.county_code",
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let [county, at, balanced, sha] = [0, 1, 2, 3].map(|i| r[i].clone().unwrap_or_default());
        let signoff = ykt_reports::signoff_state(&db, &county, &sha).await?;
        out.push(CountyStatus {
            county,
            reconciled_at: at,
            balanced: balanced == "1",
            signoff,
        });
    }
    db.close().await;
    Ok(Some(out))
}
