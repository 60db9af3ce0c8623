use fieldsync_protocol::forms::FormDef;
use fieldsync_protocol::registry::{ENTITIES, FieldType};
use serde_json::json;

use super::schema::{FormSchema, ValueType};
use super::*;
use crate::openrosa::labels;
use crate::openrosa::xml::{Limits, parse};

pub(crate) fn survey() -> FormDef {
    serde_json::from_value(json!({
        "key": "child_schooling", "version": 2, "title": "义务教育情况",
        "fields": [
            {"name": "status", "label": "就学状态", "type": "choice", "required": true,
             "options": ["enrolled", "dropped_out", "home_teaching"]},
            {"name": "school", "label": "学校", "type": "text", "required": true, "max_chars": 50,
             "when": {"field": "status", "one_of": ["enrolled"]}},
            {"name": "grade", "label": "年级", "type": "integer", "min": 1, "max": 12},
            {"name": "help", "label": "帮扶", "type": "multi_choice", "options": ["subsidy", "transport"]},
            {"name": "since", "label": "起始日期", "type": "date"},
            {"name": "fee", "label": "费用", "type": "number", "min": 0},
            {"name": "boarding", "label": "住校", "type": "bool"},
            {"name": "bus", "label": "校车", "type": "choice", "options": ["每天 接送", "没有"],
             "when": {"field": "boarding", "one_of": [false]}}
        ]
    }))
    .unwrap()
}

fn schema_of(form: &XForm) -> FormSchema {
    let root = parse(form.xml.as_bytes(), &Limits::FORM)
        .unwrap_or_else(|e| panic!("{}: {e}", form.form_id));
    FormSchema::read(&root).unwrap_or_else(|e| panic!("{}: {e}", form.form_id))
}

#[test]
fn every_generated_form_reads_back() {
    for form in all_forms(&[survey()]) {
        let s = schema_of(&form);
        assert_eq!(s.form_id, form.form_id);
        assert_eq!(s.version.as_deref(), Some(form.version.as_str()));
        assert_eq!(s.title.as_deref(), Some(form.title.as_str()));
        let media: Vec<String> = form.media();
        assert_eq!(s.media, media, "{}", form.form_id);
        for m in [
            "instanceID",
            "timeStart",
            "timeEnd",
            "deviceID",
            "deprecatedID",
        ] {
            assert!(
                s.bind(&format!("/data/meta/{m}")).is_some(),
                "{} {m}",
                form.form_id
            );
        }
        assert!(form.hash().starts_with("md5:") && form.hash().len() == 36);
    }
}

#[test]
fn versions_and_hashes_are_stable_and_follow_the_definition() {
    let a = all_forms(&[survey()]);
    let b = all_forms(&[survey()]);
    assert_eq!(a, b);
    let hh = a
        .iter()
        .find(|f| f.form_id == "household_register")
        .unwrap();
    assert_eq!(hh.version.len(), 8);
    let s = a
        .iter()
        .find(|f| f.form_id == "survey-child_schooling")
        .unwrap();
    assert!(s.version.starts_with("2."), "{}", s.version);
    assert_eq!(survey::version_of(&s.version), Some(2));
    let mut changed = survey();
    changed.fields[2].max = Some(9.0);
    let c = survey_form(&changed);
    assert_ne!((c.version.clone(), c.hash()), (s.version.clone(), s.hash()));
    let ids: std::collections::HashSet<_> = a.iter().map(|f| f.form_id.clone()).collect();
    assert_eq!(ids.len(), a.len(), "form ids are unique");
}

#[test]
fn registry_types_become_the_right_controls() {
    let forms = all_forms(&[]);
    let get = |id: &str| schema_of(forms.iter().find(|f| f.form_id == id).unwrap());
    let water = get("water_check");
    assert_eq!(
        water
            .bind("/data/household_id")
            .map(|b| (&b.ty, b.required)),
        Some((&ValueType::Select1, true))
    );
    assert_eq!(
        water.bind("/data/quantity_ok").unwrap().ty,
        ValueType::Select1
    );
    assert_eq!(water.bind("/data/problems").unwrap().ty, ValueType::Select);
    assert_eq!(water.bind("/data/gps").unwrap().ty, ValueType::Geopoint);
    assert_eq!(
        water.bind("/data/photos/photo").unwrap().ty,
        ValueType::Binary
    );
    assert_eq!(water.repeats, ["/data/photos"]);
    assert!(
        water.bind("/data/passing").is_none(),
        "server-only fields are not asked"
    );
    let edu = get("education_check");
    assert_eq!(edu.media, ["households.csv", "members.csv"]);
    let hh = get("household_register");
    assert_eq!(hh.entities_version.as_deref(), Some("2024.1.0"));
    assert_eq!(hh.bind("/data/household_size").unwrap().ty, ValueType::Int);
    assert_eq!(
        hh.bind("/data/per_capita_income").unwrap().ty,
        ValueType::Decimal
    );
    assert_eq!(hh.bind("/data/home").unwrap().ty, ValueType::Geopoint);
    assert_eq!(
        hh.bind("/data/village_code").unwrap().saveto.as_deref(),
        Some("village_code")
    );
    assert!(hh.bind("/data/home_lat").is_none());
    let m = get("member_register");
    assert_eq!(m.bind("/data/birth_date").unwrap().ty, ValueType::Date);
    assert_eq!(
        m.bind("/data/name").unwrap().saveto,
        None,
        "`name` is the list's id column"
    );
    let up = get("member_update");
    assert!(
        up.bind("/data/household_id").is_none(),
        "immutable fields are not offered for change"
    );
    assert!(up.bind("/data/orig/phone").is_some());
    let presence = get("presence");
    assert!(
        presence.bind("/data/gps").unwrap().required,
        "a check-in needs a fix"
    );
}

#[test]
fn every_asked_enumeration_value_has_both_labels() {
    for e in ENTITIES {
        for f in e.fields {
            let values = match f.ty {
                FieldType::Enum(v) | FieldType::EnumList(v) => v,
                FieldType::Bool => &["true", "false"][..],
                _ => continue,
            };
            if f.server_only {
                continue;
            }
            if registry::FORMS
                .iter()
                .any(|form| form.entity().name == e.name)
            {
                assert!(labels::field(f.name).is_some(), "{}.{}", e.name, f.name);
                for v in values {
                    assert!(
                        labels::value(f.name, v).is_some(),
                        "{}.{} = {v}",
                        e.name,
                        f.name
                    );
                }
            }
        }
    }
}

#[test]
fn survey_conditions_and_options() {
    let def = survey();
    let xml = survey_form(&def).xml;
    assert!(
        xml.contains(r#"relevant="/data/answers/status = 'enrolled'""#),
        "{xml}"
    );
    assert!(xml.contains(r#"relevant="/data/answers/boarding = 'false'""#));
    // Options with a space are sent as their numbers.
    assert_eq!(survey::option_values(&def.fields[7]), ["1", "2"]);
    assert_eq!(
        survey::key_of("survey-child_schooling"),
        Some("child_schooling")
    );
    assert_eq!(survey::key_of("housing_check"), None);
}

#[test]
fn forms_follow_the_role() {
    use fieldsync_protocol::Role;
    let ids = |role| {
        forms_for(role, &[survey()])
            .into_iter()
            .map(|f| f.form_id)
            .collect::<Vec<_>>()
    };
    let grid = ids(Role::GridWorker);
    assert!(
        grid.contains(&"household_update".to_owned())
            && grid.contains(&"survey-child_schooling".to_owned())
    );
    assert!(
        !grid.contains(&"presence".to_owned()),
        "grid workers do not check in"
    );
    let first = ids(Role::FirstSecretary);
    assert!(first.contains(&"presence".to_owned()) && first.contains(&"visit".to_owned()));
    assert!(ids(Role::Farmer).is_empty());
    assert!(ids(Role::HotlineOperator).is_empty());
}
