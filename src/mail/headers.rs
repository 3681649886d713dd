//! The headers tipsheet writes itself: mailboxes from config, the
//! `List-Unsubscribe` value, raw headers and text headers that survive text
//! shaped like RFC 2047 encoded words.
//!
//! Owns header values only. Must not assemble a message or touch bodies.

use lettre::message::Mailbox;
use lettre::message::header::{HeaderName, HeaderValue};

use super::view::RenderError;

pub(super) fn mailbox(value: &str) -> Result<Mailbox, RenderError> {
    value.parse::<Mailbox>().map_err(|e| RenderError::Address {
        value: value.into(),
        reason: e.to_string(),
    })
}

/// The `List-Unsubscribe` value (RFC 2369): the one-click link, then mailto.
/// Every mail to a reader carries it with `List-Unsubscribe-Post` (RFC 8058).
pub(crate) fn list_unsubscribe(url: &str, mailto: &str) -> String {
    format!("<{url}>, <mailto:{mailto}?subject=unsubscribe>")
}

/// Gmail's `Feedback-ID` value (Postmaster Tools' spam rate per issue):
/// `<issue>:<list>:tipsheet:<sending domain>`. Gmail takes at most four
/// colon-separated fields and no spaces, so the list (the first label of
/// `list_id`) and the domain keep only letters, digits, `.`, `-` and `_`.
pub(crate) fn feedback_id(issue: u32, list_id: &str, domain: &str) -> String {
    fn field(text: &str, fallback: &str) -> String {
        let kept: String = text
            .chars()
            .map(|c| match c {
                'a'..='z' | '0'..='9' | '.' | '-' | '_' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '-',
            })
            .collect();
        let kept = kept.trim_matches(['-', '.']);
        if kept.is_empty() {
            fallback.to_string()
        } else {
            kept.to_string()
        }
    }
    let list = list_id
        .split('.')
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!(
        "{issue}:{}:tipsheet:{}",
        field(list, "newsletter"),
        field(domain, "localhost")
    )
}

pub(crate) fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// A header holding `text`, then ` suffix` (ASCII, e.g. `<list-id>`) if any.
/// lettre writes an ASCII word as it is, so text shaped like an RFC 2047
/// encoded word (`=?utf-8?b?DQo=?=`, from a title or the newsletter name)
/// would reach the reader decoded, line breaks and all; such text is encoded
/// whole instead, and reads exactly as written.
pub(crate) fn text_header(name: &'static str, text: &str, suffix: &str) -> HeaderValue {
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

#[cfg(test)]
mod tests {
    use lettre::message::header::Headers;

    use super::*;

    #[test]
    fn feedback_id_keeps_to_gmails_format() {
        assert_eq!(
            feedback_id(12, "career-tips.example.com", "example.com"),
            "12:career-tips:tipsheet:example.com"
        );
        for (list, domain) in [("Tips: Weekly", "Ex ample.COM"), (":::", ""), ("", "a:b")] {
            let v = feedback_id(3, list, domain);
            assert_eq!(v.split(':').count(), 4, "{v}");
            assert!(!v.contains(' '), "{v}");
            assert!(v.split(':').all(|f| !f.is_empty()), "{v}");
        }
        assert_eq!(
            feedback_id(3, "Tips: Weekly", "Ex ample.COM"),
            "3:tips--weekly:tipsheet:ex-ample.com"
        );
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
}
