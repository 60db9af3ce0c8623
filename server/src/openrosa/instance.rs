//! A submitted instance → what it says, before any database: the form it names, the OpenRosa
//! metadata (instanceID, deprecatedID, start, end, device), every value typed by the form's
//! binds, geopoints, the files it names, and its entity actions.
//!
//! Elements are matched by local name, as Central matches them (a meta block may be `orx:`,
//! `n0:` or unprefixed). The metadata is read from the OpenRosa names inside `meta`
//! (`timeStart`, `timeEnd`, `deviceID`) and from pyxform's top-level `start`, `end`,
//! `deviceid`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::openrosa::problem::{Kind, Problem};
use crate::openrosa::xform::schema::{FormSchema, ValueType};
use crate::openrosa::xml::{Element, without_indexes};

mod entity;
mod value;

pub use entity::EntityAction;
pub use value::{Answer, Geopoint};

/// One value of the submission.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// With repeat indexes: `/data/members/person[2]/name`.
    pub path: String,
    /// As the form's bind names it: `/data/members/person/name`.
    pub nodeset: String,
    pub answer: Answer,
    /// The text as sent (trimmed).
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    pub form_id: String,
    pub version: Option<String>,
    /// As sent (`uuid:…`); see `ids::normalize_instance_id`.
    pub instance_id: Option<String>,
    pub deprecated_id: Option<String>,
    pub instance_name: Option<String>,
    pub started: Option<OffsetDateTime>,
    pub ended: Option<OffsetDateTime>,
    pub device_id: Option<String>,
    /// Every non-empty value outside the meta block, in document order.
    pub fields: Vec<Field>,
    pub entities: Vec<EntityAction>,
    /// Values that do not read as their bind's type (kept in `fields` as text). Collect never
    /// sends such values; the mapping refuses a submission that has any.
    pub problems: Vec<Problem>,
}

/// The form id and version an instance names (root `@id`, `@version` or `@orx:version`), to
/// pick the form it is read against.
pub fn form_of(root: &Element) -> Result<(String, Option<String>), Problem> {
    let id = root
        .attr("id")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Problem::new(
                Kind::Invalid,
                "提交的数据没有表单编号（根元素缺少 id）",
                "the instance names no form (its root has no id)",
            )
            .at(format!("/{}", root.name))
        })?;
    let version = root
        .attr("version")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok((id.to_owned(), version))
}

/// Reads an instance against the form it was filled on (the caller picked it by
/// [`form_of`]).
pub fn read(root: &Element, form: &FormSchema) -> Result<Submission, Problem> {
    let (form_id, version) = form_of(root)?;
    let meta = root.child("meta");
    let meta_text = |names: &[&str]| {
        names.iter().find_map(|n| {
            meta.and_then(|m| m.child(n))
                .or_else(|| root.child(n))
                .map(Element::value)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        })
    };
    let instance_id = meta_text(&["instanceID"]).or_else(|| {
        // Aggregate's export puts it on the root too.
        root.attr("instanceID").map(str::to_owned)
    });
    let time = |names: &[&str]| -> Result<Option<OffsetDateTime>, Problem> {
        match meta_text(names) {
            None => Ok(None),
            Some(t) => value::date_time(&t).map(Some).ok_or_else(|| {
                value::invalid(
                    "时间格式不对",
                    "not a date and time",
                    &format!("/{}/meta/{}", root.name, names[0]),
                )
            }),
        }
    };
    let mut fields = Vec::new();
    let mut entities = Vec::new();
    let mut problems = Vec::new();
    for (path, e) in root.walk() {
        if e.name == "entity" && path.ends_with("/meta/entity") {
            entities.push(entity::read(e, &path)?);
            continue;
        }
        let in_meta = path
            .split('/')
            .any(|seg| seg == "meta" || seg.starts_with("meta["));
        let top_meta = matches!(e.name.as_str(), "start" | "end" | "deviceid")
            && path.matches('/').count() == 2;
        if !e.children.is_empty() || in_meta || top_meta || e.value().is_empty() {
            continue;
        }
        let nodeset = without_indexes(&path);
        let ty = form
            .bind(&nodeset)
            .map_or(ValueType::Text, |b| b.ty.clone());
        let answer = value::typed(&ty, e.value(), &path).unwrap_or_else(|p| {
            problems.push(p);
            Answer::Text(e.value().to_owned())
        });
        fields.push(Field {
            answer,
            raw: e.value().to_owned(),
            path,
            nodeset,
        });
    }
    entity::attach_properties(&mut entities, &fields, form);
    Ok(Submission {
        form_id,
        version,
        instance_id,
        deprecated_id: meta_text(&["deprecatedID"]),
        instance_name: meta_text(&["instanceName"]),
        started: time(&["timeStart", "start"])?,
        ended: time(&["timeEnd", "end"])?,
        device_id: meta_text(&["deviceID", "deviceid"]),
        fields,
        entities,
        problems,
    })
}

impl Submission {
    /// The first value at a nodeset.
    pub fn get(&self, nodeset: &str) -> Option<&Answer> {
        self.fields
            .iter()
            .find(|f| f.nodeset == nodeset)
            .map(|f| &f.answer)
    }

    /// Every value at a nodeset (all repeats).
    pub fn all<'a>(&'a self, nodeset: &'a str) -> impl Iterator<Item = &'a Answer> {
        self.fields
            .iter()
            .filter(move |f| f.nodeset == nodeset)
            .map(|f| &f.answer)
    }

    /// The files the submission names, in document order: the values of its binary fields.
    pub fn attachments(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter_map(|f| match &f.answer {
                Answer::File(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every geopoint, with its path.
    pub fn geopoints(&self) -> Vec<(&str, &Geopoint)> {
        self.fields
            .iter()
            .filter_map(|f| match &f.answer {
                Answer::Point(p) => Some((f.path.as_str(), p)),
                _ => None,
            })
            .collect()
    }

    /// When the instance was made: its start, else its end.
    pub fn captured(&self) -> Option<OffsetDateTime> {
        self.started.or(self.ended)
    }
}

/// RFC 3339 text of a time, for the registry's `DateTime` fields.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests;
