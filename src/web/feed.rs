//! The archive's Atom feed (RFC 4287) at `/issues/feed.xml`: the latest
//! issues, each a title, a link to its archive page and when it went out.
//!
//! Owns the feed's route and its XML, written through quick-xml's writer so
//! that every value is escaped. It must not show anything personal: the feed
//! is the same for every reader and names no subscriber.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quick_xml::Writer;
use quick_xml::events::BytesText;

use super::app::App;
use super::archive::{ArchiveEntry, feed_url, issues, validated_now};
use super::error::{PageError, WebError, off_thread};

/// How many issues the feed lists, newest first.
const FEED_ENTRIES: usize = 20;

/// Why the feed cannot be made (logged; the reader gets a plain page).
#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("writing the feed failed: {0}")]
    Write(#[from] std::io::Error),
}

/// The Atom document for `entries` (newest first; the first
/// [`FEED_ENTRIES`] are listed).
fn atom(name: &str, base_url: &str, entries: &[ArchiveEntry]) -> std::io::Result<String> {
    let base = base_url.trim_end_matches('/');
    let archive = format!("{base}/issues/");
    let self_url = feed_url(base);
    let entries = &entries[..entries.len().min(FEED_ENTRIES)];
    // The feed changed when its newest entry did; an empty feed is as old as the epoch.
    let updated = entries.iter().map(|e| e.updated).max().unwrap_or_default();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(quick_xml::events::Event::Decl(
        quick_xml::events::BytesDecl::new("1.0", Some("utf-8"), None),
    ))?;
    w.create_element("feed")
        .with_attribute(("xmlns", "http://www.w3.org/2005/Atom"))
        .write_inner_content(|w| {
            w.create_element("id")
                .write_text_content(BytesText::new(&archive))?;
            w.create_element("title")
                .write_text_content(BytesText::new(name))?;
            w.create_element("updated")
                .write_text_content(BytesText::new(&stamp(updated)))?;
            w.create_element("author").write_inner_content(|w| {
                w.create_element("name")
                    .write_text_content(BytesText::new(name))?;
                Ok(())
            })?;
            w.create_element("link")
                .with_attributes([("rel", "self"), ("href", self_url.as_str())])
                .write_empty()?;
            w.create_element("link")
                .with_attributes([
                    ("rel", "alternate"),
                    ("type", "text/html"),
                    ("href", archive.as_str()),
                ])
                .write_empty()?;
            for e in entries {
                let url = format!("{base}/issues/{}", e.number);
                w.create_element("entry").write_inner_content(|w| {
                    w.create_element("id")
                        .write_text_content(BytesText::new(&url))?;
                    w.create_element("title")
                        .write_text_content(BytesText::new(&e.title))?;
                    w.create_element("link")
                        .with_attributes([
                            ("rel", "alternate"),
                            ("type", "text/html"),
                            ("href", url.as_str()),
                        ])
                        .write_empty()?;
                    w.create_element("published")
                        .write_text_content(BytesText::new(&stamp(e.published)))?;
                    w.create_element("updated")
                        .write_text_content(BytesText::new(&stamp(e.updated)))?;
                    w.create_element("summary")
                        .write_text_content(BytesText::new(&format!(
                            "Issue #{} of {name}",
                            e.number
                        )))?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    String::from_utf8(out).map_err(std::io::Error::other)
}

/// `GET /issues/feed.xml`.
pub(super) async fn archive_feed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let log = "the archive feed".to_string();
    let records = issues(&app, "show the feed").await?;
    let (body, modified) = off_thread(&app, "show the feed", log, move |a| {
        let entries = a.entries(&records)?;
        let n = &a.config.newsletter;
        let modified = entries.iter().map(|e| e.updated).max().unwrap_or_default();
        Ok::<_, FeedError>((atom(&n.name, &n.base_url, &entries)?, modified))
    })
    .await?;
    Ok(validated_now(
        &headers,
        "application/atom+xml; charset=utf-8",
        body,
        modified,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(number: u32, title: &str) -> ArchiveEntry {
        let t = chrono::DateTime::from_timestamp(1_800_000_000 + i64::from(number), 0)
            .unwrap_or_default();
        ArchiveEntry::for_test(number, title, t)
    }

    #[test]
    fn values_are_escaped_and_the_feed_parses() {
        let entries = [entry(2, "Cooks & <chefs>"), entry(1, "\"Quoted\" ]]>")];
        let xml = atom("Tips & <Tricks>", "https://n.example.com/", &entries).unwrap();
        assert!(xml.contains("Cooks &amp; &lt;chefs&gt;"), "{xml}");
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(feed.title.unwrap().content, "Tips & <Tricks>");
        assert_eq!(feed.entries.len(), 2);
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "Cooks & <chefs>"
        );
        assert_eq!(
            feed.entries[1].title.as_ref().unwrap().content,
            "\"Quoted\" ]]>"
        );
        assert_eq!(
            feed.entries[0].links[0].href,
            "https://n.example.com/issues/2"
        );
    }

    #[test]
    fn the_feed_lists_the_latest_twenty() {
        let entries: Vec<_> = (1..=25).rev().map(|n| entry(n, "t")).collect();
        let xml = atom("Tips", "https://n.example.com", &entries).unwrap();
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(feed.entries.len(), 20);
        assert_eq!(
            feed.entries[0].links[0].href,
            "https://n.example.com/issues/25"
        );
        assert_eq!(
            feed.entries[19].links[0].href,
            "https://n.example.com/issues/6"
        );
        let empty = atom("Tips", "https://n.example.com", &[]).unwrap();
        assert!(
            feed_rs::parser::parse(empty.as_bytes())
                .unwrap()
                .entries
                .is_empty()
        );
    }
}
