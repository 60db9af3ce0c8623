//! The ODK Entities block of an instance (`meta/entity`): which entity list, which entity,
//! create or update, the versions an offline edit was made on, and the properties saved to it.

use uuid::Uuid;

use super::Field;
use super::value::invalid;
use crate::openrosa::problem::Problem;
use crate::openrosa::xform::schema::FormSchema;
use crate::openrosa::xml::Element;

#[derive(Clone, Debug, PartialEq)]
pub struct EntityAction {
    /// The entity list (`households`).
    pub dataset: String,
    pub id: Uuid,
    pub create: bool,
    pub update: bool,
    /// The entity version the edit was made on (Collect's local version for offline edits).
    pub base_version: Option<u64>,
    /// The last server version the phone had, for an offline edit.
    pub trunk_version: Option<u64>,
    /// The phone's run of offline edits this one belongs to.
    pub branch_id: Option<String>,
    pub label: Option<String>,
    /// Properties saved by `entities:saveto`: (property, value as sent).
    pub properties: Vec<(String, String)>,
    /// Where the block is: `/data/meta/entity`, `/data/person[2]/meta/entity`.
    pub path: String,
}

fn flag(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("1" | "true" | "true()"))
}

pub(super) fn read(e: &Element, path: &str) -> Result<EntityAction, Problem> {
    let number = |name: &str| -> Result<Option<u64>, Problem> {
        match e.attr(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                invalid(
                    "实体版本号不是整数",
                    "an entity version is not a whole number",
                    &format!("{path}/@{name}"),
                )
            }),
        }
    };
    let dataset = e
        .attr("dataset")
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid("实体缺少 dataset", "an entity names no dataset", path))?;
    let id = e
        .attr("id")
        .map(str::trim)
        .and_then(|id| Uuid::parse_str(id.strip_prefix("uuid:").unwrap_or(id)).ok())
        .ok_or_else(|| {
            invalid(
                "实体编号不是UUID",
                "the entity id is not a UUID",
                &format!("{path}/@id"),
            )
        })?;
    Ok(EntityAction {
        dataset: dataset.to_owned(),
        id,
        create: flag(e.attr("create")),
        update: flag(e.attr("update")),
        base_version: number("baseVersion")?,
        trunk_version: number("trunkVersion")?,
        branch_id: e
            .attr("branchId")
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned),
        label: e
            .child("label")
            .map(Element::value)
            .filter(|l| !l.is_empty())
            .map(str::to_owned),
        properties: Vec::new(),
        path: path.to_owned(),
    })
}

/// Gives each saved value to the entity of the nearest enclosing group that has one (a
/// household's `count` outside the person repeat is the household's; a person's `age` inside
/// the repeat is that person's), as Central assigns them.
pub(super) fn attach_properties(
    entities: &mut [EntityAction],
    fields: &[Field],
    form: &FormSchema,
) {
    for f in fields {
        let Some(property) = form.bind(&f.nodeset).and_then(|b| b.saveto.clone()) else {
            continue;
        };
        let owner = entities
            .iter_mut()
            .filter(|e| {
                let container = e.path.trim_end_matches("/meta/entity");
                f.path.starts_with(&format!("{container}/"))
            })
            .max_by_key(|e| e.path.len());
        if let Some(e) = owner {
            e.properties.push((property, f.raw.clone()));
        }
    }
}
