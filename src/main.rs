//! The `probity` binary: parse the command line, run the command, map the outcome to an
//! exit code (see `probity::exit`). Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use probity::cli::Cli;
use probity::commands::{CommandError, dispatch};

fn main() -> ExitCode {
    // `probity history | head` should end quietly, as Unix tools do, not panic on a closed
    // pipe: Rust ignores SIGPIPE by default, so restore the default action.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let default_filter = match cli.command {
        probity::cli::Command::Demo(_) if cli.verbose == 0 => probity::logs::DEMO_FILTER,
        _ => probity::logs::default_filter(cli.verbose),
    };
    probity::logs::init(
        cli.log_format,
        default_filter,
        probity::logs::Policy {
            content: cli.log_content,
            sample_successes: cli.log_sample_successes,
        },
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(probity::exit::USAGE as u8);
        }
    };
    let code = match runtime.block_on(dispatch(&cli)) {
        Ok(code) => code,
        Err(CommandError::Config(diagnostics)) => {
            eprintln!("{diagnostics}");
            probity::exit::USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    ExitCode::from(code as u8)
}
