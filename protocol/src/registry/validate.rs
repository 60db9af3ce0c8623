//! Checks a mutation's `fields` against an entity's declaration.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Most photos one record may carry.
pub const MAX_PHOTOS: usize = 20;
/// Largest JSON object field (survey answers), serialised.
pub const MAX_OBJECT_BYTES: usize = 64 * 1024;
use time::macros::format_description;
use uuid::Uuid;

use super::{EntityDef, FieldDef, FieldType, idcard};
use crate::error::{ErrorCode, ErrorDetail};
use crate::push::Op;

/// Validates the fields of one mutation. Errors carry the path `fields.<name>`.
pub fn validate_fields(
    def: &EntityDef,
    op: Op,
    fields: &Map<String, Value>,
) -> Result<(), ErrorDetail> {
    match op {
        Op::Delete if !fields.is_empty() => {
            return Err(
                ErrorDetail::new(ErrorCode::InvalidMutation, "a delete carries no fields")
                    .at("fields"),
            );
        }
        Op::Update if fields.is_empty() => {
            return Err(ErrorDetail::new(
                ErrorCode::InvalidMutation,
                "an update carries at least one changed field",
            )
            .at("fields"));
        }
        _ => {}
    }
    for (name, value) in fields {
        let Some(field) = def.field(name) else {
            return Err(ErrorDetail::new(
                ErrorCode::UnknownField,
                format!("{} has no field {name:?}", def.name),
            )
            .at(format!("fields.{name}")));
        };
        check_field(field, op, value).map_err(|e| e.within("fields"))?;
    }
    if op == Op::Create
        && let Some(missing) = def
            .fields
            .iter()
            .find(|f| f.required && fields.get(f.name).is_none_or(Value::is_null))
    {
        return Err(ErrorDetail::new(
            ErrorCode::MissingField,
            format!("a new {} needs {}", def.name, missing.name),
        )
        .at(format!("fields.{}", missing.name)));
    }
    Ok(())
}

fn check_field(field: &FieldDef, op: Op, value: &Value) -> Result<(), ErrorDetail> {
    let err = |code, message: String| Err(ErrorDetail::new(code, message).at(field.name));
    if field.server_only {
        return err(
            ErrorCode::ServerField,
            format!("{} is written by the server", field.name),
        );
    }
    if op == Op::Update && field.immutable {
        return err(
            ErrorCode::ImmutableField,
            format!(
                "{} is set when the record is created and cannot change",
                field.name
            ),
        );
    }
    if value.is_null() {
        if field.required {
            return err(
                ErrorCode::MissingField,
                format!("{} cannot be empty", field.name),
            );
        }
        return Ok(());
    }
    check_value(field.ty, value).or_else(|(code, message)| err(code, message))
}

type Problem = (ErrorCode, String);

fn check_value(ty: FieldType, value: &Value) -> Result<(), Problem> {
    let wrong_type = |expected: &str| {
        Err((
            ErrorCode::InvalidType,
            format!("expected {expected}, got {}", kind(value)),
        ))
    };
    let invalid = |message: String| Err((ErrorCode::InvalidValue, message));
    match ty {
        FieldType::Text { max_chars } => {
            let Some(s) = value.as_str() else {
                return wrong_type("a string");
            };
            if s.chars().count() > max_chars {
                return invalid(format!("at most {max_chars} characters"));
            }
            if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return invalid("contains control characters".into());
            }
            if s.trim().is_empty() {
                return invalid("is blank; send null to clear a field".into());
            }
        }
        FieldType::Integer { min, max } => {
            let Some(n) = value.as_i64() else {
                return wrong_type("an integer");
            };
            if !(min..=max).contains(&n) {
                return invalid(format!("{n} is not within {min}..{max}"));
            }
        }
        FieldType::Decimal { min, max } => {
            let Some(n) = value.as_f64() else {
                return wrong_type("a number");
            };
            if !(min..=max).contains(&n) {
                return invalid(format!("{n} is not within {min}..{max}"));
            }
            // Money and coordinates: more than six decimals is a float artefact, not data.
            if ((n * 1e6).round() - n * 1e6).abs() > 1e-3 {
                return invalid(format!("{n} has more than six decimals"));
            }
        }
        FieldType::Bool => {
            if !value.is_boolean() {
                return wrong_type("true or false");
            }
        }
        FieldType::Date => {
            let Some(s) = value.as_str() else {
                return wrong_type("a date string YYYY-MM-DD");
            };
            let format = format_description!("[year]-[month]-[day]");
            match Date::parse(s, &format) {
                Ok(d) if (1900..=2100).contains(&d.year()) => {}
                _ => return invalid(format!("{s:?} is not a date YYYY-MM-DD")),
            }
        }
        FieldType::Enum(allowed) => {
            let Some(s) = value.as_str() else {
                return wrong_type("a string");
            };
            if !allowed.contains(&s) {
                return invalid(format!("{s:?} is not one of {}", allowed.join(", ")));
            }
        }
        FieldType::Phone => {
            let Some(s) = value.as_str() else {
                return wrong_type("a phone number string");
            };
            if !is_phone(s) {
                return invalid("not a mobile (11 digits starting with 1) or landline (0 + area code + number) number".into());
            }
        }
        FieldType::IdCard => {
            let Some(s) = value.as_str() else {
                return wrong_type("an ID-card number string");
            };
            if let Err(e) = idcard::validate(s) {
                return invalid(e.to_string());
            }
        }
        FieldType::VillageCode => {
            let Some(s) = value.as_str() else {
                return wrong_type("a 12-digit village code string");
            };
            if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return invalid(format!("{s:?} is not a 12-digit village code"));
            }
        }
        FieldType::Ref(entity) => {
            let Some(s) = value.as_str() else {
                return wrong_type("a record id string");
            };
            if Uuid::parse_str(s).is_err() {
                return invalid(format!("{s:?} is not the id of a {entity}"));
            }
        }
        FieldType::AnyRef(entities) => {
            let Some(s) = value.as_str() else {
                return wrong_type("a record id string");
            };
            if Uuid::parse_str(s).is_err() {
                return invalid(format!(
                    "{s:?} is not the id of a record ({})",
                    entities.join(", ")
                ));
            }
        }
        FieldType::Id => {
            let Some(s) = value.as_str() else {
                return wrong_type("an id string");
            };
            if Uuid::parse_str(s).is_err() {
                return invalid(format!("{s:?} is not an id"));
            }
        }
        FieldType::MemberOf(_) => {
            let Some(s) = value.as_str() else {
                return wrong_type("a member id string");
            };
            if Uuid::parse_str(s).is_err() {
                return invalid(format!("{s:?} is not the id of a member"));
            }
        }
        FieldType::DateTime => {
            let Some(s) = value.as_str() else {
                return wrong_type("an RFC 3339 time string");
            };
            match OffsetDateTime::parse(s, &Rfc3339) {
                Ok(t) if (2000..=2100).contains(&t.year()) => {}
                _ => {
                    return invalid(format!(
                        "{s:?} is not a time like 2026-11-28T10:00:00+08:00"
                    ));
                }
            }
        }
        FieldType::EnumList(allowed) => {
            let Some(items) = value.as_array() else {
                return wrong_type("a list");
            };
            let mut seen: Vec<&str> = Vec::with_capacity(items.len());
            for item in items {
                let Some(s) = item.as_str() else {
                    return wrong_type("a list of strings");
                };
                if !allowed.contains(&s) {
                    return invalid(format!("{s:?} is not one of {}", allowed.join(", ")));
                }
                if seen.contains(&s) {
                    return invalid(format!("{s:?} is listed twice"));
                }
                seen.push(s);
            }
        }
        FieldType::HashList => {
            let Some(items) = value.as_array() else {
                return wrong_type("a list of photo hashes");
            };
            if items.len() > MAX_PHOTOS {
                return invalid(format!("at most {MAX_PHOTOS} photos"));
            }
            let mut seen: Vec<&str> = Vec::with_capacity(items.len());
            for item in items {
                let Some(s) = item.as_str() else {
                    return wrong_type("a list of strings");
                };
                if !crate::blob::is_sha256_hex(s) {
                    return invalid(format!("{s:?} is not a SHA-256 hash in lower-case hex"));
                }
                if seen.contains(&s) {
                    return invalid(format!("photo {s} is listed twice"));
                }
                seen.push(s);
            }
        }
        FieldType::Object => {
            if !value.is_object() {
                return wrong_type("an object");
            }
            if value.to_string().len() > MAX_OBJECT_BYTES {
                return invalid(format!("larger than {MAX_OBJECT_BYTES} bytes"));
            }
        }
    }
    Ok(())
}

/// Mobile: 1[3-9] + 9 digits. Landline: 0 + 2–3 digit area code, optional '-', 7–8 digits.
fn is_phone(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |x: &[u8]| x.iter().all(u8::is_ascii_digit);
    if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && digits(b) {
        return true;
    }
    if b.first() != Some(&b'0') {
        return false;
    }
    let (area, number) = match s.split_once('-') {
        Some((a, n)) => (a.as_bytes(), n.as_bytes()),
        None if (10..=12).contains(&b.len()) => return digits(b),
        None => return false,
    };
    (3..=4).contains(&area.len())
        && digits(area)
        && (7..=8).contains(&number.len())
        && digits(number)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{HOUSEHOLD, MEMBER};
    use serde_json::json;

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn code(r: Result<(), ErrorDetail>) -> (ErrorCode, String) {
        let e = r.unwrap_err();
        (e.code, e.field.unwrap_or_default())
    }

    #[test]
    fn a_household_needs_only_village_and_head() {
        let f = fields(json!({"village_code": "640104001002", "head_name": "马德福"}));
        assert!(validate_fields(&HOUSEHOLD, Op::Create, &f).is_ok());
        let f = fields(json!({"village_code": "640104001002"}));
        assert_eq!(
            code(validate_fields(&HOUSEHOLD, Op::Create, &f)),
            (ErrorCode::MissingField, "fields.head_name".into())
        );
    }

    #[test]
    fn types_enums_and_unknown_fields_are_named() {
        let cases = [
            (
                json!({"phone": 13900000000u64}),
                ErrorCode::InvalidType,
                "fields.phone",
            ),
            (
                json!({"phone": "1390000000"}),
                ErrorCode::InvalidValue,
                "fields.phone",
            ),
            (
                json!({"monitoring_type": "rich"}),
                ErrorCode::InvalidValue,
                "fields.monitoring_type",
            ),
            (
                json!({"household_size": 2.5}),
                ErrorCode::InvalidType,
                "fields.household_size",
            ),
            (
                json!({"household_size": 0}),
                ErrorCode::InvalidValue,
                "fields.household_size",
            ),
            (
                json!({"colour": "red"}),
                ErrorCode::UnknownField,
                "fields.colour",
            ),
            (
                json!({"village_code": "640104001003"}),
                ErrorCode::ImmutableField,
                "fields.village_code",
            ),
            (
                json!({"head_name": null}),
                ErrorCode::MissingField,
                "fields.head_name",
            ),
            (
                json!({"head_name": "  "}),
                ErrorCode::InvalidValue,
                "fields.head_name",
            ),
            (
                json!({"head_id_card": "11010519491231003X"}),
                ErrorCode::InvalidValue,
                "fields.head_id_card",
            ),
        ];
        for (f, want, path) in cases {
            let got = code(validate_fields(&HOUSEHOLD, Op::Update, &fields(f.clone())));
            assert_eq!(got, (want, path.to_owned()), "{f}");
        }
    }

    #[test]
    fn optional_fields_can_be_cleared_and_good_values_pass() {
        let f = fields(json!({
            "phone": null, "address": "西吉县吉强镇 3 组", "per_capita_income": 6543.5,
            "head_id_card": "11010519491231002X", "monitoring_type": "marginal_prone"
        }));
        assert!(validate_fields(&HOUSEHOLD, Op::Update, &f).is_ok());
        let f = fields(
            json!({"birth_date": "2012-02-29", "phone": "0954-1234567", "family_doctor_signed": true}),
        );
        assert!(validate_fields(&MEMBER, Op::Update, &f).is_ok());
        let f = fields(json!({"birth_date": "2013-02-29"}));
        assert_eq!(
            code(validate_fields(&MEMBER, Op::Update, &f)).0,
            ErrorCode::InvalidValue
        );
    }

    #[test]
    fn deletes_and_updates_have_shape_rules() {
        let empty = Map::new();
        assert!(validate_fields(&MEMBER, Op::Delete, &empty).is_ok());
        assert_eq!(
            code(validate_fields(&MEMBER, Op::Update, &empty)).0,
            ErrorCode::InvalidMutation
        );
        let f = fields(json!({"name": "x"}));
        assert_eq!(
            code(validate_fields(&MEMBER, Op::Delete, &f)).0,
            ErrorCode::InvalidMutation
        );
    }

    #[test]
    fn phone_shapes() {
        for ok in [
            "13900000000",
            "19912345678",
            "0954-1234567",
            "010-12345678",
            "09541234567",
        ] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in [
            "12900000000",
            "1390000000",
            "139000000000",
            "954-1234567",
            "0954-123",
            "+8613900000000",
        ] {
            assert!(!is_phone(bad), "{bad}");
        }
    }
}
