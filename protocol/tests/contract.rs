//! The mobile contract's generated files stay what the code says: the entity schemas (from
//! the registry) and the error catalogue (from `ErrorCode` and its doc comments). A change to
//! either without regenerating fails here; `FIELDSYNC_UPDATE_CONTRACT=1 cargo test -p
//! fieldsync-protocol --test contract` rewrites them.

use std::path::Path;

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::registry::schema;
use serde_json::{Value, json};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../mobile-contract/schemas");
const ERROR_SOURCE: &str = include_str!("../src/error.rs");

/// Each code with the doc comment above its variant.
fn error_catalogue() -> Value {
    let body = ERROR_SOURCE
        .split("pub enum ErrorCode {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .unwrap_or_default();
    let mut doc: Vec<String> = Vec::new();
    let mut meanings = std::collections::BTreeMap::new();
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim().to_owned());
        } else if let Some(variant) = line.strip_suffix(',') {
            meanings.insert(variant.to_owned(), doc.join(" "));
            doc.clear();
        }
    }
    let codes: Vec<Value> = ErrorCode::ALL
        .iter()
        .map(|c| {
            let variant = format!("{c:?}");
            json!({"code": c.as_str(), "meaning": meanings.get(&variant).cloned().unwrap_or_default()})
        })
        .collect();
    json!({
        "description": "Every error code the server answers with, and what it means. The body of an error is {\"error\": {\"code\", \"field\", \"message\"}}; `field` is a path such as `mutations[3].fields.phone`. The set only grows: treat an unknown code like `internal`.",
        "codes": codes,
    })
}

fn check(name: &str, want: &Value) {
    let path = Path::new(DIR).join(name);
    let mut text = serde_json::to_string_pretty(want).expect("JSON");
    text.push('\n');
    if std::env::var_os("FIELDSYNC_UPDATE_CONTRACT").is_some() {
        std::fs::create_dir_all(DIR).expect("schemas dir");
        std::fs::write(&path, &text).expect("write");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == text,
        "{} is not what the code says; run FIELDSYNC_UPDATE_CONTRACT=1 cargo test -p fieldsync-protocol --test contract and review the diff",
        path.display()
    );
}

#[test]
fn the_entity_schemas_are_the_registry() {
    check("entities.json", &schema::document());
}

#[test]
fn the_error_catalogue_is_the_error_codes() {
    let catalogue = error_catalogue();
    for c in catalogue["codes"].as_array().into_iter().flatten() {
        assert!(
            c["meaning"].as_str().is_some_and(|m| m.len() > 10),
            "{} has no meaning written",
            c["code"]
        );
    }
    check("errors.json", &catalogue);
}
