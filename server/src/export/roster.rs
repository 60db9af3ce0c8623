//! The households and people of villages in the layout the roster import reads (one row per
//! person, `crate::sheets`), so that an office can take its roster out, correct it in Excel and
//! bring it back, and an unchanged file imported again changes nothing: every row carries
//! fieldsync's own ids beside the national numbers. For the county's own office: values are
//! written in full, and every household written is in the audit log with the personal fields
//! it showed.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use fieldsync_protocol::registry::{EntityDef, HOUSEHOLD, MEMBER, Personal};
use serde_json::{Map, Value};

use super::{Cell, ExportError, Format, Reader, Sheet, csv_cells, csv_header};
use crate::clock;
use crate::sheets::{self, Household, Person, Village};
use crate::store::{AuditAction, AuditEntry, RosterRecord, Store, StoreError};

/// Fields the layout carries in columns of their own, not among the record's fields.
const OWN_COLUMNS: [&str; 4] = ["village_code", "household_id", "household_no", "person_no"];

fn fields_of(record: &RosterRecord) -> Map<String, Value> {
    record
        .fields
        .0
        .iter()
        .filter(|(k, _)| !OWN_COLUMNS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn text(record: &RosterRecord, field: &str) -> Option<String> {
    record
        .fields
        .0
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A village's households with their people, as the import reads them back.
pub async fn village(store: &Store, code: &str) -> Result<Vec<Household>, StoreError> {
    let records = store.roster_records(code).await?;
    let mut people: HashMap<uuid::Uuid, Vec<Person>> = HashMap::new();
    for r in records.iter().filter(|r| r.entity == MEMBER.name) {
        let Some(h) = r.household_id else { continue };
        people.entry(h).or_default().push(Person {
            line: 0,
            person_no: text(r, "person_no"),
            record_id: Some(r.id.to_string()),
            fields: fields_of(r),
        });
    }
    Ok(records
        .iter()
        .filter(|r| r.entity == HOUSEHOLD.name)
        .map(|r| Household {
            line: 0,
            household_no: text(r, "household_no").unwrap_or_default(),
            record_id: Some(r.id.to_string()),
            village: Village::Code(code.to_owned()),
            fields: fields_of(r),
            members: people.remove(&r.id).unwrap_or_default(),
        })
        .collect())
}

/// Audit entries for households written out: each names the personal fields it showed.
fn audit(households: &[Household], village: &str, reader: Reader) -> Vec<AuditEntry> {
    let personal = |entity: &EntityDef, fields: &Map<String, Value>| {
        entity
            .fields
            .iter()
            .filter(|f| f.personal != Personal::None && fields.contains_key(f.name))
            .map(|f| f.name.to_owned())
            .collect::<Vec<_>>()
    };
    households
        .iter()
        .filter_map(|h| {
            let id = h.record_id.as_deref()?.parse().ok()?;
            let mut shown: BTreeSet<String> = personal(&HOUSEHOLD, &h.fields).into_iter().collect();
            for p in &h.members {
                shown.extend(personal(&MEMBER, &p.fields));
            }
            (!shown.is_empty()).then(|| AuditEntry {
                user_id: reader.user_id,
                device_id: reader.device_id,
                action: AuditAction::Read,
                entity: HOUSEHOLD.name,
                record_id: id,
                household_id: Some(id),
                scope: Some(village.to_owned()),
                fields: shown.into_iter().collect(),
            })
        })
        .collect()
}

/// Writes the roster of `villages` to `out` in `format`; returns the households written.
/// Blocking writes: run it where blocking is allowed (the command line).
pub async fn write(
    store: &Store,
    villages: &[String],
    reader: Reader,
    format: Format,
    mut out: impl Write + Send,
) -> Result<u64, ExportError> {
    let header = sheets::header();
    let mut sheet = match format {
        Format::Xlsx => Some(Sheet::with_headers("农户成员", &header, |_| {
            Some(20.0)
        })?),
        Format::Csv => {
            out.write_all(&csv_header(&header)?)?;
            None
        }
    };
    let mut done = 0;
    for code in villages {
        let households = village(store, code).await?;
        store
            .append_audit(&audit(&households, code, reader), clock::now_ms())
            .await?;
        let rows: Vec<Vec<Cell>> = sheets::rows(&households)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|s| {
                        if s.is_empty() {
                            Cell::Empty
                        } else {
                            Cell::Text(s)
                        }
                    })
                    .collect()
            })
            .collect();
        match &mut sheet {
            Some(s) => s.write_cells(rows.iter().map(Vec::as_slice))?,
            None => out.write_all(&csv_cells(rows.iter().map(Vec::as_slice))?)?,
        }
        done += households.len() as u64;
    }
    match sheet {
        Some(s) => s.save(out)?,
        None => out.flush()?,
    }
    Ok(done)
}
