//! Reviewing and resolving conflict records.

use fieldsync_client::ClientError;
use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// Two phones set different phone numbers; returns the household id and the conflict id.
async fn make_conflict(app: &TestApp, village: &str) -> (Uuid, Uuid) {
    let mut a = app.phone(Role::GridWorker, &[village]).await;
    let mut b = app.phone(Role::GridWorker, &[village]).await;
    let h = a.dev.new_id();
    a.api
        .push(vec![a.dev.create("household", h, household(village, "冯"))])
        .await
        .unwrap();
    a.api
        .push(vec![a.dev.update(
            "household",
            h,
            1,
            json!({"phone": "13911111111"}),
        )])
        .await
        .unwrap();
    let r = b
        .api
        .push(vec![b.dev.update(
            "household",
            h,
            1,
            json!({"phone": "13922222222"}),
        )])
        .await
        .unwrap()
        .results
        .remove(0);
    assert_eq!(r.status, Status::Conflict);
    (h, r.conflicts[0].conflict_id)
}

#[tokio::test]
async fn a_reviewer_takes_the_losing_value_and_every_phone_pulls_it() {
    let app = spawn_app().await;
    let (h, conflict) = make_conflict(&app, VILLAGE_A).await;
    let reviewer = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let (_, _, cursor) = reviewer.api.pull_all(None, None).await.unwrap();

    let done: Value = reviewer
        .api
        .post_json(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "theirs", "note": "confirmed by phone call"}),
        )
        .await
        .unwrap();
    assert_eq!(done["version"], 4);
    assert_eq!(done["conflict"]["resolution"]["value"], "13911111111");
    assert_eq!(done["conflict"]["resolved_by"], json!(reviewer.user_id));

    let page = reviewer.api.pull(Some(&cursor), None).await.unwrap();
    assert_eq!(page.changes.len(), 1);
    assert_eq!((page.changes[0].id, page.changes[0].version), (h, 4));
    assert_eq!(page.changes[0].fields["phone"], "13911111111");

    // Resolved once only; it leaves the open list and shows in the resolved one.
    let again = reviewer
        .api
        .post_json::<_, Value>(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "kept"}),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some(fieldsync_protocol::ErrorCode::Conflict));
    let open: Value = reviewer.api.get_json("/v1/conflicts").await.unwrap();
    assert_eq!(open["conflicts"].as_array().unwrap().len(), 0);
    let resolved: Value = reviewer
        .api
        .get_json("/v1/conflicts?status=resolved")
        .await
        .unwrap();
    assert_eq!(resolved["conflicts"][0]["id"], json!(conflict));
}

#[tokio::test]
async fn keeping_the_kept_value_changes_no_record() {
    let app = spawn_app().await;
    let (h, conflict) = make_conflict(&app, VILLAGE_A).await;
    let reviewer = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let before = app.store.sync_stats().await.unwrap();
    let done: Value = reviewer
        .api
        .post_json(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "kept"}),
        )
        .await
        .unwrap();
    assert_eq!(done["version"], 3);
    let after = app.store.sync_stats().await.unwrap();
    assert_eq!(
        (after.head_seq, after.open_conflicts),
        (before.head_seq, before.open_conflicts - 1)
    );
    assert_eq!(app.store.record(h).await.unwrap().unwrap().version, 3);
}

#[tokio::test]
async fn corrected_values_are_validated_and_scope_is_enforced() {
    let app = spawn_app().await;
    let (_, conflict) = make_conflict(&app, VILLAGE_A).await;
    let outsider = app.phone(Role::FirstSecretary, &[VILLAGE_B]).await;
    let e = outsider
        .api
        .post_json::<_, Value>(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "kept"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(fieldsync_protocol::ErrorCode::NotFound),
        "a conflict in another village does not exist for them"
    );
    let listed: Value = outsider.api.get_json("/v1/conflicts").await.unwrap();
    assert!(listed["conflicts"].as_array().unwrap().is_empty());

    let worker = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let e = worker
        .api
        .get_json::<Value>("/v1/conflicts")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(fieldsync_protocol::ErrorCode::ForbiddenRole));

    let reviewer = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let e = reviewer
        .api
        .post_json::<_, Value>(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "value", "value": "not a phone"}),
        )
        .await
        .unwrap_err();
    match e {
        ClientError::Api { status, body } => {
            assert_eq!(status, 422);
            assert_eq!(body.error.field.as_deref(), Some("value.fields.phone"));
        }
        other => panic!("{other}"),
    }
    let e = reviewer
        .api
        .post_json::<_, Value>(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "value"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(fieldsync_protocol::ErrorCode::MissingField));
    let done: Value = reviewer
        .api
        .post_json(
            &format!("/v1/conflicts/{conflict}/resolve"),
            &json!({"choice": "value", "value": "13933333333"}),
        )
        .await
        .unwrap();
    assert_eq!(done["conflict"]["resolution"]["value"], "13933333333");
}
