//! Reviewing and resolving conflict records.

use fieldsync_client::ClientError;
use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// A household one phone created and then gave a phone number (version 2), and a second phone
/// of the village that has seen neither.
async fn household_edited_once(app: &TestApp, village: &str) -> (Uuid, Phone) {
    let mut a = app.phone(Role::GridWorker, &[village]).await;
    let b = app.phone(Role::GridWorker, &[village]).await;
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
    (h, b)
}

/// Two phones set different phone numbers; returns the household id and the conflict id.
async fn make_conflict(app: &TestApp, village: &str) -> (Uuid, Uuid) {
    let (h, mut b) = household_edited_once(app, village).await;
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

/// A record's `meta` column as JSON (its merge stamps, `store/stamps.rs`).
async fn meta_of(app: &TestApp, id: Uuid) -> Value {
    let text: String = on_database!(
        app,
        sqlx::query_scalar("SELECT CAST(meta AS TEXT) FROM records WHERE id = $1").bind(id),
        fetch_one
    );
    serde_json::from_str(&text).unwrap()
}

/// Overwrites a record's `meta` column, as an older release would have written it.
async fn set_meta(app: &TestApp, id: Uuid, meta: &Value) {
    on_database!(
        app,
        sqlx::query("UPDATE records SET meta = $1 WHERE id = $2")
            .bind(sqlx::types::Json(meta))
            .bind(id),
        execute
    );
}

/// Rows written before the stamps were grouped hold a map of field to stamp. They merge exactly
/// as before (a field another phone changed since the base races; one it did not applies), and
/// take the grouped form at their next write.
#[tokio::test]
async fn a_record_stored_with_a_stamp_per_field_merges_as_before() {
    let app = spawn_app().await;
    let (h, mut b) = household_edited_once(&app, VILLAGE_A).await;

    // The stamps as the release before wrote them: one per field.
    let grouped = meta_of(&app, h).await;
    let groups = grouped.as_array().expect("stamps in the grouped form");
    assert_eq!(
        groups.len(),
        2,
        "the create's stamp and the update's: {grouped}"
    );
    let mut per_field = serde_json::Map::new();
    for g in groups {
        let mut stamp = g.clone();
        let fields = stamp.as_object_mut().unwrap().remove("fields").unwrap();
        for f in fields.as_array().unwrap() {
            per_field.insert(f.as_str().unwrap().to_owned(), stamp.clone());
        }
    }
    assert!(per_field.contains_key("phone") && per_field.contains_key("head_name"));
    set_meta(&app, h, &Value::Object(per_field)).await;

    // b edits on version 1: its phone races a's later one, its address races nothing.
    let r = b
        .api
        .push(vec![b.dev.update(
            "household",
            h,
            1,
            json!({"phone": "13922222222", "address": "三组 7 号"}),
        )])
        .await
        .unwrap()
        .results
        .remove(0);
    assert_eq!(r.status, Status::Conflict, "{r:?}");
    let raced: Vec<&str> = r.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(raced, ["phone"]);
    let after = meta_of(&app, h).await;
    let fields_of = |stamps: &Value| -> Vec<String> {
        let mut names: Vec<String> = stamps
            .as_array()
            .expect("rewritten in the grouped form")
            .iter()
            .flat_map(|g| g["fields"].as_array().unwrap().clone())
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert!(fields_of(&after).contains(&"address".to_owned()), "{after}");
    assert!(
        fields_of(&after).contains(&"head_name".to_owned()),
        "{after}"
    );
}
