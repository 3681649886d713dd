//! Delivery: moving prepared messages to a transport and recording every outcome.
//!
//! Owns transports (the file outbox, SMTP over connections tipsheet opens itself
//! with `TCP_NODELAY`, pipelined when the server allows), the worker pool,
//! retries with backoff (each wait recorded as `retrying`), the run loop that
//! hands recipients to workers, marks each in flight in the same commit as its
//! worker's previous result before its body goes out, and records each result
//! in the ledger (group commit), and stopping cleanly on a signal. It renders
//! nothing itself: it takes a [`Prepared`](crate::mail::prepared::Prepared) issue.
//!
//! The files, each depending only on those listed before it:
//! - `error`: [`Failure`] (one attempt) and [`SendError`] (a run);
//! - `refusal`: what a refusal means (reason, scope, provider), and
//!   [`failures_by_reason`];
//! - `pause`: providers paused after consecutive sender-level refusals;
//! - `options`: [`RunOptions`], [`Retry`], [`Summary`];
//! - `reporter`: the [`Reporter`] a caller implements;
//! - `throttle`, `quota` and `pages`: the pace (`rate_per_second`), the caps
//!   counted in the store, and the recipients claimed page by page;
//! - [`smtp`], `relays`, then [`transport`]: the wire, the relays in
//!   rotation, and where messages go;
//! - `worker`: one connection's loop;
//! - `run`: the run loop, [`run()`];
//! - [`session`]: one session (lock, freeze, recover, run, finish), the dry
//!   run and the test send;
//! - [`proof`]: `[PROOF]` copies to the editors, outside the ledger.
//!
//! This file only declares and re-exports: it uses nothing of its children,
//! and they never import from it.

mod error;
mod options;
mod pages;
mod pause;
pub mod proof;
mod quota;
mod refusal;
mod relays;
mod reporter;
mod run;
pub mod session;
pub mod smtp;
mod throttle;
pub mod transport;
mod worker;

pub use error::{Failure, SendError};
pub use options::{QuotaLimits, QuotaStop, RelayUse, Retry, RunOptions, Summary};
pub use pause::Pause;
pub use proof::{Proofs, send_proofs};
pub use refusal::{FailureCount, failures_by_reason, merged_failures};
pub use relays::{RelayChannel, Relays};
pub use reporter::{Reporter, Silent};
pub use run::run;
pub use session::{Delivered, Session, SessionError};
pub use smtp::SmtpSettings;
pub use transport::{Channel, Transport, send_one};
