//! Reading Markdown: optional `+++` TOML or `---` key: value front matter, then the
//! top-level blocks, each kept as its source Markdown with its plain text.
//!
//! Owns the Markdown reader only; chrome, titles and sections are judged later.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

use super::dates::parse_iso_date;
use super::doc::{Block, Doc, Kind, collapse, snippet};
use super::escape::{escape_line_start, escape_text, longest_backtick_run};
use crate::content::{self, Role};

#[derive(Deserialize)]
pub(super) struct LooseFront {
    title: Option<String>,
    published: Option<toml::Value>,
    date: Option<toml::Value>,
    #[serde(default)]
    roles: Vec<toml::Value>,
}

pub(super) fn read_markdown(text: &str) -> Doc {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut doc = Doc::default();
    let body = front_matter(text, &mut doc);
    doc.blocks = markdown_blocks(body, &mut doc.dropped);
    doc
}

/// Reads `+++` TOML or `---` key: value front matter; returns the body.
pub(super) fn front_matter<'a>(text: &'a str, doc: &mut Doc) -> &'a str {
    let first = text.lines().next().unwrap_or_default().trim_end();
    if first == "+++" {
        let Ok(split) = content::split_front_matter(text) else {
            return text;
        };
        match toml::from_str::<LooseFront>(split.front) {
            Ok(f) => {
                doc.front_title = f.title.filter(|t| !t.trim().is_empty());
                doc.published = f
                    .published
                    .or(f.date)
                    .and_then(|v| match v {
                        toml::Value::String(s) => parse_iso_date(&s),
                        toml::Value::Datetime(d) => parse_iso_date(&d.to_string()),
                        _ => None,
                    })
                    .map(|d| (d, "front matter"));
                doc.front_roles = f
                    .roles
                    .into_iter()
                    .filter_map(|v| v.try_into::<Role>().ok())
                    .collect();
            }
            Err(_) => doc
                .dropped
                .push("front matter that is not valid TOML".into()),
        }
        return split.body;
    }
    if first == "---" {
        let mut offset = text.find('\n').map_or(text.len(), |p| p + 1);
        let start = offset;
        for line in text[start..].split_inclusive('\n') {
            if line.trim_end() == "---" {
                let front = &text[start..offset];
                let keyed = front.lines().all(|l| {
                    let t = l.trim();
                    t.is_empty()
                        || l.starts_with([' ', '\t'])
                        || t.starts_with("- ")
                        || t.starts_with('#')
                        || t.split_once(':').is_some_and(|(k, _)| {
                            !k.is_empty()
                                && k.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        })
                });
                if !keyed {
                    return text;
                }
                for l in front.lines() {
                    let Some((k, v)) = l.split_once(':') else {
                        continue;
                    };
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'').trim();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "title" if !v.is_empty() => doc.front_title = Some(v.to_string()),
                        "published" | "date" if doc.published.is_none() => {
                            doc.published = parse_iso_date(v).map(|d| (d, "front matter"));
                        }
                        _ => {}
                    }
                }
                return &text[offset + line.len()..];
            }
            offset += line.len();
        }
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MdKind {
    Heading(u8),
    Paragraph,
    List,
    Quote,
    Code,
    Table,
    Html,
    Other,
}

/// One top-level Markdown block being read.
pub(super) struct MdBlock {
    kind: MdKind,
    start: usize,
    text: String,
    items: Vec<String>,
    /// Per item: (has a link, has text outside links).
    item_links: Vec<(bool, bool)>,
    open_items: Vec<usize>,
    links: usize,
    has_link: bool,
    outside_text: bool,
    rows: Vec<Vec<String>>,
    head_rows: usize,
    code: String,
    /// Inside a code block nested in a quote or list: its text is not prose.
    nested_code: usize,
}

impl MdBlock {
    fn new(tag: &Tag<'_>, start: usize) -> Self {
        let kind = match tag {
            Tag::Heading { level, .. } => MdKind::Heading(*level as u8),
            Tag::Paragraph => MdKind::Paragraph,
            Tag::List(_) => MdKind::List,
            Tag::BlockQuote(_) => MdKind::Quote,
            Tag::CodeBlock(_) => MdKind::Code,
            Tag::Table(_) => MdKind::Table,
            Tag::HtmlBlock => MdKind::Html,
            _ => MdKind::Other,
        };
        MdBlock {
            kind,
            start,
            text: String::new(),
            items: Vec::new(),
            item_links: Vec::new(),
            open_items: Vec::new(),
            links: 0,
            has_link: false,
            outside_text: false,
            rows: Vec::new(),
            head_rows: 0,
            code: String::new(),
            nested_code: 0,
        }
    }

    fn start(&mut self, tag: &Tag<'_>) {
        match tag {
            Tag::Item => {
                self.items.push(String::new());
                self.item_links.push((false, false));
                self.open_items.push(self.items.len() - 1);
            }
            Tag::Link { .. } | Tag::Image { .. } => {
                self.links += 1;
                self.has_link = true;
                if let Some(&i) = self.open_items.last()
                    && let Some(f) = self.item_links.get_mut(i)
                {
                    f.0 = true;
                }
            }
            Tag::TableHead => {
                self.rows.push(Vec::new());
                self.head_rows += 1;
            }
            Tag::CodeBlock(_) if self.kind != MdKind::Code => self.nested_code += 1,
            Tag::TableRow => self.rows.push(Vec::new()),
            Tag::TableCell => {
                if let Some(r) = self.rows.last_mut() {
                    r.push(String::new());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: &TagEnd) {
        match tag {
            TagEnd::Item => {
                self.open_items.pop();
            }
            TagEnd::Link | TagEnd::Image => self.links = self.links.saturating_sub(1),
            TagEnd::CodeBlock if self.kind != MdKind::Code => {
                self.nested_code = self.nested_code.saturating_sub(1);
            }
            TagEnd::Paragraph | TagEnd::Heading(_) => self.push_text(" "),
            _ => {}
        }
    }

    fn push_text(&mut self, t: &str) {
        if self.nested_code > 0 {
            return;
        }
        if self.links == 0 && t.chars().any(char::is_alphanumeric) {
            self.outside_text = true;
            if let Some(&i) = self.open_items.last()
                && let Some(f) = self.item_links.get_mut(i)
            {
                f.1 = true;
            }
        }
        match self.kind {
            MdKind::Code => self.code.push_str(t),
            MdKind::Table => {
                if let Some(c) = self.rows.last_mut().and_then(|r| r.last_mut()) {
                    c.push_str(t);
                }
            }
            MdKind::List => match self.open_items.last().and_then(|&i| self.items.get_mut(i)) {
                Some(item) => item.push_str(t),
                None => self.text.push_str(t),
            },
            _ => self.text.push_str(t),
        }
    }

    fn finish(self, body: &str, end: usize, dropped: &mut Vec<String>) -> Option<Block> {
        let source = body.get(self.start..end).unwrap_or_default().trim_end();
        let block = |kind, md: String, text: String| Block {
            kind,
            md,
            text,
            items: Vec::new(),
            links_only: false,
        };
        Some(match self.kind {
            MdKind::Heading(level) => Block::heading(level, &self.text),
            MdKind::Paragraph => Block {
                links_only: self.has_link && !self.outside_text,
                ..block(Kind::Paragraph, source.to_string(), collapse(&self.text))
            },
            MdKind::List => {
                let items: Vec<String> = self.items.iter().map(|i| collapse(i)).collect();
                let links_only =
                    !self.item_links.is_empty() && self.item_links.iter().all(|(l, o)| *l && !o);
                Block {
                    kind: Kind::List,
                    md: source.to_string(),
                    text: items.join("\n"),
                    items,
                    links_only,
                }
            }
            MdKind::Quote | MdKind::Other => {
                block(Kind::Other, source.to_string(), collapse(&self.text))
            }
            MdKind::Code => block(Kind::Other, fenced(&self.code), String::new()),
            MdKind::Table => {
                let items: Vec<String> = self
                    .rows
                    .iter()
                    .skip(self.head_rows)
                    .map(|cells| table_row(cells.iter().map(|c| collapse(c))))
                    .filter(|r| !r.is_empty())
                    .collect();
                if items.is_empty() {
                    return None;
                }
                list_block(items)
            }
            MdKind::Html => {
                if source.trim().starts_with("<!--") {
                    return None;
                }
                dropped.push(format!("raw HTML {}", snippet(source)));
                Block::dropped()
            }
        })
    }
}

pub(super) fn markdown_blocks(body: &str, dropped: &mut Vec<String>) -> Vec<Block> {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let mut blocks = Vec::new();
    let mut depth = 0usize;
    let mut cur: Option<MdBlock> = None;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    cur = Some(MdBlock::new(&tag, range.start));
                }
                depth += 1;
                if let Some(b) = cur.as_mut() {
                    b.start(&tag);
                }
            }
            Event::End(tag) => {
                depth = depth.saturating_sub(1);
                if let Some(b) = cur.as_mut() {
                    b.end(&tag);
                }
                if depth == 0
                    && let Some(b) = cur.take()
                    && let Some(block) = b.finish(body, range.end, dropped)
                {
                    blocks.push(block);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(b) = cur.as_mut() {
                    b.push_text(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(b) = cur.as_mut() {
                    b.push_text(if b.kind == MdKind::Code { "\n" } else { " " });
                }
            }
            _ => {}
        }
    }
    blocks
}

/// A fenced code block whose fence no line of `code` can close.
pub(super) fn fenced(code: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(code).max(2) + 1);
    format!("{fence}\n{}\n{fence}", code.trim_end_matches('\n'))
}

/// A table row as one list item: "Cell: cell, cell".
pub(super) fn table_row(cells: impl Iterator<Item = String>) -> String {
    let cells: Vec<String> = cells.filter(|c| !c.is_empty()).collect();
    match cells.split_first() {
        None => String::new(),
        Some((first, [])) => first.clone(),
        Some((first, rest)) => format!("{first}: {}", rest.join(", ")),
    }
}

pub(super) fn list_block(items: Vec<String>) -> Block {
    let md = items
        .iter()
        .map(|i| format!("- {}", escape_line_start(&escape_text(i))))
        .collect::<Vec<_>>()
        .join("\n");
    Block {
        kind: Kind::List,
        md,
        text: items.join("\n"),
        items,
        links_only: false,
    }
}

// ---------------------------------------------------------------------------
