//! Which HTML elements are page chrome: tags, ARIA roles and class or id names
//! (navigation, search, related links, ratings, newsletter boxes, author blurbs),
//! and which wrappers hold the article however they are named.
//!
//! Owns the element rules; the walk itself is in [`super::html`].

use std::collections::{HashMap, HashSet};

use ego_tree::NodeId;
use scraper::node::Element;
use scraper::{ElementRef, Html, Node};

use super::chrome::chrome_heading;
use super::doc::collapse;
use crate::content::SectionKind;

/// Tags dropped without a word: they hold no article text.
pub(super) const SILENT_TAGS: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "canvas", "img", "picture", "video",
    "audio", "iframe", "object", "embed", "button", "input", "select", "textarea", "map", "link",
    "meta", "title",
];

/// Tags that are page chrome by definition.
pub(super) const CHROME_TAGS: &[&str] = &["nav", "header", "footer", "aside", "form", "dialog"];

/// ARIA roles of page chrome.
pub(super) const CHROME_ROLES: &[&str] = &[
    "navigation",
    "search",
    "banner",
    "contentinfo",
    "complementary",
    "dialog",
];

/// Inline tags: everything else starts or ends a block.
pub(super) const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
    "sup", "time", "tt", "u", "var", "wbr", "br",
];

/// Does one word of a class or id name page chrome?
pub(super) fn chrome_word(w: &str) -> bool {
    const PREFIX: &[&str] = &[
        "nav",
        "menu",
        "search",
        "related",
        "rating",
        "newsletter",
        "signup",
        "subscri",
        "cookie",
        "consent",
        "author",
        "byline",
        "share",
        "sharing",
        "social",
        "breadcrumb",
        "sidebar",
        "comment",
        "advert",
        "promo",
        "popup",
    ];
    const EXACT: &[&str] = &[
        "rate", "sign", "ad", "ads", "toc", "footer", "masthead", "modal", "skip",
    ];
    const SUFFIX: &[&str] = &["nav", "menu", "sidebar", "newsletter", "breadcrumbs"];
    PREFIX.iter().any(|p| w.starts_with(p))
        || EXACT.contains(&w)
        || SUFFIX.iter().any(|s| w.ends_with(s))
}

/// Splits a class or id into lowercase words ("siteNav-main" → site, nav, main).
pub(super) fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

pub(super) fn chrome_name(name: &str) -> bool {
    name_words(name).iter().any(|w| chrome_word(w))
}

/// `nav`, `div.newsletter-box`, `section#related`: how the summary names an element.
pub(super) fn element_label(el: &Element) -> String {
    let name = el.name();
    if let Some(id) = el.id().filter(|i| chrome_name(i)) {
        return format!("{name}#{id}");
    }
    if let Some(c) = el
        .classes()
        .find(|c| chrome_name(c))
        .or_else(|| el.classes().next())
    {
        return format!("{name}.{c}");
    }
    if let Some(id) = el.id() {
        return format!("{name}#{id}");
    }
    name.to_string()
}

/// Is this element page chrome? `Some(label)` when it is.
pub(super) fn html_chrome(el: &Element) -> Option<String> {
    let name = el.name();
    let role = el.attr("role").unwrap_or_default().to_ascii_lowercase();
    // Class names only count on containers: `<span class="rate">` may hold the pay.
    let by_name = !matches!(name, "html" | "body" | "main" | "article")
        && !INLINE_TAGS.contains(&name)
        && (el.id().is_some_and(chrome_name) || el.classes().any(chrome_name));
    let chrome = CHROME_TAGS.contains(&name) || CHROME_ROLES.contains(&role.as_str()) || by_name;
    chrome.then(|| element_label(el))
}

/// The elements holding headings of two or more kinds of article section: a
/// chrome-looking wrapper around them (`<div class="with-sidebar">`) is the article.
pub(super) fn section_holders(kinds: &HashMap<NodeId, u8>) -> HashSet<NodeId> {
    kinds
        .iter()
        .filter(|(_, k)| k.count_ones() >= 2)
        .map(|(id, _)| *id)
        .collect()
}

/// The deepest element holding every kind of section the page has: the
/// article's own container, whatever its class. What comes after it is not
/// the article's (the walk marks its end as a break, see [`super::end`]).
pub(super) fn article_root(html: &Html, kinds: &HashMap<NodeId, u8>) -> Option<NodeId> {
    let most = kinds.values().map(|k| k.count_ones()).max()?;
    if most < 2 {
        return None;
    }
    kinds
        .iter()
        .filter(|(_, k)| k.count_ones() == most)
        .filter_map(|(id, _)| Some((html.tree.get(*id)?.ancestors().take(256).count(), *id)))
        .max()
        .map(|(_, id)| id)
}

/// Per element: a bit for each kind of article section whose heading it holds.
pub(super) fn section_kinds(html: &Html, roles: &[&str]) -> HashMap<NodeId, u8> {
    let mut kinds: HashMap<NodeId, u8> = HashMap::new();
    for node in html.tree.nodes() {
        let Some(el) = ElementRef::wrap(node) else {
            continue;
        };
        if !matches!(el.value().name(), "h1" | "h2" | "h3" | "h4") {
            continue;
        }
        let text: String = el.text().flat_map(str::chars).take(200).collect();
        let text = collapse(&text);
        let bit = match SectionKind::classify(&text, roles) {
            _ if chrome_heading(&text).is_some() => continue,
            SectionKind::Other => continue,
            SectionKind::WhatIs(i) => 1u8 << i.min(1),
            SectionKind::Duties => 1 << 2,
            SectionKind::Requirements => 1 << 3,
            SectionKind::Environment => 1 << 4,
            SectionKind::Skills => 1 << 5,
            SectionKind::Salary => 1 << 6,
        };
        // An ancestor that already has this kind has passed it further up:
        // each (element, kind) pair is visited once, however deep the page.
        for a in node.ancestors() {
            let k = kinds.entry(a.id()).or_default();
            if *k & bit != 0 {
                break;
            }
            *k |= bit;
        }
    }
    kinds
}

pub(super) fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Inside an element whose dates and titles belong to other articles.
pub(super) fn under_side_chrome(node: ego_tree::NodeRef<'_, Node>) -> bool {
    // Bounded: a page nested deeper than this is not one a person wrote.
    node.ancestors().take(256).any(|a| {
        a.value().as_element().is_some_and(|el| {
            matches!(el.name(), "aside" | "nav" | "footer")
                || el.id().into_iter().chain(el.classes()).any(|n| {
                    name_words(n).iter().any(|w| {
                        ["related", "comment", "sidebar", "promo", "nav", "menu"]
                            .iter()
                            .any(|p| w.starts_with(p))
                    })
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_split_into_words() {
        assert_eq!(name_words("siteNav-main"), ["site", "nav", "main"]);
        assert!(chrome_name("newsletter-signup"));
        assert!(chrome_name("c-related_posts"));
        assert!(chrome_name("mainmenu"));
        assert!(!chrome_name("research-notes"));
        assert!(!chrome_name("corporate"));
        assert!(!chrome_name("canvas"));
    }
}
