//! `admin rotate-token-key`: after a rotation and a restart, access tokens signed with the old
//! key keep working while they can run, new ones are signed with the new key, refresh tokens
//! are untouched; a second rotation retires the first key for good.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestEnv, VILLAGE};

async fn login(base: &str, device: &str) -> (String, String) {
    let res: Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "ma", "password": PASSWORD, "device_id": device}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    (
        res["access_token"].as_str().expect("access").to_owned(),
        res["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

async fn forms(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/forms"))
        .bearer_auth(token)
        .send()
        .await
        .expect("forms")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_rotated_token_key_lets_running_tokens_finish_and_a_second_rotation_retires_it() {
    let env = TestEnv::new().await;
    let mut server = env.serve().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    let device = uuid::Uuid::now_v7().to_string();
    let (old_access, refresh) = login(&server.base, &device).await;
    assert_eq!(forms(&server.base, &old_access).await, 200);

    let out = env.admin(&["rotate-token-key"], "").await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("restart every server"), "{out:?}");
    server.terminate().await;
    let mut server = env.serve().await;

    // Signed before the rotation: still good while it runs.
    assert_eq!(forms(&server.base, &old_access).await, 200);
    // The refresh token is not signed: it still trades for tokens, now of the new key.
    let refreshed: Value = reqwest::Client::new()
        .post(format!("{}/v1/auth/refresh", server.base))
        .json(&json!({"refresh_token": refresh, "device_id": device}))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let new_access = refreshed["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_ne!(new_access, old_access);
    assert_eq!(forms(&server.base, &new_access).await, 200);

    // A second rotation: the first key is gone, its tokens with it.
    let out = env.admin(&["rotate-token-key"], "").await;
    assert!(out.status.success(), "{out:?}");
    server.terminate().await;
    let server = env.serve().await;
    assert_eq!(forms(&server.base, &old_access).await, 401);
    assert_eq!(forms(&server.base, &new_access).await, 200);
}
