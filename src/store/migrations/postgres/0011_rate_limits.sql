-- 11: the same table as the SQLite engine's migration 11, shared by every
-- host, so that the sign-up limits hold across hosts and restarts. One row
-- per (scope, key): `confirm` and `privacy` count the mails sent to one
-- canonical mailbox, `client` the link mails a client address asked for,
-- `all` every such mail. A row counts `hits` within [since, until) (unix
-- seconds) and is deleted once `until` has passed. A mailbox is kept as the
-- keyed pseudonym of its canonical form, never in clear. It replaces
-- `confirmations` (addresses in clear, at most an hour of limit, dropped).
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_by_end ON rate_limits (until);
CREATE INDEX spent_confirmations_by_expiry ON spent_confirmations (expires_at);
DROP TABLE confirmations;
