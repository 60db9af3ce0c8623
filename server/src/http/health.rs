//! Liveness and readiness probes for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::error::ErrorBody;
use serde::Serialize;

use super::error::ApiError;
use super::extract::AppJson;
use crate::app::AppState;

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    status: &'static str,
    version: &'static str,
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, metrics))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Prometheus metrics (`crate::metrics`), behind `metrics_token` when one is set.
#[utoipa::path(get, operation_id = "metrics", path = "/metrics", tag = "operations", security(()),
    responses(
        (status = 200, description = "Prometheus text format: requests and latency by route, push results, sync head, conflicts, photo queue", body = String, content_type = "text/plain"),
        (status = 401, description = "A `metrics_token` is set and was not sent", body = ErrorBody),
    ))]
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
    let now = crate::clock::now_ms();
    let jobs = state.store().jobs().await?;
    let shared = crate::metrics::Shared {
        sync: state.store().sync_stats().await?,
        // Only jobs this server runs: one switched off here stays due in the table for good.
        jobs_due: {
            let mine: Vec<&str> = crate::jobs::schedule(state.settings())
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            jobs.iter()
                .filter(|j| j.is_due(now) && mine.contains(&j.name.as_str()))
                .count() as i64
        },
        jobs,
        photo_processing: state.blobs().processing_times(),
    };
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
#[utoipa::path(get, operation_id = "healthz", path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "Up", body = Health)))]
async fn healthz() -> AppJson<Health> {
    AppJson(Health {
        status: "ok",
        version: super::SERVER_VERSION,
    })
}

/// The process can serve: its database and its photo store answer.
#[utoipa::path(get, operation_id = "readyz", path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Database and photo store answer", body = Health),
        (status = 503, description = "`unavailable`: the database or the photo store does not answer", body = ErrorBody),
    ))]
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
