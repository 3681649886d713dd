-- 6: the signature tokens of relay webhooks already taken, shared by every
-- host serving webhooks (the SQLite engine's migration 6).
CREATE TABLE webhook_tokens (
    token TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
CREATE INDEX webhook_tokens_by_time ON webhook_tokens(seen_at);
