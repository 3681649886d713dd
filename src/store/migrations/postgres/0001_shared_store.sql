-- The shared store: the same ledger as the SQLite engine's migration 1
-- (issues, recipients; times as RFC 3339 text), plus what the file engine
-- keeps in CSV files or in memory: the list, the suppressions and the
-- confirmation-mail limit. Recipients carry a lease so that several hosts
-- can send one issue; issues carry the frozen rendered issue.
CREATE TABLE issues (
    slot TEXT PRIMARY KEY,
    number INTEGER NOT NULL,
    comparisons TEXT NOT NULL,
    tip TEXT NOT NULL,
    status TEXT NOT NULL,
    assembled_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    -- The rendered issue, frozen by the first host to send it.
    rendered BYTEA
);
CREATE INDEX issues_by_number ON issues(number);

CREATE TABLE recipients (
    slot TEXT NOT NULL REFERENCES issues(slot),
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_code INTEGER,
    last_reply TEXT,
    message_id TEXT,
    updated_at TEXT NOT NULL,
    -- The host holding this row and until when (the database's clock).
    claimed_by TEXT,
    lease_until TIMESTAMPTZ,
    PRIMARY KEY (slot, email)
);
CREATE INDEX recipients_by_status ON recipients(slot, status, email);

-- The list of record: the file engine's subscribers.csv.
CREATE TABLE subscribers (
    email TEXT PRIMARY KEY,          -- normalized key
    address TEXT NOT NULL,           -- as written
    name TEXT NOT NULL,
    subscribed_at TEXT               -- RFC 3339, when known
);

-- Current suppressions: the file engine's suppressed.csv, resolved.
CREATE TABLE suppressions (
    email TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);

-- One confirmation mail per address per window, shared by every `serve`.
CREATE TABLE confirmations (
    email TEXT PRIMARY KEY,
    sent_at TIMESTAMPTZ NOT NULL
);
