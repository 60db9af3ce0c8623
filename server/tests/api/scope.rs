//! Village scope: a phone sees and changes only its villages, and follows assignment changes.

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn writes_outside_the_assigned_villages_are_rejected() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let hb = b.dev.new_id();
    b.api
        .push(vec![b.dev.create(
            "household",
            hb,
            household(VILLAGE_B, "邻村"),
        )])
        .await
        .unwrap();

    let res = a
        .api
        .push(vec![
            a.dev
                .create("household", a.dev.new_id(), household(VILLAGE_B, "越界")),
            a.dev.create(
                "household",
                a.dev.new_id(),
                household("640104001999", "不存在"),
            ),
            a.dev
                .update("household", hb, 1, json!({"phone": "13900000000"})),
            a.dev.create(
                "member",
                a.dev.new_id(),
                json!({"household_id": hb.to_string(), "name": "x"}),
            ),
            a.dev
                .create("household", a.dev.new_id(), household(VILLAGE_A, "本村")),
        ])
        .await
        .unwrap();
    let codes: Vec<_> = res
        .results
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.code))
        .collect();
    assert_eq!(
        codes,
        [
            Some(ErrorCode::ForbiddenScope),
            Some(ErrorCode::UnknownVillage),
            Some(ErrorCode::ForbiddenScope),
            Some(ErrorCode::ForbiddenScope),
            None
        ]
    );
    assert_eq!(res.results[4].status, Status::Applied);

    let (changes, _, _) = a.api.pull_all(None, None).await.unwrap();
    assert!(
        changes.iter().all(|c| c.scope == VILLAGE_A),
        "A never receives village B's household"
    );
    assert_eq!(changes.len(), 1);
}

/// A cadre rotates from village A to village B: the next pull says to drop A and streams B
/// from the beginning, then follows both as usual.
#[tokio::test]
async fn assignment_changes_drop_and_stream_scopes() {
    let app = spawn_app().await;
    let mut writer = app
        .phone(Role::FirstSecretary, &[VILLAGE_A, VILLAGE_B])
        .await;
    let batch: Vec<_> = (0..30)
        .map(|i| {
            let v = if i < 10 { VILLAGE_A } else { VILLAGE_B };
            writer.dev.create(
                "household",
                writer.dev.new_id(),
                household(v, &format!("户{i}")),
            )
        })
        .collect();
    writer.api.push(batch).await.unwrap();

    let cadre = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let (first, dropped, old_cursor) = cadre.api.pull_all(None, Some(7)).await.unwrap();
    assert_eq!(first.len(), 10);
    assert!(dropped.is_empty());

    let today = fieldsync_server::clock::today();
    app.store
        .set_assignments(
            cadre.user_id,
            &[VILLAGE_B.to_owned()],
            &fieldsync_server::clock::iso(today),
            &fieldsync_server::clock::iso(fieldsync_server::clock::yesterday_of(today)),
        )
        .await
        .unwrap();
    let page = cadre.api.pull(Some(&old_cursor), Some(7)).await.unwrap();
    assert_eq!(page.drop_scopes, [VILLAGE_A]);
    assert_eq!(page.scopes, [VILLAGE_B]);
    let (rest, again_dropped, cursor) = cadre
        .api
        .pull_all(Some(&page.cursor), Some(7))
        .await
        .unwrap();
    assert!(again_dropped.is_empty(), "dropping is said once per cursor");
    let b_records: Vec<_> = page.changes.iter().chain(&rest).collect();
    assert_eq!(b_records.len(), 20, "village B streams from zero");
    assert!(b_records.iter().all(|c| c.scope == VILLAGE_B));

    // A lost response: the phone pulls with its old cursor again and is told again.
    let replay = cadre.api.pull(Some(&old_cursor), Some(7)).await.unwrap();
    assert_eq!(replay.drop_scopes, [VILLAGE_A]);
    assert_eq!(replay.changes, page.changes);

    // Later changes in B arrive through the steady path.
    let id = b_records[0].id;
    writer
        .api
        .push(vec![writer.dev.update(
            "household",
            id,
            1,
            json!({"grid": "一组"}),
        )])
        .await
        .unwrap();
    let page = cadre.api.pull(Some(&cursor), None).await.unwrap();
    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.changes[0].id, id);
}
