-- 4: why a failure happened, whose problem it was and at which receiving
-- domain (the SQLite engine's migration 4).
ALTER TABLE events ADD COLUMN failure_reason TEXT;
ALTER TABLE events ADD COLUMN scope TEXT;
ALTER TABLE events ADD COLUMN provider TEXT;
