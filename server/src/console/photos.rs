//! Photos shown as evidence (a visit's, a check's): served by the API's code, so a reviewer
//! sees exactly the photos the API would show them, with the same caching. The one import of
//! the API in the console: it goes when photo access moves onto the operations layer.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::P;
use super::error::ConsoleError;
use super::session::Viewer;
use crate::http::blobs::photo;
use crate::http::error::ApiError;
use crate::service::ServiceError;
use crate::state::AppState;

pub async fn original(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    P(sha256): P<String>,
) -> Result<Response, ConsoleError> {
    photo(&state, &v.caller, &sha256, false, &headers)
        .await
        .map_err(page_of)
}

pub async fn thumbnail(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    P(sha256): P<String>,
) -> Result<Response, ConsoleError> {
    photo(&state, &v.caller, &sha256, true, &headers)
        .await
        .map_err(page_of)
}

/// The API's error as a console page, with its status.
fn page_of(e: ApiError) -> ConsoleError {
    match e {
        ApiError::Client {
            status,
            detail,
            retry_after_s,
        } => ConsoleError::Answered {
            status,
            message: detail.message,
            retry_after_s,
        },
        ApiError::Internal(text) => ServiceError::Internal(text).into(),
    }
}
