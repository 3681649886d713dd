//! Turning an issue into email: askama templates, CSS inlining, MIME, headers.
//!
//! Owns the message format. All the expensive work (templates, CSS inlining,
//! quoted-printable encoding of the fixed parts, the fixed headers) happens once
//! per issue in [`Prepared::new`]; per recipient, [`Prepared::message`] only
//! splices the personal values (name, address, unsubscribe link) into the few
//! lines that hold them, and encodes the personal headers. It sends nothing.

use std::sync::Arc;
use std::time::SystemTime;

use askama::Template;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{self, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::issue::Issue;
use crate::unsubscribe::Signer;

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

// Stand-ins for the personal values, rendered into the templates once per issue
// and replaced per recipient. They survive HTML escaping and CSS inlining as is.
const NAME: &str = "%%tipsheet-name%%";
const EMAIL: &str = "%%tipsheet-email%%";
const UNSUBSCRIBE: &str = "%%tipsheet-unsubscribe%%";

/// Words per minute for the reading-time estimate.
pub const WORDS_PER_MINUTE: usize = 230;

/// One role's column in a comparison card.
#[derive(Debug, Clone)]
pub struct RoleView {
    /// Role name.
    pub name: String,
    /// "$50,000–$150,000 a year".
    pub salary: Option<String>,
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
                roles: c
                    .meta
                    .roles
                    .iter()
                    .map(|r| RoleView {
                        name: r.name.clone(),
                        salary: r.salary.as_ref().map(ToString::to_string),
                    })
                    .collect(),
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

enum Chunk {
    /// Encoded bytes, CRLFs included.
    Fixed(Vec<u8>),
    /// A line holding stand-ins, not yet encoded, and whether a line break follows.
    Line(String, bool),
}

/// A body part, encoded once per issue but for its personal lines.
struct Part {
    chunks: Vec<Chunk>,
    escape_html: bool,
}

impl Part {
    fn new(body: &str, escape_html: bool) -> Self {
        let mut chunks: Vec<Chunk> = Vec::new();
        let lines: Vec<&str> = body.lines().collect();
        let ends_with_newline = body.ends_with('\n');
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim_end_matches('\r');
            // Keep the body's own last line break, or its absence.
            let eol = i + 1 < lines.len() || ends_with_newline;
            if [NAME, EMAIL, UNSUBSCRIBE].iter().any(|s| line.contains(s)) {
                chunks.push(Chunk::Line(line.to_string(), eol));
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
        Self {
            chunks,
            escape_html,
        }
    }

    fn write(&self, out: &mut Vec<u8>, name: &str, email: &str, unsubscribe: &str) {
        for chunk in &self.chunks {
            match chunk {
                Chunk::Fixed(bytes) => out.extend_from_slice(bytes),
                Chunk::Line(line, eol) => {
                    let line = if self.escape_html {
                        line.replace(NAME, &escape_html(name))
                            .replace(EMAIL, &escape_html(email))
                            .replace(UNSUBSCRIBE, &escape_attribute(unsubscribe))
                    } else {
                        line.replace(NAME, name)
                            .replace(EMAIL, email)
                            .replace(UNSUBSCRIBE, unsubscribe)
                    };
                    out.extend_from_slice(&quoted_printable::encode(line));
                    if *eol {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
    }
}

/// HTML-escapes a personal value for text content exactly as the HTML
/// serializer writes rendered text (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`), so a
/// spliced message is byte-for-byte what rendering per reader would give.
pub fn escape_html(s: &str) -> String {
    escape(s, false)
}

/// The same for an attribute value (also escapes `"`).
pub fn escape_attribute(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            '<' if !attribute => out.push_str("&lt;"),
            '>' if !attribute => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
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
    fixed: Headers,
    from_mailbox: Mailbox,
    dkim: Option<Arc<crate::dkim::Signer>>,
    text: Part,
    html: Part,
    boundary: String,
    from: Address,
    domain: String,
    slot: String,
    base_url: String,
    mailto: String,
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

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
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
        let view = View::new(config, issue, NAME, EMAIL, UNSUBSCRIBE);
        let html = view.html()?;
        let text = view.text()?;
        let n = &config.newsletter;
        let from = mailbox(&n.from)?;
        let mut subject = view.subject.clone();
        let subject_prefix = test.then(|| "[TEST] ".to_string());
        if let Some(p) = &subject_prefix {
            subject.insert_str(0, p);
        }
        let mut headers = Headers::new();
        headers.set(header::From::from(Mailboxes::from(from.clone())));
        if let Some(r) = &n.reply_to {
            headers.set(header::ReplyTo::from(Mailboxes::from(mailbox(r)?)));
        }
        headers.set(header::Subject::from(subject.clone()));
        headers.set(header::Date::new(date));
        headers.set(header::MIME_VERSION_1_0);
        headers.insert_raw(raw("List-Id", format!("{} <{}>", n.name, n.list_id)));
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
            fixed: headers,
            from_mailbox: from.clone(),
            dkim: None,
            text: Part::new(&text, false),
            html: Part::new(&html, true),
            boundary,
            domain: from.email.domain().to_string(),
            from: from.email,
            slot: issue.slot.date.to_string(),
            base_url: n.base_url.clone(),
            mailto: config.unsubscribe.mailto.clone(),
            fallback_name: n.greeting_fallback.clone(),
            signer,
            subject_prefix,
            view,
        })
    }

    /// The envelope for one recipient.
    pub fn envelope(&self, to: &Address) -> Envelope {
        // Infallible: a sender and one recipient are always given.
        Envelope::new(Some(self.from.clone()), vec![to.clone()])
            .unwrap_or_else(|_| unreachable!("envelope with one recipient"))
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
        personal.set(header::To::from(Mailboxes::from(to_mailbox.clone())));
        personal.set(header::MessageId::from(self.message_id(r.key)));
        personal.insert_raw(raw(
            "List-Unsubscribe",
            format!(
                "<{unsubscribe}>, <mailto:{}?subject=unsubscribe>",
                self.mailto
            ),
        ));
        let mut body = Vec::with_capacity(40_000);
        let email = r.email.to_string();
        for (part, kind) in [(&self.text, "plain"), (&self.html, "html")] {
            body.extend_from_slice(
                format!(
                    "--{}\r\nContent-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                    self.boundary
                )
                .as_bytes(),
            );
            part.write(&mut body, greeting, &email, &unsubscribe);
            // The CRLF before a boundary belongs to the boundary: keep the
            // part's own final line break, as lettre does.
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        if let Some(dkim) = &self.dkim {
            return self.signed(dkim, personal, to_mailbox, body);
        }
        let mut out = Vec::with_capacity(self.head.len() + body.len() + 512);
        out.extend_from_slice(personal.to_string().as_bytes());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        out
    }

    /// The same message as a lettre `Message`, signed with lettre's DKIM.
    fn signed(
        &self,
        dkim: &crate::dkim::Signer,
        personal: Headers,
        to: Mailbox,
        body: Vec<u8>,
    ) -> Vec<u8> {
        let built = lettre::Message::builder()
            .from(self.from_mailbox.clone())
            .to(to)
            .body(lettre::message::Body::dangerous_pre_encoded(
                body,
                header::ContentTransferEncoding::SevenBit,
            ));
        let Ok(mut message) = built else {
            // Unreachable: From and To are set, and the body is pre-encoded.
            return Vec::new();
        };
        let mut headers = personal;
        for name in [
            "From",
            "Reply-To",
            "Subject",
            "Date",
            "MIME-Version",
            "List-Id",
            "List-Unsubscribe-Post",
            "X-Tipsheet-Issue",
            "Content-Type",
        ] {
            if let Some(v) = self.fixed.get_raw(name) {
                headers.insert_raw(HeaderValue::new(
                    HeaderName::new_from_ascii_str(name),
                    v.to_string(),
                ));
            }
        }
        *message.headers_mut() = headers;
        dkim.sign(&mut message);
        message.formatted()
    }

    /// Signs every message with `dkim` from now on.
    pub fn with_dkim(mut self, dkim: Option<crate::dkim::Signer>) -> Self {
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
