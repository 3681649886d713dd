//! DKIM: loading the signing keys named in `[dkim]` (one, or an RSA key plus
//! an Ed25519 one for dual signing), signing finished messages (RFC 6376
//! relaxed/relaxed, RFC 8463 for Ed25519), and the DNS TXT records to publish.
//!
//! Owns key formats (RSA PKCS#1 or PKCS#8 PEM; Ed25519 as the base64 of its
//! 32-byte seed, or PKCS#8 PEM), the canonicalisation and which headers are
//! signed. The signatures themselves are aws-lc-rs's (about four times faster
//! than the pure-Rust `rsa` crate for RSA-2048). It must not build message
//! bodies: `render` hands it a finished message, and it only prepends
//! `DKIM-Signature` headers.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{self, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;

/// `[dkim]` in config.toml: plain data, owned by [`crate::config`].
pub use crate::config::DkimSettings;

/// DKIM errors.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The key file cannot be read.
    #[error("cannot read DKIM key `{path}`: {source} (check `dkim.{key}`)")]
    Read {
        /// The config key naming the file.
        key: &'static str,
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is not a usable RSA or Ed25519 key.
    #[error(
        "DKIM key `{path}` is not an RSA (PEM) or Ed25519 key: {reason}; generate one with `openssl genrsa -traditional 2048`"
    )]
    Key {
        /// The config key naming the file.
        key: &'static str,
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Only half of the second key is configured, or it clashes with the first.
    #[error("{message}")]
    Second {
        /// The dotted config key at fault.
        key: &'static str,
        /// What is wrong, and the fix.
        message: String,
    },
}

impl DkimError {
    /// The dotted config key the error is about, to point at its line.
    pub(crate) fn config_key(&self) -> &'static str {
        match self {
            DkimError::Read { key, .. } | DkimError::Key { key, .. } => match *key {
                "second_private_key_path" => "dkim.second_private_key_path",
                _ => "dkim.private_key_path",
            },
            DkimError::Second { key, .. } => key,
        }
    }
}

/// The headers every signature covers, in `h=` order. RFC 8058 requires
/// List-Unsubscribe and List-Unsubscribe-Post to be signed for one-click
/// unsubscribe. A name absent from a message is still listed, so that nobody
/// can add that header later without breaking the signature. Feedback-ID is
/// signed so that Gmail trusts it for Postmaster Tools' per-issue spam rates.
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "MIME-Version",
    "Content-Type",
];

/// One DNS TXT record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnsRecord {
    /// `rsa` or `ed25519`.
    pub algorithm: &'static str,
    /// Where to publish it: `<selector>._domainkey.<domain>`.
    pub name: String,
    /// The TXT value: `v=DKIM1; k=…; p=…`.
    pub value: String,
}

enum PrivateKey {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

struct Key {
    selector: String,
    private: PrivateKey,
    record: DnsRecord,
}

/// Loaded keys, ready to sign: every message gets one signature per key.
pub struct DkimSigner {
    domain: String,
    keys: Vec<Key>,
    /// `rsa` or `ed25519`: the first key's algorithm.
    pub algorithm: &'static str,
    /// The first key's DNS TXT record value.
    pub dns_record: String,
    /// Where to publish the first key's record.
    pub dns_name: String,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DkimSigner(")?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", k.record.name, k.record.algorithm)?;
        }
        f.write_str(")")
    }
}

impl DkimSigner {
    /// Loads the key(s) `settings` names; `base` resolves a relative path.
    pub fn load(settings: &DkimSettings, base: &Path) -> Result<Self, DkimError> {
        let mut keys = vec![load_key(
            settings,
            &settings.selector,
            &settings.private_key_path,
            "private_key_path",
            base,
        )?];
        match (&settings.second_selector, &settings.second_private_key_path) {
            (None, None) => {}
            (Some(selector), Some(path)) => {
                if selector.eq_ignore_ascii_case(&settings.selector) {
                    return Err(DkimError::Second {
                        key: "dkim.second_selector",
                        message: format!(
                            "`{selector}` is also `dkim.selector`: one DNS name holds one key; give the second key its own selector"
                        ),
                    });
                }
                keys.push(load_key(
                    settings,
                    selector,
                    path,
                    "second_private_key_path",
                    base,
                )?);
            }
            (Some(_), None) => {
                return Err(DkimError::Second {
                    key: "dkim.second_selector",
                    message: "set, but `dkim.second_private_key_path` is not; set both for dual signing, or neither".into(),
                });
            }
            (None, Some(_)) => {
                return Err(DkimError::Second {
                    key: "dkim.second_private_key_path",
                    message: "set, but `dkim.second_selector` is not; set both for dual signing, or neither".into(),
                });
            }
        }
        let first = &keys[0].record;
        Ok(DkimSigner {
            algorithm: first.algorithm,
            dns_record: first.value.clone(),
            dns_name: first.name.clone(),
            domain: settings.domain.clone(),
            keys,
        })
    }

    /// The TXT records to publish, one per key.
    pub(crate) fn records(&self) -> impl Iterator<Item = &DnsRecord> {
        self.keys.iter().map(|k| &k.record)
    }

    /// The `DKIM-Signature` header lines (each ending in CRLF) for `message`,
    /// a complete message with CRLF line ends, one per key, to be put in
    /// front of it. Signed at time `now` (`t=`).
    pub(crate) fn signature_headers(&self, message: &[u8], now: SystemTime) -> Vec<u8> {
        let (head, body) = split(message);
        let fields = header_fields(head);
        let bh = base64::engine::general_purpose::STANDARD.encode(relaxed_body_hash(body));
        let mut covered = Vec::with_capacity(1024);
        for name in SIGNED {
            if let Some(value) = find_header(&fields, name) {
                relaxed_header(&mut covered, name, value);
            }
        }
        let t = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let h = SIGNED.join(":").to_ascii_lowercase();
        let mut out = Vec::with_capacity(self.keys.len() * 700);
        for key in &self.keys {
            let a = match key.private {
                PrivateKey::Rsa(_) => "rsa-sha256",
                PrivateKey::Ed25519(_) => "ed25519-sha256",
            };
            // Folded as it goes on the wire; the signature covers this very
            // text with `b=` empty, canonicalised.
            let unsigned = format!(
                "v=1; a={a}; c=relaxed/relaxed; d={}; s={}; t={t};\r\n\th={h};\r\n\tbh={bh};\r\n\tb=",
                self.domain, key.selector
            );
            let mut data = covered.clone();
            relaxed_header(&mut data, "DKIM-Signature", unsigned.as_bytes());
            // The header's own canonical form carries no trailing CRLF.
            data.truncate(data.len() - 2);
            let hash = digest::digest(&SHA256, &data);
            let b = match &key.private {
                PrivateKey::Rsa(k) => {
                    let mut sig = vec![0; k.public_modulus_len()];
                    // Infallible for a key that loaded and a SHA-256 digest.
                    if k.sign_digest(&signature::RSA_PKCS1_SHA256, &hash, &mut sig)
                        .is_err()
                    {
                        continue;
                    }
                    sig
                }
                PrivateKey::Ed25519(k) => k.sign(hash.as_ref()).as_ref().to_vec(),
            };
            let b = base64::engine::general_purpose::STANDARD.encode(b);
            out.extend_from_slice(b"DKIM-Signature: ");
            out.extend_from_slice(unsigned.as_bytes());
            for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"\r\n\t ");
                }
                out.extend_from_slice(chunk);
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// `message` with its signatures in front.
    pub(crate) fn sign_raw(&self, message: Vec<u8>) -> Vec<u8> {
        let headers = self.signature_headers(&message, SystemTime::now());
        let mut out = Vec::with_capacity(headers.len() + message.len());
        out.extend_from_slice(&headers);
        out.extend_from_slice(&message);
        out
    }

    /// Adds the DKIM-Signature header(s) to a lettre `message`.
    pub(crate) fn sign(&self, message: &mut lettre::Message) {
        let raw = message.formatted();
        let headers = self.signature_headers(&raw, SystemTime::now());
        // lettre keeps one header per name, so with two keys the second
        // signature rides in the first's encoded value, after a CRLF and its
        // own name: `formatted()` then writes two well-formed headers.
        let name = "DKIM-Signature: ";
        let Some(value) = headers
            .strip_prefix(name.as_bytes())
            .and_then(|v| v.strip_suffix(b"\r\n"))
        else {
            return;
        };
        let value = String::from_utf8_lossy(value).into_owned();
        message.headers_mut().insert_raw(
            lettre::message::header::HeaderValue::dangerous_new_pre_encoded(
                lettre::message::header::HeaderName::new_from_ascii_str("DKIM-Signature"),
                value.replace("\r\n", ""),
                value,
            ),
        );
    }
}

fn load_key(
    settings: &DkimSettings,
    selector: &str,
    file: &Path,
    config_key: &'static str,
    base: &Path,
) -> Result<Key, DkimError> {
    let path = if file.is_relative() {
        base.join(file)
    } else {
        file.to_path_buf()
    };
    let text = std::fs::read_to_string(&path).map_err(|source| DkimError::Read {
        key: config_key,
        path: path.clone(),
        source,
    })?;
    let bad = |reason: String| DkimError::Key {
        key: config_key,
        path: path.clone(),
        reason,
    };
    let text = text.trim();
    let b64 = base64::engine::general_purpose::STANDARD;
    let (private, public) = if let Some((label, der)) = pem(text) {
        let der = der.map_err(|e| bad(format!("the PEM body is not base64 ({e})")))?;
        let rsa = if label == "RSA PRIVATE KEY" {
            RsaKeyPair::from_der(&der)
        } else {
            RsaKeyPair::from_pkcs8(&der)
        };
        match rsa {
            Ok(k) => {
                let spki = k
                    .public_key()
                    .as_der()
                    .map_err(|_| bad("its public key cannot be encoded".into()))?;
                let public = spki.as_ref().to_vec();
                (PrivateKey::Rsa(k), public)
            }
            Err(rsa_err) if label == "PRIVATE KEY" => {
                let k = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| {
                    bad(format!(
                        "neither RSA ({rsa_err}; RSA keys must be 2048 to 8192 bits) nor Ed25519 ({e})"
                    ))
                })?;
                // RFC 8463: the record carries the raw 32-byte public key.
                let public = k.public_key().as_ref().to_vec();
                (PrivateKey::Ed25519(k), public)
            }
            Err(e) => {
                return Err(bad(format!(
                    "`{label}` is not a usable RSA key ({e}; RSA keys must be 2048 to 8192 bits)"
                )));
            }
        }
    } else {
        let seed = b64
            .decode(text)
            .map_err(|e| bad(format!("not PEM, and not base64 ({e})")))?;
        if seed.len() != 32 {
            return Err(bad("a base64 Ed25519 key must be 32 bytes".into()));
        }
        let k = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| bad(e.to_string()))?;
        let public = k.public_key().as_ref().to_vec();
        (PrivateKey::Ed25519(k), public)
    };
    let algorithm = match private {
        PrivateKey::Rsa(_) => "rsa",
        PrivateKey::Ed25519(_) => "ed25519",
    };
    Ok(Key {
        selector: selector.to_string(),
        private,
        record: DnsRecord {
            algorithm,
            name: format!("{selector}._domainkey.{}", settings.domain),
            value: format!("v=DKIM1; k={algorithm}; p={}", b64.encode(public)),
        },
    })
}

/// The label and decoded body of the first PEM block in `text`, if any.
fn pem(text: &str) -> Option<(&str, Result<Vec<u8>, base64::DecodeError>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end = body.find("-----END ")?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some((label, base64::engine::general_purpose::STANDARD.decode(b64)))
}

/// The header block (with the last header's CRLF) and the body.
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memmem::find(message, b"\r\n\r\n") {
        Some(i) => (&message[..i + 2], &message[i + 4..]),
        None => (message, &[]),
    }
}

/// Each header of `head` with its continuation lines and final CRLF.
fn split_headers(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = head;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = 0;
        loop {
            match memchr::memmem::find(&rest[end..], b"\r\n") {
                Some(i) => {
                    end += i + 2;
                    if !matches!(rest.get(end), Some(b' ' | b'\t')) {
                        break;
                    }
                }
                None => {
                    end = rest.len();
                    break;
                }
            }
        }
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// The name and raw value (after the colon, folding kept, no final CRLF) of
/// each header of `head`, in order: read once for all the signed names.
fn header_fields(head: &[u8]) -> Vec<(&[u8], &[u8])> {
    split_headers(head)
        .filter_map(|line| {
            let colon = memchr::memchr(b':', line)?;
            let (n, v) = line.split_at(colon);
            let n = n.strip_suffix(b" ").unwrap_or(n);
            Some((n, v[1..].strip_suffix(b"\r\n").unwrap_or(&v[1..])))
        })
        .collect()
}

/// The raw value of the last `name` header among `fields`: RFC 6376 §5.4.2
/// signs instances from the bottom up.
fn find_header<'a>(fields: &[(&'a [u8], &'a [u8])], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|&(_, v)| v)
}

/// Appends `name:value\r\n` in relaxed form (RFC 6376 §3.4.2): name in lower
/// case, value unfolded, runs of whitespace as one space, none at either end.
fn relaxed_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend(name.bytes().map(|c| c.to_ascii_lowercase()));
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &c in value {
        match c {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                space = false;
                started = true;
                out.push(c);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The SHA-256 of the body in relaxed form (`bh=`), canonicalised as it is
/// hashed: no copy of the body is made.
fn relaxed_body_hash(body: &[u8]) -> digest::Digest {
    let mut ctx = digest::Context::new(&SHA256);
    relaxed_body_each(body, |part| ctx.update(part));
    ctx.finish()
}

/// The body in relaxed form, as one buffer (for tests).
#[cfg(test)]
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    relaxed_body_each(body, |part| out.extend_from_slice(part));
    out
}

/// The body in relaxed form (RFC 6376 §3.4.4), handed to `emit` in parts:
/// runs of whitespace as one space, none at line ends, no empty lines at the
/// end, CRLF after the last. A line with no tab and no double space (nearly
/// every line of a quoted-printable or base64 body) goes out as it is.
fn relaxed_body_each(body: &[u8], mut emit: impl FnMut(&[u8])) {
    let double_space = memchr::memmem::Finder::new(b"  ");
    let mut collapsed = Vec::with_capacity(256);
    let mut blank_lines = 0usize;
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', body);
    loop {
        let line = match ends.next() {
            Some(end) => {
                let line = &body[start..end];
                start = end + 1;
                line
            }
            // The text after the last line feed: a line only if not empty.
            None if start < body.len() => {
                let line = &body[start..];
                start = body.len();
                line
            }
            None => break,
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = match line.iter().rposition(|&c| c != b' ' && c != b'\t') {
            Some(last) => &line[..=last],
            None => {
                // Empty once trimmed: kept only if a non-empty line follows.
                blank_lines += 1;
                continue;
            }
        };
        for _ in 0..blank_lines {
            emit(b"\r\n");
        }
        blank_lines = 0;
        if memchr::memchr(b'\t', line).is_none() && double_space.find(line).is_none() {
            emit(line);
        } else {
            collapsed.clear();
            let mut rest = line;
            while let Some(run) = memchr::memchr2(b' ', b'\t', rest) {
                collapsed.extend_from_slice(&rest[..run]);
                collapsed.push(b' ');
                // The line ends in a non-blank, so every run has an end.
                let after = rest[run..]
                    .iter()
                    .position(|&c| c != b' ' && c != b'\t')
                    .map_or(rest.len(), |n| run + n);
                rest = &rest[after..];
            }
            collapsed.extend_from_slice(rest);
            emit(&collapsed);
        }
        emit(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_body_table() {
        for (input, want) in [
            (&b""[..], &b""[..]),
            (b"\r\n", b""),
            (b"a  b \t\r\n", b"a b\r\n"),
            (b"a\r\n\r\n\r\n", b"a\r\n"),
            (b"a\r\n\r\nb", b"a\r\n\r\nb\r\n"),
            (b" x\r\n \r\ny\r\n", b" x\r\n\r\ny\r\n"),
            (b"no newline", b"no newline\r\n"),
            (b"a\n\n", b"a\r\n"),
            (b"\tx \t y\r\n\t\r\n", b" x y\r\n"),
            (b"=20\r\n  \r\n", b"=20\r\n"),
            (b"a\r\n\r\n \r\nb \r\n", b"a\r\n\r\n\r\nb\r\n"),
            (b"a\r\r\n", b"a\r\r\n"),
        ] {
            assert_eq!(
                String::from_utf8_lossy(&relaxed_body(input)),
                String::from_utf8_lossy(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// RFC 6376 §3.4.4 read literally, a rule at a time, on the whole body.
    fn relaxed_body_by_the_rules(body: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|l| {
                let l = l.split([' ', '\t']).collect::<Vec<_>>();
                let mut out = String::new();
                for (i, word) in l.iter().enumerate() {
                    if i > 0 && !out.ends_with(' ') {
                        out.push(' ');
                    }
                    out.push_str(word);
                }
                out.trim_end_matches(' ').to_string()
            })
            .collect();
        if text.ends_with('\n') {
            lines.pop();
        }
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines
            .iter()
            .flat_map(|l| [l.as_str(), "\r\n"])
            .collect::<String>()
            .into_bytes()
    }

    proptest::proptest! {
        #[test]
        fn relaxed_body_follows_the_rules(body in "[ab \t\r\n=]{0,40}") {
            // A lone CR is body text, and the literal reading above would
            // lose it; keep to CRLF and LF line ends.
            let body = body.replace('\r', "\r\n").replace("\r\n\n", "\r\n");
            let ours = String::from_utf8(relaxed_body(body.as_bytes())).unwrap();
            let rules = String::from_utf8(relaxed_body_by_the_rules(body.as_bytes())).unwrap();
            proptest::prop_assert_eq!(ours, rules);
        }
    }

    #[test]
    fn relaxed_header_table() {
        for (name, value, want) in [
            (
                "Subject",
                &b" Hello  World \t"[..],
                "subject:Hello World\r\n",
            ),
            ("To", b" a,\r\n\t b", "to:a, b\r\n"),
            ("X", b"", "x:\r\n"),
        ] {
            let mut out = Vec::new();
            relaxed_header(&mut out, name, value);
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    #[test]
    fn headers_are_found_with_their_folding() {
        let head = b"From: a@example.com\r\nSubject: one\r\n two\r\nsubject: last\r\n";
        let fields = header_fields(head);
        assert_eq!(find_header(&fields, "from"), Some(&b" a@example.com"[..]));
        assert_eq!(find_header(&fields, "Subject"), Some(&b" last"[..]));
        assert_eq!(find_header(&fields, "To"), None);
        assert_eq!(fields[1], (&b"Subject"[..], &b" one\r\n two"[..]));
        assert_eq!(split_headers(head).count(), 3);
    }

    #[test]
    fn pem_blocks_are_decoded() {
        let (label, der) =
            pem("-----BEGIN PRIVATE KEY-----\nAAEC\nAw==\n-----END PRIVATE KEY-----").unwrap();
        assert_eq!(label, "PRIVATE KEY");
        assert_eq!(der.unwrap(), vec![0, 1, 2, 3]);
        assert!(pem("AAEC").is_none());
    }
}
