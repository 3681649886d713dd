//! The signed link `/privacy` mails: how it is made, how it is checked, and
//! how long it works. Its token has a purpose of its own (`privacy`), so
//! neither an unsubscribe nor a confirmation token opens it, and it names
//! the address and the expiry.
//!
//! Owns the link's format and its token purpose. It must not read requests,
//! send mail or touch the store: `my_data.rs` does that.

use chrono::{DateTime, Utc};

use super::confirm::{LinkProblem, expiry};
use crate::mail::token::{Signer, encode_query};

/// How long a privacy link works.
pub const PRIVACY_VALID_MINUTES: i64 = 60;
/// Token purpose of privacy links.
const PRIVACY: &str = "privacy";

/// The signed part: the normalized address, percent-encoded (so `|` can
/// only be the separator), and the expiry.
fn privacy_message(key: &str, expires: i64) -> String {
    format!("{}|{expires}", encode_query(key))
}

/// `<base_url>/privacy/link?e=…&x=<expiry, unix seconds>&t=<token>`.
pub fn privacy_url(signer: &Signer, base_url: &str, key: &str, expires: i64) -> String {
    format!(
        "{}/privacy/link?e={}&x={expires}&t={}",
        base_url.trim_end_matches('/'),
        encode_query(key),
        signer.sign(PRIVACY, &privacy_message(key, expires))
    )
}

/// Checks a privacy link's parts (token in constant time), then its expiry.
pub fn verify_privacy(
    signer: &Signer,
    key: &str,
    expires: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkProblem> {
    let x = expiry(expires)?;
    if !signer.verify(PRIVACY, &privacy_message(key, x), token) {
        return Err(LinkProblem::Invalid);
    }
    if now.timestamp() > x {
        return Err(LinkProblem::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};

    use super::{privacy_url, verify_privacy};
    use crate::mail::token::Signer;
    use crate::web::LinkProblem;

    #[test]
    fn privacy_links_work_for_their_address_until_they_expire() {
        let s = Signer::new(b"k");
        let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let x = (t0 + TimeDelta::hours(1)).timestamp();
        let url = privacy_url(&s, "https://n.example.com/", "a|b@example.com", x);
        let t = url.rsplit_once("t=").unwrap().1;
        let xs = x.to_string();
        assert!(url.starts_with("https://n.example.com/privacy/link?e=a%7Cb%40example.com&x="));
        assert_eq!(verify_privacy(&s, "a|b@example.com", &xs, t, t0), Ok(()));
        let later = t0 + TimeDelta::minutes(61);
        assert_eq!(
            verify_privacy(&s, "a|b@example.com", &xs, t, later),
            Err(LinkProblem::Expired)
        );
        let invalid = [
            ("c@example.com", xs.as_str(), t),
            ("a|b@example.com", "1", t),
            ("a|b@example.com", xs.as_str(), "00"),
        ];
        for (e, x, t) in invalid {
            assert_eq!(verify_privacy(&s, e, x, t, t0), Err(LinkProblem::Invalid));
        }
        // Another purpose's token over the same text opens nothing here.
        let unsubscribe = s.unsubscribe_token("a|b@example.com");
        assert_eq!(
            verify_privacy(&s, "a|b@example.com", &xs, &unsubscribe, t0),
            Err(LinkProblem::Invalid)
        );
    }
}
