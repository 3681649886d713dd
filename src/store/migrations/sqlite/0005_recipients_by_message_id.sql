-- 5: a complaint or report that quotes one of our Message-IDs names its row
-- by an exact lookup of that ID (the quoted ID is looked up as a whole, never
-- by a prefix a stranger could compute), which this index makes one probe.
CREATE INDEX recipients_by_message_id ON recipients(message_id);
