//! Pages shared by every route: the error page and its variants (404, 400,
//! 413, 500), and [`WebError`], which a handler returns with `?`.

#[allow(unused_imports)]
use super::*;

#[derive(Template)]
#[template(path = "error.html")]
pub(super) struct ErrorPage<'a> {
    brand: &'a Brand,
    heading: &'a str,
    message: String,
    link_href: Option<&'a str>,
    link_text: &'a str,
}

pub(super) fn html(app: &App, status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            app.note(format!("error: rendering a page failed: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

pub(super) fn message(app: &App, status: StatusCode, heading: &str, message: String) -> Response {
    message_with_link(app, status, heading, message, None)
}

pub(super) fn message_with_link(
    app: &App,
    status: StatusCode,
    heading: &str,
    message: String,
    link: Option<(&str, &str)>,
) -> Response {
    html(
        app,
        status,
        &ErrorPage {
            brand: &app.brand,
            heading,
            message,
            link_href: link.map(|l| l.0),
            link_text: link.map_or("", |l| l.1),
        },
    )
}

pub(super) fn server_error(app: &App, what: &str) -> Response {
    message(
        app,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        format!(
            "We could not {what} just now. Please try again in a few minutes, or write to {}.",
            app.config.unsubscribe.mailto
        ),
    )
}

pub(super) async fn not_found(State(app): State<Arc<App>>) -> Response {
    not_found_page(&app)
}

pub(super) fn not_found_page(app: &App) -> Response {
    message(
        app,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.".into(),
    )
}

pub(super) fn bad_request(app: &App, why: &str) -> Response {
    message(
        app,
        StatusCode::BAD_REQUEST,
        "This link does not work",
        why.into(),
    )
}

/// A form that cannot be read: 413 when it is too large, else 400 saying `why`.
pub(super) fn unreadable(app: &App, rejection: &FormRejection, why: &str) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return message(
            app,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much data",
            format!(
                "This form is larger than {} KB. Nothing was changed.",
                BODY_LIMIT / 1024
            ),
        );
    }
    bad_request(app, why)
}

/// A request that failed on the server's side: already logged, shown as the
/// "Something went wrong" page saying what could not be done. Handlers
/// return it with `?`.
pub(super) struct WebError {
    app: Arc<App>,
    what: &'static str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        server_error(&self.app, self.what)
    }
}

/// Runs `f` (file or ledger work) off the async threads. An error is logged
/// as `error: {log}: {e}` (or `error: {e}` for an empty `log`) and becomes a
/// [`WebError`] saying "We could not {what} just now".
/// The value of a store call, or (logged) the error page for `what`.
pub(super) fn answer<T, E: std::fmt::Display>(
    app: &Arc<App>,
    what: &'static str,
    log: String,
    result: Result<T, E>,
) -> Result<T, WebError> {
    result.map_err(|e| {
        app.note(if log.is_empty() {
            format!("error: {e}")
        } else {
            format!("error: {log}: {e}")
        });
        WebError {
            app: app.clone(),
            what,
        }
    })
}

pub(super) async fn off_thread<T, E>(
    app: &Arc<App>,
    what: &'static str,
    log: String,
    f: impl FnOnce(&App) -> Result<T, E> + Send + 'static,
) -> Result<T, WebError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let a = app.clone();
    let failed = |app: &Arc<App>| WebError {
        app: app.clone(),
        what,
    };
    match blocking(move || f(&a)).await {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => {
            app.note(if log.is_empty() {
                format!("error: {e}")
            } else {
                format!("error: {log}: {e}")
            });
            Err(failed(app))
        }
        None => Err(failed(app)),
    }
}
