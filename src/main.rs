//! The `tipsheet` binary: parse arguments, run, map the outcome to an exit code.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use tipsheet::cli;

fn main() -> ExitCode {
    let code = match cli::run(cli::Cli::parse()) {
        Ok(outcome) => outcome.code(),
        Err(error) => {
            cli::print_error(&error);
            error.code()
        }
    };
    ExitCode::from(cli::finish(code))
}
