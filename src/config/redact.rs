//! Hiding the password of a URL wherever one is shown: config output, the
//! store's errors and logs.
//!
//! Owns the one redaction, for both places a URL carries a password: the
//! userinfo (`user:secret@host`) and `password=` query parameters (accepted
//! by libpq-style parsers too). Must not parse a URL for any other purpose or
//! connect to anything.

/// The URL with any password replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_string();
    };
    let after = scheme_end + 3;
    let rest = &raw[after..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = raw[..after].to_string();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    // Every `password=` of the query, should it be given twice.
    let mut tail = &rest[authority_end..];
    while let Some(i) = tail.find("password=") {
        out.push_str(&tail[..i + "password=".len()]);
        out.push_str("***");
        let value = &tail[i + "password=".len()..];
        tail = value.find('&').map_or("", |amp| &value[amp..]);
    }
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let cases = [
            // In the userinfo.
            (
                "postgres://u:s3cret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            (
                "postgres://u:p@ss:w@h/db?sslmode=require",
                "postgres://u:***@h/db?sslmode=require",
            ),
            ("mysql://u:s3cret@h/db", "mysql://u:***@h/db"),
            // In the query.
            (
                "postgres://u@h/db?password=s3cret&sslmode=require",
                "postgres://u@h/db?password=***&sslmode=require",
            ),
            (
                "postgres://h/db?sslmode=require&password=s3cret",
                "postgres://h/db?sslmode=require&password=***",
            ),
            (
                "postgres://h/db?password=a&password=s3cret",
                "postgres://h/db?password=***&password=***",
            ),
            // In both.
            (
                "postgres://u:s3cret@h/db?password=s3cret",
                "postgres://u:***@h/db?password=***",
            ),
            // None to hide.
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("sqlite:state/ledger.sqlite3", "sqlite:state/ledger.sqlite3"),
        ];
        for (raw, shown) in cases {
            assert_eq!(redact_url(raw), shown, "{raw}");
            assert!(!redact_url(raw).contains("s3cret"), "{raw}");
        }
    }
}
