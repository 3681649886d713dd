//! Quoted-printable encoding of one personal line, the per-recipient hot path.
//!
//! Owns RFC 2045 line encoding with soft breaks. Must not know stand-ins,
//! templates or headers: the per-issue parts use the `quoted_printable` crate.

/// Quoted-printable encodes one line (no line breaks in `line`) onto `out`,
/// with soft breaks so no output line exceeds 76 characters (RFC 2045 §6.7).
/// The per-recipient hot path: the `quoted_printable` crate (used for the
/// per-issue parts) builds a `String` char by char and costs ~5× more here.
pub(super) fn qp_line(out: &mut Vec<u8>, line: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const LIMIT: usize = 76;
    let n = line.len();
    // Printable ASCII but `=` stays as is; so do space and tab, except last.
    let literal = |k: usize| match line[k] {
        b'!'..=b'<' | b'>'..=b'~' => true,
        b' ' | b'\t' => k + 1 < n,
        _ => false,
    };
    out.reserve(n + n / 16 + 8);
    let (mut col, mut i) = (0usize, 0usize);
    while i < n {
        // Copy the run of literal bytes in slices, breaking lines as needed:
        // a byte before the line's end may reach column 75 (leaving room for
        // the soft break's `=`), the line's last byte column 76.
        let mut end = i;
        while end < n && literal(end) {
            end += 1;
        }
        while i < end {
            let left = end - i;
            let take = if end == n && col + left <= LIMIT {
                left
            } else {
                left.min((LIMIT - 1).saturating_sub(col))
            };
            if take == 0 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
                continue;
            }
            out.extend_from_slice(&line[i..i + take]);
            col += take;
            i += take;
        }
        if i < n {
            let b = line[i];
            let room = if i + 1 == n { LIMIT } else { LIMIT - 1 };
            if col + 3 > room {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            col += 3;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_lines_round_trip_and_stay_within_76_columns() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let pool: Vec<char> = "aZ09 \t=.?<>&\"'é中😀\u{a0}-_/:;%".chars().collect();
        let edges: Vec<String> = [75, 76, 77, 150, 151, 152, 300]
            .iter()
            .flat_map(|&n| {
                [
                    "a".repeat(n),
                    format!("{} ", "a".repeat(n)),
                    format!("{}=", "a".repeat(n)),
                    format!("{}é", "a".repeat(n)),
                ]
            })
            .collect();
        for line in &edges {
            let mut out = Vec::new();
            qp_line(&mut out, line.as_bytes());
            let text = String::from_utf8(out.clone()).unwrap();
            assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text:?}");
            let decoded =
                quoted_printable::decode(&out, quoted_printable::ParseMode::Strict).unwrap();
            assert_eq!(&String::from_utf8(decoded).unwrap(), line);
        }
        for n in 0..2000 {
            let len = n % 300;
            let line: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    pool[(seed % pool.len() as u64) as usize]
                })
                .collect();
            let mut out = Vec::new();
            qp_line(&mut out, line.as_bytes());
            let text = String::from_utf8(out.clone()).unwrap();
            for l in text.split("\r\n") {
                assert!(l.len() <= 76, "{l:?} ({} chars)", l.len());
                assert!(!l.ends_with(' ') && !l.ends_with('\t'), "{l:?}");
            }
            let decoded =
                quoted_printable::decode(&out, quoted_printable::ParseMode::Strict).unwrap();
            assert_eq!(String::from_utf8(decoded).unwrap(), line);
        }
    }
}
