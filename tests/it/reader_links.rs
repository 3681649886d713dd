//! Reader links by purpose, over real sockets on both engines: the
//! unsubscribe token unsubscribes and nothing else; "Download my data" and
//! "Delete my data" work only through a link mailed on request from
//! `/privacy`, whose `GET` changes nothing and whose erasure works once; the
//! request page is the same for an address we know and one we do not.

use std::collections::HashMap;

use tipsheet::mail::token::{Signer, encode_query};

use crate::common::{NOW, SECRET, Site, parse};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::server::{Reply, Serve, get, post_form, query, wait_for};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `subscribers show EMAIL --json`, as the operator sees the reader.
pub fn shown(site: &Site, email: &str) -> serde_json::Value {
    let r = site.run(&["subscribers", "show", email, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    json(&r.stdout)
}

/// The privacy links mailed to `email` so far (the outbox), as query values.
pub fn mailed_links(site: &Site, email: &str) -> Vec<HashMap<String, String>> {
    site.emls("state/outbox/confirmations")
        .iter()
        .map(|raw| parse(raw))
        .filter(|m| m.to.eq_ignore_ascii_case(email))
        .filter_map(|m| {
            let at = m.text.find("https://news.example.com/privacy/link?")?;
            let q = query(m.text[at..].split_whitespace().next()?);
            (q.get("t").map(String::len) == Some(32)).then_some(q)
        })
        .collect()
}

/// Asks `/privacy` for a link to `email` and waits for the mail.
pub fn request_link(serve: &Serve, site: &Site, email: &str) -> HashMap<String, String> {
    let before = mailed_links(site, email).len();
    let r = post_form(&serve.url("/privacy"), &[("email", email)]);
    assert_eq!(r.status, 200, "{r:?}");
    wait_for("the privacy link in the outbox", || {
        mailed_links(site, email).into_iter().nth(before)
    })
}

/// A privacy link for `email` made with the test secret, valid an hour from `NOW`.
pub fn made_link(email: &str) -> HashMap<String, String> {
    let x = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .timestamp()
        + 3600;
    let url = tipsheet::web::privacy_url(&Signer::new(SECRET.as_bytes()), "", email, x);
    query(&url)
}

/// POSTs a privacy link's own fields with `action`.
pub fn act(serve: &Serve, link: &HashMap<String, String>, action: &str) -> Reply {
    post_form(
        &serve.url("/privacy/link"),
        &[
            ("e", link["e"].as_str()),
            ("x", link["x"].as_str()),
            ("t", link["t"].as_str()),
            ("action", action),
        ],
    )
}

/// The link's `GET` path.
fn link_path(link: &HashMap<String, String>) -> String {
    format!(
        "/privacy/link?e={}&x={}&t={}",
        encode_query(&link["e"]),
        link["x"],
        link["t"]
    )
}

fn the_unsubscribe_token_cannot_export_or_erase(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let before = shown(&site, "carol@example.com");
    let serve = Serve::start(&site);
    let token = Signer::new(SECRET.as_bytes()).unsubscribe_token("carol@example.com");
    let q = format!(
        "e={}&t={}",
        encode_query("carol@example.com"),
        encode_query(&token)
    );
    // The old routes are gone: 404 (or 405) with the token, by GET or POST.
    for path in ["/privacy/data", "/privacy/delete"] {
        let r = get(&serve.url(&format!("{path}?{q}")));
        assert!([404, 405].contains(&r.status), "GET {path}: {r:?}");
        assert!(!r.body.contains("carol"), "{r:?}");
        let r = post_form(
            &serve.url(path),
            &[("e", "carol@example.com"), ("t", &token)],
        );
        assert!([404, 405].contains(&r.status), "POST {path}: {r:?}");
    }
    // The new ones refuse it, whatever it is posted as.
    for action in ["download", "delete"] {
        let fields = [
            ("e", "carol@example.com"),
            ("x", "9999999999"),
            ("t", token.as_str()),
            ("action", action),
        ];
        let r = post_form(&serve.url("/privacy/link"), &fields);
        assert_eq!(r.status, 400, "{action}: {r:?}");
        assert!(!r.body.contains("\"list\""), "{r:?}");
    }
    // The unsubscribe page points to /privacy and carries no data form.
    let page = get(&serve.url(&format!("/unsubscribe?{q}")));
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("href=\"privacy\""), "{page:?}");
    assert!(page.body.contains("Manage your data"), "{page:?}");
    assert!(!page.body.contains("Delete my data"), "{page:?}");
    drop(serve);
    assert_eq!(shown(&site, "carol@example.com"), before);
    assert_eq!(before["list"].as_array().map(Vec::len), Some(1), "{before}");
}

on_both_engines!(the_unsubscribe_token_cannot_export_or_erase);

fn the_mailed_privacy_link_works_once(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    let link = request_link(&serve, &site, "Carol@Example.com");
    assert_eq!(link["e"], "carol@example.com");
    let expected = shown(&site, "carol@example.com");

    // A GET shows both buttons and changes nothing (mail scanners fetch links).
    let page = get(&serve.url(&link_path(&link)));
    assert_eq!(page.status, 200, "{page:?}");
    for button in ["Download my data", "Delete my data"] {
        assert!(page.body.contains(button), "{page:?}");
    }
    assert!(
        page.body.contains("name=\"action\" value=\"download\"")
            && page.body.contains("name=\"action\" value=\"delete\""),
        "{page:?}"
    );
    let again = get(&serve.url(&link_path(&link)));
    assert_eq!(again.body, page.body);
    assert_eq!(shown(&site, "carol@example.com"), expected);

    // Download: the JSON of `show --json` (with this request's own time),
    // as a file; the link still works after it.
    let data = act(&serve, &link, "download");
    assert_eq!(data.status, 200, "{data:?}");
    assert!(data.headers["content-type"].starts_with("application/json"));
    assert!(data.headers["content-disposition"].starts_with("attachment"));
    let v = json(&data.body);
    assert_eq!(v, expected);
    assert!(
        v["privacy_link_sent_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-11-26T12:0")),
        "{v}"
    );
    assert_eq!(act(&serve, &link, "download").status, 200);

    // Another address's fields under this token: refused, nothing shown.
    let mut borrowed = link.clone();
    borrowed.insert("e".into(), "ana@example.com".into());
    let r = act(&serve, &borrowed, "download");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(!r.body.contains("Ana"), "{r:?}");
    let r = act(&serve, &link, "something");
    assert_eq!(r.status, 400, "{r:?}");

    // Delete: once.
    let r = act(&serve, &link, "delete");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Your data is deleted"), "{r:?}");
    let erased = shown(&site, "carol@example.com");
    assert_eq!(erased["forgotten"], true, "{erased}");
    assert!(erased["list"].as_array().unwrap().is_empty(), "{erased}");
    let r = act(&serve, &link, "delete");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("This link was already used"), "{r:?}");
    let r = act(&serve, &link, "download");
    assert!(r.body.contains("This link was already used"), "{r:?}");
    let r = get(&serve.url(&link_path(&link)));
    assert!(r.body.contains("This link was already used"), "{r:?}");
    // Also after a restart: the spent link is in the store.
    drop(serve);
    let serve = Serve::start(&site);
    let r = act(&serve, &link, "delete");
    assert!(r.body.contains("This link was already used"), "{r:?}");
    assert_eq!(shown(&site, "carol@example.com"), erased);
}

on_both_engines!(the_mailed_privacy_link_works_once);

fn unknown_and_known_addresses_get_the_same_page(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    let known = post_form(&serve.url("/privacy"), &[("email", "carol@example.com")]);
    let unknown = post_form(&serve.url("/privacy"), &[("email", "zed@example.org")]);
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(
        known.body.replace("carol@example.com", "X"),
        unknown.body.replace("zed@example.org", "X")
    );
    // Only the known address is mailed; the unknown one's request was
    // worked through by the same queue (mailed after it would have been).
    wait_for("carol's link", || {
        mailed_links(&site, "carol@example.com").pop()
    });
    let suppressed = post_form(&serve.url("/privacy"), &[("email", "sam@example.com")]);
    assert_eq!(suppressed.status, 200, "{suppressed:?}");
    wait_for("sam's link (suppressed: his data is kept)", || {
        mailed_links(&site, "sam@example.com").pop()
    });
    assert!(mailed_links(&site, "zed@example.org").is_empty());
    assert_eq!(site.emls("state/outbox/confirmations").len(), 2);
    // Asked again within the hour, either one: the same 429.
    let known = post_form(&serve.url("/privacy"), &[("email", "carol@example.com")]);
    let unknown = post_form(&serve.url("/privacy"), &[("email", "zed@example.org")]);
    assert_eq!((known.status, unknown.status), (429, 429));
    assert_eq!(known.body, unknown.body);
    // A link made for the unknown address shows nothing of anyone.
    let r = act(&serve, &made_link("zed@example.org"), "download");
    assert_eq!(r.status, 200, "{r:?}");
    let v = json(&r.body);
    assert!(v["list"].as_array().unwrap().is_empty(), "{v}");
}

on_both_engines!(unknown_and_known_addresses_get_the_same_page);
