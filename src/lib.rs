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
pub mod error;
pub mod import;
pub mod list;
pub mod mail;
pub mod plan;
pub mod schedule;
pub mod store;
pub mod web;

/// The console streams (moved into [`cli`]); the old path still works.
pub use cli::output;
