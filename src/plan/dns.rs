//! What `check --dns` reports: the records receivers look up before they
//! accept the newsletter (RFC 7208 SPF of the envelope sender's domain, each
//! DKIM key's TXT record, DMARC at `_dmarc.<From domain>` and its alignment,
//! the bounce domain's MX, the relay's address and PTR), each as a
//! [`Finding`] that says what is wrong and the exact record to publish.
//!
//! Owns the DNS questions and the rules that judge the answers. SPF is
//! evaluated, not just found: mail-auth's RFC 7208 `check_host` (include,
//! redirect, a, mx, exists, macros, the limits of ten DNS-querying terms and
//! two void lookups) asked whether each of the relay's addresses may send
//! for the envelope domain. It only reads DNS: it never sends, and writes
//! nothing.
//!
//! Alignment (DMARC's relaxed mode) is judged by a simple rule instead of
//! the Public Suffix List: two domains align when they are equal or one is a
//! subdomain of the other. Sibling subdomains (`a.example.com` and
//! `b.example.com`), which DMARC also aligns, are reported misaligned: a
//! false alarm on the safe side.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::{RData, RecordType};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{MessageAuthenticator, SpfResult};

use crate::config::{Config, TransportKind, is_loopback};

/// How a finding came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    /// As receivers need it.
    Pass,
    /// Works, but worth fixing (or could not be judged from here).
    Warn,
    /// Receivers will refuse or junk the mail: `check --dns` exits 1.
    Fail,
}

impl Verdict {
    /// `ok`, `warn` or `FAIL`, as printed.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One thing `check --dns` looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// How it came out.
    pub verdict: Verdict,
    /// `spf`, `dkim`, `dmarc`, `mx`, `relay` or `ptr`.
    pub topic: &'static str,
    /// The DNS name looked up.
    pub name: String,
    /// What was found, what is wrong and how to fix it.
    pub message: String,
    /// The exact record to publish (zone-file syntax), when one fixes it.
    pub publish: Option<String>,
}

impl Finding {
    fn new(verdict: Verdict, topic: &'static str, name: &str, message: String) -> Self {
        Self {
            verdict,
            topic,
            name: name.to_string(),
            message,
            publish: None,
        }
    }

    fn publish(mut self, record: String) -> Self {
        self.publish = Some(record);
        self
    }
}

/// Looks up and judges every record receivers check; `server` points the
/// lookups at one resolver (`--dns-server`), else the system's.
pub(crate) async fn check_dns(config: &Config, server: Option<SocketAddr>) -> Vec<Finding> {
    let dns = match Dns::new(server) {
        Ok(d) => d,
        Err(e) => {
            return vec![Finding::new(
                Verdict::Fail,
                "dns",
                "",
                format!(
                    "cannot set up a DNS resolver: {e} (check /etc/resolv.conf, or pass `--dns-server ADDR`)"
                ),
            )];
        }
    };
    let from = config.from_domain().to_ascii_lowercase();
    let envelope = envelope_domain(config);
    let mut out = Vec::new();
    let relay = relay_addresses(config, &dns, &mut out).await;
    if let Some(ips) = &relay {
        for ip in ips {
            out.push(ptr(&dns, *ip).await);
        }
    }
    out.push(spf(config, &dns, &envelope, relay.as_deref()).await);
    let dkim = dkim(config, &dns, &mut out).await;
    out.extend(dmarc(&dns, &from, dkim.as_ref(), &envelope).await);
    if let Some(b) = config.bounces.as_ref().filter(|b| !b.address.is_empty()) {
        out.push(mx(&dns, domain_of(&b.address)).await);
    }
    out
}

/// The domain of the envelope sender (MAIL FROM): the bounce address's with
/// `[bounces]`, else the From address's.
pub(crate) fn envelope_domain(config: &Config) -> String {
    config
        .bounces
        .as_ref()
        .map(|b| b.address.as_str())
        .filter(|a| !a.is_empty())
        .map(|a| domain_of(a).to_string())
        .unwrap_or_else(|| config.from_domain())
        .to_ascii_lowercase()
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, d)| d)
}

/// The relay hosts mail leaves through: every `[[smtp.relays]]` entry's,
/// or `[smtp]`'s own.
pub(crate) fn relay_hosts(config: &Config) -> Vec<String> {
    let mut hosts: Vec<String> = config.smtp.relays().into_iter().map(|r| r.host).collect();
    hosts.dedup();
    hosts
}

/// The relays' addresses, with a finding for each relay; `None` when there is
/// no relay whose address says where mail leaves from (the outbox, or a relay
/// on this host).
async fn relay_addresses(
    config: &Config,
    dns: &Dns,
    out: &mut Vec<Finding>,
) -> Option<Vec<IpAddr>> {
    if config.delivery.transport == TransportKind::Outbox {
        out.push(Finding::new(
            Verdict::Warn,
            "relay",
            "",
            "`delivery.transport` is the outbox: no relay to look up, so SPF is checked for presence only".into(),
        ));
        return None;
    }
    let mut all = Vec::new();
    for host in relay_hosts(config) {
        if is_loopback(&host) {
            out.push(Finding::new(
                Verdict::Warn,
                "relay",
                &host,
                format!("the relay `{host}` is this host: mail leaves from its public address, which cannot be seen from here; SPF and PTR are not evaluated for it"),
            ));
            continue;
        }
        let ips = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => Ok(vec![ip]),
            Err(_) => dns.addresses(&host).await,
        };
        match ips {
            Ok(ips) if ips.is_empty() => out.push(Finding::new(
                Verdict::Fail,
                "relay",
                &host,
                format!("the relay host `{host}` has no A or AAAA record: nothing can be sent through it (check `smtp.host`, or the relay's `host` in `[[smtp.relays]]`)"),
            )),
            Ok(ips) => {
                out.push(Finding::new(
                    Verdict::Pass,
                    "relay",
                    &host,
                    format!("the relay `{host}` is at {}", list(&ips)),
                ));
                all.extend(ips);
            }
            Err(e) => out.push(Finding::new(
                Verdict::Fail,
                "relay",
                &host,
                format!("cannot look up the relay host `{host}`: {e}"),
            )),
        }
    }
    (!all.is_empty()).then_some(all)
}

/// Forward-confirmed reverse DNS of one relay address: a PTR whose name
/// resolves back to the address (Gmail and Outlook refuse mail without it).
async fn ptr(dns: &Dns, ip: IpAddr) -> Finding {
    let arpa = hickory_resolver::proto::rr::Name::from(ip).to_string();
    let names = match dns.ptr(ip).await {
        Ok(n) => n,
        Err(e) => {
            return Finding::new(
                Verdict::Fail,
                "ptr",
                &arpa,
                format!("cannot look up the PTR of `{ip}`: {e}"),
            );
        }
    };
    let Some(first) = names.first() else {
        return Finding::new(
            Verdict::Fail,
            "ptr",
            &arpa,
            format!("the relay address `{ip}` has no PTR record: large receivers refuse mail from addresses without reverse DNS; ask whoever runs the address (the relay provider, the hosting company) to publish one naming a host that resolves back to `{ip}`"),
        )
        .publish(format!("{arpa} PTR relay.example.com."));
    };
    for name in &names {
        if dns.addresses(name).await.is_ok_and(|a| a.contains(&ip)) {
            return Finding::new(
                Verdict::Pass,
                "ptr",
                &arpa,
                format!("`{ip}` is `{name}`, which resolves back to it"),
            );
        }
    }
    let kind = if ip.is_ipv4() { "A" } else { "AAAA" };
    Finding::new(
        Verdict::Fail,
        "ptr",
        &arpa,
        format!("the PTR of `{ip}` names `{first}`, which does not resolve back to `{ip}` (receivers want forward-confirmed reverse DNS)"),
    )
    .publish(format!("{}. {kind} {ip}", first.trim_end_matches('.')))
}

/// The envelope domain's SPF record, evaluated for each relay address.
async fn spf(config: &Config, dns: &Dns, domain: &str, relay: Option<&[IpAddr]>) -> Finding {
    let records = match dns.txt(domain).await {
        Ok(r) => r,
        Err(e) => {
            return Finding::new(
                Verdict::Fail,
                "spf",
                domain,
                format!("cannot look up TXT records at `{domain}`: {e}"),
            );
        }
    };
    let spf: Vec<&String> = records
        .iter()
        .filter(|r| r.to_ascii_lowercase().split_whitespace().next() == Some("v=spf1"))
        .collect();
    let ips = relay.unwrap_or_default();
    let suggested =
        |existing: Option<&str>| format!("{domain}. TXT \"{}\"", spf_covering(existing, ips));
    let record = match spf.as_slice() {
        [] => {
            return Finding::new(
                Verdict::Fail,
                "spf",
                domain,
                format!("no SPF record at the envelope domain `{domain}`: receivers treat the mail as unauthenticated"),
            )
            .publish(suggested(None));
        }
        [one] => one.as_str(),
        _ => {
            return Finding::new(
                Verdict::Fail,
                "spf",
                domain,
                format!("{} SPF records at `{domain}`: RFC 7208 makes that a permanent error; publish exactly one", spf.len()),
            )
            .publish(suggested(Some(spf[0])));
        }
    };
    if ips.is_empty() {
        return Finding::new(
            Verdict::Pass,
            "spf",
            domain,
            format!("`{record}` is published (no relay address to evaluate it for)"),
        );
    }
    let auth = &dns.auth;
    let helo = config
        .smtp
        .hello_name
        .clone()
        .unwrap_or_else(|| config.from_domain());
    let sender = format!("postmaster@{domain}");
    let mut refused = Vec::new();
    for ip in ips {
        let out = auth
            .verify_spf(SpfParameters::verify_mail_from(*ip, &helo, &helo, &sender))
            .await;
        match out.result() {
            SpfResult::Pass => {}
            SpfResult::PermError => {
                return Finding::new(
                    Verdict::Fail,
                    "spf",
                    domain,
                    format!("`{record}` cannot be evaluated (a syntax error, or more than 10 DNS-querying terms or 2 void lookups across its includes, RFC 7208 4.6.4): receivers treat that as a failure; replace includes you do not need with the addresses they stand for"),
                )
                .publish(suggested(Some(record)));
            }
            SpfResult::TempError => {
                return Finding::new(
                    Verdict::Fail,
                    "spf",
                    domain,
                    format!(
                        "`{record}` could not be evaluated for `{ip}`: a DNS lookup it needs failed; try again"
                    ),
                );
            }
            other => refused.push(format!("`{ip}` ({})", spf_word(other))),
        }
    }
    if refused.is_empty() {
        Finding::new(
            Verdict::Pass,
            "spf",
            domain,
            format!("`{record}` authorises the relay ({})", list(ips)),
        )
    } else {
        Finding::new(
            Verdict::Fail,
            "spf",
            domain,
            format!("`{record}` does not authorise the relay: {} evaluate{} to no pass; receivers will fail SPF", refused.join(", "), if refused.len() == 1 { "s" } else { "" }),
        )
        .publish(suggested(Some(record)))
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// The SPF record that covers `ips`: `existing` with `ip4:`/`ip6:` terms for
/// the addresses it lacks right after `v=spf1`, or a new one ending `~all`.
pub(crate) fn spf_covering(existing: Option<&str>, ips: &[IpAddr]) -> String {
    let mut terms: Vec<String> = ips
        .iter()
        .map(|ip| match ip {
            IpAddr::V4(v4) => format!("ip4:{v4}"),
            IpAddr::V6(v6) => format!("ip6:{v6}"),
        })
        .collect();
    match existing {
        Some(record) => {
            let mut words: Vec<String> = record.split_whitespace().map(str::to_string).collect();
            terms.retain(|t| !words.iter().any(|w| w.eq_ignore_ascii_case(t)));
            let at = 1.min(words.len());
            words.splice(at..at, terms);
            words.join(" ")
        }
        None => {
            if terms.is_empty() {
                terms.push("a".into());
            }
            format!("v=spf1 {} ~all", terms.join(" "))
        }
    }
}

/// The signing domain and each key's (selector, TXT value).
struct Signing {
    domain: String,
    keys: Vec<(String, String)>,
}

/// Each DKIM key's published record against the key tipsheet signs with;
/// the signing domain and keys when DKIM is configured and its keys load.
async fn dkim(config: &Config, dns: &Dns, out: &mut Vec<Finding>) -> Option<Signing> {
    let signer = match crate::mail::dkim_signer(config) {
        Ok(Some(s)) => s,
        Ok(None) => {
            out.push(Finding::new(
                Verdict::Fail,
                "dkim",
                "",
                "DKIM is not configured: Gmail, Yahoo and Outlook.com refuse bulk mail without an aligned DKIM signature; add a `[dkim]` section (docs/dkim.md)".into(),
            ));
            return None;
        }
        Err(e) => {
            out.push(Finding::new(Verdict::Fail, "dkim", "", e.to_string()));
            return None;
        }
    };
    let domain = config.dkim.as_ref()?.domain.to_ascii_lowercase();
    let mut keys = Vec::new();
    for record in signer.records() {
        out.push(dkim_key(dns, &record.name, &record.value).await);
        let selector = record.name.split("._domainkey.").next().unwrap_or_default();
        keys.push((selector.to_string(), record.value.clone()));
    }
    Some(Signing { domain, keys })
}

async fn dkim_key(dns: &Dns, name: &str, ours: &str) -> Finding {
    let publish = format!("{name}. TXT \"{ours}\"");
    let records = match dns.txt(name).await {
        Ok(r) => r,
        Err(e) => {
            return Finding::new(
                Verdict::Fail,
                "dkim",
                name,
                format!("cannot look up `{name}`: {e}"),
            );
        }
    };
    let ours_p = tag(ours, "p").unwrap_or_default();
    let keys: Vec<String> = records.iter().filter_map(|r| tag(r, "p")).collect();
    if keys.is_empty() {
        return Finding::new(
            Verdict::Fail,
            "dkim",
            name,
            format!("no DKIM key is published at `{name}`: receivers cannot verify the signature"),
        )
        .publish(publish);
    }
    if keys.contains(&ours_p) {
        return Finding::new(
            Verdict::Pass,
            "dkim",
            name,
            "the published key is the signing key's public key".into(),
        );
    }
    let why = if keys.iter().all(String::is_empty) {
        "is revoked (empty `p=`)"
    } else {
        "is another key than the one tipsheet signs with (a rotated or mistyped key)"
    };
    Finding::new(
        Verdict::Fail,
        "dkim",
        name,
        format!("the key published at `{name}` {why}: every signature will fail"),
    )
    .publish(publish)
}

/// DMARC at the From domain (or the nearest parent that has one), its
/// policy, and the alignment of the DKIM domain and the envelope domain.
async fn dmarc(dns: &Dns, from: &str, signing: Option<&Signing>, envelope: &str) -> Vec<Finding> {
    let dkim = signing.map(|s| s.domain.as_str());
    let mut out = Vec::new();
    let at = format!("_dmarc.{from}");
    let suggested = format!("{at}. TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{from}\"");
    let mut found = None;
    for domain in parents(from) {
        let name = format!("_dmarc.{domain}");
        match dns.txt(&name).await {
            Ok(records) => {
                let dmarc: Vec<String> = records
                    .into_iter()
                    .filter(|r| tag(r, "v").is_some_and(|v| v.eq_ignore_ascii_case("DMARC1")))
                    .collect();
                if !dmarc.is_empty() {
                    found = Some((name, dmarc));
                    break;
                }
            }
            Err(e) => {
                out.push(Finding::new(
                    Verdict::Fail,
                    "dmarc",
                    &name,
                    format!("cannot look up `{name}`: {e}"),
                ));
                return out;
            }
        }
    }
    let Some((name, records)) = found else {
        out.push(
            Finding::new(
                Verdict::Fail,
                "dmarc",
                &at,
                format!("no DMARC record at `{at}`: Gmail, Yahoo and Outlook.com refuse bulk mail from a domain without one (`p=none` is enough to start; `rua` is a mailbox that reads the aggregate reports)"),
            )
            .publish(suggested),
        );
        return out;
    };
    if records.len() > 1 {
        out.push(
            Finding::new(
                Verdict::Fail,
                "dmarc",
                &name,
                format!(
                    "{} DMARC records at `{name}`: receivers ignore them all; publish exactly one",
                    records.len()
                ),
            )
            .publish(suggested),
        );
        return out;
    }
    let record = &records[0];
    let policy = tag(record, "p").unwrap_or_default().to_ascii_lowercase();
    let strict = |t: &str| tag(record, t).is_some_and(|v| v.eq_ignore_ascii_case("s"));
    out.push(match policy.as_str() {
        "quarantine" | "reject" => Finding::new(Verdict::Pass, "dmarc", &name, format!("`{record}`: policy `{policy}`")),
        "none" => Finding::new(
            Verdict::Warn,
            "dmarc",
            &name,
            format!("`{record}`: policy `none` is monitoring only (enough for Gmail and Yahoo); move to `quarantine` once the reports show only your own mail"),
        ),
        _ => Finding::new(
            Verdict::Fail,
            "dmarc",
            &name,
            format!("`{record}` has no valid `p=` (none, quarantine or reject): receivers ignore it"),
        )
        .publish(suggested),
    });
    if let Some(Signing { domain: d, keys }) = signing {
        let records: Vec<String> = keys
            .iter()
            .map(|(selector, value)| format!("{selector}._domainkey.{from}. TXT \"{value}\""))
            .collect();
        out.push(if aligned(from, d, strict("adkim")) {
            Finding::new(Verdict::Pass, "dmarc", &name, format!("DKIM `d={d}` aligns with the From domain `{from}`"))
        } else {
            Finding::new(
                Verdict::Fail,
                "dmarc",
                &name,
                format!("DKIM `d={d}` does not align with the From domain `{from}`{}: DMARC fails however the signature verifies; set `dkim.domain = \"{from}\"` and publish the key under it", if strict("adkim") { " (adkim=s wants the same domain)" } else { "" }),
            )
            .publish(records.join("\n"))
        });
    }
    let spf_aligned = aligned(from, envelope, strict("aspf"));
    let dkim_aligned = dkim.is_some_and(|d| aligned(from, d, strict("adkim")));
    out.push(if spf_aligned {
        Finding::new(Verdict::Pass, "dmarc", &name, format!("the envelope domain `{envelope}` aligns with the From domain `{from}`"))
    } else {
        Finding::new(
            if dkim_aligned { Verdict::Warn } else { Verdict::Fail },
            "dmarc",
            &name,
            format!("the envelope domain `{envelope}` does not align with the From domain `{from}`, so SPF cannot pass DMARC{}; put `bounces.address` at `{from}` or a subdomain of it", if dkim_aligned { " (the aligned DKIM signature still can)" } else { "" }),
        )
    });
    out
}

/// The bounce domain's MX, so that bounces come back at all.
async fn mx(dns: &Dns, domain: &str) -> Finding {
    let publish = format!("{domain}. MX 10 mail.{domain}.");
    match dns.mx(domain).await {
        Ok(hosts) if hosts.iter().any(|(_, h)| h != ".") => Finding::new(
            Verdict::Pass,
            "mx",
            domain,
            format!("bounces to `{domain}` go to {}", hosts.iter().map(|(p, h)| format!("`{h}` ({p})")).collect::<Vec<_>>().join(", ")),
        ),
        Ok(_) => Finding::new(
            Verdict::Fail,
            "mx",
            domain,
            format!("the bounce domain `{domain}` (`bounces.address`) has no MX record: bounces and complaints are lost, and some receivers refuse a sender domain that cannot receive; publish an MX naming the host whose mail system pipes to `tipsheet inbound`"),
        )
        .publish(publish),
        Err(e) => Finding::new(Verdict::Fail, "mx", domain, format!("cannot look up the MX of `{domain}`: {e}")),
    }
}

/// DMARC's relaxed alignment by the rule in this module's doc: equal, or one
/// a subdomain of the other; `strict`: equal.
pub(crate) fn aligned(a: &str, b: &str, strict: bool) -> bool {
    let (a, b) = (
        a.trim_end_matches('.').to_ascii_lowercase(),
        b.trim_end_matches('.').to_ascii_lowercase(),
    );
    a == b || (!strict && (a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))))
}

/// `news.example.com`, `example.com`: the domain and its parents of two labels or more.
fn parents(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    (0..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// The value of `name` in a DKIM or DMARC tag list (`k=v; k=v`), whitespace
/// removed (a long key is split across strings and lines).
pub(crate) fn tag(record: &str, name: &str) -> Option<String> {
    record.split(';').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.chars().filter(|c| !c.is_whitespace()).collect())
    })
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The resolver: the system's, or the one `--dns-server` names.
struct Dns {
    auth: MessageAuthenticator,
}

impl Dns {
    fn new(server: Option<SocketAddr>) -> Result<Self, String> {
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 2;
        let auth = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![ns]), opts)
            }
            None => MessageAuthenticator::new_system_conf(),
        };
        auth.map(|auth| Self { auth }).map_err(|e| e.to_string())
    }

    /// The records of `kind` at `name`: empty when the name or the records
    /// do not exist, an error when the question got no answer.
    async fn lookup(&self, name: &str, kind: RecordType) -> Result<Vec<RData>, String> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.auth.resolver().lookup(fqdn.as_str(), kind).await {
            Ok(l) => Ok(l.answers().iter().map(|r| r.data.clone()).collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Each TXT record at `name`, its strings joined.
    async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        Ok(self
            .lookup(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let mut out = Vec::new();
        for kind in [RecordType::A, RecordType::AAAA] {
            for d in self.lookup(host, kind).await? {
                match d {
                    RData::A(a) => out.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) => out.push(IpAddr::V6(a.0)),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, String> {
        Ok(self
            .lookup(domain, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::MX(m) => Some((m.preference, m.exchange.to_string())),
                _ => None,
            })
            .collect())
    }

    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, String> {
        let name = hickory_resolver::proto::rr::Name::from(ip).to_string();
        Ok(self
            .lookup(&name, RecordType::PTR)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::PTR(p) => Some(p.0.to_string()),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_equal_or_a_subdomain_either_way_and_equal_when_strict() {
        for (a, b, strict, want) in [
            ("example.com", "example.com", false, true),
            ("news.example.com", "example.com", false, true),
            ("example.com", "news.example.com", false, true),
            ("Example.COM.", "example.com", true, true),
            ("news.example.com", "example.com", true, false),
            ("badexample.com", "example.com", false, false),
            ("example.com.evil.net", "example.com", false, false),
            ("example.org", "example.com", false, false),
        ] {
            assert_eq!(aligned(a, b, strict), want, "{a} / {b} strict={strict}");
        }
    }

    #[test]
    fn the_spf_to_publish_adds_only_the_missing_addresses_after_the_version() {
        let ips: Vec<IpAddr> = vec![
            "192.0.2.10".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ];
        assert_eq!(
            spf_covering(None, &ips),
            "v=spf1 ip4:192.0.2.10 ip6:2001:db8::1 ~all"
        );
        assert_eq!(
            spf_covering(
                Some("v=spf1 ip4:192.0.2.10 include:_spf.example.net -all"),
                &ips
            ),
            "v=spf1 ip6:2001:db8::1 ip4:192.0.2.10 include:_spf.example.net -all"
        );
        assert_eq!(spf_covering(None, &[]), "v=spf1 a ~all");
    }

    #[test]
    fn tags_are_found_case_blind_with_their_whitespace_removed() {
        let r = "v=DKIM1; k=rsa; p=MIIB IjAN\n Bgkq";
        assert_eq!(tag(r, "P").as_deref(), Some("MIIBIjANBgkq"));
        assert_eq!(tag("v=DMARC1;p=reject", "p").as_deref(), Some("reject"));
        assert_eq!(tag("v=DMARC1", "p"), None);
        assert_eq!(
            parents("news.example.com"),
            ["news.example.com", "example.com"]
        );
    }
}
