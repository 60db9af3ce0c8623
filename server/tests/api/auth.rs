//! Login, tokens and device sessions as far as sync needs them.

use fieldsync_client::Api;
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn login_refresh_and_logout() {
    let app = spawn_app().await;
    let (_, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let mut api = Api::new(&app.base, Uuid::now_v7());
    assert_eq!(
        api.login(&username, "wrong password")
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::InvalidCredentials)
    );
    assert_eq!(
        api.login("nobody", PASSWORD).await.unwrap_err().code(),
        Some(ErrorCode::InvalidCredentials)
    );
    let t = api.login(&username, PASSWORD).await.unwrap();
    assert_eq!((t.expires_in, t.user.role), (900, Role::GridWorker));

    let old = api.clone();
    api.refresh().await.unwrap();
    api.pull(None, None).await.unwrap();
    // A refresh token is good once; presenting the old copy again ends the session: the
    // refresh tokens and the access tokens of both copies stop working at once.
    let mut stolen = old.clone();
    assert_eq!(
        stolen.refresh().await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
    assert_eq!(
        api.clone().refresh().await.unwrap_err().code(),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        api.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked),
        "the access token of an ended session is refused before it expires"
    );

    let mut fresh = Api::new(&app.base, Uuid::now_v7());
    fresh.login(&username, PASSWORD).await.unwrap();
    let mut kept_copy = fresh.clone();
    fresh.logout().await.unwrap();
    assert_eq!(
        kept_copy.refresh().await.unwrap_err().code(),
        Some(ErrorCode::Unauthorized),
        "logout ends the session"
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    let anonymous = Api::new(&app.base, Uuid::now_v7());
    assert_eq!(
        anonymous.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::Unauthorized)
    );
    let r = reqwest::Client::new()
        .get(format!("{}/v1/sync/pull", app.base))
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.e30.bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

/// A login names its device; the device belongs to the user it was first registered to. Another
/// user's login on it (its id is visible in conflict lists, device lists, receipts) is refused
/// and changes nothing of the owner's session; only an administrator hands it over.
#[tokio::test]
async fn a_login_on_another_users_phone_is_refused_until_it_is_handed_over() {
    let app = spawn_app().await;
    let mut first = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (second_id, second) = app.user(Role::GridWorker, &[VILLAGE_B]).await;
    let mut same_phone = Api::new(&app.base, first.dev.id);
    match same_phone.login(&second, PASSWORD).await {
        Err(fieldsync_client::ClientError::Api { status, body }) => {
            assert_eq!(status, 409);
            assert_eq!(body.error.code, ErrorCode::DeviceTaken);
            assert_eq!(body.error.field.as_deref(), Some("device_id"));
            assert!(body.error.message.contains("administrator"), "{body:?}");
        }
        other => panic!("a login on another user's phone was not refused: {other:?}"),
    }
    first
        .api
        .pull(None, None)
        .await
        .expect("the owner's session goes on");
    first
        .api
        .refresh()
        .await
        .expect("and so does its refresh token");
    // The owner logs in again on their own phone: that is no takeover.
    let mut again = Api::new(&app.base, first.dev.id);
    again
        .login(
            &app.store
                .user_by_id(first.user_id)
                .await
                .unwrap()
                .unwrap()
                .username,
            PASSWORD,
        )
        .await
        .expect("the owner logs in again");

    // The administrator hands the phone over: the first user's sessions on it end.
    let handed = app
        .store
        .hand_over_device(first.dev.id, second_id, fieldsync_server::clock::now_ms())
        .await
        .unwrap()
        .expect("the device exists");
    assert_eq!(
        (handed.from_user, handed.sessions_ended),
        (first.user_id, 2)
    );
    for old in [&first.api, &again] {
        assert_eq!(
            old.pull(None, None).await.unwrap_err().code(),
            Some(ErrorCode::DeviceRevoked)
        );
    }
    same_phone.login(&second, PASSWORD).await.unwrap();
    let page = same_phone.pull(None, None).await.unwrap();
    assert_eq!(page.scopes, [VILLAGE_B]);
    let first_name = app
        .store
        .user_by_id(first.user_id)
        .await
        .unwrap()
        .unwrap()
        .username;
    assert_eq!(
        Api::new(&app.base, first.dev.id)
            .login(&first_name, PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::DeviceTaken),
        "now the first user is the stranger on it"
    );
}

/// Posts a refresh token as a phone would, and returns the status and error code.
async fn refresh_raw(app: &TestApp, device_id: Uuid, refresh_token: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/refresh", app.base))
        .json(&serde_json::json!({"refresh_token": refresh_token, "device_id": device_id}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap_or("none").to_owned();
    (status, code)
}

/// The answer to a refresh can be lost on the way (a village link that drops just then). The
/// phone never saw the new tokens and asks again with the token it already spent: that is not
/// a copy being used, and the cadre must not be sent back to the password for it.
#[tokio::test]
async fn a_refresh_asked_again_after_its_answer_was_lost_is_answered_anew() {
    let app = spawn_app().await;
    let (_, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let device = Uuid::now_v7();
    let mut phone = Api::new(&app.base, device);
    let first = phone.login(&username, PASSWORD).await.unwrap();
    // The server spent the token and answered; the answer never reached the phone.
    let lost = phone.clone().refresh().await.unwrap();

    let again = phone
        .refresh()
        .await
        .expect("asked again, the refresh is answered anew");
    assert_ne!(again.refresh_token, lost.refresh_token);
    assert_eq!(
        refresh_raw(&app, device, &lost.refresh_token).await,
        (401, "unauthorized".to_owned()),
        "the pair that never arrived is dropped"
    );
    phone.pull(None, None).await.expect("the session goes on");

    // Once the phone has used what the refresh gave it, the spent token is spent for good: a
    // copy presented now ends the session, as before.
    assert_eq!(
        refresh_raw(&app, device, &first.refresh_token).await,
        (401, "device_revoked".to_owned())
    );
    assert_eq!(
        phone.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
}

/// What makes a re-presented token a retry is that nobody used what it bought: a copy used
/// first (by whoever refreshed with it and went on to sync) or presented from another device
/// ends the session whatever the order.
#[tokio::test]
async fn a_spent_refresh_token_whose_tokens_were_used_or_sent_by_another_device_ends_the_session() {
    let app = spawn_app().await;
    let (_, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;

    // A copy of the phone's tokens refreshes and syncs; the phone then presents its token.
    let mut phone = Api::new(&app.base, Uuid::now_v7());
    phone.login(&username, PASSWORD).await.unwrap();
    let mut copy = phone.clone();
    copy.refresh().await.unwrap();
    copy.pull(None, None).await.unwrap();
    assert_eq!(
        phone.refresh().await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
    assert_eq!(
        copy.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked),
        "the copy's tokens stop working too"
    );

    // Nobody used the new pair yet, but the spent token comes from another device.
    let device = Uuid::now_v7();
    let mut phone = Api::new(&app.base, device);
    let first = phone.login(&username, PASSWORD).await.unwrap();
    let unused = phone.clone().refresh().await.unwrap();
    assert_eq!(
        refresh_raw(&app, Uuid::now_v7(), &first.refresh_token).await,
        (401, "device_revoked".to_owned())
    );
    assert_eq!(
        refresh_raw(&app, device, &unused.refresh_token).await,
        (401, "unauthorized".to_owned()),
        "the session is over"
    );
    assert_eq!(
        phone.refresh().await.unwrap_err().code(),
        Some(ErrorCode::Unauthorized)
    );
}
