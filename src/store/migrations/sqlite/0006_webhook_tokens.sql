-- 6: the signature tokens of relay webhooks already taken (Mailgun signs a
-- timestamp and a one-time token): a request that repeats one is a replay.
-- Rows older than the accepted clock skew are pruned as new ones arrive.
CREATE TABLE webhook_tokens (
    token TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
CREATE INDEX webhook_tokens_by_time ON webhook_tokens(seen_at);
