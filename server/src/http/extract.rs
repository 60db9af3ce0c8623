//! Extractors that answer every rejection in the contract's error shape: JSON bodies, query
//! strings, path segments and the bearer token.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth::TokenError;
use crate::service::Caller;
use crate::service::caller::session_ended;
use crate::state::AppState;
use crate::sync::{Actor, SessionCheck};

/// `Json` whose rejections are [`ApiError`]s, and which serialises responses.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(missing_json_content_type());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(e.into()))?;
        // Parsed plainly first: axum's parse tracks the path of every value it reads, for the
        // message of an error, and that cost a push of 100 surveys a few per cent of its CPU
        // (`write_path` benchmark). A body that fails is parsed again that way, for the path.
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(AppJson(v)),
            Err(_) => axum::Json::<T>::from_bytes(&bytes)
                .map(|axum::Json(v)| AppJson(v))
                .map_err(json_rejection),
        }
    }
}

/// `application/json` or a `+json` type, as axum's `Json` asks.
fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

fn missing_json_content_type() -> ApiError {
    ApiError::client(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::InvalidJson,
        "send Content-Type: application/json",
    )
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => missing_json_content_type(),
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

/// What the phone says of itself in headers (`fieldsync_protocol::client`): app version and
/// outbox health. Malformed values are ignored, never an error: a health report must not stop
/// a sync.
#[derive(Clone, Debug, Default)]
pub struct ClientHeaders(pub fieldsync_protocol::push::ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for ClientHeaders {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        use fieldsync_protocol::client::{
            APP_VERSION_HEADER, OLDEST_UNSENT_HEADER, OUTBOX_DEPTH_HEADER,
        };
        let text = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let number = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
        Ok(ClientHeaders(fieldsync_protocol::push::ClientInfo {
            app_version: text(APP_VERSION_HEADER)
                .filter(|v| v.len() <= 64)
                .map(str::to_owned),
            outbox_depth: number(OUTBOX_DEPTH_HEADER),
            oldest_unsent_s: number(OLDEST_UNSENT_HEADER),
        }))
    }
}

/// The caller of an authenticated endpoint: the operations' [`Caller`], from the bearer
/// token's session, checked against the database on every request.
pub type AuthUser = Caller;

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
}

/// The claims of a valid bearer token (signature and expiry checked; the session not yet).
fn token_claims(parts: &Parts, state: &AppState) -> Result<crate::auth::Claims, ApiError> {
    let token = bearer(&parts.headers).ok_or_else(|| {
        ApiError::unauthorized(
            ErrorCode::Unauthorized,
            "send Authorization: Bearer <access_token>",
        )
    })?;
    state.keys().verify(token.trim()).map_err(|e| match e {
        TokenError::Expired => ApiError::unauthorized(ErrorCode::TokenExpired, e.to_string()),
        TokenError::Invalid => ApiError::unauthorized(ErrorCode::Unauthorized, e.to_string()),
    })
}

/// A token names its session's device and user; one naming others is not this session's.
fn check_names(caller: &Caller, claims: &crate::auth::Claims) -> Result<(), ApiError> {
    if caller.device_id != claims.dev || caller.user_id != claims.sub {
        return Err(session_ended().into());
    }
    Ok(())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let claims = token_claims(parts, state)?;
        let caller = Caller::of_session(state.store(), claims.sid, claims.pair).await?;
        check_names(&caller, &claims)?;
        Ok(caller)
    }
}

/// The caller with the villages they may touch today, read together with their session (one
/// read instead of two, for the pull a phone sends every few minutes; pushes take
/// [`PushActor`]).
pub struct AuthActor(pub Caller, pub Actor);

impl FromRequestParts<AppState> for AuthActor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let claims = token_claims(parts, state)?;
        let (caller, actor) =
            Caller::actor_of_session(state.store(), claims.sid, claims.sub, claims.pair).await?;
        check_names(&caller, &claims)?;
        Ok(AuthActor(caller, actor))
    }
}

/// [`AuthActor`] for a push: a session that pushed before is not read for the request but in
/// the push's own transaction, with the other pushes committed with it
/// (`Caller::actor_for_push`); the check says which.
pub struct PushActor(pub Caller, pub Actor, pub Option<SessionCheck>);

impl FromRequestParts<AppState> for PushActor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let claims = token_claims(parts, state)?;
        let (caller, actor, check) = Caller::actor_for_push(
            state.store(),
            state.sessions(),
            claims.sid,
            claims.sub,
            claims.pair,
        )
        .await?;
        check_names(&caller, &claims)?;
        Ok(PushActor(caller, actor, check))
    }
}

/// The client's address: the peer of the connection, or, when the server is told it sits
/// behind a proxy (`limits.trust_forwarded_for`), the last `X-Forwarded-For` entry.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        crate::web::client_ip(parts, state.settings().limits.trust_forwarded_for)
            .map(ClientIp)
            .ok_or_else(|| ApiError::internal("the server was started without connection info"))
    }
}
