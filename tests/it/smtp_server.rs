//! A real SMTP server in this process (mailin-embedded on 127.0.0.1:0) that
//! records what it receives, and can be told to misbehave.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    pub at: Instant,
}

/// What the server answers, per recipient address and attempt (1-based).
pub type Rule = fn(&str, u32) -> Option<Response>;

#[derive(Default)]
struct Shared {
    mails: Vec<Mail>,
    rcpt_attempts: HashMap<String, u32>,
    data_attempts: HashMap<String, u32>,
    /// Commands that arrived with more behind them in the same read.
    pipelined: usize,
    /// Message bodies sent after DATA although no recipient was accepted.
    orphan_bodies: usize,
    /// The [`FaultServer`]'s refusals stopped: RCPT and DATA are accepted.
    healed: bool,
    /// The [`FaultServer`] went down: it listens no more and closes every
    /// connection at its next command.
    down: bool,
}

#[derive(Clone)]
struct Recorder {
    shared: Arc<Mutex<Shared>>,
    rcpt_rule: Option<Rule>,
    data_rule: Option<Rule>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    data_rule_answer: Option<Response>,
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_string();
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let n = {
            let mut s = self.shared.lock().unwrap();
            let n = s.rcpt_attempts.entry(to.to_string()).or_default();
            *n += 1;
            *n
        };
        if let Some(r) = self.rcpt_rule.and_then(|f| f(to, n)) {
            return r;
        }
        self.to.push(to.to_string());
        response::OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        let to = self.to.first().cloned().unwrap_or_default();
        let n = {
            let mut s = self.shared.lock().unwrap();
            let n = s.data_attempts.entry(to.clone()).or_default();
            *n += 1;
            *n
        };
        if let Some(r) = self.data_rule.and_then(|f| f(&to, n)) {
            // Answer at the end of DATA instead (as a real server rejecting content does).
            self.data_rule_answer = Some(r);
        }
        response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(r) = self.data_rule_answer.take() {
            return r;
        }
        self.shared.lock().unwrap().mails.push(Mail {
            from: self.from.clone(),
            to: self.to.clone(),
            data: std::mem::take(&mut self.data),
            at: Instant::now(),
        });
        response::OK
    }
}

/// Access to what a recorder received.
pub trait RecorderMails {
    fn mails_handle(&self) -> MailsHandle;
}

pub struct MailsHandle(Arc<Mutex<Shared>>);

impl MailsHandle {
    pub fn lock(&self) -> Result<Vec<Mail>, ()> {
        Ok(self.0.lock().unwrap().mails.clone())
    }
}

impl RecorderMails for Recorder {
    fn mails_handle(&self) -> MailsHandle {
        MailsHandle(self.shared.clone())
    }
}

/// A running server.
pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

#[derive(Default, Clone, Copy)]
pub struct Faults {
    /// Answer to RCPT TO (None = accept).
    pub rcpt: Option<Rule>,
    /// Answer at the end of DATA (None = accept).
    pub data: Option<Rule>,
}

impl SmtpServer {
    /// A recording handler, for tests that configure the server themselves.
    pub fn recorder() -> impl Handler + Clone + Send + RecorderMails + 'static {
        Recorder {
            shared: Arc::new(Mutex::new(Shared::default())),
            rcpt_rule: None,
            data_rule: None,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
            data_rule_answer: None,
        }
    }

    pub fn start() -> Self {
        Self::with_faults(Faults::default())
    }

    pub fn with_faults(faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Recorder {
            shared: shared.clone(),
            rcpt_rule: faults.rcpt,
            data_rule: faults.data,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
            data_rule_answer: None,
        };
        let mut server = Server::new(handler);
        server
            .with_name("test.localhost")
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, shared }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.shared.lock().unwrap().mails.clone()
    }

    /// Messages received per recipient address.
    pub fn received_by(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for mail in self.mails() {
            for to in &mail.to {
                *m.entry(to.to_lowercase()).or_default() += 1;
            }
        }
        m
    }
}

/// A small hand-written SMTP server speaking the real protocol, for faults the
/// crate's server cannot produce: dropping the connection mid-DATA, stalling,
/// answering slowly, PIPELINING (RFC 2920) honoured or broken, implicit TLS.
pub struct FaultServer {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

#[derive(Default, Clone)]
pub struct Wire {
    /// Answer to RCPT TO (None = accept).
    pub rcpt: Option<Rule>,
    /// Answer to the DATA command itself, for the first recipient (None = 354).
    pub data_cmd: Option<Rule>,
    /// Answer after the final dot (None = accept).
    pub data: Option<Rule>,
    /// Close the connection in the middle of DATA when Some.
    pub drop: Option<Rule>,
    /// Close the connection, unanswered, on RCPT TO when Some (mid-pipeline).
    pub drop_at_rcpt: Option<Rule>,
    /// Stop reading (stall) in the middle of DATA when Some.
    pub stall: Option<Rule>,
    /// Wait this long before each final reply to DATA.
    pub delay_ms: u64,
    /// Advertise PIPELINING.
    pub pipelining: bool,
    /// Out of step: throw away whatever the client sent behind the command
    /// just answered (a server that advertises PIPELINING and cannot do it).
    pub discard_pipelined: bool,
    /// Out of step: answer DATA with 354 even when no recipient was accepted.
    pub open_data_anyway: bool,
    /// Implicit TLS (port 465 style): the handshake before the greeting.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// A server config for implicit TLS with the test CA's localhost certificate.
pub fn test_tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let dir = crate::common::repo().join("tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

trait Stream: io::Read + io::Write + Send {}
impl<T: io::Read + io::Write + Send> Stream for T {}

impl FaultServer {
    pub fn start(wire: Wire) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let sh = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if sh.lock().unwrap().down {
                    // Dropping the listener: connections are refused from now on.
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = sh.clone();
                let wire = wire.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let stream: Box<dyn Stream> = match &wire.tls {
                        Some(config) => {
                            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                            Box::new(rustls::StreamOwned::new(conn, stream))
                        }
                        None => Box::new(stream),
                    };
                    serve(stream, &wire, &shared);
                });
            }
        });
        FaultServer { port, shared }
    }

    /// Bodies the client sent into a DATA that had no accepted recipient.
    pub fn orphan_bodies(&self) -> usize {
        self.shared.lock().unwrap().orphan_bodies
    }

    /// How many times the client sent several commands in one go.
    pub fn pipelined(&self) -> usize {
        self.shared.lock().unwrap().pipelined
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.shared.lock().unwrap().mails.clone()
    }

    /// How many messages were accepted (cheap enough to poll).
    pub fn count(&self) -> usize {
        self.shared.lock().unwrap().mails.len()
    }

    /// Stops refusing: from now on every RCPT and DATA is accepted (the
    /// `rcpt`, `data_cmd` and `data` rules are no longer asked), as a
    /// provider does once a blocklisting is lifted.
    pub fn heal(&self) {
        self.shared.lock().unwrap().healed = true;
    }

    /// Goes down, as a relay that crashed: the listener closes (new
    /// connections are refused) and open connections close at their next
    /// command, unanswered. A message already answered stays received.
    pub fn stop(&self) {
        self.shared.lock().unwrap().down = true;
        // Wake the accept loop so that it sees the flag and lets go of the port.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }

    /// Forgets what was received and how often each address was tried.
    pub fn clear(&self) {
        let mut s = self.shared.lock().unwrap();
        s.mails.clear();
        s.rcpt_attempts.clear();
        s.data_attempts.clear();
        s.pipelined = 0;
    }

    pub fn received_by(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for mail in self.mails() {
            for to in &mail.to {
                *m.entry(to.to_lowercase()).or_default() += 1;
            }
        }
        m
    }
}

/// One connection of the [`FaultServer`].
fn serve(stream: Box<dyn Stream>, wire: &Wire, shared: &Mutex<Shared>) {
    use std::io::{BufRead, BufReader, Write};
    let mut lines = BufReader::new(stream);
    macro_rules! say {
        ($s:expr) => {{
            let s: &str = $s;
            lines
                .get_mut()
                .write_all(s.as_bytes())
                .and_then(|_| lines.get_mut().flush())
        }};
    }
    if say!("220 fault.localhost ESMTP\r\n").is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::<String>::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let healed = {
            let mut s = shared.lock().unwrap();
            if s.down {
                return;
            }
            if !lines.buffer().is_empty() {
                s.pipelined += 1;
            }
            s.healed
        };
        let refusing = |rule: Option<Rule>| rule.filter(|_| !healed);
        let upper = line.to_ascii_uppercase();
        let arg = |l: &str| {
            l.split_once(':')
                .map(|(_, a)| a.trim().trim_matches(|c| c == '<' || c == '>').to_string())
                .unwrap_or_default()
        };
        let reply = if upper.starts_with("EHLO") {
            format!(
                "250-fault.localhost\r\n{}250-8BITMIME\r\n250 SIZE 100000000\r\n",
                if wire.pipelining {
                    "250-PIPELINING\r\n"
                } else {
                    ""
                }
            )
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 ok\r\n".into()
        } else if upper.starts_with("RSET") {
            to.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("MAIL FROM") {
            from = arg(&line);
            to.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("RCPT TO") {
            let rcpt = arg(&line);
            let n = {
                let mut s = shared.lock().unwrap();
                let n = s.rcpt_attempts.entry(rcpt.clone()).or_default();
                *n += 1;
                *n
            };
            if wire.drop_at_rcpt.and_then(|f| f(&rcpt, n)).is_some() {
                return;
            }
            match refusing(wire.rcpt).and_then(|f| f(&rcpt, n)) {
                Some(r) => format!("{} {}\r\n", r.code, message(&r)),
                None => {
                    to.push(rcpt);
                    "250 ok\r\n".into()
                }
            }
        } else if upper.starts_with("DATA") {
            let first = to.first().cloned().unwrap_or_default();
            let refused = if to.is_empty() && !wire.open_data_anyway {
                Some("554 5.5.1 no valid recipients\r\n".to_string())
            } else if to.is_empty() {
                None
            } else {
                refusing(wire.data_cmd)
                    .and_then(|f| f(&first, 1))
                    .map(|r| format!("{} {}\r\n", r.code, message(&r)))
            };
            if let Some(r) = refused {
                if say!(&r).is_err() {
                    return;
                }
                continue;
            }
            if say!("354 go ahead\r\n").is_err() {
                return;
            }
            let n = {
                let mut s = shared.lock().unwrap();
                let n = s.data_attempts.entry(first.clone()).or_default();
                *n += 1;
                *n
            };
            let mut data = Vec::new();
            let mut count = 0;
            loop {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                count += 1;
                if count == 20 {
                    if wire.drop.and_then(|f| f(&first, n)).is_some() {
                        return;
                    }
                    if wire.stall.and_then(|f| f(&first, n)).is_some() {
                        std::thread::sleep(std::time::Duration::from_secs(60));
                        return;
                    }
                }
                if line == ".\r\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.extend_from_slice(l.as_bytes());
            }
            if to.is_empty() {
                shared.lock().unwrap().orphan_bodies += 1;
            }
            if wire.delay_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(wire.delay_ms));
            }
            match refusing(wire.data).and_then(|f| f(&first, n)) {
                Some(r) => format!("{} {}\r\n", r.code, message(&r)),
                None if to.is_empty() => "554 5.5.1 no valid recipients\r\n".into(),
                None => {
                    shared.lock().unwrap().mails.push(Mail {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                        at: Instant::now(),
                    });
                    "250 2.0.0 queued\r\n".into()
                }
            }
        } else if upper.starts_with("QUIT") {
            let _ = say!("221 bye\r\n");
            return;
        } else {
            "502 not implemented\r\n".into()
        };
        if say!(&reply).is_err() {
            return;
        }
        if wire.discard_pipelined {
            let n = lines.buffer().len();
            lines.consume(n);
        }
    }
}

fn message(r: &Response) -> String {
    // mailin's Response keeps its text private; its Debug shows it.
    let d = format!("{r:?}");
    d.split('"').nth(1).unwrap_or("error").to_string()
}
