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
