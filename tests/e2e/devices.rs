//! A phone is lost, or a cadre leaves: the admin shuts the device or the person out from the
//! console, and the server must refuse them from their very next request, not when a token
//! expires. Both are undone as easily.

use fieldsync_client::{Api, ClientError, Device};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::push::{ClientInfo, Status};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Outcome, PASSWORD, TestEnv, VILLAGE};

/// The HTTP status and error code of a refused request.
fn refusal<T: std::fmt::Debug>(res: Result<T, ClientError>) -> (StatusCode, ErrorCode) {
    match res {
        Err(ClientError::Api { status, body }) => (status, body.error.code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn ok(out: &Outcome, what: &str) {
    assert!(out.status.success(), "{what}: {out:?}");
}

#[tokio::test]
async fn a_revoked_device_is_refused_at_once_until_unrevoked() {
    let env = TestEnv::new().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    let server = env.serve().await;
    let mut lost = server.phone("ma").await;
    let other = server.phone("ma").await;
    let id = lost.dev.new_id();
    let create = lost.dev.create(
        "household",
        id,
        json!({"village_code": VILLAGE, "head_name": "马德福"}),
    );
    let info = ClientInfo {
        app_version: Some("1.4.2".into()),
        outbox_depth: Some(3),
        oldest_unsent_s: Some(60),
    };
    let res = lost.api.push_with(vec![create], Some(info)).await.unwrap();
    assert_eq!(res.results[0].status, Status::Applied);

    let out = env.admin(&["devices"], "").await;
    ok(&out, "devices");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two devices: {}", out.stdout);
    assert!(
        lines[0].starts_with("device") && lines[0].contains("last seen (UTC+8)"),
        "{}",
        lines[0]
    );
    let row = |id: Uuid, stdout: &str| -> String {
        stdout
            .lines()
            .find(|l| l.starts_with(&id.to_string()))
            .unwrap_or_else(|| panic!("{id} is not listed: {stdout}"))
            .to_owned()
    };
    let today = fieldsync_server::clock::iso(fieldsync_server::clock::today());
    let lost_row = row(lost.dev.id, &out.stdout);
    let cols: Vec<&str> = lost_row.split_whitespace().collect();
    assert_eq!(cols[1], "ma", "{lost_row}");
    assert_eq!(cols[2], today, "local dates: {lost_row}");
    assert_eq!(&cols[6..], ["1.4.2", "3", "active"], "{lost_row}");
    let other_row = row(other.dev.id, &out.stdout);
    let cols: Vec<&str> = other_row.split_whitespace().collect();
    assert_eq!(&cols[6..], ["-", "-", "active"], "{other_row}");
    let out = env.admin(&["devices", "--username", "ma"], "").await;
    ok(&out, "devices --username");
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);

    let out = env
        .admin(&["revoke-device", &lost.dev.id.to_string()], "")
        .await;
    ok(&out, "revoke-device");
    assert!(
        out.stdout
            .contains(&format!("revoked device {} of ma", lost.dev.id)),
        "{}",
        out.stdout
    );
    assert_eq!(
        refusal(lost.api.pull(None, None).await),
        (StatusCode::UNAUTHORIZED, ErrorCode::DeviceRevoked),
        "the next pull is refused"
    );
    assert!(
        lost.api.refresh().await.is_err(),
        "its refresh token is gone"
    );
    let mut again = Api::new(&server.base, lost.dev.id);
    assert_eq!(
        refusal(again.login("ma", PASSWORD).await).1,
        ErrorCode::DeviceRevoked,
        "it cannot log in again"
    );
    other
        .api
        .pull(None, None)
        .await
        .expect("the user's other phone goes on working");

    let out = env.admin(&["devices"], "").await;
    ok(&out, "devices");
    let revoked = row(lost.dev.id, &out.stdout);
    assert!(revoked.contains(&format!("revoked {today}")), "{revoked}");
    let out = env
        .admin(&["revoke-device", &lost.dev.id.to_string()], "")
        .await;
    ok(&out, "revoke twice");
    assert!(out.stdout.contains("was already revoked"), "{}", out.stdout);

    let out = env
        .admin(&["unrevoke-device", &lost.dev.id.to_string()], "")
        .await;
    ok(&out, "unrevoke-device");
    assert!(out.stdout.contains("may log in again"), "{}", out.stdout);
    assert_eq!(
        refusal(lost.api.pull(None, None).await).0,
        StatusCode::UNAUTHORIZED,
        "the session the revocation ended stays ended"
    );
    let mut found = Api::new(&server.base, lost.dev.id);
    found.login("ma", PASSWORD).await.unwrap();
    found.pull(None, None).await.unwrap();
    let out = env.admin(&["devices", "--username", "ma"], "").await;
    assert!(
        row(lost.dev.id, &out.stdout).ends_with("active"),
        "{}",
        out.stdout
    );

    let unknown = Uuid::now_v7().to_string();
    for (args, message) in [
        (
            vec!["revoke-device", "not-a-device"],
            "\"not-a-device\" is not a device id",
        ),
        (
            vec!["unrevoke-device", "12345"],
            "\"12345\" is not a device id",
        ),
        (vec!["revoke-device", unknown.as_str()], "no device"),
        (
            vec!["devices", "--username", "nobody"],
            "no user named \"nobody\"",
        ),
    ] {
        let out = env.admin(&args, "").await;
        assert!(!out.status.success(), "{args:?} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_until_enabled() {
    let env = TestEnv::new().await;
    let out = env.admin(&["devices"], "").await;
    ok(&out, "devices");
    assert_eq!(
        out.stdout.trim(),
        "no devices (a device appears at its first login)"
    );
    env.create_user("ma", "grid_worker", VILLAGE).await;
    env.create_user("li", "grid_worker", VILLAGE).await;
    let server = env.serve().await;
    let mut ma = server.phone("ma").await;

    let out = env.admin(&["disable-user", "ma"], "").await;
    ok(&out, "disable-user");
    assert!(out.stdout.starts_with("disabled ma:"), "{}", out.stdout);
    let mut fresh = Api::new(&server.base, Device::new().id);
    assert_eq!(
        refusal(fresh.login("ma", PASSWORD).await),
        (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
    );
    assert_eq!(
        refusal(ma.api.pull(None, None).await).0,
        StatusCode::UNAUTHORIZED,
        "the phone already logged in is refused too"
    );
    assert!(ma.api.refresh().await.is_err(), "its sessions are ended");
    server.phone("li").await;
    let users = env.admin(&["users"], "").await;
    assert!(
        users
            .stdout
            .lines()
            .any(|l| l.starts_with("ma ") && l.ends_with("(disabled)")),
        "{}",
        users.stdout
    );
    let out = env.admin(&["disable-user", "ma"], "").await;
    ok(&out, "disable twice");
    assert!(
        out.stdout.contains("ma was already disabled"),
        "{}",
        out.stdout
    );

    let out = env.admin(&["enable-user", "ma"], "").await;
    ok(&out, "enable-user");
    assert!(out.stdout.starts_with("enabled ma"), "{}", out.stdout);
    assert_eq!(
        refusal(ma.api.pull(None, None).await).0,
        StatusCode::UNAUTHORIZED,
        "sessions ended by disabling stay ended: the phone logs in anew"
    );
    fresh.login("ma", PASSWORD).await.unwrap();
    fresh.pull(None, None).await.unwrap();
    let out = env.admin(&["enable-user", "ma"], "").await;
    ok(&out, "enable twice");
    assert!(out.stdout.contains("ma was not disabled"), "{}", out.stdout);

    for args in [["disable-user", "nobody"], ["enable-user", "nobody"]] {
        let out = env.admin(&args, "").await;
        assert!(!out.status.success(), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("no user named \"nobody\""),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[tokio::test]
async fn a_phone_changes_hands_only_when_the_administrator_hands_it_over() {
    let env = TestEnv::new().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    env.create_user("li", "grid_worker", VILLAGE).await;
    env.create_user("wang", "grid_worker", VILLAGE).await;
    let server = env.serve().await;
    let ma = server.phone("ma").await;
    let id = ma.dev.id.to_string();

    // Li knows the phone's id (it shows in conflict lists, device lists, receipts).
    let mut li = Api::new(&server.base, ma.dev.id);
    assert_eq!(
        refusal(li.login("li", PASSWORD).await),
        (StatusCode::CONFLICT, ErrorCode::DeviceTaken)
    );
    ma.api
        .pull(None, None)
        .await
        .expect("ma's session is untouched");

    let out = env
        .admin(&["hand-over-device", &id, "--to", "li"], "")
        .await;
    ok(&out, "hand-over-device");
    assert!(
        out.stdout.contains(&format!(
            "device {id} now belongs to li: ma is refused on it"
        )) && out.stdout.contains("(1 sessions ended)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        refusal(ma.api.pull(None, None).await),
        (StatusCode::UNAUTHORIZED, ErrorCode::DeviceRevoked),
        "ma's session on it ended"
    );
    li.login("li", PASSWORD)
        .await
        .expect("li logs in on it now");
    li.pull(None, None).await.expect("and works");
    let out = env.admin(&["devices", "--username", "li"], "").await;
    assert!(out.stdout.contains(&id), "{}", out.stdout);

    let out = env
        .admin(&["hand-over-device", &id, "--to", "li"], "")
        .await;
    ok(&out, "hand over again");
    assert!(
        out.stdout
            .contains("already registered to li; nothing changed"),
        "{}",
        out.stdout
    );
    li.pull(None, None).await.expect("nothing changed for li");

    ok(&env.admin(&["disable-user", "wang"], "").await, "disable");
    let unknown = Uuid::now_v7().to_string();
    for (args, message) in [
        (
            vec!["hand-over-device", id.as_str(), "--to", "nobody"],
            "no user named \"nobody\"",
        ),
        (
            vec!["hand-over-device", unknown.as_str(), "--to", "li"],
            "no device",
        ),
        (
            vec!["hand-over-device", "12345", "--to", "li"],
            "\"12345\" is not a device id",
        ),
        (
            vec!["hand-over-device", id.as_str(), "--to", "wang"],
            "wang is disabled",
        ),
    ] {
        let out = env.admin(&args, "").await;
        assert!(!out.status.success(), "{args:?} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    li.pull(None, None)
        .await
        .expect("refused commands changed nothing");
}
