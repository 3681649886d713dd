//! `GET /admin/content`: the comparisons and tips, each with its published
//! date, the last issue that featured it, and where it came from (the
//! article address of a fetched comparison).
//!
//! Owns this page. The library is `content`'s, read as `preview` reads it.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Console;
use super::guard::admit;
use super::pages::{Frame, problem, render};
use crate::plan;
use crate::store::{IssueRecord, Role};

/// (title, slug, published, last featured, source)
type Item = (String, String, String, String, String);

#[derive(Template)]
#[template(path = "admin/content.html")]
struct ContentPage {
    frame: Frame,
    comparisons: Vec<Item>,
    tips: Vec<Item>,
}

fn last_featured(issues: &[IssueRecord], is: impl Fn(&IssueRecord) -> bool) -> String {
    issues
        .iter()
        .filter(|i| is(i))
        .max_by_key(|i| i.number)
        .map(|i| format!("#{} ({})", i.number, i.slot))
        .unwrap_or_else(|| "never".into())
}

/// GET `/admin/content`.
pub(super) async fn page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let p = match admit(&c, &headers, Role::Viewer).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let gathered = async {
        let issues = c.app.store.issues().await.map_err(|e| e.to_string())?;
        let fetched = c
            .app
            .store
            .fetched_urls()
            .await
            .map_err(|e| e.to_string())?;
        let (library, _) = plan::load_content(&c.app.config).map_err(|e| e.to_string())?;
        Ok::<_, String>((issues, fetched, library))
    };
    let (issues, fetched, library) = match gathered.await {
        Ok(g) => g,
        Err(e) => {
            c.app.note(format!("error: console content page: {e}"));
            return problem(
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "The content cannot be read",
                e,
            );
        }
    };
    let mut comparisons: Vec<Item> = library
        .comparisons
        .iter()
        .map(|cmp| {
            let slug = cmp.meta.slug.clone();
            let source = match &cmp.meta.url {
                Some(u) if fetched.contains(u) => format!("fetched from {u}"),
                Some(u) => u.clone(),
                None => "written here".into(),
            };
            (
                cmp.meta.title.clone(),
                slug.clone(),
                cmp.meta.published.clone().unwrap_or_else(|| "–".into()),
                last_featured(&issues, |i| i.selection.comparisons.contains(&slug)),
                source,
            )
        })
        .collect();
    comparisons.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let tips = library
        .tips
        .iter()
        .map(|t| {
            (
                t.meta.title.clone(),
                t.slug.clone(),
                t.meta.published.clone().unwrap_or_else(|| "–".into()),
                last_featured(&issues, |i| i.selection.tip == t.slug),
                "written here".into(),
            )
        })
        .collect();
    let page = ContentPage {
        frame: Frame::of(&c, &p, "content"),
        comparisons,
        tips,
    };
    render(&c, StatusCode::OK, &page)
}
