//! `GET /v1/audit`: who read or changed a household's personal data, for administrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppQuery, AuthUser};
use crate::state::AppState;
use crate::store::{AuditFilter, AuditRow};

#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    household_id: Option<Uuid>,
    user_id: Option<Uuid>,
    /// Milliseconds since the epoch, inclusive.
    from_ms: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    to_ms: Option<i64>,
    /// `next` of the previous page.
    after: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditPage)]
struct Page {
    entries: Vec<AuditRow>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Who read or changed which household's personal data, newest first (administrators only).
#[utoipa::path(get, operation_id = "listAudit", path = "/v1/audit", tag = "review", params(Params),
    responses(
        (status = 200, description = "A page of entries", body = Page),
        (status = 403, description = "`forbidden_role`", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(p): AppQuery<Params>,
) -> Result<AppJson<Page>, ApiError> {
    if auth.role != Role::Admin {
        return Err(ApiError::forbidden(
            ErrorCode::ForbiddenRole,
            "only administrators read the audit log",
        ));
    }
    let limit = p.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "limit must be within 1..1000",
        )
        .at("limit"));
    }
    let mut entries = state
        .store()
        .audit(&AuditFilter {
            household_id: p.household_id,
            user_id: p.user_id,
            from_ms: p.from_ms,
            to_ms: p.to_ms,
            after: p.after.as_deref().map(parse_after).transpose()?,
            limit: limit + 1,
        })
        .await?;
    let next = if entries.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        entries.last().map(|e| format!("{}:{}", e.at, e.id))
    } else {
        None
    };
    Ok(AppJson(Page { entries, next }))
}

fn parse_after(s: &str) -> Result<(i64, Uuid), ApiError> {
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "after is the `next` value of a previous page",
        )
        .at("after")
    };
    let (at, id) = s.split_once(':').ok_or_else(bad)?;
    Ok((
        at.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}
