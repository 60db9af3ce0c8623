//! Liveness and readiness probes for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::error::ErrorBody;
use serde::Serialize;

use super::error::ApiError;
use super::extract::AppJson;
use crate::state::AppState;
use crate::store::StoreError;

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
        push_groups: state.committer().counts(),
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

/// How long the readiness probe waits for the database's write: a server whose writes queue
/// longer than this would answer pushes 503 anyway.
const WRITE_PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The process can serve: its database takes writes and its photo store answers.
#[utoipa::path(get, operation_id = "readyz", path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "The database takes writes and the photo store answers", body = Health),
        (status = 503, description = "`storage_full`: the database's disk is full; `unavailable`: the database does not take a write within 2 s, or the photo store does not answer. Ready again by itself once the cause is gone", body = ErrorBody),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<AppJson<Health>, ApiError> {
    let not_ready = |code, message: &str| ApiError::Client {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        detail: fieldsync_protocol::ErrorDetail::new(code, message),
        retry_after_s: Some(5),
    };
    let blobs = state.blobs().store();
    blobs.check().await.map_err(|e| {
        tracing::warn!(error = %e, store = blobs.name(), "readiness check: photo store does not answer");
        not_ready(ErrorCode::Unavailable, "the photo store does not answer")
    })?;
    let probe = tokio::time::timeout(WRITE_PROBE_WAIT, state.store().check_writable()).await;
    match probe {
        Ok(Ok(())) => {}
        Ok(Err(StoreError::Full)) => {
            return Err(not_ready(
                ErrorCode::StorageFull,
                "the database cannot write: its disk is full",
            ));
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the database does not take writes");
            return Err(not_ready(
                ErrorCode::Unavailable,
                "the database does not take writes",
            ));
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not take a write within 2 s");
            return Err(not_ready(
                ErrorCode::Unavailable,
                "the database did not take a write within 2 s",
            ));
        }
    }
    Ok(AppJson(Health {
        status: "ready",
        version: super::SERVER_VERSION,
    }))
}
