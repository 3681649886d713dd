//! Several relays as one way out: each message goes to a relay chosen by
//! smooth weighted round-robin (nginx's: deterministic, in proportion to the
//! weights, interleaved rather than in runs), and a relay that fails to
//! connect or authenticate, or refuses everyone, leaves the rotation for a
//! back-off that doubles with each failure in a row; its messages go to the
//! others, never counted against their readers.
//!
//! Owns [`Relays`] (the rotation all of a run's workers share) and
//! [`RelayChannel`] (one worker's connections, one per relay, opened on
//! first use). With one relay it is that relay, as before: no rotation, no
//! lock. Must not touch the store or decide about a recipient: a failure
//! that is not the relay's goes back to the worker as it came.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::address::Envelope;

use super::error::Failure;
use super::options::RelayUse;
use super::refusal::relay_wide;
use super::smtp::{SmtpChannel, SmtpSettings};
use crate::config::Config;

/// One relay of the rotation.
struct Relay {
    settings: Arc<SmtpSettings>,
    weight: i64,
    /// Messages it accepted.
    carried: AtomicU64,
}

/// Where each relay stands in the rotation.
#[derive(Debug, Default)]
struct Rotation {
    /// Smooth weighted round-robin's running weights.
    current: Vec<i64>,
    /// Out of rotation until then.
    out_until: Vec<Option<Instant>>,
    /// Failures in a row (the back-off doubles with each).
    strikes: Vec<u32>,
    /// Times taken out.
    taken_out: Vec<u32>,
}

/// The relays of one run (or one single message), shared by its workers.
pub struct Relays {
    relays: Vec<Relay>,
    backoff: Duration,
    backoff_max: Duration,
    rotation: Mutex<Rotation>,
}

impl std::fmt::Debug for Relays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.relays.iter().map(|r| &*r.settings.name).collect();
        write!(f, "Relays({names:?})")
    }
}

impl Relays {
    /// The relays of `config` (`[[smtp.relays]]`, or `[smtp]` as the one relay).
    pub fn from_config(config: &Config) -> Self {
        let relays = config
            .smtp
            .relays()
            .iter()
            .map(|r| (SmtpSettings::for_relay(config, r), r.weight))
            .collect();
        Self::new(
            relays,
            Duration::from_secs(config.smtp.relay_backoff_seconds),
            Duration::from_secs(config.smtp.relay_backoff_max_seconds),
        )
    }

    /// `relays` with their weights; a relay out of rotation stays out for
    /// `backoff`, doubled with each failure in a row up to `backoff_max`.
    pub fn new(relays: Vec<(SmtpSettings, u32)>, backoff: Duration, backoff_max: Duration) -> Self {
        let n = relays.len();
        Self {
            relays: relays
                .into_iter()
                .map(|(s, w)| Relay {
                    settings: Arc::new(s),
                    weight: i64::from(w.max(1)),
                    carried: AtomicU64::new(0),
                })
                .collect(),
            backoff,
            backoff_max: backoff_max.max(backoff),
            rotation: Mutex::new(Rotation {
                current: vec![0; n],
                out_until: vec![None; n],
                strikes: vec![0; n],
                taken_out: vec![0; n],
            }),
        }
    }

    fn rotation(&self) -> std::sync::MutexGuard<'_, Rotation> {
        self.rotation.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shared(&self) -> bool {
        self.relays.len() > 1
    }

    /// The next relay by weight among those in rotation and not in `tried`
    /// (a bit per relay). With none left in rotation and nothing tried yet,
    /// the one back soonest: the caller then fails as with one relay.
    fn pick(&self, tried: u32) -> Option<usize> {
        if !self.shared() {
            return (tried == 0).then_some(0);
        }
        let now = Instant::now();
        let mut rot = self.rotation();
        let mut total = 0;
        let mut best: Option<usize> = None;
        for (i, r) in self.relays.iter().enumerate() {
            if tried & (1 << i) != 0 || rot.out_until[i].is_some_and(|t| t > now) {
                continue;
            }
            rot.current[i] += r.weight;
            total += r.weight;
            if best.is_none_or(|b| rot.current[i] > rot.current[b]) {
                best = Some(i);
            }
        }
        if let Some(b) = best {
            rot.current[b] -= total;
            return Some(b);
        }
        if tried != 0 {
            return None;
        }
        (0..self.relays.len()).min_by_key(|&i| rot.out_until[i])
    }

    /// Whether relay `i` is in rotation now.
    fn in_rotation(&self, i: usize) -> bool {
        !self.shared() || self.rotation().out_until[i].is_none_or(|t| t <= Instant::now())
    }

    /// Relay `i` accepted a message: its failures in a row end.
    fn carried(&self, i: usize) {
        self.relays[i].carried.fetch_add(1, Ordering::Relaxed);
        if self.shared() {
            let mut rot = self.rotation();
            if rot.strikes[i] > 0 {
                rot.strikes[i] = 0;
            }
        }
    }

    /// Relay `i` failed everyone: out of rotation for its back-off.
    fn take_out(&self, i: usize) {
        let mut rot = self.rotation();
        let now = Instant::now();
        if rot.out_until[i].is_some_and(|t| t > now) {
            // Another worker took it out already for this failure.
            return;
        }
        rot.strikes[i] += 1;
        rot.taken_out[i] += 1;
        let wait = self
            .backoff
            .saturating_mul(1 << (rot.strikes[i] - 1).min(16))
            .min(self.backoff_max);
        rot.out_until[i] = Some(now + wait);
    }

    /// Each relay: what it carried, how often it was taken out, whether it
    /// is out now.
    pub fn uses(&self) -> Vec<RelayUse> {
        let rot = self.rotation();
        let now = Instant::now();
        self.relays
            .iter()
            .enumerate()
            .map(|(i, r)| RelayUse {
                name: r.settings.name.to_string(),
                carried: r.carried.load(Ordering::Relaxed),
                taken_out: rot.taken_out[i],
                out: rot.out_until[i].is_some_and(|t| t > now),
            })
            .collect()
    }
}

/// Whether a failure is the relay's own: it came while connecting, or the
/// reply refuses everyone ([`relay_wide`]).
fn fails_everyone(failure: &Failure, connecting: bool) -> bool {
    match failure {
        Failure::Unreachable(_) | Failure::Fatal(_) => true,
        _ if connecting => true,
        Failure::Transient { code, text } | Failure::Permanent { code, text } => {
            relay_wide(*code, text)
        }
    }
}

/// One worker's way to the relays: a connection per relay, opened on first use.
pub struct RelayChannel {
    relays: Arc<Relays>,
    channels: Vec<SmtpChannel>,
    /// The relay already drawn for the next message (its envelope perhaps
    /// already on that relay's wire).
    next: Option<usize>,
    /// The relay that carried (or refused) the last message.
    last: Option<usize>,
}

impl RelayChannel {
    /// A channel to `relays`; nothing is opened until the first send.
    pub fn new(relays: Arc<Relays>) -> Self {
        let channels = relays
            .relays
            .iter()
            .map(|r| SmtpChannel::new(r.settings.clone()))
            .collect();
        Self {
            relays,
            channels,
            next: None,
            last: None,
        }
    }

    /// Delivers one message through the next relay by weight; a failure of
    /// the relay itself takes it out of rotation and the message goes to
    /// the next relay in rotation. `next`, as for [`SmtpChannel::send`], is
    /// the next message's envelope: its relay is drawn now, and it follows
    /// this body only when that is the same relay.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        next: Option<&Envelope>,
    ) -> Result<(u16, String), Failure> {
        let mut tried = 0u32;
        let mut failed: Option<Failure> = None;
        loop {
            let drawn = self
                .next
                .take()
                .filter(|&r| self.channels[r].primed() || self.relays.in_rotation(r));
            let Some(r) = drawn.or_else(|| self.relays.pick(tried)) else {
                // Every relay was tried for this message and failed it.
                return Err(failed.unwrap_or(Failure::Transient {
                    code: None,
                    text: "no relay in rotation".into(),
                }));
            };
            tried |= 1 << r;
            let follow = match next {
                Some(n) if self.relays.shared() => {
                    let after = self.relays.pick(0).unwrap_or(r);
                    self.next = Some(after);
                    (after == r).then_some(n)
                }
                other => other,
            };
            self.last = Some(r);
            match self.channels[r]
                .send_staged(envelope, message, follow)
                .await
            {
                Ok(reply) => {
                    self.relays.carried(r);
                    return Ok(reply);
                }
                Err((f, connecting)) if self.relays.shared() && fails_everyone(&f, connecting) => {
                    self.relays.take_out(r);
                    // A drawn next relay stands; an envelope primed on this
                    // connection is gone with it.
                    if self.next == Some(r) {
                        self.next = None;
                    }
                    failed = Some(f);
                }
                Err((f, _)) => return Err(f),
            }
        }
    }

    /// The relay that carried (or refused) the last message.
    pub fn relay(&self) -> Option<Arc<str>> {
        self.last
            .map(|r| self.relays.relays[r].settings.name.clone())
    }

    /// Whether the open connection of the relay drawn next (or used last)
    /// pipelines.
    pub fn pipelines(&self) -> bool {
        let r = self.next.or(self.last).unwrap_or(0);
        self.channels[r].pipelines()
    }

    /// Says goodbye politely on every open connection.
    pub async fn close(&mut self) {
        for c in &mut self.channels {
            c.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Tls;

    fn relays(weights: &[u32]) -> Relays {
        let settings = |i: usize| SmtpSettings {
            name: format!("r{i}").into(),
            host: "127.0.0.1".into(),
            port: 1,
            tls: Tls::None,
            hello: lettre::transport::smtp::extension::ClientId::Domain("x".into()),
            credentials: None,
            timeout: Duration::from_secs(1),
            ca_pem: None,
        };
        Relays::new(
            weights
                .iter()
                .enumerate()
                .map(|(i, w)| (settings(i), *w))
                .collect(),
            Duration::from_secs(30),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn messages_are_shared_by_weight_and_interleaved() {
        let r = relays(&[3, 1]);
        let picks: Vec<usize> = (0..8).map(|_| r.pick(0).unwrap()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 0, 0, 1, 0]);
        let r = relays(&[5, 2, 1]);
        let mut n = [0; 3];
        for _ in 0..800 {
            n[r.pick(0).unwrap()] += 1;
        }
        assert_eq!(n, [500, 200, 100]);
    }

    #[test]
    fn a_relay_out_of_rotation_is_skipped_and_backs_off_longer_each_time() {
        let r = relays(&[3, 1]);
        r.take_out(0);
        assert!(!r.in_rotation(0));
        assert!((0..5).all(|_| r.pick(0) == Some(1)));
        // Tried already for this message: nothing else is in rotation.
        assert_eq!(r.pick(1 << 1), None);
        let first = r.rotation().out_until[0].unwrap() - Instant::now();
        assert!(first > Duration::from_secs(25) && first <= Duration::from_secs(30));
        // Back in rotation, and failing again at once: twice as long.
        r.rotation().out_until[0] = Some(Instant::now());
        r.take_out(0);
        let second = r.rotation().out_until[0].unwrap() - Instant::now();
        assert!(second > Duration::from_secs(55), "doubled: {second:?}");
        // Both out: the one back soonest is still tried, as one relay would be.
        r.take_out(1);
        assert_eq!(r.pick(0), Some(1));
        r.carried(0);
        assert_eq!(r.rotation().strikes[0], 0);
        let uses = r.uses();
        assert_eq!((uses[0].taken_out, uses[1].taken_out), (2, 1));
        assert_eq!(uses[0].carried, 1);
    }
}
