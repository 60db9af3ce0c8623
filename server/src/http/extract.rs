//! Extractors that answer every rejection in the contract's error shape: JSON bodies, query
//! strings, path segments and the bearer token.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::Role;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::TokenError;

/// `Json` whose rejections are [`ApiError`]s, and which serialises responses.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidJson,
            "send Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                "the request body is larger than the server accepts",
            )
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::bad_request(ErrorCode::InvalidJson, e.body_text())
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(ErrorCode::InvalidJson, e.body_text())
        }
        other => ApiError::bad_request(ErrorCode::InvalidJson, other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Query` with contract-shaped rejections.
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| AppQuery(v))
            .map_err(|r: QueryRejection| {
                ApiError::bad_request(ErrorCode::InvalidRequest, r.body_text())
            })
    }
}

/// `Path` with contract-shaped rejections.
pub struct AppPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for AppPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| AppPath(v))
            .map_err(|r: PathRejection| {
                ApiError::bad_request(ErrorCode::InvalidRequest, r.body_text())
            })
    }
}

/// The caller of an authenticated endpoint. Checked on every request against the database,
/// so a revoked device or a disabled account stops at once, not when its token expires, and
/// role changes take effect immediately.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub role: Role,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    ErrorCode::Unauthorized,
                    "send Authorization: Bearer <access_token>",
                )
            })?;
        let claims = state.keys().verify(token.trim()).map_err(|e| match e {
            TokenError::Expired => ApiError::unauthorized(ErrorCode::TokenExpired, e.to_string()),
            TokenError::Invalid => ApiError::unauthorized(ErrorCode::Unauthorized, e.to_string()),
        })?;
        let device = state.store().device(claims.dev).await?.ok_or_else(|| {
            ApiError::unauthorized(
                ErrorCode::DeviceRevoked,
                "the device is not registered; log in again",
            )
        })?;
        if device.revoked_at.is_some() || device.user_id != claims.sub {
            return Err(ApiError::unauthorized(
                ErrorCode::DeviceRevoked,
                "this device's session has ended; log in again",
            ));
        }
        if device.user_disabled_at.is_some() {
            return Err(ApiError::unauthorized(
                ErrorCode::Unauthorized,
                "the account is disabled",
            ));
        }
        let role = device.role.parse().map_err(ApiError::internal)?;
        Ok(AuthUser {
            user_id: claims.sub,
            device_id: claims.dev,
            role,
        })
    }
}
