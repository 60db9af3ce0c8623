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

/// One thing wrong with a form definition, and the field of the form it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormProblem {
    /// The form's field by its name (by its position, `#3`, when it has none), or `None` for
    /// the form as a whole: its key, version, title, list of fields, or text that is not a
    /// definition at all.
    pub field: Option<String>,
    pub message: String,
}

impl FormProblem {
    fn form(message: impl Into<String>) -> FormProblem {
        FormProblem {
            field: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FormProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field {field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Keys and field names: what a column name, an XForm node and a log line can all carry.
fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl FormDef {
    /// Reads a definition from JSON text and checks it. Text that is not a definition is one
    /// problem naming the line and column where reading stopped; a definition is checked
    /// whole, every problem reported ([`FormDef::check`]).
    pub fn from_json(text: &str) -> Result<FormDef, Vec<FormProblem>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let form: FormDef = serde_json::from_str(text).map_err(|e| {
            let at = format!(" at line {} column {}", e.line(), e.column());
            let what = e.to_string();
            let what = what.strip_suffix(&at).unwrap_or(&what);
            let message = if e.is_data() {
                format!(
                    "line {}, column {}: not a form definition: {what}",
                    e.line(),
                    e.column()
                )
            } else {
                format!("line {}, column {}: not JSON: {what}", e.line(), e.column())
            };
            vec![FormProblem::form(message)]
        })?;
        form.check()?;
        Ok(form)
    }

    /// Checks a definition before it is published, reporting every problem with the field it
    /// concerns: key and names well-formed and unique, labels given, choices with distinct
    /// options and only choices with options, ranges that hold a value, conditions on earlier
    /// fields that can hold.
    pub fn check(&self) -> Result<(), Vec<FormProblem>> {
        let mut problems = Vec::new();
        if !name_ok(&self.key) {
            problems.push(FormProblem::form(format!(
                "the form key {:?} must be 1 to 64 lower-case letters, digits and _",
                self.key
            )));
        }
        if self.version == 0 {
            problems.push(FormProblem::form("versions start at 1"));
        }
        if self.title.trim().is_empty() {
            problems.push(FormProblem::form("the form needs a title"));
        }
        if self.fields.is_empty() {
            problems.push(FormProblem::form("a form needs at least one field"));
        }
        for (i, f) in self.fields.iter().enumerate() {
            let mut problem = |message: String| {
                let field = if f.name.is_empty() {
                    format!("#{}", i + 1)
                } else {
                    f.name.clone()
                };
                problems.push(FormProblem {
                    field: Some(field),
                    message,
                });
            };
            if !name_ok(&f.name) {
                problem(format!(
                    "the name {:?} must be 1 to 64 lower-case letters, digits and _",
                    f.name
                ));
            }
            if let Some(j) = self.fields[..i].iter().position(|g| g.name == f.name) {
                problem(format!("field #{} has this name too", j + 1));
            }
            if f.label.trim().is_empty() {
                problem("needs a label (the question the phone shows)".into());
            }
            let choice = matches!(f.kind, FieldKind::Choice | FieldKind::MultiChoice);
            if choice && f.options.is_empty() {
                problem("is a choice without options".into());
            }
            if !choice && !f.options.is_empty() {
                problem("has options but is not a choice (choice or multi_choice)".into());
            }
            for (k, o) in f.options.iter().enumerate() {
                if o.trim().is_empty() {
                    problem(format!("option #{} is empty", k + 1));
                } else if f.options[..k].contains(o) {
                    problem(format!("the option {o:?} is listed twice"));
                }
            }
            let number = matches!(f.kind, FieldKind::Integer | FieldKind::Number);
            if !number && (f.min.is_some() || f.max.is_some()) {
                problem("min and max are for integer and number fields".into());
            }
            if let (Some(min), Some(max)) = (f.min, f.max)
                && min > max
            {
                problem(format!("min {min} is above max {max}"));
            }
            match f.max_chars {
                Some(_) if f.kind != FieldKind::Text => {
                    problem("max_chars is for text fields".into());
                }
                Some(n) if n == 0 || n > MAX_TEXT => {
                    problem(format!("max_chars must be 1 to {MAX_TEXT}"));
                }
                _ => {}
            }
            if let Some(c) = &f.when {
                if !self.fields[..i].iter().any(|g| g.name == c.field) {
                    problem(format!("depends on {}, which must come before it", c.field));
                }
                if c.one_of.is_empty() {
                    problem("is never asked: its condition lists no answers".into());
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
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
        let problems = f.check().unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field.as_deref(), Some("school"));
        assert!(problems[0].message.contains("must come before"));
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

    /// Every problem is reported at once, each with the field it concerns, so the office fixes
    /// the file in one go.
    #[test]
    fn every_problem_is_named_with_its_field() {
        let f: FormDef = serde_json::from_value(json!({
            "key": "Household", "version": 0, "title": " ",
            "fields": [
                {"name": "status", "label": "就学状态", "type": "choice", "options": ["a", "b", "a", " "]},
                {"name": "status", "label": "", "type": "text", "options": ["x"], "min": 1},
                {"name": "", "label": "年级", "type": "integer", "min": 9, "max": 1, "max_chars": 3},
                {"name": "note", "label": "备注", "type": "text", "max_chars": 0,
                 "when": {"field": "later", "one_of": []}}
            ]
        }))
        .unwrap();
        let problems = f.check().unwrap_err();
        let want: [(Option<&str>, &str); 15] = [
            (None, "the form key \"Household\" must"),
            (None, "versions start at 1"),
            (None, "the form needs a title"),
            (Some("status"), "the option \"a\" is listed twice"),
            (Some("status"), "option #4 is empty"),
            (Some("status"), "field #1 has this name too"),
            (Some("status"), "needs a label"),
            (Some("status"), "has options but is not a choice"),
            (Some("status"), "min and max are for integer"),
            (Some("#3"), "the name \"\" must be"),
            (Some("#3"), "min 9 is above max 1"),
            (Some("#3"), "max_chars is for text fields"),
            (Some("note"), "max_chars must be 1 to 2000"),
            (Some("note"), "depends on later, which must come before it"),
            (Some("note"), "is never asked"),
        ];
        assert_eq!(problems.len(), want.len(), "{problems:?}");
        for (p, (field, start)) in problems.iter().zip(want) {
            assert_eq!(p.field.as_deref(), field, "{p}");
            assert!(p.message.starts_with(start), "{p} is not {start}");
        }
        assert_eq!(
            problems[13].to_string(),
            "field note: depends on later, which must come before it"
        );
    }

    #[test]
    fn text_that_is_not_a_definition_names_its_line_and_column() {
        let problems =
            FormDef::from_json("{\n  \"key\": \"k\",\n  \"version\": \"one\"\n}").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, None);
        assert!(
            problems[0]
                .message
                .starts_with("line 3, column 18: not a form definition: invalid type"),
            "{}",
            problems[0].message
        );
        let problems = FormDef::from_json("{\"key\": \"k\",,}").unwrap_err();
        assert!(
            problems[0]
                .message
                .starts_with("line 1, column 13: not JSON: key must be a string"),
            "{}",
            problems[0].message
        );
        let text = serde_json::to_string(&form()).unwrap();
        assert_eq!(FormDef::from_json(&format!("\u{feff}{text}")), Ok(form()));
    }
}
