//! Bad input: a clear 4xx in the contract's error shape, the rest of the batch applied,
//! nothing half-written.

use fieldsync_client::ClientError;
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::Role;
use fieldsync_protocol::push::{PushResponse, Status};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn api_error(e: ClientError) -> (StatusCode, ErrorCode) {
    match e {
        ClientError::Api { status, body } => (status, body.error.code),
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn each_bad_mutation_is_rejected_alone() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    a.api
        .push(vec![a.dev.create(
            "household",
            h,
            household(VILLAGE_A, "周"),
        )])
        .await
        .unwrap();

    let good_before = a
        .dev
        .create("household", a.dev.new_id(), household(VILLAGE_A, "好一"));
    let good_after = a.dev.update("household", h, 1, json!({"grid": "三组"}));
    let mut future_hlc = a.dev.update("household", h, 1, json!({"grid": "四组"}));
    future_hlc.hlc.wall_ms += 3 * 3600 * 1000;
    let mut bad_gps = a.dev.update("household", h, 1, json!({"grid": "五组"}));
    bad_gps.gps = Some(serde_json::from_value(json!({"lat": 95.0, "lon": 106.2, "accuracy_m": 5.0, "crs": "wgs84", "fix_at": "2026-11-28T10:00:00Z"})).unwrap());
    let mut v4_id = a.dev.create(
        "household",
        uuid::Uuid::new_v4(),
        household(VILLAGE_A, "v4"),
    );
    v4_id.id = uuid::Uuid::new_v4();
    let orphan_member = a.dev.create(
        "member",
        a.dev.new_id(),
        json!({"household_id": uuid::Uuid::now_v7().to_string(), "name": "孤"}),
    );
    let rejected_create_id = a.dev.new_id();

    let mut batch: Vec<Value> = vec![serde_json::to_value(&good_before).unwrap()];
    let cases: Vec<(Value, ErrorCode, Option<&str>)> = vec![
        (
            serde_json::to_value(a.dev.create("tractor", a.dev.new_id(), json!({}))).unwrap(),
            ErrorCode::UnknownEntity,
            Some("entity"),
        ),
        (
            serde_json::to_value(a.dev.update("household", h, 1, json!({"colour": "red"})))
                .unwrap(),
            ErrorCode::UnknownField,
            Some("fields.colour"),
        ),
        (
            serde_json::to_value(a.dev.update(
                "household",
                h,
                1,
                json!({"household_size": "three"}),
            ))
            .unwrap(),
            ErrorCode::InvalidType,
            Some("fields.household_size"),
        ),
        (
            serde_json::to_value(a.dev.update(
                "household",
                h,
                1,
                json!({"monitoring_type": "rich"}),
            ))
            .unwrap(),
            ErrorCode::InvalidValue,
            Some("fields.monitoring_type"),
        ),
        (
            serde_json::to_value(a.dev.update("household", h, 9, json!({"grid": "x"}))).unwrap(),
            ErrorCode::BaseVersionFromFuture,
            Some("base_version"),
        ),
        (
            serde_json::to_value(a.dev.update(
                "household",
                h,
                1,
                json!({"village_code": VILLAGE_B}),
            ))
            .unwrap(),
            ErrorCode::ImmutableField,
            Some("fields.village_code"),
        ),
        (
            serde_json::to_value(&future_hlc).unwrap(),
            ErrorCode::HlcInFuture,
            Some("hlc.wall_ms"),
        ),
        (
            serde_json::to_value(&bad_gps).unwrap(),
            ErrorCode::InvalidGps,
            Some("gps.lat"),
        ),
        (
            serde_json::to_value(&v4_id).unwrap(),
            ErrorCode::InvalidId,
            Some("id"),
        ),
        (
            serde_json::to_value(&orphan_member).unwrap(),
            ErrorCode::UnknownReference,
            Some("fields.household_id"),
        ),
        (
            serde_json::to_value(a.dev.create(
                "household",
                rejected_create_id,
                json!({"village_code": VILLAGE_A}),
            ))
            .unwrap(),
            ErrorCode::MissingField,
            Some("fields.head_name"),
        ),
        (
            json!({"mutation_id": uuid::Uuid::now_v7(), "entity": "household", "op": "upsert"}),
            ErrorCode::InvalidMutation,
            None,
        ),
        (
            json!("not even an object"),
            ErrorCode::InvalidMutation,
            None,
        ),
    ];
    for (m, _, _) in &cases {
        batch.push(m.clone());
    }
    batch.push(serde_json::to_value(&good_after).unwrap());

    let res: PushResponse = a
        .api
        .post_json(
            "/v1/sync/push",
            &json!({"device_id": a.dev.id, "mutations": batch}),
        )
        .await
        .unwrap();
    assert_eq!(res.results.len(), cases.len() + 2);
    assert_eq!(res.results[0].status, Status::Applied);
    assert_eq!(
        res.results.last().unwrap().status,
        Status::Applied,
        "the good mutation after the bad ones applies"
    );
    for ((_, code, field), r) in cases.iter().zip(&res.results[1..]) {
        assert_eq!(r.status, Status::Rejected, "{code:?}");
        let e = r.error.as_ref().unwrap();
        assert_eq!(e.code, *code, "{}", e.message);
        if let Some(f) = field {
            assert_eq!(e.field.as_deref(), Some(*f), "{code:?}");
        }
        assert!(!e.message.is_empty());
    }
    assert!(
        app.store
            .record(rejected_create_id)
            .await
            .unwrap()
            .is_none(),
        "nothing of a rejected mutation is written"
    );
    let rec = app.store.record(h).await.unwrap().unwrap();
    assert_eq!(
        (rec.version, rec.fields.0["grid"].as_str()),
        (2, Some("三组"))
    );
}

/// zstd bodies, as the phone app sends them: applied when good, `body_too_large` when they
/// would decompress past the limit (whether the frame says its size or not: a small upload must
/// not become a large allocation), a 400 naming the body when they are not zstd at all.
#[tokio::test]
async fn zstd_bodies_are_decompressed_within_the_body_limit() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 16 * 1024).await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let http = reqwest::Client::new();
    let token = a.api.access_token().unwrap().to_owned();
    let post = |body: Vec<u8>| {
        http.post(format!("{}/v1/sync/push", app.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("content-encoding", "zstd")
            .body(body)
            .send()
    };
    let code_of = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_owned();
    let streamed = |plain: &[u8]| {
        let mut packed = Vec::new();
        let mut encoder = zstd::stream::write::Encoder::new(&mut packed, 3).unwrap();
        std::io::Write::write_all(&mut encoder, plain).unwrap();
        encoder.finish().unwrap();
        packed
    };

    let h = a.dev.new_id();
    let push = json!({"device_id": a.dev.id,
                      "mutations": [a.dev.create("household", h, household(VILLAGE_A, "马"))]})
    .to_string();
    for body in [
        zstd::bulk::compress(push.as_bytes(), 3).unwrap(),
        streamed(push.as_bytes()),
    ] {
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), 200);
        let answer: PushResponse = r.json().await.unwrap();
        assert!(
            matches!(
                answer.results[0].status,
                Status::Applied | Status::Duplicate
            ),
            "{answer:?}"
        );
    }
    assert!(app.store.record(h).await.unwrap().is_some());

    let big =
        json!({"device_id": a.dev.id, "mutations": [], "padding": "x".repeat(1 << 20)}).to_string();
    for body in [
        zstd::bulk::compress(big.as_bytes(), 3).unwrap(),
        streamed(big.as_bytes()),
    ] {
        assert!(body.len() < 16 * 1024, "the upload itself is small");
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), 413);
        assert_eq!(code_of(&r.json().await.unwrap()), "body_too_large");
    }

    let r = post(push.into_bytes()).await.unwrap();
    assert_eq!(r.status(), 400);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(code_of(&answer), "invalid_json", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("request body")),
        "{answer}"
    );
}

#[tokio::test]
async fn malformed_requests_get_contract_errors() {
    let app = spawn_app_with(|s| {
        s.limits.max_batch = 5;
        s.limits.max_body_bytes = 16 * 1024;
    })
    .await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let http = reqwest::Client::new();
    let token = a.api.access_token().unwrap().to_owned();
    let post = |body: String, ct: Option<&'static str>| {
        let mut r = http
            .post(format!("{}/v1/sync/push", app.base))
            .bearer_auth(&token)
            .body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let code_of = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_owned();

    let r = post("{\"device_id\": ".into(), Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code_of(&r.json().await.unwrap()), "invalid_json");

    let r = post("{}".into(), None).await.unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(code_of(&r.json().await.unwrap()), "invalid_json");

    let r = post(
        json!({"device_id": a.dev.id}).to_string(),
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400, "mutations missing");

    // A body of the wrong shape is told where: the message names the field.
    let r = post(
        json!({"device_id": a.dev.id, "mutations": 5}).to_string(),
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code_of(&body), "invalid_json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(": mutations: invalid type"), "{body}");

    // A `+json` type and parameters are JSON too; another type is not.
    let empty = json!({"device_id": a.dev.id, "mutations": []}).to_string();
    let r = post(
        empty.clone(),
        Some("application/fieldsync+json; charset=utf-8"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(empty, Some("text/plain")).await.unwrap();
    assert_eq!(r.status(), 415);

    let big = json!({"device_id": a.dev.id, "mutations": [], "padding": "x".repeat(20 * 1024)})
        .to_string();
    let r = post(big, Some("application/json")).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(code_of(&r.json().await.unwrap()), "body_too_large");

    let six: Vec<_> = (0..6)
        .map(|i| {
            a.dev.create(
                "household",
                a.dev.new_id(),
                household(VILLAGE_A, &format!("{i}")),
            )
        })
        .collect();
    let e = a.api.push(six).await.unwrap_err();
    assert_eq!(
        api_error(e),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BatchTooLarge)
    );
    assert_eq!(
        app.store.sync_stats().await.unwrap().records,
        0,
        "an oversized batch writes nothing"
    );

    let other = uuid::Uuid::now_v7();
    let e = a
        .api
        .post_json::<_, Value>(
            "/v1/sync/push",
            &json!({"device_id": other, "mutations": []}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        api_error(e),
        (StatusCode::FORBIDDEN, ErrorCode::DeviceMismatch)
    );

    let e = a.api.pull(Some("garbage"), None).await.unwrap_err();
    assert_eq!(
        api_error(e),
        (StatusCode::BAD_REQUEST, ErrorCode::InvalidCursor)
    );
    let e = a
        .api
        .get_json::<Value>("/v1/sync/pull?limit=0")
        .await
        .unwrap_err();
    assert_eq!(
        api_error(e),
        (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest)
    );
    let e = a
        .api
        .get_json::<Value>("/v1/sync/pull?limit=many")
        .await
        .unwrap_err();
    assert_eq!(
        api_error(e),
        (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest)
    );
    let e = a
        .api
        .get_json::<Value>("/v1/no-such-thing")
        .await
        .unwrap_err();
    assert_eq!(api_error(e), (StatusCode::NOT_FOUND, ErrorCode::NotFound));
}
