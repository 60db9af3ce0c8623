//! The forms generated from the entity registry: the four checks, a visit, a presence check-in,
//! and household and member registration and update. Element names are the registry's field
//! names, so a submission maps back by name (`mapping`).
//!
//! How each `FieldType` becomes a control is [`control`]; the types no form asks are listed in
//! [`UNMAPPED`], with the reason.

use fieldsync_protocol::registry::{
    self, EDUCATION_CHECK, EntityDef, FieldDef, FieldType, HEALTH_CHECK, HOUSEHOLD, HOUSING_CHECK,
    MEMBER, WATER_CHECK,
};

use super::build::{Control, EntityBlock, Question, Spec};
use crate::openrosa::labels::{self, Text};

/// What a registry form records.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// An append-only check of a household (or one member of it).
    Check(&'static EntityDef),
    Visit,
    Presence,
    /// Creates a household or a member (an ODK entity `create`).
    Register(&'static EntityDef),
    /// Changes a household or a member (an ODK entity `update`, offline edits included).
    Update(&'static EntityDef),
}

#[derive(Clone, Copy, Debug)]
pub struct RegistryForm {
    pub form_id: &'static str,
    pub purpose: Purpose,
}

pub static FORMS: [RegistryForm; 10] = [
    RegistryForm {
        form_id: "housing_check",
        purpose: Purpose::Check(&HOUSING_CHECK),
    },
    RegistryForm {
        form_id: "water_check",
        purpose: Purpose::Check(&WATER_CHECK),
    },
    RegistryForm {
        form_id: "education_check",
        purpose: Purpose::Check(&EDUCATION_CHECK),
    },
    RegistryForm {
        form_id: "health_check",
        purpose: Purpose::Check(&HEALTH_CHECK),
    },
    RegistryForm {
        form_id: "visit",
        purpose: Purpose::Visit,
    },
    RegistryForm {
        form_id: "presence",
        purpose: Purpose::Presence,
    },
    RegistryForm {
        form_id: "household_register",
        purpose: Purpose::Register(&HOUSEHOLD),
    },
    RegistryForm {
        form_id: "household_update",
        purpose: Purpose::Update(&HOUSEHOLD),
    },
    RegistryForm {
        form_id: "member_register",
        purpose: Purpose::Register(&MEMBER),
    },
    RegistryForm {
        form_id: "member_update",
        purpose: Purpose::Update(&MEMBER),
    },
];

impl RegistryForm {
    pub fn by_id(form_id: &str) -> Option<&'static RegistryForm> {
        FORMS.iter().find(|f| f.form_id == form_id)
    }

    /// The entity its submissions become.
    pub fn entity(&self) -> &'static EntityDef {
        match self.purpose {
            Purpose::Check(def) | Purpose::Register(def) | Purpose::Update(def) => def,
            Purpose::Visit => &registry::VISIT,
            Purpose::Presence => &registry::PRESENCE,
        }
    }
}

/// Registry types no form asks, and why.
pub const UNMAPPED: &[(&str, &str)] = &[
    (
        "AnyRef",
        "a task's evidence (a visit or a check of the same village): tasks are worked in the native app, and an itemset over several entity lists has no list to read",
    ),
    (
        "Id",
        "a user id (a task's assignee): Collect has no list of users, and assigning is a leader's act in the console",
    ),
    (
        "Object",
        "survey answers: the survey's own questions are generated from its form definition instead (`survey.rs`)",
    ),
    (
        "DateTime",
        "captured_at, started_at and ended_at come from the instance's timeStart/timeEnd (and the time of the GPS fix), never typed by hand",
    ),
    (
        "Ref (supersedes)",
        "a correction's target comes from Collect's deprecatedID when a sent form is edited",
    ),
];

/// The entity list (CSV form media) of an entity.
pub fn dataset(def: &EntityDef) -> Option<&'static str> {
    match def.name {
        "household" => Some("households"),
        "member" => Some("members"),
        _ => None,
    }
}

/// The CSV column a field is kept in: `name` is the entity id in an entity list, so a member's
/// name is its `label`.
pub fn column(field: &str) -> &str {
    if field == "name" { "label" } else { field }
}

/// A pair `<x>_lat`, `<x>_lon` is asked as one geopoint `<x>`.
pub fn geopoint_pair(def: &EntityDef) -> Option<&'static str> {
    let lat = def.fields.iter().find(|f| f.name.ends_with("_lat"))?;
    let stem = lat.name.strip_suffix("_lat")?;
    def.fields
        .iter()
        .any(|f| f.name.strip_suffix("_lon") == Some(stem))
        .then_some(stem)
}

fn label(name: &str) -> Text {
    labels::field(name).unwrap_or_else(|| Text::new(name, name))
}

fn items(field: &str, values: &[&str]) -> Vec<(String, Text)> {
    values
        .iter()
        .map(|v| {
            (
                (*v).to_owned(),
                labels::value(field, v).unwrap_or_else(|| Text::new(*v, *v)),
            )
        })
        .collect()
}

pub(super) fn yes_no() -> Vec<(String, Text)> {
    items("", &["true", "false"])
}

fn range(min: String, max: String) -> (String, Text) {
    (
        format!(". >= {min} and . <= {max}"),
        Text::new(
            format!("应在 {min} 到 {max} 之间"),
            format!("between {min} and {max}"),
        ),
    )
}

/// The control a field is asked with and its constraint; `None` for the types in
/// [`UNMAPPED`].
pub fn control(f: &FieldDef) -> Option<(Control, Option<(String, Text)>)> {
    Some(match f.ty {
        FieldType::Text { max_chars } => (
            Control::Input("string"),
            Some((
                format!("string-length(.) <= {max_chars}"),
                Text::new(
                    format!("最多{max_chars}个字"),
                    format!("at most {max_chars} characters"),
                ),
            )),
        ),
        FieldType::Integer { min, max } => (
            Control::Input("int"),
            Some(range(min.to_string(), max.to_string())),
        ),
        FieldType::Decimal { min, max } => (
            Control::Input("decimal"),
            Some(range(min.to_string(), max.to_string())),
        ),
        FieldType::Bool => (Control::Select1(yes_no()), None),
        FieldType::Date => (Control::Input("date"), None),
        FieldType::Enum(values) => (Control::Select1(items(f.name, values)), None),
        FieldType::EnumList(values) => (Control::Select(items(f.name, values)), None),
        FieldType::Phone => (
            Control::Input("string"),
            Some((
                "regex(., '^(1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}|0[0-9]{9,11})$')".into(),
                Text::new(
                    "手机号11位，固定电话如 0951-1234567",
                    "a mobile (11 digits) or a landline like 0951-1234567",
                ),
            )),
        ),
        FieldType::IdCard => (
            Control::Input("string"),
            Some((
                "regex(., '^[0-9]{17}[0-9Xx]$')".into(),
                Text::new("身份证号为18位", "an ID-card number has 18 characters"),
            )),
        ),
        FieldType::VillageCode => (
            Control::FromList {
                list: "villages",
                filter: None,
            },
            None,
        ),
        FieldType::Ref("household") => (
            Control::FromList {
                list: "households",
                filter: None,
            },
            None,
        ),
        FieldType::MemberOf(household) => (
            Control::FromList {
                list: "members",
                filter: Some(format!("household_id = /data/{household}")),
            },
            None,
        ),
        FieldType::HashList => (Control::Photos, None),
        FieldType::Ref(_)
        | FieldType::AnyRef(_)
        | FieldType::Id
        | FieldType::DateTime
        | FieldType::Object => {
            return None;
        }
    })
}

/// The question of one field, `None` for one no form asks.
pub fn question(f: &FieldDef) -> Option<Question> {
    let (control, constraint) = control(f)?;
    let mut q = Question::new(f.name, label(f.name), control);
    q.constraint = constraint;
    q.required = f.required;
    Some(q)
}

/// The GPS question and the hidden time it was answered: a geopoint has no time of its own,
/// and the fix's time decides the day it proves and the speed between two fixes.
fn gps(required: bool) -> [Question; 2] {
    let mut q = Question::new("gps", label("gps"), Control::Input("geopoint"));
    q.required = required;
    q.hint = Some(Text::new(
        "在农户家中或村里获取定位",
        "take the fix at the household or in the village",
    ));
    q.on_change = vec![("/data/gps_at".into(), "now()".into())];
    let at = Question::new(
        "gps_at",
        Text::new("", ""),
        Control::Hidden {
            ty: "dateTime",
            calculate: None,
        },
    );
    [q, at]
}

/// Fields a check asks itself, in a fixed place: who, then where, then what, then evidence.
const CHECK_COMMON: &[&str] = &[
    "household_id",
    "member_id",
    "captured_at",
    "photos",
    "notes",
    "supersedes",
];

fn check(def: &'static EntityDef) -> (Vec<Question>, Vec<&'static str>) {
    let mut qs = Vec::new();
    let mut lists = vec!["households"];
    for name in ["household_id", "member_id"] {
        if let Some(q) = def.field(name).and_then(question) {
            qs.push(q);
        }
    }
    if def.field("member_id").is_some() {
        lists.push("members");
    }
    qs.extend(gps(false));
    for f in def
        .fields
        .iter()
        .filter(|f| !f.server_only && !CHECK_COMMON.contains(&f.name))
    {
        qs.extend(question(f));
    }
    for name in ["photos", "notes"] {
        qs.extend(def.field(name).and_then(question));
    }
    (qs, lists)
}

fn visit() -> Vec<Question> {
    let def = &registry::VISIT;
    let mut qs: Vec<Question> = ["village_code", "household_id", "purpose"]
        .iter()
        .filter_map(|n| def.field(n).and_then(question))
        .collect();
    qs[1].control = Control::FromList {
        list: "households",
        filter: Some("village_code = /data/village_code".into()),
    };
    qs[1].hint = Some(Text::new(
        "村民会议可不选农户",
        "leave empty for a village meeting",
    ));
    qs.extend(gps(false));
    qs.extend(
        ["notes", "photos"]
            .iter()
            .filter_map(|n| def.field(n).and_then(question)),
    );
    qs
}

fn presence() -> Vec<Question> {
    let def = &registry::PRESENCE;
    let mut qs: Vec<Question> = def
        .field("village_code")
        .and_then(question)
        .into_iter()
        .collect();
    qs.extend(gps(true));
    qs.extend(def.field("note").and_then(question));
    qs
}

/// The fields a registration or an update asks, with the house's position as one geopoint.
fn record_fields(def: &'static EntityDef, update: bool) -> Vec<Question> {
    let pair = geopoint_pair(def);
    let mut qs = Vec::new();
    for f in def
        .fields
        .iter()
        // The server writes these; an update cannot change those set on create.
        .filter(|f| !f.server_only)
        .filter(|f| !update || !f.immutable)
    {
        match pair {
            Some(stem) if f.name == format!("{stem}_lat") => {
                qs.push(Question::new(stem, label(stem), Control::Input("geopoint")));
            }
            Some(stem) if f.name == format!("{stem}_lon") => {}
            _ => {
                if let Some(mut q) = question(f) {
                    if f.name != "name" {
                        q.saveto = Some(column(f.name).to_owned());
                    }
                    qs.push(q);
                }
            }
        }
    }
    qs
}

fn register(def: &'static EntityDef) -> Spec {
    let mut qs = record_fields(def, false);
    let (list, label_field) = if def.name == "household" {
        ("villages", "head_name")
    } else {
        ("households", "name")
    };
    Spec {
        form_id: String::new(),
        title: String::new(),
        questions: std::mem::take(&mut qs),
        lists: vec![list],
        entity: dataset(def).map(|d| EntityBlock {
            dataset: d,
            update_from: None,
            label: format!("/data/{label_field}"),
        }),
    }
}

fn update(def: &'static EntityDef) -> Spec {
    let set = dataset(def).unwrap_or("households");
    let (selector, label_field) = if def.name == "household" {
        ("household_id", "head_name")
    } else {
        ("member", "name")
    };
    let mut qs = Vec::new();
    let mut lists = vec!["households"];
    if def.name == "member" {
        lists.push("members");
        let mut hh = Question::new(
            "household",
            label("household"),
            Control::FromList {
                list: "households",
                filter: None,
            },
        );
        hh.required = true;
        qs.push(hh);
    }
    let filter = (def.name == "member").then(|| "household_id = /data/household".to_owned());
    let mut pick = Question::new(
        selector,
        label(if def.name == "member" {
            "member_id"
        } else {
            "household_id"
        }),
        Control::FromList { list: set, filter },
    );
    pick.required = true;
    pick.hint = Some(Text::new(
        "选择后显示现有信息，只改需要改的",
        "the current values appear; change only what changed",
    ));
    let mut fields = record_fields(def, true);
    // A masked value the role was sent (an ID-card number as 6401**********1234) stays as it
    // is unless the cadre types a new one, so an unchanged value passes its constraint.
    for q in &mut fields {
        if let Some((c, _)) = &mut q.constraint {
            *c = format!(". = /data/orig/{} or ({c})", q.name);
        }
    }
    let item = format!("instance('{set}')/root/item[name = /data/{selector}]");
    let mut originals = Vec::new();
    for q in &fields {
        let value = match geopoint_pair(def) {
            Some(stem) if q.name == stem => format!(
                "if({item}/{stem}_lat != '', concat({item}/{stem}_lat, ' ', {item}/{stem}_lon, ' 0 0'), '')"
            ),
            _ => format!("{item}/{}", column(&q.name)),
        };
        pick.on_change
            .push((format!("/data/{}", q.name), value.clone()));
        pick.on_change
            .push((format!("/data/orig/{}", q.name), value));
        originals.push(Question::new(
            &q.name,
            Text::new("", ""),
            Control::Hidden {
                ty: "string",
                calculate: None,
            },
        ));
    }
    qs.push(pick);
    qs.extend(fields);
    qs.push(Question::new(
        "orig",
        Text::new("", ""),
        Control::Group(originals),
    ));
    Spec {
        form_id: String::new(),
        title: String::new(),
        questions: qs,
        lists,
        entity: Some(EntityBlock {
            dataset: set,
            update_from: Some(selector.to_owned()),
            label: format!("/data/{label_field}"),
        }),
    }
}

/// The spec of one registry form.
pub fn spec(form: &RegistryForm) -> Spec {
    let mut spec = match form.purpose {
        Purpose::Check(def) => {
            let (questions, lists) = check(def);
            Spec {
                form_id: String::new(),
                title: String::new(),
                questions,
                lists,
                entity: None,
            }
        }
        Purpose::Visit => Spec {
            form_id: String::new(),
            title: String::new(),
            questions: visit(),
            lists: vec!["villages", "households"],
            entity: None,
        },
        Purpose::Presence => Spec {
            form_id: String::new(),
            title: String::new(),
            questions: presence(),
            lists: vec!["villages"],
            entity: None,
        },
        Purpose::Register(def) => register(def),
        Purpose::Update(def) => update(def),
    };
    spec.form_id = form.form_id.to_owned();
    spec.title = labels::form_title(form.form_id).map_or_else(|| form.form_id.to_owned(), |t| t.zh);
    spec
}
