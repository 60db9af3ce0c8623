//! `GET /v1/households/{id}/checks`: where a household stands on the four checks, with the
//! history behind it; and `GET /v1/forms`, the survey forms phones fill.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::forms::FormDef;
use serde::Serialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AuthUser};
use crate::service::households::{self, HouseholdChecks};
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(paths(household_checks, forms))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/households/{id}/checks", get(household_checks))
        .route("/v1/forms", get(forms))
}

/// Where a household stands on housing, water, school and health, with every check and
/// survey behind it and their photos.
#[utoipa::path(get, operation_id = "getHouseholdChecks", path = "/v1/households/{id}/checks", tag = "review",
    params(("id" = Uuid, Path, description = "The household")),
    responses(
        (status = 200, description = "The household's standing and history", body = HouseholdChecks),
        (status = 403, description = "`forbidden_role`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such household in the caller's villages", body = ErrorBody),
    ))]
async fn household_checks(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<HouseholdChecks>, ApiError> {
    Ok(AppJson(households::checks(&state, &auth, id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct PublishedForm {
    definition: FormDef,
    published_at_ms: i64,
    /// Submissions captured after this are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    retired_at_ms: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Forms {
    forms: Vec<PublishedForm>,
}

/// Every form version, retired ones included (a phone may still hold surveys filled on them).
#[utoipa::path(get, operation_id = "listForms", path = "/v1/forms", tag = "sync",
    responses((status = 200, description = "The forms", body = Forms)))]
async fn forms(State(state): State<AppState>, _auth: AuthUser) -> Result<AppJson<Forms>, ApiError> {
    let forms = state
        .store()
        .forms()
        .await?
        .into_iter()
        .map(|f| PublishedForm {
            definition: f.definition,
            published_at_ms: f.published_at,
            retired_at_ms: f.retired_at,
        })
        .collect();
    Ok(AppJson(Forms { forms }))
}
