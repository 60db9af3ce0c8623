//! The README names values the API sends (a check's `pass`/`fail`/`none`, a day's states, a
//! query's `status=open\|closed\|all`); they must be the contract's. They drifted once: the
//! README said `unchecked` where the server sent `none`.
//!
//! Every group of alternatives the README writes as `` `a`/`b`/`c` `` or `name=a\|b\|c` must be
//! the values of one enumeration of the contract: the OpenAPI document or the records' JSON
//! Schemas (an `enum`, or a `^(a|b|c)$` pattern).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn workspace_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every enumeration in the document, as the set of its values.
fn enumerations(v: &Value, out: &mut Vec<BTreeSet<String>>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(values)) = map.get("enum") {
                out.push(
                    values
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                );
            }
            if let Some(Value::String(p)) = map.get("pattern")
                && let Some(inner) = p.strip_prefix("^(").and_then(|p| p.strip_suffix(")$"))
            {
                out.push(inner.split('|').map(str::to_owned).collect());
            }
            // `oneOf` of single-value schemas is how documented enums of unit variants appear.
            if let Some(Value::Array(variants)) = map.get("oneOf") {
                let single: Option<BTreeSet<String>> = variants
                    .iter()
                    .map(|v| match v.get("enum") {
                        Some(Value::Array(e)) if e.len() == 1 => e[0].as_str().map(str::to_owned),
                        _ => None,
                    })
                    .collect();
                out.extend(single);
            }
            map.values().for_each(|v| enumerations(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| enumerations(v, out)),
        _ => {}
    }
}

/// The README's groups of alternatives.
fn groups(readme: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in readme.lines() {
        // `a`/`b`/`c`, spaces allowed around the slashes.
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let mut group = Vec::new();
            let mut cursor = &rest[start..];
            while let Some(word) = cursor
                .strip_prefix('`')
                .and_then(|c| c.split_once('`'))
                .filter(|(w, _)| {
                    !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
            {
                group.push(word.0.to_owned());
                match word.1.trim_start().strip_prefix('/') {
                    Some(after) => cursor = after.trim_start(),
                    None => {
                        cursor = word.1;
                        break;
                    }
                }
            }
            if group.len() > 1 {
                found.push(group);
            }
            rest = if cursor.len() < rest.len() - start {
                cursor
            } else {
                &rest[start + 1..]
            };
        }
        // name=a\|b\|c (a Markdown table escapes the bars).
        for piece in line.split(['`', ' ', '?', '&']) {
            if let Some((_, values)) = piece.split_once('=')
                && values.contains("\\|")
            {
                found.push(values.split("\\|").map(str::to_owned).collect());
            }
        }
    }
    found
}

#[test]
fn the_readmes_values_are_the_contracts() {
    let readme = workspace_file("README.md");
    let mut enums = Vec::new();
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mobile-contract/schemas");
    let mut files = vec!["mobile-contract/openapi.json".to_owned()];
    for entry in std::fs::read_dir(&schemas).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            files.push(format!("mobile-contract/schemas/{name}"));
        }
    }
    for file in files {
        let document: Value = serde_json::from_str(&workspace_file(&file)).unwrap();
        enumerations(&document, &mut enums);
    }
    let groups = groups(&readme);
    assert!(
        groups.iter().any(|g| g.contains(&"pass".to_owned())),
        "the reader of the README's groups found {groups:?}"
    );
    for group in groups {
        let wanted: BTreeSet<String> = group.iter().cloned().collect();
        assert!(
            enums.contains(&wanted),
            "README.md names {group:?}, which is no enumeration of the contract (mobile-contract/)"
        );
    }
}

#[test]
fn the_reader_finds_both_kinds_of_group() {
    let g = groups(
        "a (`pass`/`fail`/`none`, x) `a` and `b`; `x` / `y`\n`GET /v1/t?status=open\\|all&v=`",
    );
    assert_eq!(
        g,
        vec![
            vec!["pass".to_owned(), "fail".into(), "none".into()],
            vec!["x".to_owned(), "y".into()],
            vec!["open".to_owned(), "all".into()],
        ]
    );
}
