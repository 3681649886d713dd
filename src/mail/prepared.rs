//! Turning an issue into email: the message rendered and encoded once per
//! issue, then spliced per recipient.
//!
//! All the expensive work (templates, CSS inlining, quoted-printable encoding
//! of the fixed parts, the fixed headers) happens once per issue in
//! [`Prepared::new`]; per recipient, [`Prepared::message`] only splices the
//! personal values (name, address, unsubscribe link) into the few lines that
//! hold them, and encodes the personal headers. It sends nothing.

use std::sync::Arc;
use std::time::SystemTime;

use askama::Template;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{self, Headers};
use lettre::message::{Mailbox, Mailboxes};
use sha2::{Digest, Sha256};

use super::escape::{escape_attribute, escape_html};
use super::headers::{feedback_id, list_unsubscribe, mailbox, raw, text_header};
use super::splice::{Part, StandIns, Values};
use super::view::{HtmlTemplate, RenderError, TextTemplate, View};
use crate::config::Config;
use crate::content::issue::Issue;
use crate::mail::dkim::DkimSigner;
use crate::mail::token::Signer;
use crate::mail::verp;

/// The HMAC purpose of a Message-ID's tag (no other token verifies as one).
const MESSAGE_ID_PURPOSE: &str = "message-id";
/// Hex digits of the tag kept in a Message-ID (80 bits; the first
/// [`verp::RID_LEN`] of them name the row in VERP tokens).
const MESSAGE_ID_TAG: usize = 20;

/// The shared part of a rendered issue, as frozen in the store (JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Frozen {
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

/// Which copy of an issue a [`Prepared`] makes: the issue itself, a test
/// copy (`send --to`) or a proof (`send --proof`). The copies outside the
/// ledger carry a subject prefix and Message-IDs of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// The issue as readers get it.
    Issue,
    /// A test copy: `[TEST] ` before the subject.
    Test,
    /// An editor's proof: `[PROOF] ` before the subject.
    Proof,
}

impl CopyKind {
    /// The subject prefix, and the word that keeps its Message-IDs apart.
    fn prefix(self) -> Option<(&'static str, &'static str)> {
        match self {
            CopyKind::Issue => None,
            CopyKind::Test => Some(("[TEST] ", "test")),
            CopyKind::Proof => Some(("[PROOF] ", "proof")),
        }
    }
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
    dkim: Option<Arc<DkimSigner>>,
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
    kind: CopyKind,
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
        let kind = if test {
            CopyKind::Test
        } else {
            CopyKind::Issue
        };
        Self::from_frozen(config, issue, &frozen, signer, kind)
    }

    /// The issue's shared bytes (templates rendered with stand-ins, CSS
    /// inlined), what [`Prepared::from_frozen`] splices: frozen once per issue
    /// on the shared store so that every host and every resumed run sends the
    /// same copy apart from the personal fields.
    pub(crate) fn render(
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
    pub(crate) fn from_frozen(
        config: &Config,
        issue: &Issue<'_>,
        frozen: &Frozen,
        signer: Signer,
        kind: CopyKind,
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
        if let Some((p, _)) = kind.prefix() {
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
        headers.insert_raw(raw(
            "Feedback-ID",
            feedback_id(issue.number(), &n.list_id, from.email.domain()),
        ));
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
            kind,
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
    /// Its tag is an HMAC under the unsubscribe secret, not a hash of the
    /// slot and the address: nobody can compute a reader's Message-ID (and
    /// forge a report that quotes it) from the address and a public slot date.
    pub(crate) fn message_id(&self, key: &str) -> String {
        let mut signed = format!("{}\0{key}", self.slot);
        if let Some((_, word)) = self.kind.prefix() {
            signed.push('\0');
            signed.push_str(word);
        }
        let tag = self.signer.sign(MESSAGE_ID_PURPOSE, &signed);
        format!("<{}.{}@{}>", self.slot, &tag[..MESSAGE_ID_TAG], self.domain)
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
    pub fn with_dkim(mut self, dkim: Option<DkimSigner>) -> Self {
        self.dkim = dkim.map(Arc::new);
        self
    }

    /// True when messages are DKIM-signed (expensive: sign off the I/O threads).
    pub(crate) fn signs(&self) -> bool {
        self.dkim.is_some()
    }
}
