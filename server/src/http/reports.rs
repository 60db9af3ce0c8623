//! `GET /v1/self-reports/mine`: a reporter's own self-reports and where each stands. A farmer
//! sees these and nothing else of the village: the state of a case only when it is their own
//! household's (or their report opened it).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::Role;
use serde::Serialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AuthUser};
use crate::service::work as ops;
use crate::state::AppState;
use crate::store::{OwnIdCard, StoredRecord};

#[derive(utoipa::OpenApi)]
#[openapi(paths(mine))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/self-reports/mine", get(mine))
}

#[derive(Serialize, utoipa::ToSchema)]
struct MyReport {
    id: Uuid,
    village_code: String,
    category: String,
    description: String,
    received_at_ms: i64,
    /// Where the monitoring case the report opened or joined stands (`reported`, `verified`
    /// … `eliminated`, `not_admitted`); `received` until a case takes it up, and to a farmer
    /// while the case is not their own household's.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_id: Option<Uuid>,
    /// Why the household was not admitted, when it was not: the reporter has a right to know.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_admitted_reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MyReports {
    reports: Vec<MyReport>,
}

/// A farmer's own ID-card number on file, if any, with its households.
struct Own(Option<OwnIdCard>);

impl Own {
    /// Whether the farmer who filed `report` may see where `case` stands: a case of their own
    /// household, or one their report opened. Since a farmer's report can only join a case of
    /// their own household, this matters for reports filed before that rule (one that joined a
    /// neighbour's case shows as `received`, without the case).
    fn may_follow(&self, case: &StoredRecord, report: Uuid) -> bool {
        let field = |name: &str| {
            case.fields
                .0
                .get(name)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<Uuid>().ok())
        };
        field("self_report_id") == Some(report)
            || field("household_id")
                .is_some_and(|h| self.0.as_ref().is_some_and(|o| o.households.contains(&h)))
    }
}

/// The caller's own self-reports (hotline operators: the ones they took) and where each stands.
#[utoipa::path(get, operation_id = "listMySelfReports", path = "/v1/self-reports/mine", tag = "work",
    responses((status = 200, description = "The reports, newest first", body = MyReports)))]
async fn mine(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<AppJson<MyReports>, ApiError> {
    let text = |f: &serde_json::Map<String, serde_json::Value>, k: &str| {
        f.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let store = state.store();
    // A farmer follows the cases of their own household only (see `Own::may_follow`); a
    // hotline operator follows the cases of the reports they took.
    let own = match auth.role {
        Role::Farmer => Some(Own(store.own_id_card(auth.user_id).await?)),
        _ => None,
    };
    let mut reports = Vec::new();
    for r in store
        .records_created_by(auth.user_id, fieldsync_protocol::registry::SELF_REPORT.name)
        .await?
    {
        // A case that is not the farmer's business shows as the report alone: received.
        let standing = ops::standing(store, &r.fields.0, |c| {
            own.as_ref().is_none_or(|own| own.may_follow(c, r.id))
        })
        .await?;
        reports.push(MyReport {
            id: r.id,
            village_code: r.scope.clone(),
            category: text(&r.fields.0, "category"),
            description: text(&r.fields.0, "description"),
            received_at_ms: r.created_at,
            status: standing.status,
            case_id: standing.case_id,
            not_admitted_reason: standing.not_admitted_reason,
        });
    }
    Ok(AppJson(MyReports { reports }))
}
