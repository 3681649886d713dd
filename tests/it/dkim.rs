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

pub(crate) enum Public {
    Rsa(rsa::RsaPublicKey),
    Ed(ed25519_dalek::VerifyingKey),
}

/// Verifies every DKIM-Signature of `raw` whose `a=` matches a key in `keys`
/// (`rsa-sha256` or `ed25519-sha256`); returns how many verified.
fn verify_all(raw: &[u8], keys: &[&Public]) -> Result<usize, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no body")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
    let hs = headers(head);
    let sigs: Vec<&String> = hs
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("DKIM-Signature"))
        .map(|(_, v)| v)
        .collect();
    if sigs.is_empty() {
        return Err("unsigned".into());
    }
    let mut verified = 0;
    for sig in sigs {
        for key in keys {
            let a = match key {
                Public::Rsa(_) => "rsa-sha256",
                Public::Ed(_) => "ed25519-sha256",
            };
            if tags(sig).iter().any(|(k, v)| k == "a" && v == a) {
                verify_one(raw, sig, key)?;
                verified += 1;
            }
        }
    }
    Ok(verified)
}

pub(crate) fn verify(raw: &[u8], key: &Public) -> Result<(), String> {
    match verify_all(raw, &[key])? {
        0 => Err("no signature with this key's algorithm".into()),
        _ => Ok(()),
    }
}

fn tags(sig: &str) -> Vec<(String, String)> {
    sig.replace("\r\n", "")
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect()
}

fn verify_one(raw: &[u8], sig: &str, key: &Public) -> Result<(), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no body")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
    let body = &raw[split + 4..];
    let hs = headers(head);
    let tags = tags(sig);
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
    let mut emptied = sig.to_string();
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

pub(crate) fn site_with_dkim(key: &str) -> (Site, SmtpServer) {
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
        // Gmail's Feedback-ID is signed, and names the issue, list and domain.
        let h = tags(&sig_line)
            .into_iter()
            .find(|(k, _)| k == "h")
            .map(|(_, v)| v)
            .unwrap_or_default();
        assert!(h.split(':').any(|n| n == "feedback-id"), "{h}");
        let header = |name: &str| {
            headers(raw.split("\r\n\r\n").next().unwrap())
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        let issue = header("X-Tipsheet-Issue").unwrap();
        assert_eq!(
            header("Feedback-ID"),
            Some(format!("{issue}:career-tips:tipsheet:example.com")),
            "{raw}"
        );
        // Tampering breaks it, in the body or in the Feedback-ID.
        let tampered = raw.replacen("Hi ", "Hey ", 1);
        assert!(verify(tampered.as_bytes(), &key).is_err());
        let tampered = raw.replacen(":career-tips:", ":other-list:", 1);
        assert_ne!(tampered, raw);
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

/// The RSA public key of `file` under `site`.
pub(crate) fn rsa_public(site: &Site, file: &str) -> Public {
    let pem = std::fs::read_to_string(site.path(file)).unwrap();
    Public::Rsa(
        rsa::RsaPrivateKey::from_pkcs1_pem(&pem)
            .unwrap()
            .to_public_key(),
    )
}

fn ed25519_public(site: &Site, file: &str) -> Public {
    let pem = std::fs::read_to_string(site.path(file)).unwrap();
    Public::Ed(
        ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
            .unwrap()
            .verifying_key(),
    )
}

/// An RSA first key plus an Ed25519 second key.
fn site_with_both() -> (Site, SmtpServer) {
    let (site, server) = site_with_dkim("rsa.pem");
    std::fs::copy(
        repo().join("tests/fixtures/dkim/ed25519.pem"),
        site.path("ed.pem"),
    )
    .unwrap();
    let c = site.read("config.toml");
    site.write(
        "config.toml",
        &format!("{c}second_selector = \"ed\"\nsecond_private_key_path = \"ed.pem\"\n"),
    );
    (site, server)
}

#[test]
fn dual_signatures_both_verify_and_check_prints_both_records() {
    let (site, server) = site_with_both();
    let check = site.run(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    for want in [
        "dkim: publish a TXT record at `test._domainkey.example.com`:\n  v=DKIM1; k=rsa; p=MII",
        "dkim: publish a TXT record at `ed._domainkey.example.com`:\n  v=DKIM1; k=ed25519; p=",
    ] {
        assert!(check.stdout.contains(want), "{want}\n{check:?}");
    }
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (rsa_key, ed_key) = (
        rsa_public(&site, "dkim.pem"),
        ed25519_public(&site, "ed.pem"),
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 4);
    for m in &mails {
        let raw = String::from_utf8_lossy(&m.data);
        assert_eq!(raw.matches("DKIM-Signature:").count(), 2, "{raw}");
        assert!(raw.contains("a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=test;"));
        assert!(raw.contains("a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=ed;"));
        assert_eq!(verify_all(&m.data, &[&rsa_key, &ed_key]), Ok(2), "{raw}");
        // A changed body, or a changed signed header, breaks both.
        for tampered in [
            raw.replacen("Hi ", "Hey ", 1),
            raw.replacen("List-Unsubscribe: <", "List-Unsubscribe: <x", 1),
        ] {
            assert_ne!(tampered, raw);
            assert!(verify(tampered.as_bytes(), &rsa_key).is_err());
            assert!(verify(tampered.as_bytes(), &ed_key).is_err());
        }
    }
}

#[test]
fn ed25519_tampering_fails() {
    let (site, server) = site_with_dkim("ed25519.pem");
    let r = site.run(&["send", "--to", "editor@example.com"]);
    assert_eq!(r.code, 0, "{r:?}");
    let key = ed25519_public(&site, "dkim.pem");
    let raw = String::from_utf8_lossy(&server.mails()[0].data).into_owned();
    verify(raw.as_bytes(), &key).unwrap();
    let tampered = raw.replacen("Subject: ", "Subject: Re: ", 1);
    assert_ne!(tampered, raw);
    assert!(verify(tampered.as_bytes(), &key).is_err());
}

#[test]
fn half_a_second_key_is_a_clear_config_error() {
    let (site, server) = site_with_dkim("rsa.pem");
    let c = site.read("config.toml");
    site.write("config.toml", &format!("{c}second_selector = \"ed\"\n"));
    let r = site.run(&["send"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "`dkim.second_selector`: set, but `dkim.second_private_key_path` is not; set both for dual signing, or neither"
        ),
        "{r:?}"
    );
    assert!(server.mails().is_empty());
}

#[test]
fn confirmation_mails_are_dual_signed_too() {
    use crate::server::{Serve, post_form, wait_for};
    let (site, smtp) = site_with_both();
    let serve = Serve::start(&site);
    let r = post_form(
        &serve.url("/subscribe"),
        &[("email", "nia@example.com"), ("name", "Nia")],
    );
    assert_eq!(r.status, 200);
    let mail = wait_for("the confirmation mail", || smtp.mails().into_iter().next());
    let (rsa_key, ed_key) = (
        rsa_public(&site, "dkim.pem"),
        ed25519_public(&site, "ed.pem"),
    );
    let raw = String::from_utf8_lossy(&mail.data).into_owned();
    assert_eq!(raw.matches("DKIM-Signature:").count(), 2, "{raw}");
    assert_eq!(verify_all(&mail.data, &[&rsa_key, &ed_key]), Ok(2), "{raw}");
    let tampered = raw.replacen("Hi there", "Hi Mia", 1);
    assert_ne!(tampered, raw);
    assert!(verify(tampered.as_bytes(), &rsa_key).is_err());
}

#[test]
fn a_second_key_under_the_first_selector_is_refused() {
    let (site, _server) = site_with_dkim("rsa.pem");
    std::fs::copy(
        repo().join("tests/fixtures/dkim/ed25519.pem"),
        site.path("ed.pem"),
    )
    .unwrap();
    let c = site.read("config.toml");
    site.write(
        "config.toml",
        &format!("{c}second_selector = \"TEST\"\nsecond_private_key_path = \"ed.pem\"\n"),
    );
    let r = site.run(&["send"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "`dkim.second_selector`: `TEST` is also `dkim.selector`: one DNS name holds one key; give the second key its own selector"
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

/// What Perl's Mail::DKIM (the verifier SpamAssassin and Amavis use) says of
/// each signature of `eml`, its key lookups answered with `records`: one
/// `RESULT ALGORITHM SELECTOR (DETAIL)` line each; `None` when Mail::DKIM is
/// not installed (`.ci/run` installs SpamAssassin, which depends on it).
fn mail_dkim(eml: &[u8], records: &[(String, String)]) -> Option<Vec<String>> {
    let installed = std::process::Command::new("perl")
        .args(["-MMail::DKIM::Verifier", "-MNet::DNS", "-e1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.eml");
    std::fs::write(&file, eml).unwrap();
    let out = std::process::Command::new("perl")
        .arg(repo().join("tests/fixtures/dkim/mail-dkim-verify.pl"))
        .arg(&file)
        .args(records.iter().flat_map(|(n, v)| [n, v]))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// The TXT records `check` tells the operator to publish, as (name, value).
fn published_records(check: &str) -> Vec<(String, String)> {
    let mut lines = check.lines();
    let mut records = Vec::new();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("dkim: publish a TXT record at `") {
            let name = rest.split('`').next().unwrap().to_string();
            let value = lines.next().unwrap().trim().to_string();
            records.push((name, value));
        }
    }
    records
}

#[test]
fn mail_dkim_verifies_what_check_says_to_publish() {
    let (site, server) = site_with_both();
    let check = site.run(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    let records = published_records(&check.stdout);
    assert_eq!(records.len(), 2, "{check:?}");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 4);
    let Some(first) = mail_dkim(&mails[0].data, &records) else {
        eprintln!(
            "SKIPPED Mail::DKIM check: perl's Mail::DKIM is not installed (apt-get install libmail-dkim-perl)"
        );
        return;
    };
    for (i, m) in mails.iter().enumerate() {
        let results = if i == 0 {
            first.clone()
        } else {
            mail_dkim(&m.data, &records).unwrap()
        };
        let raw = String::from_utf8_lossy(&m.data);
        assert_eq!(results.len(), 2, "{results:?}");
        assert!(
            results.contains(&"pass rsa-sha256 test (pass)".to_string()),
            "{results:?}\n{raw}"
        );
        // Mail::DKIM as Debian 12 ships it (1.20230212) does not know
        // Ed25519: the RSA signature must pass beside it all the same, as
        // RFC 8463 expects of a verifier that ignores the newer algorithm.
        let ed = results
            .iter()
            .find(|l| l.contains(" ed25519-sha256 ed "))
            .unwrap();
        assert!(
            ed.starts_with("pass ") || ed.contains("unsupported algorithm"),
            "{results:?}"
        );
        let tampered = raw.replacen("Hi ", "Hey ", 1);
        assert_ne!(tampered, raw);
        let results = mail_dkim(tampered.as_bytes(), &records).unwrap();
        assert!(
            results.contains(&"fail rsa-sha256 test (fail (body has been altered))".to_string()),
            "{results:?}"
        );
    }
}
