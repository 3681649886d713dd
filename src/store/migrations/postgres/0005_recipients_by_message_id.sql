-- 5: the exact lookup of a quoted Message-ID (the SQLite engine's migration
-- 5). Only the write that records a result sets `message_id`, so the other
-- writes of a recipient's row stay heap-only (see migration 3).
CREATE INDEX recipients_by_message_id ON recipients(message_id);
