//! tipsheet: a newsletter and content pipeline for a career-advice publisher.
//!
//! Data flows one way: [`config`] → [`content`] + [`subscribers`] → [`issue`] →
//! [`render`] → [`send`] (→ [`ledger`]). [`schedule`] says when, [`unsubscribe`]
//! signs the links, and [`cli`] wires the commands together.
#![forbid(unsafe_code)]
// Printing goes through `output` (a closed pipe must not panic a command).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod config;
pub mod content;
pub mod diagnostic;
pub mod dkim;
pub mod import;
pub mod issue;
pub mod ledger;
pub mod output;
pub mod plan;
pub mod render;
pub mod schedule;
pub mod send;
pub mod server;
pub mod subscribers;
pub mod unsubscribe;

/// Resolves on SIGINT or SIGTERM: how `send`, `run` and `serve` learn to stop.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
