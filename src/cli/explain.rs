//! `ykt explain`: what a code in the reports means, and what the county does about it.

use std::process::ExitCode;

use clap::Args;

use super::{Failure, input};

/// Explain a code of the reports (R_ reject, C_ correction, A_ audit flag) in Chinese.
///
/// Examples:
///   ykt explain R_ID_CHECKSUM
///   ykt explain --all
///   ykt explain --all --markdown > docs/codes.md
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExplainArgs {
    /// The code as the reports write it, e.g. R_ID_CHECKSUM (case does not matter).
    #[arg(
        value_name = "CODE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    code: Option<String>,
    /// Every code, in the spec's order.
    #[arg(long)]
    all: bool,
    /// With --all: the Markdown table of docs/codes.md.
    #[arg(long, requires = "all")]
    markdown: bool,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode, Failure> {
    if args.markdown {
        print!("{}", ykt_domain::catalogue_markdown());
        return Ok(ExitCode::SUCCESS);
    }
    let catalogue = ykt_domain::catalogue();
    let wanted = args.code.as_deref().map(|c| c.trim().to_uppercase());
    let shown: Vec<_> = catalogue
        .iter()
        .filter(|e| wanted.as_deref().is_none_or(|w| e.code == w))
        .collect();
    if shown.is_empty() {
        return Err(input(format!(
            "{} is not a code of ykt; `ykt explain --all` lists every code",
            args.code.unwrap_or_default()
        )));
    }
    for e in shown {
        println!("{}  {}", e.code, e.kind);
        println!("  说明：{}", e.explanation);
        if let Some(action) = e.county_action {
            println!("  县区需做的处理：{action}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
