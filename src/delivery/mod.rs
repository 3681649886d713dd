//! Delivery: moving prepared messages to a transport and recording every outcome.
//!
//! Owns transports (the file outbox, SMTP over connections tipsheet opens itself
//! with `TCP_NODELAY`), the worker pool, retries with backoff, the run loop that
//! marks recipients in flight before handing them over and records each result
//! in the ledger (group commit), and stopping cleanly on a signal. It renders
//! nothing itself: it takes a [`Prepared`] issue.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncFileTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{Mutex, mpsc};

use crate::config::{Config, Tls, TransportKind};
use crate::list::{self, Suppression};
use crate::mail::render::{Prepared, Recipient};
use crate::store::{Ledger, LedgerError, Outcome, RecipientRecord, RecipientStatus};

/// Delivery errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The relay refuses every attempt: wrong host, credentials or policy.
    #[error(
        "the SMTP relay refuses to take mail: {0}; nothing more was sent (fix `[smtp]` or the credentials, then rerun to resume)"
    )]
    Relay(String),
    /// The outbox cannot be written: nothing more can go out this run.
    #[error(
        "delivery stopped: {0}; nothing more was written (fix the outbox folder, then rerun to resume)"
    )]
    Stopped(String),
    /// The outbox folder cannot be created.
    #[error("cannot create outbox folder `{path}`: {source}")]
    Outbox {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing to a folder failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One delivery attempt's failure, told apart by what to do next.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Worth another try (4xx, reset, timeout).
    Transient {
        /// Reply code, if the server gave one.
        code: Option<u16>,
        /// What happened.
        text: String,
    },
    /// Never worth another try for this address (5xx).
    Permanent {
        /// Reply code.
        code: Option<u16>,
        /// What happened.
        text: String,
    },
    /// The relay refuses us as a whole (authentication, TLS, connection refused).
    Fatal(String),
}

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

/// Where messages go.
#[derive(Clone, Debug)]
pub enum Transport {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// An SMTP relay.
    Smtp(Arc<SmtpSettings>),
}

impl Transport {
    /// The configured transport; the outbox writes under `<outbox_dir>/<slot>/`.
    pub fn from_config(config: &Config, slot: &str) -> Self {
        match config.delivery.transport {
            TransportKind::Outbox => Transport::Outbox(config.delivery.outbox_dir.join(slot)),
            TransportKind::Smtp => Transport::Smtp(Arc::new(SmtpSettings::from_config(config))),
        }
    }

    /// A channel: one worker's own connection (or file writer).
    pub fn channel(&self) -> Result<Channel, SendError> {
        Ok(match self {
            Transport::Outbox(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SendError::Outbox {
                    path: dir.clone(),
                    source,
                })?;
                Channel::Outbox(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
            Transport::Smtp(settings) => Channel::Smtp {
                settings: settings.clone(),
                conn: None,
            },
        })
    }
}

/// One worker's way out: a file writer, or one long-lived SMTP connection.
pub enum Channel {
    /// The outbox.
    Outbox(AsyncFileTransport<Tokio1Executor>),
    /// An SMTP connection, opened on first use and after errors.
    Smtp {
        /// Where to connect.
        settings: Arc<SmtpSettings>,
        /// The open connection.
        conn: Option<Box<AsyncSmtpConnection>>,
    },
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
        .map_err(|e| fail("cannot connect to", &e))?;
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

/// Retry timing.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per recipient per run.
    pub max_attempts: u32,
    /// First delay.
    pub base: Duration,
}

impl Retry {
    /// The delay before attempt `attempt + 1`: doubling, capped at a minute, ±25% jitter.
    pub fn delay(&self, attempt: u32, salt: &str) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(Duration::from_secs(60));
        let r = RandomState::new().hash_one((salt, attempt)) % 1000;
        exp.mul_f64(0.75 + r as f64 / 2000.0)
    }
}

struct Job {
    key: String,
    address: Address,
    name: String,
}

enum Done {
    Outcome(Outcome),
    /// The relay refused as a whole; the job was not delivered.
    Fatal(String, String),
}

async fn worker(
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    done: mpsc::UnboundedSender<Done>,
    mut channel: Channel,
    prepared: Arc<Prepared>,
    retry: Retry,
) {
    loop {
        let job = { jobs.lock().await.recv().await };
        let Some(job) = job else { break };
        let message = if prepared.signs() {
            // A DKIM signature costs about a millisecond of CPU: keep it off
            // the I/O threads, on the blocking pool (all cores).
            let (p, address, key, name) = (
                prepared.clone(),
                job.address.clone(),
                job.key.clone(),
                job.name.clone(),
            );
            tokio::task::spawn_blocking(move || {
                p.message(&Recipient {
                    email: &address,
                    key: &key,
                    name: &name,
                })
            })
            .await
            .unwrap_or_default()
        } else {
            prepared.message(&Recipient {
                email: &job.address,
                key: &job.key,
                name: &job.name,
            })
        };
        let envelope = prepared.envelope(&job.address);
        let message_id = Some(prepared.message_id(&job.key));
        let mut attempt = 0;
        let report = loop {
            attempt += 1;
            match channel.send(&envelope, &message).await {
                Ok((code, text)) => {
                    break Done::Outcome(Outcome {
                        key: job.key.clone(),
                        status: RecipientStatus::Sent,
                        attempts: attempt,
                        code: Some(code),
                        reply: Some(text),
                        message_id: message_id.clone(),
                    });
                }
                Err(Failure::Permanent { code, text }) => {
                    break Done::Outcome(Outcome {
                        key: job.key.clone(),
                        status: RecipientStatus::Bounced,
                        attempts: attempt,
                        code,
                        reply: Some(text),
                        message_id: None,
                    });
                }
                Err(Failure::Fatal(text)) => break Done::Fatal(job.key.clone(), text),
                Err(Failure::Transient { code, text }) => {
                    if attempt >= retry.max_attempts {
                        // A relay we could never even connect to refuses everything.
                        let status = if code.is_none() && text.starts_with("cannot connect") {
                            break Done::Fatal(job.key.clone(), text);
                        } else {
                            RecipientStatus::Failed
                        };
                        break Done::Outcome(Outcome {
                            key: job.key.clone(),
                            status,
                            attempts: attempt,
                            code,
                            reply: Some(text),
                            message_id: None,
                        });
                    }
                    tokio::time::sleep(retry.delay(attempt, &job.key)).await;
                }
            }
        };
        if done.send(report).is_err() {
            break;
        }
    }
    channel.close().await;
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Delivered in this run.
    pub delivered: u64,
    /// Ended `failed` in this run.
    pub failed: u64,
    /// Ended `bounced` in this run.
    pub bounced: u64,
    /// Skipped because suppressed after the list was frozen.
    pub skipped: u64,
    /// Left `uncertain` and not resent (`--no-resend-uncertain`).
    pub uncertain_left: u64,
    /// Stopped by a signal.
    pub interrupted: bool,
    /// Seconds spent.
    pub seconds: f64,
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Resend recipients left uncertain by a crash (at least once).
    pub resend_uncertain: bool,
    /// Parallel connections.
    pub concurrency: usize,
    /// Retry timing.
    pub retry: Retry,
    /// Messages per second, 0 = unlimited.
    pub rate_per_second: u32,
    /// Messages per hour, 0 = unlimited.
    pub max_per_hour: u32,
    /// The suppression list, re-read while sending.
    pub suppressed_path: PathBuf,
    /// Show a progress bar (a TTY) or log lines.
    pub progress: bool,
}

/// Sends an issue's open recipients; `stop` makes it take no new recipients,
/// finish the in-flight ones and return.
pub async fn run(
    ledger: &mut Ledger,
    slot: &str,
    prepared: Arc<Prepared>,
    transport: &Transport,
    opts: &RunOptions,
    stop: Arc<AtomicBool>,
) -> Result<Summary, SendError> {
    let started = Instant::now();
    let mut statuses = vec![
        RecipientStatus::Pending,
        RecipientStatus::Retrying,
        RecipientStatus::Failed,
    ];
    if opts.resend_uncertain {
        statuses.push(RecipientStatus::Uncertain);
    }
    let mut summary = Summary::default();
    let total = ledger
        .counts(slot)?
        .by_status
        .iter()
        .filter(|(s, _)| statuses.contains(s))
        .map(|(_, n)| n)
        .sum::<u64>();
    // At most one marked recipient per worker: a result is committed together
    // with the mark that replaces it, so a crash leaves at most `concurrency`
    // recipients delivered but unrecorded (resent as uncertain). A deeper
    // window let finished workers run ahead of the commit: up to twice that.
    let window = opts.concurrency;
    let (job_tx, job_rx) = mpsc::channel::<Job>(window);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut workers = Vec::new();
    for _ in 0..opts.concurrency {
        workers.push(tokio::spawn(worker(
            job_rx.clone(),
            done_tx.clone(),
            transport.channel()?,
            prepared.clone(),
            opts.retry,
        )));
    }
    drop(done_tx);
    let mut job_tx = Some(job_tx);
    let mut suppression = Watched::new(&opts.suppressed_path);
    let mut limiter = Limiter::new(opts.rate_per_second);
    let mut hourly = Limiter::per_hour(opts.max_per_hour);
    let progress = Progress::new(total, opts.progress);
    let mut queue: VecDeque<RecipientRecord> = VecDeque::new();
    let mut cursor = String::new();
    let mut exhausted = false;
    let mut in_flight = 0usize;
    let mut fatal: Option<String> = None;
    let mut outcomes: Vec<Outcome> = Vec::new();
    loop {
        // Top up the window.
        let mut marked: Vec<Job> = Vec::new();
        let mut skipped: Vec<Outcome> = Vec::new();
        let halted = stop.load(Ordering::SeqCst) || fatal.is_some();
        if !halted {
            suppression.refresh();
            // Take a recipient only when the rate limits allow sending it
            // now, so nobody waits "in flight" for a token.
            while in_flight + marked.len() < window && limiter.ready() && hourly.ready() {
                if queue.is_empty() && !exhausted {
                    let batch = ledger.due(slot, &statuses, &cursor, 512)?;
                    exhausted = batch.len() < 512;
                    if let Some(last) = batch.last() {
                        cursor = last.key.clone();
                    }
                    queue.extend(batch);
                }
                let Some(r) = queue.pop_front() else { break };
                if suppression.set.contains(&r.key) {
                    skipped.push(Outcome {
                        key: r.key,
                        status: RecipientStatus::Skipped,
                        attempts: 0,
                        code: None,
                        reply: Some("suppressed after the list was frozen".into()),
                        message_id: None,
                    });
                    continue;
                }
                match r.address.parse::<Address>() {
                    Ok(address) => {
                        limiter.take();
                        hourly.take();
                        marked.push(Job {
                            key: r.key,
                            address,
                            name: r.name,
                        })
                    }
                    Err(e) => skipped.push(Outcome {
                        key: r.key,
                        status: RecipientStatus::Bounced,
                        attempts: 0,
                        code: None,
                        reply: Some(format!("invalid address: {e}")),
                        message_id: None,
                    }),
                }
            }
        }
        summary.skipped += skipped
            .iter()
            .filter(|o| o.status == RecipientStatus::Skipped)
            .count() as u64;
        summary.bounced += skipped
            .iter()
            .filter(|o| o.status == RecipientStatus::Bounced)
            .count() as u64;
        outcomes.extend(skipped);
        // Group commit: everything finished so far, and the new in-flight marks.
        let keys: Vec<&str> = marked.iter().map(|j| j.key.as_str()).collect();
        ledger.commit(slot, &keys, &outcomes)?;
        progress.advance(&outcomes);
        outcomes.clear();
        for job in marked {
            let Some(tx) = job_tx.as_ref() else { break };
            if tx.send(job).await.is_err() {
                break;
            }
            in_flight += 1;
        }
        let more = !(queue.is_empty() && exhausted);
        if in_flight == 0 && (halted || !more) {
            break;
        }
        // Wait for at least one result (or for the rate limit to allow the
        // next message), then take whatever else is ready.
        let pause = limiter.until_ready().max(hourly.until_ready());
        let first = if in_flight == 0 || (more && !halted && !pause.is_zero()) {
            tokio::select! {
                d = done_rx.recv(), if in_flight > 0 => d,
                _ = tokio::time::sleep(pause) => continue,
            }
        } else {
            done_rx.recv().await
        };
        let Some(first) = first else {
            break;
        };
        let mut next = Some(first);
        while let Some(d) = next {
            in_flight -= 1;
            match d {
                Done::Outcome(o) => {
                    match o.status {
                        RecipientStatus::Sent => summary.delivered += 1,
                        RecipientStatus::Bounced => {
                            summary.bounced += 1;
                            let reason = format!(
                                "bounced: {}",
                                o.reply.as_deref().unwrap_or("permanent failure")
                            );
                            // Suppress before the ledger says bounced, so a crash in between loses nothing.
                            list::append_suppression(
                                &opts.suppressed_path,
                                &o.key,
                                &reason,
                                chrono::Utc::now(),
                            )
                            .map_err(|source| SendError::Write {
                                path: opts.suppressed_path.clone(),
                                source,
                            })?;
                        }
                        RecipientStatus::Failed => summary.failed += 1,
                        _ => {}
                    }
                    outcomes.push(o);
                }
                Done::Fatal(key, text) => {
                    // Not delivered: back to pending for the next run.
                    outcomes.push(Outcome {
                        key,
                        status: RecipientStatus::Pending,
                        attempts: 0,
                        code: None,
                        reply: Some(text.clone()),
                        message_id: None,
                    });
                    if fatal.is_none() {
                        fatal = Some(text);
                        // Workers still holding jobs finish them; queued ones drain back.
                        job_tx = None;
                    }
                }
            }
            next = done_rx.try_recv().ok();
        }
        if fatal.is_some() && job_tx.is_none() && in_flight > 0 {
            // Jobs still queued in the channel were marked in flight: the
            // workers will still try them and report; keep looping to collect.
        }
    }
    ledger.commit(slot, &[], &outcomes)?;
    progress.advance(&outcomes);
    drop(job_tx);
    for w in workers {
        let _ = w.await;
    }
    progress.finish();
    summary.interrupted = stop.load(Ordering::SeqCst);
    summary.seconds = started.elapsed().as_secs_f64();
    let counts = ledger.counts(slot)?;
    if !opts.resend_uncertain {
        summary.uncertain_left = counts.get(RecipientStatus::Uncertain);
    }
    if let Some(f) = fatal {
        return Err(match transport {
            Transport::Outbox(_) => SendError::Stopped(f),
            Transport::Smtp(_) => SendError::Relay(f),
        });
    }
    Ok(summary)
}

/// The suppression list, re-read when the file changes.
struct Watched {
    path: PathBuf,
    stamp: Option<(std::time::SystemTime, u64)>,
    checked: Option<Instant>,
    set: Suppression,
}

impl Watched {
    fn new(path: &Path) -> Self {
        let mut w = Self {
            path: path.to_path_buf(),
            stamp: None,
            checked: None,
            set: Suppression::default(),
        };
        w.refresh();
        w
    }

    fn refresh(&mut self) {
        if self
            .checked
            .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.checked = Some(Instant::now());
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp != self.stamp {
            if let Ok((set, _)) = Suppression::load(&self.path) {
                self.set = set;
            }
            self.stamp = stamp;
        }
    }
}

/// Spaces messages evenly to a rate (messages per period); no limit when unset.
struct Limiter {
    interval: Option<Duration>,
    next: Instant,
}

impl Limiter {
    fn new(per_second: u32) -> Self {
        Self::every(Duration::from_secs(1), per_second)
    }

    fn per_hour(per_hour: u32) -> Self {
        Self::every(Duration::from_secs(3600), per_hour)
    }

    fn every(period: Duration, count: u32) -> Self {
        Self {
            interval: (count > 0).then(|| period / count),
            next: Instant::now(),
        }
    }

    fn ready(&self) -> bool {
        self.until_ready().is_zero()
    }

    fn until_ready(&self) -> Duration {
        match self.interval {
            Some(_) => self.next.saturating_duration_since(Instant::now()),
            None => Duration::ZERO,
        }
    }

    fn take(&mut self) {
        if let Some(interval) = self.interval {
            self.next = self.next.max(Instant::now()) + interval;
        }
    }
}

/// A progress bar on a TTY, a log line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    failed: std::cell::Cell<u64>,
    last_log: std::cell::Cell<Instant>,
    started: Instant,
}

impl Progress {
    fn new(total: u64, tty: bool) -> Self {
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} sent · {per_sec} · eta {eta} · {msg}",
            ) {
                b.set_style(style);
            }
            b
        });
        Self {
            bar,
            total,
            done: 0.into(),
            failed: 0.into(),
            last_log: Instant::now().into(),
            started: Instant::now(),
        }
    }

    fn advance(&self, outcomes: &[Outcome]) {
        let n = outcomes.len() as u64;
        if n == 0 {
            return;
        }
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o.status, RecipientStatus::Failed | RecipientStatus::Bounced))
            .count() as u64;
        self.done.set(self.done.get() + n);
        self.failed.set(self.failed.get() + failed);
        if let Some(b) = &self.bar {
            b.inc(n);
            b.set_message(format!("{} failed", self.failed.get()));
        } else if self.last_log.get().elapsed() >= Duration::from_secs(10) {
            self.last_log.set(Instant::now());
            let rate = self.done.get() as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            crate::output::errln!(
                "progress: {}/{} done, {} failed, {:.0} msgs/s",
                self.done.get(),
                self.total,
                self.failed.get(),
                rate
            );
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Sends one message outside the ledger (test sends, confirmations).
pub async fn send_one(
    transport: &Transport,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(u16, String), Failure> {
    let mut channel = transport
        .channel()
        .map_err(|e| Failure::Fatal(e.to_string()))?;
    let r = channel.send(envelope, message).await;
    channel.close().await;
    r
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

    #[test]
    fn retry_delays_double_with_jitter_and_cap() {
        let r = Retry {
            max_attempts: 5,
            base: Duration::from_millis(1000),
        };
        for (attempt, base_ms) in [
            (1u32, 1000u64),
            (2, 2000),
            (3, 4000),
            (7, 60_000),
            (30, 60_000),
        ] {
            let d = r.delay(attempt, "a@x").as_millis() as u64;
            assert!(
                d >= base_ms * 3 / 4 && d <= base_ms * 5 / 4,
                "attempt {attempt}: {d}"
            );
        }
    }
}
