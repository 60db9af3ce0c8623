//! The OpenAPI document stays what the code says: the committed `mobile-contract/openapi.json`
//! equals the document the handlers describe, the server serves that document, every route of
//! the routers is in it, and every operation in it is answered by a route.
//! `FIELDSYNC_UPDATE_CONTRACT=1 cargo test -p fieldsync-server --test api openapi` rewrites the
//! committed file.

use std::collections::BTreeSet;

use fieldsync_server::http::openapi;
use serde_json::Value;

use crate::helpers::*;

const COMMITTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mobile-contract/openapi.json"
);
const HTTP_SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");

fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(openapi::openapi()).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

#[test]
fn the_committed_document_is_what_the_code_says() {
    let mut text = openapi::to_json();
    text.push('\n');
    if std::env::var_os("FIELDSYNC_UPDATE_CONTRACT").is_some() {
        std::fs::write(COMMITTED, &text).unwrap();
        return;
    }
    let have = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        have == text,
        "mobile-contract/openapi.json is not what the code says; run \
         FIELDSYNC_UPDATE_CONTRACT=1 cargo test -p fieldsync-server --test api openapi and review the diff"
    );
    let doc: Value = serde_json::from_str(&have).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

/// Every `.route("…", get(…).post(…))` in the routers, read from their source: a route added
/// without its `#[utoipa::path]` fails here.
fn routed() -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for entry in std::fs::read_dir(HTTP_SOURCES).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in source.split(".route(").skip(1) {
            let call = call.trim_start();
            let Some(rest) = call.strip_prefix('"') else {
                continue;
            };
            let (path, handlers) = rest.split_once('"').unwrap();
            // The handlers run to the call's closing parenthesis on its own level.
            let mut depth = 1;
            let end = handlers
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(handlers.len(), |(i, _)| i);
            for method in ["get", "post", "put", "head", "delete", "patch"] {
                let named = |prefix: &str| handlers[..end].contains(&format!("{prefix}{method}("));
                if named(" ") || named(",") || named(".") || named("\n") {
                    ops.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    ops
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let routed = routed();
    assert!(
        routed.len() > 30,
        "the route scan found too little: {routed:?}"
    );
    let documented = documented();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes without a #[utoipa::path]: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

#[tokio::test]
async fn the_server_serves_the_document_and_answers_every_operation_in_it() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let served: Value = client
        .get(format!("{}/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, serde_json::to_value(openapi::openapi()).unwrap());

    // Without a login every operation answers, but none with the router's "no such endpoint"
    // or "method not allowed".
    for (method, path) in documented() {
        let url = format!(
            "{}{}",
            app.base,
            path.replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{sha256}", &"ab".repeat(32))
                .replace("{code}", VILLAGE_A)
        );
        let res = client
            .request(method.parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        assert!(
            status != 405 && !(status == 404 && body.contains("no such endpoint")),
            "{method} {path}: {status} {body}"
        );
    }
}
