//! An article page as fetched: the format the importer should read it as
//! (from its `Content-Type`), and its canonical address (`<link
//! rel="canonical">`, else where the redirects ended).
//!
//! Owns reading those two facts off a response; importing is `crate::import`.

use reqwest::Url;

use crate::import::Format;

/// The importer's format for a `Content-Type`; `None`: let it detect.
pub(crate) fn format_of(content_type: &str) -> Option<Format> {
    match content_type {
        "text/html" | "application/xhtml+xml" => Some(Format::Html),
        "text/plain" => Some(Format::Text),
        "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
        _ => None,
    }
}

/// The page's canonical address: its `<link rel="canonical">` when it names
/// an http(s) address, else `fetched_from` (where the redirects ended). The
/// fragment is dropped either way.
pub(crate) fn canonical(fetched_from: &Url, format: Option<Format>, text: &str) -> String {
    let declared = match format {
        Some(Format::Html) => declared_canonical(fetched_from, text),
        _ => None,
    };
    normalize(declared.as_ref().unwrap_or(fetched_from))
}

fn declared_canonical(base: &Url, html: &str) -> Option<Url> {
    let doc = scraper::Html::parse_document(html);
    // A constant, valid selector: parsing cannot fail, and if it did there is simply no link.
    let selector = scraper::Selector::parse("link[rel~=canonical][href]").ok()?;
    let href = doc.select(&selector).next()?.value().attr("href")?;
    let url = base.join(href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// An address as it is compared: fragment dropped.
pub(crate) fn normalize(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.to_string()
}

/// An address written anywhere (a comparison's `url`, a feed) as it is
/// compared; unparsable ones as they are.
pub(crate) fn normalize_str(url: &str) -> String {
    Url::parse(url.trim()).map_or_else(|_| url.trim().to_string(), |u| normalize(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_links_win_over_the_fetched_address() {
        let from =
            Url::parse("https://www.example.com/old/nurse-vs-doctor?utm_source=x#top").unwrap();
        let html = r#"<html><head><link rel="canonical" href="/career-advice/nurse-vs-doctor"></head></html>"#;
        assert_eq!(
            canonical(&from, Some(Format::Html), html),
            "https://www.example.com/career-advice/nurse-vs-doctor"
        );
        assert_eq!(
            canonical(&from, Some(Format::Text), html),
            "https://www.example.com/old/nurse-vs-doctor?utm_source=x"
        );
        let other = r#"<link rel="canonical" href="javascript:alert(1)">"#;
        assert!(canonical(&from, Some(Format::Html), other).starts_with("https://"));
        assert_eq!(
            normalize_str(" https://a.example/x#y "),
            "https://a.example/x"
        );
    }
}
