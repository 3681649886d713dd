//! A throwaway site (config, content, subscribers, state) in a temp folder, and
//! a way to run the binary against it.

use mail_parser::MimeHeaders;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// "Now" for every test unless it says otherwise: a Thursday before issue #1.
pub const NOW: &str = "2026-11-26T12:00:00Z";
pub const SECRET: &str = "test-secret-for-unsubscribe-tokens";

pub const SAMPLE_LIST: &str = "email,name,subscribed_at
ana@example.com,Ana Lima,2026-09-14T10:22:00Z
Bob@Example.com,\"Bob <script>alert(1)</script>\",2026-09-15
bob@example.com,Bob Again,
carol@example.com,,2026-10-01T08:00:00Z
sam@example.com,Sam Suppressed,2026-10-02
bad@@example.com,Broken Row,2026-10-03
dave@example.com,Dave,not-a-date
erin@example.com,Erin Zoë,2026-10-04
";

pub const SAMPLE_SUPPRESSED: &str = "email,reason,at
SAM@example.com,unsubscribed,2026-10-30T08:00:00Z
";

/// `n` numbered readers: `{prefix}0000@example.com,Reader 0`, …
pub fn list(prefix: &str, n: usize) -> String {
    let mut s = String::from("email,name\n");
    for i in 0..n {
        s.push_str(&format!("{prefix}{i:04}@example.com,Reader {i}\n"));
    }
    s
}

pub struct Site {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Site {
    /// The shipped config and content, with the test list.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("content"), &dir.path().join("content"));
        std::fs::copy(repo().join("config.toml"), dir.path().join("config.toml")).unwrap();
        let site = Site { dir };
        site.write("subscribers/subscribers.csv", SAMPLE_LIST);
        site.write("subscribers/suppressed.csv", SAMPLE_SUPPRESSED);
        site
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Replaces text in config.toml (panics if `from` is absent).
    pub fn config(&self, from: &str, to: &str) {
        let c = self.read("config.toml");
        assert!(c.contains(from), "config.toml has no {from:?}");
        self.write("config.toml", &c.replacen(from, to, 1));
    }

    /// Switches delivery to SMTP on a local port.
    pub fn use_smtp(&self, port: u16, concurrency: usize) {
        self.config("transport = \"outbox\"", "transport = \"smtp\"");
        self.config("port = 2525", &format!("port = {port}"));
        self.config("concurrency = 4", &format!("concurrency = {concurrency}"));
        self.config("retry_base_ms = 1000", "retry_base_ms = 20");
        self.config("timeout_seconds = 30", "timeout_seconds = 5");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tipsheet"));
        c.current_dir(self.dir.path())
            .args(["--config", "config.toml"])
            .args(args)
            .env("TIPSHEET_SECRET", SECRET)
            .env_remove("TIPSHEET_CONFIG")
            .env_remove("TIPSHEET_DATABASE_URL")
            .env_remove("TIPSHEET_SMTP_USERNAME")
            .env_remove("TIPSHEET_SMTP_PASSWORD");
        if !args.contains(&"--now") {
            c.args(["--now", NOW]);
        }
        c
    }

    /// Starts `args` (a long-running command such as `run`) and reads its
    /// standard output until a line contains `until`; returns the child, the
    /// lines read, and the rest of the output.
    pub fn spawn_until(
        &self,
        args: &[&str],
        until: &str,
    ) -> (
        std::process::Child,
        Vec<String>,
        std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    ) {
        use std::io::BufRead;
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let started = std::time::Instant::now();
        let mut log = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            log.push(line.clone());
            if line.contains(until) {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{log:?}"
            );
        }
        (child, log, lines)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        to_run(self.command(args).output().unwrap())
    }

    pub fn run_without_secret(&self, args: &[&str]) -> Run {
        to_run(
            self.command(args)
                .env_remove("TIPSHEET_SECRET")
                .output()
                .unwrap(),
        )
    }

    /// Every .eml file under `rel`, recursively.
    pub fn emls(&self, rel: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut stack = vec![self.path(rel)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "eml") {
                    out.push(std::fs::read(p).unwrap());
                }
            }
        }
        out
    }
}

/// Stops a long-running child (such as `run`) with SIGTERM; its exit code.
pub fn terminate(mut child: std::process::Child) -> Option<i32> {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait().unwrap().code()
}

pub fn to_run(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Parsed view of one message.
pub struct Parsed {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub content_type: String,
    pub header_names: Vec<String>,
    pub raw: String,
}

impl Parsed {
    pub fn header(&self, name: &str) -> Option<String> {
        let msg = mail_parser::MessageParser::default().parse(self.raw.as_bytes())?;
        msg.header_raw(name)
            .map(|v| v.trim().replace("\r\n ", " ").replace("\r\n\t", " "))
    }
}

pub fn parse(raw: &[u8]) -> Parsed {
    let msg = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("message parses");
    let to = msg
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_string();
    let ct = msg
        .content_type()
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
        .unwrap_or_default();
    Parsed {
        to,
        subject: msg.subject().unwrap_or_default().to_string(),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        content_type: ct,
        header_names: msg.headers().iter().map(|h| h.name().to_string()).collect(),
        raw: String::from_utf8_lossy(raw).into_owned(),
    }
}

/// The unsubscribe URL's `e` and `t` query values.
pub fn unsubscribe_params(url: &str) -> (String, String) {
    let query = url.split_once('?').unwrap().1;
    let mut e = String::new();
    let mut t = String::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap();
        let v = percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .unwrap()
            .to_string();
        match k {
            "e" => e = v,
            "t" => t = v,
            _ => {}
        }
    }
    (e, t)
}

/// Runs `f` to its end on a runtime of its own (the store's calls are async).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The embedded store of the site at `root` opened to read (its ledger
/// `state/tipsheet.sqlite3` reads as empty while it does not exist).
pub fn embedded_store(root: &Path) -> tipsheet::store::Store {
    use tipsheet::store::{Store, StoreSettings, StoreUrl};
    let settings = StoreSettings {
        url: StoreUrl::Sqlite(root.join("state/tipsheet.sqlite3")),
        password: None,
        lease: std::time::Duration::from_secs(60),
        synchronous_commit: false,
        subscribers_path: root.join("subscribers/subscribers.csv"),
        suppressed_path: root.join("subscribers/suppressed.csv"),
        state_dir: root.join("state"),
        keyer: None,
    };
    block_on(Store::open_to_read(&settings))
        .unwrap()
        .expect("the embedded engine always opens")
}
