//! `GET /v1/devices`: the phones of a team leader's villages with their last contact and the
//! health they reported (app version, unsent records and the age of the oldest), so that a
//! phone that stopped syncing — the silent failure field teams fear most — is found in days,
//! not at the end of the month.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppQuery, AuthUser};
use crate::clock;
use crate::state::AppState;
use crate::store::village_range;

#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/devices", get(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Query {
    /// Only phones not heard from for at least this many days.
    silent_days: Option<u32>,
    /// Only phones whose oldest unsent record is at least this many hours old.
    unsent_hours: Option<u32>,
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    village: Option<String>,
}

/// One phone and what it last said of itself.
#[derive(Serialize, utoipa::ToSchema)]
struct Phone {
    device_id: Uuid,
    user_id: Uuid,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    role: String,
    /// The villages of the leader's the user is assigned to today.
    villages: Vec<String>,
    last_seen_at_ms: i64,
    /// Whole days since the last contact (push, pull or login).
    silent_days: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_version: Option<String>,
    /// As last reported; `null` when the app never said.
    outbox_depth: Option<i64>,
    oldest_unsent_s: Option<i64>,
    /// Which of the asked-for limits the phone trips.
    flags: Vec<PhoneFlag>,
}

/// A limit of the list's query that a phone trips.
#[derive(Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum PhoneFlag {
    /// No contact for `silent_days` or more.
    Silent,
    /// Its oldest unsent record is `unsent_hours` old or older.
    OldUnsent,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Phones {
    /// Longest silent first.
    devices: Vec<Phone>,
}

/// Who watches phones: the team leaders and the county.
const WATCHERS: &[Role] = &[Role::Admin, Role::CountyOfficer, Role::TownshipSupervisor];

/// The phones of the caller's villages, longest silent first: the ones that stopped syncing or
/// hold old unsent records are the ones to call.
#[utoipa::path(get, operation_id = "listDevices", path = "/v1/devices", tag = "review", params(Query),
    responses(
        (status = 200, description = "The phones", body = Phones),
        (status = 403, description = "`forbidden_role` (not a leader) or `forbidden_scope` (`village`)", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<Query>,
) -> Result<AppJson<Phones>, ApiError> {
    if !WATCHERS.contains(&auth.role) {
        return Err(ApiError::forbidden(
            ErrorCode::ForbiddenRole,
            "the phones list is for team leaders and county officers",
        ));
    }
    let villages = auth.villages_asked(&state, q.village.as_deref()).await?;
    let now = clock::now_ms();
    let (devices, assigned) = state
        .store()
        .device_health(&clock::iso(clock::today()))
        .await?;
    // The leader's villages each user works in: a user assigned to a township counts for
    // each of its villages the leader oversees.
    let mut works_in: BTreeMap<Uuid, BTreeSet<String>> = BTreeMap::new();
    for (user, code) in assigned {
        let (lo, hi) = village_range(&code);
        let mine = villages.range(lo..=hi).cloned();
        works_in.entry(user).or_default().extend(mine);
    }
    let day_ms = 86_400_000;
    let mut out = Vec::new();
    for d in devices {
        let Some(vs) = works_in.get(&d.user_id).filter(|v| !v.is_empty()) else {
            continue;
        };
        if d.user_id == auth.user_id {
            continue;
        }
        let silent_days = (now - d.last_seen_at).max(0) / day_ms;
        let mut flags = Vec::new();
        if q.silent_days.is_some_and(|n| silent_days >= i64::from(n)) {
            flags.push(PhoneFlag::Silent);
        }
        if q.unsent_hours
            .is_some_and(|h| d.oldest_unsent_s.unwrap_or(0) >= i64::from(h) * 3600)
        {
            flags.push(PhoneFlag::OldUnsent);
        }
        let filtered = q.silent_days.is_some() || q.unsent_hours.is_some();
        if filtered && flags.is_empty() {
            continue;
        }
        out.push(Phone {
            device_id: d.id,
            user_id: d.user_id,
            username: d.username,
            display_name: d.display_name,
            role: d.role,
            villages: vs.iter().cloned().collect(),
            last_seen_at_ms: d.last_seen_at,
            silent_days,
            app_version: d.app_version,
            outbox_depth: d.outbox_depth,
            oldest_unsent_s: d.oldest_unsent_s,
            flags,
        });
    }
    Ok(AppJson(Phones { devices: out }))
}
