//! Photos shown as evidence (a visit's, a check's): served by the API's code, so a reviewer
//! sees exactly the photos the API would show them, with the same caching.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::P;
use super::error::ConsoleError;
use super::session::Viewer;
use crate::app::AppState;
use crate::http::blobs::photo;

pub async fn original(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    P(sha256): P<String>,
) -> Result<Response, ConsoleError> {
    Ok(photo(&state, &v.auth, &sha256, false, &headers).await?)
}

pub async fn thumbnail(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    P(sha256): P<String>,
) -> Result<Response, ConsoleError> {
    Ok(photo(&state, &v.auth, &sha256, true, &headers).await?)
}
