//! New cases: a self-report joins the open case of its household and difficulty or opens one
//! (and a farmer's account reports only about its own household); a cadre or a department
//! opens one directly.

use std::collections::HashMap;

use fieldsync_protocol::Role;
use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::registry;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::follow::{Follow, Judged, Judging, ServerWrite, live, refuse, text, uuid};
use super::tasks::{About, make_tasks};
use crate::cases::machine::CaseState;
use crate::cases::rules::Trigger;
use crate::store::{StoreError, Tx};
use crate::sync::batch::{Step, Working};

fn is_open_case(fields: &Map<String, Value>) -> bool {
    !text(fields, "state")
        .and_then(CaseState::parse)
        .is_some_and(CaseState::is_ended)
}

/// The open case of a household for a difficulty, if there is one.
fn open_case_of(
    records: &HashMap<Uuid, Working>,
    scope: &str,
    household: Uuid,
    category: &str,
) -> Option<(Uuid, i64)> {
    live(records, "case", scope)
        .find(|(_, f)| {
            uuid(f, "household_id") == Some(household)
                && text(f, "category") == Some(category)
                && is_open_case(f)
        })
        .map(|(id, f)| (id, f.get("reports").and_then(Value::as_i64).unwrap_or(0)))
}

/// A farmer's account reports only about its own household: the one whose head or a member
/// holds the ID-card number on file for the account. A report naming another household, or
/// another person's number that is not of the farmer's household, would join a stranger's case
/// and show its progress to the farmer. Hotline operators report for anyone.
pub(super) async fn farmer_reports_own_household(
    tx: &mut Tx,
    cx: &Judging<'_>,
    state: &RecordState,
) -> Result<Result<(), ErrorDetail>, StoreError> {
    let actor = cx.step.actor;
    let Some(own) = tx.own_id_card(actor.user_id).await? else {
        return Ok(Err(ErrorDetail::new(
            ErrorCode::IdCardNotOnFile,
            "your ID-card number is not on file for this account; ask the village (the first secretary) to register it, or call 12317",
        )
        .at("fields.id_card")));
    };
    let not_yours = |field: &str| {
        Ok(Err(ErrorDetail::new(
            ErrorCode::NotYourHousehold,
            "this account reports only about your own household; for another household, call 12317",
        )
        .at(field)))
    };
    if let Some(h) = uuid(&state.fields, "household_id")
        && !own.households.contains(&h)
    {
        return not_yours("fields.household_id");
    }
    if let Some(card) = text(&state.fields, "id_card")
        && tx.blind_id_card(card) != own.blind
    {
        // Another member of the farmer's own household (a spouse, a parent) is theirs too.
        let theirs = tx.household_of_id_card(card, cx.scope).await?;
        if !theirs.is_some_and(|h| own.households.contains(&h)) {
            return not_yours("fields.id_card");
        }
    }
    Ok(Ok(()))
}

/// A self-report joins the open case of its household and difficulty, or opens one.
pub(super) async fn self_report(tx: &mut Tx, cx: &Judging<'_>, state: &mut RecordState) -> Judged {
    let m = cx.step.m;
    let mut follow = Follow::default();
    let mut household = uuid(&state.fields, "household_id");
    if household.is_none()
        && let Some(card) = text(&state.fields, "id_card")
    {
        household = tx.household_of_id_card(card, cx.scope).await?;
        if let Some(h) = household {
            state
                .fields
                .insert("household_id".into(), json!(h.to_string()));
        }
    }
    let category = text(&state.fields, "category")
        .unwrap_or("other")
        .to_owned();
    if let Some((case_id, reports)) =
        household.and_then(|h| open_case_of(cx.records, cx.scope, h, &category))
    {
        state
            .fields
            .insert("case_id".into(), json!(case_id.to_string()));
        let mut fields = Map::new();
        fields.insert("reports".into(), json!(reports + 1));
        follow.writes.push(ServerWrite {
            id: case_id,
            def: &registry::CASE,
            scope: cx.scope.to_owned(),
            fields,
            create: false,
        });
        return Ok(Ok(follow));
    }
    let case_id = Uuid::now_v7();
    state
        .fields
        .insert("case_id".into(), json!(case_id.to_string()));
    let mut fields = Map::new();
    fields.insert("village_code".into(), json!(cx.scope));
    if let Some(h) = household {
        fields.insert("household_id".into(), json!(h.to_string()));
    }
    fields.insert("category".into(), json!(category));
    if let Some(d) = state.fields.get("description") {
        fields.insert("description".into(), d.clone());
    }
    fields.insert("source".into(), json!("self_report"));
    fields.insert("self_report_id".into(), json!(m.id.to_string()));
    fields.insert("reports".into(), json!(1));
    fields.insert("state".into(), json!(CaseState::Reported.as_str()));
    fields.insert("opened_at".into(), json!(cx.at.rfc3339));
    follow.writes.push(ServerWrite {
        id: case_id,
        def: &registry::CASE,
        scope: cx.scope.to_owned(),
        fields,
        create: true,
    });
    let about = About {
        village: cx.scope,
        household,
        member: None,
        case: Some(case_id),
        source: "self_report",
        source_id: m.id,
    };
    make_tasks(
        tx,
        cx,
        Trigger::Case(CaseState::Reported),
        about,
        &mut follow,
    )
    .await?;
    Ok(Ok(follow))
}

/// A case a cadre or a department opens: one open case per household and difficulty.
pub(super) async fn open_case(tx: &mut Tx, cx: &Judging<'_>, state: &mut RecordState) -> Judged {
    let Step { actor, m, .. } = cx.step;
    let household = uuid(&state.fields, "household_id");
    let category = text(&state.fields, "category")
        .unwrap_or("other")
        .to_owned();
    if let Some((existing, _)) =
        household.and_then(|h| open_case_of(cx.records, cx.scope, h, &category))
    {
        return refuse(
            ErrorCode::AlreadyExists,
            format!("this household already has an open case for {category}: {existing}"),
            "fields.household_id",
        );
    }
    let source = match actor.role {
        Role::CountyOfficer | Role::TownshipSupervisor => "department",
        _ => "cadre",
    };
    for (name, value) in [
        ("source", json!(source)),
        ("reports", json!(0)),
        ("state", json!(CaseState::Reported.as_str())),
        ("opened_at", json!(cx.at.rfc3339)),
    ] {
        state.fields.insert(name.into(), value);
    }
    let mut follow = Follow::default();
    let about = About {
        village: cx.scope,
        household,
        member: None,
        case: Some(m.id),
        source: "case",
        source_id: m.id,
    };
    make_tasks(
        tx,
        cx,
        Trigger::Case(CaseState::Reported),
        about,
        &mut follow,
    )
    .await?;
    Ok(Ok(follow))
}
