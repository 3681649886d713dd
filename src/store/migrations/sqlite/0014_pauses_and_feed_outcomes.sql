-- 14: what the console warns about. Each provider pause a run ended with
-- (a receiving domain, or the relay itself when `provider` is NULL, paused
-- after `refusals` sender-level refusals in a row; `left_pending` readers
-- left pending by it), one row per pause, all of one run with the same
-- `paused_at`. And each feed's last fetch: when it was tried, when it last
-- succeeded, and why the last try failed (NULL when it succeeded).
CREATE TABLE pauses (
    id INTEGER PRIMARY KEY,
    slot TEXT NOT NULL,
    provider TEXT,
    refusals INTEGER NOT NULL,
    last_reply TEXT NOT NULL,
    left_pending INTEGER NOT NULL,
    paused_at TEXT NOT NULL
);
CREATE INDEX pauses_by_slot ON pauses(slot, paused_at);
CREATE INDEX pauses_by_time ON pauses(paused_at);
CREATE TABLE feed_outcomes (
    url TEXT PRIMARY KEY,
    attempted_at TEXT NOT NULL,
    succeeded_at TEXT,
    error TEXT
);
