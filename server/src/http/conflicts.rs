//! `GET /v1/conflicts` and `POST /v1/conflicts/{id}/resolve`: the reviewer's view of values
//! that lost a same-field race (the operations are `crate::service::conflicts`).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use fieldsync_protocol::error::ErrorBody;
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use crate::service::conflicts::{self as ops, ConflictPage, ConflictQuery, Resolved, StatusFilter};
use crate::state::AppState;
use crate::sync::resolve::Decision;

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, resolve_one))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conflicts", get(list))
        .route("/v1/conflicts/{id}/resolve", post(resolve_one))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// `open` (default), `resolved` or `all`.
    #[serde(default)]
    #[param(inline)]
    status: StatusFilter,
    /// Only the conflicts of this record.
    record_id: Option<Uuid>,
    /// The last conflict id of the previous page.
    after: Option<Uuid>,
    /// At most this many (the server caps it).
    #[param(minimum = 1)]
    limit: Option<i64>,
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
    let query = ConflictQuery {
        status: p.status,
        record_id: p.record_id,
        household_id: None,
        after: p.after,
        limit: p.limit,
    };
    Ok(AppJson(ops::list(&state, &auth, query).await?))
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
    Ok(AppJson(ops::resolve(&state, &auth, id, &decision).await?))
}
