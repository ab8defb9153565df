//! Command-line definitions and the commands they run.

mod cutover;
mod examples;
mod explain;
mod generate;
mod migrate;
mod reconcile;
mod report;
mod schema;
mod term;
mod users;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ykt migrates and reconciles Shaanxi's subsidy one-card (惠民惠农财政补贴资金"一卡通") data
/// from the legacy payment system to the new platform: nothing lost, nothing doubled, and proof
/// of it for every county.
///
/// Exit codes: 0 success (balanced), 1 differences found, 2 usage or input error, 3 failure.
#[derive(Debug, Parser)]
#[command(name = "ykt", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Run as if at TIME (Beijing time): 2020-11-20 or "2020-11-20 10:00". For rehearsals.
    #[arg(
        long,
        global = true,
        value_name = "TIME",
        value_parser = parse_at,
        long_help = "Run as if at this time (Beijing time unless an offset is given): 2020-11-20, \"2020-11-20 10:00\" or 2020-11-20T10:00:00+08:00. Rehearsals walk the cutover timeline with it; it decides the phase, and stamps records and reports."
    )]
    pub at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The configuration (policy, [databases]). Default: ./ykt.toml, if there.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        long_help = "The configuration: the cutover policy (phase boundaries, routing year, application accounts) and [databases] (legacy and target URLs). Default: ./ykt.toml when it exists, else the notice's dates (2020-11-10 / 2020-11-15 / 2021-01-01 00:00 +08:00, fund years ≤ 2019 to legacy). See ykt.example.toml."
    )]
    pub config: Option<std::path::PathBuf>,
    /// A CA certificate (PEM) for verify-ca/verify-full TLS to the database servers.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        long_help = "A CA certificate (PEM) to verify database servers' certificates against, besides the system's trusted roots: for sslmode=verify-ca|verify-full (PostgreSQL) and ssl-mode=VERIFY_CA|VERIFY_IDENTITY (MariaDB) in the URLs. A URL's own sslrootcert= or ssl-ca= wins."
    )]
    pub ca_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Generate(Box<generate::GenerateArgs>),
    Extract(migrate::ExtractArgs),
    Transform(migrate::TransformArgs),
    Load(migrate::LoadArgs),
    Migrate(Box<migrate::MigrateArgs>),
    Reconcile(Box<reconcile::ReconcileArgs>),
    Run(Box<reconcile::RunArgs>),
    Demo(reconcile::DemoArgs),
    Report(report::ReportArgs),
    Status(cutover::StatusArgs),
    Guard(cutover::GuardArgs),
    Route(cutover::RouteArgs),
    Sync(Box<cutover::SyncArgs>),
    Freeze(Box<cutover::FreezeArgs>),
    Signoff(cutover::SignoffArgs),
    Schema(schema::SchemaArgs),
    Users(users::UsersArgs),
    Explain(explain::ExplainArgs),
}

/// Why a command did not succeed, sorted by what the operator does next.
#[derive(Debug)]
pub enum Failure {
    /// Something the operator must fix: a flag, a URL, a file (exit 2).
    Input(anyhow::Error),
    /// The run failed (exit 3).
    Run(anyhow::Error),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        let (err, code) = match self {
            Failure::Input(e) => (e, 2),
            Failure::Run(e) => (e, 3),
        };
        let message = err.to_string();
        // Written, not `eprintln!`ed: a closed stderr must not turn an error into a panic.
        let mut stderr = std::io::stderr();
        let _ = writeln!(stderr, "error: {message}");
        let mut source = err.source();
        while let Some(s) = source {
            let cause = s.to_string();
            if !message.contains(&cause) {
                let _ = writeln!(stderr, "  caused by: {cause}");
            }
            source = s.source();
        }
        ExitCode::from(code)
    }
}

/// Sorts an error of a stage crate into input or run failure.
pub(crate) trait Classify<T> {
    fn classify(self) -> Result<T, Failure>;
}

macro_rules! classify_error {
    ($($ty:ty),+) => {$(
        impl<T> Classify<T> for Result<T, $ty> {
            fn classify(self) -> Result<T, Failure> {
                self.map_err(|e| {
                    if e.is_input_error() { Failure::Input(e.into()) } else { Failure::Run(e.into()) }
                })
            }
        }
    )+};
}

classify_error!(
    ykt_stage::StageError,
    ykt_db::DbError,
    ykt_extract::ExtractError,
    ykt_simulate::SimError,
    ykt_load::LoadError,
    ykt_transform::TransformError,
    ykt_users::UsersError,
    ykt_reconcile::ReconcileError,
    ykt_reports::ReportError,
    ykt_cutover::CutoverError,
    ykt_pipeline::PipelineError
);

pub(crate) fn input(message: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow::anyhow!("{message}"))
}

impl Cli {
    /// Parses a command line built by ykt itself (the demo runs other commands this way).
    pub(crate) fn try_parse_from_args(args: &[&str]) -> Result<Cli, Failure> {
        Cli::try_parse_from(args).map_err(|e| Failure::Run(anyhow::anyhow!("{e}")))
    }
}

fn parse_at(text: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    ykt_cutover::parse_time(text).ok_or_else(|| {
        format!("{text:?} is not a time; write 2020-11-20, \"2020-11-20 10:00\" or 2020-11-20T10:00:00+08:00")
    })
}

impl Command {
    /// The command's name, as its connections name it to the servers (`ykt_db::set_identity`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Generate(_) => "generate",
            Command::Extract(_) => "extract",
            Command::Transform(_) => "transform",
            Command::Load(_) => "load",
            Command::Migrate(_) => "migrate",
            Command::Reconcile(_) => "reconcile",
            Command::Run(_) => "run",
            Command::Demo(_) => "demo",
            Command::Report(_) => "report",
            Command::Status(_) => "status",
            Command::Guard(_) => "guard",
            Command::Route(_) => "route",
            Command::Sync(_) => "sync",
            Command::Freeze(_) => "freeze",
            Command::Signoff(_) => "signoff",
            Command::Schema(_) => "schema",
            Command::Users(_) => "users",
            Command::Explain(_) => "explain",
        }
    }
}

/// Opens the target for writing (see `ykt_pipeline::target::open_for_writing`).
pub(crate) async fn open_target_for_writing(
    raw: &str,
    command: &str,
    create: bool,
    legacy: Option<&ykt_db::DbUrl>,
) -> Result<ykt_pipeline::target::WriteTarget, Failure> {
    let url = database_url(raw)?;
    ykt_pipeline::target::open_for_writing(&url, command, create, legacy)
        .await
        .classify()
}

/// Takes a stage folder's lock: exclusive to write it, shared to read it.
pub(crate) fn lock_stage(
    stage: &ykt_stage::Stage,
    command: &str,
    exclusive: bool,
) -> Result<ykt_stage::StageLock, Failure> {
    ykt_pipeline::target::lock_stage(stage, command, exclusive).classify()
}

pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let ctx = &ykt_cutover::Context::load(cli.config.as_deref(), cli.at).classify()?;
    if let Some(ca) = &cli.ca_file {
        if !ca.is_file() {
            return Err(input(format!("--ca-file {}: no such file", ca.display())));
        }
        ykt_db::set_ca_file(ca);
    }
    tracing::info!(run = %ctx.run_id, command = cli.command.name(), at = %ctx.stamp(), "ykt started.");
    execute(ctx, cli.command).await
}

/// Runs a command at the context's moment, under its policy.
pub(crate) async fn execute(
    ctx: &ykt_cutover::Context,
    command: Command,
) -> Result<ExitCode, Failure> {
    match command {
        Command::Generate(args) => generate::run(*args).await,
        Command::Extract(args) => migrate::extract(ctx, args).await,
        Command::Transform(args) => migrate::transform(ctx, args).await,
        Command::Load(args) => migrate::load(ctx, args).await,
        Command::Migrate(args) => migrate::migrate(ctx, *args).await,
        Command::Reconcile(args) => reconcile::reconcile_cmd(ctx, *args).await,
        Command::Run(args) => reconcile::run(ctx, *args).await,
        Command::Demo(args) => Box::pin(reconcile::demo(ctx, args)).await,
        Command::Report(args) => report::run(args),
        Command::Status(args) => cutover::status(ctx, args).await,
        Command::Guard(args) => cutover::guard(ctx, args).await,
        Command::Route(args) => cutover::route(ctx, args).await,
        Command::Explain(args) => explain::run(args),
        Command::Sync(args) => cutover::sync(ctx, *args).await,
        Command::Freeze(args) => cutover::freeze(ctx, *args).await,
        Command::Signoff(args) => cutover::signoff(ctx, args).await,
        Command::Schema(args) => schema::run(ctx, args).await,
        Command::Users(args) => users::run(ctx, args).await,
    }
}

pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("YKT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},sqlx=error")));
    tracing_subscriber::fmt()
        .with_timer(BeijingTime)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Log lines stamped in Beijing time, like every record and report.
struct BeijingTime;

impl tracing_subscriber::fmt::time::FormatTime for BeijingTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(
            w,
            "{}",
            ykt_domain::beijing_now().format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        )
    }
}

/// Which database a URL is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DbRole {
    Legacy,
    Target,
}

impl DbRole {
    fn flag(self) -> &'static str {
        match self {
            DbRole::Legacy => "--legacy",
            DbRole::Target => "--target",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            DbRole::Legacy => "YKT_LEGACY_URL",
            DbRole::Target => "YKT_TARGET_URL",
        }
    }
}

/// A database URL from the flag, else from `YKT_LEGACY_URL`/`YKT_TARGET_URL`, else from
/// `[databases]` in ykt.toml; `None` when none of them gives one.
pub(crate) fn optional_url(
    ctx: &ykt_cutover::Context,
    given: &Option<String>,
    which: DbRole,
) -> Option<String> {
    let configured = match which {
        DbRole::Legacy => &ctx.policy.legacy_url,
        DbRole::Target => &ctx.policy.target_url,
    };
    given
        .clone()
        .or_else(|| {
            std::env::var(which.variable())
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .or_else(|| configured.clone())
}

/// As [`optional_url`], for a database the command cannot do without: one clear sentence
/// (exit 2) naming the three ways to give it.
pub(crate) fn required_url(
    ctx: &ykt_cutover::Context,
    given: &Option<String>,
    which: DbRole,
) -> Result<String, Failure> {
    optional_url(ctx, given, which).ok_or_else(|| {
        let name = match which {
            DbRole::Legacy => "legacy",
            DbRole::Target => "target",
        };
        input(format!(
            "no {name} database: give {} URL, set {}, or set `{name} = \"URL\"` under [databases] in ykt.toml",
            which.flag(),
            which.variable()
        ))
    })
}

/// Parses a database URL, creating the parent folder of a SQLite file.
pub(crate) fn database_url(raw: &str) -> Result<ykt_db::DbUrl, Failure> {
    let url: ykt_db::DbUrl = raw.parse::<ykt_db::DbUrl>().classify()?;
    if url.engine() == ykt_db::Engine::Sqlite {
        let path = std::path::Path::new(url.database());
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                input(format!(
                    "cannot create the folder {} for {url}: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    Ok(url)
}
