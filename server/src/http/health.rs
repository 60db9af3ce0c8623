//! Liveness and readiness probes for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use super::error::ApiError;
use super::extract::AppJson;
use crate::app::AppState;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Prometheus metrics (`crate::metrics`), behind `metrics_token` when one is set.
async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use secrecy::ExposeSecret;
    if let Some(token) = &state.settings().metrics_token {
        let sent = super::extract::bearer(&headers);
        let expected = token.expose_secret();
        let matches = sent.is_some_and(|s| {
            s.len() == expected.len()
                && s.bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if !matches {
            return Err(ApiError::unauthorized(
                fieldsync_protocol::ErrorCode::Unauthorized,
                "send Authorization: Bearer <metrics_token>",
            ));
        }
    }
    let shared = state.store().sync_stats().await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(&shared),
    )
        .into_response())
}

/// The process is up.
async fn healthz() -> AppJson<Health> {
    AppJson(Health {
        status: "ok",
        version: super::SERVER_VERSION,
    })
}

/// The process can serve: its database and its photo store answer.
async fn readyz(State(state): State<AppState>) -> Result<AppJson<Health>, ApiError> {
    let blobs = state.blobs().store();
    blobs.check().await.map_err(|e| {
        tracing::warn!(error = %e, store = blobs.name(), "readiness check: photo store does not answer");
        ApiError::client(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            fieldsync_protocol::ErrorCode::Unavailable,
            "the photo store does not answer",
        )
    })?;
    state.store().ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check: database does not answer");
        ApiError::client(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            fieldsync_protocol::ErrorCode::Unavailable,
            "the database does not answer",
        )
    })?;
    Ok(AppJson(Health {
        status: "ready",
        version: super::SERVER_VERSION,
    }))
}
