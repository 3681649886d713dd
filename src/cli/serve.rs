//! `tipsheet serve`: the HTTP server, logging its events on standard error.

use chrono::{DateTime, Utc};
use clap::Args;

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::web;

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen here instead of `server.listen` (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Prints what the server tells.
struct Console;

impl web::Events for Console {
    fn listening(&self, url: &str) {
        // Tests and scripts read the port from this line.
        outln!("listening on {url}");
    }

    fn note(&self, line: &str) {
        errln!("{line}");
    }
}

pub(super) async fn run(
    config: &Config,
    args: &ServeArgs,
    now: Option<DateTime<Utc>>,
) -> Result<Ending, Error> {
    web::run(
        config,
        args.listen.as_deref(),
        now,
        std::sync::Arc::new(Console),
        super::common::shutdown_signal(),
    )
    .await?;
    Ok(Ending::Done)
}
