//! tipsheet: a newsletter and content pipeline for a career-advice publisher.
//!
//! Data flows one way: [`config`] → [`content`] + [`list`] → [`mail`] →
//! [`delivery`] (→ [`store`]). [`schedule`] says when, [`web`] serves readers,
//! and [`cli`] wires the commands together. ARCHITECTURE.md has the map.
#![forbid(unsafe_code)]
// Printing goes through `output` (a closed pipe must not panic a command).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod config;
pub mod content;
pub mod delivery;
pub mod diagnostic;
pub mod import;
pub mod inbound;
pub mod list;
pub mod mail;
pub mod output;
pub mod plan;
pub mod schedule;
pub mod store;
pub mod web;

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
