//! tipsheet: a newsletter and content pipeline for a career-advice publisher.
//!
//! Data flows one way: [`config`] → [`content`] + [`list`] → [`mail`] →
//! [`delivery`] (→ [`store`]). [`plan`] ties them together for one command,
//! [`editorial`] decides whether an issue may go (approval, hold),
//! [`schedule`] says when, [`web`] serves readers, [`error`] maps failures to
//! exit codes, and [`cli`] is clap and printing. ARCHITECTURE.md has the map.
//! The library never prints and never exits.
#![forbid(unsafe_code)]
// Printing goes through `cli::output` (a closed pipe must not panic a command).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod config;
pub mod content;
pub mod delivery;
pub mod diagnostic;
pub mod editorial;
pub(crate) mod error;
pub mod feeds;
pub(crate) mod fsperm;
pub mod import;
pub mod inbound;
pub mod list;
pub mod mail;
pub mod plan;
pub(crate) mod reader_data;
pub mod schedule;
pub mod store;
pub mod web;
