//! The one error type of the HTTP boundary and its mapping to responses, with the one mapping
//! of the operations' [`ServiceError`] to it.
//!
//! Client mistakes answer with their status, code and field path. Trouble that passes by
//! itself (a busy or unreachable database, a full disk) answers 503 with `Retry-After` and a
//! code the phone can show (`unavailable`, `storage_full`). Internal errors answer with
//! a generic 500 body; their text goes into a response extension that the logging middleware
//! writes inside the request's span, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::error::{ErrorBody, ErrorCode, ErrorDetail};

use crate::blobs::{BlobError, PhotoError};
use crate::service::ServiceError;
use crate::store::StoreError;
use crate::sync::pull::PullError;
use crate::sync::push::PushError;
use crate::web::{InternalError, status_of};

#[derive(Debug)]
pub enum ApiError {
    Client {
        status: StatusCode,
        detail: ErrorDetail,
        retry_after_s: Option<u64>,
    },
    Internal(String),
}

impl ApiError {
    pub fn client(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            detail: ErrorDetail::new(code, message),
            retry_after_s: None,
        }
    }

    pub fn at(self, field: &str) -> Self {
        match self {
            ApiError::Client {
                status,
                detail,
                retry_after_s,
            } => ApiError::Client {
                status,
                detail: detail.at(field),
                retry_after_s,
            },
            other => other,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The one mapping of the operations' errors to answers: each kind its status (`web::status_of`,
/// which the console's pages share), the detail as the body; throttling and storage trouble
/// with `Retry-After`; internal errors a generic 500.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = status_of(&e);
        let retry_after_s = e.retry_after_s();
        match e.into_detail() {
            Ok(detail) => ApiError::Client {
                status,
                detail,
                retry_after_s,
            },
            Err(text) => ApiError::Internal(text),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<PushError> for ApiError {
    fn from(e: PushError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<PullError> for ApiError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Store(s) => s.into(),
            PullError::Cursor(c) => {
                ApiError::bad_request(ErrorCode::InvalidCursor, c.to_string()).at("cursor")
            }
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        let e = match e {
            BlobError::Db(s) => return s.into(),
            other => other,
        };
        let message = e.to_string();
        let (status, code) = match &e {
            BlobError::BadName(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            BlobError::BadRange(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            BlobError::HashMismatch { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::HashMismatch)
            }
            BlobError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge),
            BlobError::Quota { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::QuotaExceeded),
            BlobError::Offset { received } => {
                let mut err =
                    ApiError::client(StatusCode::CONFLICT, ErrorCode::UploadOffset, message);
                if let ApiError::Client { detail, .. } = &mut err {
                    detail.field = Some(format!("upload_offset={received}"));
                }
                return err;
            }
            BlobError::Incomplete => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            BlobError::Photo(PhotoError::Unsupported(_)) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedFormat,
            ),
            BlobError::Photo(PhotoError::Io(_)) | BlobError::Store(_) | BlobError::Io(_) => {
                return ApiError::Internal(message);
            }
            BlobError::Photo(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::BadPhoto),
            BlobError::Db(_) => return ApiError::Internal(message),
        };
        ApiError::client(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client {
                status,
                detail,
                retry_after_s,
            } => {
                let mut response =
                    (status, axum::Json(ErrorBody { error: detail })).into_response();
                if let Some(s) =
                    retry_after_s.and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, s);
                }
                response
            }
            ApiError::Internal(message) => {
                let body = ErrorBody {
                    error: ErrorDetail::new(
                        ErrorCode::Internal,
                        "internal error; it has been logged",
                    ),
                };
                let mut response =
                    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
                response.extensions_mut().insert(InternalError(message));
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Trouble that passes by itself is a 503 the phone retries, with the code it can show;
    /// the engine's text stays out of the body.
    #[tokio::test]
    async fn transient_storage_faults_answer_503_with_retry_after() {
        for (e, code) in [
            (StoreError::Busy, "unavailable"),
            (StoreError::Retry, "unavailable"),
            (StoreError::Full, "storage_full"),
        ] {
            let r = ApiError::from(e).into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(r.headers().contains_key(header::RETRY_AFTER));
            let body = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
            let body: ErrorBody = serde_json::from_slice(&body).unwrap();
            assert_eq!(body.error.code.as_str(), code);
        }
        let r = ApiError::from(StoreError::Db(sqlx::Error::RowNotFound)).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
