//! The loop behind `tipsheet run`: wait for each slot, have it sent, retry
//! with backoff while it is within grace, continue a send a cap stopped at
//! the time it names (within grace or not: it was started in time), stop on
//! request.
//!
//! Owns *when* to try a slot. It is generic over the [`Clock`], over the
//! callback that sends one slot and over the one that lists the sends a cap
//! stopped as the store keeps them (so that a restart, or a stop by another
//! command or host, is continued too), so it knows nothing of config,
//! content, delivery or the ledger, and never prints: the callbacks report.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::clock::Clock;
use super::{Schedule, Slot};

/// What the callback made of a due slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotOutcome {
    /// The ledger already has it sent to everyone: wait for the next slot.
    AlreadySent,
    /// Sent now, to everyone.
    Sent,
    /// Stopped by a signal: the loop ends.
    Interrupted,
    /// Not (fully) sent: try again after a backoff while within grace.
    Retry,
    /// Stopped at a cap with recipients pending: continue it at this time.
    Later(DateTime<Utc>),
}

/// A failed continuation of a capped send is tried this many times in a
/// row (with the backoff) before it is left to the operator.
const RESUME_TRIES: u32 = 5;

/// Longest nap, so a wall-clock jump (suspend, NTP) is noticed.
const MAX_NAP: Duration = Duration::from_secs(30);
/// Shortest nap, so a slot just reached is not spun on.
const MIN_NAP: Duration = Duration::from_millis(50);

/// The backoff after the `failures`-th failed try in a row: 60 s, doubling to 8 min.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(30u64 << failures.clamp(1, 4))
}

/// Calls `ahead` once for each slot, `lead` before its time (or at once, if
/// the loop starts later than that); a zero `lead` never calls it.
pub(crate) struct Ahead<G> {
    /// How long before a slot.
    pub lead: Duration,
    /// What to do then (the caller warns, fetches, …).
    pub call: G,
}

/// Runs until `stop` is set (and `wake` notified): each due slot goes to
/// `send_slot`, as often as it takes while it is within grace; `ahead` hears
/// of each slot `ahead.lead` before it; each turn of the loop asks `stopped`
/// for the sends a cap stopped (the slot, when to continue it) and
/// continues those it does not know of yet at that time.
pub(crate) async fn run<C, F, Fut, G, GFut, H, HFut>(
    schedule: &Schedule,
    clock: &C,
    stop: &AtomicBool,
    wake: &Notify,
    mut ahead: Ahead<G>,
    mut stopped: H,
    mut send_slot: F,
) where
    C: Clock,
    F: FnMut(Slot) -> Fut,
    Fut: Future<Output = SlotOutcome>,
    G: FnMut(Slot) -> GFut,
    GFut: Future<Output = ()>,
    H: FnMut() -> HFut,
    HFut: Future<Output = Vec<(Slot, DateTime<Utc>)>>,
{
    let mut failures = 0u32;
    let mut told: Option<u32> = None;
    // Sends stopped at a cap: the slot, when to continue it, failed tries.
    let mut later: Vec<(Slot, DateTime<Utc>, u32)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        // What this loop already tries keeps its time and tries.
        for (slot, at) in stopped().await {
            if !later.iter().any(|(s, _, _)| s.date == slot.date) {
                later.push((slot, at, 0));
            }
        }
        let now = clock.now();
        // The oldest issue first: readers get issues in order.
        later.sort_by_key(|(slot, _, _)| slot.date);
        if let Some(i) = later.iter().position(|(_, at, _)| *at <= now) {
            let (slot, _, tries) = later.remove(i);
            match send_slot(slot.clone()).await {
                SlotOutcome::Interrupted => break,
                SlotOutcome::Later(at) => later.push((slot, at, 0)),
                SlotOutcome::Retry if tries + 1 < RESUME_TRIES => {
                    later.push((slot, now + backoff(tries + 1), tries + 1));
                }
                SlotOutcome::Retry | SlotOutcome::Sent | SlotOutcome::AlreadySent => {}
            }
            continue;
        }
        if !ahead.lead.is_zero()
            && let Some(next) = schedule.slots_from(now).find(|s| s.utc > now)
            && told != Some(next.number)
            && (next.utc - now).to_std().unwrap_or_default() <= ahead.lead
        {
            told = Some(next.number);
            (ahead.call)(next).await;
            continue;
        }
        let waiting = |date| later.iter().any(|(s, _, _)| s.date == date);
        if let Some(slot) = schedule.due(now).filter(|s| !waiting(s.date)) {
            match send_slot(slot.clone()).await {
                SlotOutcome::AlreadySent => {}
                SlotOutcome::Sent => {
                    failures = 0;
                    continue;
                }
                SlotOutcome::Interrupted => break,
                SlotOutcome::Retry => {
                    failures += 1;
                    nap(clock, backoff(failures), wake).await;
                    continue;
                }
                SlotOutcome::Later(at) => {
                    failures = 0;
                    later.push((slot, at, 0));
                    continue;
                }
            }
        }
        // Sleep toward the next slot, waking at least every `MAX_NAP`.
        let next = schedule
            .slots_from(now)
            .find(|s| s.utc > now)
            .map(|s| (s.utc - now).to_std().unwrap_or_default());
        let resume = later
            .iter()
            .map(|(_, at, _)| (*at - now).to_std().unwrap_or_default())
            .min();
        let d = next
            .unwrap_or(MAX_NAP)
            .min(resume.unwrap_or(MAX_NAP))
            .min(MAX_NAP)
            .max(MIN_NAP);
        nap(clock, d, wake).await;
    }
}

async fn nap(clock: &impl Clock, d: Duration, wake: &Notify) {
    tokio::select! {
        () = clock.sleep(d) => {},
        () = wake.notified() => {},
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use chrono::{DateTime, TimeDelta, TimeZone, Utc};

    use super::*;

    /// A clock that jumps forward when slept on, recording each nap.
    struct FakeClock {
        now: RefCell<DateTime<Utc>>,
        naps: RefCell<Vec<Duration>>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> DateTime<Utc> {
            *self.now.borrow()
        }
        fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
            self.naps.borrow_mut().push(d);
            let step = TimeDelta::from_std(d).unwrap_or_default();
            *self.now.borrow_mut() += step;
            std::future::ready(())
        }
    }

    type NoCall = fn(Slot) -> std::future::Ready<()>;

    fn never() -> Ahead<NoCall> {
        Ahead {
            lead: Duration::ZERO,
            call: |_| std::future::ready(()),
        }
    }

    type NoneStopped = fn() -> std::future::Ready<Vec<(Slot, DateTime<Utc>)>>;

    /// The store knows of no send a cap stopped.
    fn none_stopped() -> NoneStopped {
        || std::future::ready(Vec::new())
    }

    fn weekly() -> Schedule {
        // Tuesdays 09:00 UTC from 2026-12-01, grace 6h.
        Schedule::new("0 9 * * TUE", "UTC", 1, "2026-12-01", "6h").unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn clock(start: DateTime<Utc>) -> FakeClock {
        FakeClock {
            now: RefCell::new(start),
            naps: RefCell::new(Vec::new()),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_slot_is_sent_once_when_due_and_the_loop_waits_for_the_next() {
        let schedule = weekly();
        let clock = clock(at(2026, 12, 1, 8, 59));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let sent: RefCell<Vec<(u32, DateTime<Utc>)>> = RefCell::new(Vec::new());
        run(
            &schedule,
            &clock,
            &stop,
            &wake,
            never(),
            none_stopped(),
            |slot| {
                let now = clock.now();
                let already = sent.borrow().iter().any(|(n, _)| *n == slot.number);
                let outcome = if already {
                    SlotOutcome::AlreadySent
                } else {
                    sent.borrow_mut().push((slot.number, now));
                    SlotOutcome::Sent
                };
                if sent.borrow().len() == 2 {
                    stop.store(true, Ordering::SeqCst);
                }
                async move { outcome }
            },
        )
        .await;
        let sent = sent.into_inner();
        assert_eq!(
            sent.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![1, 2],
            "slots #1 and #2, once each"
        );
        // Neither was sent before its time, nor later than one nap after it.
        for (n, when) in &sent {
            let slot = schedule
                .slots_from(at(2026, 11, 30, 0, 0))
                .nth(*n as usize - 1)
                .unwrap();
            assert!(
                *when >= slot.utc,
                "#{n} sent at {when}, before {}",
                slot.utc
            );
            assert!(
                *when - slot.utc <= TimeDelta::seconds(30),
                "#{n} sent late at {when}"
            );
        }
        assert!(
            clock
                .naps
                .borrow()
                .iter()
                .all(|d| *d <= MAX_NAP && *d >= MIN_NAP)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_slot_is_retried_with_growing_backoff_until_it_is_past_grace() {
        let schedule = weekly();
        let clock = clock(at(2026, 12, 1, 9, 0));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let tries: RefCell<Vec<DateTime<Utc>>> = RefCell::new(Vec::new());
        run(
            &schedule,
            &clock,
            &stop,
            &wake,
            never(),
            none_stopped(),
            |slot| {
                if slot.number == 1 {
                    tries.borrow_mut().push(clock.now());
                } else {
                    stop.store(true, Ordering::SeqCst);
                }
                async { SlotOutcome::Retry }
            },
        )
        .await;
        let tries = tries.into_inner();
        let gaps: Vec<i64> = tries
            .windows(2)
            .map(|w| (w[1] - w[0]).num_seconds())
            .collect();
        assert_eq!(
            &gaps[..4],
            &[60, 120, 240, 480],
            "backoff doubles from a minute"
        );
        assert!(
            gaps[4..].iter().all(|g| *g == 480),
            "and stays at 8 min: {gaps:?}"
        );
        // The last try is within grace; none after it ends.
        let last = *tries.last().unwrap();
        assert!(
            last < at(2026, 12, 1, 15, 0) && last >= at(2026, 12, 1, 14, 52),
            "{last}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_slot_is_announced_once_a_lead_before_it() {
        let schedule = weekly();
        let clock = clock(at(2026, 11, 28, 12, 0));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let told: RefCell<Vec<(u32, DateTime<Utc>)>> = RefCell::new(Vec::new());
        let ahead = Ahead {
            lead: Duration::from_secs(24 * 3600),
            call: |slot: Slot| {
                told.borrow_mut().push((slot.number, clock.now()));
                std::future::ready(())
            },
        };
        let sent = RefCell::new(0);
        run(
            &schedule,
            &clock,
            &stop,
            &wake,
            ahead,
            none_stopped(),
            |slot| {
                if slot.number == 2 {
                    stop.store(true, Ordering::SeqCst);
                }
                let outcome = if *sent.borrow() == slot.number {
                    SlotOutcome::AlreadySent
                } else {
                    *sent.borrow_mut() = slot.number;
                    SlotOutcome::Sent
                };
                async move { outcome }
            },
        )
        .await;
        let told = told.into_inner();
        assert_eq!(
            told.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![1, 2],
            "each slot once: {told:?}"
        );
        for ((_, when), slot_day) in told.iter().zip([1, 8]) {
            let lead = at(2026, 12, slot_day, 9, 0) - *when;
            assert!(
                lead <= TimeDelta::hours(24)
                    && lead > TimeDelta::hours(24) - TimeDelta::seconds(31),
                "told at {when}"
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_send_stopped_at_a_cap_is_continued_when_it_says_even_past_grace() {
        let schedule = weekly();
        let clock = clock(at(2026, 12, 1, 9, 0));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let calls: RefCell<Vec<(u32, DateTime<Utc>)>> = RefCell::new(Vec::new());
        run(
            &schedule,
            &clock,
            &stop,
            &wake,
            never(),
            none_stopped(),
            |slot| {
                let now = clock.now();
                calls.borrow_mut().push((slot.number, now));
                let n = calls.borrow().len();
                let outcome = match n {
                    // The day's cap: continue tomorrow, far past the 6 h grace.
                    1 => SlotOutcome::Later(at(2026, 12, 2, 9, 1)),
                    _ => {
                        stop.store(true, Ordering::SeqCst);
                        SlotOutcome::Sent
                    }
                };
                async move { outcome }
            },
        )
        .await;
        let calls = calls.into_inner();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[1].0, 1, "the same issue, continued");
        assert!(
            calls[1].1 >= at(2026, 12, 2, 9, 1) && calls[1].1 <= at(2026, 12, 2, 9, 2),
            "{:?}",
            calls[1]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_send_a_cap_stopped_before_a_restart_is_continued_from_the_store_past_grace() {
        let schedule = weekly();
        // A fresh loop, the day after slot #1, far past its grace: only the
        // store knows that a cap stopped it until 09:01.
        let clock = clock(at(2026, 12, 2, 8, 0));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let slot1 = schedule.slot_on(schedule.anchor()).unwrap();
        let asked = RefCell::new(0u32);
        let calls: RefCell<Vec<(u32, DateTime<Utc>)>> = RefCell::new(Vec::new());
        let stopped = || {
            *asked.borrow_mut() += 1;
            // Bounded, so that a loop that forgets the stop fails, not hangs.
            if clock.now() > at(2026, 12, 2, 12, 0) {
                stop.store(true, Ordering::SeqCst);
            }
            // The store clears the time once a send of the issue starts.
            let listed = if calls.borrow().is_empty() {
                vec![(slot1.clone(), at(2026, 12, 2, 9, 1))]
            } else {
                Vec::new()
            };
            std::future::ready(listed)
        };
        run(&schedule, &clock, &stop, &wake, never(), stopped, |slot| {
            calls.borrow_mut().push((slot.number, clock.now()));
            stop.store(true, Ordering::SeqCst);
            async { SlotOutcome::Sent }
        })
        .await;
        let calls = calls.into_inner();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].0, 1, "issue #1, continued");
        assert!(
            calls[0].1 >= at(2026, 12, 2, 9, 1) && calls[0].1 <= at(2026, 12, 2, 9, 2),
            "at its time, not before: {calls:?}"
        );
        assert!(*asked.borrow() > 1, "the store is asked on every turn");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_send_another_command_stopped_at_a_cap_is_seen_on_a_later_turn() {
        let schedule = weekly();
        let clock = clock(at(2026, 12, 3, 8, 0));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let slot1 = schedule.slot_on(schedule.anchor()).unwrap();
        let calls: RefCell<Vec<DateTime<Utc>>> = RefCell::new(Vec::new());
        // Until 10:00 the store lists nothing; then a cap stop of issue #1
        // kept by another command, until 10:30.
        let stopped = || {
            if clock.now() > at(2026, 12, 3, 12, 0) {
                stop.store(true, Ordering::SeqCst);
            }
            let listed = if clock.now() >= at(2026, 12, 3, 10, 0) && calls.borrow().is_empty() {
                vec![(slot1.clone(), at(2026, 12, 3, 10, 30))]
            } else {
                Vec::new()
            };
            std::future::ready(listed)
        };
        run(&schedule, &clock, &stop, &wake, never(), stopped, |_| {
            calls.borrow_mut().push(clock.now());
            stop.store(true, Ordering::SeqCst);
            async { SlotOutcome::Sent }
        })
        .await;
        let calls = calls.into_inner();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(
            calls[0] >= at(2026, 12, 3, 10, 30) && calls[0] <= at(2026, 12, 3, 10, 31),
            "{calls:?}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_interrupted_send_ends_the_loop() {
        let schedule = weekly();
        let clock = clock(at(2026, 12, 1, 9, 0));
        let stop = AtomicBool::new(false);
        let wake = Notify::new();
        let calls = RefCell::new(0);
        run(
            &schedule,
            &clock,
            &stop,
            &wake,
            never(),
            none_stopped(),
            |_| {
                *calls.borrow_mut() += 1;
                async { SlotOutcome::Interrupted }
            },
        )
        .await;
        assert_eq!(calls.into_inner(), 1);
    }
}
