//! A county's own spreadsheet vocabulary: its header names and value words, in a small TOML
//! (or JSON) file kept next to its rosters. Everything it names is checked against the
//! registry when it is read, so a typo fails the import at once instead of dropping a column.
//!
//! ```toml
//! [columns]                # header as written → key
//! "户主身份证" = "head_id_card"
//! "成员电话" = "member.phone"   # a field both levels have: member. or household.
//! [values.monitoring_type]  # word → code, per field
//! "监测户" = "marginal_prone"
//! ```

use std::collections::BTreeMap;

use fieldsync_protocol::registry::{EntityDef, FieldType, HOUSEHOLD, MEMBER};
use serde::Deserialize;
use serde_json::Value;

use super::FileError;
use super::header::Target;
use super::text;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    /// Normalised header → what it feeds.
    columns: Vec<(String, Target)>,
    /// Field, normalised word, the value it means.
    values: Vec<(&'static str, String, Value)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, RawCode>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCode {
    Text(String),
    Bool(bool),
}

impl Mapping {
    /// Reads a mapping file: JSON when the name ends `.json`, TOML otherwise.
    pub fn parse(text: &str, file_name: &str) -> Result<Mapping, FileError> {
        let fail = |message: String| FileError::Mapping {
            file: file_name.to_owned(),
            message,
        };
        let raw: Raw = if file_name.to_ascii_lowercase().ends_with(".json") {
            serde_json::from_str(text).map_err(|e| fail(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| fail(e.to_string().trim().to_owned()))?
        };
        let mut problems = Vec::new();
        let mut mapping = Mapping::default();
        for (header, key) in raw.columns {
            let h = text::header(&header);
            match resolve(&key) {
                _ if h.is_empty() => problems.push("[columns] has an empty header".to_owned()),
                Ok(t) => mapping.columns.push((h, t)),
                Err(e) => problems.push(format!("[columns] {header:?} = {key:?}: {e}")),
            }
        }
        for (field, words) in raw.values {
            let Some((name, ty)) = coded_field(&field) else {
                problems.push(format!(
                    "[values.{field}]: not a field with a list of codes or yes/no"
                ));
                continue;
            };
            for (word, code) in words {
                match (ty, code) {
                    (FieldType::Enum(codes), RawCode::Text(c)) if codes.contains(&c.as_str()) => {
                        mapping
                            .values
                            .push((name, text::compact(&word), Value::String(c)));
                    }
                    (FieldType::Bool, RawCode::Bool(b)) => {
                        mapping
                            .values
                            .push((name, text::compact(&word), Value::Bool(b)));
                    }
                    (FieldType::Bool, RawCode::Text(c)) if c == "true" || c == "false" => {
                        let b = Value::Bool(c == "true");
                        mapping.values.push((name, text::compact(&word), b));
                    }
                    (FieldType::Enum(codes), code) => problems.push(format!(
                        "[values.{field}] {word:?}: {} is not a code of {field}; use one of {}",
                        match code {
                            RawCode::Text(c) => format!("{c:?}"),
                            RawCode::Bool(b) => b.to_string(),
                        },
                        codes.join(", ")
                    )),
                    _ => problems.push(format!(
                        "[values.{field}] {word:?}: the value must be true or false"
                    )),
                }
            }
        }
        if problems.is_empty() {
            Ok(mapping)
        } else {
            Err(fail(problems.join("; ")))
        }
    }

    pub(super) fn column(&self, header: &str) -> Option<Target> {
        self.columns
            .iter()
            .find(|(h, _)| h == header)
            .map(|(_, t)| *t)
    }

    pub(super) fn word(&self, field: &str, word: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(f, w, _)| *f == field && w == word)
            .map(|(_, _, v)| v)
    }
}

/// A key of `[columns]`: one of the own keys, a registry field (household first), or a field
/// with `household.` / `member.` before it.
fn resolve(key: &str) -> Result<Target, String> {
    let own = match key {
        "household_no" | "household.household_no" => Some(Target::HouseholdNo),
        "person_no" | "member.person_no" => Some(Target::PersonNo),
        "record_id" | "household.record_id" => Some(Target::HouseholdRecordId),
        "person_record_id" | "member.record_id" => Some(Target::PersonRecordId),
        "village_code" | "household.village_code" => Some(Target::VillageCode),
        "township" => Some(Target::Township),
        "village" | "village_name" => Some(Target::VillageName),
        "ignore" => Some(Target::Ignore),
        _ => None,
    };
    if let Some(t) = own {
        return Ok(t);
    }
    let (household, member) = match key.split_once('.') {
        Some(("household", f)) => (readable(&HOUSEHOLD, f), None),
        Some(("member", f)) => (None, readable(&MEMBER, f)),
        Some(_) => (None, None),
        None => (readable(&HOUSEHOLD, key), readable(&MEMBER, key)),
    };
    household
        .map(Target::Household)
        .or(member.map(Target::Person))
        .ok_or_else(|| {
            "not a key: use household_no, person_no, record_id, person_record_id, \
             village_code, township, village, ignore, or a household or member field"
                .to_owned()
        })
}

/// The field's registry name, when a sheet cell can fill it.
fn readable(entity: &EntityDef, name: &str) -> Option<&'static str> {
    let f = entity.field(name)?;
    let own = ["village_code", "household_no", "person_no"];
    let cell_type = matches!(
        f.ty,
        FieldType::Text { .. }
            | FieldType::Integer { .. }
            | FieldType::Decimal { .. }
            | FieldType::Bool
            | FieldType::Date
            | FieldType::Enum(_)
            | FieldType::Phone
            | FieldType::IdCard
    );
    (cell_type && !own.contains(&f.name) && !f.server_only).then_some(f.name)
}

/// A field that takes words: an enumeration or yes/no, on either level.
fn coded_field(key: &str) -> Option<(&'static str, FieldType)> {
    let name = key
        .strip_prefix("household.")
        .or_else(|| key.strip_prefix("member."))
        .unwrap_or(key);
    [&HOUSEHOLD, &MEMBER]
        .into_iter()
        .filter_map(|e| e.field(name))
        .find(|f| matches!(f.ty, FieldType::Enum(_) | FieldType::Bool))
        .map(|f| (f.name, f.ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_to_levels() {
        assert_eq!(resolve("phone"), Ok(Target::Household("phone")));
        assert_eq!(resolve("member.phone"), Ok(Target::Person("phone")));
        assert_eq!(resolve("relation"), Ok(Target::Person("relation")));
        assert_eq!(resolve("record_id"), Ok(Target::HouseholdRecordId));
        assert!(resolve("household_id").is_err());
        assert!(resolve("colour").is_err());
        assert!(resolve("member.head_name").is_err());
    }

    #[test]
    fn bad_names_and_codes_are_all_named() {
        let text = r#"
            [columns]
            "甲" = "colour"
            [values.monitoring_type]
            "监测户" = "watched"
            [values.colour]
            "红" = "red"
            [values.migrant_worker]
            "外出" = true
        "#;
        let Err(FileError::Mapping { file, message }) = Mapping::parse(text, "county.toml") else {
            panic!("accepted");
        };
        assert_eq!(file, "county.toml");
        for part in ["colour", "watched", "[values.colour]"] {
            assert!(message.contains(part), "{message}");
        }
        assert!(!message.contains("外出"), "{message}");
        let e = Mapping::parse("{\"colums\": {}}", "m.json").unwrap_err();
        assert!(e.to_string().contains("colums"), "{e}");
    }
}
