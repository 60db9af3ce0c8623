//! Which households of a village were visited (or checked) in a month and which not: who to
//! see next. The head's name is personal data, so its reading is audited like any other.

use fieldsync_protocol::registry::HOUSEHOLD;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{month_of, month_text, no_such_month};
use crate::access::{self, Action};
use crate::attendance::load;
use crate::clock;
use crate::service::{Caller, ServiceError};
use crate::state::AppState;
use crate::store::{AuditAction, AuditEntry};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Coverage {
    village: String,
    month: String,
    households: usize,
    visited: usize,
    /// Visited households per household, 0 to 1.
    coverage: f64,
    /// Households with no visit or check this month: who to see next.
    unvisited: Vec<CoveredHousehold>,
    visited_households: Vec<CoveredHousehold>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CoveredHousehold {
    household_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_name: Option<String>,
    visits: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_visit_ms: Option<i64>,
}

/// The coverage of `village` in `month` (this month when absent), if it is one of the
/// caller's villages and their role reads households.
pub async fn coverage(
    state: &AppState,
    caller: &Caller,
    village: String,
    month: Option<&str>,
) -> Result<Coverage, ServiceError> {
    let actor = caller.actor(state).await?;
    if !actor.villages.contains(&village)
        || !access::allowed(caller.role, HOUSEHOLD.name, Action::Read)
    {
        return Err(ServiceError::not_found("no such village"));
    }
    let month = month_of(month)?;
    let (start, end) = load::month_ms(month).ok_or_else(no_such_month)?;
    let rows = state.store().village_coverage(&village, start, end).await?;
    let audit: Vec<AuditEntry> = rows
        .iter()
        .map(|r| AuditEntry {
            user_id: caller.user_id,
            device_id: Some(caller.device_id),
            action: AuditAction::Read,
            entity: HOUSEHOLD.name,
            record_id: r.household_id,
            household_id: Some(r.household_id),
            scope: Some(village.clone()),
            fields: vec!["head_name".to_owned()],
        })
        .collect();
    state.store().append_audit(&audit, clock::now_ms()).await?;
    let households = rows.len();
    let (visited, unvisited): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .map(|r| CoveredHousehold {
            household_id: r.household_id,
            head_name: r
                .fields
                .0
                .get("head_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            visits: r.visits,
            last_visit_ms: r.last_visit_ms,
        })
        .partition(|h| h.visits > 0);
    Ok(Coverage {
        village,
        month: month_text(month),
        households,
        visited: visited.len(),
        coverage: if households == 0 {
            0.0
        } else {
            visited.len() as f64 / households as f64
        },
        unvisited,
        visited_households: visited,
    })
}
