//! Case steps: a step is judged by [`crate::cases::machine`] against the case as the batch has
//! left it. An applied step moves the case, closes the tasks of the state it leaves and makes
//! the tasks of the next; a step that meets a case another phone moved first is kept as a fact
//! and shown to a reviewer as a conflict on the case's state.

use fieldsync_protocol::error::ErrorCode;
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::registry;
use fieldsync_protocol::registry::work::OPEN_TASK_STATUSES as OPEN_TASK;
use serde_json::{Map, Value, json};

use super::evidence::{household_facts, visit_problem};
use super::follow::{
    Follow, Judged, Judging, MovedStep, ServerWrite, live, refuse, text, texts, uuid,
};
use super::tasks::{About, closing, make_tasks};
use crate::cases::machine::{self, Case, CaseState, Evidence, Refusal};
use crate::cases::rules::Trigger;
use crate::clock;
use crate::store::Tx;
use crate::sync::batch::Step;

/// A case step, judged against the case as the batch has left it.
pub(super) async fn step(tx: &mut Tx, cx: &Judging<'_>, state: &mut RecordState) -> Judged {
    let Step {
        actor, rules, m, ..
    } = cx.step;
    let f = &state.fields;
    let parse_state = |name: &str| text(f, name).and_then(CaseState::parse);
    let (Some(case_id), Some(from), Some(to)) =
        (uuid(f, "case_id"), parse_state("from"), parse_state("to"))
    else {
        return refuse(
            ErrorCode::MissingField,
            "a step names its case, from and to",
            "fields",
        );
    };
    let Some(case_rec) = cx.records.get(&case_id).filter(|w| w.entity == "case") else {
        return refuse(
            ErrorCode::UnknownReference,
            "case_id does not name a case",
            "fields.case_id",
        );
    };
    let scope = case_rec.scope.clone();
    let case_fields = case_rec.state.fields.clone();
    let current = text(&case_fields, "state")
        .and_then(CaseState::parse)
        .unwrap_or(CaseState::Reported);
    let publicity_until = text(&case_fields, "publicity_until").and_then(clock::parse_date);

    let mut evidence = Evidence {
        note: text(f, "note").map(str::to_owned),
        publicity_days: f
            .get("publicity_days")
            .and_then(Value::as_u64)
            .and_then(|d| u32::try_from(d).ok()),
        case_type: text(f, "case_type").map(str::to_owned),
        reason: text(f, "reason").map(str::to_owned),
        measures: texts(f, "measures"),
        ..Evidence::default()
    };
    let visit_id = uuid(f, "visit_id");
    let mut visit_refusal = None;
    let mut verified_household = None;
    let mut line = rules.monitoring.line_for(cx.at.today.year()).unwrap_or(0.0);
    let mut income_refusal = None;
    if to == CaseState::Verified {
        match visit_problem(tx, cx.records, visit_id, &case_fields).await? {
            Ok(h) => {
                evidence.verified_visit = true;
                verified_household = Some(h);
            }
            Err(why) => visit_refusal = Some(why),
        }
    }
    if to == CaseState::Eliminated {
        match uuid(&case_fields, "household_id") {
            Some(h) => {
                let facts = household_facts(tx, cx.records, h).await?;
                evidence.no_labour_capacity = facts.no_labour;
                evidence.checks_pass = facts.checks_pass;
                match facts.income_year {
                    Some(year) if year < cx.at.today.year() - 1 => {
                        income_refusal = Some(format!(
                            "the household's income is of {year}: record this year's per_capita_income and income_year first"
                        ));
                    }
                    Some(year) => {
                        evidence.income_per_person = facts.income;
                        line = rules.monitoring.line_for(year).unwrap_or(line);
                    }
                    None => {
                        income_refusal = Some(
                            "record the household's per_capita_income and income_year first".into(),
                        );
                    }
                }
            }
            None => {
                income_refusal = Some("the case names no household".into());
            }
        }
    }

    let case = Case {
        state: current,
        publicity_until,
    };
    let mut follow = Follow::default();
    let outcome = match machine::step(&case, from, to, actor.role, &evidence, line, cx.at.today) {
        Ok(o) => o,
        Err(Refusal::Moved { met, .. }) => {
            let already = met == to.as_str();
            state.fields.insert(
                "outcome".into(),
                json!(if already { "already" } else { "refused" }),
            );
            if !already {
                state.fields.insert(
                    "refusal".into(),
                    json!(format!(
                        "the case was already {met} when this step from {} arrived",
                        from.as_str()
                    )),
                );
                follow.moved = Some(MovedStep {
                    case_id,
                    scope,
                    yours: json!(to.as_str()),
                    theirs: json!(met),
                });
            }
            return Ok(Ok(follow));
        }
        Err(Refusal::NotAStep { .. }) => {
            return refuse(
                ErrorCode::InvalidTransition,
                format!(
                    "a case that is {} cannot go to {}",
                    from.as_str(),
                    to.as_str()
                ),
                "fields.to",
            );
        }
        Err(e @ Refusal::Role { .. }) => {
            return refuse(ErrorCode::ForbiddenRole, e.to_string(), "fields.to");
        }
        Err(Refusal::Evidence(why)) => {
            let (why, field) = match to {
                CaseState::Verified => (visit_refusal.unwrap_or(why), "fields.visit_id"),
                // Without labour capacity the machine says so first; otherwise a missing or
                // stale income is the reason it saw none.
                CaseState::Eliminated if !evidence.no_labour_capacity => {
                    (income_refusal.unwrap_or(why), "fields.to")
                }
                CaseState::Reviewed => (why, "fields.note"),
                CaseState::Publicized => (why, "fields.publicity_days"),
                CaseState::Approved => (why, "fields.case_type"),
                CaseState::NotAdmitted => (why, "fields.reason"),
                CaseState::Helping => (why, "fields.measures"),
                _ => (why, "fields.to"),
            };
            return refuse(ErrorCode::EvidenceRequired, why, field);
        }
    };
    state.fields.insert("outcome".into(), json!("applied"));

    let mut moved = Map::new();
    moved.insert("state".into(), json!(outcome.to.as_str()));
    if let Some(until) = outcome
        .publicity_until
        .filter(|_| to == CaseState::Publicized)
    {
        moved.insert("publicity_until".into(), json!(clock::iso(until)));
    }
    match to {
        CaseState::Approved => {
            moved.insert("case_type".into(), json!(evidence.case_type));
        }
        CaseState::NotAdmitted => {
            moved.insert("not_admitted_reason".into(), json!(evidence.reason));
        }
        CaseState::Helping => {
            let mut all = texts(&case_fields, "measures");
            for measure in &evidence.measures {
                if !all.contains(measure) {
                    all.push(measure.clone());
                }
            }
            moved.insert("measures".into(), json!(all));
        }
        _ => {}
    }
    if to.is_ended() {
        moved.insert("closed_at".into(), json!(cx.at.rfc3339));
    }
    let household = uuid(&case_fields, "household_id").or(verified_household);
    if uuid(&case_fields, "household_id").is_none()
        && let Some(h) = verified_household
    {
        moved.insert("household_id".into(), json!(h.to_string()));
    }
    follow.writes.push(ServerWrite {
        id: case_id,
        def: &registry::CASE,
        scope: scope.clone(),
        fields: moved,
        create: false,
    });
    // The tasks of the state the case leaves are done: the step is their evidence.
    for (task_id, tf) in live(cx.records, "task", &scope) {
        if uuid(tf, "case_id") == Some(case_id)
            && text(tf, "source") != Some("manual")
            && text(tf, "status").is_some_and(|s| OPEN_TASK.contains(&s))
        {
            let mut fields = closing(
                actor.user_id,
                visit_id.filter(|_| evidence.verified_visit),
                &cx.at,
            );
            fields.insert(
                "note".into(),
                json!(format!(
                    "closed by the case step {} to {}",
                    m.id,
                    to.as_str()
                )),
            );
            follow.writes.push(ServerWrite {
                id: task_id,
                def: &registry::TASK,
                scope: scope.clone(),
                fields,
                create: false,
            });
        }
    }
    let about = About {
        village: &scope,
        household,
        member: None,
        case: Some(case_id),
        source: "case",
        source_id: case_id,
    };
    make_tasks(tx, cx, Trigger::Case(to), about, &mut follow).await?;
    Ok(Ok(follow))
}
