-- 11: the sign-up limits, kept in the ledger so that a restart forgets none.
-- One row per (scope, key): `confirm` and `privacy` count the mails sent to
-- one canonical mailbox, `client` the link mails a client address asked for,
-- `all` every such mail. A row counts `hits` within [since, until) (unix
-- seconds) and is deleted once `until` has passed. A mailbox is kept as the
-- keyed pseudonym of its canonical form, never in clear.
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_by_end ON rate_limits (until);
CREATE INDEX spent_confirmations_by_expiry ON spent_confirmations (expires_at);
