//! Monitoring cases and follow-up tasks through the push: self-reports open or join cases,
//! steps move cases only as the procedure allows and with their evidence, two offline phones
//! meet the state machine (not last-writer-wins), rules turn findings into tasks, tasks close
//! only with evidence, overdue tasks go up to the team leader, and the leader's lists.

use std::collections::HashMap;

use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::push::{Mutation, MutationResult, Status};
use fieldsync_protocol::{ErrorCode, Role};
use fieldsync_server::clock;
use fieldsync_server::store::{RecordWrite, Store, WriteBatch};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::*;

/// 银川鼓楼, inside VILLAGE_A's county.
const HERE: (f64, f64) = (38.4680, 106.2719);
const COUNTY: &str = "640104";

fn now_rfc3339() -> String {
    clock::rfc3339_of_ms(clock::now_ms())
}

fn today_plus(days: i64) -> String {
    clock::iso(clock::today() + time::Duration::days(days))
}

async fn push1(p: &Phone, m: Mutation) -> MutationResult {
    let mut r = p.api.push(vec![m]).await.expect("push");
    r.results.remove(0)
}

/// The version of a record the phone last pulled.
async fn version_of(p: &Phone, id: Uuid) -> u64 {
    let (changes, _, _) = p.api.pull_all(None, None).await.expect("pull");
    changes
        .iter()
        .filter(|c| c.id == id)
        .map(|c| c.version)
        .max()
        .unwrap_or(1)
}

fn code_at(r: &MutationResult) -> Option<(ErrorCode, String)> {
    r.error
        .as_ref()
        .map(|e| (e.code, e.field.clone().unwrap_or_default()))
}

/// Everything the phone can see, newest version of each record.
async fn seen(p: &Phone) -> HashMap<Uuid, (String, Map<String, Value>)> {
    let (changes, _, _) = p.api.pull_all(None, None).await.expect("pull");
    latest(&changes)
        .into_iter()
        .map(|(id, c)| (id, (c.entity.clone(), c.fields.clone())))
        .collect()
}

fn of_entity<'a>(
    all: &'a HashMap<Uuid, (String, Map<String, Value>)>,
    entity: &'a str,
) -> Vec<(Uuid, &'a Map<String, Value>)> {
    let mut v: Vec<_> = all
        .iter()
        .filter(|(_, (e, _))| e == entity)
        .map(|(id, (_, f))| (*id, f))
        .collect();
    v.sort_by_key(|(id, _)| *id);
    v
}

fn s<'a>(f: &'a Map<String, Value>, k: &str) -> &'a str {
    f.get(k).and_then(Value::as_str).unwrap_or_default()
}

async fn new_household(p: &mut Phone, extra: Value) -> Uuid {
    let h = p.dev.new_id();
    let mut fields = household(VILLAGE_A, "马");
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        f.extend(e.clone());
    }
    let m = p.dev.create("household", h, fields);
    assert_eq!(push1(p, m).await.status, Status::Applied);
    h
}

fn report(p: &mut Phone, household: Option<Uuid>, category: &str, extra: Value) -> Mutation {
    let mut fields = json!({"village_code": VILLAGE_A, "category": category,
        "description": "儿子车祸住院，花费六万元", "consent_to_checks": true, "channel": "hotline"});
    let f = fields.as_object_mut().expect("object");
    if let Some(h) = household {
        f.insert("household_id".into(), json!(h.to_string()));
    }
    if let Some(e) = extra.as_object() {
        f.extend(e.clone());
    }
    p.dev.create("self_report", p.dev.new_id(), fields)
}

fn visit(p: &mut Phone, household: Uuid, mocked: bool) -> (Uuid, Mutation) {
    let id = p.dev.new_id();
    let mut m = p.dev.create(
        "visit",
        id,
        json!({"village_code": VILLAGE_A, "household_id": household.to_string(),
               "started_at": now_rfc3339(), "purpose": "monitoring_survey"}),
    );
    m.gps = Some(GpsFix {
        lat: HERE.0,
        lon: HERE.1,
        accuracy_m: 10.0,
        crs: Crs::Wgs84,
        fix_at: OffsetDateTime::now_utc(),
        mocked,
    });
    (id, m)
}

fn step(p: &mut Phone, case: Uuid, from: &str, to: &str, extra: Value) -> Mutation {
    let mut fields = json!({"case_id": case.to_string(), "from": from, "to": to,
        "taken_at": now_rfc3339()});
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        f.extend(e.clone());
    }
    p.dev.create("case_step", p.dev.new_id(), fields)
}

fn check(p: &mut Phone, entity: &str, household: Uuid, fields: Value) -> (Uuid, Mutation) {
    let id = p.dev.new_id();
    let mut all = json!({"household_id": household.to_string(), "captured_at": now_rfc3339()});
    if let (Some(f), Some(e)) = (all.as_object_mut(), fields.as_object()) {
        f.extend(e.clone());
    }
    (id, p.dev.create(entity, id, all))
}

/// Writes a case straight into the store in `state` (the steps before it are tested
/// elsewhere; the publicity alone would make a test wait five days).
async fn seed_case(store: &Store, household: Uuid, state: &str, user: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    let fields = json!({"village_code": VILLAGE_A, "household_id": household.to_string(),
        "category": "illness", "state": state, "source": "cadre", "reports": 0,
        "opened_at": now_rfc3339(), "case_type": "sudden_severe_difficulty",
        "measures": ["medical_aid"]});
    let batch = WriteBatch {
        records: vec![RecordWrite {
            id,
            entity: "case",
            scope: VILLAGE_A.to_owned(),
            state: RecordState {
                version: 1,
                fields: fields.as_object().cloned().unwrap_or_default(),
                ..RecordState::default()
            },
            gps: None,
            gps_verdict: None,
            household_id: Some(household),
            created: true,
            user_id: user,
        }],
        ..WriteBatch::new(clock::now_ms())
    };
    let mut tx = store.begin().await.expect("begin");
    tx.write(&batch).await.expect("write");
    tx.commit().await.expect("commit");
    id
}

#[tokio::test]
async fn a_self_report_opens_a_case_and_a_verification_task_and_duplicates_join_it() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut operator = app.phone(Role::HotlineOperator, &[COUNTY]).await;
    let supervisor = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let h = new_household(
        &mut secretary,
        json!({"head_id_card": "11010519491231002X"}),
    )
    .await;

    let first = report(&mut operator, Some(h), "accident", json!({}));
    assert_eq!(push1(&operator, first).await.status, Status::Applied);
    let again = report(&mut operator, Some(h), "accident", json!({}));
    assert_eq!(push1(&operator, again).await.status, Status::Applied);
    // Named by the head's ID-card number only: the server finds the household.
    let by_card = report(
        &mut operator,
        None,
        "accident",
        json!({"id_card": "11010519491231002X"}),
    );
    assert_eq!(push1(&operator, by_card).await.status, Status::Applied);
    let other = report(&mut operator, Some(h), "housing", json!({}));
    assert_eq!(push1(&operator, other).await.status, Status::Applied);

    let all = seen(&secretary).await;
    let cases = of_entity(&all, "case");
    assert_eq!(cases.len(), 2, "one case per difficulty: {cases:?}");
    let (accident, af) = cases
        .iter()
        .find(|(_, f)| s(f, "category") == "accident")
        .copied()
        .expect("accident case");
    assert_eq!(s(af, "state"), "reported");
    assert_eq!(af["reports"], 3, "the duplicates joined the case");
    assert_eq!(s(af, "household_id"), h.to_string());
    let reports = of_entity(&all, "self_report");
    assert_eq!(reports.len(), 4);
    assert_eq!(
        reports
            .iter()
            .filter(|(_, f)| s(f, "case_id") == accident.to_string())
            .count(),
        3
    );

    // One home verification per case, on the first secretary's phone, due in 7 days.
    let tasks = of_entity(&all, "task");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let t = tasks
        .iter()
        .find(|(_, f)| s(f, "case_id") == accident.to_string())
        .map(|(_, f)| *f)
        .expect("task of the case");
    assert_eq!(s(t, "kind"), "home_verification");
    assert_eq!(s(t, "assignee_id"), secretary.user_id.to_string());
    assert_eq!(s(t, "due_on"), today_plus(7));
    assert_eq!(s(t, "status"), "open");
    assert_eq!(s(t, "household_id"), h.to_string());

    // The team leader's lists.
    let awaiting: Value = supervisor
        .api
        .get_json("/v1/self-reports/awaiting")
        .await
        .expect("awaiting");
    assert_eq!(awaiting["reports"].as_array().map(Vec::len), Some(4));
    let by_state: Value = supervisor.api.get_json("/v1/cases").await.expect("cases");
    assert_eq!(by_state["by_state"]["reported"], 2);
    let list: Value = supervisor.api.get_json("/v1/tasks").await.expect("tasks");
    assert_eq!(list["open"], 2);
    assert_eq!(list["overdue"], 0);
    // The supervisor does not see illnesses in full: the case's description is held back.
    assert!(by_state["cases"][0]["fields"].get("description").is_none());
    let mine: Value = operator
        .api
        .get_json("/v1/self-reports/mine")
        .await
        .expect("mine");
    assert!(
        mine["reports"]
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["status"] == "reported"))
    );

    // A cadre cannot open a second case for the same household and difficulty.
    let dup = secretary.dev.create(
        "case",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE_A, "household_id": h.to_string(), "category": "accident"}),
    );
    let r = push1(&secretary, dup).await;
    assert_eq!(
        code_at(&r),
        Some((ErrorCode::AlreadyExists, "fields.household_id".into()))
    );
    // Nor write a case's state.
    let forged = secretary.dev.create(
        "case",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE_A, "household_id": h.to_string(),
               "category": "disaster", "state": "approved"}),
    );
    assert_eq!(
        push1(&secretary, forged).await.error.map(|e| e.code),
        Some(ErrorCode::ServerField)
    );
}

#[tokio::test]
async fn steps_follow_the_procedure_with_their_evidence_and_roles() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let mut supervisor = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut operator = app.phone(Role::HotlineOperator, &[COUNTY]).await;
    let h = new_household(&mut secretary, json!({})).await;
    let r = report(&mut operator, Some(h), "illness", json!({}));
    assert_eq!(push1(&operator, r).await.status, Status::Applied);
    let all = seen(&member).await;
    let (case, _) = of_entity(&all, "case")[0];

    // Verification needs a visit, a doubt-free one.
    let m = step(&mut member, case, "reported", "verified", json!({}));
    let r = push1(&member, m).await;
    assert_eq!(
        code_at(&r),
        Some((ErrorCode::EvidenceRequired, "fields.visit_id".into()))
    );
    let (mocked, m) = visit(&mut member, h, true);
    assert_eq!(push1(&member, m).await.status, Status::Applied);
    let m = step(
        &mut member,
        case,
        "reported",
        "verified",
        json!({"visit_id": mocked.to_string()}),
    );
    let r = push1(&member, m).await;
    assert_eq!(
        r.error.as_ref().map(|e| e.code),
        Some(ErrorCode::EvidenceRequired)
    );
    assert!(
        r.error.as_ref().is_some_and(|e| e.message.contains("GPS")),
        "{r:?}"
    );
    // A good visit and the step in one batch, as a phone coming back online sends them.
    let (good, v) = visit(&mut member, h, false);
    let m = step(
        &mut member,
        case,
        "reported",
        "verified",
        json!({"visit_id": good.to_string()}),
    );
    let r = member.api.push(vec![v, m]).await.expect("push");
    assert_eq!(r.results[1].status, Status::Applied, "{:?}", r.results[1]);

    let all = seen(&secretary).await;
    assert_eq!(s(&all[&case].1, "state"), "verified");
    let tasks = of_entity(&all, "task");
    let verification = tasks
        .iter()
        .find(|(_, f)| s(f, "kind") == "home_verification")
        .map(|(_, f)| *f)
        .expect("verification task");
    assert_eq!(s(verification, "status"), "done", "the step closed it");
    assert_eq!(s(verification, "evidence_id"), good.to_string());
    let review = tasks
        .iter()
        .find(|(_, f)| s(f, "kind") == "democratic_review")
        .map(|(_, f)| *f)
        .expect("the next task");
    assert_eq!(s(review, "status"), "open");
    assert_eq!(s(review, "assignee_id"), secretary.user_id.to_string());

    // Roles: a team member does not hold the democratic review.
    let m = step(
        &mut member,
        case,
        "verified",
        "reviewed",
        json!({"note": "村民代表会议"}),
    );
    assert_eq!(
        code_at(&push1(&member, m).await),
        Some((ErrorCode::ForbiddenRole, "fields.to".into()))
    );
    let m = step(&mut secretary, case, "verified", "reviewed", json!({}));
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::EvidenceRequired, "fields.note".into()))
    );
    let m = step(
        &mut secretary,
        case,
        "verified",
        "reviewed",
        json!({"note": "村两委和村民代表11人参加，一致同意纳入"}),
    );
    assert_eq!(push1(&secretary, m).await.status, Status::Applied);
    // Not a step of the procedure.
    let m = step(
        &mut secretary,
        case,
        "reviewed",
        "approved",
        json!({"case_type": "marginal_prone"}),
    );
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::InvalidTransition, "fields.to".into()))
    );
    let m = step(
        &mut secretary,
        case,
        "reviewed",
        "publicized",
        json!({"publicity_days": 3}),
    );
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::EvidenceRequired, "fields.publicity_days".into()))
    );
    let m = step(
        &mut secretary,
        case,
        "reviewed",
        "publicized",
        json!({"publicity_days": 5}),
    );
    assert_eq!(push1(&secretary, m).await.status, Status::Applied);
    let all = seen(&secretary).await;
    assert_eq!(s(&all[&case].1, "publicity_until"), today_plus(4));

    // The township reviews only after the publicity has run.
    let m = step(
        &mut supervisor,
        case,
        "publicized",
        "township_reviewed",
        json!({}),
    );
    let r = push1(&supervisor, m).await;
    assert_eq!(
        r.error.as_ref().map(|e| e.code),
        Some(ErrorCode::EvidenceRequired)
    );
    assert!(
        r.error
            .as_ref()
            .is_some_and(|e| e.message.contains("publicity"))
    );

    // The case's whole history: every step that was kept, with its outcome.
    let view: Value = supervisor
        .api
        .get_json(&format!("/v1/cases/{case}"))
        .await
        .expect("case");
    let outcomes: Vec<(&str, &str)> = view["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["fields"]["to"].as_str().unwrap_or_default(),
                        s["fields"]["outcome"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        outcomes,
        [
            ("verified", "applied"),
            ("reviewed", "applied"),
            ("publicized", "applied")
        ]
    );
    assert_eq!(view["reports"].as_array().map(Vec::len), Some(1));
    assert!(view["tasks"].as_array().is_some_and(|t| t.len() >= 3));
}

#[tokio::test]
async fn two_offline_phones_moving_one_case_meet_the_state_machine() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let mut grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let supervisor = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let h = new_household(&mut secretary, json!({})).await;
    let open = secretary.dev.create(
        "case",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE_A, "household_id": h.to_string(), "category": "disaster"}),
    );
    let case = open.id;
    assert_eq!(push1(&secretary, open).await.status, Status::Applied);

    // Offline, all three saw the case reported. The team member verifies; the first
    // secretary decides not to admit it; the grid worker verifies too.
    let (v1, visit1) = visit(&mut member, h, false);
    let verify = step(
        &mut member,
        case,
        "reported",
        "verified",
        json!({"visit_id": v1.to_string()}),
    );
    let reject = step(
        &mut secretary,
        case,
        "reported",
        "not_admitted",
        json!({"reason": "criteria_not_met"}),
    );
    let (v2, visit2) = visit(&mut grid, h, false);
    let verify2 = step(
        &mut grid,
        case,
        "reported",
        "verified",
        json!({"visit_id": v2.to_string()}),
    );

    let r = member.api.push(vec![visit1, verify]).await.expect("member");
    assert_eq!(r.results[1].status, Status::Applied);
    let rejected_id = reject.mutation_id;
    let r = secretary
        .api
        .push(vec![reject.clone()])
        .await
        .expect("secretary");
    let moved = &r.results[0];
    assert_eq!(moved.status, Status::Conflict, "{moved:?}");
    assert_eq!(moved.conflicts.len(), 1);
    assert_eq!(moved.conflicts[0].field, "state");
    assert_eq!(moved.conflicts[0].yours, json!("not_admitted"));
    assert_eq!(moved.conflicts[0].kept, json!("verified"));
    let conflict_id = moved.conflicts[0].conflict_id;
    let r = grid.api.push(vec![visit2, verify2]).await.expect("grid");
    assert_eq!(
        r.results[1].status,
        Status::Applied,
        "the same step twice is no conflict"
    );

    // Re-sent, the refused step answers the same.
    let again = secretary.api.push(vec![reject]).await.expect("again");
    assert_eq!(again.results[0].status, Status::Duplicate);
    assert_eq!(again.results[0].conflicts[0].conflict_id, conflict_id);
    assert_eq!(again.results[0].mutation_id, Some(rejected_id));

    let all = seen(&secretary).await;
    assert_eq!(
        s(&all[&case].1, "state"),
        "verified",
        "the first step stands"
    );
    let mut outcomes: Vec<String> = of_entity(&all, "case_step")
        .iter()
        .map(|(_, f)| format!("{}:{}", s(f, "to"), s(f, "outcome")))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            "not_admitted:refused",
            "verified:already",
            "verified:applied"
        ],
        "nothing was lost"
    );

    // The reviewer sees it; the state is the machine's: only acknowledged, never overwritten.
    let take: Result<Value, _> = supervisor
        .api
        .post_json(
            &format!("/v1/conflicts/{conflict_id}/resolve"),
            &json!({"choice": "yours"}),
        )
        .await;
    assert_eq!(
        take.err().and_then(|e| e.code()),
        Some(ErrorCode::InvalidTransition)
    );
    let ok: Value = supervisor
        .api
        .post_json(
            &format!("/v1/conflicts/{conflict_id}/resolve"),
            &json!({"choice": "kept", "note": "核实后符合条件，继续评议"}),
        )
        .await
        .expect("acknowledge");
    assert!(
        ok.get("resolution").is_some() || ok.get("conflict").is_some(),
        "{ok}"
    );
    let all = seen(&secretary).await;
    assert_eq!(s(&all[&case].1, "state"), "verified");
}

#[tokio::test]
async fn elimination_needs_income_above_the_line_times_1_1_passing_checks_and_labour() {
    let app = spawn_app().await;
    let mut county = app.phone(Role::CountyOfficer, &[COUNTY]).await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let year = clock::today().year();
    let weak = new_household(
        &mut secretary,
        json!({"labour_capacity": "none", "per_capita_income": 9000.0, "income_year": year}),
    )
    .await;
    let h = new_household(
        &mut secretary,
        json!({"labour_capacity": "full", "per_capita_income": 6600.0, "income_year": year}),
    )
    .await;
    let child = secretary.dev.new_id();
    let m = secretary.dev.create(
        "member",
        child,
        json!({"household_id": h.to_string(), "name": "马小"}),
    );
    assert_eq!(push1(&secretary, m).await.status, Status::Applied);
    let weak_case = seed_case(&app.store, weak, "helping", secretary.user_id).await;
    let case = seed_case(&app.store, h, "helping", secretary.user_id).await;

    // No labour capacity: stays tracked, whatever the income.
    let m = step(&mut county, weak_case, "helping", "eliminated", json!({}));
    let r = push1(&county, m).await;
    assert_eq!(
        r.error.as_ref().map(|e| e.code),
        Some(ErrorCode::EvidenceRequired)
    );
    assert!(
        r.error
            .as_ref()
            .is_some_and(|e| e.message.contains("labour")),
        "{r:?}"
    );

    // Exactly the line × 1.1 (6000 × 1.1 = 6600) is not above it.
    let m = step(&mut county, case, "helping", "eliminated", json!({}));
    let r = push1(&county, m).await;
    assert!(
        r.error
            .as_ref()
            .is_some_and(|e| e.message.contains("6600.00")),
        "{r:?}"
    );
    // A secretary may record measures but not eliminate the risk.
    let m = step(&mut secretary, case, "helping", "eliminated", json!({}));
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::ForbiddenRole, "fields.to".into()))
    );

    let version = version_of(&secretary, h).await;
    let raise = secretary.dev.update(
        "household",
        h,
        version,
        json!({"per_capita_income": 6600.01}),
    );
    assert_eq!(push1(&secretary, raise).await.status, Status::Applied);
    let m = step(&mut county, case, "helping", "eliminated", json!({}));
    let r = push1(&county, m).await;
    assert!(
        r.error
            .as_ref()
            .is_some_and(|e| e.message.contains("four checks")),
        "{r:?}"
    );

    // The checks pass (no school-age child: no education check needed), in the same batch as
    // the elimination, as a county officer's phone would send them after a visit.
    let (_, housing) = check(
        &mut county,
        "housing_check",
        h,
        json!({"appraisal_grade": "A"}),
    );
    let (_, water) = check(
        &mut county,
        "water_check",
        h,
        json!({"source": "centralised_tap", "quantity_ok": true, "quality_ok": true,
               "convenience_ok": true, "supply_guaranteed": true}),
    );
    let (_, health) = check(
        &mut county,
        "health_check",
        h,
        json!({"member_id": child.to_string(), "insured": true, "family_doctor_signed": true}),
    );
    let done = step(&mut county, case, "helping", "eliminated", json!({}));
    let r = county
        .api
        .push(vec![housing, water, health, done])
        .await
        .expect("push");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{:?}",
        r.results
    );
    let all = seen(&secretary).await;
    assert_eq!(s(&all[&case].1, "state"), "eliminated");
    assert!(!s(&all[&case].1, "closed_at").is_empty());
    assert_eq!(s(&all[&weak_case].1, "state"), "helping", "still tracked");
}

#[tokio::test]
async fn rules_make_tasks_that_close_only_with_evidence_and_leaders_reassign() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let h = new_household(&mut secretary, json!({})).await;
    let child = secretary.dev.new_id();
    let m = secretary.dev.create(
        "member",
        child,
        json!({"household_id": h.to_string(), "name": "马小"}),
    );
    assert_eq!(push1(&secretary, m).await.status, Status::Applied);

    // A dropout: one "persuade back" task for the child, whoever checks again meanwhile.
    let (_, c1) = check(
        &mut member,
        "education_check",
        h,
        json!({"member_id": child.to_string(), "status": "dropped_out"}),
    );
    let (_, c2) = check(
        &mut member,
        "education_check",
        h,
        json!({"member_id": child.to_string(), "status": "dropped_out", "reason": "外出打工"}),
    );
    let r = member.api.push(vec![c1, c2]).await.expect("push");
    assert!(r.results.iter().all(|r| r.status == Status::Applied));
    let all = seen(&secretary).await;
    let tasks = of_entity(&all, "task");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let (task, t) = tasks[0];
    assert_eq!(s(t, "kind"), "persuade_back");
    assert_eq!(s(t, "member_id"), child.to_string());
    assert_eq!(s(t, "assignee_id"), secretary.user_id.to_string());
    assert_eq!(s(t, "due_on"), today_plus(7));

    // Not the assignee, not a leader: may not close it.
    let v = version_of(&member, task).await;
    let m = member
        .dev
        .update("task", task, v, json!({"status": "done"}));
    assert_eq!(
        code_at(&push1(&member, m).await),
        Some((ErrorCode::ForbiddenRole, "fields.status".into()))
    );
    // The assignee, without evidence; then with a visit where a passing check is needed.
    let m = secretary
        .dev
        .update("task", task, v, json!({"status": "done"}));
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::EvidenceRequired, "fields.evidence_id".into()))
    );
    let (seen_visit, vm) = visit(&mut secretary, h, false);
    assert_eq!(push1(&secretary, vm).await.status, Status::Applied);
    let m = secretary.dev.update(
        "task",
        task,
        v,
        json!({"status": "done", "evidence_id": seen_visit.to_string()}),
    );
    let r = push1(&secretary, m).await;
    assert_eq!(
        r.error.as_ref().map(|e| e.code),
        Some(ErrorCode::EvidenceRequired)
    );
    assert!(
        r.error
            .as_ref()
            .is_some_and(|e| e.message.contains("education_check"))
    );

    // Reassigning is the first secretary's (or a leader's), to someone of the village.
    let m = member.dev.update(
        "task",
        task,
        v,
        json!({"assignee_id": member.user_id.to_string()}),
    );
    assert_eq!(
        code_at(&push1(&member, m).await),
        Some((ErrorCode::ForbiddenRole, "fields".into()))
    );
    let m = secretary.dev.update(
        "task",
        task,
        v,
        json!({"assignee_id": Uuid::now_v7().to_string()}),
    );
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::UnknownReference, "fields.assignee_id".into()))
    );
    let m = secretary.dev.update(
        "task",
        task,
        v,
        json!({"assignee_id": member.user_id.to_string()}),
    );
    assert_eq!(push1(&secretary, m).await.status, Status::Applied);
    let v = version_of(&member, task).await;
    let m = member
        .dev
        .update("task", task, v, json!({"status": "in_progress"}));
    assert_eq!(push1(&member, m).await.status, Status::Applied);

    // The child is back at school: the passing check closes the task (对账销号).
    let (back, c3) = check(
        &mut member,
        "education_check",
        h,
        json!({"member_id": child.to_string(), "status": "enrolled", "school": "镇中心小学"}),
    );
    assert_eq!(push1(&member, c3).await.status, Status::Applied);
    let all = seen(&grid).await;
    let t = &all[&task].1;
    assert_eq!(s(t, "status"), "done");
    assert_eq!(s(t, "evidence_id"), back.to_string());
    assert_eq!(s(t, "closed_by"), member.user_id.to_string());
    // Closed stays closed.
    let v = version_of(&member, task).await;
    let m = member
        .dev
        .update("task", task, v, json!({"status": "open"}));
    assert_eq!(
        code_at(&push1(&member, m).await),
        Some((ErrorCode::InvalidTransition, "fields.status".into()))
    );

    // Water failing on two counts makes one water task.
    let (_, w) = check(
        &mut member,
        "water_check",
        h,
        json!({"source": "well", "quantity_ok": false, "quality_ok": false,
               "convenience_ok": true, "supply_guaranteed": true}),
    );
    assert_eq!(push1(&member, w).await.status, Status::Applied);
    let all = seen(&secretary).await;
    let water: Vec<_> = of_entity(&all, "task")
        .into_iter()
        .filter(|(_, f)| s(f, "source") == "water_check")
        .collect();
    assert_eq!(water.len(), 1);
    assert_eq!(s(water[0].1, "kind"), "water_fix");

    // A county's own rules: water quality goes to the grid worker, as its own kind.
    let rules = json!({"rules": [{"id": "water_quality", "on": "check:water_check:water_quality",
        "kind": "water_test", "title": "水质检测", "assign": ["grid_worker"], "due_days": 3}]});
    app.store
        .set_task_rules(COUNTY, &rules.to_string(), "test", clock::now_ms())
        .await
        .expect("rules");
    let h2 = new_household(&mut secretary, json!({})).await;
    let (_, w) = check(
        &mut member,
        "water_check",
        h2,
        json!({"source": "well", "quantity_ok": false, "quality_ok": false,
               "convenience_ok": true, "supply_guaranteed": true}),
    );
    assert_eq!(push1(&member, w).await.status, Status::Applied);
    let all = seen(&secretary).await;
    let mine: Vec<_> = of_entity(&all, "task")
        .into_iter()
        .filter(|(_, f)| s(f, "household_id") == h2.to_string())
        .collect();
    assert_eq!(mine.len(), 1, "only the county's rule fired: {mine:?}");
    assert_eq!(s(mine[0].1, "kind"), "water_test");
    assert_eq!(s(mine[0].1, "assignee_id"), grid.user_id.to_string());
    assert_eq!(s(mine[0].1, "due_on"), today_plus(3));
}

#[tokio::test]
async fn leaders_add_and_cancel_tasks_and_overdue_ones_go_up_to_the_team_leader() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let supervisor = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let elsewhere = app.phone(Role::TownshipSupervisor, &["640104002"]).await;
    let h = new_household(&mut secretary, json!({})).await;

    // Team members work tasks; they do not hand them out.
    let m = member.dev.create(
        "task",
        member.dev.new_id(),
        json!({"village_code": VILLAGE_A, "kind": "other", "title": "送政策明白纸", "due_on": today_plus(3)}),
    );
    assert_eq!(
        push1(&member, m).await.error.map(|e| e.code),
        Some(ErrorCode::ForbiddenRole)
    );
    let late = secretary.dev.create(
        "task",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE_A, "household_id": h.to_string(), "kind": "other",
               "title": "核实家中老人低保", "due_on": today_plus(-2),
               "assignee_id": member.user_id.to_string()}),
    );
    let late_id = late.id;
    assert_eq!(push1(&secretary, late).await.status, Status::Applied);
    let soon = secretary.dev.create(
        "task",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE_A, "kind": "other", "title": "召开村民小组会议",
               "due_on": today_plus(5), "status": "done"}),
    );
    assert_eq!(
        code_at(&push1(&secretary, soon).await),
        Some((ErrorCode::InvalidValue, "fields.status".into()))
    );
    let soon = secretary.dev.create(
        "task",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE_A, "kind": "other", "title": "召开村民小组会议",
               "due_on": today_plus(5)}),
    );
    let soon_id = soon.id;
    assert_eq!(push1(&secretary, soon).await.status, Status::Applied);

    // Cancelling says why, and only a leader does it.
    let m = member
        .dev
        .update("task", soon_id, 1, json!({"status": "cancelled"}));
    assert_eq!(
        code_at(&push1(&member, m).await),
        Some((ErrorCode::ForbiddenRole, "fields.status".into()))
    );
    let m = secretary
        .dev
        .update("task", soon_id, 1, json!({"status": "cancelled"}));
    assert_eq!(
        code_at(&push1(&secretary, m).await),
        Some((ErrorCode::MissingField, "fields.note".into()))
    );
    let m = secretary.dev.update(
        "task",
        soon_id,
        1,
        json!({"status": "cancelled", "note": "与村民大会合并召开"}),
    );
    assert_eq!(push1(&secretary, m).await.status, Status::Applied);

    // The sweep marks the late task escalated to the township supervisor, once.
    let done = fieldsync_server::cases::escalate::escalate(&app.store, clock::now_ms())
        .await
        .expect("escalate");
    assert_eq!(done.tasks, 1);
    let again = fieldsync_server::cases::escalate::escalate(&app.store, clock::now_ms())
        .await
        .expect("escalate");
    assert_eq!(again.tasks, 0);
    let all = seen(&member).await;
    let t = &all[&late_id].1;
    assert_eq!(s(t, "escalated_to"), supervisor.user_id.to_string());
    assert!(!s(t, "escalated_at").is_empty());

    // The leader's list: open tasks, overdue first.
    let list: Value = supervisor
        .api
        .get_json(&format!(
            "/v1/tasks?village={VILLAGE_A}&escalated_to_me=true"
        ))
        .await
        .expect("list");
    assert_eq!(list["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["tasks"][0]["id"], late_id.to_string());
    assert_eq!(list["tasks"][0]["days_overdue"], 2);
    let closed: Value = supervisor
        .api
        .get_json("/v1/tasks?status=closed")
        .await
        .expect("closed");
    assert_eq!(closed["tasks"][0]["id"], soon_id.to_string());
    let by_assignee: Value = supervisor
        .api
        .get_json(&format!("/v1/tasks?assignee={}", member.user_id))
        .await
        .expect("by assignee");
    assert_eq!(by_assignee["tasks"].as_array().map(Vec::len), Some(1));

    // Another township's supervisor sees none of it.
    let theirs: Value = elsewhere.api.get_json("/v1/tasks").await.expect("theirs");
    assert_eq!(theirs["tasks"].as_array().map(Vec::len), Some(0));
    let refused: Result<Value, _> = elsewhere
        .api
        .get_json(&format!("/v1/tasks?village={VILLAGE_A}"))
        .await;
    assert_eq!(
        refused.err().and_then(|e| e.code()),
        Some(ErrorCode::ForbiddenScope)
    );
    let bad: Result<Value, _> = supervisor.api.get_json("/v1/tasks?status=later").await;
    assert_eq!(
        bad.err().and_then(|e| e.code()),
        Some(ErrorCode::InvalidRequest)
    );
    let case: Result<Value, _> = elsewhere
        .api
        .get_json(&format!("/v1/cases/{}", Uuid::now_v7()))
        .await;
    assert_eq!(case.err().and_then(|e| e.code()), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn each_role_reads_and_writes_work_as_the_tables_promise() {
    // role, [lists tasks, lists cases, lists reports awaiting verification, opens a case,
    // adds a task]: written out here, independently of the server's permission table.
    #[rustfmt::skip]
    let matrix = [
        (Role::Admin,              [true,  true,  true,  false, false]),
        (Role::CountyOfficer,      [true,  true,  true,  true,  true]),
        (Role::TownshipSupervisor, [true,  true,  true,  true,  true]),
        (Role::FirstSecretary,     [true,  true,  true,  true,  true]),
        (Role::TeamMember,         [true,  true,  true,  true,  false]),
        (Role::GridWorker,         [true,  true,  true,  true,  false]),
        (Role::HotlineOperator,    [false, false, true,  false, false]),
        (Role::Farmer,             [false, false, false, false, false]),
    ];
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = new_household(&mut secretary, json!({})).await;
    for (role, [tasks, cases, awaiting, open_case, add_task]) in matrix {
        let division = match role {
            Role::Admin | Role::CountyOfficer | Role::HotlineOperator => COUNTY,
            Role::TownshipSupervisor => TOWNSHIP,
            _ => VILLAGE_A,
        };
        let mut p = app.phone(role, &[division]).await;
        for (path, allowed) in [
            ("/v1/tasks", tasks),
            ("/v1/cases", cases),
            ("/v1/self-reports/awaiting", awaiting),
        ] {
            let got = p.api.get_json::<Value>(path).await;
            match (allowed, got) {
                (true, Ok(_)) => {}
                (false, Err(e)) => {
                    assert_eq!(e.code(), Some(ErrorCode::ForbiddenRole), "{role}: {path}")
                }
                (want, got) => panic!("{role}: {path} expected allowed={want}, got {got:?}"),
            }
        }
        let case = p.dev.create(
            "case",
            p.dev.new_id(),
            json!({"village_code": VILLAGE_A, "household_id": h.to_string(),
                   "category": "other", "description": "排查发现"}),
        );
        let r = push1(&p, case).await;
        assert_eq!(
            r.status == Status::Applied,
            open_case,
            "{role}: open a case {r:?}"
        );
        if open_case {
            // Close it again so the next role may open one for the same difficulty.
            let all = seen(&secretary).await;
            let id = of_entity(&all, "case")
                .into_iter()
                .find(|(_, f)| s(f, "state") == "reported")
                .map(|(id, _)| id)
                .expect("the open case");
            let m = step(
                &mut secretary,
                id,
                "reported",
                "not_admitted",
                json!({"reason": "criteria_not_met"}),
            );
            assert_eq!(push1(&secretary, m).await.status, Status::Applied);
        } else {
            assert!(
                matches!(
                    r.error.as_ref().map(|e| e.code),
                    Some(ErrorCode::ForbiddenRole | ErrorCode::ForbiddenScope)
                ),
                "{role}: {r:?}"
            );
        }
        let task = p.dev.create(
            "task",
            p.dev.new_id(),
            json!({"village_code": VILLAGE_A, "kind": "other", "title": "走访", "due_on": today_plus(3)}),
        );
        let r = push1(&p, task).await;
        assert_eq!(
            r.status == Status::Applied,
            add_task,
            "{role}: add a task {r:?}"
        );
    }
}

#[tokio::test]
async fn a_report_naming_an_unknown_person_is_placed_by_the_verifying_visit() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut operator = app.phone(Role::HotlineOperator, &[COUNTY]).await;
    let h = new_household(&mut secretary, json!({})).await;
    // Nobody in the village is registered with this number: the case has no household yet.
    let r = report(
        &mut operator,
        None,
        "income_drop",
        json!({"id_card": "11010519491231002X", "reporter_name": "王某"}),
    );
    assert_eq!(push1(&operator, r).await.status, Status::Applied);
    let all = seen(&secretary).await;
    let (case, f) = of_entity(&all, "case")[0];
    assert!(f.get("household_id").is_none());
    let task = of_entity(&all, "task")
        .into_iter()
        .find(|(_, t)| s(t, "case_id") == case.to_string())
        .map(|(id, _)| id)
        .expect("a task for the case");

    let (v, visit_m) = visit(&mut secretary, h, false);
    let m = step(
        &mut secretary,
        case,
        "reported",
        "verified",
        json!({"visit_id": v.to_string()}),
    );
    let r = secretary.api.push(vec![visit_m, m]).await.expect("push");
    assert_eq!(r.results[1].status, Status::Applied, "{:?}", r.results[1]);
    let all = seen(&secretary).await;
    assert_eq!(s(&all[&case].1, "household_id"), h.to_string());
    assert_eq!(s(&all[&case].1, "state"), "verified");
    assert_eq!(s(&all[&task].1, "status"), "done");
    // Its next task is the household's.
    let next = of_entity(&all, "task")
        .into_iter()
        .find(|(_, t)| s(t, "kind") == "democratic_review")
        .map(|(_, t)| s(t, "household_id").to_owned());
    assert_eq!(next, Some(h.to_string()));

    // The household's history now holds the case from its start: the report that named only a
    // person, and the step that placed it (found through the household's records, which the
    // case joined when it learned its household).
    let edits = app.store.household_edits(h, 100).await.expect("edits");
    let of_case: Vec<&str> = edits
        .iter()
        .filter(|e| e.record_id == case)
        .map(|e| e.op.as_str())
        .collect();
    assert!(of_case.contains(&"create"), "{edits:?}");
    assert!(of_case.contains(&"update"), "{edits:?}");
    assert!(
        edits
            .iter()
            .any(|e| e.record_id == h && e.entity == "household"),
        "the household's own edits: {edits:?}"
    );
}
