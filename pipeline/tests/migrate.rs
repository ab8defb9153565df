//! A migration driven as a library, without the binary: the sequence, its resume and its dry
//! run, on a small simulated export folder and an SQLite target.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{FixedOffset, TimeZone};
use ykt_cutover::Context;
use ykt_extract::LegacySource;
use ykt_pipeline::migrate::{MigrateRequest, Progress, Quiet, Step, migrate};
use ykt_simulate::{ExportSink, Params, Preset, RowSink};
use ykt_stage::Stage;

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ykt-pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

fn export(dir: &std::path::Path) {
    let mut params = Params::preset(Preset::Demo, 11);
    params.beneficiaries_per_county = 40;
    let mut sink = ExportSink::create(&dir.join("export"), &[]).expect("an export folder");
    ykt_simulate::generate(
        &params,
        &mut sink as &mut dyn RowSink,
        (&dir.join("truth.json"), None),
        &|_| {},
    )
    .expect("a simulated export");
}

fn context() -> Context {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    Context::at(beijing.with_ymd_and_hms(2020, 11, 20, 10, 0, 0).unwrap())
}

fn request(dir: &std::path::Path, resume: bool, dry_run: bool) -> MigrateRequest {
    let target = format!("sqlite://{}", dir.join("platform.sqlite").display());
    MigrateRequest {
        source: LegacySource::Export(dir.join("export")),
        stage: Stage::new(&dir.join("stage")),
        target: (!dry_run).then(|| target.parse().expect("a URL")),
        dry_run,
        resume,
        as_of: None,
        allow_shrink: false,
    }
}

fn steps(timings: &[(Step, std::time::Duration)]) -> Vec<Step> {
    timings.iter().map(|(step, _)| *step).collect()
}

#[tokio::test]
async fn a_migration_runs_resumes_and_dry_runs_as_a_library() {
    let dir = folder("migrate");
    export(&dir);
    let quiet: Arc<dyn Progress> = Arc::new(Quiet);
    let ctx = context();

    let dry = migrate(&ctx, request(&dir, false, true), &quiet)
        .await
        .expect("a dry run");
    assert_eq!(steps(&dry.timings), [Step::Extract, Step::Transform]);
    assert!(dry.load.is_none());
    assert!(
        !dir.join("platform.sqlite").exists(),
        "a dry run creates no target"
    );

    let run = migrate(&ctx, request(&dir, false, false), &quiet)
        .await
        .expect("a migration");
    assert_eq!(
        steps(&run.timings),
        [Step::Extract, Step::Transform, Step::Load]
    );
    assert!(run.load.is_some());
    assert!(
        run.manifest.counts.len() > 3,
        "three counties and the province's rows"
    );
    for (county, tables) in &run.manifest.counts {
        for (table, c) in tables {
            assert_eq!(
                c.read,
                c.loaded + c.merged + c.rejected,
                "{county} {table}: read = loaded + merged + rejected"
            );
        }
    }

    // Resuming a finished stage skips the extract and the transform.
    let resumed = migrate(&ctx, request(&dir, true, false), &quiet)
        .await
        .expect("a resume");
    assert_eq!(steps(&resumed.timings), [Step::Load]);
    assert_eq!(resumed.manifest.run_id, run.manifest.run_id);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_migration_without_a_target_is_refused_before_any_work() {
    let dir = folder("no-target");
    let quiet: Arc<dyn Progress> = Arc::new(Quiet);
    let mut req = request(&dir, false, false);
    req.target = None;
    let Err(error) = migrate(&context(), req, &quiet).await else {
        panic!("a migration without a target must be refused");
    };
    assert!(error.is_input_error(), "{error}");
    assert!(!dir.join("stage").exists(), "nothing was extracted");
    let _ = std::fs::remove_dir_all(&dir);
}
