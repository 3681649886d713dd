//! Integration tests: drive the real `tipsheet` binary against real files and a
//! real SMTP server running in this process. One test binary for build speed.

mod check;
mod common;
mod delivery;
mod dkim;
mod engine;
mod faults;
mod feeds;
mod files;
mod hold;
mod hostile;
mod hosts;
mod import;
mod inbound;
mod pg;
mod pipes;
mod preview;
mod privacy;
mod props;
mod quotas;
mod relays;
mod render;
mod schedule;
mod secrets;
mod security;
mod send;
mod server;
mod signup_limits;
mod signup_state;
mod smtp;
mod smtp_server;
mod store;
mod subscribers;
mod torn;
mod truth;
