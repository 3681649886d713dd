//! The public forms' limits: the per-client rate of state-changing POSTs
//! (governor's GCRA, in this process's memory: it only has to outlast a
//! flood), the link-mail limits kept in the store (one mail per canonical
//! mailbox per hour, `server.signups_per_client_per_hour`,
//! `server.signups_per_hour`: they hold across restarts and, on PostgreSQL,
//! across hosts), their "try later" pages, and the sweep that deletes what
//! the store keeps once its window is over.
//!
//! Owns what is counted and what a refusal says. It must not send mail or
//! read the list: the handlers do.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::TimeDelta;
use governor::Quota;

use super::app::{App, PostLimiter};
use super::client::Client;
use super::confirm::CONFIRM_EVERY_MINUTES;
use super::error::{WebError, answer};
use super::forms::TokenParams;
use super::pages::message;
use crate::config::Config;
use crate::schedule::clock::Clock as _;
use crate::store::{Hit, LimitScope, mailbox_key};

/// How often the store's expired limits and spent links are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// The POST limiter `[server]` asks for; `None` when `posts_per_minute` is 0.
pub(super) fn post_limiter(config: &Config) -> Option<PostLimiter> {
    let s = &config.server;
    let rate = NonZeroU32::new(s.posts_per_minute)?;
    let burst = NonZeroU32::new(s.post_burst).unwrap_or(NonZeroU32::MIN);
    Some(PostLimiter::keyed(
        Quota::per_minute(rate).allow_burst(burst),
    ))
}

/// Middleware: a state-changing POST over the client's rate is answered
/// 429 with `Retry-After`, before its handler reads or writes anything.
/// Authenticated posts are exempt: the relays' webhooks, and a one-click
/// unsubscribe whose link verifies. Both arrive in bursts from a few
/// addresses (a relay; Gmail's or Yahoo's unsubscribe button after a big
/// issue), both are idempotent, and neither can be made up by the client.
pub(super) async fn limit_posts(
    State(app): State<Arc<App>>,
    client: Client,
    req: Request,
    next: Next,
) -> Response {
    let limited = req.method() == Method::POST
        && !req.uri().path().starts_with("/webhooks")
        && !genuine_unsubscribe(&app, &req);
    if let (true, Some(limiter)) = (limited, &app.posts)
        && let Err(not_until) = limiter.check_key(&client.key())
    {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
        let mut page = message(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            "Please try again later",
            "Too many requests came from your address just now, so nothing was changed. Please try again in a minute.".into(),
        );
        let seconds = wait.as_secs().max(1).to_string();
        if let Ok(v) = HeaderValue::from_str(&seconds) {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return page;
    }
    next.run(req).await
}

/// Whether `req` is a `POST /unsubscribe` whose `e` and `t` verify.
fn genuine_unsubscribe(app: &App, req: &Request) -> bool {
    if req.uri().path() != "/unsubscribe" {
        return false;
    }
    axum::extract::Query::<TokenParams>::try_from_uri(req.uri())
        .is_ok_and(|params| app.unsubscribe_link(&params).is_ok())
}

impl App {
    /// Counts one link mail to `address`'s mailbox (as `scope`) asked
    /// for by `client`: the hits counted (to give back if the mail is not
    /// sent), or the 429 page of the first limit reached (nothing counted).
    pub(super) async fn take_link_limits(
        self: &Arc<Self>,
        scope: LimitScope,
        address: &str,
        client: Client,
    ) -> Result<Result<Vec<Hit>, Response>, WebError> {
        let s = &self.config.server;
        let hour = TimeDelta::hours(1);
        let mut hits = Vec::with_capacity(3);
        if s.signups_per_client_per_hour > 0 {
            hits.push(Hit {
                scope: LimitScope::Client,
                key: client.key(),
                max: s.signups_per_client_per_hour,
                window: hour,
            });
        }
        hits.push(Hit {
            scope,
            key: mailbox_key(&self.keyer(), address),
            max: 1,
            window: TimeDelta::minutes(CONFIRM_EVERY_MINUTES),
        });
        if s.signups_per_hour > 0 {
            hits.push(Hit {
                scope: LimitScope::All,
                key: String::new(),
                max: s.signups_per_hour,
                window: hour,
            });
        }
        let refused = answer(
            self,
            "send the email",
            format!("cannot count a {} mail", scope.as_str()),
            self.store.take(&hits, self.clock.now()).await,
        )?;
        let Some(i) = refused else {
            return Ok(Ok(hits));
        };
        let why = match hits[i].scope {
            LimitScope::Confirm | LimitScope::Privacy => format!(
                "An email went to this mailbox in the last {CONFIRM_EVERY_MINUTES} minutes. Please look for it, or try again later."
            ),
            LimitScope::Client => "Too many emails were asked for from your address in the last hour. Please try again later.".into(),
            LimitScope::All => "We are sending a lot of emails right now. Please try again later.".into(),
        };
        Ok(Err(message(
            self,
            StatusCode::TOO_MANY_REQUESTS,
            "Please try again later",
            why,
        )))
    }

    /// Gives back what [`App::take_link_limits`] counted (the mail did not go).
    pub(super) async fn give_back(&self, hits: &[Hit]) {
        if let Err(e) = self.store.give_back(hits, self.clock.now()).await {
            self.note(format!("warning: cannot give back a sign-up limit: {e}"));
        }
    }

    /// The 503 page of a request whose mail could not be queued.
    pub(super) fn queue_full(&self) -> Response {
        message(
            self,
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again later",
            "We could not send the email just now. Please try again in a few minutes.".into(),
        )
    }
}

impl App {
    /// Deletes expired limits and spent links from the store, and forgets
    /// the clients the POST limiter no longer holds back.
    pub(super) async fn sweep(&self) {
        if let Err(e) = self.store.sweep(self.clock.now()).await {
            self.note(format!(
                "warning: cannot delete expired sign-up limits: {e}"
            ));
        }
        if let Some(l) = &self.posts {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// [`App::sweep`] every [`SWEEP_EVERY`] (the first one is `run`'s, at
/// start); runs until aborted.
pub(super) fn spawn_sweeper(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.tick().await; // The first tick is now.
        loop {
            every.tick().await;
            app.sweep().await;
        }
    })
}
