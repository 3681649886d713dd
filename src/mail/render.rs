//! Turning an issue into email: askama templates, CSS inlining, MIME, headers.
//!
//! Owns the message format. All the expensive work (templates, CSS inlining,
//! quoted-printable encoding of the fixed parts, the fixed headers) happens once
//! per issue in [`Prepared::new`]; per recipient, [`Prepared::message`] only
//! splices the personal values (name, address, unsubscribe link) into the few
//! lines that hold them, and encodes the personal headers. It sends nothing.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use askama::Template;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{self, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::content::issue::Issue;
use crate::mail::token::Signer;
use crate::mail::verp;

/// Errors rendering an issue.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed.
    #[error("template `{template}` failed: {source}")]
    Template {
        /// Which template.
        template: &'static str,
        /// askama's error.
        source: askama::Error,
    },
    /// CSS inlining failed.
    #[error("inlining the CSS of `issue.html` failed: {0}")]
    Css(String),
    /// A configured address is not valid.
    #[error("`{value}` is not a valid mailbox: {reason}")]
    Address {
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// Stand-ins for the personal values, rendered into the templates once per
/// issue and replaced per recipient. They survive HTML escaping and CSS
/// inlining as is. They must never occur in the issue's own text: content that
/// quotes `%%tipsheet-name%%` prints it as written, not the reader's name.
struct StandIns {
    name: String,
    email: String,
    unsubscribe: String,
}

impl StandIns {
    /// `%%tipsheet-name%%` and so on; for an issue whose `text` contains such a
    /// string, stand-ins tagged with a digest of that text (which the text
    /// cannot contain).
    fn avoiding(text: &str) -> Self {
        let tag = if text.contains("%%tipsheet-") {
            let digest = hex::encode(Sha256::digest(text.as_bytes()));
            format!("tipsheet-{}", &digest[..16])
        } else {
            "tipsheet".to_string()
        };
        Self {
            name: format!("%%{tag}-name%%"),
            email: format!("%%{tag}-email%%"),
            unsubscribe: format!("%%{tag}-unsubscribe%%"),
        }
    }

    /// The view of `issue` with these stand-ins as its personal values.
    fn view(&self, config: &Config, issue: &Issue<'_>) -> View {
        View::new(config, issue, &self.name, &self.email, &self.unsubscribe)
    }
}

/// The shared part of a rendered issue, as frozen in the store (JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frozen {
    /// The subject (without a test prefix).
    pub subject: String,
    /// The HTML body with the stand-ins in place of the personal fields.
    pub html: String,
    /// The text body, likewise.
    pub text: String,
    /// The stand-ins: name, email, unsubscribe link.
    pub stand_ins: [String; 3],
    /// The Date header, in seconds since the Unix epoch.
    pub date: u64,
}

/// Words per minute for the reading-time estimate.
pub const WORDS_PER_MINUTE: usize = 230;

/// One role's column in a comparison card.
#[derive(Debug, Clone)]
pub struct RoleView {
    /// Role name.
    pub name: String,
    /// "Role name:" padded with spaces so that both roles' salaries in the
    /// text part start in the same column.
    pub label: String,
    /// "$50,000–$150,000 a year".
    pub salary: Option<String>,
}

/// The roles of one comparison with their text labels padded to one width
/// (counted in characters: role names are words, not wide CJK text).
fn role_views(roles: &[crate::content::Role]) -> Vec<RoleView> {
    let width = roles
        .iter()
        .map(|r| r.name.chars().count() + 1)
        .max()
        .unwrap_or(0);
    roles
        .iter()
        .map(|r| {
            let label = format!("{}:", r.name);
            let pad = width + 2 - label.chars().count();
            RoleView {
                label: format!("{label}{:pad$}", ""),
                name: r.name.clone(),
                salary: r.salary.as_ref().map(ToString::to_string),
            }
        })
        .collect()
}

/// One featured comparison, ready for the templates.
#[derive(Debug, Clone)]
pub struct ComparisonView {
    /// Title.
    pub title: String,
    /// Excerpt as inline HTML.
    pub excerpt_html: String,
    /// Excerpt as text.
    pub excerpt_text: String,
    /// Both roles.
    pub roles: Vec<RoleView>,
    /// "Read the full comparison" link with utm parameters.
    pub link: Option<String>,
}

/// Everything the templates show.
#[derive(Debug, Clone)]
pub struct View {
    /// Newsletter name.
    pub newsletter: String,
    /// Issue number.
    pub number: u32,
    /// "December 1, 2026".
    pub date: String,
    /// Subject line.
    pub subject: String,
    /// Inbox preview text.
    pub preheader: String,
    /// Intro sentence.
    pub intro: String,
    /// Reader's name (or a stand-in).
    pub name: String,
    /// Reader's address (or a stand-in).
    pub email: String,
    /// Featured comparisons.
    pub comparisons: Vec<ComparisonView>,
    /// Tip title.
    pub tip_title: String,
    /// Tip body, HTML.
    pub tip_html: String,
    /// Tip body, text.
    pub tip_text: String,
    /// Who signs the tip.
    pub coach: String,
    /// Why the reader gets this.
    pub why: String,
    /// Sender's postal line.
    pub postal: String,
    /// `<base_url>/issues/<N>`.
    pub view_url: String,
    /// Unsubscribe link (or a stand-in).
    pub unsubscribe_url: String,
    /// Estimated minutes to read.
    pub reading_minutes: usize,
}

#[derive(Template)]
#[template(path = "issue.html")]
struct HtmlTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "issue.txt")]
struct TextTemplate<'a> {
    v: &'a View,
}

// askama templates read fields directly; expose the view's fields by deref.
impl std::ops::Deref for HtmlTemplate<'_> {
    type Target = View;
    fn deref(&self) -> &View {
        self.v
    }
}
impl std::ops::Deref for TextTemplate<'_> {
    type Target = View;
    fn deref(&self) -> &View {
        self.v
    }
}

impl View {
    /// The view of `issue` with the given personal values.
    pub fn new(
        config: &Config,
        issue: &Issue<'_>,
        name: &str,
        email: &str,
        unsubscribe_url: &str,
    ) -> Self {
        let n = &config.newsletter;
        let comparisons = issue
            .comparisons
            .iter()
            .map(|c| ComparisonView {
                title: c.meta.title.clone(),
                excerpt_html: strip_p(&c.excerpt.html),
                excerpt_text: c.excerpt.text.clone(),
                roles: role_views(&c.meta.roles),
                link: issue.article_link(c),
            })
            .collect();
        let mut view = View {
            newsletter: n.name.clone(),
            number: issue.number(),
            date: issue.slot.date.format("%B %-d, %Y").to_string(),
            subject: issue.subject(&n.name),
            preheader: issue.preheader(),
            intro: format!(
                "This issue compares {} pairs of roles people often mix up: what each one does, what it takes, and what it pays.",
                issue.comparisons.len()
            ),
            name: name.to_string(),
            email: email.to_string(),
            comparisons,
            tip_title: issue.tip.meta.title.clone(),
            tip_html: issue.tip.html.clone(),
            tip_text: issue.tip.text.clone(),
            coach: n.coach.clone(),
            why: n.why.clone(),
            postal: n.postal.clone(),
            view_url: format!(
                "{}/issues/{}",
                n.base_url.trim_end_matches('/'),
                issue.number()
            ),
            unsubscribe_url: unsubscribe_url.to_string(),
            reading_minutes: 1,
        };
        // Reading time from the text the reader actually gets.
        if let Ok(text) = (TextTemplate { v: &view }).render() {
            view.reading_minutes = text
                .split_whitespace()
                .count()
                .div_ceil(WORDS_PER_MINUTE)
                .max(1);
        }
        view
    }

    /// The HTML part, CSS inlined.
    pub fn html(&self) -> Result<String, RenderError> {
        let html = HtmlTemplate { v: self }
            .render()
            .map_err(|source| RenderError::Template {
                template: "issue.html",
                source,
            })?;
        css_inline::CSSInliner::options()
            .keep_at_rules(true)
            .build()
            .inline(&html)
            .map_err(|e| RenderError::Css(e.to_string()))
    }

    /// The text part.
    pub fn text(&self) -> Result<String, RenderError> {
        TextTemplate { v: self }
            .render()
            .map_err(|source| RenderError::Template {
                template: "issue.txt",
                source,
            })
            .map(|t| tidy_text(&t))
    }
}

fn strip_p(html: &str) -> String {
    let t = html.trim();
    t.strip_prefix("<p>")
        .and_then(|t| t.strip_suffix("</p>"))
        .unwrap_or(t)
        .to_string()
}

/// Trims trailing spaces and collapses runs of blank lines left by template tags.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string() + "\n"
}

/// One recipient's personal values.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    /// Their address.
    pub email: &'a Address,
    /// Normalized address (ledger key, token input).
    pub key: &'a str,
    /// Their name, possibly empty.
    pub name: &'a str,
}

/// A personal value spliced into a line.
#[derive(Clone, Copy)]
enum Field {
    Name,
    Email,
    Unsubscribe,
}

/// A piece of a personal line.
enum Segment {
    Text(String),
    Field(Field),
}

enum Chunk {
    /// Encoded bytes, CRLFs included.
    Fixed(Vec<u8>),
    /// A line holding personal values, split around them once per issue and
    /// encoded per recipient; and whether a line break follows.
    Line(Vec<Segment>, bool),
}

/// The personal values of one recipient, escaped for one part.
struct Values<'a> {
    name: &'a str,
    email: &'a str,
    unsubscribe: &'a str,
}

/// A body part, encoded once per issue but for its personal lines.
struct Part {
    chunks: Vec<Chunk>,
}

/// Splits a line around the stand-ins; `None` if it has none.
fn segments(line: &str, stand_ins: &StandIns) -> Option<Vec<Segment>> {
    let marks = [
        (stand_ins.name.as_str(), Field::Name),
        (stand_ins.email.as_str(), Field::Email),
        (stand_ins.unsubscribe.as_str(), Field::Unsubscribe),
    ];
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let next = marks
            .iter()
            .filter_map(|(m, f)| rest.find(m).map(|i| (i, m.len(), *f)))
            .min_by_key(|(i, _, _)| *i);
        match next {
            Some((i, len, field)) => {
                if i > 0 {
                    out.push(Segment::Text(rest[..i].to_string()));
                }
                out.push(Segment::Field(field));
                rest = &rest[i + len..];
            }
            None => {
                if !rest.is_empty() {
                    out.push(Segment::Text(rest.to_string()));
                }
                break;
            }
        }
    }
    out.iter()
        .any(|s| matches!(s, Segment::Field(_)))
        .then_some(out)
}

impl Part {
    fn new(body: &str, stand_ins: &StandIns) -> Self {
        let mut chunks: Vec<Chunk> = Vec::new();
        let lines: Vec<&str> = body.lines().collect();
        let ends_with_newline = body.ends_with('\n');
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim_end_matches('\r');
            // Keep the body's own last line break, or its absence.
            let eol = i + 1 < lines.len() || ends_with_newline;
            if let Some(segs) = segments(line, stand_ins) {
                chunks.push(Chunk::Line(segs, eol));
            } else {
                let mut bytes = quoted_printable::encode(line);
                if eol {
                    bytes.extend_from_slice(b"\r\n");
                }
                match chunks.last_mut() {
                    Some(Chunk::Fixed(prev)) => prev.extend_from_slice(&bytes),
                    _ => chunks.push(Chunk::Fixed(bytes)),
                }
            }
        }
        Self { chunks }
    }

    fn write(&self, out: &mut Vec<u8>, values: &Values<'_>, line: &mut String) {
        for chunk in &self.chunks {
            match chunk {
                Chunk::Fixed(bytes) => out.extend_from_slice(bytes),
                Chunk::Line(segments, eol) => {
                    line.clear();
                    for seg in segments {
                        match seg {
                            Segment::Text(t) => line.push_str(t),
                            Segment::Field(Field::Name) => line.push_str(values.name),
                            Segment::Field(Field::Email) => line.push_str(values.email),
                            Segment::Field(Field::Unsubscribe) => line.push_str(values.unsubscribe),
                        }
                    }
                    qp_line(out, line.as_bytes());
                    if *eol {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| match c {
                Chunk::Fixed(b) => b.len(),
                Chunk::Line(..) => 400,
            })
            .sum()
    }
}

/// Quoted-printable encodes one line (no line breaks in `line`) onto `out`,
/// with soft breaks so no output line exceeds 76 characters (RFC 2045 §6.7).
/// The per-recipient hot path: the `quoted_printable` crate (used for the
/// per-issue parts) builds a `String` char by char and costs ~5× more here.
fn qp_line(out: &mut Vec<u8>, line: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const LIMIT: usize = 76;
    let n = line.len();
    // Printable ASCII but `=` stays as is; so do space and tab, except last.
    let literal = |k: usize| match line[k] {
        b'!'..=b'<' | b'>'..=b'~' => true,
        b' ' | b'\t' => k + 1 < n,
        _ => false,
    };
    out.reserve(n + n / 16 + 8);
    let (mut col, mut i) = (0usize, 0usize);
    while i < n {
        // Copy the run of literal bytes in slices, breaking lines as needed:
        // a byte before the line's end may reach column 75 (leaving room for
        // the soft break's `=`), the line's last byte column 76.
        let mut end = i;
        while end < n && literal(end) {
            end += 1;
        }
        while i < end {
            let left = end - i;
            let take = if end == n && col + left <= LIMIT {
                left
            } else {
                left.min((LIMIT - 1).saturating_sub(col))
            };
            if take == 0 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
                continue;
            }
            out.extend_from_slice(&line[i..i + take]);
            col += take;
            i += take;
        }
        if i < n {
            let b = line[i];
            let room = if i + 1 == n { LIMIT } else { LIMIT - 1 };
            if col + 3 > room {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            col += 3;
            i += 1;
        }
    }
}

/// HTML-escapes a personal value for text content exactly as the HTML
/// serializer writes rendered text (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`), so a
/// spliced message is byte-for-byte what rendering per reader would give.
pub fn escape_html(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// The same for an attribute value (also escapes `"`).
pub fn escape_attribute(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> Cow<'_, str> {
    let special = |c: char| match c {
        '&' | '\u{a0}' => true,
        '<' | '>' => !attribute,
        '"' => attribute,
        _ => false,
    };
    if !s.contains(special) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut last = 0;
    for (i, c) in s.match_indices(special) {
        out.push_str(&s[last..i]);
        out.push_str(match c {
            "&" => "&amp;",
            "\u{a0}" => "&nbsp;",
            "<" => "&lt;",
            ">" => "&gt;",
            _ => "&quot;",
        });
        last = i + c.len();
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// An issue rendered and encoded for sending: build once, then call
/// [`Prepared::message`] per recipient.
pub struct Prepared {
    /// Subject line.
    pub subject: String,
    /// Issue number.
    pub number: u32,
    /// The view with stand-ins (for summaries).
    pub view: View,
    head: Vec<u8>,
    dkim: Option<Arc<crate::mail::dkim::Signer>>,
    text: Part,
    html: Part,
    boundary: String,
    from: Address,
    domain: String,
    slot: String,
    base_url: String,
    mailto: String,
    /// `[bounces] address` when VERP is on.
    bounce_address: Option<String>,
    fallback_name: String,
    signer: Signer,
    subject_prefix: Option<String>,
}

fn mailbox(value: &str) -> Result<Mailbox, RenderError> {
    value.parse::<Mailbox>().map_err(|e| RenderError::Address {
        value: value.into(),
        reason: e.to_string(),
    })
}

/// The `List-Unsubscribe` value (RFC 2369): the one-click link, then mailto.
/// Every mail to a reader carries it with `List-Unsubscribe-Post` (RFC 8058).
pub fn list_unsubscribe(url: &str, mailto: &str) -> String {
    format!("<{url}>, <mailto:{mailto}?subject=unsubscribe>")
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// A header holding `text`, then ` suffix` (ASCII, e.g. `<list-id>`) if any.
/// lettre writes an ASCII word as it is, so text shaped like an RFC 2047
/// encoded word (`=?utf-8?b?DQo=?=`, from a title or the newsletter name)
/// would reach the reader decoded, line breaks and all; such text is encoded
/// whole instead, and reads exactly as written.
pub fn text_header(name: &'static str, text: &str, suffix: &str) -> HeaderValue {
    use base64::Engine as _;
    let name = HeaderName::new_from_ascii_str(name);
    let raw_value = if suffix.is_empty() {
        text.to_string()
    } else {
        format!("{text} {suffix}")
    };
    if !text.contains("=?") {
        return HeaderValue::new(name, raw_value);
    }
    // 39 bytes make 52 base64 characters: each encoded word fits a folded line.
    let mut encoded = String::with_capacity(text.len() * 2);
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(39);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        if !encoded.is_empty() {
            encoded.push_str("\r\n ");
        }
        encoded.push_str("=?utf-8?b?");
        encoded.push_str(&base64::engine::general_purpose::STANDARD.encode(chunk));
        encoded.push_str("?=");
        rest = tail;
    }
    if !suffix.is_empty() {
        encoded.push_str("\r\n ");
        encoded.push_str(suffix);
    }
    // Pre-encoded: ASCII only, folded, and every line break followed by a space.
    HeaderValue::dangerous_new_pre_encoded(name, raw_value, encoded)
}

impl Prepared {
    /// Renders `issue` once: templates, CSS inlining, encoding and fixed headers.
    /// `test` prefixes the subject with "[TEST]" (test sends).
    pub fn new(
        config: &Config,
        issue: &Issue<'_>,
        signer: Signer,
        date: SystemTime,
        test: bool,
    ) -> Result<Self, RenderError> {
        let frozen = Self::render(config, issue, date)?;
        Self::from_frozen(config, issue, &frozen, signer, test)
    }

    /// The issue's shared bytes (templates rendered with stand-ins, CSS
    /// inlined), what [`Prepared::from_frozen`] splices: frozen once per issue
    /// on the shared store so that every host and every resumed run sends the
    /// same copy apart from the personal fields.
    pub fn render(
        config: &Config,
        issue: &Issue<'_>,
        date: SystemTime,
    ) -> Result<Frozen, RenderError> {
        // The issue's own text, personal values left empty, to choose stand-ins
        // that cannot be mistaken for it (templates only: cheap).
        let bare = View::new(config, issue, "", "", "");
        let own = [
            HtmlTemplate { v: &bare }.render(),
            TextTemplate { v: &bare }.render(),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| RenderError::Template {
            template: "issue",
            source,
        })?
        .concat();
        let stand_ins = StandIns::avoiding(&own);
        let view = stand_ins.view(config, issue);
        Ok(Frozen {
            subject: view.subject.clone(),
            html: view.html()?,
            text: view.text()?,
            stand_ins: [stand_ins.name, stand_ins.email, stand_ins.unsubscribe],
            date: date
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        })
    }

    /// [`Prepared::new`] from an issue rendered before (here or by another
    /// host): the frozen subject, bodies and Date; the rest from `config`.
    pub fn from_frozen(
        config: &Config,
        issue: &Issue<'_>,
        frozen: &Frozen,
        signer: Signer,
        test: bool,
    ) -> Result<Self, RenderError> {
        let [name, email, unsubscribe] = frozen.stand_ins.clone();
        let stand_ins = StandIns {
            name,
            email,
            unsubscribe,
        };
        // For summaries only (reading time, the preview's notes): the bytes
        // sent are the frozen ones.
        let view = stand_ins.view(config, issue);
        let (html, text) = (frozen.html.clone(), frozen.text.clone());
        let date = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(frozen.date);
        let n = &config.newsletter;
        let from = mailbox(&n.from)?;
        let mut subject = frozen.subject.clone();
        let subject_prefix = test.then(|| "[TEST] ".to_string());
        if let Some(p) = &subject_prefix {
            subject.insert_str(0, p);
        }
        let mut headers = Headers::new();
        headers.set(header::From::from(Mailboxes::from(from.clone())));
        if let Some(r) = &n.reply_to {
            headers.set(header::ReplyTo::from(Mailboxes::from(mailbox(r)?)));
        }
        headers.insert_raw(text_header("Subject", &subject, ""));
        headers.set(header::Date::new(date));
        headers.set(header::MIME_VERSION_1_0);
        headers.insert_raw(text_header("List-Id", &n.name, &format!("<{}>", n.list_id)));
        headers.insert_raw(raw(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ));
        headers.insert_raw(raw("X-Tipsheet-Issue", issue.number().to_string()));
        let mut digest = Sha256::new();
        digest.update(issue.slot.date.to_string());
        digest.update(text.as_bytes());
        let boundary = format!("=_tipsheet_{}", &hex::encode(digest.finalize())[..24]);
        let content_type =
            header::ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary}\""))
                .map_err(|e| RenderError::Address {
                    value: boundary.clone(),
                    reason: e.to_string(),
                })?;
        headers.set(content_type);
        let head = headers.to_string().into_bytes();
        Ok(Self {
            subject,
            number: issue.number(),
            head,
            dkim: None,
            text: Part::new(&text, &stand_ins),
            html: Part::new(&html, &stand_ins),
            boundary,
            domain: from.email.domain().to_string(),
            from: from.email,
            slot: issue.slot.date.to_string(),
            base_url: n.base_url.clone(),
            mailto: config.unsubscribe.mailto.clone(),
            bounce_address: config.bounces.as_ref().map(|b| b.address.clone()),
            fallback_name: n.greeting_fallback.clone(),
            signer,
            subject_prefix,
            view,
        })
    }

    /// The envelope for one recipient: with `[bounces]`, the sender is
    /// `bounces+<token>@domain` naming this (issue, recipient) row.
    pub fn envelope(&self, to: &Address) -> Envelope {
        let from = self
            .bounce_address
            .as_deref()
            .and_then(|base| {
                let token =
                    self.token(verp::Purpose::Bounce, &crate::list::normalize(to.as_ref()))?;
                verp::address(base, &token).parse::<Address>().ok()
            })
            .unwrap_or_else(|| self.from.clone());
        // Infallible: a sender and one recipient are always given.
        Envelope::new(Some(from), vec![to.clone()])
            .unwrap_or_else(|_| unreachable!("envelope with one recipient"))
    }

    /// The VERP token of recipient `key` for `purpose`.
    fn token(&self, purpose: verp::Purpose, key: &str) -> Option<String> {
        let (_, rid) = verp::rid_of_message_id(&self.message_id(key))?;
        Some(verp::make(&self.signer, purpose, self.number, &rid))
    }

    /// The List-Unsubscribe `mailto:` address: tokenized when `[bounces]` is
    /// set (so `inbound` can trust it), the plain `[unsubscribe] mailto` otherwise.
    fn mailto(&self, key: &str) -> String {
        match self.bounce_address {
            Some(_) => self
                .token(verp::Purpose::Unsubscribe, key)
                .map(|t| verp::address(&self.mailto, &t))
                .unwrap_or_else(|| self.mailto.clone()),
            None => self.mailto.clone(),
        }
    }

    /// The Message-ID for a recipient: stable per (issue, address), so a resend
    /// after a crash carries the same ID and receivers can fold duplicates.
    pub fn message_id(&self, key: &str) -> String {
        let mut d = Sha256::new();
        d.update(self.slot.as_bytes());
        d.update(b"\0");
        d.update(key.as_bytes());
        if self.subject_prefix.is_some() {
            d.update(b"\0test");
        }
        let h = hex::encode(d.finalize());
        format!("<{}.{}@{}>", self.slot, &h[..20], self.domain)
    }

    /// The whole message for one recipient, ready for SMTP DATA.
    pub fn message(&self, r: &Recipient<'_>) -> Vec<u8> {
        let unsubscribe = self.signer.unsubscribe_url(&self.base_url, r.key);
        let greeting = if r.name.is_empty() {
            self.fallback_name.as_str()
        } else {
            r.name
        };
        let mut personal = Headers::new();
        let to_mailbox = Mailbox::new(
            (!r.name.is_empty()).then(|| r.name.to_string()),
            r.email.clone(),
        );
        personal.set(header::To::from(Mailboxes::from(to_mailbox)));
        personal.set(header::MessageId::from(self.message_id(r.key)));
        personal.insert_raw(raw(
            "List-Unsubscribe",
            list_unsubscribe(&unsubscribe, &self.mailto(r.key)),
        ));
        let email = r.email.to_string();
        let (name_html, email_html, unsubscribe_html) = (
            escape_html(greeting),
            escape_html(&email),
            escape_attribute(&unsubscribe),
        );
        let plain = Values {
            name: greeting,
            email: &email,
            unsubscribe: &unsubscribe,
        };
        let html = Values {
            name: &name_html,
            email: &email_html,
            unsubscribe: &unsubscribe_html,
        };
        let personal_head = personal.to_string();
        let mut out = Vec::with_capacity(
            personal_head.len()
                + self.head.len()
                + self.text.size_hint()
                + self.html.size_hint()
                + 512,
        );
        out.extend_from_slice(personal_head.as_bytes());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"\r\n");
        let mut line = String::with_capacity(512);
        for (part, kind, values) in [(&self.text, "plain", &plain), (&self.html, "html", &html)] {
            out.extend_from_slice(b"--");
            out.extend_from_slice(self.boundary.as_bytes());
            out.extend_from_slice(b"\r\nContent-Type: text/");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(
                b"; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
            );
            part.write(&mut out, values, &mut line);
            // The CRLF before a boundary belongs to the boundary: keep the
            // part's own final line break, as lettre does.
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        if let Some(dkim) = &self.dkim {
            // The spliced bytes are the message: sign them as they are.
            return dkim.sign_raw(out);
        }
        out
    }

    /// Signs every message with `dkim` from now on.
    pub fn with_dkim(mut self, dkim: Option<crate::mail::dkim::Signer>) -> Self {
        self.dkim = dkim.map(Arc::new);
        self
    }

    /// True when messages are DKIM-signed (expensive: sign off the I/O threads).
    pub fn signs(&self) -> bool {
        self.dkim.is_some()
    }

    /// The sender address (envelope MAIL FROM).
    pub fn from(&self) -> &Address {
        &self.from
    }
}

/// Renders one issue for one reader without any encoding: for previews and the archive.
pub fn personal_view(
    config: &Config,
    issue: &Issue<'_>,
    signer: &Signer,
    name: &str,
    email: &str,
    key: &str,
) -> View {
    let name = if name.is_empty() {
        config.newsletter.greeting_fallback.as_str()
    } else {
        name
    };
    let url = signer.unsubscribe_url(&config.newsletter.base_url, key);
    View::new(config, issue, name, email, &url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_lines_round_trip_and_stay_within_76_columns() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let pool: Vec<char> = "aZ09 \t=.?<>&\"'é中😀\u{a0}-_/:;%".chars().collect();
        let edges: Vec<String> = [75, 76, 77, 150, 151, 152, 300]
            .iter()
            .flat_map(|&n| {
                [
                    "a".repeat(n),
                    format!("{} ", "a".repeat(n)),
                    format!("{}=", "a".repeat(n)),
                    format!("{}é", "a".repeat(n)),
                ]
            })
            .collect();
        for line in &edges {
            let mut out = Vec::new();
            qp_line(&mut out, line.as_bytes());
            let text = String::from_utf8(out.clone()).unwrap();
            assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text:?}");
            let decoded =
                quoted_printable::decode(&out, quoted_printable::ParseMode::Strict).unwrap();
            assert_eq!(&String::from_utf8(decoded).unwrap(), line);
        }
        for n in 0..2000 {
            let len = n % 300;
            let line: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    pool[(seed % pool.len() as u64) as usize]
                })
                .collect();
            let mut out = Vec::new();
            qp_line(&mut out, line.as_bytes());
            let text = String::from_utf8(out.clone()).unwrap();
            for l in text.split("\r\n") {
                assert!(l.len() <= 76, "{l:?} ({} chars)", l.len());
                assert!(!l.ends_with(' ') && !l.ends_with('\t'), "{l:?}");
            }
            let decoded =
                quoted_printable::decode(&out, quoted_printable::ParseMode::Strict).unwrap();
            assert_eq!(String::from_utf8(decoded).unwrap(), line);
        }
    }

    #[test]
    fn text_shaped_like_encoded_words_is_encoded_whole() {
        for text in [
            "=?utf-8?b?RXZlDQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=",
            "Tips =?utf-8?q?a=0Ab?= and a long tail of words that goes past one line 😀 é",
            "x=?",
        ] {
            let mut headers = Headers::new();
            headers.insert_raw(text_header("Subject", text, ""));
            headers.insert_raw(text_header("List-Id", text, "<list.example.com>"));
            let head = headers.to_string();
            assert!(head.is_ascii(), "{head}");
            for line in head.split("\r\n") {
                assert!(line.len() <= 76, "{line:?}");
            }
            let raw = format!("{head}\r\nbody\r\n");
            let msg = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap();
            assert_eq!(msg.subject(), Some(text));
        }
        let mut headers = Headers::new();
        headers.insert_raw(text_header("Subject", "Plain words", ""));
        assert_eq!(headers.to_string(), "Subject: Plain words\r\n");
    }

    #[test]
    fn stand_ins_never_occur_in_the_issue_text() {
        let plain = StandIns::avoiding("Hi there");
        assert_eq!(plain.name, "%%tipsheet-name%%");
        let text = "quoting %%tipsheet-name%% and %%tipsheet-email%%";
        let s = StandIns::avoiding(text);
        for m in [&s.name, &s.email, &s.unsubscribe] {
            assert!(!text.contains(m.as_str()), "{m}");
            assert!(m.starts_with("%%tipsheet-") && m.ends_with("%%"), "{m}");
        }
    }
}
