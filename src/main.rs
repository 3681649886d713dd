//! The `tipsheet` binary: parse arguments, run, map errors to exit codes.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use tipsheet::output;

fn main() -> ExitCode {
    let cli = tipsheet::cli::Cli::parse();
    let code = match tipsheet::cli::run(cli) {
        Ok(code) => code,
        Err(failure) => {
            output::err(format_args!("error: {}", failure.error));
            for cause in failure.error.chain().skip(1) {
                output::err(format_args!("  caused by: {cause}"));
            }
            failure.code
        }
    };
    // A closed pipe (`| head`) is fine; a full disk behind `> file` is not.
    match output::stdout_error() {
        Some(e) if code == tipsheet::cli::exit::OK => {
            output::err(format_args!("error: cannot write to standard output: {e}"));
            ExitCode::from(tipsheet::cli::exit::FAILED)
        }
        _ => ExitCode::from(code),
    }
}
