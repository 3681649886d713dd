//! Where messages go: the file outbox or an SMTP relay, and one worker's
//! channel to it.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::address::Envelope;
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};

use super::error::{Failure, SendError};
use super::smtp::{SmtpChannel, SmtpSettings};
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
            Transport::Smtp(settings) => Channel::Smtp(SmtpChannel::new(settings.clone())),
        })
    }
}

/// One worker's way out: a file writer, or one long-lived SMTP connection.
pub enum Channel {
    /// The outbox.
    Outbox(AsyncFileTransport<Tokio1Executor>),
    /// An SMTP connection, opened on first use and after errors.
    Smtp(SmtpChannel),
}

impl Channel {
    /// Delivers one message; `Ok` carries the server's reply. `next`, when
    /// given, is the envelope of the message this channel will be asked to
    /// send next: with PIPELINING it follows this body's final dot (its
    /// replies are read by that next call). The next call must then be for
    /// that envelope; anything else drops the connection first.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        next: Option<&Envelope>,
    ) -> Result<(u16, String), Failure> {
        match self {
            Channel::Outbox(t) => t
                .send_raw(envelope, message)
                .await
                .map(|id| (250, format!("written to outbox as {id}.eml")))
                .map_err(|e| Failure::Fatal(format!("cannot write to the outbox: {e}"))),
            Channel::Smtp(smtp) => smtp.send(envelope, message, next).await,
        }
    }

    /// Whether the open connection pipelines: only then is naming `next` useful.
    pub fn pipelines(&self) -> bool {
        matches!(self, Channel::Smtp(smtp) if smtp.pipelines())
    }

    /// Says goodbye politely.
    pub async fn close(&mut self) {
        if let Channel::Smtp(smtp) = self {
            smtp.close().await;
        }
    }
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
