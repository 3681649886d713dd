-- 10: approvals, as the SQLite engine's migration 10 (the issues table here
-- has kept the rendered issue since migration 1). Each approval is a row of
-- its own (who, when, the SHA-256 of the rendered issue approved), seen by
-- every host.
CREATE TABLE approvals (
    id BIGSERIAL PRIMARY KEY,
    slot TEXT NOT NULL REFERENCES issues(slot),
    number INTEGER NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    reassembled BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX approvals_by_slot ON approvals(slot, id);
