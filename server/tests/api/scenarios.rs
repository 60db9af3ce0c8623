//! Replays every golden sync scenario of `mobile-contract/scenarios/` against a fresh server and
//! compares each response with the one written in the file, exactly: same keys, same values,
//! except values that differ every run (conflict ids, cursors, receipts, the server's time; a step may name more
//! in `ignore`), which the file shows as `"*"`. The phone team builds against these files.
//!
//! `FIELDSYNC_RECORD_SCENARIOS=1` writes the responses into the files instead (review the diff
//! before committing: a golden file is a promise).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fieldsync_client::Api;
use fieldsync_protocol::Role;
use fieldsync_server::clock;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::helpers::*;

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../mobile-contract/scenarios");
/// Values that differ on every run, wherever they appear.
const VOLATILE: &[&str] = &["conflict_id", "cursor", "receipt", "server_time_ms"];

/// `expected` against `actual`: `"*"` matches anything; objects must have the same keys.
fn compare(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::String(s), _) if s == "*" => {}
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => compare(ev, av, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
            for k in a.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{path}.{k}: not expected ({})", a[k]));
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {e}, got {a}")),
    }
}

/// The response as the file keeps it: volatile values replaced by `"*"`.
fn masked(v: Value, ignore: &[String]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if VOLATILE.contains(&k.as_str()) || ignore.contains(&k) {
                        (k, json!("*"))
                    } else {
                        (k, masked(v, ignore))
                    }
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| masked(v, ignore)).collect()),
        v => v,
    }
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SCENARIOS)
        .expect("mobile-contract/scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

async fn replay(path: &Path, record: bool) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("scenario");
    let mut doc: Value = serde_json::from_str(&text).expect("scenario JSON");
    let app = spawn_app().await;
    let mut users: HashMap<String, (Uuid, String)> = HashMap::new();
    for (name, u) in doc["users"].as_object().cloned().unwrap_or_default() {
        let role: Role = serde_json::from_value(u["role"].clone()).expect("role");
        let divisions: Vec<String> =
            serde_json::from_value(u["divisions"].clone()).expect("divisions");
        let divisions: Vec<&str> = divisions.iter().map(String::as_str).collect();
        users.insert(name, app.user_since(role, &divisions, "2025-01-01").await);
    }
    let mut devices: HashMap<String, (Api, Option<String>)> = HashMap::new();
    for (name, d) in doc["devices"].as_object().cloned().unwrap_or_default() {
        let id: Uuid = serde_json::from_value(d["id"].clone()).expect("device id");
        let user = d["user"].as_str().unwrap_or_default();
        let (_, username) = users.get(user).expect("device's user").clone();
        let mut api = Api::new(&app.base, id);
        api.login(&username, PASSWORD).await.expect("login");
        devices.insert(name, (api, None));
    }

    let mut problems = Vec::new();
    let steps = doc["steps"].as_array_mut().expect("steps");
    for (i, step) in steps.iter_mut().enumerate() {
        let ignore: Vec<String> = step["ignore"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let actual: Value = if let Some(a) = step.get("assign") {
            let (user_id, _) = users[a["user"].as_str().unwrap_or_default()].clone();
            let divisions: Vec<String> =
                serde_json::from_value(a["divisions"].clone()).expect("divisions");
            let today = clock::today();
            app.store
                .set_assignments(
                    user_id,
                    &divisions,
                    &clock::iso(today),
                    &clock::iso(clock::yesterday_of(today)),
                )
                .await
                .expect("assign");
            continue;
        } else {
            let name = step["device"].as_str().unwrap_or_default().to_owned();
            let (api, cursor) = devices.get_mut(&name).expect("step's device");
            if let Some(batch) = step.get("push") {
                let body = json!({"device_id": api.device_id(), "mutations": batch});
                api.post_json::<_, Value>("/v1/sync/push", &body)
                    .await
                    .unwrap_or_else(|e| json!({"error": e.to_string()}))
            } else if let Some(batch) = step.get("push_pull") {
                // A push carrying a pull; `cursor` in the step stands for the device's own.
                let from = step
                    .get("cursor")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| cursor.clone());
                let body = json!({"device_id": api.device_id(), "mutations": batch, "pull": {"cursor": from}});
                let answer: Value = api
                    .post_json("/v1/sync/push", &body)
                    .await
                    .unwrap_or_else(|e| json!({"error": e.to_string()}));
                if let Some(c) = answer["pull"]["cursor"].as_str() {
                    *cursor = Some(c.to_owned());
                }
                answer
            } else if step.get("pull").is_some() {
                let page = api.pull(cursor.as_deref(), None).await.expect("pull");
                *cursor = Some(page.cursor.clone());
                serde_json::to_value(page).expect("page")
            } else if let Some(u) = step.get("upload") {
                // The photo travels in the file itself, so the phone team has the very bytes.
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    u["base64"].as_str().unwrap_or_default(),
                )
                .expect("step's photo in base64");
                let sha = u["sha256"].as_str().unwrap_or_default();
                assert_eq!(
                    fieldsync_client::photo_name(&bytes),
                    sha,
                    "step {i}: the file's hash"
                );
                let info = api
                    .upload_photo(sha, &bytes, 64 * 1024)
                    .await
                    .expect("upload");
                serde_json::to_value(info).expect("blob info")
            } else {
                panic!(
                    "{}: step {i} is not push, push_pull, pull, upload or assign",
                    path.display()
                );
            }
        };
        let actual = masked(actual, &ignore);
        if record {
            step["expect"] = actual;
        } else {
            let expected = step.get("expect").cloned().unwrap_or(Value::Null);
            compare(&expected, &actual, &format!("step {i}"), &mut problems);
        }
    }
    if record {
        let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
        text.push('\n');
        std::fs::write(path, text).expect("write scenario");
    }
    problems
}

#[tokio::test]
async fn every_golden_scenario_replays_exactly() {
    let record = std::env::var_os("FIELDSYNC_RECORD_SCENARIOS").is_some();
    let files = scenario_files();
    assert!(
        files.len() >= 7,
        "the scenarios the contract promises: {files:?}"
    );
    let mut failures = Vec::new();
    for f in &files {
        let problems = replay(f, record).await;
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", f.display(), problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_is_exact_but_for_wildcards() {
    let mut out = Vec::new();
    compare(
        &json!({"a": 1, "b": "*", "c": [1, 2]}),
        &json!({"a": 1, "b": {"any": true}, "c": [1, 2]}),
        "r",
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    compare(&json!({"a": 1}), &json!({"a": 2, "z": 0}), "r", &mut out);
    compare(&json!([1]), &json!([1, 2]), "r", &mut out);
    assert_eq!(out.len(), 3, "{out:?}");
}
