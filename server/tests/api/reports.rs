//! The self-report channel: a hotline operator or a farmer declares a difficulty; consent and
//! an identification are required; a farmer's account is rate limited and sees only its own.

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
