//! A monitoring case from the hotline to risk elimination, on the real binary: a 12317 operator
//! records a farmer's report → a home verification task appears on the first secretary's
//! phone → the secretary visits (GPS inside the village) and verifies → democratic review and
//! village publicity → six days later (the server restarted on a shifted clock) the township
//! reviews and the county approves → help measures → the household's checks pass and its
//! income rises → the county eliminates the risk, and the farmer's report says so.

use std::collections::HashMap;

use fieldsync_client::Device;
use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::{Mutation, Status};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::harness::{PASSWORD, Phone, TestEnv, VILLAGE};

const TOWNSHIP: &str = "640104001";
const COUNTY: &str = "640104";
/// The village's centre (WGS-84) and a house near it.
const CENTRE: (f64, f64) = (38.4680, 106.2719);
const HOUSE: (f64, f64) = (38.4692, 106.2731);
const HEAD_ID_CARD: &str = "11010519491231002X";
const SIX_DAYS_S: i64 = 6 * 24 * 3600;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

async fn push_ok(p: &Phone, batch: Vec<Mutation>) {
    let r = p.api.push(batch).await.expect("push");
    for res in &r.results {
        assert!(
            matches!(res.status, Status::Applied | Status::Merged),
            "{res:?}"
        );
    }
}

/// Everything the phone holds after a full pull: the newest version of each record, with the
/// server's verdict on its fix under `gps_verdict`.
async fn pull(p: &Phone) -> HashMap<Uuid, (String, u64, Map<String, Value>)> {
    let (changes, _, _) = p.api.pull_all(None, None).await.expect("pull");
    let mut out: HashMap<Uuid, (String, u64, Map<String, Value>)> = HashMap::new();
    for c in changes {
        if out.get(&c.id).is_none_or(|(_, v, _)| *v < c.version) {
            let mut fields = c.fields.clone();
            if let Some(v) = c.gps_verdict {
                fields.insert("gps_verdict".into(), v);
            }
            out.insert(c.id, (c.entity.clone(), c.version, fields));
        }
    }
    out
}

fn s<'a>(f: &'a Map<String, Value>, k: &str) -> &'a str {
    f.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn step(dev: &mut Device, case: Uuid, from: &str, to: &str, extra: Value) -> Mutation {
    let mut fields = json!({"case_id": case.to_string(), "from": from, "to": to,
        "taken_at": rfc3339(OffsetDateTime::now_utc())});
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        f.extend(e.clone());
    }
    dev.create("case_step", dev.new_id(), fields)
}

/// Takes one step, which must be applied.
async fn take(p: &mut Phone, case: Uuid, from: &str, to: &str, extra: Value) {
    let m = step(&mut p.dev, case, from, to, extra);
    push_ok(p, vec![m]).await;
}

#[tokio::test]
async fn a_hotline_report_goes_from_verification_to_risk_eliminated() {
    let mut env = TestEnv::new().await;
    let server = env.serve().await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    env.create_user("operator", "hotline_operator", COUNTY)
        .await;
    env.create_user("leader", "township_supervisor", TOWNSHIP)
        .await;
    env.create_user("officer", "county_officer", COUNTY).await;
    let out = env
        .admin(
            &[
                "set-village-area",
                "--village",
                VILLAGE,
                "--lat",
                &CENTRE.0.to_string(),
                "--lon",
                &CENTRE.1.to_string(),
                "--radius-m",
                "1500",
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "{out:?}");

    // The household and its members are registered.
    let mut secretary = server.phone("secretary").await;
    let h = secretary.dev.new_id();
    let child = secretary.dev.new_id();
    let household = secretary.dev.create(
        "household",
        h,
        json!({"village_code": VILLAGE, "head_name": "马德福", "head_id_card": HEAD_ID_CARD,
               "labour_capacity": "weak", "home_lat": HOUSE.0, "home_lon": HOUSE.1}),
    );
    let member = secretary.dev.create(
        "member",
        child,
        json!({"household_id": h.to_string(), "name": "马小燕"}),
    );
    push_ok(&secretary, vec![household, member]).await;

    // The farmer calls 12317; the operator knows the caller's ID-card number, not the record.
    let mut operator = server.phone("operator").await;
    let report = operator.dev.create(
        "self_report",
        operator.dev.new_id(),
        json!({"village_code": VILLAGE, "id_card": HEAD_ID_CARD, "reporter_name": "马德福",
               "contact_phone": "13995001234", "category": "illness",
               "description": "户主突发脑梗住院，自付医疗费约五万元", "consent_to_checks": true,
               "channel": "hotline"}),
    );
    push_ok(&operator, vec![report]).await;

    // The task is on the secretary's phone after the next pull.
    let held = pull(&secretary).await;
    let (case, _, case_fields) = held
        .iter()
        .find(|(_, (e, _, _))| e == "case")
        .map(|(id, (_, v, f))| (*id, *v, f.clone()))
        .expect("a case");
    assert_eq!(s(&case_fields, "household_id"), h.to_string());
    let task = held
        .values()
        .find(|(e, _, f)| e == "task" && s(f, "case_id") == case.to_string())
        .map(|(_, _, f)| f.clone())
        .expect("a task for the case");
    assert_eq!(s(&task, "kind"), "home_verification");
    assert_eq!(s(&task, "status"), "open");
    // Logging in again on the same phone tells it who it is.
    let me = secretary
        .api
        .login("secretary", PASSWORD)
        .await
        .expect("login");
    assert_eq!(s(&task, "assignee_id"), me.user.id.to_string());

    // The visit, inside the village and next to the house, and the verification.
    let now = OffsetDateTime::now_utc();
    let visit_id = secretary.dev.new_id();
    let mut visit = secretary.dev.create(
        "visit",
        visit_id,
        json!({"village_code": VILLAGE, "household_id": h.to_string(),
               "started_at": rfc3339(now), "purpose": "monitoring_survey",
               "notes": "入户核实：住院发票、诊断书已拍照"}),
    );
    visit.gps = Some(GpsFix {
        lat: HOUSE.0,
        lon: HOUSE.1,
        accuracy_m: 8.0,
        crs: Crs::Wgs84,
        fix_at: now,
        mocked: false,
    });
    let verify = step(
        &mut secretary.dev,
        case,
        "reported",
        "verified",
        json!({"visit_id": visit_id.to_string()}),
    );
    let review = step(
        &mut secretary.dev,
        case,
        "verified",
        "reviewed",
        json!({"note": "村民代表会议12人参加，同意纳入监测"}),
    );
    let publicity = step(
        &mut secretary.dev,
        case,
        "reviewed",
        "publicized",
        json!({"publicity_days": 5}),
    );
    push_ok(&secretary, vec![visit, verify, review, publicity]).await;
    let held = pull(&secretary).await;
    assert_eq!(s(&held[&case].2, "state"), "publicized");
    let visit_verdict = held[&visit_id].2.get("gps_verdict").cloned();
    assert!(
        visit_verdict
            .as_ref()
            .is_some_and(|v| v["ok"] == json!(true)),
        "{visit_verdict:?}"
    );

    // The township cannot review during the publicity.
    let mut leader = server.phone("leader").await;
    let early = step(
        &mut leader.dev,
        case,
        "publicized",
        "township_reviewed",
        json!({}),
    );
    let r = leader.api.push(vec![early]).await.expect("push");
    assert_eq!(r.results[0].status, Status::Rejected);

    // Six days later.
    let mut server = server;
    server.terminate().await;
    env.set("FIELDSYNC_TEST_CLOCK_OFFSET_S", SIX_DAYS_S.to_string());
    let server = env.serve().await;
    let mut leader = server.phone("leader").await;
    let mut officer = server.phone("officer").await;
    let mut secretary = server.phone("secretary").await;
    take(
        &mut leader,
        case,
        "publicized",
        "township_reviewed",
        json!({}),
    )
    .await;
    take(
        &mut officer,
        case,
        "township_reviewed",
        "approved",
        json!({"case_type": "sudden_severe_difficulty"}),
    )
    .await;
    take(
        &mut secretary,
        case,
        "approved",
        "helping",
        json!({"measures": ["medical_aid", "public_welfare_job"]}),
    )
    .await;

    // Not yet: the income is not recorded and the checks are not done.
    let r = officer
        .api
        .push(vec![step(
            &mut officer.dev,
            case,
            "helping",
            "eliminated",
            json!({}),
        )])
        .await
        .expect("push");
    assert_eq!(r.results[0].status, Status::Rejected);

    // The checks pass and the income rises above the line × 1.1.
    let held = pull(&secretary).await;
    let version = held[&h].1;
    let year = (OffsetDateTime::now_utc() + time::Duration::seconds(SIX_DAYS_S)).year();
    let income = secretary.dev.update(
        "household",
        h,
        version,
        json!({"per_capita_income": 8200.0, "income_year": year}),
    );
    let captured = rfc3339(OffsetDateTime::now_utc());
    let mut checks = vec![income];
    for (entity, fields) in [
        ("housing_check", json!({"appraisal_grade": "A"})),
        (
            "water_check",
            json!({"source": "centralised_tap", "quantity_ok": true, "quality_ok": true,
                   "convenience_ok": true, "supply_guaranteed": true}),
        ),
        (
            "health_check",
            json!({"member_id": child.to_string(), "insured": true, "family_doctor_signed": true}),
        ),
    ] {
        let mut all = json!({"household_id": h.to_string(), "captured_at": captured});
        if let (Some(a), Some(f)) = (all.as_object_mut(), fields.as_object()) {
            a.extend(f.clone());
        }
        checks.push(secretary.dev.create(entity, secretary.dev.new_id(), all));
    }
    push_ok(&secretary, checks).await;
    take(&mut officer, case, "helping", "eliminated", json!({})).await;

    // Every step is in the history, every task of the case is done, the farmer is told.
    let held = pull(&secretary).await;
    let c = &held[&case].2;
    assert_eq!(s(c, "state"), "eliminated");
    assert_eq!(s(c, "case_type"), "sudden_severe_difficulty");
    let applied: Vec<&str> = {
        let mut steps: Vec<(&Uuid, &str)> = held
            .iter()
            .filter(|(_, (e, _, f))| e == "case_step" && s(f, "outcome") == "applied")
            .map(|(id, (_, _, f))| (id, s(f, "to")))
            .collect();
        steps.sort();
        steps.into_iter().map(|(_, to)| to).collect()
    };
    assert_eq!(
        applied,
        [
            "verified",
            "reviewed",
            "publicized",
            "township_reviewed",
            "approved",
            "helping",
            "eliminated"
        ]
    );
    let tasks: Vec<(&str, &str)> = held
        .values()
        .filter(|(e, _, f)| e == "task" && s(f, "case_id") == case.to_string())
        .map(|(_, _, f)| (s(f, "kind"), s(f, "status")))
        .collect();
    assert_eq!(tasks.len(), 6, "{tasks:?}");
    assert!(tasks.iter().all(|(_, st)| *st == "done"), "{tasks:?}");
    let operator = server.phone("operator").await;
    let mine: Value = operator
        .api
        .get_json("/v1/self-reports/mine")
        .await
        .expect("mine");
    assert_eq!(mine["reports"][0]["status"], "eliminated");
    let log = server.log();
    assert!(!log.contains(HEAD_ID_CARD) && !log.contains("13995001234"));
}

#[tokio::test]
async fn a_county_sets_its_own_task_rules_and_overdue_tasks_are_escalated_on_demand() {
    let env = TestEnv::new().await;
    let bad = env.root().join("bad-rules.json");
    std::fs::write(
        &bad,
        r#"{"rules": [{"id": "w", "on": "check:water_check:leaky", "kind": "water_fix",
            "title": "修水管", "assign": ["first_secretary"], "due_days": 5}]}"#,
    )
    .expect("write");
    let out = env
        .admin(
            &[
                "set-task-rules",
                "--county",
                COUNTY,
                bad.to_str().unwrap_or_default(),
            ],
            "",
        )
        .await;
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("rule 0 (w)") && out.stderr.contains("leaky"),
        "{}",
        out.stderr
    );
    let out = env
        .admin(&["set-task-rules", "--county", "6401", "x.json"], "")
        .await;
    assert!(out.stderr.contains("not a county code"), "{}", out.stderr);

    let good = env.root().join("rules.json");
    std::fs::write(
        &good,
        r#"{"rules": [{"id": "w", "on": "check:water_check:water_quality", "kind": "water_test",
            "title": "水质检测", "assign": ["grid_worker"], "due_days": 3}]}"#,
    )
    .expect("write");
    let out = env
        .admin(
            &[
                "set-task-rules",
                "--county",
                COUNTY,
                good.to_str().unwrap_or_default(),
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("1 rules"), "{}", out.stdout);
    let out = env.admin(&["task-rules", "--county", COUNTY], "").await;
    assert!(out.stdout.contains("water_test"), "{}", out.stdout);
    let out = env
        .admin(&["reset-task-rules", "--county", COUNTY], "")
        .await;
    assert!(
        out.stdout.contains("built-in rules again"),
        "{}",
        out.stdout
    );
    let out = env.admin(&["task-rules", "--county", COUNTY], "").await;
    assert!(out.stdout.contains("home_verification"), "{}", out.stdout);

    // A task due two days ago, escalated by the command, once.
    let server = env.serve().await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    env.create_user("leader", "township_supervisor", TOWNSHIP)
        .await;
    let mut secretary = server.phone("secretary").await;
    let due = (OffsetDateTime::now_utc() - time::Duration::days(3)).date();
    let task = secretary.dev.create(
        "task",
        secretary.dev.new_id(),
        json!({"village_code": VILLAGE, "kind": "other", "title": "补录家庭成员信息",
               "due_on": due.to_string()}),
    );
    push_ok(&secretary, vec![task]).await;
    let out = env.admin(&["escalate-tasks"], "").await;
    assert!(out.stdout.contains("escalated 1 overdue"), "{out:?}");
    let out = env.admin(&["escalate-tasks"], "").await;
    assert!(out.stdout.contains("escalated 0 overdue"), "{out:?}");
    let leader = server.phone("leader").await;
    let list: Value = leader
        .api
        .get_json("/v1/tasks?escalated_to_me=true")
        .await
        .expect("list");
    assert_eq!(list["overdue"], 1, "{list}");
}
