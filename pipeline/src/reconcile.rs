//! A reconciliation with its reports: control totals from both sides, the audit flags, the
//! row diff, then every report and its manifest in the report folder.

use std::path::PathBuf;

use ykt_cutover::{Context, beijing};
use ykt_db::{Db, DbUrl};
use ykt_extract::LegacySource;
use ykt_reconcile::{
    FlagHit, LegacySide, Reconciliation, RowDiff, audit_flags, diff_counties, reconcile, row_diff,
};
use ykt_reports::{ReportInput, RowsAhead, WrittenReports, write_reports};
use ykt_stage::{Stage, Step, TransformManifest};

use crate::PipelineError;

/// The flags' lines are the diff's: without the diff there are none to judge.
fn diff_stopped() -> ykt_reconcile::ReconcileError {
    ykt_reconcile::ReconcileError::Target(
        "the row diff stopped before it had read every payment line".into(),
    )
}

/// Where the reports go and how much personal data they show.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub out: PathBuf,
    /// ID numbers and accounts in full (for auditors); masked otherwise.
    pub unmasked: bool,
}

/// What a reconciliation found and wrote.
#[derive(Debug)]
pub struct ReconcileOutcome {
    pub reconciliation: Reconciliation,
    pub flags: Vec<FlagHit>,
    pub reports: WrittenReports,
}

/// Reconciles legacy and target independently and writes every report.
pub async fn reconcile_and_report(
    context: &Context,
    source: &LegacySource,
    stage: &Stage,
    target: &DbUrl,
    settings: &ReportSettings,
) -> Result<ReconcileOutcome, PipelineError> {
    let out = settings.out.as_path();
    // The report folder first: a folder that cannot take the reports is found before the work.
    ykt_reports::prepare_out(out)?;
    let manifest: TransformManifest = stage.manifest(Step::Transform)?;
    // A stage a delta sync refreshed holds rows recorded under the run it synced into.
    let run_id = crate::sync::stage_run_id(stage).unwrap_or_else(|| manifest.run_id.clone());
    let target_db = Db::connect_for_reading(target).await?;
    let legacy_db = match source {
        LegacySource::Database(url) => Some(Db::connect_for_reading(url).await?),
        LegacySource::Export(_) => None,
    };
    let side = match &legacy_db {
        Some(db) => LegacySide::Database(db),
        None => LegacySide::Snapshot(stage),
    };
    let started = std::time::Instant::now();
    let live = platform_is_live(&target_db).await?;
    // Three paths at once, each keeping its database servers busy while the others wait: the
    // control totals, the row diff (over every county with staged or target rows), and the
    // audit flags. The control totals' one pass over the legacy tables also counts each
    // batch's lines and finds the rows changed after the freeze (a legacy database's: an
    // export is not checked for them); the diff's one read of the target's payment lines
    // points at the lines the payment flags judge. The flags wait for both.
    let counties = diff_counties(stage, &target_db).await?;
    let frozen = legacy_db.as_ref().map(|_| {
        context
            .policy
            .frozen_from
            .with_timezone(&beijing())
            .naive_local()
    });
    let (pass_tx, pass_rx) = tokio::sync::oneshot::channel();
    // The payment lines the diff reads are the audit flags' too: the diff shows them to a
    // watch, and the flags judge the lines it points at once it has read them all.
    let (lines_tx, lines_rx) = tokio::sync::oneshot::channel();
    let totals = async {
        let result = reconcile(&side, &target_db, &run_id, live, frozen)
            .await
            .map(|(rec, pass)| {
                let _ = pass_tx.send(pass);
                rec
            });
        tracing::info!(
            seconds = started.elapsed().as_secs(),
            "Control totals read from both sides."
        );
        // The first two counties' listings for the reports, read while the diff ends (read
        // when the reports began, the county preset's county waited 0.3 s for them on
        // PostgreSQL alone, with ykt idle; read from the start, they only competed with the
        // diff and the legacy pass). The reports' tables first: a target an older ykt made
        // lacks the listings' columns.
        let ahead = async {
            let rec = result?;
            ykt_load::apply_migrations(&target_db).await?;
            let ahead: Vec<RowsAhead> = rec
                .counties
                .iter()
                .take(2)
                .map(|b| RowsAhead::start(&target_db, &run_id, &b.county_code, out))
                .collect();
            Ok::<_, PipelineError>((rec, ahead))
        };
        ahead.await
    };
    // The diff on a task of its own, so that a runtime worker runs it while this thread reads
    // legacy for the control totals (in one task the paths took turns on one thread:
    // PostgreSQL's statement log showed the diff's reads stopped for 0.6 s at the county
    // preset while the legacy pass ran, with a core idle).
    let diffing = tokio::spawn({
        let (stage, target_db) = (stage.clone(), target_db.clone());
        async move {
            let (diffs, lines) = match row_diff(&stage, &target_db, &counties, live).await {
                Ok((diffs, lines)) => (Ok(diffs), Ok(lines)),
                Err(e) => (Err(e), Err(diff_stopped())),
            };
            tracing::info!(seconds = started.elapsed().as_secs(), "Rows compared.");
            let _ = lines_tx.send(lines);
            diffs
        }
    });
    let diff = async {
        match diffing.await {
            Ok(diffs) => diffs,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ykt_reconcile::ReconcileError::Target(format!(
                "the row diff stopped: {e}"
            ))),
        }
    };
    let flags = async {
        let lines = async { lines_rx.await.unwrap_or_else(|_| Err(diff_stopped())) };
        let flags = audit_flags(&side, &target_db, async { pass_rx.await.ok() }, lines).await;
        tracing::info!(
            seconds = started.elapsed().as_secs(),
            "Audit flags computed."
        );
        flags
    };
    let (totals, diffs, flags) = tokio::join!(totals, diff, flags);
    if let Some(db) = legacy_db {
        db.close().await;
    }
    let (mut reconciliation, ahead) = totals?;
    // The diff's error before the flags': the flags wait for the diff's lines.
    let diffs = diffs?;
    let flags = flags?;
    reconciliation.apply_row_diff(&diffs);
    ykt_stage::write_json(&out.join("reconcile.json"), &reconciliation)?;
    // The machine-readable diffs are masked like every report of a masked run.
    ykt_stage::write_json(&out.join("diffs.json"), &masked(&diffs, settings.unmasked))?;
    ykt_stage::write_json(&out.join("flags.json"), &flags)?;
    let input = ReportInput {
        reconciliation: &reconciliation,
        flags: &flags,
        diffs: &diffs,
        unmasked: settings.unmasked,
        legacy: match source {
            LegacySource::Database(url) => url.to_string(),
            LegacySource::Export(dir) => format!("export:{}", dir.display()),
        },
        target: target.to_string(),
        generated_at: context.stamp(),
        reconciliation_id: context.run_id.clone(),
        as_of: Some(manifest.as_of.to_string()),
        parameters: serde_json::json!({
            "as_of": manifest.as_of.to_string(),
            "stage": stage.dir().display().to_string(),
            "out": out.display().to_string(),
            "unmasked": settings.unmasked,
            "extract_manifest_sha256": ykt_stage::sha256_file(&stage.manifest_path(Step::Extract)).ok(),
        }),
    };
    let written = write_reports(&input, &target_db, out, ahead).await;
    target_db.close().await;
    Ok(ReconcileOutcome {
        reconciliation,
        flags,
        reports: written?,
    })
}

/// The diffs as a masked run shows them.
fn masked(diffs: &[RowDiff], unmasked: bool) -> Vec<RowDiff> {
    let mask = ykt_domain::Masker { unmasked };
    diffs
        .iter()
        .map(|d| {
            let field = d.field.clone().unwrap_or_default();
            let show = |v: &Option<String>| v.as_ref().map(|v| mask.show(&field, Some(v)));
            RowDiff {
                expected: show(&d.expected),
                actual: show(&d.actual),
                ..d.clone()
            }
        })
        .collect()
}

/// Whether the new platform is live: a dual-run or frozen guard was put on it.
async fn platform_is_live(target: &Db) -> Result<bool, ykt_db::DbError> {
    if !target.table_exists("cutover_guard_event").await? {
        return Ok(false);
    }
    Ok(target
        .fetch_i64(
            "asking whether the platform is live",
            "SELECT COUNT(*) FROM cutover_guard_event WHERE system = 'target' AND action = 'install' AND phase IN ('dual-run', 'frozen')",
        )
        .await?
        .unwrap_or(0)
        > 0)
}
