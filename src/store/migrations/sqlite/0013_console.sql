-- 13: the console. Accounts with their role and Argon2id password hash; the
-- signed-in sessions, found by the SHA-256 of their id (the id itself is only
-- in the browser's cookie); failed sign-ins by scope (`account:NAME`,
-- `client:ADDR`) for the throttle; the audit log of who did what; and the
-- tallies of sent issues, so that the dashboard does not count a million
-- recipients at every look.
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE TABLE sign_in_failures (
    scope TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_scope ON sign_in_failures(scope, at);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    client TEXT NOT NULL
);
-- A sent issue's recipients change only through the events recorded for it
-- (a later bounce), so its counts are kept with the number of its events
-- when they were taken, and counted again when that number moved.
CREATE TABLE tallies (
    slot TEXT PRIMARY KEY,
    finished_at TEXT,
    events INTEGER NOT NULL,
    counts TEXT NOT NULL
);
