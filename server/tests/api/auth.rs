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
