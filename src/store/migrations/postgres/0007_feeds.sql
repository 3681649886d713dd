-- 4: the same tables as the SQLite engine's migration 4, shared by every host:
-- what `tipsheet fetch` remembers between runs. Per feed, the validators
-- its last answer carried (ETag, Last-Modified), sent back as a conditional
-- request; per article address (as the feed listed it, and its canonical
-- address), the comparison it became, so that no article is fetched twice.
CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    checked_at TEXT NOT NULL
);
CREATE TABLE fetched_articles (
    url TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
