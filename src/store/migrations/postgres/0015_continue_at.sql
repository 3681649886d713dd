-- 15: the same column as the SQLite engine's migration 15, shared by every
-- host: when a send stopped at a cap may continue (RFC 3339, UTC), so that
-- `tipsheet run` (after a restart too) and `send --if-due` on any host
-- continue the issue then, past its grace. NULL otherwise: cleared when a
-- send of the issue starts, and when it is marked sent.
ALTER TABLE issues ADD COLUMN continue_at TEXT;
