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

/// The same phone handed to another cadre: the first cadre's token stops working.
#[tokio::test]
async fn a_device_moves_to_its_new_user() {
    let app = spawn_app().await;
    let first = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (_, second) = app.user(Role::GridWorker, &[VILLAGE_B]).await;
    let mut same_phone = Api::new(&app.base, first.dev.id);
    same_phone.login(&second, PASSWORD).await.unwrap();
    assert_eq!(
        first.api.pull(None, None).await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
    let page = same_phone.pull(None, None).await.unwrap();
    assert_eq!(page.scopes, [VILLAGE_B]);
}
