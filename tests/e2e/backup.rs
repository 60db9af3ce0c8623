//! Back up, wipe, restore: the records (ID-card numbers included, still encrypted with the same
//! key), the photo and its thumbnail come back identical; a second restore into a non-empty
//! backup directory and a foreign directory are refused clearly.

use std::collections::BTreeMap;

use fieldsync_protocol::push::Status;
use fieldsync_server::testing::photo::TestPhoto;
use serde_json::{Value, json};

use crate::harness::{Phone, TestEnv, VILLAGE};

/// 32 bytes, base64: the key is kept apart from the backup, as the runbook says.
const KEY: &str = "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

async fn get(base: &str, phone: &Phone, path: &str) -> (u16, Vec<u8>) {
    let res = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(phone.api.access_token().unwrap_or_default())
        .send()
        .await
        .expect("get");
    (
        res.status().as_u16(),
        res.bytes().await.expect("body").to_vec(),
    )
}

/// Everything the phone pulls, by id: entity, version, fields.
async fn state(phone: &Phone) -> BTreeMap<String, Value> {
    let (changes, _, _) = phone.api.pull_all(None, None).await.expect("pull");
    changes
        .into_iter()
        .map(|c| {
            (
                c.id.to_string(),
                json!({"entity": c.entity, "version": c.version, "fields": c.fields}),
            )
        })
        .collect()
}

#[tokio::test]
async fn back_up_wipe_restore_and_everything_is_identical() {
    let mut env = TestEnv::new().await;
    env.set("FIELDSYNC_DATA_KEY", KEY);
    let mut server = env.serve().await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    let mut phone = server.phone("secretary").await;
    let photo = TestPhoto::new(600, 450).orientation(6).jpeg();
    let name = fieldsync_client::photo_name(&photo);
    let h = phone.dev.new_id();
    let household = phone.dev.create(
        "household",
        h,
        json!({"village_code": VILLAGE, "head_name": "马德福", "head_id_card": "11010519491231002X"}),
    );
    let check = phone.dev.create(
        "housing_check",
        phone.dev.new_id(),
        json!({"household_id": h.to_string(), "captured_at": "2026-11-28T10:00:00+08:00",
               "appraisal_grade": "B", "photos": [name]}),
    );
    let res = phone.api.push(vec![household, check]).await.expect("push");
    assert!(
        res.results.iter().all(|r| r.status == Status::Applied),
        "{res:?}"
    );
    phone
        .api
        .upload_photo(&name, &photo, 64 * 1024)
        .await
        .expect("upload");
    let thumb_path = format!("/v1/blobs/{name}/thumb");
    let mut thumb = Vec::new();
    for _ in 0..200 {
        let (status, body) = get(&server.base, &phone, &thumb_path).await;
        if status == 200 {
            thumb = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!thumb.is_empty(), "the thumbnail is made");
    let (_, photo) = get(&server.base, &phone, &format!("/v1/blobs/{name}")).await;
    let before = state(&phone).await;

    // Backed up while the server runs.
    let dir = env.root().join("backup");
    let out = env
        .admin(&["backup", "--out", dir.to_str().unwrap_or_default()], "")
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("objects"), "{}", out.stdout);
    let again = env
        .admin(&["backup", "--out", dir.to_str().unwrap_or_default()], "")
        .await;
    assert!(
        !again.status.success() && again.stderr.contains("not empty"),
        "{again:?}"
    );

    // Wipe: the server stops, its data directory and database are gone.
    server.terminate().await;
    std::fs::remove_dir_all(env.data_dir()).expect("wipe the data directory");
    if let Some(url) = env.var("FIELDSYNC_DATABASE_URL").map(str::to_owned) {
        let status = tokio::process::Command::new("psql")
            .env("PGOPTIONS", "--client-min-messages=warning")
            .arg(&url)
            .arg("-qc")
            .arg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .status()
            .await
            .expect("psql");
        assert!(status.success());
    }

    let nowhere = env.root().join("nothing-here");
    std::fs::create_dir_all(&nowhere).expect("dir");
    let refused = env
        .admin(
            &["restore", "--from", nowhere.to_str().unwrap_or_default()],
            "",
        )
        .await;
    assert!(
        !refused.status.success() && refused.stderr.contains("no backup"),
        "{refused:?}"
    );

    let out = env
        .admin(&["restore", "--from", dir.to_str().unwrap_or_default()], "")
        .await;
    assert!(out.status.success(), "{out:?}");
    let server = env.serve().await;
    let phone = server.phone("secretary").await;
    assert_eq!(
        state(&phone).await,
        before,
        "the same records, versions and fields"
    );
    let (status, photo_after) = get(&server.base, &phone, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(photo_after, photo, "the same photo");
    let (status, thumb_after) = get(&server.base, &phone, &thumb_path).await;
    assert_eq!(status, 200);
    assert_eq!(thumb_after, thumb, "the same thumbnail");
}
