//! What the HTTP front ends (the API, the console) read and answer alike, above the
//! operations: the client's address, the status of an operation's error, a file as a download,
//! and the text of an internal error carried to the log. Neither front end imports the other;
//! both take these from here.

pub mod photo;

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service::ServiceError;

/// The client's address: the peer of the connection, or, when the server is told it sits
/// behind a proxy (`limits.trust_forwarded_for`), the last `X-Forwarded-For` entry. `None`
/// when the server was started without connection info.
pub fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(','))
            // Only the entry our own proxy appended can be trusted; earlier ones come
            // from the client.
            .next_back()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
    {
        return Some(ip);
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The status every HTTP front end answers an operation's error with, so a page and the API
/// agree (a client mistake is never a 5xx; trouble that passes by itself is a 503).
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
        ServiceError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Busy | ServiceError::StorageFull => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `body` as a file named `name` to save.
pub fn attachment(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The text of an internal error, carried in the response's extensions to the middleware that
/// logs it inside the request's span (`crate::app::router`); the client sees a generic text.
#[derive(Clone, Debug)]
pub struct InternalError(pub String);
