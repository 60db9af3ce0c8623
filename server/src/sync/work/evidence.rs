//! What counts as evidence of work done: a visit that verifies a case at a household (its
//! GPS fix not doubted), the household facts risk elimination is judged on, and the visit or
//! passing check that closes a task.

use std::collections::HashMap;

use fieldsync_protocol::registry;
use fieldsync_protocol::registry::checks::{self, CheckState, Observed};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::follow::{text, uuid};
use crate::clock;
use crate::store::{StoreError, Tx};
use crate::sync::batch::Working;

/// The verdict on a record's fix: judged in this batch, else as stored.
async fn verdict_ok(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    id: Uuid,
) -> Result<bool, StoreError> {
    if let Some(v) = records.get(&id).and_then(|w| w.gps_verdict.as_ref()) {
        return Ok(v.ok);
    }
    Ok(tx.gps_verdict(id).await?.is_some_and(|v| v.ok))
}

/// Why a visit does not verify a case at a household, if it does not.
pub(super) async fn visit_problem(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    visit_id: Option<Uuid>,
    case: &Map<String, Value>,
) -> Result<Result<Uuid, String>, StoreError> {
    let Some(id) = visit_id else {
        return Ok(Err(
            "home verification names the visit to the household (visit_id)".into(),
        ));
    };
    let Some(visit) = records.get(&id).filter(|w| w.entity == "visit") else {
        return Ok(Err("visit_id does not name a visit of this village".into()));
    };
    let Some(household) = uuid(&visit.state.fields, "household_id") else {
        return Ok(Err("the visit names no household".into()));
    };
    if uuid(case, "household_id").is_some_and(|h| h != household) {
        return Ok(Err("the visit was to another household".into()));
    }
    let opened = text(case, "opened_at").and_then(clock::ms_of_rfc3339);
    let started = text(&visit.state.fields, "started_at").and_then(clock::ms_of_rfc3339);
    if let (Some(o), Some(s)) = (opened, started)
        && clock::date_of_ms(s) < clock::date_of_ms(o)
    {
        return Ok(Err("the visit was made before the case was reported".into()));
    }
    if !verdict_ok(tx, records, id).await? {
        return Ok(Err(
            "the visit's GPS fix is missing or doubted (outside the village, far from the house …): visit again"
                .into(),
        ));
    }
    Ok(Ok(household))
}

/// What elimination is judged on: the household's income and its year's line, its labour
/// capacity, and its four checks (in the database and in this batch).
pub(super) struct Household {
    pub(super) income: Option<f64>,
    pub(super) income_year: Option<i32>,
    pub(super) no_labour: bool,
    pub(super) checks_pass: bool,
}

pub(super) async fn household_facts(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    household: Uuid,
) -> Result<Household, StoreError> {
    let mut rows: HashMap<Uuid, (String, Map<String, Value>)> = tx
        .household_fields(household)
        .await?
        .into_iter()
        .map(|(entity, id, fields)| (id, (entity, fields)))
        .collect();
    for (id, w) in records {
        let mine = *id == household || uuid(&w.state.fields, "household_id") == Some(household);
        if mine && !w.state.deleted {
            rows.insert(*id, (w.entity.clone(), w.state.fields.clone()));
        }
    }
    let home = rows
        .get(&household)
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    let observed: Vec<Observed<'_>> = rows
        .iter()
        .map(|(id, (entity, fields))| Observed {
            entity,
            id: *id,
            fields,
        })
        .collect();
    let status = checks::household_status(&checks::current(&observed));
    let checks_pass = status.iter().all(|(name, s)| {
        // A household without school-age children has no education check to pass.
        s.state == CheckState::Pass
            || (*name == registry::EDUCATION_CHECK.name && s.state == CheckState::None)
    });
    Ok(Household {
        income: home.get("per_capita_income").and_then(Value::as_f64),
        income_year: home
            .get("income_year")
            .and_then(Value::as_i64)
            .and_then(|y| i32::try_from(y).ok()),
        no_labour: text(&home, "labour_capacity") == Some("none"),
        checks_pass,
    })
}

/// Whether the task's evidence shows the work done: a record of the village (of the task's
/// household) made after the task, and for a task a check opened, a passing check of the same
/// kind (of the same member); otherwise a visit with a doubt-free fix or a passing check.
pub(super) async fn evidence_closes(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    task: &Map<String, Value>,
    scope: &str,
) -> Result<Result<(), String>, StoreError> {
    let Some(id) = uuid(task, "evidence_id") else {
        return Ok(Err(
            "closing a task needs evidence: the visit or the passing check that shows the work done (evidence_id)"
                .into(),
        ));
    };
    let found = match records.get(&id) {
        Some(w) => Some((w.entity.clone(), w.scope.clone(), w.state.fields.clone())),
        None => tx
            .lock_records(&[id])
            .await?
            .pop()
            .filter(|r| !r.deleted)
            .map(|r| (r.entity, r.scope, r.fields.0)),
    };
    let Some((entity, _, ev)) = found
        .filter(|(e, s, _)| registry::work::EVIDENCE.contains(&e.as_str()) && s.as_str() == scope)
    else {
        return Ok(Err(
            "evidence_id does not name a visit or check of this village".into(),
        ));
    };
    if let Some(h) = uuid(task, "household_id")
        && uuid(&ev, "household_id") != Some(h)
    {
        return Ok(Err("the evidence is of another household".into()));
    }
    let made = text(&ev, "captured_at")
        .or_else(|| text(&ev, "started_at"))
        .and_then(clock::ms_of_rfc3339);
    let set = text(task, "created_at").and_then(clock::ms_of_rfc3339);
    if let (Some(made), Some(set)) = (made, set)
        && clock::date_of_ms(made) < clock::date_of_ms(set)
    {
        return Ok(Err(
            "the evidence was recorded before the task was set".into()
        ));
    }
    let passing = ev.get("passing").and_then(Value::as_bool);
    let source = text(task, "source").unwrap_or("manual");
    if checks::CHECKS.iter().any(|c| c.name == source) {
        if entity != source {
            return Ok(Err(format!(
                "a task from a {source} closes with a new {source} that passes"
            )));
        }
        if uuid(task, "member_id").is_some() && uuid(&ev, "member_id") != uuid(task, "member_id") {
            return Ok(Err("the check is of another member".into()));
        }
    }
    if entity == "visit" {
        if !verdict_ok(tx, records, id).await? {
            return Ok(Err(
                "the visit's GPS fix is missing or doubted: it does not show the work done".into(),
            ));
        }
    } else if passing != Some(true) {
        return Ok(Err("the check does not pass yet".into()));
    }
    Ok(Ok(()))
}
