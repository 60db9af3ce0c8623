//! A published survey form version (`fieldsync_protocol::forms::FormDef`) as an XForm: the
//! household (and optionally the member) it is about, an optional GPS fix, the survey's own
//! questions under `answers`, photos. The form id is `survey-<key>`, the version
//! `<version>.<hash>`, so each published version is its own form and a resend of an old
//! version's submission still names the definition it was filled against.

use fieldsync_protocol::forms::{Condition, FieldKind, FormDef, FormField};
use serde_json::Value;

use super::build::{Control, Question, Spec};
use super::registry::yes_no;
use crate::openrosa::labels::{self, Text};

const PREFIX: &str = "survey-";
/// Longest text answer when the definition sets none (the protocol's limit).
const MAX_TEXT: usize = 2000;

pub fn form_id(key: &str) -> String {
    format!("{PREFIX}{key}")
}

/// The survey key of a form id.
pub fn key_of(form_id: &str) -> Option<&str> {
    form_id.strip_prefix(PREFIX).filter(|k| !k.is_empty())
}

/// The definition version a form version names (`3.1a2b3c4d` → 3).
pub fn version_of(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// The values a choice is sent as: the options themselves when none holds a space or a quote
/// (a `select`'s values are separated by spaces), else their numbers from 1.
pub fn option_values(f: &FormField) -> Vec<String> {
    let plain = f.options.iter().all(|o| {
        !o.is_empty() && !o.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"')
    });
    if plain {
        f.options.clone()
    } else {
        (1..=f.options.len()).map(|i| i.to_string()).collect()
    }
}

fn literal(s: &str) -> Option<String> {
    if !s.contains('\'') {
        Some(format!("'{s}'"))
    } else if !s.contains('"') {
        Some(format!("\"{s}\""))
    } else {
        None
    }
}

/// The XPath of a `when`, holding exactly when the server's check holds: the answer equals
/// one of the listed values. Values no answer can equal drop out; none left is `false()`.
fn relevant(def: &FormDef, c: &Condition) -> String {
    let Some(target) = def.fields.iter().find(|f| f.name == c.field) else {
        return "false()".into();
    };
    let path = format!("/data/answers/{}", target.name);
    let values = option_values(target);
    let as_value = |s: &str| {
        target
            .options
            .iter()
            .position(|o| o == s)
            .map(|i| values[i].clone())
    };
    let terms: Vec<String> = c
        .one_of
        .iter()
        .filter_map(|v| match (target.kind, v) {
            (FieldKind::Choice, Value::String(s)) => {
                literal(&as_value(s)?).map(|l| format!("{path} = {l}"))
            }
            (FieldKind::Text, Value::String(s)) => literal(s).map(|l| format!("{path} = {l}")),
            (FieldKind::Date, Value::String(s)) => literal(s).map(|l| format!("{path} = {l}")),
            (FieldKind::Bool, Value::Bool(b)) => Some(format!("{path} = '{b}'")),
            (FieldKind::Integer | FieldKind::Number, Value::Number(n)) => {
                Some(format!("{path} = {n}"))
            }
            (FieldKind::MultiChoice, Value::Array(items)) => {
                let picked: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.as_str().and_then(as_value).and_then(|v| literal(&v)))
                    .collect();
                let picked = picked?;
                let mut t = vec![format!("count-selected({path}) = {}", picked.len())];
                t.extend(picked.iter().map(|l| format!("selected({path}, {l})")));
                Some(format!("({})", t.join(" and ")))
            }
            _ => None,
        })
        .collect();
    if terms.is_empty() {
        "false()".into()
    } else {
        terms.join(" or ")
    }
}

fn range(f: &FormField) -> Option<(String, Text)> {
    let mut parts = Vec::new();
    if let Some(min) = f.min {
        parts.push(format!(". >= {min}"));
    }
    if let Some(max) = f.max {
        parts.push(format!(". <= {max}"));
    }
    (!parts.is_empty()).then(|| {
        let span = format!(
            "{}..{}",
            f.min.map_or(String::new(), |m| m.to_string()),
            f.max.map_or(String::new(), |m| m.to_string())
        );
        (
            parts.join(" and "),
            Text::new(format!("应在 {span} 之间"), format!("within {span}")),
        )
    })
}

fn answer(def: &FormDef, f: &FormField) -> Question {
    let items = || {
        option_values(f)
            .into_iter()
            .zip(&f.options)
            .map(|(v, o)| (v, Text::new(o.clone(), o.clone())))
            .collect()
    };
    let (control, constraint) = match f.kind {
        FieldKind::Text => {
            let max = f.max_chars.unwrap_or(MAX_TEXT);
            (
                Control::Input("string"),
                Some((
                    format!("string-length(.) <= {max}"),
                    Text::new(
                        format!("最多{max}个字"),
                        format!("at most {max} characters"),
                    ),
                )),
            )
        }
        FieldKind::Integer => (Control::Input("int"), range(f)),
        FieldKind::Number => (Control::Input("decimal"), range(f)),
        FieldKind::Bool => (Control::Select1(yes_no()), None),
        FieldKind::Date => (Control::Input("date"), None),
        FieldKind::Choice => (Control::Select1(items()), None),
        FieldKind::MultiChoice => (Control::Select(items()), None),
    };
    // The publisher wrote one label; both languages show it.
    let mut q = Question::new(
        &f.name,
        Text::new(f.label.clone(), f.label.clone()),
        control,
    );
    q.constraint = constraint;
    q.required = f.required;
    q.relevant = f.when.as_ref().map(|c| relevant(def, c));
    q
}

fn field_label(name: &str) -> Text {
    labels::field(name).unwrap_or_else(|| Text::new(name, name))
}

pub fn spec(def: &FormDef) -> Spec {
    let mut household = Question::new(
        "household_id",
        field_label("household_id"),
        Control::FromList {
            list: "households",
            filter: None,
        },
    );
    household.required = true;
    let member = Question::new(
        "member_id",
        field_label("member_id"),
        Control::FromList {
            list: "members",
            filter: Some("household_id = /data/household_id".into()),
        },
    );
    let mut gps = Question::new("gps", field_label("gps"), Control::Input("geopoint"));
    gps.on_change = vec![("/data/gps_at".into(), "now()".into())];
    let gps_at = Question::new(
        "gps_at",
        Text::new("", ""),
        Control::Hidden {
            ty: "dateTime",
            calculate: None,
        },
    );
    let answers = Question::new(
        "answers",
        Text::new(def.title.clone(), def.title.clone()),
        Control::Group(def.fields.iter().map(|f| answer(def, f)).collect()),
    );
    let photos = Question::new("photos", field_label("photos"), Control::Photos);
    Spec {
        form_id: form_id(&def.key),
        title: def.title.clone(),
        questions: vec![household, member, gps, gps_at, answers, photos],
        lists: vec!["households", "members"],
        entity: None,
    }
}
