//! Where messages go: the file outbox or an SMTP relay, and one worker's
//! channel to it. Outbox files carry unsubscribe tokens: they are written
//! owner-only (0600) in owner-only folders (`crate::fsperm`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lettre::address::Envelope;

use super::error::{Failure, SendError};
use super::relays::{RelayChannel, Relays};
use crate::config::{Config, TransportKind};

/// Where messages go.
#[derive(Clone, Debug)]
pub enum Transport {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// One SMTP relay, or several in rotation.
    Smtp(Arc<Relays>),
}

impl Transport {
    /// The configured transport; the outbox writes under `<outbox_dir>/<slot>/`.
    pub fn from_config(config: &Config, slot: &str) -> Self {
        match config.delivery.transport {
            TransportKind::Outbox => Transport::Outbox(config.delivery.outbox_dir.join(slot)),
            TransportKind::Smtp => Transport::Smtp(Arc::new(Relays::from_config(config))),
        }
    }

    /// A channel: one worker's own connection (or file writer).
    pub fn channel(&self) -> Result<Channel, SendError> {
        Ok(match self {
            Transport::Outbox(dir) => {
                crate::fsperm::create_private_dir(dir).map_err(|source| SendError::Outbox {
                    path: dir.clone(),
                    source,
                })?;
                Channel::Outbox(dir.clone())
            }
            Transport::Smtp(relays) => Channel::Smtp(RelayChannel::new(relays.clone())),
        })
    }
}

/// One worker's way out: a file writer, or one long-lived SMTP connection.
pub enum Channel {
    /// The outbox folder.
    Outbox(PathBuf),
    /// SMTP connections (one per relay), opened on first use and after errors.
    Smtp(RelayChannel),
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
            Channel::Outbox(dir) => write_eml(dir, message)
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

    /// The relay that carried (or refused) the last message; `None` for the outbox.
    pub fn relay(&self) -> Option<Arc<str>> {
        match self {
            Channel::Outbox(_) => None,
            Channel::Smtp(smtp) => smtp.relay(),
        }
    }

    /// Says goodbye politely.
    pub async fn close(&mut self) {
        if let Channel::Smtp(smtp) = self {
            smtp.close().await;
        }
    }
}

/// Writes `message` as a new owner-only `<id>.eml` in `dir`; returns the id.
/// The id is unique across processes (time, process id and a counter) and the
/// file is created new, so a clash fails rather than overwriting. It is
/// written as `<id>.eml.tmp` and renamed, so whoever watches the folder (a
/// pickup script, the server's queue read by a test) never reads half a mail.
async fn write_eml(dir: &Path, message: &[u8]) -> std::io::Result<String> {
    use tokio::io::AsyncWriteExt;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{nanos}-{}-{n}", std::process::id());
    let mut options = tokio::fs::OpenOptions::from(crate::fsperm::private_file());
    let partial = dir.join(format!("{id}.eml.tmp"));
    let mut file = options.write(true).create_new(true).open(&partial).await?;
    file.write_all(message).await?;
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&partial, dir.join(format!("{id}.eml"))).await?;
    Ok(id)
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
