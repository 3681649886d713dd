//! `--log-format json` (or `TIPSHEET_LOG_FORMAT=json`): every line a command
//! writes on standard error becomes one JSON object (tracing-subscriber's
//! JSON formatter), and the events an operator alerts on carry their
//! numbers as fields (`issue`, `slot`, `relay`, counts): those call sites
//! (`progress.rs`, `send.rs`, `common::log_line`) write them with
//! `tracing::info!` and a [`mask`]ed message.
//!
//! Owns the log format and what a log may say about readers: in JSON, an
//! email address is written as `<address>` unless `--log-personal` is given
//! (logs are shipped and kept where the list's rules do not reach). Only
//! tipsheet's own events are written (the libraries' tracing, which can
//! name envelope addresses, is filtered out); every message passes through
//! [`mask`], and no field holds an address.

use std::sync::OnceLock;

use clap::ValueEnum;

/// How standard error is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Lines for a person.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// Set once at start: `Some(personal)` in JSON mode.
static JSON: OnceLock<bool> = OnceLock::new();

/// Installs the JSON subscriber when asked; text needs nothing.
pub(super) fn init(format: LogFormat, personal: bool) {
    if format != LogFormat::Json {
        return;
    }
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let only_ours =
        tracing_subscriber::filter::Targets::new().with_target("tipsheet", tracing::Level::INFO);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stderr);
    if tracing_subscriber::registry()
        .with(json)
        .with(only_ours)
        .try_init()
        .is_ok()
    {
        let _ = JSON.set(personal);
    }
}

/// Whether standard error is JSON.
pub(super) fn json() -> bool {
    JSON.get().is_some()
}

/// One line of standard error in JSON mode, as an event: `error:` and
/// `warning:` lines at those levels, the rest as information.
pub(super) fn line(text: &str) {
    let text = text.trim_end();
    if text.starts_with("error:") {
        event(tracing::Level::ERROR, text);
    } else if text.contains("warning:") {
        event(tracing::Level::WARN, text);
    } else {
        event(tracing::Level::INFO, text);
    }
}

/// `text` as a log may hold it: addresses masked unless `--log-personal`.
pub(super) fn mask(text: &str) -> String {
    if JSON.get().copied().unwrap_or(true) {
        text.to_string()
    } else {
        mask_addresses(text)
    }
}

/// Writes one line as an event at `level` (the text masked).
fn event(level: tracing::Level, text: &str) {
    let message = mask(text);
    match level {
        tracing::Level::ERROR => tracing::error!(target: "tipsheet", "{message}"),
        tracing::Level::WARN => tracing::warn!(target: "tipsheet", "{message}"),
        _ => tracing::info!(target: "tipsheet", "{message}"),
    }
}

/// `text` with every email address written `<address>`.
pub(crate) fn mask_addresses(text: &str) -> String {
    let local = |c: char| c.is_ascii_alphanumeric() || "._%+-!#$&'*/=?^{|}~".contains(c);
    let domain = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && local(chars[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < chars.len() && (domain(chars[end]) || chars[end] == '@') {
            end += 1;
        }
        let host: String = chars[i + 1..end].iter().collect();
        let host = host.trim_matches(['.', '-', '@']);
        if start < i && !host.is_empty() {
            // The local part was already copied: take it back.
            for _ in start..i {
                out.pop();
            }
            out.push_str("<address>");
            i = end;
        } else {
            out.push('@');
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask_addresses;

    #[test]
    fn addresses_are_masked_and_the_rest_is_kept() {
        for (text, want) in [
            (
                "subscribers.csv:4: warning: `bob@example.com` duplicates line 3",
                "subscribers.csv:4: warning: `<address>` duplicates line 3",
            ),
            (
                "`bad@@example.com` is not valid",
                "`<address>` is not valid",
            ),
            (
                "to <ann.lee+tips@mail.example.org>, ok",
                "to <<address>>, ok",
            ),
            (
                "issue #3: 40 sent @ 12 msgs/s",
                "issue #3: 40 sent @ 12 msgs/s",
            ),
            ("user@localhost too", "<address> too"),
            ("hmac:ab12 and @handle", "hmac:ab12 and @handle"),
        ] {
            assert_eq!(mask_addresses(text), want, "{text}");
        }
    }
}
