-- 15: when a send stopped at a cap may continue. A send that reaches one of
-- `[delivery]`'s caps leaves its readers pending and keeps here the time the
-- cap has room again (RFC 3339, UTC), so that `tipsheet run` (after a
-- restart too) and `send --if-due` continue the issue then, past its grace.
-- NULL otherwise: cleared when a send of the issue starts, and when it is
-- marked sent.
ALTER TABLE issues ADD COLUMN continue_at TEXT;
