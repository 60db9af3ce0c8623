//! JSON Schemas (draft 2020-12) of every entity's `fields`, made from the registry itself, so
//! the schemas the phone team builds forms from can never disagree with what the server checks.
//! Committed as `mobile-contract/schemas/entities.json`; a test fails when they differ.
//!
//! Beyond standard keywords each property carries what a form needs to know:
//! `readOnly` (written by the server), `x-immutable` (set on create only), `x-merge`
//! (`last_writer_wins` or `ranked` with its order), `x-personal` (the kind of personal data),
//! `x-ref` (the entity an id names). `required` is what a create needs.

use serde_json::{Map, Value, json};

use super::validate::{MAX_OBJECT_BYTES, MAX_PHOTOS};
use super::{ENTITIES, EntityDef, FieldDef, FieldType, MergePolicy, Personal, ScopeRule};

const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

fn type_schema(ty: FieldType) -> Value {
    match ty {
        FieldType::Text { max_chars } => {
            json!({"type": "string", "minLength": 1, "maxLength": max_chars})
        }
        FieldType::Integer { min, max } => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
        FieldType::Decimal { min, max } => {
            json!({"type": "number", "minimum": min, "maximum": max, "x-max-decimals": 6})
        }
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Enum(values) => json!({"type": "string", "enum": values}),
        FieldType::Phone => json!({
            "type": "string",
            "pattern": "^(1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}|0[0-9]{9,11})$",
            "description": "a mainland mobile (11 digits, leading 1) or a landline (0 + area code + number)"
        }),
        FieldType::IdCard => json!({
            "type": "string",
            "pattern": "^[0-9]{17}[0-9Xx]$",
            "description": "a resident ID-card number (GB 11643); the check digit is verified"
        }),
        FieldType::VillageCode => json!({"type": "string", "pattern": "^[0-9]{12}$"}),
        FieldType::Ref(entity) => {
            json!({"type": "string", "format": "uuid", "pattern": UUID_PATTERN, "x-ref": entity})
        }
        FieldType::MemberOf(household_field) => json!({
            "type": "string", "format": "uuid", "pattern": UUID_PATTERN, "x-ref": "member",
            "description": format!("a member of the household named in {household_field}")
        }),
        FieldType::AnyRef(entities) => {
            json!({"type": "string", "format": "uuid", "pattern": UUID_PATTERN, "x-ref": entities})
        }
        FieldType::Id => json!({"type": "string", "format": "uuid", "pattern": UUID_PATTERN}),
        FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
        FieldType::EnumList(values) => json!({
            "type": "array", "uniqueItems": true, "items": {"type": "string", "enum": values}
        }),
        FieldType::HashList => json!({
            "type": "array", "uniqueItems": true, "maxItems": MAX_PHOTOS,
            "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}
        }),
        FieldType::Object => json!({"type": "object", "x-max-bytes": MAX_OBJECT_BYTES}),
    }
}

fn personal(p: Personal) -> Option<&'static str> {
    match p {
        Personal::None => None,
        Personal::Identity => Some("identity"),
        Personal::Phone => Some("phone"),
        Personal::IdCard => Some("id_card"),
        Personal::Health => Some("health"),
        Personal::Income => Some("income"),
    }
}

fn field_schema(f: &FieldDef) -> Value {
    let mut s = type_schema(f.ty);
    if let Some(obj) = s.as_object_mut() {
        if f.server_only {
            obj.insert("readOnly".into(), json!(true));
        }
        if f.immutable {
            obj.insert("x-immutable".into(), json!(true));
        }
        obj.insert(
            "x-merge".into(),
            match f.merge {
                MergePolicy::LastWriterWins => json!("last_writer_wins"),
                MergePolicy::Ranked(order) => json!({"ranked": order}),
            },
        );
        if let Some(p) = personal(f.personal) {
            obj.insert("x-personal".into(), json!(p));
        }
    }
    s
}

/// The schema of one entity's `fields`.
pub fn entity_schema(def: &EntityDef) -> Value {
    let properties: Map<String, Value> = def
        .fields
        .iter()
        .map(|f| (f.name.to_owned(), field_schema(f)))
        .collect();
    let required: Vec<&str> = def
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let scope = match def.scope {
        ScopeRule::OwnField(f) => json!({"village_field": f}),
        ScopeRule::Parent { field } => json!({"parent_field": field}),
    };
    json!({
        "title": def.name,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
        "x-append-only": def.append_only,
        "x-needs-gps-fix": def.needs_fix,
        "x-scope": scope,
    })
}

/// Every entity's schema, under `$defs`, by entity name.
pub fn document() -> Value {
    let defs: Map<String, Value> = ENTITIES
        .iter()
        .map(|e| (e.name.to_owned(), entity_schema(e)))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://fieldsync.example/schemas/entities.json",
        "title": "fieldsync entities: the fields of each record",
        "description": "Made from the server's entity registry (protocol/src/registry). A create must carry `required`; an update only changed fields; `readOnly` fields are the server's.",
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_and_field_is_described() {
        let doc = document();
        for e in ENTITIES {
            let s = &doc["$defs"][e.name];
            for f in e.fields {
                assert!(s["properties"][f.name].is_object(), "{}.{}", e.name, f.name);
            }
            assert_eq!(
                s["properties"].as_object().map(Map::len),
                Some(e.fields.len())
            );
        }
        let task = &doc["$defs"]["task"]["properties"]["status"];
        assert_eq!(task["x-merge"]["ranked"][3], "done");
        let phone = &doc["$defs"]["household"]["properties"]["phone"];
        assert_eq!(phone["x-personal"], "phone");
        let outcome = &doc["$defs"]["case_step"]["properties"]["outcome"];
        assert_eq!(outcome["readOnly"], true);
    }
}
