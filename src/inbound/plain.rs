//! The failed recipients of a plain-text bounce (one without a
//! message/delivery-status part): which addresses it names, and the text it
//! gives for each.
//!
//! Owns the shapes the common mail systems write: Postfix and qmail
//! (`<addr>: reason`), Sendmail (`<addr>... reason`), Exim (an indented
//! address, then more indented detail), Yahoo (`<addr>:` then `Remote host
//! said: …`), Exchange (the address alone on a line, then `Remote Server
//! returned '…'`) and Lotus Notes (`was not delivered to: addr because:
//! reason`). It stops at the quoted original. It classifies nothing and
//! trusts nothing: the addresses are only what the text says.

/// Most lines of text kept for one recipient.
const MAX_LINES: usize = 12;
/// Most recipients read from one bounce.
pub(crate) const MAX_RECIPIENTS: usize = 100;

/// Lines (lowercase, trimmed) after which the quoted original starts.
const ORIGINAL: &[&str] = &[
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message",
    "--- original message",
    "-----original message",
    "original message headers",
    "original message follows",
    "------- returned message",
    "----- the original message",
    "--- the header of the original message",
    "----- message header follows",
    "content-type: message/rfc822",
];

/// One failed recipient: its address and the text the bounce gives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) address: String,
    pub(crate) text: String,
}

/// The recipients `body` names, in order, each once (texts given for the same
/// address in two places are joined).
pub(crate) fn failed_recipients(body: &str) -> Vec<Failed> {
    let mut out: Vec<Failed> = Vec::new();
    // (index into out, the marker line's indent, lines kept, ended by a blank line)
    let mut current: Option<(usize, usize, usize, bool)> = None;
    for line in body.lines() {
        let trimmed = line.trim();
        let lower = trimmed.to_ascii_lowercase();
        if ORIGINAL.iter().any(|o| lower.starts_with(o)) {
            break;
        }
        let indent = line.len() - line.trim_start().len();
        let marker = marker(trimmed);
        let continuing = current.is_some_and(|(i, at, _, ended)| {
            !ended
                && (indent > at
                    || marker
                        .as_ref()
                        .is_some_and(|(a, _)| a.eq_ignore_ascii_case(&out[i].address)))
        });
        if let Some((address, rest)) = marker.filter(|_| !continuing) {
            let i = match out
                .iter()
                .position(|f| f.address.eq_ignore_ascii_case(&address))
            {
                Some(i) => i,
                None if out.len() < MAX_RECIPIENTS => {
                    out.push(Failed {
                        address,
                        text: String::new(),
                    });
                    out.len() - 1
                }
                None => break,
            };
            push(&mut out[i].text, &rest);
            current = Some((i, indent, usize::from(!rest.is_empty()), false));
            continue;
        }
        let Some((i, at, kept, ended)) = current.as_mut() else {
            continue;
        };
        if trimmed.is_empty() {
            // A blank line ends the recipient's text once it has some.
            *ended |= *kept > 0;
            continue;
        }
        if *ended || *kept >= MAX_LINES {
            // Prose after the recipient's paragraph belongs to nobody, unless
            // it is more indented detail (Exim) or a `because:` label's reason.
            if *kept >= MAX_LINES || indent <= *at {
                current = None;
            }
            continue;
        }
        if is_label(trimmed) {
            continue;
        }
        push(&mut out[*i].text, trimmed);
        *kept += 1;
    }
    out
}

fn push(text: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(line);
}

/// A short line that only introduces what follows (`because:`).
fn is_label(line: &str) -> bool {
    line.ends_with(':') && line.len() <= 20 && !line.contains('@') && !line.contains(' ')
}

/// `<a@b>: text`, `<a@b>... text`, `<a@b>`, `a@b`, `a@b:`, `a@b (a@b)`: the
/// address, and the text after it.
fn marker(line: &str) -> Option<(String, String)> {
    if let Some(rest) = line.strip_prefix('<') {
        let (address, after) = rest.split_once('>')?;
        if !is_address(address) {
            return None;
        }
        let after = after.trim_start();
        let text = if after.is_empty() {
            ""
        } else if let Some(t) = after.strip_prefix(':') {
            t
        } else {
            after.strip_prefix("...")?
        };
        return Some((address.to_string(), text.trim().to_string()));
    }
    let line = line.strip_suffix(':').unwrap_or(line);
    let mut words = line.split_whitespace();
    let address = words.next()?;
    let alias = words.next();
    let alone = match alias {
        None => true,
        Some(a) => a.starts_with('(') && a.ends_with(')') && a.contains('@'),
    };
    (alone && words.next().is_none() && is_address(address))
        .then(|| (address.to_string(), String::new()))
}

/// `local@domain.tld`: one `@`, a dot in the domain, no spaces or brackets.
fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(['<', '>', '(', ')', ',', ';', '"', '\'', '[', ']', ' '])
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &str) -> Vec<(String, String)> {
        failed_recipients(body)
            .into_iter()
            .map(|f| (f.address, f.text))
            .collect()
    }

    #[test]
    fn the_common_shapes_name_each_recipient_and_its_text() {
        let postfix = "This is the mail system at host relay.example.org.\n\n\
<ana@example.com>: host mx.example.com[198.51.100.7] said: 550 5.1.1\n    <ana@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)\n\n\
<bob@example.net>: host mx.example.net[198.51.100.8] said: 552 5.2.2 Mailbox full\n\n\
--- Original message headers follow ---\n\n> To: carol@example.org\n";
        assert_eq!(
            pairs(postfix),
            [
                (
                    "ana@example.com".to_string(),
                    "host mx.example.com[198.51.100.7] said: 550 5.1.1 <ana@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)".to_string()
                ),
                (
                    "bob@example.net".to_string(),
                    "host mx.example.net[198.51.100.8] said: 552 5.2.2 Mailbox full".to_string()
                ),
            ]
        );
        let exim = "The following address(es) failed:\n\n  bob@example.com\n    host mx.example.com [198.51.100.7]\n    SMTP error from remote mail server after RCPT TO:<bob@example.com>:\n    550 5.1.1 <bob@example.com>... No such user here\n\n  dan@example.org\n    Unrouteable address\n\n------ This is a copy of the message, including all the headers. ------\n\ncarol@example.org\n";
        let got = pairs(exim);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].1.ends_with("No such user here"), "{got:?}");
        assert_eq!(
            got[1],
            ("dan@example.org".into(), "Unrouteable address".into())
        );
        let lotus = "Your message\n\n  Subject: Career Tips #1\n\nwas not delivered to:\n\n  frank@example.org\n\nbecause:\n\n  User frank (frank@example.org) not listed in Domino Directory\n\nWhat should you do?\n";
        assert_eq!(
            pairs(lotus),
            [(
                "frank@example.org".to_string(),
                "User frank (frank@example.org) not listed in Domino Directory".to_string()
            )]
        );
        let exchange = "Delivery has failed to these recipients or groups:\n\ngrace@example.net (grace@example.net)\nThe email address you entered couldn't be found.\n\nDiagnostic information for administrators:\n\nGenerating server: ex01.example.net\n\ngrace@example.net\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n\nOriginal message headers:\n\nTo: <grace@example.net>\n";
        let got = pairs(exchange);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].1.starts_with("The email address"), "{got:?}");
        assert!(
            got[0].1.contains("RESOLVER.ADR.RecipientNotFound"),
            "{got:?}"
        );
        let sendmail = "   ----- The following addresses had permanent fatal errors -----\n<heidi@example.org>\n    (reason: 550 5.1.1 <heidi@example.org>... User unknown)\n";
        assert_eq!(
            pairs(sendmail),
            [(
                "heidi@example.org".to_string(),
                "(reason: 550 5.1.1 <heidi@example.org>... User unknown)".to_string()
            )]
        );
    }

    #[test]
    fn prose_and_quoted_headers_name_nobody() {
        assert!(
            pairs(
                "Hello,\nplease write to us at help@example.org about this.\nTo: a@example.com\n"
            )
            .is_empty()
        );
        assert!(pairs("<not an address>: x\n<a@b>: no dot\n").is_empty());
    }
}
