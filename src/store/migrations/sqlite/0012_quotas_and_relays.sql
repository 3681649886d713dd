-- 12: quotas and relays. `quota_minutes` counts the messages handed to a
-- relay in each minute (minutes since the Unix epoch, UTC); `[delivery]`'s
-- caps sum it over the last hour and day, and a run reserves its sends here
-- before they go out. `recipients.relay` names the relay that carried (or
-- refused) each message.
CREATE TABLE quota_minutes (
    minute INTEGER PRIMARY KEY,
    sent INTEGER NOT NULL
);
ALTER TABLE recipients ADD COLUMN relay TEXT;
