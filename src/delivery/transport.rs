//! Where messages go: the file outbox or an SMTP relay, and one worker's
//! channel to it.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::address::Envelope;
use lettre::{AsyncFileTransport, Tokio1Executor};

use super::smtp::*;
use super::{Failure, SendError};
use crate::config::{Config, TransportKind};

/// Where messages go.
#[derive(Clone, Debug)]
pub enum Transport {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// An SMTP relay.
    Smtp(Arc<SmtpSettings>),
}

impl Transport {
    /// The configured transport; the outbox writes under `<outbox_dir>/<slot>/`.
    pub fn from_config(config: &Config, slot: &str) -> Self {
        match config.delivery.transport {
            TransportKind::Outbox => Transport::Outbox(config.delivery.outbox_dir.join(slot)),
            TransportKind::Smtp => Transport::Smtp(Arc::new(SmtpSettings::from_config(config))),
        }
    }

    /// A channel: one worker's own connection (or file writer).
    pub fn channel(&self) -> Result<Channel, SendError> {
        Ok(match self {
            Transport::Outbox(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SendError::Outbox {
                    path: dir.clone(),
                    source,
                })?;
                Channel::Outbox(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
            Transport::Smtp(settings) => Channel::Smtp {
                settings: settings.clone(),
                session: None,
                lock_step: false,
            },
        })
    }
}

/// One worker's way out: a file writer, or one long-lived SMTP connection.
pub enum Channel {
    /// The outbox.
    Outbox(AsyncFileTransport<Tokio1Executor>),
    /// An SMTP connection, opened on first use and after errors.
    Smtp {
        /// Where to connect.
        settings: Arc<SmtpSettings>,
        /// The open connection.
        session: Option<Box<Connection>>,
        /// The server broke PIPELINING once: never again on this channel.
        lock_step: bool,
    },
}

/// Sends one message outside the ledger (test sends, confirmations).
pub async fn send_one(
    transport: &Transport,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(u16, String), Failure> {
    let mut channel = transport
        .channel()
        .map_err(|e| Failure::Fatal(e.to_string()))?;
    let r = channel.send(envelope, message, None).await;
    channel.close().await;
    r
}
