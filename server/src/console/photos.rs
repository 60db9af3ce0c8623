//! Photos shown as evidence (a visit's, a check's): the same operation and answer as the
//! API's (`service::photos`, `web::photo`), so a reviewer sees exactly the photos the API would
//! show them, with the same caching.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::P;
use super::error::ConsoleError;
use super::session::Viewer;
use crate::state::AppState;
use crate::web::photo::photo;

pub async fn original(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    P(sha256): P<String>,
) -> Result<Response, ConsoleError> {
    Ok(photo(&state, &v.caller, &sha256, false, &headers).await?)
}

pub async fn thumbnail(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    P(sha256): P<String>,
) -> Result<Response, ConsoleError> {
    Ok(photo(&state, &v.caller, &sha256, true, &headers).await?)
}
