//! Weak secrets are refused where they matter: `send`, `run` and `serve`
//! refuse a `TIPSHEET_SECRET` shorter than 32 bytes (exit 2), `serve` refuses
//! the development secret beyond loopback, and `check` reports both on the
//! config line.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Site, to_run};
use crate::server::get;

const SIXTEEN: &str = "0123456789abcdef";
const THIRTY_TWO: &str = "0123456789abcdef0123456789abcdef";

fn line_of(site: &Site, key: &str) -> usize {
    site.read("config.toml")
        .lines()
        .position(|l| l.starts_with(key))
        .unwrap()
        + 1
}

#[test]
fn a_sixteen_byte_secret_is_refused_by_send_and_run_and_reported_by_check() {
    let site = Site::new();
    for args in [&["send"][..], &["send", "--dry-run"], &["run"]] {
        let r = to_run(
            site.command(args)
                .env("TIPSHEET_SECRET", SIXTEEN)
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("`TIPSHEET_SECRET` is 16 bytes long")
                && r.stderr.contains("at least 32")
                && r.stderr.contains("openssl rand -hex 32"),
            "{args:?}: {r:?}"
        );
    }
    assert!(site.emls("state/outbox").is_empty());
    assert!(!site.path("state/tipsheet.sqlite3").exists());

    let r = to_run(
        site.command(&["check"])
            .env("TIPSHEET_SECRET", SIXTEEN)
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    let line = line_of(&site, "secret_env");
    assert!(
        r.stderr.contains(&format!(
            "config.toml:{line}: error: `TIPSHEET_SECRET` is 16 bytes long"
        )),
        "{r:?}"
    );

    // 32 bytes is enough.
    let r = to_run(
        site.command(&["send"])
            .env("TIPSHEET_SECRET", THIRTY_TWO)
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn serve_beyond_loopback_needs_a_real_secret() {
    let site = Site::new();
    let r = to_run(
        site.command(&["serve", "--listen", "0.0.0.0:0"])
            .env_remove("TIPSHEET_SECRET")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "`TIPSHEET_SECRET` is not set and `serve` would listen on `0.0.0.0:0`, beyond loopback"
        ),
        "{r:?}"
    );
    let r = to_run(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env("TIPSHEET_SECRET", SIXTEEN)
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("is 16 bytes long"), "{r:?}");

    // `check` says so when `server.listen` is public.
    let listen = site
        .read("config.toml")
        .lines()
        .find(|l| l.starts_with("listen = "))
        .unwrap()
        .to_string();
    site.config(&listen, "listen = \"0.0.0.0:8080\"");
    let r = to_run(
        site.command(&["check"])
            .env_remove("TIPSHEET_SECRET")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    let line = line_of(&site, "listen = ");
    assert!(
        r.stderr.contains(&format!(
            "config.toml:{line}: error: `TIPSHEET_SECRET` is not set and `serve` would listen on `0.0.0.0:8080`"
        )),
        "{r:?}"
    );

    // With 32 bytes it starts, and answers.
    let mut child = site
        .command(&["serve", "--listen", "0.0.0.0:0"])
        .env("TIPSHEET_SECRET", THIRTY_TWO)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first
        .trim()
        .strip_prefix("listening on http://0.0.0.0:")
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_string();
    let started = Instant::now();
    let r = get(&format!("http://127.0.0.1:{port}/healthz"));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
}
