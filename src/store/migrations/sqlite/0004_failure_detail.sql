-- 4: why a failure happened, whose problem it was and at which receiving
-- domain, kept with each event a mail system classified, so `status` can
-- count failures that never count against a reader by reason and provider.
ALTER TABLE events ADD COLUMN failure_reason TEXT;
ALTER TABLE events ADD COLUMN scope TEXT;
ALTER TABLE events ADD COLUMN provider TEXT;
