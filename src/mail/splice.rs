//! The per-recipient splice: stand-ins rendered once per issue, the body parts
//! encoded once but for the lines that hold a personal value, and those lines
//! encoded per recipient.
//!
//! Owns the stand-ins and the encoded parts. Must not build headers or the
//! message around the parts (that is [`super::prepared`]).

use sha2::{Digest, Sha256};

use super::qp::qp_line;
use super::view::View;
use crate::config::Config;
use crate::content::issue::Issue;

/// Stand-ins for the personal values, rendered into the templates once per
/// issue and replaced per recipient. They survive HTML escaping and CSS
/// inlining as is. They must never occur in the issue's own text: content that
/// quotes `%%tipsheet-name%%` prints it as written, not the reader's name.
pub(super) struct StandIns {
    pub(super) name: String,
    pub(super) email: String,
    pub(super) unsubscribe: String,
}

impl StandIns {
    /// `%%tipsheet-name%%` and so on; for an issue whose `text` contains such a
    /// string, stand-ins tagged with a digest of that text (which the text
    /// cannot contain).
    pub(super) fn avoiding(text: &str) -> Self {
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
    pub(super) fn view(&self, config: &Config, issue: &Issue<'_>) -> View {
        View::new(config, issue, &self.name, &self.email, &self.unsubscribe)
    }
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
pub(super) struct Values<'a> {
    pub(super) name: &'a str,
    pub(super) email: &'a str,
    pub(super) unsubscribe: &'a str,
}

/// A body part, encoded once per issue but for its personal lines.
pub(super) struct Part {
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
    pub(super) fn new(body: &str, stand_ins: &StandIns) -> Self {
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

    pub(super) fn write(&self, out: &mut Vec<u8>, values: &Values<'_>, line: &mut String) {
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

    pub(super) fn size_hint(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| match c {
                Chunk::Fixed(b) => b.len(),
                Chunk::Line(..) => 400,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
