-- 3: a recipient's row is written three times a message (claimed under a
-- lease, marked in flight, its result). While `status` was indexed, each of
-- those writes put a new entry into both indexes and a whole new row on
-- another page: about 175 µs of server CPU a message, more than the SMTP sink
-- spent. With no index naming `status`, and room left on every page, they are
-- heap-only (HOT) updates: the row version stays on its page and no index
-- changes. Claims walk the primary key (slot, email) from the cursor and keep
-- the rows whose status is due, which past the cursor is nearly all of them.
-- (The SQLite engine drops it in its own migration 3: there it saved a B-tree
-- update per write, about 5% of a send.)
DROP INDEX IF EXISTS recipients_by_status;
-- Pages written from now on (a freeze's rows) are filled to half, leaving
-- room for the newer versions of their rows; pruning reclaims the dead ones.
ALTER TABLE recipients SET (fillfactor = 50);
