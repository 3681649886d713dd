//! `tipsheet check`: validate config, content and subscribers, print every
//! problem, exit 1 on errors.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::plan;

pub(super) async fn run(path: &Path, now: DateTime<Utc>) -> Result<Ending, Error> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            outln!("check: 1 error, 0 warnings");
            return Ok(Ending::Failures);
        }
    };
    let mut report = plan::check(&config, now).await;
    let store = super::store::check(&config).await;
    report.diags.extend(store.diags.iter().cloned());
    if let Some((listed, suppressed)) = store.list
        && listed == suppressed
    {
        report.diags.push(crate::diagnostic::Diagnostic::warning(
            &config.path,
            config.line_of_key("store.url"),
            "the store lists no active subscriber: a send would mail nobody (`tipsheet subscribers import FILE` loads a list)",
        ));
    }
    for d in &report.dkim {
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
    outln!("{}", store.line);
    if let Some((listed, suppressed)) = store.list {
        outln!(
            "list: {listed} subscriber(s) in the store, {suppressed} suppressed, {} active",
            listed - suppressed
        );
    }
    Ok(if errors > 0 {
        Ending::Failures
    } else {
        Ending::Done
    })
}
