-- 8: the same table as the SQLite engine's migration 8, shared by every host:
-- confirmation links already used, so that a link works once. A row keeps
-- the SHA-256 of the link's token (not the address) until the link would have
-- expired anyway (unix seconds); expired rows are deleted as links are spent.
CREATE TABLE spent_confirmations (
    digest TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
