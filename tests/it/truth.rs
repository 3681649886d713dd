//! Exit codes that tell the truth about mail that left: a store failure after
//! the messages went out is never "nothing was sent" (exit 2), and a frozen
//! render that cannot be read back stops the send instead of being replaced
//! by a local render (every host must send the same bytes).
//!
//! Needs `TIPSHEET_TEST_POSTGRES` (a trigger makes the store refuse one
//! statement, a row holds a broken render); skipped with one line otherwise.

use crate::hosts::{SLOT, hosts};
use crate::pg;
use crate::smtp_server::{FaultServer, Wire};

#[test]
fn a_store_failure_after_the_mail_left_is_not_nothing_was_sent() {
    let Some(db) = pg::fresh("truth::after_the_mail_left") else {
        return;
    };
    let server = FaultServer::start(Wire::default());
    let sites = hosts(&db, 1, 5, server.port, 2);
    // The store refuses to mark the issue sent, after every message went out.
    db.query(
        "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refusing to mark the issue sent'; END $$",
    );
    db.query(
        "CREATE TRIGGER refuse_sent BEFORE UPDATE ON issues FOR EACH ROW
         WHEN (NEW.status = 'sent') EXECUTE FUNCTION refuse_sent()",
    );
    let r = sites[0].run(&["send"]);
    assert_eq!(server.count(), 5, "every message left: {r:?}");
    assert_ne!(r.code, 2, "exit 2 says nothing was sent: {r:?}");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("refusing to mark the issue sent"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("nothing was sent"), "{r:?}");
    // Every delivery is recorded; only the issue's own status could not be.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM recipients WHERE status = 'sent'"),
        5
    );
    db.query("DROP TRIGGER refuse_sent ON issues");
    let again = sites[0].run(&["send"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(server.count(), 5, "nobody mailed twice: {again:?}");
}

#[test]
fn a_frozen_render_that_cannot_be_read_stops_the_send() {
    let Some(db) = pg::fresh("truth::broken_render") else {
        return;
    };
    let server = FaultServer::start(Wire::default());
    let sites = hosts(&db, 1, 3, server.port, 2);
    // Another host froze the issue with a render this one cannot read.
    db.query(&format!(
        "INSERT INTO issues (slot, number, comparisons, tip, status, assembled_at, rendered)
         VALUES ('{SLOT}', 1,
           'data-analyst-vs-data-scientist,ux-designer-vs-ui-designer,paralegal-vs-legal-assistant',
           'ask-for-the-salary-range-before-the-first-interview', 'assembled',
           '2026-11-30T00:00:00Z', 'not a render'::bytea)"
    ));
    let r = sites[0].run(&["send"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("frozen in the store cannot be read"),
        "{r:?}"
    );
    assert_eq!(server.count(), 0, "nothing was sent: {r:?}");
}
