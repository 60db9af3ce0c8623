//! The four checks and survey submissions: validation, outcomes, corrections, status, and the
//! server's judgement of their GPS fixes.

use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::{Mutation, Status};
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::*;

/// 银川鼓楼 in 兴庆区 (WGS-84): inside VILLAGE_A's county.
const INSIDE: (f64, f64) = (38.4680, 106.2719);

fn fix(lat: f64, lon: f64, accuracy_m: f64, minutes_ago: i64) -> GpsFix {
    GpsFix {
        lat,
        lon,
        accuracy_m,
        crs: Crs::Wgs84,
        fix_at: OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago),
        mocked: false,
    }
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn with_fix(mut m: Mutation, f: GpsFix) -> Mutation {
    m.gps = Some(f);
    m
}

/// A household with two members; returns (household, child, other household's member).
async fn family(app: &TestApp, p: &mut Phone) -> (Uuid, Uuid, Uuid) {
    let (h, child, h2, stranger) = (
        p.dev.new_id(),
        p.dev.new_id(),
        p.dev.new_id(),
        p.dev.new_id(),
    );
    let r = p
        .api
        .push(vec![
            p.dev.create("household", h, json!({"village_code": VILLAGE_A, "head_name": "马", "home_lat": INSIDE.0, "home_lon": INSIDE.1})),
            p.dev.create("member", child, json!({"household_id": h.to_string(), "name": "马小", "relation": "child"})),
            p.dev.create("household", h2, household(VILLAGE_A, "李")),
            p.dev.create("member", stranger, json!({"household_id": h2.to_string(), "name": "李小"})),
        ])
        .await
        .unwrap();
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );
    let _ = app;
    (h, child, stranger)
}

fn code_of(r: &fieldsync_protocol::push::MutationResult) -> Option<(ErrorCode, String)> {
    r.error
        .as_ref()
        .map(|e| (e.code, e.field.clone().unwrap_or_default()))
}

#[tokio::test]
async fn checks_validate_and_report_their_outcome() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, child, stranger) = family(&app, &mut p).await;
    let hs = h.to_string();
    let at = now_text();
    let water = p.dev.new_id();
    let batch = vec![
        p.dev.create("water_check", water, json!({"household_id": hs, "captured_at": at, "source": "cellar", "quantity_ok": false, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true, "problems": ["insufficient_source"]})),
        p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "appraisal_grade": "B"})),
        p.dev.create("education_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "member_id": child.to_string(), "status": "dropped_out"})),
        p.dev.create("health_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "member_id": child.to_string(), "insured": true, "family_doctor_signed": true})),
        // Bad ones, each rejected alone.
        p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "appraisal_grade": "E"})),
        p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at})),
        p.dev.create("water_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "source": "well", "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true, "passing": true})),
        p.dev.create("health_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "member_id": stranger.to_string(), "insured": true, "family_doctor_signed": true})),
        p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": "yesterday", "appraisal_grade": "A"})),
        p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "appraisal_grade": "A", "hazards": ["flood", "flood"]})),
        p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": at, "appraisal_grade": "A", "photos": ["not-a-hash"]})),
        p.dev.update("water_check", water, 1, json!({"quantity_ok": true})),
    ];
    let r = p.api.push(batch).await.unwrap().results;
    assert!(r[..4].iter().all(|r| r.status == Status::Applied), "{r:?}");
    let got: Vec<_> = r[4..].iter().map(code_of).collect();
    assert_eq!(
        got,
        [
            Some((ErrorCode::InvalidValue, "fields.appraisal_grade".into())),
            Some((ErrorCode::MissingField, "fields.appraisal_grade".into())),
            Some((ErrorCode::ServerField, "fields.passing".into())),
            Some((ErrorCode::UnknownReference, "fields.member_id".into())),
            Some((ErrorCode::InvalidValue, "fields.captured_at".into())),
            Some((ErrorCode::InvalidValue, "fields.hazards".into())),
            Some((ErrorCode::InvalidValue, "fields.photos".into())),
            Some((ErrorCode::AppendOnly, "op".into())),
        ]
    );

    let status: Value = p
        .api
        .get_json(&format!("/v1/households/{h}/checks"))
        .await
        .unwrap();
    assert_eq!(status["status"]["water_check"]["state"], "fail");
    assert_eq!(
        status["status"]["water_check"]["failures"],
        json!(["water_quantity"])
    );
    assert_eq!(status["status"]["housing_check"]["state"], "pass");
    assert_eq!(
        status["status"]["education_check"]["failures"],
        json!(["out_of_school"])
    );
    assert_eq!(status["status"]["health_check"]["state"], "pass");
    assert_eq!(status["history"].as_array().unwrap().len(), 4);

    // The outcome travels with the record on pull.
    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    let w = latest(&changes)[&water];
    assert_eq!(
        (w.fields["passing"].clone(), w.fields["failures"].clone()),
        (json!(false), json!(["water_quantity"]))
    );

    // A correction supersedes the failing check; the history keeps both.
    let fixed = p.dev.create("water_check", p.dev.new_id(), json!({"household_id": hs, "captured_at": now_text(), "supersedes": water.to_string(), "source": "centralised_tap", "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true}));
    assert_eq!(
        p.api.push(vec![fixed]).await.unwrap().results[0].status,
        Status::Applied
    );
    let status: Value = p
        .api
        .get_json(&format!("/v1/households/{h}/checks"))
        .await
        .unwrap();
    assert_eq!(status["status"]["water_check"]["state"], "pass");
    let history = status["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(
        history.iter().find(|c| c["id"] == json!(water)).unwrap()["in_force"],
        false
    );

    // Another village's household does not exist for this phone.
    let outsider = app.phone(Role::FirstSecretary, &[VILLAGE_B]).await;
    let e = outsider
        .api
        .get_json::<Value>(&format!("/v1/households/{h}/checks"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn surveys_follow_the_form_version_they_were_filled_on() {
    let app = spawn_app().await;
    let form = |version: u32, options: Value| -> fieldsync_protocol::forms::FormDef {
        serde_json::from_value(json!({"key": "income_survey", "version": version, "title": "收入调查",
            "fields": [{"name": "main_income", "label": "主要收入", "type": "choice", "required": true, "options": options},
                       {"name": "amount", "label": "金额", "type": "number", "min": 0}]}))
        .unwrap()
    };
    app.store
        .publish_form(
            &form(1, json!(["farming", "migrant_work"])),
            None,
            fieldsync_server::clock::now_ms(),
        )
        .await
        .unwrap();
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, _, _) = family(&app, &mut p).await;
    let survey = |p: &mut Phone, version: u32, answers: Value, captured_at: &str| {
        p.dev.create("survey_submission", p.dev.new_id(), json!({"household_id": h.to_string(), "form_key": "income_survey", "form_version": version, "answers": answers, "captured_at": captured_at}))
    };
    let before_retirement = now_text();
    let v1_done_offline = survey(
        &mut p,
        1,
        json!({"main_income": "farming", "amount": 5000}),
        &before_retirement,
    );

    // Version 2 adds an option; version 1 stays in use, then is retired.
    app.store
        .publish_form(
            &form(2, json!(["farming", "migrant_work", "pension"])),
            None,
            fieldsync_server::clock::now_ms(),
        )
        .await
        .unwrap();
    let both = vec![
        survey(&mut p, 1, json!({"main_income": "farming"}), &now_text()),
        survey(&mut p, 2, json!({"main_income": "pension"}), &now_text()),
    ];
    let r = p.api.push(both).await.unwrap();
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(
        app.store
            .retire_form("income_survey", 1, fieldsync_server::clock::now_ms())
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let late = vec![
        v1_done_offline,
        survey(&mut p, 1, json!({"main_income": "farming"}), &now_text()),
        survey(
            &mut p,
            1,
            json!({"main_income": "pension"}),
            &before_retirement,
        ),
        survey(&mut p, 7, json!({"main_income": "farming"}), &now_text()),
        survey(&mut p, 2, json!({"amount": 10}), &now_text()),
        survey(
            &mut p,
            2,
            json!({"main_income": "pension", "amount": -1}),
            &now_text(),
        ),
        survey(
            &mut p,
            2,
            json!({"main_income": "pension", "age": 3}),
            &now_text(),
        ),
    ];
    let r = p.api.push(late).await.unwrap().results;
    let got: Vec<_> = r.iter().map(code_of).collect();
    assert_eq!(
        got,
        [
            None,
            Some((ErrorCode::UnknownForm, "fields.form_version".into())),
            Some((ErrorCode::InvalidValue, "fields.answers.main_income".into())),
            Some((ErrorCode::UnknownForm, "fields.form_version".into())),
            Some((ErrorCode::MissingField, "fields.answers.main_income".into())),
            Some((ErrorCode::InvalidValue, "fields.answers.amount".into())),
            Some((ErrorCode::UnknownField, "fields.answers.age".into())),
        ],
        "a survey filled offline on v1 before it was retired still counts; after, it does not"
    );

    let forms: Value = p.api.get_json("/v1/forms").await.unwrap();
    let list = forms["forms"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter()
            .any(|f| f["definition"]["version"] == 1 && f["retired_at_ms"].is_number())
    );
}

fn verdict_of(changes: &[fieldsync_protocol::pull::Change], id: Uuid) -> Value {
    latest(changes)[&id]
        .gps_verdict
        .clone()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn every_fix_on_a_check_is_judged() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, _, _) = family(&app, &mut p).await;
    let hs = h.to_string();
    let check = |p: &mut Phone| {
        p.dev.create(
            "housing_check",
            p.dev.new_id(),
            json!({"household_id": hs, "captured_at": now_text(), "appraisal_grade": "A"}),
        )
    };

    // Two hours ago at the household: fine.
    let good = with_fix(check(&mut p), fix(INSIDE.0, INSIDE.1, 10.0, 120));
    // Beijing, an hour later: outside the village and far faster than any road.
    let far = with_fix(check(&mut p), fix(39.9087, 116.3975, 10.0, 60));
    // Mocked, imprecise, near the household.
    let mut mocked = fix(INSIDE.0 + 0.0001, INSIDE.1, 500.0, 30);
    mocked.mocked = true;
    let suspicious = with_fix(check(&mut p), mocked);
    let ids: Vec<Uuid> = [&good, &far, &suspicious].iter().map(|m| m.id).collect();
    let r = p.api.push(vec![good, far, suspicious]).await.unwrap();
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );

    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    let v = verdict_of(&changes, ids[0]);
    assert_eq!(
        (v["ok"].clone(), v["reasons"].clone()),
        (json!(true), json!([])),
        "{v}"
    );
    assert!((v["wgs84"]["lat"].as_f64().unwrap() - INSIDE.0).abs() < 1e-9);
    let v = verdict_of(&changes, ids[1]);
    let reasons: Vec<String> = serde_json::from_value(v["reasons"].clone()).unwrap();
    for expected in ["outside_village", "far_from_household", "impossible_travel"] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "{expected} missing in {v}"
        );
    }
    let v = verdict_of(&changes, ids[2]);
    let reasons: Vec<String> = serde_json::from_value(v["reasons"].clone()).unwrap();
    assert!(
        reasons.contains(&"mock_location".into()) && reasons.contains(&"low_accuracy".into()),
        "{v}"
    );
    assert!(
        reasons.contains(&"impossible_travel".into()),
        "back from Beijing in 30 minutes: {v}"
    );
}

#[tokio::test]
async fn the_same_coordinates_at_two_households_are_doubted() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut q = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let (h1, _, _) = family(&app, &mut p).await;
    let h2 = q.dev.new_id();
    q.api
        .push(vec![q.dev.create(
            "household",
            h2,
            household(VILLAGE_A, "王"),
        )])
        .await
        .unwrap();
    // 60 m from the first household's door; the second has no registered location.
    let at = (INSIDE.0 + 0.000_412, INSIDE.1 + 0.000_371);
    let a = with_fix(p.dev.create("water_check", p.dev.new_id(), json!({"household_id": h1.to_string(), "captured_at": now_text(), "source": "well", "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true})), fix(at.0, at.1, 5.0, 10));
    let b = with_fix(q.dev.create("water_check", q.dev.new_id(), json!({"household_id": h2.to_string(), "captured_at": now_text(), "source": "well", "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true})), fix(at.0, at.1, 5.0, 5));
    let (ia, ib) = (a.id, b.id);
    p.api.push(vec![a]).await.unwrap();
    q.api.push(vec![b]).await.unwrap();
    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    assert_eq!(
        verdict_of(&changes, ia)["reasons"],
        json!([]),
        "the first is not (yet) a copy"
    );
    assert_eq!(
        verdict_of(&changes, ib)["reasons"],
        json!(["repeated_coordinates"])
    );
}

#[tokio::test]
async fn a_village_area_set_by_an_administrator_is_used() {
    let app = spawn_app().await;
    let area = fieldsync_server::store::VillageArea {
        lat: INSIDE.0,
        lon: INSIDE.1,
        radius_m: 500.0,
    };
    app.store
        .set_village_area(VILLAGE_A, area, None, fieldsync_server::clock::now_ms())
        .await
        .unwrap();
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, _, _) = family(&app, &mut p).await;
    // 2 km north: inside the county, outside the village's 500 m.
    let m = with_fix(p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": h.to_string(), "captured_at": now_text(), "appraisal_grade": "A"})), fix(INSIDE.0 + 0.018, INSIDE.1, 10.0, 1));
    let id = m.id;
    p.api.push(vec![m]).await.unwrap();
    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    let reasons: Vec<String> =
        serde_json::from_value(verdict_of(&changes, id)["reasons"].clone()).unwrap();
    assert!(reasons.contains(&"outside_village".into()), "{reasons:?}");
}

/// A square of `half` degrees around a point, as a GeoJSON FeatureCollection in GCJ-02.
fn square_gcj02(code: &str, centre: (f64, f64), half: f64) -> String {
    let c = fieldsync_server::geo::convert::from_wgs84(
        fieldsync_protocol::gps::LatLon {
            lat: centre.0,
            lon: centre.1,
        },
        fieldsync_protocol::gps::Crs::Gcj02,
    );
    let (s, n, w, e) = (c.lat - half, c.lat + half, c.lon - half, c.lon + half);
    json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": code},
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}]})
    .to_string()
}

async fn import(app: &TestApp, doc: &str) {
    let shapes: Vec<_> =
        fieldsync_server::geo::parse_division_shapes(doc, fieldsync_protocol::gps::Crs::Gcj02)
            .unwrap()
            .into_iter()
            .map(|s| {
                let fieldsync_server::geo::Boundary::Area(area) = &s.area else {
                    unreachable!()
                };
                fieldsync_server::store::DivisionShape {
                    code: s.code.clone(),
                    geometry: fieldsync_server::geo::geometry_json(area),
                    vertices: area.vertex_count() as i64,
                }
            })
            .collect();
    app.store
        .import_division_shapes(&shapes, "gcj02", None, fieldsync_server::clock::now_ms())
        .await
        .unwrap();
}

#[tokio::test]
async fn imported_village_and_township_shapes_come_before_the_county() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, _, _) = family(&app, &mut p).await;
    // Ten minutes apart, so that moving a kilometre is no impossible travel.
    let judged = |p: &mut Phone, lat_offset: f64, minutes_ago: i64| {
        with_fix(p.dev.create("housing_check", p.dev.new_id(), json!({"household_id": h.to_string(), "captured_at": now_text(), "appraisal_grade": "A"})), fix(INSIDE.0 + lat_offset, INSIDE.1, 10.0, minutes_ago))
    };
    // ~1.1 km north: inside the county.
    let before = judged(&mut p, 0.01, 50);
    let id_before = before.id;
    p.api.push(vec![before]).await.unwrap();

    // The township (its code is the village's parent) gets a 2.2 km square, the village a
    // 1.1 km one, drawn in GCJ-02 around the household.
    let township = app
        .store
        .division(VILLAGE_A)
        .await
        .unwrap()
        .unwrap()
        .parent_code
        .unwrap();
    import(&app, &square_gcj02(&township, INSIDE, 0.02)).await;
    let in_township = judged(&mut p, 0.01, 40);
    let id_township = in_township.id;
    p.api.push(vec![in_township]).await.unwrap();
    import(&app, &square_gcj02(VILLAGE_A, INSIDE, 0.005)).await;
    let in_village = judged(&mut p, 0.002, 30);
    let outside_village = judged(&mut p, 0.01, 20);
    let (id_in, id_out) = (in_village.id, outside_village.id);
    p.api.push(vec![in_village, outside_village]).await.unwrap();

    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    let v = verdict_of(&changes, id_before);
    assert_eq!(
        (v["against"].clone(), v["outside_by_m"].clone()),
        (json!("county_shape"), json!(0.0)),
        "{v}"
    );
    let v = verdict_of(&changes, id_township);
    // 1.1 km from the door, so only that is doubted.
    assert_eq!(
        (v["against"].clone(), v["reasons"].clone()),
        (json!("township_shape"), json!(["far_from_household"])),
        "{v}"
    );
    let v = verdict_of(&changes, id_in);
    assert_eq!(
        (v["against"].clone(), v["ok"].clone()),
        (json!("village_shape"), json!(true)),
        "{v}"
    );
    let v = verdict_of(&changes, id_out);
    assert_eq!(v["against"], "village_shape");
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("outside_village")),
        "{v}"
    );
    // 0.01° north of the centre, the square's edge at 0.005°: ~556 m out.
    let out = v["outside_by_m"].as_f64().unwrap();
    assert!((500.0..600.0).contains(&out), "{v}");

    // Setting a circle replaces the village's shape.
    let area = fieldsync_server::store::VillageArea {
        lat: INSIDE.0,
        lon: INSIDE.1,
        radius_m: 2000.0,
    };
    app.store
        .set_village_area(VILLAGE_A, area, None, fieldsync_server::clock::now_ms())
        .await
        .unwrap();
    let again = judged(&mut p, 0.01, 10);
    let id_again = again.id;
    p.api.push(vec![again]).await.unwrap();
    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    let v = verdict_of(&changes, id_again);
    assert_eq!(
        (v["against"].clone(), v["reasons"].clone()),
        (json!("village_circle"), json!(["far_from_household"])),
        "{v}"
    );
}
