//! Which secret signs a command's links and keys its erasure hashes: the one
//! named by `unsubscribe.secret_env`, the development secret only with the
//! outbox, and the previous secret (`unsubscribe.previous_secret_env`)
//! accepted but never used to sign. Commands that mail readers or face the
//! network ([`Signing::Send`], [`Signing::Serve`]) also refuse a secret
//! shorter than [`MIN_SECRET_BYTES`], and `serve` refuses the development
//! secret beyond loopback; [`check_secret`] reports the same rules.
//!
//! Owns these rules and the only reads of those variables for signing. Must
//! not open the store or print: the development secret's warning goes back
//! to the caller.

use super::error::PlanError;
use crate::config::{Config, TransportKind};
use crate::diagnostic::Diagnostic;
use crate::list;
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};

/// The fewest bytes `TIPSHEET_SECRET` may have for `send`, `run` and `serve`:
/// 256 bits, the HMAC-SHA256 key size.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a command signs for, which decides how strict the secret rules are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing<'a> {
    /// Nothing reaches a reader (`preview`): any secret, or the development
    /// one with the outbox.
    Preview,
    /// `send` and `run`: a secret of at least [`MIN_SECRET_BYTES`].
    Send,
    /// `serve` listening on this address: as `Send`, and the development
    /// secret only on loopback.
    Serve(&'a str),
}

/// Where the secrets' variables are read: the process environment, or a
/// table in tests. A blank value counts as unset.
type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The value of the variable `name`, when set and not blank.
fn secret(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// The unsubscribe signer. With no secret set, the outbox gets the development
/// secret and a warning to print; SMTP is refused. The secret named by
/// `unsubscribe.previous_secret_env`, when set, is accepted but never signs.
pub fn signer(config: &Config) -> Result<(Signer, Option<String>), PlanError> {
    signer_in(config, &process_env)
}

/// [`signer`] for a command that signs for `signing`: refused when the
/// secret is too weak for it ([`weakness`]).
pub fn signer_for(
    config: &Config,
    signing: Signing<'_>,
) -> Result<(Signer, Option<String>), PlanError> {
    signer_for_in(config, signing, &process_env)
}

fn signer_for_in(
    config: &Config,
    signing: Signing<'_>,
    env: Env<'_>,
) -> Result<(Signer, Option<String>), PlanError> {
    match weakness(config, signing, env) {
        Some(e) => Err(e),
        None => signer_in(config, env),
    }
}

/// Why the current secret is too weak for `signing`, if it is: shorter than
/// [`MIN_SECRET_BYTES`] for sending or serving, or unset (the development
/// secret) for a `serve` beyond loopback.
fn weakness(config: &Config, signing: Signing<'_>, env: Env<'_>) -> Option<PlanError> {
    let name = &config.unsubscribe.secret_env;
    match (secret(env, name), signing) {
        (_, Signing::Preview) => None,
        (Some(v), _) if v.len() < MIN_SECRET_BYTES => Some(PlanError::ShortSecret {
            name: name.clone(),
            len: v.len(),
        }),
        (None, Signing::Serve(listen)) if !is_loopback(listen) => {
            Some(PlanError::PublicDevelopmentSecret {
                name: name.clone(),
                listen: listen.to_string(),
            })
        }
        _ => None,
    }
}

/// Whether `listen` (`host:port`) is a loopback address: 127.0.0.0/8, `::1`
/// or `localhost`. Anything else, a host name included, may be reachable.
pub(crate) fn is_loopback(listen: &str) -> bool {
    crate::config::is_loopback(crate::config::host_of(listen))
}

/// What `tipsheet check` says about the secret: unset (an error with SMTP,
/// else a warning), too short for `send`, `run` and `serve`, or unset while
/// `server.listen` is beyond loopback; each on its config line.
pub fn check_secret(config: &Config) -> Vec<Diagnostic> {
    check_secret_in(config, &process_env)
}

fn check_secret_in(config: &Config, env: Env<'_>) -> Vec<Diagnostic> {
    let name = &config.unsubscribe.secret_env;
    let at = |key: &str| config.line_of_key(key);
    let mut diags = Vec::new();
    if secret(env, name).is_none() {
        let msg =
            format!("`{name}` is not set: unsubscribe links would use the development secret");
        diags.push(if config.delivery.transport == TransportKind::Smtp {
            Diagnostic::error(
                &config.path,
                at("unsubscribe.secret_env"),
                format!("{msg}; `send` refuses to start"),
            )
        } else {
            Diagnostic::warning(&config.path, at("unsubscribe.secret_env"), msg)
        });
    }
    let serving = Signing::Serve(&config.server.listen);
    if let Some(e) = weakness(config, serving, env) {
        let key = match e {
            PlanError::PublicDevelopmentSecret { .. } => "server.listen",
            _ => "unsubscribe.secret_env",
        };
        diags.push(Diagnostic::error(&config.path, at(key), e.to_string()));
    }
    diags
}

fn signer_in(config: &Config, env: Env<'_>) -> Result<(Signer, Option<String>), PlanError> {
    let (signer, warning) = current_signer(config, env)?;
    Ok(match previous_secret(config, env) {
        Some(p) => (signer.with_previous(p.as_bytes()), warning),
        None => (signer, warning),
    })
}

/// The value of `unsubscribe.previous_secret_env`, when named and set.
fn previous_secret(config: &Config, env: Env<'_>) -> Option<String> {
    config
        .unsubscribe
        .previous_secret_env
        .as_deref()
        .and_then(|name| secret(env, name))
}

fn current_signer(config: &Config, env: Env<'_>) -> Result<(Signer, Option<String>), PlanError> {
    let name = &config.unsubscribe.secret_env;
    match secret(env, name) {
        Some(v) => Ok((Signer::new(v.as_bytes()), None)),
        None if config.delivery.transport == TransportKind::Outbox => Ok((
            Signer::new(DEVELOPMENT_SECRET.as_bytes()),
            Some(format!(
                "warning: `{name}` is not set: unsubscribe links use the built-in development secret, which anyone can forge; set `{name}` before sending real mail"
            )),
        )),
        None => Err(PlanError::NoSecret(name.clone())),
    }
}

/// What recognises erased readers' keyed hashes in the suppression list:
/// keyed like [`signer`] (the development secret with the outbox and no
/// secret set); hashes made under `unsubscribe.previous_secret_env` are
/// recognised too, so a rotation does not forget who was erased.
pub fn keyer(config: &Config) -> Result<list::keyer::Keyer, PlanError> {
    keyer_in(config, &process_env)
}

fn keyer_in(config: &Config, env: Env<'_>) -> Result<list::keyer::Keyer, PlanError> {
    let (signer, _) = current_signer(config, env)?;
    Ok(add_previous_key(
        keyer_of(signer),
        previous_secret(config, env),
    ))
}

/// `keyer`, also recognising hashes made under the previous secret, if set.
pub fn with_previous_key(config: &Config, keyer: list::keyer::Keyer) -> list::keyer::Keyer {
    add_previous_key(keyer, previous_secret(config, &process_env))
}

fn add_previous_key(keyer: list::keyer::Keyer, previous: Option<String>) -> list::keyer::Keyer {
    match previous {
        Some(p) => {
            let old = Signer::new(p.as_bytes());
            keyer.with_previous(move |key| old.sign(list::keyer::PURPOSE, key))
        }
        None => keyer,
    }
}

/// The keyer of one signer: its HMAC with the purpose `forget`.
pub fn keyer_of(signer: Signer) -> list::keyer::Keyer {
    list::keyer::Keyer::new(move |key| signer.sign(list::keyer::PURPOSE, key))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const KEY: &str = "ana@example.com";

    /// The shipped config with `transport`, the secret in `SECRET` and, if
    /// `previous`, the previous one in `PREVIOUS`.
    fn config(transport: TransportKind, previous: bool) -> Config {
        let mut c =
            Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
        c.delivery.transport = transport;
        c.unsubscribe.secret_env = "SECRET".into();
        c.unsubscribe.previous_secret_env = previous.then(|| "PREVIOUS".into());
        c
    }

    /// An environment holding exactly `vars`.
    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// Variables as set in an environment.
    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn token(secret: &str) -> String {
        Signer::new(secret.as_bytes()).unsubscribe_token(KEY)
    }

    #[test]
    fn the_development_secret_signs_only_with_the_outbox() {
        use TransportKind::{Outbox, Smtp};
        // (transport, environment, signs with, warns)
        let cases: [(TransportKind, Vars<'_>, Option<&str>, bool); 6] = [
            (Outbox, &[], Some(DEVELOPMENT_SECRET), true),
            (Outbox, &[("SECRET", "  ")], Some(DEVELOPMENT_SECRET), true),
            (Outbox, &[("SECRET", "s3")], Some("s3"), false),
            (Smtp, &[], None, false),
            (Smtp, &[("SECRET", " ")], None, false),
            (Smtp, &[("SECRET", "s3")], Some("s3"), false),
        ];
        for (transport, vars, signs, warns) in cases {
            let c = config(transport, false);
            let what = format!("{transport:?} with {vars:?}");
            match (signer_in(&c, &env(vars)), signs) {
                (Ok((signer, warning)), Some(secret)) => {
                    assert_eq!(signer.unsubscribe_token(KEY), token(secret), "{what}");
                    assert_eq!(warning.is_some(), warns, "{what}: {warning:?}");
                    if let Some(w) = warning {
                        assert!(w.contains("`SECRET` is not set"), "{w}");
                    }
                    if secret != DEVELOPMENT_SECRET {
                        let dev = token(DEVELOPMENT_SECRET);
                        assert!(!signer.verify_unsubscribe(KEY, &dev), "{what}");
                    }
                }
                (Err(PlanError::NoSecret(name)), None) => assert_eq!(name, "SECRET", "{what}"),
                (got, _) => panic!("{what}: {:?}", got.map(|(_, w)| w)),
            }
            // The erasure hashes follow the same rule.
            let keyer = keyer_in(&c, &env(vars));
            match signs {
                Some(secret) => assert_eq!(
                    keyer.unwrap().pseudonym(KEY),
                    keyer_of(Signer::new(secret.as_bytes())).pseudonym(KEY),
                    "{what}"
                ),
                None => assert!(matches!(keyer, Err(PlanError::NoSecret(_))), "{what}"),
            }
        }
    }

    #[test]
    fn the_previous_secret_verifies_but_never_signs() {
        let both = [("SECRET", "new"), ("PREVIOUS", "old")];
        let (signer, _) = signer_in(&config(TransportKind::Smtp, true), &env(&both)).unwrap();
        assert_eq!(signer.unsubscribe_token(KEY), token("new"));
        assert!(signer.verify_unsubscribe(KEY, &token("new")));
        assert!(signer.verify_unsubscribe(KEY, &token("old")));

        // Unnamed in config, or blank: the old links stop working.
        for (previous, vars) in [
            (false, &both[..]),
            (true, &[("SECRET", "new"), ("PREVIOUS", " ")][..]),
        ] {
            let (signer, _) =
                signer_in(&config(TransportKind::Smtp, previous), &env(vars)).unwrap();
            assert!(!signer.verify_unsubscribe(KEY, &token("old")), "{vars:?}");
        }

        // The previous secret alone never stands in for the current one.
        let err = signer_in(
            &config(TransportKind::Smtp, true),
            &env(&[("PREVIOUS", "old")]),
        );
        assert!(matches!(err, Err(PlanError::NoSecret(_))));

        // Erasure hashes: written under the new secret, recognised under both.
        let keyer = keyer_in(&config(TransportKind::Smtp, true), &env(&both)).unwrap();
        let new = keyer_of(Signer::new(b"new")).pseudonym(KEY);
        let old = keyer_of(Signer::new(b"old")).pseudonym(KEY);
        assert_eq!(keyer.pseudonym(KEY), new);
        assert_eq!(keyer.pseudonyms(KEY).collect::<Vec<_>>(), [new, old]);
    }

    #[test]
    fn loopback_is_127_8_ipv6_one_and_localhost_only() {
        for (listen, loopback) in [
            ("127.0.0.1:8080", true),
            ("127.1.2.3:0", true),
            ("[::1]:8080", true),
            ("::1", true),
            ("localhost:8080", true),
            ("LocalHost:80", true),
            ("0.0.0.0:0", false),
            ("[::]:8080", false),
            ("192.168.1.5:8080", false),
            ("news.example.com:8080", false),
            ("localhost.example.com:80", false),
        ] {
            assert_eq!(is_loopback(listen), loopback, "{listen}");
        }
    }

    #[test]
    fn sending_and_serving_refuse_short_secrets_and_serving_the_development_secret_in_public() {
        use Signing::{Preview, Send, Serve};
        use TransportKind::{Outbox, Smtp};
        let short = "x".repeat(MIN_SECRET_BYTES - 1);
        let long = "x".repeat(MIN_SECRET_BYTES);
        // (transport, secret, signing, refused with)
        let cases: [(TransportKind, Option<&str>, Signing<'_>, Option<&str>); 12] = [
            (Outbox, Some(&short), Preview, None),
            (Outbox, Some(&short), Send, Some("short")),
            (Smtp, Some(&short), Send, Some("short")),
            (Outbox, Some(&short), Serve("127.0.0.1:0"), Some("short")),
            (Outbox, Some(&long), Send, None),
            (Outbox, Some(&long), Serve("0.0.0.0:0"), None),
            (Outbox, None, Send, None),
            (Outbox, None, Serve("127.0.0.1:0"), None),
            (Outbox, None, Serve("[::1]:0"), None),
            (Outbox, None, Serve("0.0.0.0:0"), Some("public")),
            (Smtp, None, Serve("0.0.0.0:0"), Some("public")),
            (Smtp, None, Send, Some("unset")),
        ];
        for (transport, value, signing, refused) in cases {
            let c = config(transport, false);
            let vars: Vec<(&str, &str)> = value.map(|v| ("SECRET", v)).into_iter().collect();
            let what = format!("{transport:?} {signing:?} {:?}", value.map(str::len));
            match (signer_for_in(&c, signing, &env(&vars)), refused) {
                (Ok(_), None) => {}
                (Err(PlanError::ShortSecret { name, len }), Some("short")) => {
                    assert_eq!((name.as_str(), len), ("SECRET", MIN_SECRET_BYTES - 1));
                }
                (Err(e @ PlanError::PublicDevelopmentSecret { .. }), Some("public")) => {
                    let msg = e.to_string();
                    assert!(msg.contains("`SECRET` is not set"), "{msg}");
                    assert!(msg.contains("`0.0.0.0:0`"), "{msg}");
                }
                (Err(PlanError::NoSecret(_)), Some("unset")) => {}
                (got, _) => panic!("{what}: {:?}", got.map(|(_, w)| w)),
            }
        }
        let e = weakness(
            &config(Outbox, false),
            Send,
            &env(&[("SECRET", "0123456789abcdef")]),
        );
        let msg = e.unwrap().to_string();
        for part in [
            "`SECRET` is 16 bytes long",
            "at least 32",
            "openssl rand -hex 32",
        ] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
    }

    #[test]
    fn check_reports_each_weakness_on_its_line() {
        let long = "x".repeat(MIN_SECRET_BYTES);
        let mut public = config(TransportKind::Outbox, false);
        public.server.listen = "0.0.0.0:8080".into();
        // (config, environment, (severity, text) of each line expected)
        let cases: [(&Config, Vars<'_>, Vars<'_>); 5] = [
            (
                &config(TransportKind::Outbox, false),
                &[],
                &[("warning", "is not set")],
            ),
            (
                &config(TransportKind::Smtp, false),
                &[],
                &[("error", "`send` refuses")],
            ),
            (
                &config(TransportKind::Outbox, false),
                &[("SECRET", "short")],
                &[("error", "is 5 bytes long")],
            ),
            (
                &public,
                &[],
                &[("warning", "is not set"), ("error", "beyond loopback")],
            ),
            (&public, &[("SECRET", &long)], &[]),
        ];
        for (c, vars, want) in cases {
            let got: Vec<String> = check_secret_in(c, &env(vars))
                .iter()
                .map(|d| d.to_string())
                .collect();
            assert_eq!(got.len(), want.len(), "{vars:?}: {got:?}");
            for (line, (severity, part)) in got.iter().zip(want) {
                assert!(line.contains(severity) && line.contains(part), "{line}");
            }
        }
    }
}
