//! Versioned survey forms. An administrator publishes a form version; phones download it and
//! fill it offline; a submission names the version it was filled against and is checked
//! against exactly that version, so a phone on an old version keeps syncing after a new one
//! is published.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

use crate::error::{ErrorCode, ErrorDetail};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// Stable across versions, e.g. `household_basics`.
    pub key: String,
    pub version: u32,
    pub title: String,
    pub fields: Vec<FormField>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Integer,
    Number,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// One of `options`.
    Choice,
    /// Any distinct subset of `options`.
    MultiChoice,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
    /// Ask this field only when the condition holds (school name only if enrolled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// Holds when the answer to `field` is one of `one_of`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub one_of: Vec<Value>,
}

const MAX_TEXT: usize = 2000;

impl FormDef {
    /// Checks a definition before it is published: names unique and well-formed, choices with
    /// options, conditions on earlier fields.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !name_ok(&self.key) {
            return Err(format!(
                "form key {:?} must be lower-case letters, digits and _",
                self.key
            ));
        }
        if self.version == 0 {
            return Err("versions start at 1".into());
        }
        if self.fields.is_empty() {
            return Err("a form needs at least one field".into());
        }
        for (i, f) in self.fields.iter().enumerate() {
            if !name_ok(&f.name) {
                return Err(format!(
                    "field name {:?} must be lower-case letters, digits and _",
                    f.name
                ));
            }
            if self.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(format!("field {} appears twice", f.name));
            }
            let choice = matches!(f.kind, FieldKind::Choice | FieldKind::MultiChoice);
            if choice && f.options.is_empty() {
                return Err(format!("field {} is a choice without options", f.name));
            }
            if !choice && !f.options.is_empty() {
                return Err(format!("field {} has options but is not a choice", f.name));
            }
            if let Some(c) = &f.when
                && !self.fields[..i].iter().any(|g| g.name == c.field)
            {
                return Err(format!(
                    "field {} depends on {}, which must come before it",
                    f.name, c.field
                ));
            }
        }
        Ok(())
    }

    /// Validates answers against this version. Errors carry the path `answers.<field>`.
    pub fn validate(&self, answers: &Map<String, Value>) -> Result<(), ErrorDetail> {
        let err = |code, field: &str, message: String| {
            Err(ErrorDetail::new(code, message).at(format!("answers.{field}")))
        };
        if let Some(unknown) = answers
            .keys()
            .find(|k| !self.fields.iter().any(|f| &f.name == *k))
        {
            return err(
                ErrorCode::UnknownField,
                unknown,
                format!(
                    "form {} v{} has no field {unknown:?}",
                    self.key, self.version
                ),
            );
        }
        for f in &self.fields {
            let answer = answers.get(&f.name).filter(|v| !v.is_null());
            let asked = f
                .when
                .as_ref()
                .is_none_or(|c| answers.get(&c.field).is_some_and(|v| c.one_of.contains(v)));
            match (asked, answer) {
                (false, Some(_)) => {
                    return err(
                        ErrorCode::InvalidValue,
                        &f.name,
                        format!(
                            "{} is only asked when {} is one of the listed answers",
                            f.name,
                            f.when.as_ref().map_or("", |c| c.field.as_str())
                        ),
                    );
                }
                (true, None) if f.required => {
                    return err(
                        ErrorCode::MissingField,
                        &f.name,
                        format!("{} is required", f.label),
                    );
                }
                (true, Some(v)) => check_answer(f, v).or_else(|(code, m)| err(code, &f.name, m))?,
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_answer(f: &FormField, v: &Value) -> Result<(), (ErrorCode, String)> {
    let wrong = |what: &str| Err((ErrorCode::InvalidType, format!("expected {what}")));
    let bad = |m: String| Err((ErrorCode::InvalidValue, m));
    let in_range = |n: f64| {
        if f.min.is_some_and(|m| n < m) || f.max.is_some_and(|m| n > m) {
            bad(format!(
                "{n} is outside {}..{}",
                f.min.unwrap_or(f64::MIN),
                f.max.unwrap_or(f64::MAX)
            ))
        } else {
            Ok(())
        }
    };
    match f.kind {
        FieldKind::Text => {
            let Some(s) = v.as_str() else {
                return wrong("text");
            };
            if s.chars().count() > f.max_chars.unwrap_or(MAX_TEXT) {
                return bad(format!(
                    "at most {} characters",
                    f.max_chars.unwrap_or(MAX_TEXT)
                ));
            }
        }
        FieldKind::Integer => {
            let Some(n) = v.as_i64() else {
                return wrong("a whole number");
            };
            in_range(n as f64)?;
        }
        FieldKind::Number => {
            let Some(n) = v.as_f64() else {
                return wrong("a number");
            };
            in_range(n)?;
        }
        FieldKind::Bool => {
            if !v.is_boolean() {
                return wrong("true or false");
            }
        }
        FieldKind::Date => {
            let Some(s) = v.as_str() else {
                return wrong("a date YYYY-MM-DD");
            };
            if Date::parse(s, &format_description!("[year]-[month]-[day]")).is_err() {
                return bad(format!("{s:?} is not a date YYYY-MM-DD"));
            }
        }
        FieldKind::Choice => {
            let Some(s) = v.as_str() else {
                return wrong("one of the options");
            };
            if !f.options.iter().any(|o| o == s) {
                return bad(format!("{s:?} is not one of {}", f.options.join(", ")));
            }
        }
        FieldKind::MultiChoice => {
            let Some(items) = v.as_array() else {
                return wrong("a list of options");
            };
            for (i, item) in items.iter().enumerate() {
                let Some(s) = item.as_str().filter(|s| f.options.iter().any(|o| o == s)) else {
                    return bad(format!("{item} is not one of {}", f.options.join(", ")));
                };
                if items[..i].iter().any(|o| o.as_str() == Some(s)) {
                    return bad(format!("{s:?} is chosen twice"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> FormDef {
        serde_json::from_value(json!({
            "key": "child_schooling", "version": 2, "title": "义务教育情况",
            "fields": [
                {"name": "status", "label": "就学状态", "type": "choice", "required": true,
                 "options": ["enrolled", "dropped_out", "home_teaching"]},
                {"name": "school", "label": "学校", "type": "text", "required": true, "max_chars": 50,
                 "when": {"field": "status", "one_of": ["enrolled"]}},
                {"name": "grade", "label": "年级", "type": "integer", "min": 1, "max": 12},
                {"name": "help", "label": "帮扶", "type": "multi_choice", "options": ["subsidy", "transport"]},
                {"name": "since", "label": "起始日期", "type": "date"}
            ]
        }))
        .unwrap()
    }

    fn answers(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn code(r: Result<(), ErrorDetail>) -> (ErrorCode, String) {
        let e = r.unwrap_err();
        (e.code, e.field.unwrap_or_default())
    }

    #[test]
    fn good_answers_pass_and_conditions_apply() {
        let f = form();
        assert!(f.check().is_ok());
        assert!(f.validate(&answers(json!({"status": "enrolled", "school": "吉强镇中学", "grade": 8, "help": ["subsidy"]}))).is_ok());
        assert!(
            f.validate(&answers(json!({"status": "home_teaching"})))
                .is_ok(),
            "school is not asked"
        );
        assert_eq!(
            code(f.validate(&answers(json!({"status": "enrolled"})))),
            (ErrorCode::MissingField, "answers.school".into())
        );
        assert_eq!(
            code(f.validate(&answers(json!({"status": "dropped_out", "school": "x"})))),
            (ErrorCode::InvalidValue, "answers.school".into())
        );
    }

    #[test]
    fn bad_answers_name_their_field() {
        let f = form();
        let cases = [
            (
                json!({"status": "married"}),
                ErrorCode::InvalidValue,
                "answers.status",
            ),
            (json!({}), ErrorCode::MissingField, "answers.status"),
            (
                json!({"status": "home_teaching", "grade": 13}),
                ErrorCode::InvalidValue,
                "answers.grade",
            ),
            (
                json!({"status": "home_teaching", "grade": "8"}),
                ErrorCode::InvalidType,
                "answers.grade",
            ),
            (
                json!({"status": "home_teaching", "help": ["subsidy", "subsidy"]}),
                ErrorCode::InvalidValue,
                "answers.help",
            ),
            (
                json!({"status": "home_teaching", "since": "2026-02-30"}),
                ErrorCode::InvalidValue,
                "answers.since",
            ),
            (
                json!({"status": "home_teaching", "shoe_size": 40}),
                ErrorCode::UnknownField,
                "answers.shoe_size",
            ),
        ];
        for (a, c, path) in cases {
            assert_eq!(
                code(f.validate(&answers(a.clone()))),
                (c, path.to_owned()),
                "{a}"
            );
        }
    }

    #[test]
    fn broken_definitions_are_refused() {
        let mut f = form();
        f.fields[1].when = Some(Condition {
            field: "grade".into(),
            one_of: vec![json!(1)],
        });
        assert!(f.check().unwrap_err().contains("must come before"));
        let mut f = form();
        f.fields[0].options.clear();
        assert!(f.check().is_err());
        let mut f = form();
        f.key = "Bad Key".into();
        assert!(f.check().is_err());
        assert!(
            serde_json::from_value::<FormDef>(
                json!({"key": "k", "version": 1, "title": "t", "fields": [], "extra": 1})
            )
            .is_err()
        );
    }
}
