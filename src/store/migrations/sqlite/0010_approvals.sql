-- 10: approvals. An issue can be staged (selection and rendered copy) before
-- any recipient is frozen, so that what an editor approved is what is sent;
-- each approval is a row of its own (who, when, the SHA-256 of the rendered
-- issue approved), so the history stays.
ALTER TABLE issues ADD COLUMN rendered BLOB;
CREATE TABLE approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slot TEXT NOT NULL REFERENCES issues(slot),
    number INTEGER NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    reassembled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX approvals_by_slot ON approvals(slot, id);
