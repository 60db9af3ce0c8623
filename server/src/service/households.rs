//! A household's standing on the checks, with every check and survey behind it and their
//! photos, as the caller's role may see it: the API's `GET /v1/households/{id}/checks`, and the
//! office console's household file to come.

use std::collections::BTreeMap;

use fieldsync_protocol::gps::LatLon;
use fieldsync_protocol::registry;
use fieldsync_protocol::registry::checks::{self, CheckStatus, Observed};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::disclosure::{self, Whereabouts};
use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::clock;
use crate::state::AppState;
use crate::store::{AuditEntry, HouseholdRecord};

/// A check or survey of the household, as the caller's role may see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckRecord {
    pub entity: String,
    pub id: Uuid,
    pub version: i64,
    pub fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps_verdict: Option<Value>,
    pub received_at_ms: i64,
    /// In force now (not superseded, the latest of its kind).
    pub in_force: bool,
    /// The photos it names, with what the server knows of each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<PhotoView>,
}

/// A photo named by a check, for a reviewer: its state, and where and when the camera says it
/// was taken, judged like any fix (against the village's county and the household's location)
/// and set against the record's own fix.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    pub sha256: String,
    /// `missing` when the phone has not uploaded it (yet).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps_verdict: Option<fieldsync_protocol::gps::GpsVerdict>,
    /// Metres between the camera's position and the fix the record was captured with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_record_fix_m: Option<f64>,
}

/// EXIF positions carry no accuracy; a phone camera's is typically this good outdoors.
const EXIF_ACCURACY_M: f64 = 30.0;

fn photo_view(
    sha256: &str,
    row: Option<&crate::store::BlobRow>,
    scope: &str,
    home: Option<LatLon>,
    record_fix: Option<LatLon>,
    limits: &crate::geo::GpsLimits,
) -> PhotoView {
    let Some(row) = row else {
        return PhotoView {
            sha256: sha256.to_owned(),
            state: "missing",
            taken_at: None,
            gps_verdict: None,
            from_record_fix_m: None,
        };
    };
    let at = match (row.gps_lat, row.gps_lon) {
        (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
        _ => None,
    };
    let taken = row.taken_at.as_deref().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    let gps_verdict = at.map(|p| {
        let fix = fieldsync_protocol::gps::GpsFix {
            lat: p.lat,
            lon: p.lon,
            accuracy_m: EXIF_ACCURACY_M,
            crs: fieldsync_protocol::gps::Crs::Wgs84,
            fix_at: taken.unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            mocked: false,
        };
        let county = crate::geo::county_of(scope);
        let mut verdict = crate::geo::judge(&crate::geo::FixContext {
            fix: &fix,
            village: county.map(|c| &c.area),
            household: home,
            previous: None,
            repeated_elsewhere: false,
            limits,
        });
        verdict.against = county.map(|_| fieldsync_protocol::gps::VillageArea::CountyShape);
        verdict
    });
    let from_record_fix_m = at
        .zip(record_fix)
        .map(|(a, b)| crate::geo::distance_m(a, b).round());
    PhotoView {
        sha256: sha256.to_owned(),
        state: match row.state.as_str() {
            "ready" => "ready",
            "rejected" => "rejected",
            _ => "processing",
        },
        taken_at: row.taken_at.clone(),
        gps_verdict,
        from_record_fix_m,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HouseholdChecks {
    pub household_id: Uuid,
    /// `housing_check`, `water_check`, `education_check`, `health_check`.
    pub status: BTreeMap<&'static str, CheckStatus>,
    /// Every check and survey of the household, oldest first.
    pub history: Vec<CheckRecord>,
}

/// Where a household stands on the checks, with every check and survey behind it and their
/// photos; `not_found` for a household outside the caller's villages.
pub async fn checks(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<HouseholdChecks, ServiceError> {
    let records = readable_household(state, caller, id).await?;
    let (checks, audit) = checks_in(state, caller, id, &records).await?;
    state.store().append_audit(&audit, clock::now_ms()).await?;
    Ok(checks)
}

/// Every live record of household `id`; `not_found` for a household outside the caller's
/// villages, unknown, or one the caller's role does not read (it does not exist for them).
pub(super) async fn readable_household(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<HouseholdRecord>, ServiceError> {
    let actor = caller.actor(state).await?;
    let records = state.store().household_records(id).await?;
    let household = records
        .iter()
        .find(|r| r.id == id && r.entity == registry::HOUSEHOLD.name);
    if household.is_none_or(|h| {
        !actor.villages.contains(&h.scope) || !access::allowed(caller.role, &h.entity, Action::Read)
    }) {
        return Err(ServiceError::not_found("no such household"));
    }
    Ok(records)
}

/// The checks of a household the caller may read, from its `records`, with the audit entries of
/// the personal fields they show (for the caller to append).
pub(super) async fn checks_in(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    records: &[HouseholdRecord],
) -> Result<(HouseholdChecks, Vec<AuditEntry>), ServiceError> {
    let household = records
        .iter()
        .find(|r| r.id == id && r.entity == registry::HOUSEHOLD.name);
    let observations: Vec<_> = records
        .iter()
        .filter(|r| {
            registry::entity(&r.entity).is_some_and(|d| d.append_only)
                && access::allowed(caller.role, &r.entity, Action::Read)
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

    // The photos each check links to. One a record names without a link (uploaded by someone
    // who could not have written the record) is shown as missing: its readers may not see it,
    // not even its state, time or place.
    let mut blobs = std::collections::HashMap::new();
    for r in &observations {
        if photo_names(&r.fields.0).next().is_none() {
            continue;
        }
        for sha in state.store().linked_photos(r.id).await? {
            let row = state.store().blob(&sha).await?;
            blobs.insert((r.id, sha), row);
        }
    }
    let home = household.and_then(|h| {
        let lat = h.fields.0.get("home_lat")?.as_f64()?;
        let lon = h.fields.0.get("home_lon")?.as_f64()?;
        Some(LatLon { lat, lon })
    });
    let limits = &state.settings().gps;

    let mut audit = Vec::new();
    let history = observations
        .into_iter()
        .map(|r| {
            let mut fields = r.fields.0.clone();
            if let Some(def) = registry::entity(&r.entity) {
                let at = Whereabouts {
                    record_id: r.id,
                    household_id: Some(id),
                    scope: &r.scope,
                };
                audit.extend(disclosure::disclose(caller, def, at, &mut fields));
            }
            CheckRecord {
                entity: r.entity.clone(),
                id: r.id,
                version: r.version,
                fields,
                gps_verdict: r.gps_verdict.as_ref().map(|v| v.0.clone()),
                received_at_ms: r.created_at,
                in_force: in_force.contains(&r.id),
                photos: photo_names(&r.fields.0)
                    .map(|sha| {
                        let record_fix = r.gps_verdict.as_ref().and_then(|v| {
                            serde_json::from_value::<LatLon>(v.0.get("wgs84")?.clone()).ok()
                        });
                        photo_view(
                            sha,
                            blobs.get(&(r.id, sha.to_owned())).and_then(Option::as_ref),
                            &r.scope,
                            home,
                            record_fix,
                            limits,
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    Ok((
        HouseholdChecks {
            household_id: id,
            status,
            history,
        },
        audit,
    ))
}

fn photo_names(fields: &Map<String, Value>) -> impl Iterator<Item = &str> {
    fields
        .get("photos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}
