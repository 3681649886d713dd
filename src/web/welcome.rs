//! The welcome email a reader gets once, when they confirm a double opt-in
//! sign-up.
//!
//! Owns what it says (what the newsletter is, when the next issue goes out by
//! the schedule, a link to the latest issue in the archive) and the headers
//! that make it a list mail (List-Id, List-Unsubscribe, List-Unsubscribe-Post).
//! It is built and sent exactly as the confirmation mail is (`App::mail`,
//! `App::send_mail`: the newsletter's From, DKIM when `[dkim]` is set, the
//! same transport). It must not decide who is new or write the list: the
//! confirm handler calls it only for an address it has just added, which is
//! what makes it once per address.

use std::sync::Arc;

use crate::store::Snapshot;
use askama::Template;
use lettre::Address;
use lettre::message::Message;
use lettre::message::header::{HeaderName, HeaderValue};

use super::app::{App, blocking};
use crate::list::normalize;
use crate::mail::headers::{list_unsubscribe, text_header};
use crate::plan;
use crate::schedule::clock::Clock as _;

/// The latest issue in the archive.
struct Latest {
    title: String,
    url: String,
}

/// What both parts of the welcome show.
struct Welcome {
    newsletter: String,
    greeting: String,
    email: String,
    minutes: u32,
    /// "Tuesday, December 15 at 9:00 AM EST"; `None` when the schedule has no slot left.
    next: Option<String>,
    /// "every other Tuesday", from the gap between the next two issues.
    cadence: Option<String>,
    latest: Option<Latest>,
    archive_url: String,
    unsubscribe_url: String,
    postal: String,
}

#[derive(Template)]
#[template(path = "welcome_email.txt")]
struct WelcomeText<'a>(&'a Welcome);

#[derive(Template)]
#[template(path = "welcome_email.html")]
struct WelcomeHtml<'a>(&'a Welcome);

// askama templates read fields directly; expose the view's fields by deref.
impl std::ops::Deref for WelcomeText<'_> {
    type Target = Welcome;
    fn deref(&self) -> &Welcome {
        self.0
    }
}
impl std::ops::Deref for WelcomeHtml<'_> {
    type Target = Welcome;
    fn deref(&self) -> &Welcome {
        self.0
    }
}

impl App {
    /// The welcome mail for a reader just added (file and ledger reads: call
    /// it off the async threads).
    pub(super) fn welcome_mail(
        &self,
        ledger: &Snapshot,
        to: &Address,
        name: &str,
    ) -> Result<Message, String> {
        let n = &self.config.newsletter;
        let base = n.base_url.trim_end_matches('/');
        let email = to.to_string();
        let key = normalize(&email);
        let unsubscribe_url = self.signer.unsubscribe_url(&n.base_url, &key);
        let (next, cadence) = self.next_issues(ledger);
        let welcome = Welcome {
            newsletter: n.name.clone(),
            greeting: if name.is_empty() {
                n.greeting_fallback.clone()
            } else {
                name.to_string()
            },
            email,
            minutes: n.max_reading_minutes,
            next,
            cadence,
            latest: self.latest_issue(ledger, base),
            archive_url: format!("{base}/issues/"),
            unsubscribe_url: unsubscribe_url.clone(),
            postal: n.postal.clone(),
        };
        let text = WelcomeText(&welcome)
            .render()
            .map_err(|e| format!("template `welcome_email.txt` failed: {e}"))?;
        let html = WelcomeHtml(&welcome)
            .render()
            .map_err(|e| format!("template `welcome_email.html` failed: {e}"))?;
        let mut message = self.mail(to, &format!("Welcome to {}", n.name), text, html)?;
        let headers = message.headers_mut();
        headers.insert_raw(text_header("List-Id", &n.name, &format!("<{}>", n.list_id)));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            list_unsubscribe(&unsubscribe_url, &self.config.unsubscribe.mailto),
        ));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".into(),
        ));
        Ok(message)
    }

    /// When the next issue not yet sent goes out, in the schedule's time
    /// zone, and how often issues go out.
    fn next_issues(&self, ledger: &Snapshot) -> (Option<String>, Option<String>) {
        let Ok(schedule) = self.config.schedule() else {
            return (None, None);
        };
        let Ok(next) = plan::next_slot(&schedule, Some(ledger), self.clock.now()) else {
            return (None, None);
        };
        let when = next.local.format("%A, %B %-d at %-I:%M %p %Z").to_string();
        let after = schedule.slots_from(next.utc).find(|s| s.utc > next.utc);
        let cadence = after.and_then(|after| {
            let days = (after.date - next.date).num_days();
            let day = next.local.format("%A");
            match (days % 7 == 0).then_some(days / 7) {
                Some(1) => Some(format!("every {day}")),
                Some(2) => Some(format!("every other {day}")),
                Some(w) if w > 2 => Some(format!("every {w} weeks, on a {day}")),
                _ => None,
            }
        });
        (Some(when), cadence)
    }

    /// The newest issue of the archive, if one was sent (a welcome without
    /// the link is better than none: errors only drop the link).
    fn latest_issue(&self, ledger: &Snapshot, base: &str) -> Option<Latest> {
        let entry = self.archive_entries(ledger).ok()?.into_iter().next()?;
        Some(Latest {
            title: entry.title,
            url: format!("{base}/issues/{}", entry.number),
        })
    }
}

/// Builds and sends the welcome mail to a reader just added. A failure is
/// logged, not shown: they are subscribed either way, and it is not retried
/// (once per address means at most once).
pub(super) async fn send(app: &Arc<App>, email: &str, name: &str) {
    let Ok(to) = email.parse::<Address>() else {
        return; // The handler checked the address already.
    };
    // A ledger that cannot be read only drops the welcome's links.
    let ledger = app.ledger().await.unwrap_or_default();
    let (a, n) = (app.clone(), name.to_string());
    let built = blocking(move || a.welcome_mail(&ledger, &to, &n))
        .await
        .unwrap_or_else(|| Err("building it panicked".into()));
    let sent = match built {
        Ok(message) => app.send_mail(message).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => app.note(format!("welcome mail sent to `{email}`")),
        Err(e) => app.note(format!(
            "error: cannot send the welcome mail to `{email}`: {e}"
        )),
    }
}
