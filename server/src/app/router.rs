//! The one router the server answers from: the JSON API (`crate::http`), the review console
//! (`crate::console`) and ODK Collect's OpenRosa (`crate::collect`) mounted side by side, with the layers every request of either goes
//! through. Neither front end mounts the other; both stand on `crate::service`.
//!
//! What the layers guarantee, for the API and the console alike: request bodies at most
//! `limits.max_body_bytes` after decompression, headers at most 16 KiB, compressed answers, a
//! request span with the route template and the request id (sent back as `X-Request-Id`),
//! counts and latencies by route, apps older than `clients.min_version` refused, internal
//! errors logged inside the span, `Cache-Control: no-store` unless a handler says otherwise,
//! and the server's and protocol's versions on every response. Unknown paths and methods answer
//! in the API's error shape.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::{ErrorCode, PROTOCOL_VERSION};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::http::SERVER_VERSION;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::web::InternalError;
use crate::{collect, console, http};

/// Answers up to this size fit one packet of a phone's link and are sent as they are.
const COMPRESS_ABOVE_BYTES: u16 = 1400;

/// The API and the console, with the layers both go through.
pub fn router(state: AppState) -> Router {
    let max_body = state.settings().limits.max_body_bytes;
    Router::new()
        .merge(http::router())
        .merge(console::router(&state))
        .merge(collect::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        // Phones may gzip or zstd their pushes; the body limit applies after decompression.
        .layer(RequestDecompressionLayer::new())
        // Pulls are large and village links slow: compress whatever the phone accepts, when it
        // is larger than one packet. A smaller answer (a one-record push's result) goes in one
        // packet either way, and a compressor made for it cost more CPU than the rest of the
        // answer (`write_path` benchmark).
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .layer(middleware::from_fn(log_internal_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn(limit_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_app_version,
        ))
        .layer(middleware::map_response(version_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The route template, not the raw path: no ids or query values in logs.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |p| p.as_str())
                        .to_owned();
                    // Made by the layer below, or kept from the load balancer: one id ties
                    // every log line of a request together, across replicas.
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    tracing::info_span!("request", method = %req.method(), route, request_id)
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        ms = latency.as_millis() as u64,
                        "response"
                    );
                })
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        // The id is sent back, so a cadre's "it failed" can be found in the logs.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost: whatever answered, the rest of the body is read before the answer goes
        // out, so that a client that writes its whole body first can read it.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::unread::read_the_rest,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        "method not allowed on this endpoint",
    )
}

/// Largest total size of a request's headers. A phone sends well under 2 KiB; far more is a
/// broken client or an attempt to exhaust memory.
const MAX_HEADER_BYTES: usize = 16 * 1024;

async fn limit_headers(req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::client(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!("request headers total {size} bytes; at most {MAX_HEADER_BYTES} are accepted"),
        )
        .into_response();
    }
    next.run(req).await
}

/// Counts and times every request by its route template (a path with ids would make a
/// label per household).
async fn record_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    state.metrics().observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Refuses apps older than `clients.min_version`, before anything else runs: an old app
/// must not write with rules it does not know. Requests without the header (probes, curl,
/// the console) pass.
async fn require_app_version(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(min) = state.settings().clients.min_version.as_deref()
        && let Some(v) = req
            .headers()
            .get(fieldsync_protocol::client::APP_VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
        && fieldsync_protocol::client::is_older(v, min)
    {
        return ApiError::client(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::UpgradeRequired,
            format!(
                "this app is version {v}; the server needs {min} or later. Update the app: records not yet sent stay on the phone"
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Logs the text of internal errors inside the request's span; the client only sees a
/// generic message.
async fn log_internal_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(InternalError(message)) = response.extensions().get::<InternalError>() {
        tracing::error!(error = %message, "internal error");
    }
    response
}

async fn version_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    // Responses carry personal data: no proxy or phone cache may keep them.
    h.entry(axum::http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        "x-fieldsync-version",
        HeaderValue::from_static(SERVER_VERSION),
    );
    h.insert("x-fieldsync-protocol", HeaderValue::from(PROTOCOL_VERSION));
    res
}
