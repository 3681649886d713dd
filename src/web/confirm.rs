//! The signed confirmation link of a double opt-in sign-up: how it is made,
//! how it is checked, and how long it works.
//!
//! Owns the link's format and its token purpose. It must not read requests,
//! send mail or touch the store: the sign-up handlers do that.

use chrono::{DateTime, Utc};

use crate::mail::token::{Signer, encode_query};

/// How long a confirmation link works.
pub const CONFIRM_VALID_HOURS: i64 = 48;
/// One confirmation mail per address per this many minutes.
pub const CONFIRM_EVERY_MINUTES: i64 = 60;
/// Token purpose of confirmation links.
const CONFIRM: &str = "confirm";

/// Why a confirmation link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Missing parts, or a token that does not match them.
    Invalid,
    /// Genuine, but older than [`CONFIRM_VALID_HOURS`].
    Expired,
}

/// The signed part of a confirmation link. Fields are percent-encoded as in
/// the URL, so `|` can only be the separator (an address may contain `|`).
fn confirm_message(email: &str, name: &str, expires: i64) -> String {
    format!("{}|{}|{expires}", encode_query(email), encode_query(name))
}

/// `<base_url>/confirm?e=…&n=…&x=<expiry, unix seconds>&t=<token>`.
pub fn confirm_url(
    signer: &Signer,
    base_url: &str,
    email: &str,
    name: &str,
    expires: i64,
) -> String {
    format!(
        "{}/confirm?e={}&n={}&x={expires}&t={}",
        base_url.trim_end_matches('/'),
        encode_query(email),
        encode_query(name),
        signer.sign(CONFIRM, &confirm_message(email, name, expires))
    )
}

/// Checks a confirmation link's parts (token in constant time), then its expiry.
pub fn verify_confirm(
    signer: &Signer,
    email: &str,
    name: &str,
    expires: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkProblem> {
    let x = expiry(expires)?;
    if !signer.verify(CONFIRM, &confirm_message(email, name, x), token) {
        return Err(LinkProblem::Invalid);
    }
    if now.timestamp() > x {
        return Err(LinkProblem::Expired);
    }
    Ok(())
}

/// A link's `x` (unix seconds, digits only), or [`LinkProblem::Invalid`].
pub(super) fn expiry(expires: &str) -> Result<i64, LinkProblem> {
    let digits =
        !expires.is_empty() && expires.len() <= 19 && expires.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| expires.parse::<i64>().ok())
        .flatten()
        .ok_or(LinkProblem::Invalid)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};

    use super::{LinkProblem, confirm_url, verify_confirm};
    use crate::mail::token::Signer;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn confirm_links_verify_until_they_expire_and_only_unchanged() {
        let s = Signer::new(b"k");
        let x = (t0() + TimeDelta::hours(48)).timestamp();
        let url = confirm_url(
            &s,
            "https://n.example.com/",
            "A|b@example.com",
            "Ana | Lee",
            x,
        );
        let q = url.split_once('?').unwrap().1;
        let get = |k: &str| {
            q.split('&')
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .map(|v| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8()
                        .unwrap()
                        .to_string()
                })
                .unwrap()
        };
        let (e, n, xs, t) = (get("e"), get("n"), get("x"), get("t"));
        assert_eq!((e.as_str(), n.as_str()), ("A|b@example.com", "Ana | Lee"));
        assert_eq!(verify_confirm(&s, &e, &n, &xs, &t, t0()), Ok(()));
        let later = t0() + TimeDelta::hours(49);
        assert_eq!(
            verify_confirm(&s, &e, &n, &xs, &t, later),
            Err(LinkProblem::Expired)
        );
        let cases: &[(&str, &str, &str, &str)] = &[
            ("B|b@example.com", &n, &xs, &t),
            (&e, "Ana", &xs, &t),
            (&e, &n, &(x + 3600).to_string(), &t),
            (&e, &n, "-1", &t),
            (&e, &n, "", &t),
            (&e, &n, "99999999999999999999999", &t),
            (&e, &n, &xs, "00"),
            (&e, &n, &xs, ""),
            ("A", "b@example.com|Ana | Lee", &xs, &t),
        ];
        for (e, n, x, t) in cases {
            assert_eq!(
                verify_confirm(&s, e, n, x, t, t0()),
                Err(LinkProblem::Invalid),
                "{e} {n} {x} {t}"
            );
        }
        assert_eq!(
            verify_confirm(&Signer::new(b"other"), &e, &n, &xs, &t, t0()),
            Err(LinkProblem::Invalid)
        );
    }
}
