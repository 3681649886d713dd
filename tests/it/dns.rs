//! `check --dns` against a real DNS server on loopback: Debian's dnsmasq,
//! started by each test with the zone it writes (`.ci/run` installs it; the
//! tests print a SKIP line without it).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Run, Site, repo};

/// A dnsmasq answering only from the records it was started with.
pub struct Dnsmasq {
    child: Child,
    pub port: u16,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One record as dnsmasq takes it on its command line.
pub enum Record<'a> {
    /// A TXT record (split into 255-byte strings).
    Txt(&'a str, &'a str),
    /// An A record, and its PTR.
    Host(&'a str, &'a str),
    /// An MX record: (domain, host, preference).
    Mx(&'a str, &'a str, u16),
}

fn binary() -> Option<&'static str> {
    ["dnsmasq", "/usr/sbin/dnsmasq"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl Dnsmasq {
    /// Starts dnsmasq on a free loopback port, authoritative-like for
    /// `example.com`, `example.net` and reverse names: nothing is forwarded.
    /// `None` (after a SKIP line) when dnsmasq is not installed.
    pub fn start(records: &[Record<'_>]) -> Option<Self> {
        let Some(bin) = binary() else {
            eprintln!(
                "DNS check SKIPPED: dnsmasq is not installed (`apt-get install dnsmasq-base`; .ci/run does it)"
            );
            return None;
        };
        let mut args: Vec<String> = [
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--local=/example.com/",
            "--local=/example.net/",
            "--local=/in-addr.arpa/",
        ]
        .map(String::from)
        .to_vec();
        for r in records {
            args.push(match r {
                Record::Txt(name, value) => {
                    // On the command line quotes are literal and a comma
                    // starts the next string (none of these values has one).
                    let chunks: Vec<String> = value
                        .as_bytes()
                        .chunks(255)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                    format!("--txt-record={name},{}", chunks.join(","))
                }
                Record::Host(name, ip) => format!("--host-record={name},{ip}"),
                Record::Mx(domain, host, pref) => format!("--mx-host={domain},{host},{pref}"),
            });
        }
        for _ in 0..5 {
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(bin)
                .args(&args)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut err = String::new();
                    use std::io::Read as _;
                    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                    assert!(
                        err.contains("in use"),
                        "dnsmasq exited ({status}): {err} (args {args:?})"
                    );
                    break; // The port was taken meanwhile: another one.
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Self { child, port });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start on a free port");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A site sending through `relay.example.com`, signing with the test RSA key
/// as `test._domainkey.<dkim_domain>`, bounces to `bounces@example.com`; and
/// the DKIM record `check` says to publish.
fn site(dkim_domain: &str) -> (Site, String) {
    let site = Site::new();
    site.config("transport = \"outbox\"", "transport = \"smtp\"");
    site.config("host = \"127.0.0.1\"", "host = \"relay.example.com\"");
    site.config("tls = \"none\"", "tls = \"tls\"");
    std::fs::copy(
        repo().join("tests/fixtures/dkim/rsa.pem"),
        site.path("dkim.pem"),
    )
    .unwrap();
    let c = site.read("config.toml");
    site.write(
        "config.toml",
        &format!(
            "{c}\n[dkim]\ndomain = \"{dkim_domain}\"\nselector = \"test\"\nprivate_key_path = \"dkim.pem\"\n\n[bounces]\naddress = \"bounces@example.com\"\n"
        ),
    );
    let r = site.run(&["check"]);
    let value = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("dkim: publish a TXT record at"))
        .nth(1)
        .unwrap_or_else(|| panic!("no DKIM record printed: {r:?}"))
        .trim()
        .to_string();
    (site, value)
}

/// The zone that passes, with `change` applied: (name, value) pairs of TXT
/// records replaced (an empty value removes the record).
fn zone(dkim: &str, change: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut txt: Vec<(String, String)> = vec![
        // Evaluated, not just found: the relay is covered through an include.
        (
            "example.com".into(),
            "v=spf1 include:_spf.example.com -all".into(),
        ),
        (
            "_spf.example.com".into(),
            "v=spf1 ip4:192.0.2.0/24 -all".into(),
        ),
        ("test._domainkey.example.com".into(), dkim.into()),
        (
            "_dmarc.example.com".into(),
            "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com".into(),
        ),
    ];
    for (name, value) in change {
        txt.retain(|(n, _)| n != name);
        if !value.is_empty() {
            txt.push((name.to_string(), value.to_string()));
        }
    }
    txt
}

fn check_dns(site: &Site, txt: &[(String, String)]) -> Option<Run> {
    let mut records: Vec<Record<'_>> = txt.iter().map(|(n, v)| Record::Txt(n, v)).collect();
    records.extend([
        Record::Host("relay.example.com", "192.0.2.10"),
        Record::Host("mail.example.com", "192.0.2.25"),
        Record::Mx("example.com", "mail.example.com", 10),
    ]);
    let dns = Dnsmasq::start(&records)?;
    Some(site.run(&["check", "--dns", "--dns-server", &dns.addr()]))
}

fn fails(r: &Run) -> Vec<&str> {
    r.stdout
        .lines()
        .filter(|l| l.starts_with("dns FAIL"))
        .collect()
}

#[test]
fn a_correct_zone_passes() {
    let (site, dkim) = site("example.com");
    let Some(r) = check_dns(&site, &zone(&dkim, &[])) else {
        return;
    };
    assert_eq!(r.code, 0, "{r:?}");
    assert!(fails(&r).is_empty(), "{r:?}");
    for line in [
        "dns ok relay `relay.example.com`: the relay `relay.example.com` is at `192.0.2.10`",
        "dns ok ptr `10.2.0.192.in-addr.arpa.`: `192.0.2.10` is `relay.example.com.`, which resolves back to it",
        "dns ok spf `example.com`: `v=spf1 include:_spf.example.com -all` authorises the relay (`192.0.2.10`)",
        "dns ok dkim `test._domainkey.example.com`: the published key is the signing key's public key",
        "dns ok dmarc `_dmarc.example.com`: `v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com`: policy `quarantine`",
        "dns ok dmarc `_dmarc.example.com`: DKIM `d=example.com` aligns with the From domain `example.com`",
        "dns ok mx `example.com`: bounces to `example.com` go to `mail.example.com.` (10)",
        "dns: 0 failed, 0 warnings, 8 ok",
    ] {
        assert!(
            r.stdout.lines().any(|l| l == line),
            "missing {line:?}: {r:?}"
        );
    }
}

#[test]
fn a_missing_dmarc_record_fails_with_the_record_to_publish() {
    let (site, dkim) = site("example.com");
    let Some(r) = check_dns(&site, &zone(&dkim, &[("_dmarc.example.com", "")])) else {
        return;
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        fails(&r),
        [
            "dns FAIL dmarc `_dmarc.example.com`: no DMARC record at `_dmarc.example.com`: Gmail, Yahoo and Outlook.com refuse bulk mail from a domain without one (`p=none` is enough to start; `rua` is a mailbox that reads the aggregate reports)"
        ],
        "{r:?}"
    );
    assert!(
        r.stdout.contains("  publish: _dmarc.example.com. TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com\"\n"),
        "{r:?}"
    );
}

#[test]
fn an_spf_record_that_does_not_cover_the_relay_fails_with_the_record_to_publish() {
    let (site, dkim) = site("example.com");
    let Some(r) = check_dns(
        &site,
        &zone(
            &dkim,
            &[("_spf.example.com", "v=spf1 ip4:198.51.100.0/24 -all")],
        ),
    ) else {
        return;
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        fails(&r),
        [
            "dns FAIL spf `example.com`: `v=spf1 include:_spf.example.com -all` does not authorise the relay: `192.0.2.10` (fail) evaluates to no pass; receivers will fail SPF"
        ],
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "  publish: example.com. TXT \"v=spf1 ip4:192.0.2.10 include:_spf.example.com -all\"\n"
        ),
        "{r:?}"
    );
}

#[test]
fn a_dkim_record_with_another_key_fails_with_the_record_to_publish() {
    let (site, dkim) = site("example.com");
    let other = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    let Some(r) = check_dns(
        &site,
        &zone(&dkim, &[("test._domainkey.example.com", other)]),
    ) else {
        return;
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        fails(&r),
        [
            "dns FAIL dkim `test._domainkey.example.com`: the key published at `test._domainkey.example.com` is another key than the one tipsheet signs with (a rotated or mistyped key): every signature will fail"
        ],
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!(
            "  publish: test._domainkey.example.com. TXT \"{dkim}\"\n"
        )),
        "{r:?}"
    );
}

#[test]
fn a_misaligned_dkim_domain_fails_with_the_record_to_publish_under_the_from_domain() {
    let (site, dkim) = site("mailer.example.net");
    let Some(r) = check_dns(
        &site,
        &zone(
            &dkim,
            &[("test._domainkey.mailer.example.net", dkim.as_str())],
        ),
    ) else {
        return;
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        fails(&r),
        [
            "dns FAIL dmarc `_dmarc.example.com`: DKIM `d=mailer.example.net` does not align with the From domain `example.com`: DMARC fails however the signature verifies; set `dkim.domain = \"example.com\"` and publish the key under it"
        ],
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!(
            "  publish: test._domainkey.example.com. TXT \"{dkim}\"\n"
        )),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("dns ok dkim `test._domainkey.mailer.example.net`"),
        "{r:?}"
    );
}
