//! A record's merge metadata as the `meta` column holds it: each stamp once, with the fields
//! it set.
//!
//! The merge keeps, for every field, the version and [`Hlc`] of the write that set it
//! ([`FieldMeta`]). Most fields of a record share their stamp (every field of a new record
//! comes from one mutation), and written field by field, `{"a":{"version":1,"hlc":{…}},"b":{…}}`,
//! the stamps were half the JSON of the `write_path` benchmark's survey row (586 of 1,167 bytes)
//! and four fifths of its household's (950 of 1,161): every write serialised them, SQLite wrote
//! them to its WAL, PostgreSQL parsed them (into `jsonb` then; `json` since migration 0023) and
//! every load of the record parsed them again. So the column holds a list of groups,
//! `[{"version":1,"hlc":{…},"fields":["a","b"]}]`, in the order of their first field: 181 and
//! 233 bytes for those two rows. Rows written in the old form are read as well (`Stamps` accepts
//! both); they take the new one at their next write.

use std::collections::BTreeMap;
use std::fmt;

use fieldsync_protocol::Hlc;
use fieldsync_protocol::merge::FieldMeta;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A record's stamps as read from the column (either form).
#[derive(Debug, Default)]
pub struct Stamps(pub BTreeMap<String, FieldMeta>);

/// A record's stamps to be written, in the grouped form.
pub struct StampsOf<'a>(pub &'a BTreeMap<String, FieldMeta>);

/// One stamp and the fields it set, as written.
#[derive(Serialize)]
struct GroupOut<'a> {
    version: u64,
    hlc: Hlc,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
    fields: Vec<&'a str>,
}

/// The same, as read.
#[derive(Deserialize)]
struct GroupIn {
    version: u64,
    hlc: Hlc,
    #[serde(default)]
    shared: bool,
    fields: Vec<String>,
}

impl Serialize for StampsOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A record has a handful of distinct stamps, so a linear search beats hashing.
        let mut groups: Vec<GroupOut<'_>> = Vec::new();
        for (field, m) in self.0 {
            match groups
                .iter_mut()
                .find(|g| g.version == m.version && g.hlc == m.hlc && g.shared == m.shared)
            {
                Some(g) => g.fields.push(field),
                None => groups.push(GroupOut {
                    version: m.version,
                    hlc: m.hlc,
                    shared: m.shared,
                    fields: vec![field],
                }),
            }
        }
        let mut seq = serializer.serialize_seq(Some(groups.len()))?;
        for g in &groups {
            seq.serialize_element(g)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Stamps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StampsVisitor)
    }
}

struct StampsVisitor;

impl<'de> Visitor<'de> for StampsVisitor {
    type Value = Stamps;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of stamps with their fields, or a map of field to stamp")
    }

    /// The grouped form.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Stamps, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(g) = seq.next_element::<GroupIn>()? {
            let stamp = FieldMeta {
                version: g.version,
                hlc: g.hlc,
                shared: g.shared,
            };
            out.extend(g.fields.into_iter().map(|f| (f, stamp)));
        }
        Ok(Stamps(out))
    }

    /// The form rows had before: a map of field to stamp.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stamps, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((field, stamp)) = map.next_entry::<String, FieldMeta>()? {
            out.insert(field, stamp);
        }
        Ok(Stamps(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn stamp(version: u64, wall_ms: u64, shared: bool) -> FieldMeta {
        FieldMeta {
            version,
            hlc: Hlc {
                wall_ms,
                counter: 0,
                node: Uuid::from_u128(7),
            },
            shared,
        }
    }

    #[test]
    fn fields_sharing_a_stamp_are_written_once_and_read_back_whole() {
        let meta: BTreeMap<String, FieldMeta> = [
            ("a", stamp(1, 10, false)),
            ("b", stamp(2, 20, false)),
            ("c", stamp(1, 10, false)),
            ("d", stamp(2, 20, true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let written = serde_json::to_value(StampsOf(&meta)).unwrap();
        let node = Uuid::from_u128(7).to_string();
        assert_eq!(
            written,
            json!([
                {"version": 1, "hlc": {"wall_ms": 10, "counter": 0, "node": node}, "fields": ["a", "c"]},
                {"version": 2, "hlc": {"wall_ms": 20, "counter": 0, "node": node}, "fields": ["b"]},
                {"version": 2, "hlc": {"wall_ms": 20, "counter": 0, "node": node}, "shared": true, "fields": ["d"]},
            ])
        );
        let read: Stamps = serde_json::from_value(written).unwrap();
        assert_eq!(read.0, meta);
    }

    #[test]
    fn rows_in_the_old_form_read_the_same() {
        let meta: BTreeMap<String, FieldMeta> =
            [("a", stamp(1, 10, false)), ("b", stamp(3, 30, true))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
        let old = serde_json::to_string(&meta).unwrap();
        assert!(old.starts_with('{'), "{old}");
        let read: Stamps = serde_json::from_str(&old).unwrap();
        assert_eq!(read.0, meta);
        let empty: Stamps = serde_json::from_str("{}").unwrap();
        assert!(empty.0.is_empty());
        assert_eq!(
            serde_json::to_string(&StampsOf(&BTreeMap::new())).unwrap(),
            "[]"
        );
    }

    #[test]
    fn a_malformed_column_is_an_error_not_an_empty_record() {
        for bad in ["3", "\"x\"", "[{\"version\":1}]", "{\"a\":1}"] {
            assert!(serde_json::from_str::<Stamps>(bad).is_err(), "{bad}");
        }
    }
}
