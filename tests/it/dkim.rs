//! DKIM: messages received by a real SMTP server verify against the public key,
//! checked by an implementation independent of lettre's (RFC 6376 relaxed/relaxed).

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};

use crate::common::{Site, repo};
use crate::smtp_server::SmtpServer;

fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let collapsed = unfolded
        .split([' ', '\t'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{}:{}\r\n", name.to_ascii_lowercase(), collapsed.trim())
}

fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut lines: Vec<String> = text
        .split("\r\n")
        .map(|l| {
            // Each run of spaces and tabs becomes one space; none at the end.
            let mut out = String::with_capacity(l.len());
            let mut in_ws = false;
            for c in l.chars() {
                if c == ' ' || c == '\t' {
                    in_ws = true;
                } else {
                    if in_ws {
                        out.push(' ');
                    }
                    in_ws = false;
                    out.push(c);
                }
            }
            out
        })
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = lines.join("\r\n").into_bytes();
    if !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits raw headers into (name, raw value) pairs.
fn headers(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str("\r\n");
                last.1.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.to_string(), v.to_string()));
        }
    }
    out
}

enum Public {
    Rsa(rsa::RsaPublicKey),
    Ed(ed25519_dalek::VerifyingKey),
}

fn verify(raw: &[u8], key: &Public) -> Result<(), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no body")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
    let body = &raw[split + 4..];
    let hs = headers(head);
    let (_, sig) = hs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("DKIM-Signature"))
        .ok_or("unsigned")?;
    let tags: Vec<(String, String)> = sig
        .replace("\r\n", "")
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect();
    let tag = |k: &str| {
        tags.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if tag("c") != "relaxed/relaxed" {
        return Err(format!("c={}", tag("c")));
    }
    let bh = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(relaxed_body(body)));
    if bh != tag("bh") {
        return Err(format!("body hash {bh} != {}", tag("bh")));
    }
    let mut signed = String::new();
    for name in tag("h").split(':') {
        if let Some((n, v)) = hs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            signed.push_str(&relaxed_header(n, v));
        }
    }
    // The signature header itself, with b= emptied and no trailing CRLF.
    let b_start = sig.find("b=").ok_or("no b=")?;
    let mut emptied = sig.clone();
    // `bh=` also contains "b=": find the standalone b= tag.
    let idx = sig
        .match_indices("b=")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || sig[..i].trim_end().ends_with(';'))
        .unwrap_or(b_start);
    let end = sig[idx..].find(';').map_or(sig.len(), |e| idx + e);
    emptied.replace_range(idx + 2..end, "");
    let own = relaxed_header("DKIM-Signature", &emptied);
    signed.push_str(own.trim_end_matches("\r\n"));
    let hash = Sha256::digest(signed.as_bytes());
    let b = base64::engine::general_purpose::STANDARD
        .decode(tag("b"))
        .map_err(|e| e.to_string())?;
    match key {
        Public::Rsa(k) => k
            .verify(rsa::Pkcs1v15Sign::new::<sha2_010::Sha256>(), &hash, &b)
            .map_err(|e| e.to_string()),
        Public::Ed(k) => {
            let sig = ed25519_dalek::Signature::from_slice(&b).map_err(|e| e.to_string())?;
            k.verify_strict(&hash, &sig).map_err(|e| e.to_string())
        }
    }
}

fn site_with_dkim(key: &str) -> (Site, SmtpServer) {
    let server = SmtpServer::start();
    let site = Site::new();
    site.use_smtp(server.port, 2);
    std::fs::copy(
        repo().join("tests/fixtures/dkim").join(key),
        site.path("dkim.pem"),
    )
    .unwrap();
    let c = site.read("config.toml");
    site.write(
        "config.toml",
        &format!("{c}\n[dkim]\ndomain = \"example.com\"\nselector = \"test\"\nprivate_key_path = \"dkim.pem\"\n"),
    );
    (site, server)
}

#[test]
fn rsa_signatures_verify_and_cover_the_unsubscribe_headers() {
    let (site, server) = site_with_dkim("rsa.pem");
    let check = site.run(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check
            .stdout
            .contains("dkim: publish a TXT record at `test._domainkey.example.com`"),
        "{check:?}"
    );
    assert!(check.stdout.contains("v=DKIM1; k=rsa; p=MII"), "{check:?}");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let pem = std::fs::read_to_string(site.path("dkim.pem")).unwrap();
    let key = Public::Rsa(
        rsa::RsaPrivateKey::from_pkcs1_pem(&pem)
            .unwrap()
            .to_public_key(),
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 4);
    for m in &mails {
        verify(&m.data, &key)
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&m.data)));
        let raw = String::from_utf8_lossy(&m.data);
        let sig_line = raw
            .lines()
            .skip_while(|l| !l.starts_with("DKIM-Signature"))
            .take(6)
            .collect::<String>();
        assert!(
            sig_line.contains("list-unsubscribe:list-unsubscribe-post"),
            "{sig_line}"
        );
        // Tampering breaks it.
        let tampered = raw.replacen("Hi ", "Hey ", 1);
        assert!(verify(tampered.as_bytes(), &key).is_err());
    }
}

#[test]
fn ed25519_signatures_verify() {
    let (site, server) = site_with_dkim("ed25519.pem");
    let r = site.run(&["send", "--to", "editor@example.com"]);
    assert_eq!(r.code, 0, "{r:?}");
    let pem = std::fs::read_to_string(site.path("dkim.pem")).unwrap();
    let sk = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    verify(&mails[0].data, &Public::Ed(sk.verifying_key())).unwrap();
}

#[test]
fn a_bad_key_is_a_clear_config_error() {
    let (site, _server) = site_with_dkim("README.md");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "`dkim.private_key_path`: DKIM key `dkim.pem` is not an RSA (PEM) or Ed25519 key"
        ),
        "{r:?}"
    );
    let c = site.run(&["check"]);
    assert_eq!(c.code, 1, "{c:?}");
}

/// A site signing with the RSA test key, sending to an in-process SMTP server
/// (for tests elsewhere that check mail `serve` signs).
pub(crate) fn rsa_site() -> (Site, SmtpServer) {
    site_with_dkim("rsa.pem")
}
