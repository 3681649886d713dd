-- 12: the same as the SQLite engine's migration 12, shared by every host:
-- the messages handed to a relay per minute (minutes since the Unix epoch,
-- UTC), which every host reserves from under an advisory lock so that the
-- caps hold between them, and the relay that carried each message.
CREATE TABLE quota_minutes (
    minute BIGINT PRIMARY KEY,
    sent BIGINT NOT NULL
);
ALTER TABLE recipients ADD COLUMN relay TEXT;
