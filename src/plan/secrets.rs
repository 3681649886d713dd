//! Which secret signs a command's links and keys its erasure hashes: the one
//! named by `unsubscribe.secret_env`, the development secret only with the
//! outbox, and the previous secret (`unsubscribe.previous_secret_env`)
//! accepted but never used to sign.
//!
//! Owns these rules and the only reads of those variables for signing. Must
//! not open the store or print: the development secret's warning goes back
//! to the caller.

use super::error::PlanError;
use crate::config::{Config, TransportKind};
use crate::list;
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};

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
}
