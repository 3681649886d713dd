//! The `tipsheet` binary: parse arguments, run, map errors to exit codes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tipsheet::cli::Cli::parse();
    match tipsheet::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", failure.error);
            for cause in failure.error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(failure.code)
        }
    }
}
