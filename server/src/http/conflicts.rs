//! `GET /v1/conflicts` and `POST /v1/conflicts/{id}/resolve`: the reviewer's view of values
//! that lost a same-field race.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::registry::{self, Personal};
use fieldsync_protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use super::sync::actor;
use crate::access::{self, Action};
use crate::app::AppState;
use crate::clock;
use crate::privacy;
use crate::store::{AuditAction, AuditEntry, ConflictFilter, ConflictRow};
use crate::sync::resolve::{self, Decision, Resolution};

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, resolve_one))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conflicts", get(list))
        .route("/v1/conflicts/{id}/resolve", post(resolve_one))
}

#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StatusFilter {
    #[default]
    Open,
    Resolved,
    All,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// `open` (default), `resolved` or `all`.
    #[serde(default)]
    #[param(inline)]
    pub status: StatusFilter,
    /// Only the conflicts of this record.
    pub record_id: Option<Uuid>,
    /// The last conflict id of the previous page.
    pub after: Option<Uuid>,
    /// At most this many (the server caps it).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
}

/// A value that lost a same-field race, and the values around it, as the reviewer's role may
/// see them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub id: Uuid,
    pub entity: String,
    pub record_id: Uuid,
    pub scope: String,
    pub field: String,
    /// `field` or `delete`.
    pub kind: String,
    /// The value the pushing device sent.
    pub yours: Value,
    /// The value the server had.
    pub theirs: Value,
    /// The value the record kept.
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

impl ConflictView {
    /// The view of a conflict for a reviewer of `role`: values of personal fields as far as
    /// the role may see them.
    fn for_role(r: ConflictRow, role: Role) -> Self {
        let shown = |v: Value| match registry::entity(&r.entity) {
            Some(def) => privacy::disclose_value(role, def, &r.field, v),
            None => v,
        };
        let (yours, theirs, kept) = (
            shown(r.yours.0.clone()),
            shown(r.theirs.0.clone()),
            shown(r.kept.0.clone()),
        );
        let resolution: Option<Resolution> = r
            .resolution
            .clone()
            .and_then(|j| serde_json::from_value(j.0).ok())
            .map(|mut res: Resolution| {
                res.value = shown(res.value);
                res
            });
        ConflictView {
            id: r.id,
            entity: r.entity,
            record_id: r.record_id,
            scope: r.scope,
            field: r.field,
            kind: r.kind,
            yours,
            theirs,
            kept,
            mutation_id: r.mutation_id,
            device_id: r.device_id,
            user_id: r.user_id,
            created_at_ms: r.created_at,
            resolved_at_ms: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConflictPage {
    pub conflicts: Vec<ConflictView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// Conflicts of the caller's villages waiting for a reviewer (or resolved), oldest first.
#[utoipa::path(get, operation_id = "listConflicts", path = "/v1/conflicts", tag = "review", params(ListParams),
    responses(
        (status = 200, description = "A page of conflicts", body = ConflictPage),
        (status = 403, description = "`forbidden_role`: the role does not review conflicts", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(p): AppQuery<ListParams>,
) -> Result<AppJson<ConflictPage>, ApiError> {
    list_conflicts(&state, &auth, p).await.map(AppJson)
}

/// A page of the conflicts of the caller's villages: the API's and the console's.
pub(crate) async fn list_conflicts(
    state: &AppState,
    auth: &AuthUser,
    p: ListParams,
) -> Result<ConflictPage, ApiError> {
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
    let actor = actor(state, auth).await?;
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
    let shown: Vec<ConflictRow> = rows
        .into_iter()
        .take(page_size)
        .filter(|r| access::allowed(auth.role, &r.entity, Action::Review))
        .collect();
    let audit: Vec<AuditEntry> = shown.iter().filter_map(|r| read_entry(auth, r)).collect();
    state.store().append_audit(&audit, clock::now_ms()).await?;
    let conflicts = shown
        .into_iter()
        .map(|r| ConflictView::for_role(r, auth.role))
        .collect();
    Ok(ConflictPage { conflicts, next })
}

/// A conflict of a personal field shows personal data: record the read.
fn read_entry(auth: &AuthUser, r: &ConflictRow) -> Option<AuditEntry> {
    let def = registry::entity(&r.entity)?;
    let field = def.field(&r.field)?;
    (field.personal != Personal::None).then(|| AuditEntry {
        user_id: auth.user_id,
        device_id: Some(auth.device_id),
        action: AuditAction::Read,
        entity: def.name,
        record_id: r.record_id,
        household_id: (def.name == registry::HOUSEHOLD.name).then_some(r.record_id),
        scope: Some(r.scope.clone()),
        fields: vec![r.field.clone()],
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Resolved {
    pub conflict: ConflictView,
    /// The record's version after the decision.
    pub version: u64,
}

/// Decides a conflict: keep the kept value, take the phone's (`yours`) or the server's
/// (`theirs`), or set a corrected `value`. The decision is a new version of the record that
/// every phone pulls.
#[utoipa::path(post, operation_id = "resolveConflict", path = "/v1/conflicts/{id}/resolve", tag = "review", request_body = Decision,
    params(("id" = Uuid, Path, description = "The conflict")),
    responses(
        (status = 200, description = "Resolved", body = Resolved),
        (status = 403, description = "`forbidden_role` or `forbidden_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such conflict in the caller's villages", body = ErrorBody),
        (status = 409, description = "`conflict`: already resolved", body = ErrorBody),
        (status = 422, description = "`invalid_value`: the decision does not fit the field", body = ErrorBody),
    ))]
async fn resolve_one(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<Uuid>,
    AppJson(decision): AppJson<Decision>,
) -> Result<AppJson<Resolved>, ApiError> {
    resolve_conflict(&state, &auth, id, &decision)
        .await
        .map(AppJson)
}

/// A reviewer's decision on a conflict: the API's and the console's.
pub(crate) async fn resolve_conflict(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    decision: &Decision,
) -> Result<Resolved, ApiError> {
    let actor = actor(state, auth).await?;
    let done = resolve::resolve(state.store(), &actor, id, decision, clock::now_ms()).await?;
    tracing::info!(conflict = %id, reviewer = %auth.user_id, "conflict resolved");
    Ok(Resolved {
        conflict: ConflictView::for_role(done.conflict, auth.role),
        version: done.version,
    })
}
