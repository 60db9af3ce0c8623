//! Device health and app versions: every request says which app it is and how its outbox
//! stands; team leaders list the phones of their villages that went silent or hold old unsent
//! records; an app older than the server's minimum gets a clear upgrade error and writes
//! nothing.

use fieldsync_client::{Api, Device};
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

/// Sets a device's last contact `days` ago, as if the phone had been silent since.
async fn silence(app: &TestApp, device: Uuid, days: i64) {
    let at = fieldsync_server::clock::now_ms() - days * 86_400_000;
    on_database!(
        app,
        sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(device),
        execute
    );
}

#[tokio::test]
async fn leaders_find_phones_that_went_silent_or_hold_old_unsent_records() {
    let app = spawn_app().await;
    let mut busy = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let quiet = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let fine = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let leader = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let elsewhere = app.phone(Role::TownshipSupervisor, &["640104002"]).await;

    // Twelve records waiting, the oldest three days old: the pull carries it in headers.
    busy.api.set_health(12, 3 * 86_400);
    busy.api.pull_all(None, None).await.expect("pull");
    // A pull's contact is recorded off the request's path: wait until the leader sees it.
    let depth_of_busy = || async {
        let all: Value = leader.api.get_json("/v1/devices").await.expect("list");
        all["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["device_id"] == busy.api.device_id().to_string())
            .map(|d| d["outbox_depth"].clone())
    };
    for _ in 0..50 {
        if depth_of_busy().await == Some(serde_json::json!(12)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        depth_of_busy().await,
        Some(serde_json::json!(12)),
        "the pull's health"
    );
    // A push says it in the body too; the body wins.
    let m = busy
        .dev
        .create("household", busy.dev.new_id(), household(VILLAGE_A, "马"));
    busy.api
        .push_with(
            vec![m],
            Some(fieldsync_protocol::push::ClientInfo {
                app_version: Some("2.1.0".into()),
                outbox_depth: Some(11),
                oldest_unsent_s: Some(3 * 86_400),
            }),
        )
        .await
        .expect("push");
    silence(&app, quiet.api.device_id(), 4).await;
    fine.api.pull_all(None, None).await.expect("pull");

    let all: Value = leader.api.get_json("/v1/devices").await.expect("all");
    let list = all["devices"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 3, "{all}");
    assert_eq!(
        list[0]["device_id"],
        quiet.api.device_id().to_string(),
        "most silent first"
    );
    assert_eq!(list[0]["silent_days"], 4);
    let b = list
        .iter()
        .find(|d| d["device_id"] == busy.api.device_id().to_string())
        .expect("busy phone");
    assert_eq!(b["outbox_depth"], 11);
    assert_eq!(b["app_version"], "2.1.0");
    assert_eq!(b["villages"], serde_json::json!([VILLAGE_A]));

    let flagged: Value = leader
        .api
        .get_json("/v1/devices?silent_days=3&unsent_hours=24")
        .await
        .expect("flagged");
    let mut got: Vec<(String, Vec<String>)> = flagged["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| {
            (
                d["username"].as_str().unwrap_or_default().to_owned(),
                d["flags"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect(),
            )
        })
        .collect();
    got.sort();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "{flagged}");
    assert!(
        got.iter()
            .any(|(n, f)| n.starts_with("first-secretary") && f == &["old_unsent"])
    );
    assert!(
        got.iter()
            .any(|(n, f)| n.starts_with("team-member") && f == &["silent"])
    );

    let village_b: Value = leader
        .api
        .get_json(&format!("/v1/devices?village={VILLAGE_B}"))
        .await
        .expect("one village");
    assert_eq!(village_b["devices"].as_array().map(Vec::len), Some(1));

    // Another township's leader sees none of these; a cadre may not list phones.
    let theirs: Value = elsewhere.api.get_json("/v1/devices").await.expect("theirs");
    assert_eq!(theirs["devices"].as_array().map(Vec::len), Some(0));
    let refused = busy.api.get_json::<Value>("/v1/devices").await;
    assert_eq!(
        refused.err().and_then(|e| e.code()),
        Some(ErrorCode::ForbiddenRole)
    );
}

#[tokio::test]
async fn an_app_older_than_the_minimum_is_told_to_update_and_writes_nothing() {
    let app = spawn_app_with(|s| s.clients.min_version = Some("1.4.0".into())).await;
    let (_, username) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;

    let dev = Device::new();
    let mut old = Api::new(&app.base, dev.id).with_app_version("1.3.9");
    let e = old.login(&username, PASSWORD).await.expect_err("too old");
    assert_eq!(e.code(), Some(ErrorCode::UpgradeRequired));
    assert!(
        e.to_string().contains("426") && e.to_string().contains("1.4.0"),
        "{e}"
    );

    // Numbers compare as numbers: 1.10.2 is newer than 1.4.0.
    let mut dev = Device::new();
    let mut current = Api::new(&app.base, dev.id).with_app_version("1.10.2");
    current.login(&username, PASSWORD).await.expect("login");
    let mut stale = current.clone().with_app_version("1.3.0");
    let m = dev.create("household", dev.new_id(), household(VILLAGE_A, "旧"));
    let e = stale.push(vec![m]).await.expect_err("refused");
    assert_eq!(e.code(), Some(ErrorCode::UpgradeRequired));
    let e = stale.refresh().await.expect_err("refused");
    assert_eq!(e.code(), Some(ErrorCode::UpgradeRequired));
    let (changes, _, _) = current.pull_all(None, None).await.expect("pull");
    assert!(changes.is_empty(), "nothing was written: {changes:?}");

    // Without the header (a probe, curl, the console) the server answers.
    let res = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("healthz");
    assert!(res.status().is_success());
}
