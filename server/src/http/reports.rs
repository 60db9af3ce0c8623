//! `GET /v1/self-reports/mine`: a reporter's own self-reports and where each stands. A farmer
//! sees these and nothing else of the village.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AuthUser};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/self-reports/mine", get(mine))
}

#[derive(Serialize)]
struct MyReport {
    id: Uuid,
    village_code: String,
    category: String,
    description: String,
    received_at_ms: i64,
    /// `received` until a monitoring case takes it up.
    status: &'static str,
}

#[derive(Serialize)]
struct MyReports {
    reports: Vec<MyReport>,
}

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
    let reports = state
        .store()
        .records_created_by(auth.user_id, fieldsync_protocol::registry::SELF_REPORT.name)
        .await?
        .into_iter()
        .map(|r| MyReport {
            id: r.id,
            village_code: r.scope.clone(),
            category: text(&r.fields.0, "category"),
            description: text(&r.fields.0, "description"),
            received_at_ms: r.created_at,
            status: "received",
        })
        .collect();
    Ok(AppJson(MyReports { reports }))
}
