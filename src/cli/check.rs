//! `tipsheet check`: validate config, content and subscribers, print every
//! problem, exit 1 on errors; with `--dns`, also what receivers will find in
//! DNS (a failed finding is an error too).

use std::net::SocketAddr;
use std::path::Path;

use chrono::{DateTime, Utc};
use clap::Args;

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::plan;

/// `check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also look up SPF, DKIM, DMARC, the bounce MX and the relay's address
    /// and PTR as receivers will, and say what to publish.
    #[arg(long)]
    pub dns: bool,
    /// Ask this resolver (`IP` or `IP:PORT`) instead of the system's, e.g.
    /// for split-horizon DNS.
    #[arg(long, value_name = "ADDR", requires = "dns", value_parser = parse_server)]
    pub dns_server: Option<SocketAddr>,
}

fn parse_server(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| {
            format!("`{s}` is not an IP address or IP:PORT, e.g. 192.0.2.53 or 127.0.0.1:5353")
        })
}

pub(super) async fn run(
    path: &Path,
    args: &CheckArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
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
    let dns_failed = if args.dns {
        dns(&config, args.dns_server).await
    } else {
        false
    };
    Ok(if errors > 0 || dns_failed {
        Ending::Failures
    } else {
        Ending::Done
    })
}

/// Prints each DNS finding and the record to publish; whether one failed.
async fn dns(config: &Config, server: Option<SocketAddr>) -> bool {
    let findings = plan::check_dns(config, server).await;
    let count = |v: plan::Verdict| findings.iter().filter(|f| f.verdict == v).count();
    for f in &findings {
        let at = if f.name.is_empty() {
            String::new()
        } else {
            format!(" `{}`", f.name)
        };
        outln!("dns {} {}{at}: {}", f.verdict.label(), f.topic, f.message);
        if let Some(p) = &f.publish {
            for line in p.lines() {
                outln!("  publish: {line}");
            }
        }
    }
    let failed = count(plan::Verdict::Fail);
    outln!(
        "dns: {failed} failed, {} warning{}, {} ok",
        count(plan::Verdict::Warn),
        if count(plan::Verdict::Warn) == 1 {
            ""
        } else {
            "s"
        },
        count(plan::Verdict::Pass)
    );
    failed > 0
}
