//! `POST /v1/sync/push` and `GET /v1/sync/pull`.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::pull::PullResponse;
use fieldsync_protocol::push::{PushResponse, RawPushRequest, Status};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{AppJson, AppQuery, AuthUser};
use crate::app::AppState;
use crate::clock;
use crate::sync::push::PushRules;
use crate::sync::{Actor, pull, push};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sync/push", post(push_batch))
        .route("/v1/sync/pull", get(pull_changes))
}

/// The caller with the villages they may touch today.
pub(super) async fn actor(state: &AppState, auth: &AuthUser) -> Result<Actor, ApiError> {
    let villages: BTreeSet<String> = state
        .store()
        .user_villages(auth.user_id, &clock::iso(clock::today()))
        .await?
        .into_iter()
        .collect();
    Ok(Actor {
        user_id: auth.user_id,
        device_id: auth.device_id,
        role: auth.role,
        villages,
    })
}

async fn push_batch(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(req): AppJson<RawPushRequest>,
) -> Result<AppJson<PushResponse>, ApiError> {
    if req.device_id != auth.device_id {
        return Err(ApiError::forbidden(
            ErrorCode::DeviceMismatch,
            "device_id is not the device this token was issued to",
        )
        .at("device_id"));
    }
    let limits = &state.settings().limits;
    if req.mutations.len() > limits.max_batch {
        return Err(ApiError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BatchTooLarge,
            format!(
                "{} mutations in one push; send at most {}",
                req.mutations.len(),
                limits.max_batch
            ),
        )
        .at("mutations"));
    }
    let actor = actor(&state, &auth).await?;
    let now_ms = clock::now_ms();
    let rules = PushRules {
        now_ms,
        max_clock_ahead_ms: limits.max_clock_ahead_s.saturating_mul(1000),
        gps: state.settings().gps.clone(),
    };
    let n = req.mutations.len();
    let results = push::push(
        state.store(),
        &actor,
        &rules,
        req.mutations,
        &req.client.unwrap_or_default(),
    )
    .await?;
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    tracing::info!(
        device = %auth.device_id,
        mutations = n,
        applied = count(Status::Applied),
        merged = count(Status::Merged),
        conflict = count(Status::Conflict),
        rejected = count(Status::Rejected),
        duplicate = count(Status::Duplicate),
        "push"
    );
    Ok(AppJson(PushResponse {
        results,
        server_time_ms: u64::try_from(now_ms).unwrap_or_default(),
    }))
}

#[derive(Deserialize)]
struct PullParams {
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn pull_changes(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(params): AppQuery<PullParams>,
) -> Result<AppJson<PullResponse>, ApiError> {
    let limits = &state.settings().limits;
    let limit = match params.limit {
        None => limits.default_pull_limit,
        Some(0) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "limit must be at least 1",
            )
            .at("limit"));
        }
        Some(n) => n.min(limits.max_pull_limit),
    };
    let actor = actor(&state, &auth).await?;
    let page = pull::pull(
        state.store(),
        &actor,
        params.cursor.as_deref().filter(|c| !c.is_empty()),
        limit,
        clock::now_ms(),
    )
    .await?;
    tracing::debug!(device = %auth.device_id, changes = page.changes.len(), has_more = page.has_more, "pull");
    Ok(AppJson(page))
}
