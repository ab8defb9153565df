//! `ykt`: the command line. It only parses, wires the stages together and prints.
//!
//! Exit codes: 0 success, 1 differences found, 2 usage or input error, 3 failure.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

// The pipeline allocates many small strings; mimalloc handles that (and frees across threads)
// much faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Masks runs of 8 or more digits (or X): ID numbers and accounts never reach the terminal.
fn mask_digits(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\u{0}')) {
        if c.is_ascii_digit() || c == 'X' {
            run.push(c);
            continue;
        }
        if run.len() >= 8 {
            out.push_str(&"*".repeat(run.len()));
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\u{0}' {
            out.push(c);
        }
    }
    out
}

fn main() -> ExitCode {
    // `ykt … | head` closes the pipe early: end quietly, as a shell tool does, not with a panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        // Nothing here may print with `eprintln!`: with stderr closed too it would panic inside
        // the hook and abort.
        if message.contains("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        // A panic is a defect of ykt, never the operator's input. Its message may quote a
        // legacy value: every run of 8 or more digits is masked before it is shown.
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let _ = writeln!(
            std::io::stderr(),
            "error: ykt stopped on an internal defect{location}: {}; nothing half-written is kept \
             (each county commits whole): please report this message",
            mask_digits(message)
        );
        let _ = &default_hook;
        std::process::exit(3);
    }));
    // Kill points for the crash tests, set by FAILPOINTS; compiled in only with the
    // `failpoints` feature.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose, args.quiet);
    ykt_db::set_identity(args.command.name());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
