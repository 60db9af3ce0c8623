//! A push whose session pushed before is not read for the request: the committer reads it in
//! the push's own transaction (`Caller::actor_for_push`, `sync::push::still_the_caller`). What
//! every request promised before still holds for such a push: an ended session, a revoked
//! device or a disabled account is refused at its very next push, a change of villages takes
//! effect at once, and the first use of a new pair of tokens spends the refresh token before
//! it.

use fieldsync_client::{Api, ClientError};
use fieldsync_protocol::push::{PushResponse, Status};
use fieldsync_protocol::{ErrorCode, Role};
use fieldsync_server::clock;

use crate::helpers::*;

/// Pushes one new household in `village`.
async fn push_household(phone: &mut Phone, village: &str) -> Result<PushResponse, ClientError> {
    let m = phone.dev.create(
        "household",
        phone.dev.new_id(),
        household(village, "马德福"),
    );
    phone.api.push(vec![m]).await
}

/// A phone that pushed twice, so that its session is known and its next push is checked in
/// the transaction.
async fn known_phone(app: &TestApp) -> (Phone, String) {
    let (user_id, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let mut phone = app.login(user_id, &username).await;
    for _ in 0..2 {
        let r = push_household(&mut phone, VILLAGE_A).await.expect("push");
        assert_eq!(r.results[0].status, Status::Applied);
    }
    (phone, username)
}

#[tokio::test]
async fn a_session_known_from_earlier_pushes_is_refused_at_its_next_push_once_it_ends() {
    let app = spawn_app().await;

    let (mut logged_out, _) = known_phone(&app).await;
    let mut other_copy = logged_out.api.clone();
    other_copy.logout().await.expect("logout");
    let e = push_household(&mut logged_out, VILLAGE_A)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::DeviceRevoked), "{e}");

    let (mut revoked, _) = known_phone(&app).await;
    app.store
        .set_device_revoked(revoked.dev.id, true, clock::now_ms())
        .await
        .expect("revoke");
    let e = push_household(&mut revoked, VILLAGE_A).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::DeviceRevoked), "{e}");

    let (mut disabled, username) = known_phone(&app).await;
    app.store
        .set_user_disabled(&username, true, clock::now_ms())
        .await
        .expect("disable");
    let e = push_household(&mut disabled, VILLAGE_A).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Unauthorized), "{e}");
    // Still refused on the next try: the refusal is not a passing state of a cache.
    let e = push_household(&mut disabled, VILLAGE_A).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Unauthorized), "{e}");
}

#[tokio::test]
async fn villages_taken_away_are_gone_at_the_next_push_and_nothing_of_it_is_written() {
    let app = spawn_app().await;
    let (user_id, username) = app.user(Role::GridWorker, &[VILLAGE_A, VILLAGE_B]).await;
    let mut phone = app.login(user_id, &username).await;
    for village in [VILLAGE_A, VILLAGE_B] {
        let r = push_household(&mut phone, village).await.expect("push");
        assert_eq!(r.results[0].status, Status::Applied);
    }
    let today = clock::today();
    app.store
        .set_assignments(
            user_id,
            &[VILLAGE_B.to_owned()],
            &clock::iso(today),
            &clock::iso(clock::yesterday_of(today)),
        )
        .await
        .expect("reassign");

    // Judged with the old villages: not applied, and the phone is told to send it again.
    let id = phone.dev.new_id();
    let m = phone
        .dev
        .create("household", id, household(VILLAGE_A, "马德福"));
    let e = phone.api.push(vec![m.clone()]).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Unavailable), "{e}");
    let again = phone.api.push(vec![m]).await.expect("sent again");
    assert_eq!(again.results[0].status, Status::Rejected);
    assert_eq!(
        again.results[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::ForbiddenScope)
    );
    assert!(
        app.store.record(id).await.expect("read").is_none(),
        "nothing of the refused push was written"
    );
    let r = push_household(&mut phone, VILLAGE_B).await.expect("push");
    assert_eq!(r.results[0].status, Status::Applied);
}

/// The first request with the pair of tokens a refresh issued spends the refresh token before
/// it for good (`Store::pair_used`): true of a push by a session known from earlier pushes too.
#[tokio::test]
async fn a_new_pair_of_tokens_first_used_by_a_known_sessions_push_spends_the_old_refresh_token() {
    let app = spawn_app().await;
    let (mut phone, _) = known_phone(&app).await;
    let mut old: Api = phone.api.clone();
    phone.api.refresh().await.expect("refresh");
    let r = push_household(&mut phone, VILLAGE_A).await.expect("push");
    assert_eq!(r.results[0].status, Status::Applied);
    // The new pair was used: the old refresh token, presented again from the same device, is
    // a copy, not a retry of a lost answer, and ends the session.
    assert_eq!(
        old.refresh().await.unwrap_err().code(),
        Some(ErrorCode::DeviceRevoked)
    );
    let e = push_household(&mut phone, VILLAGE_A).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::DeviceRevoked), "{e}");
}
