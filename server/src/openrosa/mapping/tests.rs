use fieldsync_protocol::Role;
use fieldsync_protocol::forms::FormDef;
use fieldsync_protocol::merge;
use fieldsync_protocol::registry::{self as reg, checks};
use serde_json::json;

use super::*;
use crate::access::{self, Action};
use crate::openrosa::xform::schema::FormSchema;
use crate::openrosa::xform::{self, XForm};
use crate::openrosa::xml::{Element, Limits, Writer, parse};

const HOUSEHOLD_ID: &str = "0192f5a0-1000-7000-8000-000000000001";
const MEMBER_ID: &str = "0192f5a0-2000-7000-8000-000000000002";
/// What the form's `setvalue` makes on first load: a v7.
const NEW_ENTITY: &str = "0192f5a0-3000-7abc-8def-000000000003";
const VILLAGE: &str = "640104001002";
const INSTANCE: &str = "uuid:6a1c2a4e-9a51-4b61-8d43-1f2e3d4c5b6a";
const EARLIER: &str = "uuid:0f6e5c3a-1111-4222-8333-444455556666";
const START: &str = "2026-11-28T09:58:00.000+08:00";
const END: &str = "2026-11-28T10:03:00.000+08:00";
const GPS_AT: &str = "2026-11-28T10:01:30.000+08:00";
/// A valid ID-card number (GB 11643's own example).
const ID_CARD: &str = "11010519491231002X";

fn device() -> Uuid {
    Uuid::parse_str("0192f5a0-0000-7000-8000-00000000d001").unwrap()
}

fn received() -> OffsetDateTime {
    OffsetDateTime::parse(
        "2026-11-29T08:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn at_time(t: &str) -> OffsetDateTime {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
}

/// The photos that have arrived: `<name>` → a hash made from the name.
fn arrived(name: &str) -> Option<String> {
    (!name.starts_with("late")).then(|| {
        use sha2::{Digest, Sha256};
        crate::hex::hex(&Sha256::digest(name.as_bytes()))
    })
}

/// The survey fixture of the xform tests.
fn survey_def() -> FormDef {
    crate::openrosa::xform::tests::survey()
}

/// What Collect adds to the form's instance: metadata and the entity block's attributes.
#[derive(Default)]
struct Meta<'a> {
    instance_id: Option<&'a str>,
    deprecated: Option<&'a str>,
    start: Option<&'a str>,
    end: Option<&'a str>,
    /// Entity attributes (`id`, `baseVersion` …) and `label`.
    entity: Vec<(&'a str, &'a str)>,
}

fn meta<'a>() -> Meta<'a> {
    Meta {
        instance_id: Some(INSTANCE),
        start: Some(START),
        end: Some(END),
        ..Meta::default()
    }
}

fn primary_instance(html: &Element) -> &Element {
    let model = html.child("head").unwrap().child("model").unwrap();
    let instance = model
        .children_named("instance")
        .find(|i| i.attr("id").is_none())
        .unwrap();
    &instance.children[0]
}

/// Fills the generated form's own instance skeleton as Collect would: `values` by path below
/// the root (`household_id`, `photos/photo`, `orig/phone`); a repeat is written once per
/// value given for it. Every value must land on an element of the skeleton.
fn fill(form: &XForm, values: &[(&str, &str)], m: &Meta<'_>) -> String {
    let html = parse(form.xml.as_bytes(), &Limits::FORM).unwrap();
    let schema = FormSchema::read(&html).unwrap();
    let root = primary_instance(&html);
    let mut used = vec![false; values.len()];
    let mut w = Writer::new();
    let attrs: Vec<(&str, &str)> = root
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_str()))
        .collect();
    w.open(&root.name, &attrs);
    for c in &root.children {
        node(&mut w, c, &c.name, values, &mut used, &schema, m);
    }
    w.close();
    let unused: Vec<_> = values
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(v, _)| v.0)
        .collect();
    assert!(
        unused.is_empty(),
        "{}: not in the form: {unused:?}",
        form.form_id
    );
    w.finish()
}

fn node(
    w: &mut Writer,
    e: &Element,
    rel: &str,
    values: &[(&str, &str)],
    used: &mut [bool],
    schema: &FormSchema,
    m: &Meta<'_>,
) {
    if e.name == "meta" {
        w.open("meta", &[]);
        for c in &e.children {
            if c.name == "entity" {
                let mut attrs: Vec<(&str, &str)> = c
                    .attributes
                    .iter()
                    .map(|a| (a.name.as_str(), a.value.as_str()))
                    .collect();
                for (k, v) in &m.entity {
                    match attrs.iter_mut().find(|(n, _)| n == k) {
                        Some(slot) => slot.1 = v,
                        None if *k != "label" => attrs.push((k, v)),
                        None => {}
                    }
                }
                w.open("entity", &attrs);
                let label = m.entity.iter().find(|(k, _)| *k == "label");
                match label {
                    Some((_, l)) => w.leaf("label", &[], l),
                    None => w.empty("label", &[]),
                };
                w.close();
                continue;
            }
            let v = match c.name.as_str() {
                "instanceID" => m.instance_id,
                "deprecatedID" => m.deprecated,
                "timeStart" => m.start,
                "timeEnd" => m.end,
                "deviceID" => Some("collect:abc123"),
                _ => None,
            };
            match v {
                Some(v) => w.leaf(&c.name, &[], v),
                None => w.empty(&c.name, &[]),
            };
        }
        w.close();
        return;
    }
    if e.children.is_empty() {
        let hit = values
            .iter()
            .enumerate()
            .find(|(i, (k, _))| !used[*i] && *k == rel);
        match hit {
            Some((i, (_, v))) => {
                used[i] = true;
                w.leaf(&e.name, &[], v);
            }
            None => {
                w.empty(&e.name, &[]);
            }
        }
        return;
    }
    let copies = if schema.repeats.contains(&format!("/data/{rel}")) {
        let prefix = format!("{rel}/");
        let mut per_key: Vec<(&str, usize)> = Vec::new();
        for (k, _) in values.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            match per_key.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 += 1,
                None => per_key.push((k, 1)),
            }
        }
        per_key.iter().map(|(_, n)| *n).max().unwrap_or(1)
    } else {
        1
    };
    for _ in 0..copies {
        w.open(&e.name, &[]);
        for c in &e.children {
            node(w, c, &format!("{rel}/{}", c.name), values, used, schema, m);
        }
        w.close();
    }
}

fn read(form: &XForm, xml: &str) -> Submission {
    let html = parse(form.xml.as_bytes(), &Limits::FORM).unwrap();
    let schema = FormSchema::read(&html).unwrap();
    let sub = instance::read(
        &parse(xml.as_bytes(), &Limits::SUBMISSION).unwrap(),
        &schema,
    )
    .unwrap();
    for f in &sub.fields {
        assert!(
            schema.bind(&f.nodeset).is_some(),
            "{}: {} has no bind",
            form.form_id,
            f.nodeset
        );
    }
    sub
}

fn registry_form(id: &str) -> (&'static RegistryForm, XForm) {
    let form = RegistryForm::by_id(id).unwrap();
    (form, xform::registry_form(form))
}

fn map_registry(
    id: &str,
    values: &[(&str, &str)],
    m: &Meta<'_>,
) -> (Submission, Result<Mapped, Problem>) {
    let (form, xform) = registry_form(id);
    let sub = read(&xform, &fill(&xform, values, m));
    let ctx = Context {
        device_id: device(),
        received: received(),
        photo: &arrived,
    };
    let mapped = mutations(&sub, Source::Registry(form), &ctx);
    (sub, mapped)
}

fn mapped(id: &str, values: &[(&str, &str)], m: &Meta<'_>) -> Mapped {
    let mapped = map_registry(id, values, m)
        .1
        .unwrap_or_else(|p| panic!("{id}: {p}"));
    for mutation in &mapped.mutations {
        passes_the_push(mutation, None);
    }
    mapped
}

fn only(m: &Mapped) -> &Mutation {
    assert_eq!(m.mutations.len(), 1, "{:?}", m.mutations);
    &m.mutations[0]
}

/// What `sync/validate.rs` checks before the database (it is private to `sync`, so its steps
/// are taken here one by one with the same functions), and for a create the merge itself.
fn passes_the_push(m: &Mutation, survey: Option<&FormDef>) {
    let parsed = Mutation::parse(serde_json::to_value(m).unwrap()).unwrap();
    assert_eq!(&parsed, m, "the mutation survives the wire");
    assert_eq!(m.mutation_id.get_version_num(), 7, "mutation_id is a v7");
    let def = reg::entity(&m.entity).unwrap();
    match m.op {
        Op::Create => {
            assert_eq!(m.id.get_version_num(), 7, "a new record's id is a v7");
            assert_eq!(m.base_version, None);
            merge::apply(def, None, m).unwrap();
        }
        _ => assert!(m.base_version.is_some()),
    }
    assert_eq!(m.hlc.node, device());
    assert!(
        i128::from(m.hlc.wall_ms) <= received().unix_timestamp_nanos() / 1_000_000,
        "stamped with the capture time, not ahead of the server"
    );
    match &m.gps {
        Some(g) => g.validate().unwrap(),
        None => assert!(
            !(def.needs_fix && m.op == Op::Create),
            "{} needs a fix",
            def.name
        ),
    }
    assert!(def.allows(m.op));
    let role = if def.name == "household" || def.name == "member" {
        Role::GridWorker
    } else {
        Role::FirstSecretary
    };
    assert!(access::allowed(role, def.name, Action::of(m.op)));
    reg::validate_fields(def, m.op, &m.fields).unwrap_or_else(|e| panic!("{}: {e:?}", m.entity));
    if let Some(form) = survey {
        let answers = m.fields["answers"].as_object().unwrap();
        form.validate(answers).unwrap();
    }
}

fn captured_ms() -> u64 {
    ms(at_time(START))
}

fn fix(lat: f64, lon: f64, accuracy_m: f64, at: &str) -> GpsFix {
    GpsFix {
        lat,
        lon,
        accuracy_m,
        crs: Crs::Wgs84,
        fix_at: at_time(at),
        mocked: false,
    }
}

#[test]
fn a_housing_check_is_a_create_with_its_fix_lists_and_photos() {
    let out = mapped(
        "housing_check",
        &[
            ("household_id", HOUSEHOLD_ID),
            ("gps", "38.4872 106.2309 1100.5 8.5"),
            ("gps_at", GPS_AT),
            ("appraisal_grade", "C"),
            ("hazards", "flood ageing"),
            ("repair_status", "planned"),
            ("occupied", "true"),
            ("photos/photo", "wall.jpg"),
            ("photos/photo", "late-roof.jpg"),
            ("photos/photo", "door.jpg"),
            ("notes", "东墙有裂缝"),
        ],
        &meta(),
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.op, m.base_version),
        ("housing_check", Op::Create, None)
    );
    assert_eq!(m.id, ids::record("housing_check", INSTANCE));
    assert_eq!(m.mutation_id, ids::mutation("housing_check", INSTANCE));
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "household_id": HOUSEHOLD_ID,
            "captured_at": "2026-11-28T09:58:00+08:00",
            "photos": [arrived("wall.jpg"), arrived("door.jpg")],
            "notes": "东墙有裂缝",
            "appraisal_grade": "C",
            "hazards": ["flood", "ageing"],
            "repair_status": "planned",
            "occupied": true,
        })
    );
    assert_eq!(m.gps, Some(fix(38.4872, 106.2309, 8.5, GPS_AT)));
    assert_eq!(out.missing_photos, ["late-roof.jpg"]);
    assert_eq!(
        (m.hlc.wall_ms, m.hlc.counter, m.hlc.node),
        (captured_ms(), 0, device())
    );
    assert_eq!(
        checks::evaluate(&m.entity, &m.fields).unwrap(),
        ["dangerous_house", "unresolved_hazard"],
        "the push evaluates the mapped values as it would the app's"
    );
}

#[test]
fn a_water_check_sends_booleans_and_its_problems() {
    let out = mapped(
        "water_check",
        &[
            ("household_id", HOUSEHOLD_ID),
            ("source", "cellar"),
            ("quantity_ok", "false"),
            ("quality_ok", "true"),
            ("convenience_ok", "true"),
            ("supply_guaranteed", "false"),
            ("problems", "insufficient_source frozen_pipes"),
        ],
        &meta(),
    );
    let m = only(&out);
    assert_eq!(m.entity, "water_check");
    assert_eq!(m.gps, None, "the fix is optional on a check");
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "household_id": HOUSEHOLD_ID,
            "captured_at": "2026-11-28T09:58:00+08:00",
            "source": "cellar",
            "quantity_ok": false,
            "quality_ok": true,
            "convenience_ok": true,
            "supply_guaranteed": false,
            "problems": ["insufficient_source", "frozen_pipes"],
        })
    );
    assert_eq!(
        checks::evaluate(&m.entity, &m.fields).unwrap(),
        ["water_quantity", "water_supply"]
    );
}

#[test]
fn an_education_check_is_of_one_member() {
    let out = mapped(
        "education_check",
        &[
            ("household_id", HOUSEHOLD_ID),
            ("member_id", MEMBER_ID),
            ("status", "dropped_out"),
            ("school", "第一小学"),
            ("grade", "五年级"),
            ("reason", "在家务农"),
        ],
        &meta(),
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.id),
        ("education_check", ids::record("education_check", INSTANCE))
    );
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "household_id": HOUSEHOLD_ID,
            "captured_at": "2026-11-28T09:58:00+08:00",
            "member_id": MEMBER_ID,
            "status": "dropped_out",
            "school": "第一小学",
            "grade": "五年级",
            "reason": "在家务农",
        })
    );
}

#[test]
fn a_corrected_health_check_supersedes_the_first() {
    let out = mapped(
        "health_check",
        &[
            ("household_id", HOUSEHOLD_ID),
            ("member_id", MEMBER_ID),
            ("insured", "true"),
            ("family_doctor_signed", "false"),
            ("serious_illness", "false"),
            ("chronic_illness", "高血压"),
            ("treat_first_pay_later", "true"),
        ],
        &Meta {
            deprecated: Some(EARLIER),
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(m.op, Op::Create, "a correction is a new fact");
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "household_id": HOUSEHOLD_ID,
            "captured_at": "2026-11-28T09:58:00+08:00",
            "member_id": MEMBER_ID,
            "supersedes": ids::record("health_check", EARLIER).to_string(),
            "insured": true,
            "family_doctor_signed": false,
            "serious_illness": false,
            "chronic_illness": "高血压",
            "treat_first_pay_later": true,
        })
    );
    assert_ne!(m.id, ids::record("health_check", EARLIER));
}

#[test]
fn a_visit_takes_its_times_from_the_instance() {
    let out = mapped(
        "visit",
        &[
            ("village_code", VILLAGE),
            ("household_id", HOUSEHOLD_ID),
            ("purpose", "follow_up"),
            ("gps", "38.4872 106.2309 1100 12"),
            ("gps_at", GPS_AT),
            ("notes", "了解务工情况"),
            ("photos/photo", "visit.jpg"),
        ],
        &Meta {
            deprecated: Some(EARLIER),
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.id, m.op),
        ("visit", ids::record("visit", INSTANCE), Op::Create)
    );
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "village_code": VILLAGE,
            "household_id": HOUSEHOLD_ID,
            "started_at": "2026-11-28T09:58:00+08:00",
            "ended_at": "2026-11-28T10:03:00+08:00",
            "purpose": "follow_up",
            "notes": "了解务工情况",
            "photos": [arrived("visit.jpg")],
            "supersedes": ids::record("visit", EARLIER).to_string(),
        })
    );
    assert_eq!(m.gps, Some(fix(38.4872, 106.2309, 12.0, GPS_AT)));
    assert!(out.missing_photos.is_empty());
}

#[test]
fn a_village_meeting_without_a_household_or_an_end() {
    let out = mapped(
        "visit",
        &[("village_code", VILLAGE), ("purpose", "village_meeting")],
        &Meta {
            end: None,
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "village_code": VILLAGE,
            "started_at": "2026-11-28T09:58:00+08:00",
            "purpose": "village_meeting",
        })
    );
}

#[test]
fn a_check_in_without_accuracy_or_fix_time_is_doubted_not_trusted() {
    let out = mapped(
        "presence",
        &[
            ("village_code", VILLAGE),
            ("gps", "38.4872 106.2309"),
            ("note", "到村"),
        ],
        &meta(),
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.id),
        ("presence", ids::record("presence", INSTANCE))
    );
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({"village_code": VILLAGE, "captured_at": "2026-11-28T09:58:00+08:00", "note": "到村"})
    );
    // No `gps_at`: the fix was taken before the end of the instance.
    assert_eq!(m.gps, Some(fix(38.4872, 106.2309, UNKNOWN_ACCURACY_M, END)));
    // A point placed by hand reports 0: unknown too.
    let out = mapped(
        "presence",
        &[("village_code", VILLAGE), ("gps", "38.4872 106.2309 0 0")],
        &meta(),
    );
    assert_eq!(
        only(&out).gps.as_ref().unwrap().accuracy_m,
        UNKNOWN_ACCURACY_M
    );
}

#[test]
fn a_check_in_cannot_be_corrected() {
    let (_, r) = map_registry(
        "presence",
        &[("village_code", VILLAGE), ("gps", "38.4872 106.2309 0 5")],
        &Meta {
            deprecated: Some(EARLIER),
            ..meta()
        },
    );
    let p = r.unwrap_err();
    assert_eq!(p.kind, Kind::Unsupported);
    assert_eq!(p.path.as_deref(), Some("/data/meta/deprecatedID"));
    assert!(!p.zh.is_empty() && p.zh != p.en);
}

#[test]
fn a_household_registration_creates_the_entity_collect_named() {
    let out = mapped(
        "household_register",
        &[
            ("village_code", VILLAGE),
            ("head_name", "马德福"),
            ("grid", "三组"),
            ("address", "红旗村3号"),
            ("phone", "13995001234"),
            ("head_id_card", ID_CARD),
            ("poverty_status", "out_of_poverty"),
            ("monitoring_type", "marginal_prone"),
            ("labour_capacity", "weak"),
            ("household_size", "4"),
            ("per_capita_income", "8650.5"),
            ("income_year", "2026"),
            ("home", "38.487212345678 106.230987654321 1100.2 6.5"),
            ("notes", "新登记"),
        ],
        &Meta {
            entity: vec![("id", NEW_ENTITY), ("label", "马德福")],
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.op, m.base_version),
        ("household", Op::Create, None)
    );
    assert_eq!(m.id.to_string(), NEW_ENTITY, "Collect's v7 is kept");
    assert_eq!(m.mutation_id, ids::mutation("household_register", INSTANCE));
    assert_eq!(m.gps, None, "the house's position is a field, not a fix");
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "village_code": VILLAGE,
            "head_name": "马德福",
            "grid": "三组",
            "address": "红旗村3号",
            "phone": "13995001234",
            "head_id_card": ID_CARD,
            "poverty_status": "out_of_poverty",
            "monitoring_type": "marginal_prone",
            "labour_capacity": "weak",
            "household_size": 4,
            "per_capita_income": 8650.5,
            "income_year": 2026,
            "home_lat": 38.487212,
            "home_lon": 106.230988,
            "notes": "新登记",
        })
    );
    // Collect's own v4 (an entity list made elsewhere) gets a derived v7.
    let v4 = "6a1c2a4e-9a51-4b61-8d43-1f2e3d4c5b6a";
    let out = mapped(
        "household_register",
        &[("village_code", VILLAGE), ("head_name", "马德福")],
        &Meta {
            entity: vec![("id", v4)],
            ..meta()
        },
    );
    assert_eq!(
        only(&out).id,
        ids::entity("households", Uuid::parse_str(v4).unwrap())
    );
}

#[test]
fn a_member_registration_names_its_household() {
    let out = mapped(
        "member_register",
        &[
            ("household_id", HOUSEHOLD_ID),
            ("name", "马小花"),
            ("relation", "child"),
            ("gender", "female"),
            ("birth_date", "2014-03-09"),
            ("id_card", ID_CARD),
            ("school_status", "enrolled"),
            ("school_name", "第一小学"),
            ("insurance_status", "enrolled"),
            ("family_doctor_signed", "true"),
            ("disability", "none"),
            ("migrant_worker", "false"),
        ],
        &Meta {
            entity: vec![("id", NEW_ENTITY), ("label", "马小花")],
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.op, m.id.to_string().as_str()),
        ("member", Op::Create, NEW_ENTITY)
    );
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "household_id": HOUSEHOLD_ID,
            "name": "马小花",
            "relation": "child",
            "gender": "female",
            "birth_date": "2014-03-09",
            "id_card": ID_CARD,
            "school_status": "enrolled",
            "school_name": "第一小学",
            "insurance_status": "enrolled",
            "family_doctor_signed": true,
            "disability": "none",
            "migrant_worker": false,
        })
    );
}

#[test]
fn an_edited_registration_is_refused() {
    let (_, r) = map_registry(
        "member_register",
        &[("household_id", HOUSEHOLD_ID), ("name", "马小花")],
        &Meta {
            deprecated: Some(EARLIER),
            entity: vec![("id", NEW_ENTITY)],
            ..meta()
        },
    );
    assert_eq!(r.unwrap_err().kind, Kind::Unsupported);
}

/// A household as the list sent it: each field prefilled and kept in `orig`.
const HOUSEHOLD_NOW: &[(&str, &str)] = &[
    ("head_name", "马德福"),
    ("grid", "三组"),
    ("phone", "13995001234"),
    ("head_id_card", "1101**********002X"),
    ("monitoring_type", "none"),
    ("household_size", "4"),
    ("per_capita_income", "8650.5"),
    ("home", "38.487212 106.230988 0 0"),
];

fn with_orig(now: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in now {
        out.push(((*k).to_owned(), (*v).to_owned()));
        out.push((format!("orig/{k}"), (*v).to_owned()));
    }
    out
}

fn set(values: &mut [(String, String)], key: &str, v: &str) {
    let slot = values.iter_mut().find(|(k, _)| k == key).unwrap();
    slot.1 = v.to_owned();
}

fn refs(values: &[(String, String)]) -> Vec<(&str, &str)> {
    values
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn a_household_update_sends_only_what_the_cadre_changed() {
    let mut values = with_orig(HOUSEHOLD_NOW);
    values.push(("household_id".into(), HOUSEHOLD_ID.into()));
    set(&mut values, "phone", "13995009999");
    set(&mut values, "household_size", "5");
    // Emptied: cleared on the server.
    set(&mut values, "grid", "");
    // Moved: both halves, six decimals; Collect writes the numbers its own way.
    set(&mut values, "home", "38.4875001234 106.2311 1100.0 4.0");
    // Same number, written differently: not an edit.
    set(&mut values, "per_capita_income", "8650.50");
    let out = mapped(
        "household_update",
        &refs(&values),
        &Meta {
            entity: vec![
                ("id", HOUSEHOLD_ID),
                ("baseVersion", "7"),
                ("label", "马德福"),
            ],
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        (
            m.entity.as_str(),
            m.op,
            m.id.to_string().as_str(),
            m.base_version
        ),
        ("household", Op::Update, HOUSEHOLD_ID, Some(7))
    );
    assert_eq!(m.mutation_id, ids::mutation("household_update", INSTANCE));
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "grid": null,
            "phone": "13995009999",
            "household_size": 5,
            "home_lat": 38.4875,
            "home_lon": 106.2311,
        }),
        "the masked ID card and the untouched fields are not written back"
    );
}

#[test]
fn an_offline_member_update_is_made_on_the_trunk_version() {
    let now: &[(&str, &str)] = &[
        ("name", "马小花"),
        ("id_card", "1101**********002X"),
        ("school_status", "enrolled"),
        ("family_doctor_signed", "false"),
    ];
    let mut values = with_orig(now);
    values.push(("household".into(), HOUSEHOLD_ID.into()));
    values.push(("member".into(), MEMBER_ID.into()));
    set(&mut values, "school_status", "dropped_out");
    set(&mut values, "family_doctor_signed", "true");
    let out = mapped(
        "member_update",
        &refs(&values),
        &Meta {
            entity: vec![
                ("id", MEMBER_ID),
                // Two offline edits on the phone since the server's version 4.
                ("baseVersion", "6"),
                ("trunkVersion", "4"),
                ("branchId", "b8e1c7a2-0000-4000-8000-000000000001"),
                ("label", "马小花"),
            ],
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        (
            m.entity.as_str(),
            m.op,
            m.id.to_string().as_str(),
            m.base_version
        ),
        ("member", Op::Update, MEMBER_ID, Some(4))
    );
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({"school_status": "dropped_out", "family_doctor_signed": true})
    );
    assert!(!m.fields.contains_key("id_card"));
}

#[test]
fn a_new_id_card_replaces_a_masked_one() {
    let mut values = with_orig(&[("name", "马小花"), ("id_card", "1101**********002X")]);
    values.push(("household".into(), HOUSEHOLD_ID.into()));
    values.push(("member".into(), MEMBER_ID.into()));
    set(&mut values, "id_card", ID_CARD);
    let out = mapped(
        "member_update",
        &refs(&values),
        &Meta {
            entity: vec![("id", MEMBER_ID), ("baseVersion", "3")],
            ..meta()
        },
    );
    assert_eq!(
        Value::Object(only(&out).fields.clone()),
        json!({"id_card": ID_CARD})
    );
}

#[test]
fn an_update_that_changes_nothing_pushes_nothing() {
    let mut values = with_orig(HOUSEHOLD_NOW);
    values.push(("household_id".into(), HOUSEHOLD_ID.into()));
    let out = mapped(
        "household_update",
        &refs(&values),
        &Meta {
            entity: vec![("id", HOUSEHOLD_ID), ("baseVersion", "7")],
            ..meta()
        },
    );
    assert!(out.mutations.is_empty(), "{:?}", out.mutations);
}

#[test]
fn an_update_without_a_version_is_refused() {
    let mut values = with_orig(HOUSEHOLD_NOW);
    values.push(("household_id".into(), HOUSEHOLD_ID.into()));
    set(&mut values, "phone", "13995009999");
    let (_, r) = map_registry(
        "household_update",
        &refs(&values),
        &Meta {
            entity: vec![("id", HOUSEHOLD_ID)],
            ..meta()
        },
    );
    let p = r.unwrap_err();
    assert_eq!(
        (p.kind, p.path.as_deref()),
        (Kind::Invalid, Some("/data/meta/entity/@baseVersion"))
    );
}

fn map_survey(def: &FormDef, values: &[(&str, &str)], m: &Meta<'_>) -> Mapped {
    let form = xform::survey_form(def);
    let sub = read(&form, &fill(&form, values, m));
    let ctx = Context {
        device_id: device(),
        received: received(),
        photo: &arrived,
    };
    let out = mutations(&sub, Source::Survey(def), &ctx).unwrap_or_else(|p| panic!("{p}"));
    for mutation in &out.mutations {
        passes_the_push(mutation, Some(def));
    }
    out
}

#[test]
fn a_survey_sends_its_answers_keyed_by_the_definition() {
    let def = survey_def();
    let out = map_survey(
        &def,
        &[
            ("household_id", HOUSEHOLD_ID),
            ("member_id", MEMBER_ID),
            ("gps", "38.4872 106.2309 1100 9"),
            ("gps_at", GPS_AT),
            ("answers/status", "dropped_out"),
            ("answers/grade", "5"),
            ("answers/help", "transport subsidy"),
            ("answers/since", "2025-09-01"),
            ("answers/fee", "120.5"),
            ("answers/boarding", "false"),
            // Options with a space are sent as their numbers.
            ("answers/bus", "1"),
            ("photos/photo", "form.jpg"),
            ("photos/photo", "late-sign.jpg"),
        ],
        &Meta {
            deprecated: Some(EARLIER),
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(
        (m.entity.as_str(), m.op, m.id),
        (
            "survey_submission",
            Op::Create,
            ids::record("survey-child_schooling", INSTANCE)
        )
    );
    assert_eq!(
        m.mutation_id,
        ids::mutation("survey-child_schooling", INSTANCE)
    );
    assert_eq!(
        Value::Object(m.fields.clone()),
        json!({
            "household_id": HOUSEHOLD_ID,
            "member_id": MEMBER_ID,
            "form_key": "child_schooling",
            "form_version": 2,
            "answers": {
                "status": "dropped_out",
                "grade": 5,
                "help": ["transport", "subsidy"],
                "since": "2025-09-01",
                "fee": 120.5,
                "boarding": false,
                "bus": "每天 接送",
            },
            "captured_at": "2026-11-28T09:58:00+08:00",
            "supersedes": ids::record("survey-child_schooling", EARLIER).to_string(),
            "photos": [arrived("form.jpg")],
        })
    );
    assert_eq!(m.gps, Some(fix(38.4872, 106.2309, 9.0, GPS_AT)));
    assert_eq!(out.missing_photos, ["late-sign.jpg"]);
}

#[test]
fn a_survey_of_another_version_is_refused() {
    let def = survey_def();
    let form = xform::survey_form(&def);
    let sub = read(
        &form,
        &fill(
            &form,
            &[
                ("household_id", HOUSEHOLD_ID),
                ("answers/status", "enrolled"),
            ],
            &meta(),
        ),
    );
    let ctx = Context {
        device_id: device(),
        received: received(),
        photo: &arrived,
    };
    let mut newer = def.clone();
    newer.version = 3;
    let p = mutations(&sub, Source::Survey(&newer), &ctx).unwrap_err();
    assert_eq!(p.kind, Kind::UnknownForm);
    let p = mutations(
        &sub,
        Source::Registry(RegistryForm::by_id("visit").unwrap()),
        &ctx,
    )
    .unwrap_err();
    assert_eq!(p.kind, Kind::UnknownForm, "read against another form");
}

#[test]
fn a_value_that_does_not_read_as_its_type_is_refused() {
    let (sub, r) = map_registry(
        "household_register",
        &[
            ("village_code", VILLAGE),
            ("head_name", "马德福"),
            ("household_size", "four"),
            ("per_capita_income", "lots"),
        ],
        &Meta {
            entity: vec![("id", NEW_ENTITY)],
            ..meta()
        },
    );
    assert_eq!(sub.problems.len(), 2);
    let p = r.unwrap_err();
    assert_eq!(
        (p.kind, p.path.as_deref()),
        (Kind::Invalid, Some("/data/household_size"))
    );
    assert!(p.en.contains("and 1 more"), "{}", p.en);
    assert!(p.zh.contains("另有1处"), "{}", p.zh);
}

#[test]
fn an_instance_without_an_instance_id_is_refused() {
    let (_, r) = map_registry(
        "presence",
        &[("village_code", VILLAGE), ("gps", "38.4872 106.2309 0 5")],
        &Meta {
            instance_id: None,
            ..meta()
        },
    );
    let p = r.unwrap_err();
    assert_eq!(
        (p.kind, p.path.as_deref()),
        (Kind::Invalid, Some("/data/meta/instanceID"))
    );
    assert!(p.message().contains("instanceID"));
}

#[test]
fn without_times_the_arrival_is_the_capture_time() {
    let out = mapped(
        "presence",
        &[("village_code", VILLAGE), ("gps", "38.4872 106.2309 0 5")],
        &Meta {
            start: None,
            end: None,
            ..meta()
        },
    );
    let m = only(&out);
    assert_eq!(m.fields["captured_at"], "2026-11-29T08:00:00Z");
    assert_eq!(m.hlc.wall_ms, ms(received()));
    assert_eq!(m.gps.as_ref().unwrap().fix_at, received());
}

#[test]
fn a_resend_maps_to_the_same_ids() {
    let values = [("village_code", VILLAGE), ("gps", "38.4872 106.2309 0 5")];
    let a = mapped("presence", &values, &meta());
    let upper = INSTANCE.to_uppercase().replace("UUID:", "uuid:");
    let b = mapped(
        "presence",
        &values,
        &Meta {
            instance_id: Some(&upper),
            ..meta()
        },
    );
    assert_eq!(a, b);
}

/// Not a form we serve: a household registered with its members in a repeat, each an entity
/// block of its own (as a hand-made form for Central would do it).
#[test]
fn a_household_and_its_members_in_one_form_push_the_household_first() {
    let (form, xform) = registry_form("household_register");
    let html = parse(xform.xml.as_bytes(), &Limits::FORM).unwrap();
    let schema = FormSchema::read(&html).unwrap();
    let person = |n: u8, name: &str| {
        format!(
            r#"<person><name>{name}</name><relation>child</relation><meta><entity dataset="members" id="0192f5a0-4000-7000-8000-00000000000{n}" create="1"><label>{name}</label></entity></meta></person>"#
        )
    };
    let xml = format!(
        r#"<data id="household_register" version="{}"><village_code>{VILLAGE}</village_code><head_name>马德福</head_name>{}{}<meta><instanceID>{INSTANCE}</instanceID><timeStart>{START}</timeStart><entity dataset="households" id="{NEW_ENTITY}" create="1"><label>马德福</label></entity></meta></data>"#,
        xform.version,
        person(1, "马小花"),
        person(2, "马小军"),
    );
    let sub = instance::read(
        &parse(xml.as_bytes(), &Limits::SUBMISSION).unwrap(),
        &schema,
    )
    .unwrap();
    let ctx = Context {
        device_id: device(),
        received: received(),
        photo: &arrived,
    };
    let out = mutations(&sub, Source::Registry(form), &ctx).unwrap();
    let entities: Vec<&str> = out.mutations.iter().map(|m| m.entity.as_str()).collect();
    assert_eq!(entities, ["household", "member", "member"]);
    assert_eq!(
        out.mutations[0].mutation_id,
        ids::mutation("household_register", INSTANCE)
    );
    let ids: std::collections::HashSet<Uuid> =
        out.mutations.iter().map(|m| m.mutation_id).collect();
    assert_eq!(ids.len(), 3, "distinct mutation ids");
    let counters: Vec<u32> = out.mutations.iter().map(|m| m.hlc.counter).collect();
    assert_eq!(counters, [0, 1, 2]);
    for m in &out.mutations[1..] {
        assert_eq!(m.fields["household_id"], NEW_ENTITY);
        passes_the_push(m, None);
    }
    assert_eq!(out.mutations[2].fields["name"], "马小军");
    passes_the_push(&out.mutations[0], None);
}
