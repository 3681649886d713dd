//! The sign-up surface holds up against replay and mail-bombing, over real
//! sockets: a confirmation link works once (a replay never lifts a later
//! unsubscribe), on both engines.

use tipsheet::mail::token::Signer;

use crate::common::{SECRET, Site};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::server::{Serve, confirm_link, one_click, post_form, query, unsubscribe_path, wait_for};

fn a_replayed_confirmation_does_not_lift_a_later_unsubscribe(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    let email = "nia@example.com";
    let r = post_form(
        &serve.url("/subscribe"),
        &[("email", email), ("name", "Nia")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let mail = wait_for("the confirmation mail", || {
        site.emls("state/outbox/confirmations").into_iter().next()
    });
    let q = query(&confirm_link(&mail));
    let fields: Vec<(&str, &str)> = ["e", "n", "x", "t"]
        .iter()
        .map(|k| (*k, q[*k].as_str()))
        .collect();
    let first = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.body.contains("Nia"), "{first:?}");
    assert!(!site.suppressed().iter().any(|(e, _)| e == email));

    let token = Signer::new(SECRET.as_bytes()).unsubscribe_token(email);
    let r = one_click(&serve.url(&unsubscribe_path(email, &token)));
    assert_eq!(r.status, 200, "{r:?}");
    let after_unsubscribe = site.suppressed();
    assert!(
        after_unsubscribe.iter().any(|(e, _)| e == email),
        "{after_unsubscribe:?}"
    );

    // The same POST again: the link is spent, the reader stays unsubscribed.
    let replay = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(replay.status, 200, "{replay:?}");
    assert!(replay.body.contains("used already"), "{replay:?}");
    assert_eq!(site.suppressed(), after_unsubscribe);
    // Also after a restart: the spent link is in the store, not in memory.
    drop(serve);
    let again = Serve::start(&site);
    let replay = post_form(&again.url("/confirm"), &fields);
    assert!(replay.body.contains("used already"), "{replay:?}");
    assert_eq!(site.suppressed(), after_unsubscribe);
}

on_both_engines!(a_replayed_confirmation_does_not_lift_a_later_unsubscribe);
