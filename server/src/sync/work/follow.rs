//! What the judging of follow-up work passes around, so that the files of `work` import it
//! from here and not from each other: the context of one mutation ([`Judging`]), what it sets
//! off ([`Follow`]), and readers of record fields.

use std::collections::HashMap;

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::registry::EntityDef;
use serde_json::{Map, Value};
use time::Date;
use uuid::Uuid;

use crate::clock;
use crate::store::StoreError;
use crate::sync::batch::{Step, Working};

/// A record the server writes as a consequence.
pub(super) struct ServerWrite {
    pub(super) id: Uuid,
    pub(super) def: &'static EntityDef,
    pub(super) scope: String,
    pub(super) fields: Map<String, Value>,
    pub(super) create: bool,
}

/// A step that met a case moved by someone else: kept, and a conflict on the case's state.
pub(super) struct MovedStep {
    pub(super) case_id: Uuid,
    pub(super) scope: String,
    pub(super) yours: Value,
    pub(super) theirs: Value,
}

/// What a mutation sets off.
#[derive(Default)]
pub(in crate::sync) struct Follow {
    pub(super) writes: Vec<ServerWrite>,
    pub(super) moved: Option<MovedStep>,
}

/// What a mutation sets off, or why it is rejected alone (the outer error aborts the batch).
pub(in crate::sync) type Judged = Result<Result<Follow, ErrorDetail>, StoreError>;

/// What judging one mutation's follow-up reads: the step, the village of its record, the
/// records the batch holds (the push preloads the cases and tasks it may change), and the
/// push's time.
pub(super) struct Judging<'a> {
    pub(super) step: Step<'a>,
    pub(super) scope: &'a str,
    pub(super) records: &'a HashMap<Uuid, Working>,
    pub(super) at: At,
}

impl Judging<'_> {
    /// The mutation's record before the merge.
    pub(super) fn before(&self) -> Option<&RecordState> {
        self.records.get(&self.step.m.id).map(|w| &w.state)
    }
}

/// The push's time, in the forms records carry.
pub(super) struct At {
    pub(super) today: Date,
    pub(super) rfc3339: String,
}

impl At {
    pub(super) fn new(ms: i64) -> At {
        At {
            today: clock::date_of_ms(ms),
            rfc3339: clock::rfc3339_of_ms(ms),
        }
    }
}

pub(super) fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name)?.as_str()
}

/// The strings of an array field; none where it is missing.
pub(super) fn texts(fields: &Map<String, Value>, name: &str) -> Vec<String> {
    fields
        .get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn uuid(fields: &Map<String, Value>, name: &str) -> Option<Uuid> {
    text(fields, name)?.parse().ok()
}

pub(super) fn refuse(code: ErrorCode, message: impl Into<String>, field: &str) -> Judged {
    Ok(Err(ErrorDetail::new(code, message).at(field)))
}

/// Every live record of `entity` in `scope` the batch holds (the push preloads the cases and
/// tasks of the villages it touches).
pub(super) fn live<'a>(
    records: &'a HashMap<Uuid, Working>,
    entity: &'a str,
    scope: &'a str,
) -> impl Iterator<Item = (Uuid, &'a Map<String, Value>)> + 'a {
    records
        .iter()
        .filter(move |(_, w)| w.entity == entity && w.scope == scope && !w.state.deleted)
        .map(|(id, w)| (*id, &w.state.fields))
}
