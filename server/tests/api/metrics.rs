//! `GET /metrics`: request counts and latencies by route template, push results, and the
//! shared state read from the database; behind a token when one is set.

use fieldsync_protocol::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

pub(crate) async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("scrape");
    (res.status().as_u16(), res.text().await.expect("text"))
}

pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_pushes_by_result() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let good = p
        .dev
        .create("household", p.dev.new_id(), household(VILLAGE_A, "马"));
    let bad = p.dev.create(
        "household",
        p.dev.new_id(),
        json!({"village_code": VILLAGE_A, "head_name": "李", "phone": "12"}),
    );
    p.api.push(vec![good, bad]).await.expect("push");
    p.api.pull_all(None, None).await.expect("pull");
    let _ = p
        .api
        .get_json::<serde_json::Value>(&format!("/v1/households/{}/checks", Uuid::now_v7()))
        .await;

    let (status, text) = scrape(&app, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &text,
            "fieldsync_http_requests_total{route=\"/v1/sync/push\",method=\"POST\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "fieldsync_push_mutations_total{status=\"applied\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "fieldsync_push_mutations_total{status=\"rejected\"}"),
        Some(1.0)
    );
    assert!(value(&text, "fieldsync_records").is_some_and(|n| n >= 1.0));
    // Routes are templates: no record id ever becomes a label.
    assert!(
        text.contains("route=\"/v1/households/{id}/checks\""),
        "{text}"
    );
    assert!(!text.contains(&p.dev.id.to_string()));
    assert!(text.contains(
        "fieldsync_http_request_duration_seconds_bucket{route=\"/v1/sync/pull\",le=\"+Inf\"}"
    ));
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_the_load_balancers() {
    let app = spawn_app().await;
    let res = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("healthz");
    let made = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an id");
    assert!(Uuid::parse_str(&made).is_ok(), "{made}");
    let res = reqwest::Client::new()
        .get(format!("{}/v1/no-such-thing", app.base))
        .header("x-request-id", "nginx-4711")
        .send()
        .await
        .expect("404");
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("nginx-4711")
    );
}

#[tokio::test]
async fn a_metrics_token_keeps_strangers_out() {
    let app =
        spawn_app_with(|s| s.metrics_token = Some("scrape-me-please-7".to_owned().into())).await;
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-me-8")).await.0, 401);
    let (status, text) = scrape(&app, Some("scrape-me-please-7")).await;
    assert_eq!(status, 200);
    assert!(text.contains("fieldsync_sync_head_seq"));
}
