//! The inverse of the reader, for the export: the canonical header and one row per person
//! with the words a county office reads, so an exported roster can be edited in Excel and
//! read back as it was.

use fieldsync_protocol::registry::{FieldType, HOUSEHOLD, MEMBER};
use serde_json::Value;

use super::header::{CANONICAL, Target};
use super::{Household, Person, Village, words};

/// The columns [`rows`] fills, in order: 户编号, 系统户ID, 人编号, 系统人员ID, the village,
/// household fields, then person fields.
pub fn header() -> Vec<&'static str> {
    CANONICAL.iter().map(|(name, _)| *name).collect()
}

/// One row per person, household values repeated on each; a household without members gets
/// one row with the person columns empty.
pub fn rows(households: &[Household]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for h in households {
        if h.members.is_empty() {
            out.push(row(h, None));
        }
        for m in &h.members {
            out.push(row(h, Some(m)));
        }
    }
    out
}

fn row(h: &Household, m: Option<&Person>) -> Vec<String> {
    let gender = m
        .and_then(|m| m.fields.get("gender"))
        .and_then(Value::as_str);
    CANONICAL
        .iter()
        .map(|(_, target)| match *target {
            Target::HouseholdNo => h.household_no.clone(),
            Target::HouseholdRecordId => h.record_id.clone().unwrap_or_default(),
            Target::PersonNo => m.and_then(|m| m.person_no.clone()).unwrap_or_default(),
            Target::PersonRecordId => m.and_then(|m| m.record_id.clone()).unwrap_or_default(),
            Target::VillageCode => match &h.village {
                Village::Code(code) => code.clone(),
                Village::Named { .. } => String::new(),
            },
            Target::Township => match &h.village {
                Village::Named {
                    township: Some(t), ..
                } => t.clone(),
                _ => String::new(),
            },
            Target::VillageName => match &h.village {
                Village::Named { village, .. } => village.clone(),
                Village::Code(_) => String::new(),
            },
            Target::Household(f) => h
                .fields
                .get(f)
                .map(|v| cell(f, v, None))
                .unwrap_or_default(),
            Target::Person(f) => match m.map(|m| m.fields.get(f)) {
                Some(Some(v)) => cell(f, v, gender),
                // No illness is written as the word the national system uses.
                Some(None) if f == "illness" => "健康".to_owned(),
                _ => String::new(),
            },
            Target::Ignore => String::new(),
        })
        .collect()
}

fn cell(field: &str, value: &Value, gender: Option<&str>) -> String {
    let coded = [&HOUSEHOLD, &MEMBER]
        .iter()
        .filter_map(|e| e.field(field))
        .any(|f| matches!(f.ty, FieldType::Enum(_) | FieldType::Bool));
    match value {
        _ if coded => words::word(field, value, gender),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
