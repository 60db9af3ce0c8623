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
