//! `ykt generate`: simulate a legacy system for rehearsals, tests and benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tracing::info;
use ykt_db::Db;
use ykt_simulate::{
    ChannelSink, ExportSink, Params, Preset, Quirk, RowSink, Tee, generate, pick_counties,
    write_to_database,
};

use super::{Classify, Failure, database_url, input};

/// Simulate a legacy payment system (旧兑付系统), deterministically, for rehearsals and tests.
///
/// Writes real Shaanxi counties (some under the obsolete codes legacy still uses), townships
/// and villages, the typical subsidy programs, allocations, beneficiaries in households,
/// batches and payment lines for 2013-2020, with every data quirk Q1-Q13 of the legacy spec
/// at its own rate and a few real audit cases (duplicate payments, payment after death, a
/// shared account, ...). The truth file lists every injected case with its source key and the
/// R_/C_/A_ code the mapping rules must produce.
///
/// The same seed and flags give byte-identical output.
///
/// Examples:
///   ykt generate --preset demo --legacy sqlite://ykt-demo/legacy.sqlite --export ykt-demo/export
///   ykt generate --preset county --legacy mysql://root@127.0.0.1:3306/legacy
///   ykt generate --counties 5 --beneficiaries-per-county 2000 --rate Q4=2% --export out/
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GenerateArgs {
    /// Scale preset: demo (3 counties, ~30 000 payment lines), county (1 county, ~1 000 000)
    /// or province (107 counties, ~10 000 000).
    #[arg(long, default_value = "demo", value_parser = ["demo", "county", "province"])]
    preset: String,
    /// Random seed: the same seed gives the same legacy system.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Number of counties (overrides the preset).
    #[arg(long, conflicts_with = "county")]
    counties: Option<usize>,
    /// Simulate these counties (current 2020 codes, e.g. 610802); repeatable.
    #[arg(long, value_name = "CODE", num_args = 1..)]
    county: Vec<String>,
    /// Beneficiaries per county (overrides the preset).
    #[arg(long)]
    beneficiaries_per_county: Option<u32>,
    /// Fund years, e.g. 2013-2020.
    #[arg(long, default_value = "2013-2020")]
    years: String,
    /// Quirk rate, e.g. Q4=2% or all=0 (no quirks); repeatable. The quirks are Q1-Q13 of the
    /// legacy spec and MOVED (a person registered in two counties), SHARED_ID (two people with
    /// one ID number in two counties), HOSTILE (hostile text) and MULTI (several defects in one
    /// row). Defaults are 0.2-2 %.
    #[arg(long, value_name = "QUIRK=PERCENT")]
    rate: Vec<String>,
    /// Audit cases of each kind per county.
    #[arg(long, default_value_t = 2)]
    audit_cases: u32,
    /// Write the legacy database here: sqlite://FILE, mysql://USER:PASS@HOST:PORT/DB or
    /// postgres://USER:PASS@HOST:PORT/DB. The database is created if missing and must not
    /// hold the legacy tables yet (see --replace).
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
    /// Drop the legacy tables the --legacy database already has (a rehearsal's leftovers).
    #[arg(long)]
    replace: bool,
    /// Write the legacy export folder here (GBK CSV, Chinese captions, CRLF).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Export tables re-saved as UTF-8 with a BOM, as some county offices did (e.g. T_BTDX).
    #[arg(long, value_name = "TABLE", value_delimiter = ',')]
    utf8_bom: Vec<String>,
    /// Where to write the truth file (default: ykt-truth.json beside the export folder or the
    /// SQLite file, else in the current folder).
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Also write, one JSON object a line, every platform row the legacy rows must become
    /// (the clean value behind every raw variant), for comparing a target field by field.
    /// Large at the county and province presets.
    #[arg(long, value_name = "FILE")]
    truth_values: Option<PathBuf>,
}

fn parse_params(args: &GenerateArgs) -> Result<Params, Failure> {
    let preset = Preset::parse(&args.preset).ok_or_else(|| {
        input(format!(
            "unknown preset {:?}: use one of {}",
            args.preset,
            Preset::NAMES
        ))
    })?;
    let mut params = Params::preset(preset, args.seed);
    if let Some(n) = args.counties {
        params.counties = pick_counties(n);
    }
    if !args.county.is_empty() {
        params.counties = args.county.clone();
    }
    if let Some(n) = args.beneficiaries_per_county {
        params.beneficiaries_per_county = n;
    }
    let (from, to) = args
        .years
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .ok_or_else(|| {
            input(format!(
                "--years {:?} is not a range like 2013-2020",
                args.years
            ))
        })?;
    params.first_year = from;
    params.last_year = to;
    for rate in &args.rate {
        let (quirk, value) = rate
            .split_once('=')
            .ok_or_else(|| input(format!("--rate {rate:?} is not of the form Q4=2%")))?;
        let percent = Decimal::from_str(value.trim().trim_end_matches('%'))
            .ok()
            .filter(|p| *p >= Decimal::ZERO && *p <= Decimal::from(100))
            .ok_or_else(|| {
                input(format!(
                    "--rate {rate:?}: {value:?} is not a percentage from 0 to 100"
                ))
            })?;
        let ppm = u32::try_from((percent * Decimal::from(10_000)).trunc().mantissa())
            .map_err(|_| input(format!("--rate {rate:?} is out of range")))?;
        if quirk.eq_ignore_ascii_case("all") {
            params.quirk_ppm.values_mut().for_each(|v| *v = ppm);
        } else {
            let q = Quirk::parse(quirk.trim()).ok_or_else(|| {
                input(format!(
                    "--rate {rate:?}: unknown quirk {quirk:?} (Q1 to Q13)"
                ))
            })?;
            params.quirk_ppm.insert(q, ppm);
        }
    }
    params.audit_cases_per_county = args.audit_cases;
    for table in &args.utf8_bom {
        if ykt_domain::LegacyTable::from_name(table).is_none() {
            return Err(input(format!(
                "--utf8-bom {table:?} is not a legacy table (T_XZQH, T_BTXM, T_ZJZB, T_BTDX, T_FFPC, T_FFMX, T_YH)"
            )));
        }
    }
    params.utf8_bom_tables = args.utf8_bom.clone();
    params
        .validate()
        .map_err(|problems| input(problems.join("; ")))?;
    Ok(params)
}

pub async fn run(args: GenerateArgs) -> Result<ExitCode, Failure> {
    let params = parse_params(&args)?;
    if args.legacy.is_none() && args.export.is_none() {
        return Err(input(
            "say where to write: --legacy URL, --export DIR, or both",
        ));
    }
    let truth = match (&args.truth, &args.export, &args.legacy) {
        (Some(t), _, _) => t.clone(),
        (None, Some(dir), _) => dir.parent().unwrap_or(dir).join("ykt-truth.json"),
        (None, None, Some(url)) if url.starts_with("sqlite://") => {
            let file = PathBuf::from(&url["sqlite://".len()..]);
            file.parent().map_or_else(
                || PathBuf::from("ykt-truth.json"),
                |p| p.join("ykt-truth.json"),
            )
        }
        _ => PathBuf::from("ykt-truth.json"),
    };
    let started = Instant::now();
    let mut sinks: Vec<Box<dyn RowSink + Send>> = Vec::new();
    if let Some(dir) = &args.export {
        sinks.push(Box::new(
            ExportSink::create(dir, &params.utf8_bom_tables).classify()?,
        ));
    }
    let mut writer = None;
    let mut params = params;
    if let Some(raw) = &args.legacy {
        let url = database_url(raw)?;
        // PostgreSQL text cannot hold a NUL character: a PostgreSQL legacy has none.
        params.nul_in_text = url.engine() != ykt_db::Engine::Postgres;
        let db = Db::connect_or_create(&url).await.classify()?;
        let (tx, rx) = mpsc::channel(8);
        let replace = args.replace;
        sinks.push(Box::new(ChannelSink::new(tx)));
        writer = Some(tokio::spawn(async move {
            let result = write_to_database(&db, rx, replace).await;
            db.close().await;
            result
        }));
    }
    info!(
        counties = params.counties.len(),
        beneficiaries_per_county = params.beneficiaries_per_county,
        seed = params.seed,
        "Generating a legacy system."
    );
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} generating: {human_pos} payment lines ({per_sec}, {elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let bar_for_gen = bar.clone();
    let params_for_gen = params.clone();
    let truth_for_gen = truth.clone();
    let values = args.truth_values.clone();
    let generated = tokio::task::spawn_blocking(move || {
        let mut tee = Tee(sinks);
        generate(
            &params_for_gen,
            &mut tee,
            (&truth_for_gen, values.as_deref()),
            &|n| bar_for_gen.set_position(n),
        )
    })
    .await
    .map_err(|e| Failure::Run(e.into()))?;
    bar.finish_and_clear();
    // A database error explains a generator that stopped because the writer went away.
    if let Some(writer) = writer {
        let inserted = writer
            .await
            .map_err(|e| Failure::Run(e.into()))?
            .classify()?;
        info!(rows = inserted, "Legacy database written.");
    }
    let report = generated.classify()?;
    let elapsed = started.elapsed();
    println!(
        "Generated {} counties in {:.1?} (seed {}):",
        report.counties, elapsed, params.seed
    );
    for (table, rows) in &report.rows {
        println!("  {table:<8} {rows:>10} rows");
    }
    println!(
        "  {} quirk cases and {} audit cases listed in {}",
        report.cases,
        report.flags,
        report.truth_path.display()
    );
    if let Some(dir) = &args.export {
        println!("  export folder: {}", dir.display());
    }
    if let Some(url) = &args.legacy {
        println!("  legacy database: {}", database_url(url)?);
    }
    Ok(ExitCode::SUCCESS)
}
