//! The parameters of an unsubscribe link (`e`, the address, and `t`, its
//! token), read from a query or a posted form, and their check, which the
//! unsubscribe, resubscribe and privacy routes share.
//!
//! Owns what makes a link genuine for these routes. It must not write
//! anything: the handlers decide what a checked address is for.

use std::sync::Arc;

use axum::extract::{Form, FromRequest, Request};
use axum::response::Response;
use lettre::Address;
use serde::Deserialize;

use super::app::App;
use super::pages::{bad_request, unreadable};
use crate::list::{MAX_EMAIL_CHARS, normalize};

/// `e` and `t` of an unsubscribe link, as given.
#[derive(Debug, Deserialize)]
pub(super) struct TokenParams {
    pub(super) e: Option<String>,
    pub(super) t: Option<String>,
}

impl App {
    /// The normalized address and token of a genuine unsubscribe link, or the 400 page.
    pub(super) fn unsubscribe_link(
        &self,
        params: &TokenParams,
    ) -> Result<(String, String), Box<Response>> {
        let (Some(e), Some(t)) = (params.e.as_deref(), params.t.as_deref()) else {
            return Err(Box::new(bad_request(
                self,
                &format!(
                    "This unsubscribe link is incomplete. Nothing was changed. Use the link at the bottom of any {} email, or write to {}.",
                    self.brand.name, self.config.unsubscribe.mailto
                ),
            )));
        };
        let key = normalize(e);
        if key.chars().count() > MAX_EMAIL_CHARS
            || !self.signer.verify_unsubscribe(&key, t)
            || key.parse::<Address>().is_err()
        {
            return Err(Box::new(bad_request(
                self,
                &format!(
                    "This unsubscribe link for {e} is not valid: it may have been cut short or changed. Nothing was changed. Use the link at the bottom of any {} email, or write to {}.",
                    self.brand.name, self.config.unsubscribe.mailto
                ),
            )));
        }
        Ok((key, t.trim().to_string()))
    }
}

/// The checked address of a posted unsubscribe-link form (`e`, `t`), as
/// [`App::unsubscribe_link`] checks it; a form that cannot be read or a link
/// that is not genuine is answered with its page (413/400) before the handler.
pub(super) struct PostedLink(pub(super) String);

impl FromRequest<Arc<App>> for PostedLink {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let params = match Form::<TokenParams>::from_request(req, app).await {
            Ok(Form(p)) => p,
            Err(rejection) => {
                return Err(unreadable(
                    app,
                    &rejection,
                    "This form arrived garbled. Nothing was changed.",
                ));
            }
        };
        match app.unsubscribe_link(&params) {
            Ok((key, _)) => Ok(PostedLink(key)),
            Err(page) => Err(*page),
        }
    }
}
