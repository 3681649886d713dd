//! `tipsheet check`: validate config, content and subscribers, print every
//! problem, exit 1 on errors.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Error, Outcome};
use crate::plan;

pub(super) fn run(path: &Path, now: DateTime<Utc>) -> Result<Outcome, Error> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            outln!("check: 1 error, 0 warnings");
            return Ok(Outcome::Failures);
        }
    };
    let report = plan::check(&config, now);
    if let Some(d) = &report.dkim {
        outln!("dkim: publish a TXT record at `{}`:", d.dns_name);
        outln!("  {}", d.dns_record);
    }
    let errors = report.diags.iter().filter(|d| d.is_error()).count();
    let warnings = report.diags.len() - errors;
    for d in &report.diags {
        errln!("{d}");
    }
    outln!(
        "check: {errors} error{}, {warnings} warning{} ({} comparisons, {} tips)",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
        report.comparisons,
        report.tips
    );
    Ok(if errors > 0 {
        Outcome::Failures
    } else {
        Outcome::Done
    })
}
