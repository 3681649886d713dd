//! Feeds in, comparisons out: `tipsheet fetch` (and `run` before each issue)
//! reads each `[[content.feeds]]` (RSS, Atom, JSON Feed or an XML sitemap)
//! with a conditional request, takes the entries whose title reads as a role
//! comparison (the importer's own rule, [`crate::import::parse_title`]),
//! fetches each new article page once, and imports it with the importer into
//! `<content.dir>/comparisons/`, with its canonical `url` and `published` date.
//!
//! Owns the order of a fetch and what each entry became. An article counts
//! as already had when its address (as listed, or canonical) is remembered in
//! the store ([`crate::store::Feeds`]) or is the `url` of a comparison file.
//! A feed's validators are remembered only once all of its entries were
//! looked at (none left for the next run by `content.fetch_max_new`), so a
//! capped feed is read in full again. How reading each feed went (read,
//! unchanged, or failed and why) is kept in the store too, for the console.
//! A dry run writes nothing: no file, no store row. Requests and their limits are `http.rs`; reading feeds
//! `parse.rs`; a page's format and canonical address `page.rs`. It prints
//! nothing: the command line prints the [`Fetched`] it returns.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Config;
use crate::content::split_front_matter;
use crate::import;
use crate::store::{Store, StoreError, Validators};

mod http;
mod page;
mod parse;

pub use http::HttpError;
use http::{Answer, Limits, Polite};
use parse::Entry;

/// The longest error a feed's outcome keeps, in characters.
const MAX_ERROR: usize = 1000;

/// What became of one entry of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Written to this file (in a dry run: would have been).
    Imported(PathBuf),
    /// Imported before (by address), or its comparison file exists.
    AlreadyHad,
    /// Its title does not name two roles.
    NotComparison,
    /// Fetching or importing it failed: why.
    Failed(String),
    /// Left for the next run: `content.fetch_max_new` articles were fetched.
    Deferred,
}

/// One entry and what became of it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The article's address as the feed lists it.
    pub url: String,
    /// Its title as the feed gives it.
    pub title: String,
    /// What became of it.
    pub status: Status,
}

/// How reading one feed went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedStatus {
    /// Read: this many entries.
    Read(usize),
    /// `304 Not Modified`: nothing new since the last read.
    Unchanged,
    /// It could not be read: why.
    Failed(String),
}

/// One feed, how reading it went, and its entries.
#[derive(Debug, Clone)]
pub struct FeedReport {
    /// The feed's address.
    pub url: String,
    /// How reading it went.
    pub status: FeedStatus,
    /// Its entries, in the feed's order.
    pub rows: Vec<Row>,
}

/// What one fetch did.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// Every configured feed, in config order.
    pub feeds: Vec<FeedReport>,
    /// True when nothing was written.
    pub dry_run: bool,
}

impl Fetched {
    /// Entries whose status `matches`.
    pub fn count(&self, matches: impl Fn(&Status) -> bool) -> usize {
        self.rows().filter(|r| matches(&r.status)).count()
    }

    /// Every entry of every feed.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.feeds.iter().flat_map(|f| f.rows.iter())
    }

    /// Whether a feed or an entry failed (`fetch` exits 1).
    pub fn failed(&self) -> bool {
        self.feeds
            .iter()
            .any(|f| matches!(f.status, FeedStatus::Failed(_)))
            || self.count(|s| matches!(s, Status::Failed(_))) > 0
    }
}

/// Why a fetch could not run at all (a feed or an article failing is a
/// [`Status`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Reads every configured feed and imports the new comparisons it lists
/// (see the module doc). `store` is where validators and imported addresses
/// are remembered; `None` (a dry run on a site with no store yet) remembers
/// nothing. With `dry_run`, nothing is written.
pub async fn fetch(
    config: &Config,
    store: Option<&Store>,
    dry_run: bool,
) -> Result<Fetched, FetchError> {
    let out = config.content.dir.join("comparisons");
    let mut known: HashSet<String> = urls_in(&out);
    if let Some(store) = store {
        known.extend(
            store
                .fetched_urls()
                .await?
                .iter()
                .map(|u| page::normalize_str(u)),
        );
    }
    let mut run = Run {
        client: Polite::new(&config.newsletter.base_url, Limits::default())?,
        store: store.filter(|_| !dry_run),
        dry_run,
        out,
        known,
        left: config.content.fetch_max_new,
    };
    let mut fetched = Fetched {
        feeds: Vec::new(),
        dry_run,
    };
    for feed in &config.content.feeds {
        fetched.feeds.push(run.feed(&feed.url, store).await?);
    }
    Ok(fetched)
}

/// One fetch in progress.
struct Run<'a> {
    client: Polite,
    /// Where to remember things; `None` in a dry run.
    store: Option<&'a Store>,
    dry_run: bool,
    out: PathBuf,
    /// Addresses already imported, normalized.
    known: HashSet<String>,
    /// Articles this run may still fetch.
    left: usize,
}

impl Run<'_> {
    async fn feed(&mut self, url: &str, store: Option<&Store>) -> Result<FeedReport, FetchError> {
        let validators = match store {
            Some(s) => s.feed_validators(url).await?,
            None => Validators::default(),
        };
        let report = |status| FeedReport {
            url: url.to_string(),
            status,
            rows: Vec::new(),
        };
        let body = match self.client.get(url, &validators).await {
            Ok(Answer::Body(body)) => body,
            Ok(Answer::NotModified) => {
                self.outcome(url, None).await?;
                return Ok(report(FeedStatus::Unchanged));
            }
            Err(e) => {
                self.outcome(url, Some(&e.to_string())).await?;
                return Ok(report(FeedStatus::Failed(e.to_string())));
            }
        };
        let entries = match parse::entries(&body.bytes, &body.url) {
            Ok(e) => e,
            Err(e) => {
                self.outcome(url, Some(&e.to_string())).await?;
                return Ok(report(FeedStatus::Failed(e.to_string())));
            }
        };
        self.outcome(url, None).await?;
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            let status = self.entry(&entry).await?;
            rows.push(Row {
                url: entry.url,
                title: entry.title,
                status,
            });
        }
        let deferred = rows.iter().any(|r| r.status == Status::Deferred);
        if let Some(store) = self.store
            && !deferred
        {
            store.save_feed_validators(url, &body.validators).await?;
        }
        Ok(FeedReport {
            url: url.to_string(),
            status: FeedStatus::Read(rows.len()),
            rows,
        })
    }

    async fn entry(&mut self, entry: &Entry) -> Result<Status, FetchError> {
        let listed = page::normalize_str(&entry.url);
        if self.known.contains(&listed) {
            return Ok(Status::AlreadyHad);
        }
        if import::parse_title(&entry.title).is_none() {
            return Ok(Status::NotComparison);
        }
        if self.left == 0 {
            return Ok(Status::Deferred);
        }
        self.left -= 1;
        let body = match self.client.get(&entry.url, &Validators::default()).await {
            Ok(Answer::Body(body)) => body,
            Ok(Answer::NotModified) => {
                return Ok(Status::Failed(
                    "answered `304 Not Modified` to a plain request".into(),
                ));
            }
            Err(e) => return Ok(Status::Failed(e.to_string())),
        };
        let text = match std::str::from_utf8(&body.bytes) {
            Ok(t) => t,
            Err(e) => {
                return Ok(Status::Failed(
                    import::ImportError::NotUtf8(e.valid_up_to()).to_string(),
                ));
            }
        };
        let format = page::format_of(&body.content_type);
        let canonical = page::canonical(&body.url, format, text);
        let mut urls = vec![listed, page::normalize(&body.url), canonical.clone()];
        urls.dedup();
        if self.known.contains(&canonical) {
            self.remember(&urls, None).await?;
            return Ok(Status::AlreadyHad);
        }
        let imported =
            match import::import_dated(None, text, format, Some(&canonical), entry.published) {
                Ok(i) => i,
                Err(e) => return Ok(Status::Failed(e.to_string())),
            };
        let path = self.out.join(imported.file_name());
        let slug = imported.meta.slug.clone();
        if path.exists() {
            self.remember(&urls, Some(&slug)).await?;
            return Ok(Status::AlreadyHad);
        }
        if !self.dry_run
            && let Err(e) = import::write_imported(imported, &self.out, false)
        {
            return Ok(Status::Failed(e.to_string()));
        }
        self.remember(&urls, Some(&slug)).await?;
        Ok(Status::Imported(path))
    }

    /// Remembers how reading the feed at `url` went (`error`: why it
    /// failed), unless this is a dry run.
    async fn outcome(&self, url: &str, error: Option<&str>) -> Result<(), StoreError> {
        if let Some(store) = self.store {
            let error = error.map(|e| e.chars().take(MAX_ERROR).collect::<String>());
            store.record_feed_outcome(url, error.as_deref()).await?;
        }
        Ok(())
    }

    /// Remembers `urls` as imported: in this run, and in the store (under
    /// `slug`, else the slug the address had) unless this is a dry run.
    async fn remember(&mut self, urls: &[String], slug: Option<&str>) -> Result<(), StoreError> {
        self.known.extend(urls.iter().cloned());
        if let Some(store) = self.store {
            store.record_fetched(urls, slug.unwrap_or("")).await?;
        }
        Ok(())
    }
}

/// The `url`s of the comparison files in `dir` (any file with front matter
/// naming one, valid or not), normalized.
fn urls_in(dir: &Path) -> HashSet<String> {
    #[derive(Deserialize)]
    struct UrlOnly {
        url: Option<String>,
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| {
            let split = split_front_matter(&text).ok()?;
            toml::from_str::<UrlOnly>(split.front).ok()?.url
        })
        .map(|u| page::normalize_str(&u))
        .collect()
}
