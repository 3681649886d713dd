-- 2: what came back after a send (inbound mail and webhooks), each event once:
-- the same table as the SQLite engine's migration 2, shared by every host.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    natural_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    email TEXT NOT NULL,
    slot TEXT,
    source TEXT NOT NULL,
    status TEXT,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX events_by_email ON events(email, kind, at);
CREATE INDEX events_by_slot ON events(slot, kind);
