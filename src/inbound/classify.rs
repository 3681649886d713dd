//! Reading one raw message: MIME parsing (mail-parser) within size and depth
//! caps, then what kind of mail it is and the addresses and Message-IDs that
//! may say whose it is.
//!
//! Owns the shapes of DSNs (RFC 3464), ARF reports (RFC 5965), automatic
//! replies (RFC 3834) and the common plain-text bounces. It trusts nothing it
//! reads and decides nothing: tokens are checked, and rows looked up, by
//! [`super::Processor`].

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::error::InboundError;
pub use super::feedback::FeedbackType;
use super::plain;
use super::reason::{Failure, classify_failure};

/// Largest message read (a bounce quoting a whole issue is far smaller).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Deepest MIME nesting read (multiparts and attached messages).
pub const MAX_DEPTH: usize = 16;
/// Most MIME parts read.
pub const MAX_PARTS: usize = 500;
/// Longest reason text kept.
const MAX_REASON: usize = 300;
/// Most addresses collected from one message.
const MAX_ADDRESSES: usize = 100;
/// Most quoted Message-IDs collected from one message (the first ones).
pub const MAX_QUOTED_IDS: usize = 5;
/// Most per-recipient blocks read from one delivery-status part.
const MAX_RECIPIENTS: usize = plain::MAX_RECIPIENTS;

/// A DSN's `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Delivered, relayed or expanded: nothing went wrong.
    Delivered,
    /// Still trying.
    Delayed,
    /// Given up.
    Failed,
}

/// One recipient a DSN or a plain-text bounce reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// `Action` (a plain-text bounce's recipients all failed).
    pub action: Action,
    /// `Status` (`5.1.1`), or one found in the diagnostic.
    pub status: Option<String>,
    /// `Final-Recipient` without its `rfc822;` type, or the address a
    /// plain-text bounce names; `None` when it names none.
    pub address: Option<String>,
    /// `Diagnostic-Code` without its `smtp;` type, or the plain-text reason.
    pub diagnostic: Option<String>,
    /// Why it failed and whose problem that is (see [`super::reason`]).
    pub failure: Failure,
}

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A delivery status notification: every failed recipient (or, when
    /// none failed, every delayed one, else every delivered one). Never empty.
    Dsn(Vec<DsnRecipient>),
    /// A plain-text bounce (no DSN part): every recipient it names, or one
    /// without an address when it names none. Never empty.
    TextBounce(Vec<DsnRecipient>),
    /// An ARF feedback report of a complaint type (abuse, fraud, virus, other).
    Complaint(FeedbackType),
    /// An ARF report about the sender, never a complaint (auth-failure, dkim,
    /// not-spam, or a type not known here).
    FeedbackReport(FeedbackType),
    /// Mail to the unsubscribe address (tokenized or not).
    Unsubscribe,
    /// An automatic reply (vacation, out of office): ignored. Why it looked like one.
    AutoReply(String),
    /// Anything else, and why it is not one of the above.
    Unknown(String),
}

/// One message, read.
#[derive(Debug, Clone)]
pub struct Classified {
    /// What it is.
    pub kind: Kind,
    /// Addresses it was delivered to or quotes as the original sender, where a
    /// token may be: envelope headers, To, ARF `Original-Mail-From`, the quoted
    /// `Return-Path`.
    pub addresses: Vec<String>,
    /// Message-IDs of the original message, quoted by the report or bounce.
    pub quoted_ids: Vec<String>,
    /// SHA-256 of the raw bytes (hex), for the natural key of its events.
    pub hash: String,
}

/// Reads and classifies one raw message. `unsubscribe` is the `[unsubscribe]
/// mailto` address.
pub fn classify(raw: &[u8], unsubscribe: &str) -> Result<Classified, InboundError> {
    if raw.len() > MAX_BYTES {
        return Err(InboundError::TooLarge {
            size: raw.len(),
            limit: MAX_BYTES,
        });
    }
    let hash = hex::encode(Sha256::digest(raw));
    // CR-only (old Mac) and CRLF mail both read as LF-only mail.
    let normalised = lf_only(raw);
    let raw = normalised.as_slice();
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(InboundError::Malformed("the message is empty".into()));
    }
    if !starts_with_header(raw) {
        return Err(InboundError::Malformed(
            "it does not start with a header line (`Name: value`)".into(),
        ));
    }
    // Count MIME headers before parsing: the parser nests attached messages
    // without limit, and a deep enough tree is too deep to even drop.
    let content_types = raw
        .split(|b| *b == b'\n')
        .filter(|l| l.len() >= 13 && l[..13].eq_ignore_ascii_case(b"content-type:"))
        .count();
    if content_types > MAX_PARTS {
        return Err(InboundError::TooComplex(format!(
            "{content_types} Content-Type headers, more than the {MAX_PARTS} parts read"
        )));
    }
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or_else(|| InboundError::Malformed("no header lines found".into()))?;
    if message.parts.len() > MAX_PARTS {
        return Err(InboundError::TooComplex(format!(
            "{} MIME parts, more than the {MAX_PARTS} read",
            message.parts.len()
        )));
    }
    let depth = depth(&message, 0)?;
    if depth > MAX_DEPTH {
        return Err(InboundError::TooComplex(format!(
            "MIME parts nested {depth} deep, deeper than the {MAX_DEPTH} read"
        )));
    }
    let boundary = message
        .root_part()
        .content_type()
        .filter(|c| c.ctype().eq_ignore_ascii_case("multipart"))
        .and_then(|c| c.attribute("boundary"))
        .map(str::to_string);
    // A report whose outer boundary never closes (the quoted original cut
    // off) is still read when the part that matters ends before the cut.
    let cut = boundary.as_deref().and_then(|b| {
        let close = format!("--{b}--");
        (!raw.windows(close.len()).any(|w| w == close.as_bytes())).then(|| Cut {
            boundary: b.to_string(),
            error: InboundError::Truncated(format!(
                "the message ends before its closing MIME boundary `{close}`"
            )),
        })
    });
    let text = String::from_utf8_lossy(raw);
    let mut addresses = envelope_addresses(&message);
    let mut quoted_ids = Vec::new();
    let root = message.root_part();
    let ctype = root.content_type();
    let is_report = ctype.is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let report_type = ctype
        .and_then(|c| c.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    collect_quoted(&message, &mut addresses, &mut quoted_ids);
    let kind = if is_report && report_type.as_deref() == Some("delivery-status") {
        let report = report_part(&message, &text, "delivery-status", cut)?;
        Kind::Dsn(dsn(&report)?)
    } else if is_report && report_type.as_deref() == Some("feedback-report") {
        let report = report_part(&message, &text, "feedback-report", cut)?;
        let fields = fields(&report);
        let feedback = field(&fields, "feedback-type").ok_or_else(|| {
            InboundError::Truncated("the feedback report has no `Feedback-Type` field".into())
        })?;
        if let Some(from) = field(&fields, "original-mail-from") {
            addresses.push(from.to_string());
        }
        match FeedbackType::parse(feedback) {
            t if t.is_complaint() => Kind::Complaint(t),
            t => Kind::FeedbackReport(t),
        }
    } else if let Some(bounce) = text_bounce(&message, &text, cut)? {
        Kind::TextBounce(bounce)
    } else if let Some(why) = auto_reply(&message) {
        Kind::AutoReply(why)
    } else if addressed_to(&message, unsubscribe) {
        Kind::Unsubscribe
    } else if is_report {
        Kind::Unknown(format!(
            "a multipart/report of type `{}`",
            report_type.as_deref().unwrap_or("none")
        ))
    } else {
        Kind::Unknown("neither a bounce, a complaint, an unsubscribe nor an automatic reply".into())
    };
    addresses.dedup();
    Ok(Classified {
        kind,
        addresses,
        quoted_ids,
        hash,
    })
}

/// An outer multipart whose closing boundary is missing, and the error to
/// give when what had to be read is not complete before the cut.
struct Cut {
    boundary: String,
    error: InboundError,
}

/// `raw` with CRLF and lone CR line ends made LF.
fn lf_only(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().peekable();
    while let Some(&b) = bytes.next() {
        if b == b'\r' {
            bytes.next_if_eq(&&b'\n');
            out.push(b'\n');
        } else {
            out.push(b);
        }
    }
    out
}

/// The text of the report's `message/<subtype>` part. When the outer boundary
/// never closes, the part must be followed by another boundary line (it ends
/// before the cut); when the parser found no such part, the part is read from
/// the raw text.
fn report_part(
    message: &Message<'_>,
    text: &str,
    subtype: &str,
    cut: Option<Cut>,
) -> Result<String, InboundError> {
    let raw_part = raw_part(text, subtype, cut.as_ref().map(|c| c.boundary.as_str()));
    if let Some(cut) = cut
        && !raw_part.as_ref().is_some_and(|(_, closed)| *closed)
    {
        return Err(cut.error);
    }
    match part_text(message, subtype)? {
        Some(t) => Ok(t),
        None => raw_part.map(|(t, _)| t).ok_or_else(|| {
            InboundError::Truncated(format!(
                "a multipart/report ({subtype}) without its message/{subtype} part"
            ))
        }),
    }
}

/// The body of the first part whose Content-Type is `message/<subtype>`
/// (or `message/global-<subtype>`), found in the raw text, and whether a
/// boundary line (of `boundary`, or any when it is unknown) follows it.
fn raw_part(text: &str, subtype: &str, boundary: Option<&str>) -> Option<(String, bool)> {
    let mut lines = text.lines();
    lines.find(|l| {
        let l = l.to_ascii_lowercase();
        l.strip_prefix("content-type:").is_some_and(|v| {
            let v = v.trim().split(';').next().unwrap_or_default().trim();
            v == format!("message/{subtype}") || v == format!("message/global-{subtype}")
        })
    })?;
    // The part's remaining header lines, up to the first blank line.
    lines.by_ref().find(|l| l.trim().is_empty())?;
    let delimiter = boundary.map(|b| format!("--{b}"));
    let mut body = String::new();
    for line in lines {
        let ends = match &delimiter {
            Some(d) => line.starts_with(d.as_str()),
            None => line.starts_with("--") && !line.contains(':'),
        };
        if ends {
            return Some((body, true));
        }
        body.push_str(line);
        body.push('\n');
    }
    Some((body, false))
}

/// True when the first line (after an mbox `From ` line, which `pipe(8)`
/// may add) is an RFC 5322 header field: printable ASCII name, then a colon.
fn starts_with_header(raw: &[u8]) -> bool {
    let mut lines = raw.split(|b| *b == b'\n');
    let mut first = lines.next().unwrap_or_default();
    if first.starts_with(b"From ") {
        first = lines.next().unwrap_or_default();
    }
    match first.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => first[..colon].iter().all(|b| (33..=126).contains(b)),
        _ => false,
    }
}

/// The nesting depth of `message`'s parts, stopping past [`MAX_DEPTH`].
fn depth(message: &Message<'_>, level: usize) -> Result<usize, InboundError> {
    // Parts are a tree stored as indices; walk it with an explicit stack so a
    // hostile message cannot recurse us off the stack.
    let mut deepest = level;
    let mut stack = vec![(0usize, level)];
    let mut seen = 0usize;
    while let Some((id, d)) = stack.pop() {
        seen += 1;
        if seen > MAX_PARTS * 2 {
            return Err(InboundError::TooComplex(
                "MIME parts refer to each other in a loop".into(),
            ));
        }
        deepest = deepest.max(d);
        if d > MAX_DEPTH {
            return Ok(d);
        }
        let Some(part) = message.parts.get(id) else {
            continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                for c in children {
                    let c = *c as usize;
                    if c != id {
                        stack.push((c, d + 1));
                    }
                }
            }
            PartType::Message(inner) => {
                deepest = deepest.max(depth(inner, d + 1)?);
            }
            _ => {}
        }
    }
    Ok(deepest)
}

/// Headers the delivering MTA (or the report) writes the recipient address in.
const ENVELOPE_HEADERS: &[&str] = &[
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "X-Delivered-To",
    "Original-Recipient",
    "To",
    "Cc",
];

fn envelope_addresses(message: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ENVELOPE_HEADERS {
        for (n, v) in message.headers_raw() {
            if n.eq_ignore_ascii_case(name) {
                out.extend(addresses_in(v));
            }
        }
    }
    out
}

/// Every `local@domain` in a header value (angle brackets or bare).
fn addresses_in(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c == '<' || c == '>' || c.is_whitespace() || c == ';')
        .filter(|w| w.contains('@') && !w.starts_with('@'))
        .map(|w| {
            w.trim_matches(|c: char| c == '"' || c == '\'' || c == '(' || c == ')')
                .to_string()
        })
        .collect()
}

/// The quoted original's Message-ID and Return-Path: from an attached
/// message, a text/rfc822-headers part, or header lines quoted in the text.
/// At most [`MAX_QUOTED_IDS`] Message-IDs, the first ones, each once.
fn collect_quoted(message: &Message<'_>, addresses: &mut Vec<String>, ids: &mut Vec<String>) {
    for part in message.parts.iter().skip(1) {
        match &part.body {
            PartType::Message(inner) => {
                if let Some(id) = inner.message_id() {
                    push_id(ids, format!("<{id}>"));
                }
                for (n, v) in inner.headers_raw() {
                    if n.eq_ignore_ascii_case("Return-Path") {
                        addresses.extend(addresses_in(v));
                    }
                }
            }
            PartType::Text(t) | PartType::Html(t) => quoted_lines(t, addresses, ids),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                if let Ok(t) = std::str::from_utf8(b) {
                    quoted_lines(t, addresses, ids);
                }
            }
            PartType::Multipart(_) => {}
        }
    }
    if message.parts.len() == 1
        && let Some(t) = message.body_text(0)
    {
        quoted_lines(&t, addresses, ids);
    }
}

fn push_id(ids: &mut Vec<String>, id: String) {
    if ids.len() < MAX_QUOTED_IDS && !ids.contains(&id) {
        ids.push(id);
    }
}

fn quoted_lines(text: &str, addresses: &mut Vec<String>, ids: &mut Vec<String>) {
    for line in text.lines() {
        let l = line.trim_start_matches(['>', ' ', '\t']);
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("Message-ID") {
            if let (Some(a), Some(b)) = (value.find('<'), value.find('>'))
                && a < b
            {
                push_id(ids, value[a..=b].to_string());
            }
        } else if name.eq_ignore_ascii_case("Return-Path") && addresses.len() < MAX_ADDRESSES {
            addresses.extend(addresses_in(value));
        }
    }
}

/// The decoded text of the first `message/<subtype>` part, as UTF-8.
fn part_text(message: &Message<'_>, subtype: &str) -> Result<Option<String>, InboundError> {
    for (i, part) in message.parts.iter().enumerate() {
        let Some(c) = part.content_type() else {
            continue;
        };
        let matches = (c.ctype().eq_ignore_ascii_case("message")
            || c.ctype().eq_ignore_ascii_case("text"))
            && c.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case(subtype)
                    || s.eq_ignore_ascii_case(&format!("global-{subtype}"))
            });
        if !matches {
            continue;
        }
        if part.is_encoding_problem {
            return Err(InboundError::Encoding(format!(
                "part {} (message/{subtype}) has a broken transfer encoding",
                i + 1
            )));
        }
        let bytes: &[u8] = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            _ => &[],
        };
        return match std::str::from_utf8(bytes) {
            Ok(t) => Ok(Some(t.to_string())),
            Err(e) => Err(InboundError::Encoding(format!(
                "part {} (message/{subtype}) is not UTF-8 text (invalid byte at offset {}); DSN and ARF fields are ASCII",
                i + 1,
                e.valid_up_to()
            ))),
        };
    }
    Ok(None)
}

/// Header-style fields, continuation lines unfolded, blocks kept apart by
/// blank lines: `(block, name lowercased, value)`.
fn fields(text: &str) -> Vec<(usize, String, String)> {
    let mut out: Vec<(usize, String, String)> = Vec::new();
    let mut block = 0;
    let mut blank = true;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !blank {
                block += 1;
            }
            blank = true;
            continue;
        }
        blank = false;
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.2.push(' ');
                last.2.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            out.push((block, n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

fn field<'a>(fields: &'a [(usize, String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(_, n, _)| n == name)
        .map(|(_, _, v)| v.as_str())
}

/// `rfc822; ana@example.com` → `ana@example.com`.
fn untyped(v: &str) -> String {
    v.split_once(';')
        .map_or(v, |(_, rest)| rest)
        .trim()
        .to_string()
}

fn clip(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= MAX_REASON {
        return s;
    }
    s.chars().take(MAX_REASON).collect::<String>() + "…"
}

/// The per-recipient blocks of a delivery-status part: every failed one, or
/// when none failed every delayed one, else every delivered one.
fn dsn(text: &str) -> Result<Vec<DsnRecipient>, InboundError> {
    let fields = fields(text);
    let mut blocks: Vec<DsnRecipient> = Vec::new();
    let mut start = 0;
    while start < fields.len() && blocks.len() < MAX_RECIPIENTS {
        let b = fields[start].0;
        let end = fields[start..]
            .iter()
            .position(|f| f.0 != b)
            .map_or(fields.len(), |n| start + n);
        let in_block = &fields[start..end];
        start = end;
        let Some(action) = field(in_block, "action") else {
            continue;
        };
        let action = match action.to_ascii_lowercase().as_str() {
            "failed" => Action::Failed,
            "delayed" => Action::Delayed,
            "delivered" | "relayed" | "expanded" => Action::Delivered,
            other => {
                return Err(InboundError::Malformed(format!(
                    "the delivery-status part has `Action: {other}`; RFC 3464 allows failed, delayed, delivered, relayed or expanded"
                )));
            }
        };
        let full = field(in_block, "diagnostic-code").map(untyped);
        let status_field = field(in_block, "status").and_then(enhanced);
        let status = status_field
            .clone()
            .or_else(|| full.as_deref().and_then(enhanced_code));
        // `Status: 5.0.0` says less than the `550 5.1.1` of its diagnostic.
        let specific = status_field
            .filter(|s| !s.ends_with(".0.0"))
            .or_else(|| full.as_deref().and_then(enhanced))
            .or_else(|| status.clone());
        let diag = full.as_deref().unwrap_or_default();
        let failure = classify_failure(specific.as_deref(), basic_code(diag), diag);
        blocks.push(DsnRecipient {
            action,
            status,
            address: field(in_block, "final-recipient")
                .or_else(|| field(in_block, "original-recipient"))
                .map(untyped),
            diagnostic: full.as_deref().map(clip),
            failure,
        });
    }
    let Some(worst) = blocks.iter().map(|b| b.action).max() else {
        return Err(InboundError::Truncated(
            "the delivery-status part has no per-recipient fields (`Final-Recipient`, `Action`, `Status`)"
                .into(),
        ));
    };
    blocks.retain(|b| b.action == worst);
    Ok(blocks)
}

/// The first enhanced status code (`5.1.1`) in `text`, or one made from a
/// basic SMTP reply code (`550` → `5.0.0`).
fn enhanced_code(text: &str) -> Option<String> {
    enhanced(text).or_else(|| basic_code(text).map(|c| format!("{}.0.0", c / 100)))
}

fn code_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
}

/// The first RFC 3463 enhanced status code (`5.1.1`) in `text`.
fn enhanced(text: &str) -> Option<String> {
    code_words(text).find_map(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        (parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..].iter().all(|p| (1..=3).contains(&p.len())))
        .then(|| parts.join("."))
    })
}

/// The first basic SMTP reply code (`550`) in `text`: three digits, 4xx or 5xx.
fn basic_code(text: &str) -> Option<u16> {
    code_words(text)
        .find(|w| w.len() == 3 && (w.starts_with('4') || w.starts_with('5')))
        .and_then(|w| w.parse().ok())
}

/// Subjects that plain-text bounces use (lowercase prefixes).
const BOUNCE_SUBJECTS: &[&str] = &[
    "undelivered mail returned to sender",
    "undeliverable",
    "mail delivery failed",
    "delivery status notification (failure)",
    "failure notice",
    "returned mail",
    "delivery failure",
    "mail delivery system",
    "undelivered mail",
    "mail delivery failure",
    "delivery notification: delivery has failed",
];

/// A bounce without a DSN part: from a mailer daemon, with a bounce subject;
/// every recipient its text names, or one without an address.
fn text_bounce(
    message: &Message<'_>,
    raw: &str,
    cut: Option<Cut>,
) -> Result<Option<Vec<DsnRecipient>>, InboundError> {
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let daemon = from.starts_with("mailer-daemon@") || from.starts_with("postmaster@");
    let bounce_subject = BOUNCE_SUBJECTS.iter().any(|s| subject.starts_with(s));
    if !(daemon && bounce_subject) {
        return Ok(None);
    }
    if let Some(p) = message.text_part(0)
        && p.is_encoding_problem
    {
        return Err(InboundError::Encoding(
            "the bounce text has a broken transfer encoding".into(),
        ));
    }
    if let Some(cut) = cut {
        // The text must end before the cut: a boundary line follows it.
        let delimiter = format!("\n--{}", cut.boundary);
        if raw.matches(delimiter.as_str()).count() < 2 {
            return Err(cut.error);
        }
    }
    let text = message.body_text(0).unwrap_or_default();
    let named: Vec<DsnRecipient> = plain::failed_recipients(&text)
        .into_iter()
        .map(|f| failed(Some(f.address), &f.text))
        .collect();
    if !named.is_empty() {
        return Ok(Some(named));
    }
    // The line naming the failure: the first with a reply or status code.
    let reason = text
        .lines()
        .map(str::trim)
        .find(|l| enhanced_code(l).is_some() && !l.to_ascii_lowercase().starts_with("message-id"))
        .unwrap_or(&subject);
    Ok(Some(vec![failed(None, reason)]))
}

/// A failed recipient of a plain-text bounce, for `address`, said `text`.
fn failed(address: Option<String>, text: &str) -> DsnRecipient {
    DsnRecipient {
        action: Action::Failed,
        status: enhanced_code(text),
        address,
        diagnostic: Some(clip(text)),
        failure: classify_failure(enhanced(text).as_deref(), basic_code(text), text),
    }
}

/// Why `message` is an automatic reply (RFC 3834 and the common extras).
fn auto_reply(message: &Message<'_>) -> Option<String> {
    let header = |name: &str| {
        message
            .headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    if let Some(v) = header("Auto-Submitted")
        && v != "no"
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if header(name).is_some() {
            return Some(format!("{name} header"));
        }
    }
    if let Some(p) = header("Precedence")
        && p == "auto_reply"
    {
        return Some("Precedence: auto_reply".into());
    }
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    [
        "out of office",
        "automatic reply",
        "auto-reply",
        "autoreply",
        "vacation",
    ]
    .iter()
    .find(|s| subject.contains(*s))
    .map(|s| format!("subject says `{s}`"))
}

/// True when To or an envelope header names `address` or `address`'s `+` form.
fn addressed_to(message: &Message<'_>, address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    envelope_addresses(message).iter().any(|a| {
        a.rsplit_once('@').is_some_and(|(l, d)| {
            d.eq_ignore_ascii_case(domain)
                && (l.eq_ignore_ascii_case(local)
                    || l.split_once('+')
                        .is_some_and(|(b, _)| b.eq_ignore_ascii_case(local)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::reason::{Reason, Treatment};
    use proptest::prelude::*;

    /// One fixture: its kind, then each recipient's address, reason and treatment.
    type Expected = (
        &'static str,
        &'static str,
        &'static [(&'static str, Reason)],
    );

    const REAL: &[Expected] = &[
        (
            "postfix-user-unknown",
            "dsn",
            &[("ana@example.net", Reason::UserUnknown)],
        ),
        (
            "postfix-unclosed-boundary",
            "dsn",
            &[("bruno@example.org", Reason::UserUnknown)],
        ),
        (
            "postfix-5.7.1-user-unknown",
            "dsn",
            &[("chen@example.com", Reason::UserUnknown)],
        ),
        (
            "postfix-spamhaus-blocked",
            "dsn",
            &[("dana@example.net", Reason::Blocked)],
        ),
        (
            "postfix-expired",
            "dsn",
            &[("elif@example.org", Reason::Expired)],
        ),
        (
            "postfix-cr-only",
            "dsn",
            &[("wen@example.net", Reason::UserUnknown)],
        ),
        (
            "sendmail-multi-recipient",
            "dsn",
            &[
                ("farid@example.com", Reason::UserUnknown),
                ("gita@example.com", Reason::MailboxFull),
            ],
        ),
        (
            "exim-text-unrouteable",
            "text",
            &[
                ("ivo@example.net", Reason::HostUnknown),
                ("jun@example.org", Reason::UserUnknown),
            ],
        ),
        (
            "qmail-text-user-unknown",
            "text",
            &[("kai@example.com", Reason::UserUnknown)],
        ),
        (
            "exchange-ndr-text",
            "text",
            &[("lena@example.net", Reason::UserUnknown)],
        ),
        (
            "lotus-notes-8bit-header",
            "text",
            &[("mara@example.org", Reason::UserUnknown)],
        ),
        (
            "yahoo-failure-notice",
            "text",
            &[("nora@example.net", Reason::UserUnknown)],
        ),
        (
            "gmail-dmarc-5.7.26",
            "dsn",
            &[("omar@example.com", Reason::AuthFailure)],
        ),
        (
            "outlook-5.7.515-auth",
            "dsn",
            &[("pia@example.org", Reason::AuthFailure)],
        ),
        (
            "o365-recipient-not-found",
            "dsn",
            &[("quinn@example.com", Reason::UserUnknown)],
        ),
        (
            "ses-mailbox-full",
            "dsn",
            &[("rosa@example.org", Reason::MailboxFull)],
        ),
        (
            "proofpoint-spam-5.7.1",
            "dsn",
            &[("sam@example.com", Reason::ContentRejected)],
        ),
        (
            "mimecast-policy",
            "dsn",
            &[("tom@example.net", Reason::Policy)],
        ),
        ("arf-abuse", "complaint abuse", &[]),
        ("arf-auth-failure", "feedback-report auth-failure", &[]),
    ];

    fn label(kind: &Kind) -> (String, &[DsnRecipient]) {
        match kind {
            Kind::Dsn(r) => ("dsn".into(), r),
            Kind::TextBounce(r) => ("text".into(), r),
            Kind::Complaint(t) => (format!("complaint {t}"), &[]),
            Kind::FeedbackReport(t) => (format!("feedback-report {t}"), &[]),
            other => (format!("{other:?}"), &[]),
        }
    }

    #[test]
    fn real_world_shapes_classify_as_their_readme_says() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound/real");
        let mut wrong = Vec::new();
        for (name, want_kind, want) in REAL {
            let raw = std::fs::read(dir.join(format!("{name}.eml"))).unwrap();
            let c = match classify(&raw, "unsubscribe@tips.example.com") {
                Ok(c) => c,
                Err(e) => {
                    wrong.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let (kind, recipients) = label(&c.kind);
            let got: Vec<(Option<&str>, Reason, Treatment)> = recipients
                .iter()
                .map(|r| {
                    (
                        r.address.as_deref(),
                        r.failure.reason,
                        r.failure.treatment(),
                    )
                })
                .collect();
            let want: Vec<(Option<&str>, Reason, Treatment)> = want
                .iter()
                .map(|(a, r)| (Some(*a), *r, r.scope().treatment()))
                .collect();
            if kind != *want_kind || got != want {
                wrong.push(format!(
                    "{name}: got {kind} {got:?}, want {want_kind} {want:?}"
                ));
            }
            for r in recipients {
                assert_eq!(r.failure.scope, r.failure.reason.scope(), "{name}");
            }
            if kind.starts_with("complaint") || kind.starts_with("feedback") {
                assert!(
                    c.addresses.iter().any(|a| a.contains("bounces+1-")),
                    "{name}: the VERP sender is among {:?}",
                    c.addresses
                );
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        files.sort();
        let mut named: Vec<String> = REAL.iter().map(|(n, _, _)| format!("{n}.eml")).collect();
        named.sort();
        assert_eq!(files, named, "every fixture has an expectation");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        for n in &named {
            assert!(readme.contains(n.as_str()), "README.md lists `{n}`");
        }
    }

    #[test]
    fn the_quoted_message_ids_stop_at_five_the_first_ones() {
        let mut raw = String::from(
            "From: MAILER-DAEMON@mail.example.net\nSubject: Undelivered Mail Returned to Sender\nContent-Type: text/plain\n\n<ana@example.net>: 550 5.1.1 user unknown\n\n",
        );
        for i in 0..100_000 {
            raw.push_str(&format!("Message-ID: <{i}@tips.example.com>\n"));
        }
        let c = classify(raw.as_bytes(), "unsubscribe@tips.example.com").unwrap();
        assert_eq!(
            c.quoted_ids,
            (0..5)
                .map(|i| format!("<{i}@tips.example.com>"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn line_ends_do_not_change_what_a_message_says() {
        let lf = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/inbound/real/sendmail-multi-recipient.eml"),
        )
        .unwrap();
        let crlf: Vec<u8> = String::from_utf8(lf.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        let cr: Vec<u8> = lf
            .iter()
            .map(|b| if *b == b'\n' { b'\r' } else { *b })
            .collect();
        let want = classify(&lf, "u@example.com").unwrap();
        for raw in [crlf, cr] {
            let got = classify(&raw, "u@example.com").unwrap();
            assert_eq!(got.kind, want.kind);
            assert_eq!(got.quoted_ids, want.quoted_ids);
            assert_ne!(got.hash, want.hash, "the hash is of the bytes as received");
        }
    }

    #[test]
    fn a_report_cut_inside_its_delivery_status_part_is_still_an_error() {
        let raw = "From: MAILER-DAEMON@x.example.org\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example.org\n\nFinal-Recipient: rfc822; a@example.com\nAction: fail";
        let e = classify(raw.as_bytes(), "u@example.com").unwrap_err();
        assert!(
            e.to_string().contains("closing MIME boundary `--b--`"),
            "{e}"
        );
    }

    #[test]
    fn the_delivery_status_fields_are_read_from_the_raw_text_when_the_parser_finds_no_part() {
        let text = "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.2.2\n\n--b\n";
        let (body, closed) = raw_part(text, "delivery-status", Some("b")).unwrap();
        assert!(closed);
        let r = dsn(&body).unwrap();
        assert_eq!(r[0].address.as_deref(), Some("a@example.com"));
        assert_eq!(r[0].failure.reason, Reason::MailboxFull);
        assert!(raw_part(text, "feedback-report", Some("b")).is_none());
    }

    #[test]
    fn feedback_types_tell_complaints_from_reports_about_the_sender() {
        for (v, complaint) in [
            ("abuse", true),
            ("Fraud", true),
            ("virus", true),
            ("other", true),
            ("auth-failure", false),
            ("dkim", false),
            ("not-spam", false),
            ("x-new-type", false),
        ] {
            let t = FeedbackType::parse(v);
            assert_eq!(t.is_complaint(), complaint, "{v}");
            assert_eq!(t.as_str(), v.to_ascii_lowercase());
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = classify(&raw, "unsubscribe@example.com");
        }

        #[test]
        fn never_panics_on_report_shaped_text(
            body in "(Content-Type: (multipart/report; report-type=delivery-status; boundary=b|message/delivery-status|message/rfc822|text/plain)\n|--b\n|--b--\n|Action: (failed|delayed|x)\n|Status: [245]\\.[0-9]\\.[0-9]{1,3}\n|Final-Recipient: rfc822; a@b\n|\n|[ -~]{0,20}\n){0,40}"
        ) {
            let raw = format!("From: MAILER-DAEMON@x.org\nSubject: Undelivered Mail Returned to Sender\n{body}");
            let _ = classify(raw.as_bytes(), "unsubscribe@example.com");
        }
    }
}
