//! The sign-up surface holds up against replay and mail-bombing, over real
//! sockets: a confirmation link works once (a replay never lifts a later
//! unsubscribe), the sign-up limit counts mailboxes, not spellings (50
//! Gmail variants of one address get one mail), the per-client and global
//! caps answer 429 and hold across a restart (a client is the peer, or what
//! a trusted proxy says), and a client posting too fast is refused before
//! anything changes, on both engines.

use tipsheet::mail::token::Signer;

use crate::common::{SECRET, Site};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::server::{
    Reply, Serve, confirm_link, one_click, post_form, post_form_with, query, unsubscribe_path,
    wait_for,
};

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

/// Adds `lines` to `[server]`.
fn server_config(site: &Site, lines: &str) {
    site.config(
        "admin_token_env = \"TIPSHEET_ADMIN_TOKEN\"",
        &format!("admin_token_env = \"TIPSHEET_ADMIN_TOKEN\"\n{lines}"),
    );
}

fn sign_up(serve: &Serve, email: &str, forwarded_for: Option<&str>) -> Reply {
    let fields = [("email", email), ("name", "")];
    match forwarded_for {
        Some(f) => post_form_with(&serve.url("/subscribe"), &fields, &[("X-Forwarded-For", f)]),
        None => post_form(&serve.url("/subscribe"), &fields),
    }
}

fn mails(site: &Site, n: usize) {
    wait_for("the confirmation mails", || {
        (site.emls("state/outbox/confirmations").len() == n).then_some(())
    });
}

/// Three sign-ups an hour per client: the fourth is 429, also after a
/// restart; a header from a client that is no trusted proxy changes nothing,
/// and one from a trusted proxy names the client.
fn the_per_client_cap_answers_429_and_holds_across_a_restart(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    server_config(&site, "signups_per_client_per_hour = 3");
    let serve = Serve::start(&site);
    for i in 0..3 {
        let r = sign_up(&serve, &format!("r{i}@example.org"), None);
        assert_eq!(r.status, 200, "{r:?}");
    }
    let r = sign_up(&serve, "r3@example.org", Some("198.51.100.1"));
    assert_eq!(r.status, 429, "{r:?}");
    assert!(
        r.body.contains("from your address in the last hour"),
        "{r:?}"
    );
    mails(&site, 3); // Sent from the queue: wait before killing the server.
    drop(serve);
    let serve = Serve::start(&site);
    let r = sign_up(&serve, "r4@example.org", None);
    assert_eq!(r.status, 429, "{r:?}");
    // Privacy links count against the same cap.
    let r = post_form(&serve.url("/privacy"), &[("email", "ana@example.com")]);
    assert_eq!(r.status, 429, "{r:?}");
    drop(serve);

    // Behind a trusted proxy, each forwarded client has its own count.
    server_config(&site, "trusted_proxies = [\"127.0.0.0/8\"]");
    let serve = Serve::start(&site);
    let r = sign_up(&serve, "r5@example.org", Some("203.0.113.7, 198.51.100.1"));
    assert_eq!(r.status, 200, "{r:?}");
    let r = sign_up(&serve, "r6@example.org", None);
    assert_eq!(r.status, 429, "the proxy itself is still capped: {r:?}");
    mails(&site, 4);
}

on_both_engines!(the_per_client_cap_answers_429_and_holds_across_a_restart);

/// Two link mails an hour in all: the third is 429, also after a restart.
fn the_global_cap_answers_429_and_holds_across_a_restart(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    server_config(
        &site,
        "signups_per_hour = 2\nsignups_per_client_per_hour = 0",
    );
    let serve = Serve::start(&site);
    for email in ["g1@example.org", "g2@example.org"] {
        assert_eq!(sign_up(&serve, email, None).status, 200);
    }
    let r = sign_up(&serve, "g3@example.org", None);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.body.contains("a lot of emails right now"), "{r:?}");
    mails(&site, 2);
    drop(serve);
    let serve = Serve::start(&site);
    let r = sign_up(&serve, "g4@example.org", None);
    assert_eq!(r.status, 429, "{r:?}");
    drop(serve);
    // An hour later the window is over.
    let later = Serve::at(&site, "2026-11-26T13:00:01Z");
    assert_eq!(sign_up(&later, "g5@example.org", None).status, 200);
    mails(&site, 3);
}

on_both_engines!(the_global_cap_answers_429_and_holds_across_a_restart);

/// A client over its POST rate gets 429 with `Retry-After` before anything
/// is read or written: the reader it tried to unsubscribe stays subscribed.
fn posting_too_fast_is_refused_and_changes_nothing(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    server_config(&site, "post_burst = 3\nposts_per_minute = 1");
    let serve = Serve::start(&site);
    let signer = Signer::new(SECRET.as_bytes());
    let unsubscribe =
        |email: &str, token: &str| post_form(&serve.url(&unsubscribe_path(email, token)), &[]);
    // Genuine one-click unsubscribes are authenticated and idempotent, and
    // a mailbox provider posts them in bursts: never counted.
    for email in [
        "ana@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
    ] {
        let r = unsubscribe(email, &signer.unsubscribe_token(email));
        assert_eq!(r.status, 200, "{email}: {r:?}");
    }
    // Forged ones are: three answered (400), then 429 before any check.
    let forged = "0".repeat(32);
    for email in ["f1@example.com", "f2@example.com", "f3@example.com"] {
        assert_eq!(unsubscribe(email, &forged).status, 400, "{email}");
    }
    let before = site.suppressed();
    let r = unsubscribe("f4@example.com", &forged);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.body.contains("nothing was changed"), "{r:?}");
    let wait: u64 = r.headers["retry-after"].parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // So is every other state-changing POST from this client: a sign-up
    // over the rate sends nothing.
    let r = sign_up(&serve, "frank@example.org", None);
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(site.suppressed(), before);
    assert!(
        !site.path("state/outbox/confirmations").exists()
            || std::fs::read_dir(site.path("state/outbox/confirmations"))
                .unwrap()
                .count()
                == 0,
        "a refused sign-up must mail nothing"
    );
    // Pages are still served, and the webhooks are not counted here.
    assert_eq!(crate::server::get(&serve.url("/subscribe")).status, 200);
    let r = post_form(&serve.url("/webhooks/generic"), &[]);
    assert_ne!(r.status, 429, "{r:?}");
}

on_both_engines!(posting_too_fast_is_refused_and_changes_nothing);

/// A relay that takes two seconds a mail and a queue of one: a sign-up that
/// finds the queue full is told to try later (503), never "sent", and its
/// counts are given back, so the same address is accepted once there is room.
#[test]
fn a_full_mail_queue_answers_try_later_and_gives_the_limits_back() {
    let relay = crate::smtp_server::FaultServer::start(crate::smtp_server::Wire {
        delay_ms: 2000,
        ..crate::smtp_server::Wire::default()
    });
    let site = Site::new();
    site.use_smtp(relay.port, 1);
    server_config(&site, "mail_queue = 1");
    let serve = Serve::start(&site);
    let mut refused = None;
    for i in 0..4 {
        let email = format!("q{i}@example.org");
        let r = sign_up(&serve, &email, None);
        match r.status {
            200 => assert!(r.body.contains("Check your inbox"), "{r:?}"),
            503 => {
                assert!(r.body.contains("try again"), "{r:?}");
                refused.get_or_insert(email);
            }
            _ => panic!("{r:?}"),
        }
    }
    let refused = refused.expect("a sign-up finds the queue full");
    assert!(serve.stderr().contains("the mail queue is full"));
    // Once the relay has taken the queued mails, the refused address is
    // taken: its mailbox hour was given back.
    wait_for("the queued mails", || {
        (relay.mails().len() >= 2).then_some(())
    });
    let r = sign_up(&serve, &refused, None);
    assert_eq!(r.status, 200, "{r:?}");
    wait_for("the refused address's mail", || {
        relay
            .mails()
            .iter()
            .any(|m| m.to.contains(&refused))
            .then_some(())
    });
}
