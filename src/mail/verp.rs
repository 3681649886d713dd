//! VERP and mailto tokens: the `+<token>` in the envelope sender and the
//! List-Unsubscribe `mailto:` address of each message.
//!
//! A token is `<issue number>-<rid>-<tag>`: `rid` is the first 12 hex digits of
//! the hash in the recipient's Message-ID (so it names exactly one (issue,
//! recipient) row of the ledger), and `tag` an HMAC from [`Signer`] over the
//! rest, bound to the token's purpose, so a token made for the bounce address
//! does not work as a mailto unsubscribe and a forged one is recognised.
//! This module makes and checks tokens; it does not look rows up or change
//! anything (that is `inbound`'s job).

use crate::mail::token::Signer;

/// Hex digits of the Message-ID hash kept in a token.
pub(crate) const RID_LEN: usize = 12;

/// What a token is for; each has its own HMAC purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The envelope sender (bounces come back to it).
    Bounce,
    /// The List-Unsubscribe `mailto:` address.
    Unsubscribe,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "verp-bounce",
            Self::Unsubscribe => "verp-unsubscribe",
        }
    }
}

/// A token whose tag verified: the row it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// The issue number.
    pub number: u32,
    /// The first [`RID_LEN`] hex digits of the Message-ID hash.
    pub rid: String,
}

/// What checking a token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Made by us, for this purpose.
    Valid(Token),
    /// Shaped like a token, but its tag does not verify (forged, altered, or
    /// made under another secret).
    Forged(String),
    /// Not shaped like a token at all.
    Malformed(String),
}

/// The slot date and row id of a Message-ID we made (`<slot.hash@domain>`), or `None`.
pub(crate) fn rid_of_message_id(message_id: &str) -> Option<(chrono::NaiveDate, String)> {
    let inner = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (left, _domain) = inner.split_once('@')?;
    let (slot, hash) = left.split_once('.')?;
    let date = chrono::NaiveDate::parse_from_str(slot, "%Y-%m-%d").ok()?;
    let valid_hash = hash.len() >= RID_LEN && hash.bytes().all(|b| b.is_ascii_hexdigit());
    (slot.len() == 10 && valid_hash).then(|| (date, hash[..RID_LEN].to_ascii_lowercase()))
}

fn signed_part(number: u32, rid: &str) -> String {
    format!("{number}-{rid}")
}

/// The token for row `rid` of issue `number`.
pub(crate) fn make(signer: &Signer, purpose: Purpose, number: u32, rid: &str) -> String {
    let body = signed_part(number, rid);
    let tag = signer.sign(purpose.as_str(), &body);
    format!("{body}-{tag}")
}

/// `local+<token>@domain` for a plain `local@domain`.
pub(crate) fn address(base: &str, token: &str) -> String {
    match base.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{token}@{domain}"),
        None => format!("{base}+{token}"),
    }
}

/// The token in `candidate` when it is `local+<token>@domain` of `base`
/// (compared case-insensitively, as mail systems do), else `None`.
pub(crate) fn token_in<'a>(base: &str, candidate: &'a str) -> Option<&'a str> {
    let (local, domain) = base.rsplit_once('@')?;
    let c = candidate
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (c_local, c_domain) = c.rsplit_once('@')?;
    if !c_domain.eq_ignore_ascii_case(domain) {
        return None;
    }
    let (c_base, token) = c_local.split_once('+')?;
    c_base.eq_ignore_ascii_case(local).then_some(token)
}

/// Checks a token (case-insensitively: some relays lowercase local parts, and
/// the token is lowercase hex anyway).
pub(crate) fn check(signer: &Signer, purpose: Purpose, token: &str) -> Check {
    let token = token.trim().to_ascii_lowercase();
    let mut parts = token.splitn(3, '-');
    let (Some(number), Some(rid), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Check::Malformed(token);
    };
    let Ok(n) = number.parse::<u32>() else {
        return Check::Malformed(token);
    };
    if rid.len() != RID_LEN || !rid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Check::Malformed(token);
    }
    if signer.verify(purpose.as_str(), &signed_part(n, rid), tag) {
        Check::Valid(Token {
            number: n,
            rid: rid.to_string(),
        })
    } else {
        Check::Forged(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_are_told_apart() {
        let s = Signer::new(b"k");
        let (slot, rid) =
            rid_of_message_id("<2026-12-01.eadc43eeee68774e0cb4@example.com>").unwrap();
        assert_eq!(
            (slot.to_string().as_str(), rid.as_str()),
            ("2026-12-01", "eadc43eeee68")
        );
        let t = make(&s, Purpose::Bounce, 7, &rid);
        let a = address("bounces@example.com", &t);
        assert!(a.len() - "@example.com".len() <= 64, "{a}");
        let upper = a.to_uppercase();
        let found = token_in("bounces@example.com", &upper).unwrap();
        assert_eq!(
            check(&s, Purpose::Bounce, found),
            Check::Valid(Token {
                number: 7,
                rid: rid.clone()
            })
        );
        // Another purpose, another secret, another row, garbage.
        assert!(matches!(
            check(&s, Purpose::Unsubscribe, &t),
            Check::Forged(_)
        ));
        assert!(matches!(
            check(&Signer::new(b"other"), Purpose::Bounce, &t),
            Check::Forged(_)
        ));
        let altered = t.replacen("7-", "8-", 1);
        assert!(matches!(
            check(&s, Purpose::Bounce, &altered),
            Check::Forged(_)
        ));
        assert!(matches!(
            check(&s, Purpose::Bounce, "hello"),
            Check::Malformed(_)
        ));
        assert_eq!(token_in("bounces@example.com", "bounces@example.com"), None);
        assert_eq!(token_in("bounces@example.com", "bounces+x@other.com"), None);
        assert_eq!(rid_of_message_id("<abc@gmail.com>"), None);
    }
}
