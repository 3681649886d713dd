//! The rules for an address and a name, shared by the list files and the
//! server's sign-up form: what is a valid address, its key, and how a name is
//! cleaned. Owns the messages' facts (why an address is invalid), not their
//! wording: each caller words them for its reader.

use lettre::Address;
use lettre::address::AddressError;

/// Longest address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Why a value is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressProblem {
    /// Nothing there.
    Empty,
    /// Longer than [`MAX_EMAIL_CHARS`].
    TooLong,
    /// Not an address; `hint` says what to fix.
    Invalid {
        /// E.g. "it contains a space".
        hint: &'static str,
    },
}

/// Normalize an address into the key used for dedupe, suppression and tokens.
pub fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}

/// The mailbox an address reaches, as the sign-up limit counts it: lowercase,
/// a `+tag` removed from the local part, and for Gmail (`gmail.com`, and
/// `googlemail.com` as `gmail.com`) the dots of the local part removed. Only
/// a limit's key: mail still goes to the address as typed.
pub(crate) fn canonical_mailbox(address: &str) -> String {
    let key = normalize(address);
    let Some((local, domain)) = key.rsplit_once('@') else {
        return key;
    };
    let local = match local.split_once('+') {
        Some((base, _)) if !base.is_empty() => base,
        _ => local,
    };
    if matches!(domain, "gmail.com" | "googlemail.com") {
        let local: String = local.chars().filter(|&c| c != '.').collect();
        return format!("{local}@gmail.com");
    }
    format!("{local}@{domain}")
}

/// Validates a trimmed address.
pub(crate) fn check(raw: &str) -> Result<Address, AddressProblem> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AddressProblem::Empty);
    }
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err(AddressProblem::TooLong);
    }
    value.parse::<Address>().map_err(|e| {
        let hint = if value.contains(['<', '>']) {
            "write only the address, without a name or `<>`"
        } else if value.chars().any(char::is_whitespace) {
            "it contains a space"
        } else if !value.contains('@') {
            "it has no `@`"
        } else if value.matches('@').count() > 1 {
            "it has more than one `@`"
        } else if e == AddressError::InvalidDomain {
            "the part after `@` is not a valid domain"
        } else {
            "the part before `@` is not valid"
        };
        AddressProblem::Invalid { hint }
    })
}

/// Characters that would break a line or a header: controls and Unicode
/// line/paragraph separators.
pub(crate) fn is_breaking(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{0085}')
}

/// Replace control characters and line/paragraph separators with spaces,
/// collapse runs of spaces, trim, and keep at most `max_chars` characters.
pub fn clean_text(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    for c in value.chars() {
        let c = if is_breaking(c) { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if count == max_chars {
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::canonical_mailbox;

    #[test]
    fn gmail_variants_share_one_canonical_mailbox_and_others_keep_their_dots() {
        for variant in [
            "victim@gmail.com",
            "Victim@Gmail.com",
            "v.i.c.t.i.m@gmail.com",
            "victim+1@gmail.com",
            "V.ictim+news+2@googlemail.com",
            "  victim@GOOGLEMAIL.COM ",
        ] {
            assert_eq!(canonical_mailbox(variant), "victim@gmail.com", "{variant}");
        }
        assert_eq!(
            canonical_mailbox("Ana.Lee+tips@Example.com"),
            "ana.lee@example.com"
        );
        assert_ne!(
            canonical_mailbox("ana.lee@example.com"),
            canonical_mailbox("analee@example.com")
        );
        // A local part that is only a tag is kept whole.
        assert_eq!(canonical_mailbox("+x@example.com"), "+x@example.com");
        assert_eq!(canonical_mailbox("no-at-sign"), "no-at-sign");
    }
}
