//! SMTP on connections tipsheet opens itself (`TCP_NODELAY`; plain, STARTTLS or
//! implicit TLS), one transaction at a time, with every reply classified as
//! transient, permanent or fatal for the run.
//!
//! When the server advertises PIPELINING (RFC 2920) the envelope (MAIL, RCPT,
//! DATA) goes out in one write, and the caller may name the next message's
//! envelope to follow this body's final dot; every reply is still read and
//! mapped one by one, exactly as in lock-step. A server that advertises it and
//! then answers out of step is dropped and this channel falls back to lock-step.
//!
//! Owns the wire. Must not touch the ledger or decide what to do with a failure:
//! the caller decides when a body may go out (after the previous result is
//! recorded), this module only guarantees that it never sends a body before its
//! envelope was accepted and never leaves a half-sent body on a live connection.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use super::error::Failure;
use crate::config::{Config, RelayConfig, Tls};

/// SMTP settings resolved from config and the environment.
#[derive(Clone)]
pub struct SmtpSettings {
    /// What the ledger calls this relay (`name`, or `host:port`).
    pub name: Arc<str>,
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
    /// One relay of `config` (see [`Smtp::relays`](crate::config::Smtp::relays)), with
    /// the settings the relays share; credentials from the env vars it names
    /// (unset or empty user = no AUTH).
    pub fn for_relay(config: &Config, relay: &RelayConfig) -> Self {
        let s = &config.smtp;
        let var = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| std::env::var(n).ok())
                .unwrap_or_default()
        };
        let user = var(&relay.username_env);
        let password = var(&relay.password_env);
        Self {
            name: relay.label().into(),
            host: relay.host.clone(),
            port: relay.port,
            tls: relay.tls,
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

/// Builds the rustls client for implicit TLS: the bundled Mozilla roots plus
/// `ca_file`, ring as the provider (both providers may be compiled in).
fn rustls_config(s: &SmtpSettings) -> Result<std::sync::Arc<rustls::ClientConfig>, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = &s.ca_pem {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let mut any = false;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| {
                Failure::Fatal(format!("`smtp.ca_file` is not a PEM certificate: {e}"))
            })?;
            roots.add(cert).map_err(|e| {
                Failure::Fatal(format!("`smtp.ca_file` holds an unusable certificate: {e}"))
            })?;
            any = true;
        }
        if !any {
            return Err(Failure::Fatal(
                "`smtp.ca_file` is not a PEM certificate: no `BEGIN CERTIFICATE` block".into(),
            ));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Fatal(format!("TLS setup for `{}` failed: {e}", s.host)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// A TLS stream over tipsheet's own `TcpStream`, handed to lettre as its transport.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl tokio::io::AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// Opens a connection; `true` when the server advertises PIPELINING.
async fn connect(s: &SmtpSettings) -> Result<(AsyncSmtpConnection, bool), Failure> {
    let fail = |stage: &str, e: &dyn std::fmt::Display| Failure::Transient {
        code: None,
        text: format!("{stage} `{}:{}`: {e}", s.host, s.port),
    };
    let tcp = tokio::time::timeout(
        s.timeout,
        tokio::net::TcpStream::connect((s.host.as_str(), s.port)),
    )
    .await
    .map_err(|_| fail("timed out connecting to", &"no answer"))?
    .map_err(|e| Failure::Unreachable(format!("cannot connect to `{}:{}`: {e}", s.host, s.port)))?;
    // lettre never sets this; without it every message waits ~40 ms for a delayed ACK.
    tcp.set_nodelay(true)
        .map_err(|e| fail("cannot set TCP_NODELAY on", &e))?;
    let stream: Box<dyn lettre::transport::smtp::client::AsyncTokioStream> = if s.tls == Tls::Tls {
        // Implicit TLS: the handshake comes before the greeting.
        let connector = tokio_rustls::TlsConnector::from(rustls_config(s)?);
        let name = rustls::pki_types::ServerName::try_from(s.host.clone()).map_err(|e| {
            Failure::Fatal(format!(
                "`smtp.host = \"{}\"` is not a TLS name: {e}",
                s.host
            ))
        })?;
        let tls = tokio::time::timeout(s.timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| fail("TLS handshake timed out with", &"no answer"))?
            .map_err(|e| Failure::Fatal(format!("TLS with `{}` failed: {e}", s.host)))?;
        Box::new(ImplicitTls(tls))
    } else {
        Box::new(tcp)
    };
    let mut conn = tokio::time::timeout(
        s.timeout,
        AsyncSmtpConnection::connect_with_transport(stream, &s.hello),
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
    // lettre's `ServerInfo` keeps no PIPELINING keyword: ask again (once per
    // connection, before AUTH) and read the keywords ourselves.
    let ehlo = tokio::time::timeout(
        s.timeout,
        conn.command(lettre::transport::smtp::commands::Ehlo::new(
            s.hello.clone(),
        )),
    )
    .await
    .map_err(|_| fail("EHLO timed out with", &"no answer"))?
    .map_err(|e| match classify(&e) {
        Failure::Permanent { text, .. } => Failure::Fatal(text),
        other => other,
    })?;
    let pipelining = ehlo.message().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
    });
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
    Ok((conn, pipelining))
}

/// Text that `AsyncSmtpConnection::command` writes as is (several commands,
/// or a dot-stuffed body with its closing `.` line), reading one reply.
struct Raw<'a>(&'a str);

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Dot-stuffs an ASCII message (RFC 5321 §4.5.2) and appends the closing `.`
/// line, into `out`. Our messages are CRLF throughout; a line starting with `.`
/// is rare (a quoted-printable soft break can make one), so this is usually one
/// copy. `memmem` finds "\n." with SIMD; `str::match_indices` used a two-way
/// search that cost more than the rest of the SMTP client together.
fn dot_stuff_into(message: &str, out: &mut String) {
    out.reserve(message.len() + 8);
    if message.starts_with('.') {
        out.push('.');
    }
    let mut start = 0;
    for i in memchr::memmem::find_iter(message.as_bytes(), b"\n.") {
        // `i` is the index of an ASCII `\n`: a char boundary.
        out.push_str(&message[start..=i]);
        out.push('.');
        start = i + 1;
    }
    out.push_str(&message[start..]);
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
}

#[cfg(test)]
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    dot_stuff_into(std::str::from_utf8(message).unwrap_or_default(), &mut out);
    out.into_bytes()
}

/// MAIL, one RCPT per recipient and DATA, as one block of text.
fn envelope_commands(envelope: &Envelope, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{}", Mail::new(envelope.from().cloned(), vec![]));
    for to in envelope.to() {
        let _ = write!(out, "{}", Rcpt::new(to.clone(), vec![]));
    }
    let _ = write!(out, "{Data}");
}

fn is_ascii_envelope(envelope: &Envelope) -> bool {
    envelope
        .from()
        .is_none_or(|a| AsRef::<str>::as_ref(a).is_ascii())
        && envelope
            .to()
            .iter()
            .all(|a| AsRef::<str>::as_ref(a).is_ascii())
}

/// `f`, or a timeout while waiting for the envelope's replies.
async fn within<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = T>,
) -> Result<T, WireError> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| WireError::Timeout { envelope: true })
}

/// How a transaction went wrong.
enum WireError {
    /// A reply refused it, or the connection failed: lettre's error.
    Smtp(lettre::transport::smtp::Error),
    /// The server broke the protocol (a reply out of step with the commands).
    OutOfStep(String),
    /// No reply in time; `envelope` when waiting for the envelope's replies.
    Timeout { envelope: bool },
}

impl From<lettre::transport::smtp::Error> for WireError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        WireError::Smtp(e)
    }
}

/// One open SMTP connection and what is outstanding on it.
struct Connection {
    conn: AsyncSmtpConnection,
    /// The envelope written behind the previous body, replies not yet read.
    primed: Option<Envelope>,
    /// The server advertised PIPELINING and has not broken it on this channel.
    pipelining: bool,
    /// A reusable buffer for the next write.
    buf: String,
}

impl Connection {
    /// Whether the next message's envelope may follow a body on this connection.
    fn pipelines(&self) -> bool {
        self.pipelining
    }

    /// One transaction. The connection is clean afterwards only on `Ok`; on
    /// any error the caller drops it (without QUIT, which a server in DATA
    /// would take as body text).
    async fn transaction(
        &mut self,
        timeout: Duration,
        envelope: &Envelope,
        message: &[u8],
        next: Option<&Envelope>,
    ) -> Result<Response, WireError> {
        let primed = self.primed.take();
        // ASCII is valid UTF-8: the conversion only confirms it.
        let ascii = message.is_ascii() && is_ascii_envelope(envelope);
        let text = match std::str::from_utf8(message) {
            Ok(t) if ascii => t,
            _ => {
                // 8-bit or SMTPUTF8: lettre's own lock-step path (it sets the
                // MAIL parameters). Never behind a pipelined envelope.
                if primed.is_some() {
                    return Err(WireError::OutOfStep(
                        "an envelope is outstanding before an 8-bit message".into(),
                    ));
                }
                return within(timeout * 2, self.conn.send(envelope, message))
                    .await?
                    .map_err(Into::into);
            }
        };
        if primed.is_some() && primed.as_ref() != Some(envelope) {
            return Err(WireError::OutOfStep(
                "the envelope on the wire is not this message's".into(),
            ));
        }
        let conn = &mut self.conn;
        if self.pipelining {
            // Every reply of the envelope is read, whatever the earlier ones
            // said, so that the connection stays in step.
            let mail = if primed.is_some() {
                within(timeout, conn.read_response()).await?
            } else {
                self.buf.clear();
                envelope_commands(envelope, &mut self.buf);
                within(timeout, conn.command(Raw(&self.buf))).await?
            };
            let broken = |r: &Result<Response, lettre::transport::smtp::Error>| matches!(r, Err(e) if e.status().is_none());
            if broken(&mail) {
                return Err(mail.err().map_or_else(
                    || WireError::OutOfStep("no reply to MAIL".into()),
                    WireError::Smtp,
                ));
            }
            let mut rcpts = Vec::with_capacity(envelope.to().len());
            for _ in envelope.to() {
                let r = within(timeout, conn.read_response()).await?;
                if broken(&r) {
                    return Err(r.err().map_or_else(
                        || WireError::OutOfStep("no reply to RCPT".into()),
                        WireError::Smtp,
                    ));
                }
                rcpts.push(r);
            }
            let data = within(timeout, conn.read_response()).await?;
            let data_open = matches!(&data, Ok(r) if r.code().to_string().starts_with('3'));
            // The first refusal decides, in command order, as in lock-step.
            let refused = std::iter::once(mail)
                .chain(rcpts)
                .find_map(|r| r.err().map(WireError::Smtp));
            if let Some(e) = refused {
                // A server that opens DATA after refusing the envelope is out
                // of step; the caller drops the connection either way, so no
                // body (and no empty message) ever follows.
                return Err(e);
            }
            match data {
                Ok(_) if data_open => {}
                Ok(r) => {
                    return Err(WireError::OutOfStep(format!(
                        "DATA answered `{}` instead of 354",
                        r.code()
                    )));
                }
                Err(e) => return Err(WireError::Smtp(e)),
            }
        } else {
            within(
                timeout,
                conn.command(Mail::new(envelope.from().cloned(), vec![])),
            )
            .await??;
            for to in envelope.to() {
                within(timeout, conn.command(Rcpt::new(to.clone(), vec![]))).await??;
            }
            within(timeout, conn.command(Data)).await??;
        }
        // The body (lettre's own `message` pushes it through a byte-at-a-time
        // codec, about a sixth of a core at wire speed) and, pipelining, the
        // next envelope behind its final dot.
        self.buf.clear();
        dot_stuff_into(text, &mut self.buf);
        let next = next.filter(|n| self.pipelining && is_ascii_envelope(n));
        if let Some(n) = next {
            envelope_commands(n, &mut self.buf);
        }
        let reply = tokio::time::timeout(timeout * 2, self.conn.command(Raw(&self.buf)))
            .await
            .map_err(|_| WireError::Timeout { envelope: false })??;
        self.primed = next.cloned();
        Ok(reply)
    }
}

/// The reply's code and text.
fn reply_of(resp: &Response) -> (u16, String) {
    (
        resp.code().to_string().parse().unwrap_or(250),
        resp.message().collect::<Vec<_>>().join(" "),
    )
}

/// One worker's SMTP connection, opened on first use and after errors.
pub struct SmtpChannel {
    /// Where to connect.
    settings: Arc<SmtpSettings>,
    /// The open connection.
    session: Option<Box<Connection>>,
    /// The server broke PIPELINING once: never again on this channel.
    lock_step: bool,
}

impl SmtpChannel {
    /// A channel to the relay in `settings`; nothing is opened until the first send.
    pub fn new(settings: Arc<SmtpSettings>) -> Self {
        SmtpChannel {
            settings,
            session: None,
            lock_step: false,
        }
    }

    /// Delivers one message; `Ok` carries the server's reply. `next`, when
    /// given, is the envelope of the message this channel will be asked to
    /// send next: with PIPELINING it follows this body's final dot (its
    /// replies are read by that next call). The next call must then be for
    /// that envelope; anything else drops the connection first.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        next: Option<&Envelope>,
    ) -> Result<(u16, String), Failure> {
        self.send_staged(envelope, message, next)
            .await
            .map_err(|(f, _)| f)
    }

    /// [`SmtpChannel::send`], the failure told with whether it came while
    /// connecting (TCP, TLS, greeting, EHLO, AUTH): a relay that fails there
    /// fails everyone alike.
    pub(super) async fn send_staged(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        next: Option<&Envelope>,
    ) -> Result<(u16, String), (Failure, bool)> {
        let SmtpChannel {
            settings,
            session,
            lock_step,
        } = self;
        if session.as_ref().is_none_or(|s| s.conn.has_broken()) {
            let (conn, advertised) = connect(settings).await.map_err(|f| (f, true))?;
            let pipelining = advertised && !*lock_step;
            *session = Some(Box::new(Connection {
                conn,
                primed: None,
                pipelining,
                buf: String::new(),
            }));
        }
        let Some(s) = session.as_mut() else {
            return Err((
                Failure::Transient {
                    code: None,
                    text: "no connection".into(),
                },
                true,
            ));
        };
        let timeout = settings.timeout;
        match s.transaction(timeout, envelope, message, next).await {
            Ok(resp) => Ok(reply_of(&resp)),
            Err(e) => {
                let pipelined = s.pipelining;
                // Start the next attempt on a fresh connection. Drop
                // it, no QUIT: it may be in DATA for a primed envelope.
                *session = None;
                Err((
                    match e {
                        WireError::Smtp(e) => classify(&e),
                        WireError::OutOfStep(why) => {
                            *lock_step = true;
                            Failure::Transient {
                                code: None,
                                text: format!(
                                    "`{}:{}` answered out of step ({why}); continuing without pipelining",
                                    settings.host, settings.port
                                ),
                            }
                        }
                        WireError::Timeout { envelope } => {
                            // A server that advertises PIPELINING and then
                            // loses the commands behind the first stalls here.
                            if envelope && pipelined {
                                *lock_step = true;
                            }
                            let waited = if envelope { timeout } else { timeout * 2 };
                            Failure::Transient {
                                code: None,
                                text: format!("timed out after {}s", waited.as_secs()),
                            }
                        }
                    },
                    false,
                ))
            }
        }
    }

    /// Whether the next message's envelope is already on this channel's wire
    /// (the next send must be for it, here).
    pub(super) fn primed(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.primed.is_some())
    }

    /// Whether the open connection pipelines: only then is naming `next` useful.
    pub fn pipelines(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.pipelines())
    }

    /// Says goodbye politely.
    pub async fn close(&mut self) {
        if let Some(mut s) = self.session.take()
            && s.primed.is_none()
        {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.conn.quit()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_is_one_block_of_commands() {
        let envelope = Envelope::new(
            Some("tips@example.com".parse().unwrap()),
            vec!["ana@example.com".parse().unwrap()],
        )
        .unwrap();
        let mut out = String::new();
        envelope_commands(&envelope, &mut out);
        assert_eq!(
            out,
            "MAIL FROM:<tips@example.com>\r\nRCPT TO:<ana@example.com>\r\nDATA\r\n"
        );
    }

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
