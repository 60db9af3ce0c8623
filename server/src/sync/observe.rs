//! What a push checks and adds for observations (checks, surveys): references that must point
//! into the same household, survey answers against the form version the phone had, the check's
//! outcome, and the server's judgement of the GPS fix.

use std::collections::HashMap;
use std::sync::Arc;

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::gps::{Crs, Doubt, GpsVerdict, LatLon, VillageArea};
use fieldsync_protocol::push::Mutation;
use fieldsync_protocol::registry::{self, EntityDef, FieldType, checks};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::batch::{Batch, Lookups, Step, Working};
use crate::geo::judge::{FixContext, PreviousFix, judge};
use crate::geo::{Boundary, parse_geometry};
use crate::store::{FixWrite, StoreError, StoredArea, SurveyForm, Tx};

fn uuid_of(fields: &Map<String, Value>, name: &str) -> Option<Uuid> {
    fields.get(name)?.as_str()?.parse().ok()
}

/// Every record id a new record refers to (its parent included), to load with the batch.
pub(super) fn referenced_ids(def: &EntityDef, fields: &Map<String, Value>) -> Vec<Uuid> {
    def.fields
        .iter()
        .filter(|f| {
            matches!(
                f.ty,
                FieldType::Ref(_) | FieldType::MemberOf(_) | FieldType::AnyRef(_)
            )
        })
        .filter_map(|f| uuid_of(fields, f.name))
        .collect()
}

/// References other than the parent must name a live record of the right entity in the same
/// village; a `MemberOf` reference must name a member of the record's own household.
pub(super) fn check_references(
    step: &Step<'_>,
    scope: &str,
    records: &HashMap<Uuid, Working>,
) -> Result<(), ErrorDetail> {
    let Step { m, def, .. } = *step;
    let parent = def.parent().map(|(field, _)| field);
    for f in def.fields.iter().filter(|f| Some(f.name) != parent) {
        let (entities, household_field): (&[&str], _) = match f.ty {
            FieldType::Ref(ref entity) => (std::slice::from_ref(entity), None),
            FieldType::MemberOf(household_field) => (&["member"], Some(household_field)),
            FieldType::AnyRef(entities) => (entities, None),
            _ => continue,
        };
        let Some(id) = uuid_of(&m.fields, f.name) else {
            continue;
        };
        let unknown = || {
            ErrorDetail::new(
                ErrorCode::UnknownReference,
                format!(
                    "{} does not name a {} of this village",
                    f.name,
                    entities.join(" or ")
                ),
            )
            .at(format!("fields.{}", f.name))
        };
        let target = records
            .get(&id)
            .filter(|w| {
                entities.contains(&w.entity.as_str()) && !w.state.deleted && w.scope == scope
            })
            .ok_or_else(unknown)?;
        if let Some(hf) = household_field
            && uuid_of(&target.state.fields, "household_id") != uuid_of(&m.fields, hf)
        {
            return Err(ErrorDetail::new(
                ErrorCode::UnknownReference,
                format!("{} is not a member of this household", f.name),
            )
            .at(format!("fields.{}", f.name)));
        }
    }
    Ok(())
}

fn captured_at_ms(fields: &Map<String, Value>) -> Option<i64> {
    let t = OffsetDateTime::parse(fields.get("captured_at")?.as_str()?, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The form version (key, version) a survey names, when it names one.
pub(super) fn form_named(fields: &Map<String, Value>) -> Option<(String, i64)> {
    let key = fields.get("form_key")?.as_str()?;
    let version = fields.get("form_version")?.as_i64()?;
    Some((key.to_owned(), version))
}

/// A survey's answers against the form version it names. A retired version still takes
/// surveys captured before it was retired: a phone that was offline loses nothing.
pub(super) async fn check_survey(
    tx: &mut Tx,
    m: &Mutation,
    lookups: &mut Lookups,
) -> Result<Result<(), ErrorDetail>, StoreError> {
    let named = form_named(&m.fields).unwrap_or_default();
    let (key, version) = (named.0.as_str(), named.1);
    let unknown = |msg: String| {
        Ok(Err(
            ErrorDetail::new(ErrorCode::UnknownForm, msg).at("fields.form_version")
        ))
    };
    let form = match lookups.forms.get(&named) {
        Some(f) => f.clone(),
        None => {
            let f = tx.form(key, version).await?.map(SurveyForm::from);
            lookups.forms.insert(named.clone(), f.clone());
            f
        }
    };
    let Some(form) = form else {
        return unknown(format!("form {key} version {version} was never published"));
    };
    if let Some(retired) = form.retired_at
        && captured_at_ms(&m.fields).is_none_or(|at| at >= retired)
    {
        return unknown(format!(
            "form {key} version {version} is retired; download the current version"
        ));
    }
    let empty = Map::new();
    let answers = m
        .fields
        .get("answers")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    Ok(form
        .definition
        .validate(answers)
        .map_err(|e| e.within("fields")))
}

/// Writes a new check's outcome into its fields.
pub(super) fn add_outcome(entity: &str, fields: &mut Map<String, Value>) {
    if let Some(failures) = checks::evaluate(entity, fields) {
        fields.insert("passing".into(), Value::Bool(failures.is_empty()));
        fields.insert("failures".into(), Value::from(failures));
    }
}

/// Judges the fix of a new observation at `household_id` in village `scope`, against the
/// village's area (or its county's shape), the household's registered location, the device's
/// previous fix (in this batch or stored) and fixes at other households. `batch` is the batch
/// as planned so far: its records, and the fixes judged before this one.
pub(super) async fn judge_fix(
    tx: &mut Tx,
    step: &Step<'_>,
    scope: &str,
    household_id: Option<Uuid>,
    batch: &mut Batch,
) -> Result<Option<(GpsVerdict, FixWrite)>, StoreError> {
    let Step {
        actor, rules, m, ..
    } = *step;
    let limits = &rules.gps;
    let Some(fix) = &m.gps else { return Ok(None) };
    let fix_at_ms =
        i64::try_from(fix.fix_at.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    let area = match batch.lookups.areas.get(scope) {
        Some(a) => a.clone(),
        None => {
            let a = stored_area(tx, scope).await?.map(Arc::new);
            batch.lookups.areas.insert(scope.to_owned(), a.clone());
            a
        }
    };
    let records = &batch.records;
    // Fixes judged earlier in this batch, of any device (a group holds several).
    let earlier = &batch.writes.fixes;
    let county = crate::geo::county_of(scope);
    let (against, village) = match (area.as_deref(), county) {
        (Some((kind, area)), _) => (Some(*kind), Some(area)),
        (None, Some(c)) => (Some(VillageArea::CountyShape), Some(&c.area)),
        (None, None) => (None, None),
    };
    let home = household_id.and_then(|h| records.get(&h)).and_then(|h| {
        let lat = h.state.fields.get("home_lat")?.as_f64()?;
        let lon = h.state.fields.get("home_lon")?.as_f64()?;
        Some(LatLon { lat, lon })
    });
    // The fix just before this one in time, stored or earlier in this batch (see `travel`).
    let stored = tx
        .previous_fix(actor.device_id, fix_at_ms, m.id)
        .await?
        .map(|(lat, lon, at, id)| (at, id, LatLon { lat, lon }));
    let in_batch = earlier
        .iter()
        .filter(|f| f.by.device_id == actor.device_id)
        .filter(|f| (f.fix_at_ms, f.record_id) < (fix_at_ms, m.id))
        .map(|f| {
            (
                f.fix_at_ms,
                f.record_id,
                LatLon {
                    lat: f.lat,
                    lon: f.lon,
                },
            )
        })
        .max_by_key(|(at, id, _)| (*at, *id));
    let previous = stored
        .into_iter()
        .chain(in_batch)
        .max_by_key(|(at, id, _)| (*at, *id))
        .map(|(fix_at_ms, _, at)| PreviousFix { at, fix_at_ms });
    let wgs84 = crate::geo::convert::to_wgs84(fix.lat, fix.lon, fix.crs);
    // A copied fix is one household's coordinates reused at another. Events at no household
    // (a check-in at the village office every morning) repeat their place by nature.
    let repeated = match household_id {
        None => false,
        Some(h) => {
            earlier
                .iter()
                .any(|f| f.lat == wgs84.lat && f.lon == wgs84.lon && f.household_id != Some(h))
                || tx
                    .coordinates_seen_elsewhere(wgs84.lat, wgs84.lon, h)
                    .await?
        }
    };
    let mut verdict = judge(&FixContext {
        fix,
        village,
        household: home,
        previous,
        repeated_elsewhere: repeated,
        limits,
    });
    verdict.against = against;
    // The edit's stamp is the phone's clock; the fix's time comes from the satellites. A phone
    // whose clock was set to another day (to place a visit on a day the cadre was away) shows
    // as the two disagreeing. Kept out of the pure judge: it is about the mutation, not the fix.
    let skew_ms = i64::try_from(m.hlc.wall_ms)
        .unwrap_or(i64::MAX)
        .saturating_sub(fix_at_ms)
        .saturating_abs();
    if skew_ms > limits.max_clock_skew_s.saturating_mul(1000) {
        verdict.reasons.push(Doubt::ClockMismatch);
        verdict.reasons.sort_unstable();
        verdict.ok = false;
    }
    let write = FixWrite {
        by: step.author(),
        record_id: m.id,
        household_id,
        fix_at_ms,
        lat: verdict.wgs84.lat,
        lon: verdict.wgs84.lon,
    };
    Ok(Some((verdict, write)))
}

/// The area an administrator gave for village `scope` or its township, parsed.
async fn stored_area(
    tx: &mut Tx,
    scope: &str,
) -> Result<Option<(VillageArea, Boundary)>, StoreError> {
    let shape = |geometry: &Value| {
        parse_geometry(geometry, Crs::Wgs84)
            .map(Boundary::Area)
            .map_err(|e| StoreError::Corrupt(format!("division shape: {e}")))
    };
    Ok(match tx.village_area(scope).await? {
        Some(StoredArea::VillageShape(g)) => Some((VillageArea::VillageShape, shape(&g)?)),
        Some(StoredArea::VillageCircle(c)) => {
            let centre = LatLon {
                lat: c.lat,
                lon: c.lon,
            };
            Some((
                VillageArea::VillageCircle,
                Boundary::Circle {
                    centre,
                    radius_m: c.radius_m,
                },
            ))
        }
        Some(StoredArea::TownshipShape(g)) => Some((VillageArea::TownshipShape, shape(&g)?)),
        None => None,
    })
}

/// A self-report must say whose difficulty it is (a household, or an ID-card number) and carry
/// the farmer's consent; a farmer sends a few a day at most (`PushRules::self_reports_per_day`).
pub(super) async fn check_self_report(
    tx: &mut Tx,
    step: &Step<'_>,
    per_day: i64,
) -> Result<Result<(), ErrorDetail>, StoreError> {
    let Step {
        actor, rules, m, ..
    } = *step;
    if m.fields.get("consent_to_checks") != Some(&Value::Bool(true)) {
        return Ok(Err(ErrorDetail::new(
            ErrorCode::InvalidValue,
            "monitoring checks the household's data: the farmer's consent is required",
        )
        .at("fields.consent_to_checks")));
    }
    if !m.fields.contains_key("household_id") && !m.fields.contains_key("id_card") {
        return Ok(Err(ErrorDetail::new(
            ErrorCode::MissingField,
            "name the household, or the ID-card number of the person reporting",
        )
        .at("fields.household_id")));
    }
    if actor.role == fieldsync_protocol::Role::Farmer {
        let since = rules.now_ms - 24 * 3_600_000;
        let sent = tx
            .created_since(actor.user_id, registry::SELF_REPORT.name, since)
            .await?;
        if sent >= per_day {
            return Ok(Err(ErrorDetail::new(
                ErrorCode::RateLimited,
                format!(
                    "at most {per_day} reports a day from one account; call 12317 if it is urgent"
                ),
            )
            .at("entity")));
        }
    }
    Ok(Ok(()))
}

/// The entity of a survey submission.
pub(super) fn is_survey(def: &EntityDef) -> bool {
    def.name == registry::SURVEY_SUBMISSION.name
}
