//! Access tokens: expiry, tampering, `alg: none`, malformed headers; sessions ended by the
//! server stop their tokens at once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_protocol::{ErrorCode, Role};
use fieldsync_server::auth::{Claims, TokenKeys};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn get_with(app: &TestApp, authorization: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}/v1/sync/pull", app.base))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    let phone = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let good = phone.api.access_token().unwrap().to_owned();
    assert_eq!(get_with(&app, &format!("Bearer {good}")).await.0, 200);
    let claims = claims_of(&good);

    // Expired: signed with the real key, but an hour old.
    let secret = app.store.server_secret("jwt-hs256", 0).await.unwrap();
    let keys = TokenKeys::from_secret(&secret);
    let now = jsonwebtoken::get_current_timestamp();
    let sid: Uuid = claims["sid"].as_str().unwrap().parse().unwrap();
    let expired = keys.issue(&Claims::new(
        phone.user_id,
        phone.dev.id,
        sid,
        Role::GridWorker,
        now - 3600,
        900,
    ));
    let (status, body) = get_with(&app, &format!("Bearer {expired}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );

    // Tampered: the payload changed to another role, the signature kept.
    let mut forged = claims.clone();
    forged["role"] = json!("admin");
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    let (status, body) = get_with(&app, &format!("Bearer {tampered}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert_eq!(get_with(&app, &format!("Bearer {unsigned}")).await.0, 401);

    // Signed with another key.
    let other = TokenKeys::from_secret(b"a key that is not the server's!!").issue(&Claims::new(
        phone.user_id,
        phone.dev.id,
        sid,
        Role::GridWorker,
        now,
        900,
    ));
    assert_eq!(get_with(&app, &format!("Bearer {other}")).await.0, 401);

    for header in [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer x.y.z",
        "Bearer a.b",
        &format!("Bearer {}", "x".repeat(5000)),
    ] {
        let (status, body) = get_with(&app, header).await;
        assert_eq!(status, 401, "{header:.40}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

#[tokio::test]
async fn oversized_headers_are_refused_without_a_server_error() {
    let app = spawn_app().await;
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", app.base))
        .header("x-padding", "a".repeat(200 * 1024))
        .send()
        .await;
    match r {
        Ok(r) => assert!(r.status().is_client_error(), "{}", r.status()),
        // The server may also close the connection on a header this large.
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    // And the server is still fine afterwards.
    assert_eq!(
        reqwest::get(format!("{}/healthz", app.base))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn ended_sessions_stop_their_access_tokens_at_once() {
    let app = spawn_app().await;
    let mut phone = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let copy = phone.api.clone();
    phone.api.logout().await.unwrap();
    assert_eq!(
        copy.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );

    // An administrator revokes a device: its next request fails, and it cannot log in again.
    let phone = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    phone.api.pull(None, None).await.unwrap();
    revoke_device(&app, phone.dev.id).await;
    assert_eq!(
        phone.api.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
}

async fn revoke_device(app: &TestApp, device: Uuid) {
    use sqlx::Connection;
    let now = fieldsync_server::clock::now_ms();
    if app.db_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
        sqlx::query("UPDATE devices SET revoked_at = $2 WHERE id = $1")
            .bind(device)
            .bind(now)
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
        sqlx::query("UPDATE devices SET revoked_at = $2 WHERE id = $1")
            .bind(device)
            .bind(now)
            .execute(&mut c)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn changing_the_password_logs_out_every_other_session() {
    let app = spawn_app().await;
    let (user, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let here = app.login(user, &username).await;
    let mut elsewhere = app.login(user, &username).await;

    let e = here
        .api
        .change_password("not the password", "new-password-2")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidCredentials));
    let e = here
        .api
        .change_password(PASSWORD, "short")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidValue));

    here.api
        .change_password(PASSWORD, "new-password-2")
        .await
        .unwrap();
    here.api.pull(None, None).await.unwrap();
    assert_eq!(
        elsewhere.api.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
    assert!(elsewhere.api.refresh().await.is_err());
    let mut fresh = fieldsync_client::Api::new(&app.base, Uuid::now_v7());
    assert_eq!(
        fresh.login(&username, PASSWORD).await.unwrap_err().code(),
        Some(ErrorCode::InvalidCredentials)
    );
    fresh.login(&username, "new-password-2").await.unwrap();
}

/// `POST /v1/auth/password` with the session's access token, answered in full.
async fn change_password(
    app: &TestApp,
    access: &str,
    current: &str,
) -> (u16, Option<String>, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/password", app.base))
        .bearer_auth(access)
        .json(&json!({"current_password": current, "new_password": "taken-over-pw-9"}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn password_is_still(app: &TestApp, user: Uuid, password: &str) -> bool {
    let stored = app
        .store
        .user_by_id(user)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    fieldsync_server::auth::password::verify(&stored, password)
}

/// The issue's sequence: whoever holds a stolen session guesses the current password fifteen
/// times, then sends the right one. The guessing session ends at the fifth wrong guess, so the
/// right password never changes anything; the username is limited like logins.
#[tokio::test]
async fn a_stolen_session_cannot_guess_the_password_to_change_it() {
    let app = spawn_app().await;
    let (user, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let thief = app.login(user, &username).await;
    let access = thief.api.access_token().unwrap().to_owned();
    let mut answers = Vec::new();
    for i in 0..15 {
        let (status, _, body) = change_password(&app, &access, &format!("guess-{i:02}-pw")).await;
        answers.push((
            status,
            body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let (status, _, _) = change_password(&app, &access, PASSWORD).await;
    assert_ne!(
        status, 204,
        "the sixteenth, right, guess changed the password: {answers:?}"
    );
    let wrong = (401, "invalid_credentials".to_owned());
    let ended = (401, "device_revoked".to_owned());
    assert_eq!(answers[..5], vec![wrong; 5], "{answers:?}");
    assert_eq!(
        answers[5..],
        vec![ended; 10],
        "the session ended at the fifth: {answers:?}"
    );
    assert_eq!(
        thief.api.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
    assert!(password_is_still(&app, user, PASSWORD).await);

    // Logging in again needs the password, and the username is limited like after failed logins.
    let mut relogin = fieldsync_client::Api::new(&app.base, Uuid::now_v7());
    assert_eq!(
        relogin.login(&username, PASSWORD).await.unwrap_err().code(),
        Some(ErrorCode::RateLimited)
    );
}

/// Wrong current passwords count per user across sessions: once the user is limited, even the
/// right password is answered 429 with `Retry-After`, from any session.
#[tokio::test]
async fn the_password_change_is_limited_per_user_like_logins() {
    let app = spawn_app().await;
    let (user, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let a = app.login(user, &username).await;
    let b = app.login(user, &username).await;
    let c = app.login(user, &username).await;
    let (a, b, c) = (
        a.api.access_token().unwrap().to_owned(),
        b.api.access_token().unwrap().to_owned(),
        c.api.access_token().unwrap().to_owned(),
    );
    for (access, n) in [(&a, 3), (&b, 2)] {
        for _ in 0..n {
            let (status, _, body) = change_password(&app, access, "not-the-password").await;
            assert_eq!(
                (status, body["error"]["field"].as_str()),
                (401, Some("current_password"))
            );
        }
    }
    let (status, retry, body) = change_password(&app, &c, PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(password_is_still(&app, user, PASSWORD).await);
    // Neither session used up its own tries: both still work.
    for access in [&a, &b] {
        let r = reqwest::Client::new()
            .get(format!("{}/v1/sync/pull", app.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}
