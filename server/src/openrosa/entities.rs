//! Households, members and villages as CSV form media: the ODK entity lists a form reads with
//! `instance('households')` from `jr://file-csv/households.csv`.
//!
//! Columns are `name` (the record id), `label`, `__version` (the record's version, which
//! every change through fieldsync's own sync raises too), then the fields the forms read: every
//! field of the entity a form asks or prefills (a member's `name` is its `label`, `name` being
//! the id). Values arrive already disclosed for the caller's role (`privacy::disclose`): a
//! field the role may not see is absent and its cell empty, a masked one stays masked. The
//! hash is the MD5 of the bytes, so it changes exactly when the list does.

use fieldsync_protocol::registry::{EntityDef, HOUSEHOLD, MEMBER};
use md5::Md5;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::xform::registry::column;
use crate::hex::hex;

/// One record as the caller's role sees it.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: Uuid,
    pub version: u64,
    pub fields: Map<String, Value>,
}

/// A CSV file and its `md5:` hash.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaFile {
    pub file_name: &'static str,
    pub csv: String,
    pub hash: String,
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        // Select-multiple answers are space-separated in XForms.
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
    }
}

/// The property columns of an entity's list, in registry order.
pub fn columns(def: &EntityDef) -> Vec<&'static str> {
    def.fields
        .iter()
        .filter(|f| !f.server_only && column(f.name) != "label")
        .map(|f| f.name)
        .collect()
}

fn write(file_name: &'static str, header: &[&str], rows: Vec<Vec<String>>) -> MediaFile {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failure would leave the list empty, never wrong.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    let bytes = w.into_inner().unwrap_or_default();
    let csv = String::from_utf8(bytes).unwrap_or_default();
    let hash = format!("md5:{}", hex(&<Md5 as md5::Digest>::digest(csv.as_bytes())));
    MediaFile {
        file_name,
        csv,
        hash,
    }
}

fn list(file_name: &'static str, def: &EntityDef, label_field: &str, rows: &[Row]) -> MediaFile {
    let props = columns(def);
    let mut header = vec!["name", "label", "__version"];
    header.extend(&props);
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| r.id);
    let body = sorted
        .into_iter()
        .map(|r| {
            let mut line = vec![
                r.id.to_string(),
                cell(r.fields.get(label_field)),
                r.version.to_string(),
            ];
            line.extend(props.iter().map(|p| cell(r.fields.get(*p))));
            line
        })
        .collect();
    write(file_name, &header, body)
}

/// `households.csv`: label is the head's name.
pub fn households(rows: &[Row]) -> MediaFile {
    list("households.csv", &HOUSEHOLD, "head_name", rows)
}

/// `members.csv`: label is the member's name; `household_id` filters a household's members.
pub fn members(rows: &[Row]) -> MediaFile {
    list("members.csv", &MEMBER, "name", rows)
}

/// `villages.csv` (plain form media, not an entity list): the villages the user serves
/// today, as (code, name).
pub fn villages(villages: &[(String, String)]) -> MediaFile {
    let mut sorted = villages.to_vec();
    sorted.sort();
    let body = sorted
        .into_iter()
        .map(|(code, name)| vec![code, name])
        .collect();
    write("villages.csv", &["name", "label"], body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: u128, version: u64, fields: Value) -> Row {
        Row {
            id: Uuid::from_u128(id),
            version,
            fields: fields.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn lists_have_the_entity_columns_and_disclosed_values() {
        let m = members(&[row(
            2,
            3,
            json!({"household_id": "00000000-0000-0000-0000-000000000009", "name": "马小花, \"花花\"",
                   "id_card": "6401**********1234", "family_doctor_signed": true}),
        )]);
        let mut lines = m.csv.lines();
        let header = lines.next().unwrap();
        assert!(
            header.starts_with("name,label,__version,household_id,relation,gender"),
            "{header}"
        );
        assert!(!header.contains(",name,"), "a member's name is its label");
        let line = lines.next().unwrap();
        assert!(line.starts_with("00000000-0000-0000-0000-000000000002,\"马小花, \"\"花花\"\"\",3,00000000-0000-0000-0000-000000000009,"), "{line}");
        assert!(line.contains("6401**********1234") && line.contains(",true,"));
        assert!(!header.contains("passing"));
    }

    #[test]
    fn the_hash_follows_the_content_not_the_order() {
        let a = row(
            1,
            1,
            json!({"head_name": "甲", "village_code": "640104001002", "hazards": ["flood", "fire"]}),
        );
        let b = row(
            2,
            4,
            json!({"head_name": "乙", "village_code": "640104001002"}),
        );
        let one = households(&[a.clone(), b.clone()]);
        assert_eq!(one, households(&[b.clone(), a.clone()]));
        let mut b2 = b.clone();
        b2.version = 5;
        assert_ne!(
            one.hash,
            households(&[a, b2]).hash,
            "a new version is a new list"
        );
        assert!(one.hash.starts_with("md5:"));
        let v = villages(&[("640104001002".into(), "何家村".into())]);
        assert_eq!(v.csv, "name,label\r\n640104001002,何家村\r\n");
    }
}
