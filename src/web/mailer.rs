//! Link mails (sign-up confirmations and privacy links) leave from a
//! bounded queue served by one task, never inline in the request: a request
//! only counts its limits and queues; a full queue is answered "try later"
//! (503) with the limits given back, never a silent "sent". A mail that then
//! fails is logged and its limits given back, so the reader can ask again.
//!
//! Owns the queue and its worker. It must not decide who is mailed: the
//! handlers queue, and a privacy link goes only where `my_data.rs` finds
//! data.

use std::sync::Arc;

use axum::response::Response;
use tokio::sync::{Notify, mpsc};

use super::app::{App, LinkMail};

/// The queue: the sender goes into [`App`], the receiver to [`spawn`].
pub(super) fn channel(capacity: usize) -> (mpsc::Sender<LinkMail>, mpsc::Receiver<LinkMail>) {
    mpsc::channel(capacity.max(1))
}

impl App {
    /// Queues `mail`, or (full, or the server is stopping) gives its limits
    /// back and returns the "try later" page.
    pub(super) async fn queue(&self, mail: LinkMail) -> Result<(), Response> {
        match self.mailer.try_send(mail) {
            Ok(()) => Ok(()),
            Err(e) => {
                let (LinkMail::Confirm { hits, .. } | LinkMail::Privacy { hits, .. }) =
                    e.into_inner();
                self.give_back(&hits).await;
                self.note(
                    "warning: the mail queue is full; a request was told to try later".into(),
                );
                Err(self.queue_full())
            }
        }
    }
}

/// The worker: sends each queued mail in turn until `stop`, then the mails
/// already queued, and ends.
pub(super) fn spawn(
    app: Arc<App>,
    mut queue: mpsc::Receiver<LinkMail>,
    stop: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                mail = queue.recv() => match mail {
                    Some(m) => deliver(&app, m).await,
                    None => return,
                },
                () = stop.notified() => break,
            }
        }
        queue.close();
        while let Some(m) = queue.recv().await {
            deliver(&app, m).await;
        }
    })
}

async fn deliver(app: &App, mail: LinkMail) {
    match mail {
        LinkMail::Confirm {
            message,
            email,
            hits,
        } => match app.send_mail(*message).await {
            Ok(()) => app.note(format!("confirmation mail sent to `{email}`")),
            Err(e) => {
                app.give_back(&hits).await;
                app.note(format!(
                    "error: cannot send the confirmation mail to `{email}`: {e}"
                ));
            }
        },
        LinkMail::Privacy { address, key, hits } => {
            let sent = match app.holds_data(&key).await {
                Ok(false) => return, // Nothing to show or delete: no mail.
                Ok(true) => match app.privacy_mail(&address) {
                    Ok(m) => app.send_mail(m).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match sent {
                Ok(()) => app.note(format!("privacy link sent to `{key}`")),
                Err(e) => {
                    app.give_back(&hits).await;
                    app.note(format!(
                        "error: cannot send the privacy link to `{key}`: {e}"
                    ));
                }
            }
        }
    }
}
