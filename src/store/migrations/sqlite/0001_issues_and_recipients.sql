CREATE TABLE issues (
        slot TEXT PRIMARY KEY,
        number INTEGER NOT NULL,
        comparisons TEXT NOT NULL,
        tip TEXT NOT NULL,
        status TEXT NOT NULL,
        assembled_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
    );
    CREATE TABLE recipients (
        slot TEXT NOT NULL REFERENCES issues(slot),
        email TEXT NOT NULL,
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_code INTEGER,
        last_reply TEXT,
        message_id TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (slot, email)
    ) WITHOUT ROWID;
    CREATE INDEX recipients_by_status ON recipients(slot, status, email);
