//! The sign-up surface holds up against replay and mail-bombing, over real
//! sockets: a confirmation link works once (a replay never lifts a later
//! unsubscribe), and the sign-up limit counts mailboxes, not spellings (50
//! Gmail variants of one address get one mail), on both engines.

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

/// Fifty sign-ups for spellings of one Gmail mailbox (dots, `+tags`, case,
/// googlemail.com): one confirmation mail, and "try later" (429) for the rest.
fn gmail_variants_of_one_mailbox_get_one_mail_and_429s(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    let mut statuses = Vec::new();
    for i in 0..50 {
        let local: String = "victim"
            .chars()
            .enumerate()
            .flat_map(|(at, c)| {
                let c = if (i >> at) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                };
                if at > 0 && (i + at) % 3 == 0 {
                    vec!['.', c]
                } else {
                    vec![c]
                }
            })
            .collect();
        let domain = if i % 4 == 0 {
            "googlemail.com"
        } else {
            "Gmail.com"
        };
        let email = if i % 2 == 0 {
            format!("{local}@{domain}")
        } else {
            format!("{local}+{i}@{domain}")
        };
        let r = post_form(
            &serve.url("/subscribe"),
            &[("email", email.as_str()), ("name", "Victim")],
        );
        statuses.push(r.status);
        if r.status == 429 {
            assert!(r.body.contains("try again later"), "{r:?}");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        49,
        "{statuses:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(site.emls("state/outbox/confirmations").len(), 1);
}

on_both_engines!(gmail_variants_of_one_mailbox_get_one_mail_and_429s);
