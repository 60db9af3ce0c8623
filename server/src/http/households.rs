//! `GET /v1/households/{id}/checks`: where a household stands on the four checks, with the
//! history behind it; and `GET /v1/forms`, the survey forms phones fill.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::forms::FormDef;
use fieldsync_protocol::registry::checks::{self, CheckStatus, Observed};
use fieldsync_protocol::registry::{self, Personal};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AuthUser};
use super::sync::actor;
use crate::access::{self, Action};
use crate::app::AppState;
use crate::clock;
use crate::privacy;
use crate::store::{AuditAction, AuditEntry};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/households/{id}/checks", get(household_checks))
        .route("/v1/forms", get(forms))
}

#[derive(Serialize)]
struct CheckRecord {
    entity: String,
    id: Uuid,
    version: i64,
    fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gps_verdict: Option<Value>,
    received_at_ms: i64,
    /// In force now (not superseded, the latest of its kind).
    in_force: bool,
}

#[derive(Serialize)]
struct HouseholdChecks {
    household_id: Uuid,
    /// `housing_check`, `water_check`, `education_check`, `health_check`.
    status: BTreeMap<&'static str, CheckStatus>,
    /// Every check and survey of the household, oldest first.
    history: Vec<CheckRecord>,
}

async fn household_checks(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<HouseholdChecks>, ApiError> {
    let actor = actor(&state, &auth).await?;
    let records = state.store().household_records(id).await?;
    // A household outside the caller's villages (or unknown, or unreadable) does not exist for
    // the caller.
    let household = records
        .iter()
        .find(|r| r.id == id && r.entity == registry::HOUSEHOLD.name);
    if household.is_none_or(|h| {
        !actor.villages.contains(&h.scope) || !access::allowed(auth.role, &h.entity, Action::Read)
    }) {
        return Err(ApiError::not_found("no such household"));
    }
    let observations: Vec<_> = records
        .iter()
        .filter(|r| {
            registry::entity(&r.entity).is_some_and(|d| d.append_only)
                && access::allowed(auth.role, &r.entity, Action::Read)
        })
        .collect();
    let observed: Vec<Observed<'_>> = observations
        .iter()
        .map(|r| Observed {
            entity: &r.entity,
            id: r.id,
            fields: &r.fields.0,
        })
        .collect();
    let in_force: Vec<Uuid> = checks::current(&observed).iter().map(|o| o.id).collect();
    let status = checks::household_status(&checks::current(&observed))
        .into_iter()
        .collect();

    let mut audit = Vec::new();
    let history = observations
        .into_iter()
        .map(|r| {
            let mut fields = r.fields.0.clone();
            if let Some(def) = registry::entity(&r.entity) {
                privacy::disclose(auth.role, def, &mut fields);
                let personal: Vec<String> = def
                    .fields
                    .iter()
                    .filter(|f| f.personal != Personal::None && fields.contains_key(f.name))
                    .map(|f| f.name.to_owned())
                    .collect();
                if !personal.is_empty() {
                    audit.push(AuditEntry {
                        user_id: auth.user_id,
                        device_id: Some(auth.device_id),
                        action: AuditAction::Read,
                        entity: def.name,
                        record_id: r.id,
                        household_id: Some(id),
                        scope: Some(r.scope.clone()),
                        fields: personal,
                    });
                }
            }
            CheckRecord {
                entity: r.entity.clone(),
                id: r.id,
                version: r.version,
                fields,
                gps_verdict: r.gps_verdict.as_ref().map(|v| v.0.clone()),
                received_at_ms: r.created_at,
                in_force: in_force.contains(&r.id),
            }
        })
        .collect();
    state.store().append_audit(&audit, clock::now_ms()).await?;
    Ok(AppJson(HouseholdChecks {
        household_id: id,
        status,
        history,
    }))
}

#[derive(Serialize)]
struct PublishedForm {
    definition: FormDef,
    published_at_ms: i64,
    /// Submissions captured after this are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    retired_at_ms: Option<i64>,
}

#[derive(Serialize)]
struct Forms {
    forms: Vec<PublishedForm>,
}

/// Every form version, retired ones included (a phone may still hold surveys filled on them).
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
