//! `GET /v1/conflicts` and `POST /v1/conflicts/{id}/resolve`: the reviewer's view of values
//! that lost a same-field race.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use fieldsync_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use super::sync::actor;
use crate::access::{self, Action};
use crate::app::AppState;
use crate::clock;
use crate::store::{ConflictFilter, ConflictRow};
use crate::sync::resolve::{self, Decision, Resolution};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conflicts", get(list))
        .route("/v1/conflicts/{id}/resolve", post(resolve_one))
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StatusFilter {
    #[default]
    Open,
    Resolved,
    All,
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    status: StatusFilter,
    record_id: Option<Uuid>,
    /// The last conflict id of the previous page.
    after: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct ConflictView {
    pub id: Uuid,
    pub entity: String,
    pub record_id: Uuid,
    pub scope: String,
    pub field: String,
    pub kind: String,
    pub yours: Value,
    pub theirs: Value,
    pub kept: Value,
    pub mutation_id: Uuid,
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub created_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

impl From<ConflictRow> for ConflictView {
    fn from(r: ConflictRow) -> Self {
        ConflictView {
            id: r.id,
            entity: r.entity,
            record_id: r.record_id,
            scope: r.scope,
            field: r.field,
            kind: r.kind,
            yours: r.yours.0,
            theirs: r.theirs.0,
            kept: r.kept.0,
            mutation_id: r.mutation_id,
            device_id: r.device_id,
            user_id: r.user_id,
            created_at_ms: r.created_at,
            resolved_at_ms: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution: r.resolution.and_then(|j| serde_json::from_value(j.0).ok()),
        }
    }
}

#[derive(Serialize)]
struct ConflictPage {
    conflicts: Vec<ConflictView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Uuid>,
}

async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(p): AppQuery<ListParams>,
) -> Result<AppJson<ConflictPage>, ApiError> {
    if !access::reviews_anything(auth.role) {
        return Err(ApiError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("a {} does not review conflicts", auth.role),
        ));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "limit must be within 1..500",
        )
        .at("limit"));
    }
    let actor = actor(&state, &auth).await?;
    let villages: Vec<String> = actor.villages.into_iter().collect();
    let rows = state
        .store()
        .conflicts(&ConflictFilter {
            villages: &villages,
            open: match p.status {
                StatusFilter::Open => Some(true),
                StatusFilter::Resolved => Some(false),
                StatusFilter::All => None,
            },
            record_id: p.record_id,
            after: p.after,
            limit: limit + 1,
        })
        .await?;
    let page_size = usize::try_from(limit).unwrap_or(usize::MAX);
    let next = if rows.len() > page_size {
        rows.get(page_size - 1).map(|r| r.id)
    } else {
        None
    };
    let conflicts: Vec<ConflictView> = rows
        .into_iter()
        .take(page_size)
        .filter(|r| access::allowed(auth.role, &r.entity, Action::Review))
        .map(ConflictView::from)
        .collect();
    Ok(AppJson(ConflictPage { conflicts, next }))
}

#[derive(Serialize)]
struct Resolved {
    conflict: ConflictView,
    /// The record's version after the decision.
    version: u64,
}

async fn resolve_one(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(decision): AppJson<Decision>,
) -> Result<AppJson<Resolved>, ApiError> {
    let actor = actor(&state, &auth).await?;
    let done = resolve::resolve(state.store(), &actor, id, &decision, clock::now_ms()).await?;
    tracing::info!(conflict = %id, reviewer = %auth.user_id, "conflict resolved");
    Ok(AppJson(Resolved {
        conflict: done.conflict.into(),
        version: done.version,
    }))
}
