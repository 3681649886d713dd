//! The polite HTTP client `fetch` reads feeds and articles with: http and
//! https only, a timeout, a size cap per response (read as it streams in), a
//! few redirects, a User-Agent naming tipsheet and the newsletter, and
//! conditional requests with the validators a feed last answered with.
//!
//! Owns the requests and their limits; what the bytes mean is `parse.rs`'s
//! and `page.rs`'s business. Nothing here reads or writes the store.

use std::time::Duration;

use reqwest::header::{
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    LOCATION,
};
use reqwest::{StatusCode, Url, redirect};

use crate::store::Validators;

/// The limits every request is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The whole request, connection to last byte.
    pub(crate) timeout: Duration,
    /// Bytes one response body may have.
    pub(crate) max_bytes: usize,
    /// Redirects followed per request.
    pub(crate) max_redirects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_bytes: 2 * 1024 * 1024,
            max_redirects: 5,
        }
    }
}

/// Why a request brought nothing usable back.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Not an http(s) address.
    #[error("`{0}` is not an http(s) address")]
    NotHttp(String),
    /// The client could not be built (no TLS roots, a bad User-Agent).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The request failed: no connection, a timeout, too many redirects.
    #[error("{0}")]
    Request(String),
    /// The server answered with an error status.
    #[error("the server answered `{0}`")]
    Status(StatusCode),
    /// The body is larger than the cap.
    #[error("the response is over {0} bytes; refused")]
    TooLarge(usize),
}

/// A response worth reading.
#[derive(Debug)]
pub(crate) struct Body {
    /// Where it came from after redirects.
    pub(crate) url: Url,
    /// Its `Content-Type`, lowercase, parameters dropped (empty when absent).
    pub(crate) content_type: String,
    /// Its validators, for the next conditional request.
    pub(crate) validators: Validators,
    /// The bytes, at most [`Limits::max_bytes`].
    pub(crate) bytes: Vec<u8>,
}

/// What a (conditional) GET brought back.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `304 Not Modified`: nothing changed since the validators sent.
    NotModified,
    /// A body.
    Body(Body),
}

/// The client, built once per fetch.
pub(crate) struct Polite {
    client: reqwest::Client,
    limits: Limits,
}

impl Polite {
    /// A client announcing itself as tipsheet for `site` (`newsletter.base_url`).
    pub(crate) fn new(site: &str, limits: Limits) -> Result<Self, HttpError> {
        let max = limits.max_redirects;
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                attempt.error(format!("more than {max} redirects"))
            } else if !matches!(attempt.url().scheme(), "http" | "https") {
                let to = attempt.url().to_string();
                attempt.error(format!("a redirect to `{to}`, which is not http(s)"))
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .user_agent(format!("tipsheet/{} (+{site})", env!("CARGO_PKG_VERSION")))
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .redirect(policy)
            .build()
            .map_err(|e| HttpError::Client(chain(&e)))?;
        Ok(Self { client, limits })
    }

    /// GETs `url`, conditionally when `validators` has any; an error status
    /// or a body over the cap is an error.
    pub(crate) async fn get(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<Answer, HttpError> {
        let parsed = http_url(url)?;
        let mut request = self.client.get(parsed);
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| HttpError::Request(chain(&e)))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Answer::NotModified);
        }
        if status.is_redirection() {
            // The client follows http(s) redirects; one it hands back points elsewhere.
            let to = header(response.headers(), LOCATION).unwrap_or_default();
            return Err(HttpError::Request(format!(
                "a redirect (`{status}`) to `{to}` was not followed: only http(s) redirects are"
            )));
        }
        if !status.is_success() {
            return Err(HttpError::Status(status));
        }
        let max = self.limits.max_bytes;
        let headers = response.headers().clone();
        if declared_length(&headers).is_some_and(|n| n > max as u64) {
            return Err(HttpError::TooLarge(max));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Request(chain(&e)))?
        {
            if bytes.len() + chunk.len() > max {
                return Err(HttpError::TooLarge(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Answer::Body(Body {
            url: response.url().clone(),
            content_type: header(&headers, CONTENT_TYPE)
                .and_then(|t| t.split(';').next().map(|t| t.trim().to_ascii_lowercase()))
                .unwrap_or_default(),
            validators: Validators {
                etag: header(&headers, ETAG),
                last_modified: header(&headers, LAST_MODIFIED),
            },
            bytes,
        }))
    }
}

/// `url` parsed, when it is an absolute http(s) address.
pub(crate) fn http_url(url: &str) -> Result<Url, HttpError> {
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => Err(HttpError::NotHttp(url.to_string())),
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    header(headers, CONTENT_LENGTH).and_then(|v| v.trim().parse().ok())
}

/// An error and its causes on one line ("error sending request …: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    if text.contains("operation timed out") || text.contains("timed out") {
        return format!("timed out: {text}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};
    use axum::response::Response;
    use axum::routing::get;

    async fn serve() -> String {
        let app = axum::Router::new()
            .route(
                "/streamed",
                get(|| async {
                    // No Content-Length: the cap must hold while reading.
                    let chunks =
                        (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 200])));
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            )
            .route("/declared", get(|| async { vec![b'x'; 5000] }))
            .route("/small", get(|| async { "fine" }))
            .route(
                "/loop",
                get(|| async {
                    Response::builder()
                        .status(302)
                        .header(LOCATION, "/loop")
                        .body(Body::empty())
                        .unwrap()
                }),
            )
            .route(
                "/to-file",
                get(|| async {
                    Response::builder()
                        .status(302)
                        .header(LOCATION, "file:///etc/passwd")
                        .body(Body::empty())
                        .unwrap()
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn limits_hold_size_redirects_schemes_and_time() {
        let base = serve().await;
        let limits = Limits {
            timeout: Duration::from_millis(500),
            max_bytes: 1000,
            max_redirects: 2,
        };
        let client = Polite::new("https://news.example.com", limits).unwrap();
        let none = Validators::default();
        let url = |path: &str| format!("{base}{path}");
        match client.get(&url("/small"), &none).await.unwrap() {
            Answer::Body(b) => assert_eq!(b.bytes, b"fine"),
            Answer::NotModified => panic!("not conditional"),
        }
        for path in ["/streamed", "/declared"] {
            let err = client.get(&url(path), &none).await.unwrap_err();
            assert!(matches!(err, HttpError::TooLarge(1000)), "{path}: {err}");
        }
        let err = client
            .get(&url("/loop"), &none)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 2 redirects"), "{err}");
        let err = client
            .get(&url("/to-file"), &none)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("to `file:///etc/passwd` was not followed"),
            "{err}"
        );
        let err = client
            .get(&url("/slow"), &none)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("timed out"), "{err}");
        let err = client
            .get("ftp://example.com/feed", &none)
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::NotHttp(_)), "{err}");
    }
}
