//! Reading HTML: the page's titles and date from `<meta>`, `<title>`, `<h1>` and
//! `<time>`, then a walk of the body that skips chrome elements and turns the rest
//! into blocks of Markdown (emphasis, code, absolute links, lists, tables, quotes).
//!
//! Owns the HTML reader only; chrome *text*, titles and sections are judged later.

use std::collections::HashSet;

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use scraper::node::Element;
use scraper::{ElementRef, Html, Node};

use chrono::NaiveDate;

use super::dates::parse_iso_date;
use super::doc::{Block, Doc, Kind, collapse};
use super::escape::keep_link;
use super::escape::{code_span, entity_like, escape_line_start, link_destination};
use super::html_chrome::{
    INLINE_TAGS, SILENT_TAGS, article_root, heading_level, html_chrome, section_holders,
    section_kinds, under_side_chrome,
};
use super::markdown::{fenced, list_block, table_row};
use super::title::parse_title;

pub(super) fn read_html(text: &str) -> Doc {
    let html = Html::parse_document(text);
    let mut doc = Doc::default();
    page_facts(&html, &mut doc);
    let roles: Vec<(String, String)> = doc
        .page_titles
        .iter()
        .filter_map(|t| parse_title(t))
        .collect();
    let role_names: Vec<&str> = roles
        .first()
        .map(|(a, b)| vec![a.as_str(), b.as_str()])
        .unwrap_or_default();
    let kinds = section_kinds(&html, &role_names);
    let w = walk(&html, &section_holders(&kinds), article_root(&html, &kinds));
    doc.blocks = w.blocks;
    doc.dropped = w.dropped;
    doc
}

/// The page's titles (`<h1>`, `og:title`, `<title>`) and publication date.
fn page_facts(html: &Html, doc: &mut Doc) {
    let mut h1: Option<String> = None;
    let mut og: Option<String> = None;
    let mut title: Option<String> = None;
    let mut meta_date: Option<NaiveDate> = None;
    let mut time_date: Option<NaiveDate> = None;
    for node in html.tree.nodes() {
        let Some(el) = ElementRef::wrap(node) else {
            continue;
        };
        let v = el.value();
        match v.name() {
            "meta" => {
                let key = v
                    .attr("property")
                    .or_else(|| v.attr("name"))
                    .or_else(|| v.attr("itemprop"))
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let value = v.attr("content").unwrap_or_default();
                match key.as_str() {
                    "og:title" if og.is_none() => og = Some(collapse(value)),
                    "article:published_time" | "datepublished" if meta_date.is_none() => {
                        meta_date = parse_iso_date(value);
                    }
                    _ => {}
                }
            }
            "title" if title.is_none() => {
                title = Some(collapse(
                    &el.text().flat_map(str::chars).take(300).collect::<String>(),
                ));
            }
            "h1" if h1.is_none() && !under_side_chrome(node) => {
                let t = collapse(&el.text().flat_map(str::chars).take(300).collect::<String>());
                if !t.is_empty() {
                    h1 = Some(t);
                }
            }
            "time" if time_date.is_none() && !under_side_chrome(node) => {
                time_date = v.attr("datetime").and_then(parse_iso_date);
            }
            _ => {}
        }
    }
    doc.published = meta_date
        .map(|d| (d, "the `article:published_time` meta tag"))
        .or(time_date.map(|d| (d, "`<time datetime>`")));
    doc.page_titles = [h1, og, title].into_iter().flatten().collect();
}

/// Walks the body into blocks, skipping silent and chrome elements (`holders`,
/// the elements holding the article's sections, are never chrome), and marking
/// where the article's container (`root`) ends.
fn walk(html: &Html, holders: &HashSet<NodeId>, root: Option<NodeId>) -> HtmlWalker {
    let mut w = HtmlWalker::default();
    let mut skip: Option<NodeId> = None;
    for edge in html.root_element().traverse() {
        match edge {
            Edge::Open(node) => {
                if skip.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(t) => w.text(t),
                    Node::Element(el) => {
                        let hidden =
                            el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true");
                        if SILENT_TAGS.contains(&el.name()) || hidden {
                            skip = Some(node.id());
                        } else if let Some(label) = html_chrome(el)
                            && !holders.contains(&node.id())
                        {
                            skip = Some(node.id());
                            w.dropped.push(label);
                            w.mark_dropped();
                        } else {
                            w.open(node.id(), el);
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Some(id) = skip {
                    if id == node.id() {
                        skip = None;
                    }
                    continue;
                }
                if let Node::Element(el) = node.value() {
                    w.close(node.id(), el);
                }
                if root == Some(node.id()) {
                    // The article's container ends: what follows is after a break.
                    w.mark_dropped();
                }
            }
        }
    }
    w.flush();
    w.end_lists();
    w
}

#[derive(Debug, Clone, Copy)]
pub(super) enum MarkKind {
    Strong,
    Em,
    Code,
}

#[derive(Debug)]
pub(super) struct Mark {
    id: NodeId,
    kind: Option<MarkKind>,
    href: Option<String>,
    md_at: usize,
    plain_at: usize,
}

/// Inline text being collected: Markdown and plain side by side.
#[derive(Debug, Default)]
pub(super) struct Inline {
    md: String,
    plain: String,
    marks: Vec<Mark>,
    links: usize,
    has_link: bool,
    outside_text: bool,
}

impl Inline {
    fn space(&mut self) {
        if !self.md.is_empty() && !self.md.ends_with(' ') {
            self.md.push(' ');
        }
        if !self.plain.is_empty() && !self.plain.ends_with(' ') {
            self.plain.push(' ');
        }
    }

    fn text(&mut self, s: &str) {
        for (i, c) in s.char_indices() {
            if c.is_whitespace() {
                self.space();
                continue;
            }
            if self.links == 0 && c.is_alphanumeric() {
                self.outside_text = true;
            }
            self.plain.push(c);
            match c {
                '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '|' => {
                    self.md.push('\\');
                    self.md.push(c);
                }
                '&' if entity_like(&s[i..]) => self.md.push_str("\\&"),
                _ => self.md.push(c),
            }
        }
    }

    fn open(&mut self, id: NodeId, kind: Option<MarkKind>, href: Option<String>) {
        if href.is_some() || kind.is_none() {
            self.links += 1;
            self.has_link = true;
        }
        self.marks.push(Mark {
            id,
            kind,
            href,
            md_at: self.md.len(),
            plain_at: self.plain.len(),
        });
    }

    fn close(&mut self, id: NodeId) {
        let Some(pos) = self.marks.iter().rposition(|m| m.id == id) else {
            return;
        };
        let mark = self.marks.remove(pos);
        if mark.href.is_some() || mark.kind.is_none() {
            self.links = self.links.saturating_sub(1);
        }
        if !self.md.is_char_boundary(mark.md_at) {
            return;
        }
        let inner = self.md.get(mark.md_at..).unwrap_or_default().to_string();
        let core = inner.trim();
        if core.is_empty() {
            return;
        }
        let lead = if inner.starts_with(' ') { " " } else { "" };
        let trail = if inner.ends_with(' ') { " " } else { "" };
        let wrapped = match (&mark.kind, &mark.href) {
            (Some(MarkKind::Strong), _) => format!("**{core}**"),
            (Some(MarkKind::Em), _) => format!("*{core}*"),
            (Some(MarkKind::Code), _) => {
                let plain = self.plain.get(mark.plain_at..).unwrap_or_default().trim();
                code_span(plain)
            }
            (None, Some(href)) => format!("[{core}]({})", link_destination(href)),
            (None, None) => return,
        };
        self.md.truncate(mark.md_at);
        self.md.push_str(lead);
        self.md.push_str(&wrapped);
        self.md.push_str(trail);
    }

    fn take(&mut self) -> (String, String, bool) {
        let md = self.md.trim().to_string();
        let plain = self.plain.trim().to_string();
        let links_only = self.has_link && !self.outside_text;
        *self = Inline::default();
        (md, plain, links_only)
    }
}

#[derive(Debug)]
pub(super) struct HtmlList {
    ordered: bool,
    next: u64,
    /// Width of the markers of the enclosing lists.
    indent: usize,
}

#[derive(Debug, Default)]
pub(super) struct HtmlWalker {
    blocks: Vec<Block>,
    dropped: Vec<String>,
    inline: Inline,
    heading: Option<(NodeId, u8)>,
    quote: usize,
    pre: Option<(NodeId, String)>,
    lists: Vec<HtmlList>,
    /// The marker of the open list item, e.g. "- " or "  1. ".
    item: Option<String>,
    list_lines: Vec<String>,
    list_items: Vec<String>,
    list_links_only: bool,
    table: Option<Vec<(bool, Vec<String>)>>,
    in_cell: bool,
    in_head: bool,
}

impl HtmlWalker {
    /// Any other tag: a space inside inline context, else the end of the block.
    fn space_or_flush(&mut self) {
        if self.inline_context() {
            self.inline.space();
        } else {
            self.flush();
        }
    }

    fn inline_context(&self) -> bool {
        self.heading.is_some()
            || self.pre.is_some()
            || !self.lists.is_empty()
            || self.table.is_some()
    }

    fn text(&mut self, t: &str) {
        if let Some((_, pre)) = self.pre.as_mut() {
            pre.push_str(t);
        } else {
            self.inline.text(t);
        }
    }

    fn open(&mut self, id: NodeId, el: &Element) {
        let name = el.name();
        if self.pre.is_some() {
            return;
        }
        if let Some(level) = heading_level(name) {
            if self.inline_context() {
                self.inline.space();
            } else {
                self.flush();
                self.heading = Some((id, level));
            }
            return;
        }
        match name {
            "a" => {
                let href = el.attr("href").filter(|h| keep_link(h)).map(str::to_string);
                // A link without a usable address still counts as a link for chrome checks.
                match href {
                    Some(h) => self.inline.open(id, None, Some(h)),
                    None => self.inline.open(id, None, None),
                }
            }
            "strong" | "b" => self.inline.open(id, Some(MarkKind::Strong), None),
            "em" | "i" => self.inline.open(id, Some(MarkKind::Em), None),
            "code" | "kbd" | "samp" | "tt" => self.inline.open(id, Some(MarkKind::Code), None),
            "br" => self.inline.space(),
            "ul" | "ol" if self.table.is_none() && self.heading.is_none() => {
                self.open_list(el, name == "ol");
            }
            "li" if !self.lists.is_empty() && self.table.is_none() && self.heading.is_none() => {
                self.open_item();
            }
            "pre" if !self.inline_context() => {
                self.flush();
                self.pre = Some((id, String::new()));
            }
            "blockquote" if !self.inline_context() => {
                self.flush();
                self.quote += 1;
            }
            "table" if !self.inline_context() => {
                self.flush();
                self.table = Some(Vec::new());
            }
            "thead" => self.in_head = true,
            "tr" if self.table.is_some() => {
                self.end_cell();
                if let Some(t) = self.table.as_mut() {
                    t.push((self.in_head, Vec::new()));
                }
            }
            "td" | "th" if self.table.is_some() => {
                self.end_cell();
                if let Some(t) = self.table.as_mut() {
                    if t.is_empty() {
                        t.push((self.in_head, Vec::new()));
                    }
                    if let Some(row) = t.last_mut() {
                        if name == "td" {
                            row.0 = row.0 && self.in_head;
                        } else if row.1.is_empty() {
                            row.0 = true;
                        }
                    }
                }
                self.in_cell = true;
            }
            n if INLINE_TAGS.contains(&n) => {}
            _ => self.space_or_flush(),
        }
    }

    /// A `<ul>` or `<ol>`: a new list, or one nested in the open item.
    fn open_list(&mut self, el: &Element, ordered: bool) {
        if self.lists.is_empty() {
            self.flush();
            self.list_lines.clear();
            self.list_items.clear();
            self.list_links_only = true;
        } else {
            self.end_item();
        }
        let indent = match (self.lists.last(), &self.item) {
            (Some(_), Some(marker)) => marker.len(),
            (Some(l), None) => l.indent + 2,
            (None, _) => 0,
        };
        let start = el
            .attr("start")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        self.lists.push(HtmlList {
            ordered,
            next: start,
            indent,
        });
        self.item = None;
    }

    /// An `<li>`: closes the previous item and makes this one's marker.
    fn open_item(&mut self) {
        self.end_item();
        if let Some(l) = self.lists.last_mut() {
            let marker = if l.ordered {
                let m = format!("{}{}. ", " ".repeat(l.indent), l.next);
                l.next += 1;
                m
            } else {
                format!("{}- ", " ".repeat(l.indent))
            };
            self.item = Some(marker);
        }
    }

    fn close(&mut self, id: NodeId, el: &Element) {
        let name = el.name();
        if let Some((pre_id, _)) = &self.pre {
            if *pre_id == id
                && let Some((_, code)) = self.pre.take()
                && !code.trim().is_empty()
            {
                self.push(Block {
                    kind: Kind::Other,
                    md: fenced(&code),
                    text: String::new(),
                    items: Vec::new(),
                    links_only: false,
                });
            }
            return;
        }
        if let Some((hid, level)) = self.heading
            && hid == id
        {
            self.heading = None;
            let (_, plain, _) = self.inline.take();
            if !plain.is_empty() {
                self.push(Block::heading(level, &plain));
            }
            return;
        }
        match name {
            "a" | "strong" | "b" | "em" | "i" | "code" | "kbd" | "samp" | "tt" => {
                self.inline.close(id);
            }
            "ul" | "ol"
                if !self.lists.is_empty() && self.table.is_none() && self.heading.is_none() =>
            {
                self.end_item();
                self.lists.pop();
                self.item = None;
                if self.lists.is_empty() {
                    self.end_lists();
                }
            }
            "li" if !self.lists.is_empty() && self.table.is_none() && self.heading.is_none() => {
                self.end_item();
            }
            "blockquote" if self.quote > 0 && !self.inline_context() => {
                self.flush();
                self.quote -= 1;
            }
            "thead" => self.in_head = false,
            "td" | "th" => self.end_cell(),
            "table" if self.table.is_some() => {
                self.end_cell();
                if let Some(rows) = self.table.take() {
                    let items: Vec<String> = rows
                        .into_iter()
                        .filter(|(head, _)| !head)
                        .map(|(_, cells)| table_row(cells.into_iter()))
                        .filter(|r| !r.is_empty())
                        .collect();
                    if !items.is_empty() {
                        self.push(list_block(items));
                    }
                }
            }
            n if INLINE_TAGS.contains(&n) => {}
            _ => self.space_or_flush(),
        }
    }

    fn end_cell(&mut self) {
        if !self.in_cell {
            return;
        }
        self.in_cell = false;
        let (_, plain, _) = self.inline.take();
        if let Some(row) = self.table.as_mut().and_then(|t| t.last_mut()) {
            row.1.push(plain);
        }
    }

    /// Closes the open list item into a line.
    fn end_item(&mut self) {
        let (md, plain, links_only) = self.inline.take();
        if plain.is_empty() {
            return;
        }
        let marker = match &self.item {
            Some(m) => m.clone(),
            None => {
                let indent = self.lists.last().map_or(0, |l| l.indent);
                format!("{}- ", " ".repeat(indent))
            }
        };
        // Text after a nested list continues the item under it.
        self.item = Some(" ".repeat(marker.len()));
        self.list_lines
            .push(format!("{marker}{}", escape_line_start(&md)));
        self.list_items.push(plain);
        self.list_links_only &= links_only;
    }

    /// Emits the list collected so far.
    fn end_lists(&mut self) {
        self.end_item();
        self.lists.clear();
        self.item = None;
        if self.list_lines.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.list_items);
        let block = Block {
            kind: Kind::List,
            md: std::mem::take(&mut self.list_lines).join("\n"),
            text: items.join("\n"),
            items,
            links_only: self.list_links_only,
        };
        self.push(block);
    }

    /// Marks where a chrome element was left out, between blocks only.
    fn mark_dropped(&mut self) {
        if !self.inline_context() && self.quote == 0 {
            self.flush();
            self.blocks.push(Block::dropped());
        }
    }

    /// Emits the inline text collected so far as a paragraph.
    fn flush(&mut self) {
        if !self.lists.is_empty() {
            return;
        }
        let (md, plain, links_only) = self.inline.take();
        if plain.is_empty() {
            return;
        }
        self.push(Block {
            kind: Kind::Paragraph,
            md: escape_line_start(&md),
            text: plain,
            items: Vec::new(),
            links_only,
        });
    }

    fn push(&mut self, mut block: Block) {
        if self.quote > 0 && !matches!(block.kind, Kind::Heading(_)) {
            block.md = block
                .md
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        ">".to_string()
                    } else {
                        format!("> {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            block.kind = Kind::Other;
        }
        self.blocks.push(block);
    }
}

// ---------------------------------------------------------------------------
// Dates.

#[cfg(test)]
mod tests {
    use crate::import::{Format, import_text};

    #[test]
    fn what_follows_the_articles_container_is_after_its_end() {
        let html = "<body><article><h1>Cook vs. Chef</h1>\
            <h2>Job Duties</h2><p>Cooks cook and chefs plan the menu.</p>\
            <h2>Salary</h2><p>Cooks earn $30,000 to $40,000 a year.</p></article>\
            <div class=\"company-info\"><p>Acme Careers has helped people since 2009.</p></div>\
            <div class=\"x\"><p>Fresh guides every Tuesday.</p></div></body>";
        let got = import_text(None, html, Some(Format::Html), None).unwrap();
        assert!(
            got.text.ends_with("$30,000 to $40,000 a year.\n"),
            "{}",
            got.text
        );
        assert_eq!(
            got.report.dropped,
            [
                "after the article's end \"Acme Careers has helped people since 2009.\"",
                "after the article's end \"Fresh guides every Tuesday.\""
            ]
        );
    }
}
