//! The review console: the web pages township offices and county officers work in, served by
//! `fieldsync serve` itself under `/console/`.
//!
//! Pages are rendered on the server (maud) with a little optional JavaScript; every operation
//! is the one the JSON API calls (`crate::service`), with the same access checks, village
//! scopes, disclosure and audit, so the console cannot show or change more than the API would
//! let the same person. Writes that phones make as mutations (reassigning a task, moving a
//! case) are pushed as mutations from the sign-in's own device, through the sync path. The
//! console is mounted beside the API where the application is assembled (`crate::app`), and
//! imports nothing of the API's but its photo handler (`http::blobs::photo`), until photo
//! access moves onto the operations layer.

mod accounts;
mod assets;
mod attendance;
mod charts;
mod conflicts;
mod dashboard;
mod error;
mod forms;
mod hotline;
mod households;
mod i18n;
mod layout;
mod map;
mod photos;
mod roster;
mod scope;
mod session;
mod staffing;
mod upload;
mod work;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

pub use error::ConsoleError;

pub fn router(state: &AppState) -> Router<AppState> {
    let policy: std::sync::Arc<str> =
        content_policy(state.settings().console.tile_url.as_deref()).into();
    Router::new()
        .route(
            "/console",
            get(|| async { session::see_other("/console/") }),
        )
        .route("/console/", get(dashboard::page))
        .route(
            "/console/login",
            get(session::login_page).post(session::sign_in),
        )
        .route("/console/logout", post(session::sign_out))
        .route("/console/lang", get(session::set_lang))
        .route("/console/assets/console.css", get(assets::css))
        .route("/console/assets/console.js", get(assets::js))
        .route("/console/attendance", get(attendance::list))
        .route("/console/attendance/table.xlsx", get(attendance::xlsx))
        .route("/console/attendance/{user_id}", get(attendance::sheet))
        .route(
            "/console/attendance/{user_id}/review",
            post(attendance::review),
        )
        .route("/console/tasks", get(work::tasks))
        .route("/console/tasks/{id}/reassign", post(work::reassign))
        .route("/console/cases", get(work::cases))
        .route("/console/cases/{id}", get(work::case))
        .route("/console/cases/{id}/step", post(work::step))
        .route("/console/reports", get(work::reports))
        .route("/console/hotline", get(hotline::page).post(hotline::take))
        .route(
            "/console/accounts",
            get(accounts::list).post(accounts::create),
        )
        .route("/console/accounts/{id}/disable", post(accounts::disable))
        .route("/console/accounts/{id}/enable", post(accounts::enable))
        .route(
            "/console/accounts/{id}/password",
            post(accounts::reset_password),
        )
        .route("/console/accounts/handover", post(accounts::handover))
        .route("/console/accounts/{id}", get(accounts::person))
        .route(
            "/console/accounts/{id}/devices/{device}/revoke",
            post(accounts::revoke),
        )
        .route("/console/accounts/{id}/assignments", post(accounts::assign))
        .route(
            "/console/accounts/{id}/assignments/end",
            post(accounts::end),
        )
        .route("/console/accounts/import", post(accounts::import))
        .route("/console/forms", get(forms::page).post(forms::publish))
        .route("/console/forms/{key}/{version}/retire", post(forms::retire))
        .route("/console/staffing", get(staffing::page))
        .route("/console/staffing/category", post(staffing::designate))
        .route("/console/hotline/find", post(hotline::find))
        .route(
            "/console/households",
            get(households::page).post(households::search),
        )
        .route("/console/households/{id}", get(households::file))
        .route("/console/conflicts", get(conflicts::list))
        .route("/console/conflicts/{id}/resolve", post(conflicts::resolve))
        .route("/console/photos/{sha256}", get(photos::original))
        .route("/console/photos/{sha256}/thumb", get(photos::thumbnail))
        .route("/console/map", get(map::page))
        .route("/console/map/{village}/points.geojson", get(map::geojson))
        .route(
            "/console/roster",
            get(roster::page)
                .post(roster::upload)
                .layer(DefaultBodyLimit::max(
                    crate::service::roster::runs::MAX_FILE_BYTES + 2 * 1024 * 1024,
                )),
        )
        .route("/console/roster/{id}", get(roster::show))
        .route("/console/roster/{id}/import", post(roster::import))
        .route("/console/roster/{id}/report.csv", get(roster::report))
        .layer(axum::middleware::map_response(move |res: Response| {
            let policy = policy.clone();
            async move { protect(res, &policy) }
        }))
        .layer(axum::middleware::from_fn(server_timing))
}

/// `Server-Timing: app;dur=…`: how long the server took over a page (the browser's developer
/// tools show it; the console benchmark reads it).
async fn server_timing(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let mut res = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.1}")) {
        res.headers_mut().insert("server-timing", v);
    }
    res
}

/// The page's content policy: scripts, styles and pictures from this server only (and map
/// tiles from their server, when configured), no framing by other sites (clickjacking a
/// reviewer into approving), forms posted back here only.
fn content_policy(tile_url: Option<&str>) -> String {
    let tiles = tile_url
        .and_then(|u| {
            let (scheme, rest) = u.split_once("://")?;
            let host = rest.split('/').next()?;
            Some(format!(" {scheme}://{host}"))
        })
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self'; script-src 'self'; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
}

fn protect(mut res: Response, policy: &str) -> Response {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// Percent-encodes a query value.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A query string; a malformed one is a console error page, not a plain-text 400.
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Q<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Q(v))
            .map_err(|r| ConsoleError::bad(r.body_text()))
    }
}

/// Path segments, likewise.
pub struct P<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S>
    for P<T>
{
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| P(v))
            .map_err(|_| ConsoleError::not_found())
    }
}

/// The page's own path and query, for links back to it.
pub(crate) fn here(uri: &axum::http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}
