//! Reading a feed's answer into entries: RSS, Atom and JSON Feed through
//! feed-rs, XML sitemaps (`<urlset>`) through quick-xml's deserializer.
//!
//! Owns turning bytes into [`Entry`]s (address, title, date), relative
//! addresses resolved against the feed's. It decides nothing about which
//! entries are comparisons and fetches nothing.

use chrono::NaiveDate;
use quick_xml::events::Event;
use reqwest::Url;
use serde::Deserialize;

/// One entry a feed lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The article's address, absolute.
    pub(crate) url: String,
    /// Its title; for a sitemap, read from the address's last segment
    /// (`nurse-vs-doctor` → "nurse vs doctor").
    pub(crate) title: String,
    /// When it was published (a sitemap's `lastmod`), if the feed says.
    pub(crate) published: Option<NaiveDate>,
}

/// Why a feed's answer could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParseError {
    /// Neither a feed nor a sitemap.
    #[error("not an RSS, Atom or JSON feed, nor an XML sitemap: {0}")]
    Unreadable(String),
    /// A sitemap index, which lists sitemaps rather than pages.
    #[error(
        "a sitemap index (it lists sitemaps, not pages); add its sitemaps as `[[content.feeds]]` instead: {0}"
    )]
    SitemapIndex(String),
}

/// The entries of the feed at `base` whose answer is `bytes`.
pub(crate) fn entries(bytes: &[u8], base: &Url) -> Result<Vec<Entry>, ParseError> {
    match root_element(bytes).as_deref() {
        Some("urlset") => sitemap(bytes, base),
        Some("sitemapindex") => Err(ParseError::SitemapIndex(sitemap_locs(bytes))),
        _ => feed(bytes, base),
    }
}

/// The local name of the document's first element, if it is XML.
fn root_element(bytes: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    // Declarations, comments and doctypes come first; stop at the first element.
    for _ in 0..64 {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) => {
                return Some(e.local_name().as_ref().to_string());
            }
            Event::Eof => return None,
            _ => buf.clear(),
        }
    }
    None
}

fn feed(bytes: &[u8], base: &Url) -> Result<Vec<Entry>, ParseError> {
    let parsed = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .build()
        .parse(bytes)
        .map_err(|e| ParseError::Unreadable(e.to_string()))?;
    Ok(parsed
        .entries
        .into_iter()
        .filter_map(|e| {
            let link = e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or_else(|| e.links.first())?;
            Some(Entry {
                url: resolve(base, &link.href)?,
                title: e
                    .title
                    .map(|t| t.content.trim().to_string())
                    .unwrap_or_default(),
                published: e.published.or(e.updated).map(|d| d.date_naive()),
            })
        })
        .collect())
}

#[derive(Deserialize)]
struct UrlSet {
    #[serde(default)]
    url: Vec<SitemapUrl>,
}

#[derive(Deserialize)]
struct SitemapUrl {
    loc: String,
    #[serde(default)]
    lastmod: Option<String>,
}

#[derive(Deserialize)]
struct SitemapIndex {
    #[serde(default)]
    sitemap: Vec<SitemapUrl>,
}

fn sitemap(bytes: &[u8], base: &Url) -> Result<Vec<Entry>, ParseError> {
    let set: UrlSet = quick_xml::de::from_reader(bytes)
        .map_err(|e| ParseError::Unreadable(format!("sitemap: {e}")))?;
    Ok(set
        .url
        .into_iter()
        .filter_map(|u| {
            let url = resolve(base, u.loc.trim())?;
            Some(Entry {
                title: title_from_address(&url),
                published: u.lastmod.as_deref().and_then(date_prefix),
                url,
            })
        })
        .collect())
}

fn sitemap_locs(bytes: &[u8]) -> String {
    let index: Option<SitemapIndex> = quick_xml::de::from_reader(bytes).ok();
    let locs: Vec<String> = index
        .map(|i| {
            i.sitemap
                .into_iter()
                .map(|s| format!("`{}`", s.loc.trim()))
                .collect()
        })
        .unwrap_or_default();
    if locs.is_empty() {
        "none listed".into()
    } else {
        locs.join(", ")
    }
}

/// `href` made absolute against `base`; `None` unless it is http(s).
fn resolve(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// "2026-12-10" from `2026-12-10` or `2026-12-10T09:00:00+00:00`.
fn date_prefix(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim().get(..10)?, "%Y-%m-%d").ok()
}

/// A title read from an address's last path segment: "nurse vs doctor" from
/// `/career-advice/nurse-vs-doctor/` (a file extension dropped).
fn title_from_address(url: &str) -> String {
    let path = Url::parse(url)
        .ok()
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let stem = last.rsplit_once('.').map_or(last, |(s, _)| s);
    let decoded = percent_encoding::percent_decode_str(stem).decode_utf8_lossy();
    decoded
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://www.example.com/career-advice/feed.xml").unwrap()
    }

    #[test]
    fn rss_atom_and_json_feed_entries_are_read_with_their_dates() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
            <item><title>Nurse vs. Doctor</title><link>/career-advice/nurse-vs-doctor</link>
            <pubDate>Thu, 10 Dec 2026 09:00:00 GMT</pubDate></item>
            <item><title>No link here</title></item></channel></rss>"#;
        let got = entries(rss.as_bytes(), &base()).unwrap();
        assert_eq!(
            got,
            [Entry {
                url: "https://www.example.com/career-advice/nurse-vs-doctor".into(),
                title: "Nurse vs. Doctor".into(),
                published: NaiveDate::from_ymd_opt(2026, 12, 10),
            }]
        );
        let atom = r#"<?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
            <updated>2026-12-01T00:00:00Z</updated>
            <entry><title>Cook &amp; Baker: Chef vs Baker</title><id>urn:1</id>
            <link rel="alternate" href="https://www.example.com/chef-vs-baker"/>
            <updated>2026-11-02T00:00:00Z</updated></entry></feed>"#;
        let got = entries(atom.as_bytes(), &base()).unwrap();
        assert_eq!(got[0].title, "Cook & Baker: Chef vs Baker");
        assert_eq!(got[0].published, NaiveDate::from_ymd_opt(2026, 11, 2));
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
            {"id":"1","url":"https://www.example.com/a-vs-b","title":"Actor vs. Singer",
             "date_published":"2026-10-05T10:00:00Z"}]}"#;
        let got = entries(json.as_bytes(), &base()).unwrap();
        assert_eq!(got[0].url, "https://www.example.com/a-vs-b");
        assert_eq!(got[0].published, NaiveDate::from_ymd_opt(2026, 10, 5));
    }

    #[test]
    fn sitemaps_give_titles_from_addresses_and_an_index_is_refused() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <url><loc>https://www.example.com/career-advice/welder-vs-pipefitter/</loc>
                 <lastmod>2026-12-03T08:00:00+00:00</lastmod></url>
            <url><loc>https://www.example.com/about.html</loc></url>
            <url><loc>ftp://www.example.com/x</loc></url></urlset>"#;
        let got = entries(xml.as_bytes(), &base()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].title, "welder vs pipefitter");
        assert_eq!(got[0].published, NaiveDate::from_ymd_opt(2026, 12, 3));
        assert_eq!(got[1].title, "about");
        let index = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>https://www.example.com/s1.xml</loc></sitemap></sitemapindex>"#;
        let err = entries(index.as_bytes(), &base()).unwrap_err().to_string();
        assert!(err.contains("`https://www.example.com/s1.xml`"), "{err}");
        assert!(entries(b"<html><body>hi</body></html>", &base()).is_err());
    }
}
