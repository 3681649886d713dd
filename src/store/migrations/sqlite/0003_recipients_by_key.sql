-- 3: a recipient's row is written three times a message (claimed, in flight,
-- its result), and each write that changed `status` also deleted and inserted
-- an entry of `recipients_by_status`: a second b-tree to update, and pages to
-- write at every commit. Reading pages of recipients walks the primary key
-- (slot, email) from the cursor and keeps the rows whose status is due, which
-- past the cursor is nearly all of them, as on PostgreSQL since its migration 3.
DROP INDEX IF EXISTS recipients_by_status;
