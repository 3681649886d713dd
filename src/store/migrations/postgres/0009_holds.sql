-- 9: the same table as the SQLite engine's migration 9, shared by every host.
-- An issue on hold is sent by no command on any host until it is released; a send in progress sees the hold between pages and stops. One
-- row per held slot (`YYYY-MM-DD`), with why and when it was set.
CREATE TABLE holds (
    slot TEXT PRIMARY KEY,
    reason TEXT,
    held_at TEXT NOT NULL
);
