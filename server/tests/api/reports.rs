//! The self-report channel: a hotline operator or a farmer declares a difficulty; consent and
//! an identification are required; a farmer's account is rate limited, reports only about its
//! own household and sees only its own.

use fieldsync_protocol::push::Status;
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::{Value, json};

use crate::helpers::*;

fn report(p: &mut Phone, extra: Value) -> fieldsync_protocol::push::Mutation {
    let mut fields = json!({"village_code": VILLAGE_A, "category": "illness",
        "description": "户主脑梗住院，医疗费用约八万元", "consent_to_checks": true, "channel": "app"});
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            f.insert(k.clone(), v.clone());
        }
    }
    p.dev.create("self_report", p.dev.new_id(), fields)
}

#[tokio::test]
async fn reports_need_consent_and_an_identification_and_farmers_are_rate_limited() {
    let app = spawn_app().await;
    let mut operator = app.phone(Role::HotlineOperator, &["640104"]).await;
    let mut farmer = app.phone(Role::Farmer, &[VILLAGE_A]).await;
    let mut cadre = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = cadre.dev.new_id();
    cadre
        .api
        .push(vec![cadre.dev.create(
            "household",
            h,
            household(VILLAGE_A, "马"),
        )])
        .await
        .expect("household");

    let batch = vec![
        report(
            &mut operator,
            json!({"household_id": h.to_string(), "channel": "hotline"}),
        ),
        report(
            &mut operator,
            json!({"household_id": h.to_string(), "consent_to_checks": false}),
        ),
        report(&mut operator, json!({})),
    ];
    let r = operator.api.push(batch).await.expect("operator");
    assert_eq!(r.results[0].status, Status::Applied, "{r:?}");
    let codes: Vec<_> = r.results[1..]
        .iter()
        .map(|r| {
            r.error
                .as_ref()
                .map(|e| (e.code, e.field.clone().unwrap_or_default()))
        })
        .collect();
    assert_eq!(
        codes,
        [
            Some((ErrorCode::InvalidValue, "fields.consent_to_checks".into())),
            Some((ErrorCode::MissingField, "fields.household_id".into()))
        ]
    );

    // A farmer: three a day, the fourth refused alone with a clear code.
    app.store
        .set_user_id_card(farmer.user_id, Some("11010519491231002X"))
        .await
        .expect("the farmer's own number on file");
    let id_card = json!({"id_card": "11010519491231002X"});
    let batch: Vec<_> = (0..4)
        .map(|_| report(&mut farmer, id_card.clone()))
        .collect();
    let r = farmer.api.push(batch).await.expect("farmer");
    let statuses: Vec<_> = r.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Applied,
            Status::Applied,
            Status::Applied,
            Status::Rejected
        ]
    );
    assert_eq!(
        r.results[3].error.as_ref().map(|e| e.code),
        Some(ErrorCode::RateLimited)
    );
    let fifth = report(&mut farmer, id_card.clone());
    let r = farmer.api.push(vec![fifth]).await.expect("again");
    assert_eq!(
        r.results[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::RateLimited),
        "the limit holds across pushes"
    );

    // The farmer sees their own three and nothing of the village.
    let mine: Value = farmer
        .api
        .get_json("/v1/self-reports/mine")
        .await
        .expect("mine");
    assert_eq!(mine["reports"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        mine["reports"][0]["status"], "reported",
        "each report opened a case"
    );
    let (changes, _, _) = farmer.api.pull_all(None, None).await.expect("pull");
    assert!(changes.is_empty(), "a farmer pulls nothing: {changes:?}");

    // The village's first secretary pulls every report; the description is health data.
    let (changes, _, _) = cadre.api.pull_all(None, None).await.expect("pull");
    let reports: Vec<_> = changes
        .iter()
        .filter(|c| c.entity == "self_report")
        .collect();
    assert_eq!(reports.len(), 4);
    assert!(reports.iter().all(|c| c.fields.contains_key("description")));
}

const FARMER: &str = "640104198001011235";
const SPOUSE: &str = "640104198202022344";
const NEIGHBOUR: &str = "640104198503033450";

fn refusal(r: &fieldsync_protocol::push::MutationResult) -> Option<(ErrorCode, String)> {
    r.error
        .as_ref()
        .map(|e| (e.code, e.field.clone().unwrap_or_default()))
}

/// A farmer's account reports about the household of its own ID-card number (as head or
/// member), never a neighbour's: joining the neighbour's open case would show the farmer its
/// progress. Hotline operators report for anyone.
#[tokio::test]
async fn a_farmer_reports_only_about_their_own_household() {
    let app = spawn_app().await;
    let mut cadre = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut operator = app.phone(Role::HotlineOperator, &["640104"]).await;
    let mut farmer = app.phone(Role::Farmer, &[VILLAGE_A]).await;
    let (own, spouse, neighbour) = (cadre.dev.new_id(), cadre.dev.new_id(), cadre.dev.new_id());
    let batch = vec![
        cadre.dev.create(
            "household",
            own,
            json!({"village_code": VILLAGE_A, "head_name": "马", "head_id_card": FARMER}),
        ),
        cadre.dev.create(
            "member",
            spouse,
            json!({"household_id": own.to_string(), "name": "李", "id_card": SPOUSE}),
        ),
        cadre.dev.create(
            "household",
            neighbour,
            json!({"village_code": VILLAGE_A, "head_name": "杨", "head_id_card": NEIGHBOUR}),
        ),
    ];
    cadre.api.push(batch).await.expect("households");

    // The neighbour called 12317: their household has an open case for an illness.
    let call = report(
        &mut operator,
        json!({"household_id": neighbour.to_string(), "channel": "hotline"}),
    );
    let r = operator.api.push(vec![call]).await.expect("operator");
    assert_eq!(r.results[0].status, Status::Applied, "{r:?}");

    let batch = vec![report(&mut farmer, json!({"id_card": FARMER}))];
    let r = farmer.api.push(batch).await.expect("push");
    assert_eq!(
        refusal(&r.results[0]),
        Some((ErrorCode::IdCardNotOnFile, "fields.id_card".into())),
        "a farmer without a number on file is told to have it registered"
    );

    app.store
        .set_user_id_card(farmer.user_id, Some(FARMER))
        .await
        .expect("number on file");
    let batch = vec![
        report(&mut farmer, json!({"id_card": NEIGHBOUR})),
        report(&mut farmer, json!({"household_id": neighbour.to_string()})),
        report(
            &mut farmer,
            json!({"household_id": own.to_string(), "id_card": NEIGHBOUR}),
        ),
        report(&mut farmer, json!({"id_card": FARMER})),
        report(
            &mut farmer,
            json!({"id_card": SPOUSE, "category": "disability"}),
        ),
        report(
            &mut farmer,
            json!({"household_id": own.to_string(), "category": "housing"}),
        ),
    ];
    let r = farmer.api.push(batch).await.expect("push");
    let outcomes: Vec<_> = r.results.iter().map(refusal).collect();
    assert_eq!(
        outcomes,
        [
            Some((ErrorCode::NotYourHousehold, "fields.id_card".into())),
            Some((ErrorCode::NotYourHousehold, "fields.household_id".into())),
            Some((ErrorCode::NotYourHousehold, "fields.id_card".into())),
            None,
            None,
            None,
        ],
        "{r:?}"
    );
    let theirs = app
        .store
        .work_records("case", None)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.fields.0.get("household_id") == Some(&json!(neighbour.to_string())))
        .map(|c| c.id)
        .expect("the neighbour's case");
    let mine: Value = farmer
        .api
        .get_json("/v1/self-reports/mine")
        .await
        .expect("mine");
    let reports = mine["reports"].as_array().cloned().unwrap_or_default();
    assert_eq!(reports.len(), 3, "{mine}");
    assert!(
        reports
            .iter()
            .all(|r| r["status"] == "reported" && r["case_id"] != json!(theirs.to_string())),
        "{mine}"
    );

    // The hotline takes anyone's report, by number too.
    let call = report(
        &mut operator,
        json!({"id_card": NEIGHBOUR, "channel": "hotline"}),
    );
    let r = operator.api.push(vec![call]).await.expect("operator");
    assert_eq!(r.results[0].status, Status::Applied, "{r:?}");
}

/// What a report shows of the case it joined is the reporter's business only while the case
/// is their household's: a farmer whose number on file no longer matches the case's household
/// (a wrong number corrected, a report from before the rule) sees the report as received.
#[tokio::test]
async fn a_farmer_follows_only_the_cases_of_their_own_household() {
    let app = spawn_app().await;
    let mut cadre = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut operator = app.phone(Role::HotlineOperator, &["640104"]).await;
    let mut farmer = app.phone(Role::Farmer, &[VILLAGE_A]).await;
    let household = cadre.dev.new_id();
    let create = cadre.dev.create(
        "household",
        household,
        json!({"village_code": VILLAGE_A, "head_name": "杨", "head_id_card": NEIGHBOUR}),
    );
    cadre.api.push(vec![create]).await.expect("household");
    let call = report(
        &mut operator,
        json!({"household_id": household.to_string(), "channel": "hotline"}),
    );
    operator.api.push(vec![call]).await.expect("operator");

    app.store
        .set_user_id_card(farmer.user_id, Some(NEIGHBOUR))
        .await
        .unwrap();
    let batch = vec![report(&mut farmer, json!({"id_card": NEIGHBOUR}))];
    let r = farmer.api.push(batch).await.expect("push");
    assert_eq!(r.results[0].status, Status::Applied, "{r:?}");
    let mine: Value = farmer.api.get_json("/v1/self-reports/mine").await.unwrap();
    assert_eq!(mine["reports"][0]["status"], "reported", "{mine}");
    assert!(mine["reports"][0]["case_id"].is_string(), "{mine}");

    // The number was someone else's: corrected, the farmer no longer follows that case.
    app.store
        .set_user_id_card(farmer.user_id, Some(FARMER))
        .await
        .unwrap();
    let mine: Value = farmer.api.get_json("/v1/self-reports/mine").await.unwrap();
    assert_eq!(mine["reports"][0]["status"], "received", "{mine}");
    assert!(mine["reports"][0].get("case_id").is_none(), "{mine}");
    // The hotline operator who took the call still follows it.
    let taken: Value = operator
        .api
        .get_json("/v1/self-reports/mine")
        .await
        .unwrap();
    assert_eq!(taken["reports"][0]["status"], "reported", "{taken}");
}
