//! SMTP on connections tipsheet opens itself (`TCP_NODELAY`, STARTTLS or plain),
//! one transaction at a time, with every reply classified as transient,
//! permanent or fatal for the run.
//!
//! Owns the wire. Must not touch the ledger or decide what to do with a failure.

use std::time::Duration;

use lettre::AsyncTransport;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::Failure;
use super::transport::*;
use crate::config::{Config, Tls};

/// SMTP settings resolved from config and the environment.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// Security.
    pub tls: Tls,
    /// EHLO name.
    pub hello: ClientId,
    /// AUTH credentials, if any.
    pub credentials: Option<Credentials>,
    /// Per-command timeout.
    pub timeout: Duration,
    /// An extra trusted root certificate (PEM).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are never printed.
        write!(
            f,
            "SmtpSettings({}:{}, {:?})",
            self.host, self.port, self.tls
        )
    }
}

impl SmtpSettings {
    /// From config; credentials from the env vars it names (unset or empty user = no AUTH).
    pub fn from_config(config: &Config) -> Self {
        let s = &config.smtp;
        let user = std::env::var(&s.username_env).unwrap_or_default();
        let password = std::env::var(&s.password_env).unwrap_or_default();
        Self {
            host: s.host.clone(),
            port: s.port,
            tls: s.tls,
            hello: ClientId::Domain(s.hello_name.clone().unwrap_or_else(|| config.from_domain())),
            credentials: (!user.is_empty()).then(|| Credentials::new(user, password)),
            timeout: Duration::from_secs(s.timeout_seconds.max(1)),
            ca_pem: s.ca_file.as_ref().and_then(|p| std::fs::read(p).ok()),
        }
    }

    /// TLS parameters: rustls with the platform's roots, plus `ca_file`.
    fn tls(&self) -> Result<TlsParameters, Failure> {
        let mut b = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.ca_pem {
            let cert =
                lettre::transport::smtp::client::Certificate::from_pem(pem).map_err(|e| {
                    Failure::Fatal(format!("`smtp.ca_file` is not a PEM certificate: {e}"))
                })?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls()
            .map_err(|e| Failure::Fatal(format!("TLS setup for `{}` failed: {e}", self.host)))
    }
}

fn code_of(e: &lettre::transport::smtp::Error) -> Option<u16> {
    e.status().and_then(|c| c.to_string().parse().ok())
}

fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    let code = code_of(e);
    let text = e.to_string();
    if e.is_permanent() {
        if matches!(code, Some(530 | 534 | 535 | 538)) {
            Failure::Fatal(text)
        } else {
            Failure::Permanent { code, text }
        }
    } else {
        Failure::Transient { code, text }
    }
}

async fn connect(s: &SmtpSettings) -> Result<AsyncSmtpConnection, Failure> {
    let fail = |stage: &str, e: &dyn std::fmt::Display| Failure::Transient {
        code: None,
        text: format!("{stage} `{}:{}`: {e}", s.host, s.port),
    };
    let mut conn = if s.tls == Tls::Tls {
        // Implicit TLS: lettre opens this connection itself (without TCP_NODELAY).
        let params = s.tls()?;
        let c = AsyncSmtpConnection::connect_tokio1(
            (s.host.as_str(), s.port),
            Some(s.timeout),
            &s.hello,
            Some(params),
            None,
        );
        tokio::time::timeout(s.timeout, c)
            .await
            .map_err(|_| fail("timed out connecting to", &"no greeting"))?
            .map_err(|e| match classify(&e) {
                Failure::Permanent { text, .. } => Failure::Fatal(text),
                other => other,
            })?
    } else {
        let tcp = tokio::time::timeout(
            s.timeout,
            tokio::net::TcpStream::connect((s.host.as_str(), s.port)),
        )
        .await
        .map_err(|_| fail("timed out connecting to", &"no answer"))?
        .map_err(|e| {
            Failure::Unreachable(format!("cannot connect to `{}:{}`: {e}", s.host, s.port))
        })?;
        // lettre never sets this; without it every message waits ~40 ms for a delayed ACK.
        tcp.set_nodelay(true)
            .map_err(|e| fail("cannot set TCP_NODELAY on", &e))?;
        let mut conn = tokio::time::timeout(
            s.timeout,
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &s.hello),
        )
        .await
        .map_err(|_| fail("no SMTP greeting from", &"timed out"))?
        .map_err(|e| match classify(&e) {
            Failure::Permanent { text, .. } => Failure::Fatal(text),
            other => other,
        })?;
        if s.tls == Tls::Starttls {
            let params = s.tls()?;
            if !conn.can_starttls() {
                return Err(Failure::Fatal(format!(
                    "`{}:{}` does not offer STARTTLS, and `smtp.tls = \"starttls\"` requires it",
                    s.host, s.port
                )));
            }
            tokio::time::timeout(s.timeout, conn.starttls(params, &s.hello))
                .await
                .map_err(|_| fail("STARTTLS timed out with", &"no answer"))?
                .map_err(|e| Failure::Fatal(format!("STARTTLS with `{}` failed: {e}", s.host)))?;
        }
        conn
    };
    if let Some(creds) = &s.credentials {
        tokio::time::timeout(
            s.timeout,
            conn.auth(&[Mechanism::Plain, Mechanism::Login], creds),
        )
        .await
        .map_err(|_| fail("AUTH timed out with", &"no answer"))?
        .map_err(|e| match classify(&e) {
            // A 4xx reply to AUTH is worth another try; a relay that offers
            // no usable mechanism (a client-side error) or refuses the
            // credentials will refuse every attempt.
            Failure::Transient { code, text } if !e.is_client() => {
                Failure::Transient { code, text }
            }
            _ => Failure::Fatal(format!(
                "authentication with `{}` failed: {e} (check the variables named by `smtp.username_env` and `smtp.password_env`, and that the relay offers AUTH PLAIN or LOGIN)",
                s.host
            )),
        })?;
    }
    Ok(conn)
}

/// Text that `AsyncSmtpConnection::command` writes as is: the message body,
/// already dot-stuffed, with the closing `.` line.
struct DataBody<'a>(&'a str);

impl std::fmt::Display for DataBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Dot-stuffs an ASCII message (RFC 5321 §4.5.2) and appends the closing `.`
/// line. Our messages are CRLF throughout; a line starting with `.` is rare
/// (a quoted-printable soft break can make one), so this is usually one copy.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    if message.first() == Some(&b'.') {
        out.push(b'.');
    }
    // Callers pass ASCII; `str::match_indices` finds "\n." with a fast
    // substring search instead of a byte-by-byte scan.
    match std::str::from_utf8(message) {
        Ok(text) => {
            let mut start = 0;
            for (i, _) in text.match_indices("\n.") {
                out.extend_from_slice(&message[start..=i]);
                out.push(b'.');
                start = i + 1;
            }
            out.extend_from_slice(&message[start..]);
        }
        Err(_) => {
            let mut start = 0;
            for (i, w) in message.windows(2).enumerate() {
                if w == b"\n." {
                    out.extend_from_slice(&message[start..=i]);
                    out.push(b'.');
                    start = i + 1;
                }
            }
            out.extend_from_slice(&message[start..]);
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// One SMTP transaction: MAIL, RCPT, DATA and the body. For ASCII messages
/// (ours always are) the body goes out in one write, dot-stuffed here; lettre's
/// own `send` pushes it through a byte-at-a-time codec, about a sixth of a
/// core at wire speed. Anything else takes lettre's path.
async fn transaction(
    c: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    message: &[u8],
) -> Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error> {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    let ascii_envelope = envelope
        .from()
        .is_none_or(|a| AsRef::<str>::as_ref(a).is_ascii())
        && envelope
            .to()
            .iter()
            .all(|a| AsRef::<str>::as_ref(a).is_ascii());
    if !message.is_ascii() || !ascii_envelope {
        return c.send(envelope, message).await;
    }
    c.command(Mail::new(envelope.from().cloned(), vec![]))
        .await?;
    for to in envelope.to() {
        c.command(Rcpt::new(to.clone(), vec![])).await?;
    }
    c.command(Data).await?;
    let body = dot_stuffed(message);
    // ASCII in, ASCII out: this conversion cannot fail.
    let text = std::str::from_utf8(&body).unwrap_or_default();
    c.command(DataBody(text)).await
}

impl Channel {
    /// Delivers one message; `Ok` carries the server's reply.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(u16, String), Failure> {
        match self {
            Channel::Outbox(t) => t
                .send_raw(envelope, message)
                .await
                .map(|id| (250, format!("written to outbox as {id}.eml")))
                .map_err(|e| Failure::Fatal(format!("cannot write to the outbox: {e}"))),
            Channel::Smtp { settings, conn } => {
                if conn.as_ref().is_none_or(|c| c.has_broken()) {
                    *conn = Some(Box::new(connect(settings).await?));
                }
                let Some(c) = conn.as_mut() else {
                    return Err(Failure::Transient {
                        code: None,
                        text: "no connection".into(),
                    });
                };
                let result =
                    tokio::time::timeout(settings.timeout * 2, transaction(c, envelope, message))
                        .await;
                match result {
                    Ok(Ok(resp)) => Ok((
                        resp.code().to_string().parse().unwrap_or(250),
                        resp.message().collect::<Vec<_>>().join(" "),
                    )),
                    Ok(Err(e)) => {
                        // Start the next attempt on a fresh connection.
                        if let Some(mut c) = conn.take() {
                            c.abort().await;
                        }
                        Err(classify(&e))
                    }
                    Err(_) => {
                        *conn = None;
                        Err(Failure::Transient {
                            code: None,
                            text: format!("timed out after {}s", (settings.timeout * 2).as_secs()),
                        })
                    }
                }
            }
        }
    }

    /// Says goodbye politely.
    pub async fn close(&mut self) {
        if let Channel::Smtp { conn, .. } = self
            && let Some(mut c) = conn.take()
        {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.quit()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_only() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
            (
                b".a\r\n..b\r\nc.d\r\n.\r\n",
                b"..a\r\n...b\r\nc.d\r\n..\r\n.\r\n",
            ),
            (b"no final break", b"no final break\r\n.\r\n"),
        ];
        for (input, want) in cases {
            assert_eq!(
                dot_stuffed(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
