//! The reference client's offline store against the server: the outbox survives a restart,
//! a lost answer is re-sent and answered `duplicate`, refusals and conflicts are kept, and a
//! cadre moved to another village while offline loses nothing.

use fieldsync_client::Replica;
use fieldsync_protocol::push::Status;
use fieldsync_protocol::{ErrorCode, Role};
use fieldsync_server::clock;
use serde_json::json;
use time::Duration;

use crate::helpers::*;

async fn replica(
    app: &TestApp,
    dir: &tempfile::TempDir,
    role: Role,
    since: &str,
) -> (Replica, uuid::Uuid) {
    let (user_id, username) = app.user_since(role, &[VILLAGE_A], since).await;
    let mut r = Replica::open(&dir.path().join("phone.db"), &app.base)
        .await
        .expect("open");
    r.login(&username, PASSWORD).await.expect("login");
    (r, user_id)
}

#[tokio::test]
async fn the_outbox_survives_a_restart_and_lost_answers_refusals_and_conflicts_lose_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let (mut phone, user_id) = replica(&app, &dir, Role::FirstSecretary, "2026-01-01").await;
    let h = phone
        .create(
            "household",
            json!({"village_code": VILLAGE_A, "head_name": "马"}),
        )
        .await
        .expect("create");
    let bad = phone
        .create(
            "household",
            json!({"village_code": VILLAGE_A, "head_name": "李", "phone": "12"}),
        )
        .await
        .expect("create");
    assert_eq!(phone.outbox().await.expect("outbox").0, 2);
    let device = phone.device.id;
    drop(phone);

    // The app was killed; reopened, the outbox is still there, under the same device.
    let mut phone = Replica::open(&dir.path().join("phone.db"), &app.base)
        .await
        .expect("reopen");
    assert_eq!(phone.device.id, device);
    assert_eq!(phone.outbox().await.expect("outbox").0, 2);
    let username = app
        .store
        .users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.id == user_id)
        .map(|u| u.username)
        .expect("user");
    phone.login(&username, PASSWORD).await.expect("login");

    // The answer to the first push is lost: the phone sends again and hears `duplicate`.
    phone.faults.lose_next_answer = true;
    let report = phone.sync().await.expect("sync");
    assert_eq!(report.duplicates, 1, "{report:?}");
    // A refused mutation was never applied, so it is judged again, and refused again.
    assert_eq!(report.rejected, 1);
    assert_eq!(phone.outbox().await.expect("outbox").0, 0);
    let refused = phone.refused().await.expect("refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].record_id, bad);
    assert_eq!(refused[0].code, "invalid_value");
    let shown = phone.view(h).await.expect("view").expect("household");
    assert_eq!(shown.version, 1);
    assert_eq!(shown.pending, 0);

    // Two phones edit one field offline: the later stamp wins, the other value is a
    // conflict, and both phones end with the server's value.
    let other_dir = tempfile::tempdir().expect("dir");
    let (mut other, _) = replica(&app, &other_dir, Role::TeamMember, "2026-01-01").await;
    other.sync().await.expect("first sync");
    phone
        .update(h, json!({"phone": "13900000001"}))
        .await
        .expect("edit");
    other
        .update(h, json!({"phone": "13900000002"}))
        .await
        .expect("edit");
    assert_eq!(
        phone.view(h).await.expect("view").expect("h").fields["phone"],
        "13900000001",
        "the phone shows its own edit at once"
    );
    phone.sync().await.expect("sync");
    let report = other.sync().await.expect("sync");
    assert_eq!(report.conflicts, 1);
    phone.sync().await.expect("sync");
    let a = phone.view(h).await.expect("view").expect("h");
    let b = other.view(h).await.expect("view").expect("h");
    assert_eq!(a, b, "both phones show the server's record");
    assert_eq!(a.fields["phone"], "13900000002");
}

#[tokio::test]
async fn a_sync_outliving_its_access_token_refreshes_it_and_an_answer_shows_at_once() {
    let app = spawn_app_with(|s| s.auth.access_ttl_s = 2).await;
    let dir = tempfile::tempdir().expect("dir");
    let (mut phone, _) = replica(&app, &dir, Role::FirstSecretary, "2026-01-01").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let h = phone
        .create(
            "household",
            json!({"village_code": VILLAGE_A, "head_name": "马"}),
        )
        .await
        .expect("create");
    // The token has run out: the sync refreshes it instead of failing.
    phone.sync().await.expect("sync after the token expired");
    // Applied as sent: the phone's copy is the server's, without waiting for a pull.
    phone
        .update(h, json!({"address": "一组 1 号"}))
        .await
        .expect("edit");
    let report = phone.push().await.expect("push");
    assert_eq!(report.pushed, 1);
    assert_eq!(report.pulled, 0);
    let shown = phone.view(h).await.expect("view").expect("h");
    assert_eq!((shown.version, shown.pending), (2, 0));
    assert_eq!(shown.fields["address"], "一组 1 号");
}

#[tokio::test]
async fn a_cadre_moved_to_another_village_while_offline_loses_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let (mut phone, user_id) = replica(&app, &dir, Role::FirstSecretary, "2026-01-01").await;
    // Everything this phone does happens three days ago: it was offline since.
    phone.device.skew_ms = -3 * 86_400_000;
    let h = phone
        .create(
            "household",
            json!({"village_code": VILLAGE_A, "head_name": "马"}),
        )
        .await
        .expect("create");
    phone.sync().await.expect("sync");
    phone
        .update(h, json!({"address": "二组 7 号"}))
        .await
        .expect("edit");
    let child = phone
        .create(
            "member",
            json!({"household_id": h.to_string(), "name": "马小"}),
        )
        .await
        .expect("member");

    // Meanwhile the county moves the cadre to another village from yesterday.
    let today = clock::today();
    app.store
        .set_assignments(
            user_id,
            &[VILLAGE_B.to_owned()],
            &clock::iso(today - Duration::days(1)),
            &clock::iso(today - Duration::days(2)),
        )
        .await
        .expect("reassign");

    let report = phone.sync().await.expect("sync");
    assert_eq!(report.rejected, 0, "{report:?}");
    assert_eq!(report.dropped_scopes, [VILLAGE_A]);
    assert!(phone.refused().await.expect("refused").is_empty());
    assert!(
        phone.view(h).await.expect("view").is_none(),
        "village A left the phone"
    );

    // The new first secretary of village A has both edits.
    let successor = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let (changes, _, _) = successor.api.pull_all(None, None).await.expect("pull");
    let seen = latest(&changes);
    assert_eq!(seen[&h].fields["address"], "二组 7 号");
    assert!(seen.contains_key(&child));

    // An edit stamped after the move is not the cadre's to make.
    let mut late = fieldsync_client::Device::with_id(phone.device.id);
    let m = late.update("household", h, 2, json!({"address": "三组"}));
    let r = phone.api.push(vec![m]).await.expect("push");
    assert_eq!(r.results[0].status, Status::Rejected);
    assert_eq!(
        r.results[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::ForbiddenScope)
    );
}

/// A photo the server refuses for what it is (an iPhone HEIC) is kept apart with its reason;
/// the sync goes on, and a good photo and the records still reach the server.
#[tokio::test]
async fn a_refused_photo_is_kept_apart_and_the_sync_goes_on() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let (mut phone, _) = replica(&app, &dir, Role::FirstSecretary, "2026-01-01").await;
    let heic = dir.path().join("IMG_0001.HEIC");
    std::fs::write(&heic, fieldsync_server::testing::photo::heic()).expect("write");
    let heic = phone.add_photo(&heic).await.expect("heic");
    let jpeg = fieldsync_server::testing::photo::TestPhoto::new(600, 450)
        .orientation(6)
        .write_jpeg(&dir.path().join("IMG_0002.jpg"))
        .expect("write");
    let jpeg = phone.add_photo(&jpeg).await.expect("jpeg");
    let h = phone
        .create(
            "household",
            json!({"village_code": VILLAGE_A, "head_name": "马"}),
        )
        .await
        .expect("create");

    let report = phone.sync().await.expect("the sync goes on");
    assert_eq!((report.photos, report.photos_refused), (1, 1), "{report:?}");
    let refused = phone.refused_photos().await.expect("refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, heic);
    assert_eq!(refused[0].1, "unsupported_format");
    assert_eq!(phone.outbox().await.expect("outbox").0, 0);
    assert!(
        phone
            .view(h)
            .await
            .expect("view")
            .is_some_and(|l| l.version >= 1)
    );
    let meta: serde_json::Value = phone
        .api
        .get_json(&format!("/v1/blobs/{jpeg}/meta"))
        .await
        .expect("the good photo is there");
    assert_ne!(meta["state"], "rejected");
    // The next sync does not try the refused one again.
    assert_eq!(phone.sync().await.expect("sync").photos_refused, 0);
}
