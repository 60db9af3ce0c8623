//! The three-way field merge: what one mutation does to a record.
//!
//! The server keeps, for every field, the record version at which it last changed and the
//! [`Hlc`] of the write that set it ([`FieldMeta`]). That is enough for a three-way merge
//! without storing old copies: a field the server has not changed since the mutation's
//! `base_version` takes the incoming value cleanly; a field both sides changed is a same-field
//! race, decided by the field's [`MergePolicy`], and the losing value is returned as a
//! [`LostValue`] for the caller to store as a conflict record.
//!
//! Guarantees (checked by the property tests below): concurrent edits made on the same base
//! reach the same visible state in whatever order they arrive, and every value that loses a
//! race is reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, ErrorDetail};
use crate::hlc::Hlc;
use crate::push::{ConflictKind, Mutation, Op, Status};
use crate::registry::{EntityDef, MergePolicy};

/// When a field last changed, and which write set its current value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMeta {
    pub version: u64,
    pub hlc: Hlc,
    /// Another device wrote the same value concurrently. The value then belongs to more than
    /// one author, and its stamp's device overwriting it is a race like any other.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

impl FieldMeta {
    fn new(version: u64, hlc: Hlc) -> Self {
        FieldMeta {
            version,
            hlc,
            shared: false,
        }
    }
}

/// A record as the merge sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub version: u64,
    pub deleted: bool,
    pub fields: Map<String, Value>,
    pub meta: BTreeMap<String, FieldMeta>,
}

impl RecordState {
    /// The fields a pull shows: none for a tombstone.
    pub fn visible_fields(&self) -> Map<String, Value> {
        if self.deleted {
            Map::new()
        } else {
            self.fields.clone()
        }
    }
}

/// A value that lost a race, to be kept in a conflict record.
#[derive(Clone, Debug, PartialEq)]
pub struct LostValue {
    pub field: String,
    pub yours: Value,
    pub theirs: Value,
    pub kept: Value,
    pub kind: ConflictKind,
    /// The stamp of the server-side value (`theirs`), when it had one.
    pub theirs_hlc: Option<Hlc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// `Applied`, `Merged` or `Conflict`.
    pub status: Status,
    pub state: RecordState,
    /// Whether the record changed (and so got a new version).
    pub changed: bool,
    pub conflicts: Vec<LostValue>,
}

/// Why a mutation cannot apply to the record as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    AlreadyExists,
    BaseVersionRequired,
    BaseVersionFromFuture { base: u64, current: u64 },
    AppendOnly,
}

impl Refusal {
    pub fn detail(&self, entity: &str) -> ErrorDetail {
        match self {
            Refusal::NotFound => {
                ErrorDetail::new(ErrorCode::NotFound, format!("no such {entity}")).at("id")
            }
            Refusal::AlreadyExists => ErrorDetail::new(
                ErrorCode::AlreadyExists,
                format!("a {entity} with this id already exists; pull it and edit it instead"),
            )
            .at("id"),
            Refusal::BaseVersionRequired => ErrorDetail::new(
                ErrorCode::BaseVersionRequired,
                "an update or delete names the version it was made on",
            )
            .at("base_version"),
            Refusal::BaseVersionFromFuture { base, current } => ErrorDetail::new(
                ErrorCode::BaseVersionFromFuture,
                format!("base_version {base} is newer than the server's version {current}"),
            )
            .at("base_version"),
            Refusal::AppendOnly => ErrorDetail::new(
                ErrorCode::AppendOnly,
                format!("a {entity} is a fact once recorded; send a new record that supersedes it"),
            )
            .at("op"),
        }
    }
}

/// Applies one (already validated) mutation to the current record, `None` when the id is new.
pub fn apply(
    def: &EntityDef,
    current: Option<&RecordState>,
    m: &Mutation,
) -> Result<Outcome, Refusal> {
    if !def.allows(m.op) {
        return Err(Refusal::AppendOnly);
    }
    let cur = match (m.op, current) {
        (Op::Create, Some(_)) => return Err(Refusal::AlreadyExists),
        (Op::Create, None) => return Ok(create(m)),
        (_, None) => return Err(Refusal::NotFound),
        (_, Some(cur)) => cur,
    };
    let base = m.base_version.ok_or(Refusal::BaseVersionRequired)?;
    if base > cur.version {
        return Err(Refusal::BaseVersionFromFuture {
            base,
            current: cur.version,
        });
    }
    Ok(match m.op {
        Op::Delete => delete(def, cur, base, m),
        _ => update(def, cur, base, m),
    })
}

fn create(m: &Mutation) -> Outcome {
    let mut state = RecordState {
        version: 1,
        ..RecordState::default()
    };
    for (name, value) in m.fields.iter().filter(|(_, v)| !v.is_null()) {
        state.fields.insert(name.clone(), value.clone());
        state.meta.insert(name.clone(), FieldMeta::new(1, m.hlc));
    }
    Outcome {
        status: Status::Applied,
        state,
        changed: true,
        conflicts: Vec::new(),
    }
}

/// Whether the field was changed on the server after `base` by another writer: a same-field
/// race. A device's own later writes are not a race with its earlier ones, except for ranked
/// fields, where only the rank decides so that the outcome cannot depend on arrival order.
fn raced(policy: MergePolicy, meta: Option<&FieldMeta>, base: u64, m: &Mutation) -> bool {
    meta.is_some_and(|fm| {
        fm.version > base
            && (matches!(policy, MergePolicy::Ranked(_)) || fm.shared || fm.hlc.node != m.hlc.node)
    })
}

fn policy(def: &EntityDef, field: &str) -> MergePolicy {
    def.field(field)
        .map_or(MergePolicy::LastWriterWins, |f| f.merge)
}

/// Decides a race between the incoming value and the server's.
fn incoming_wins(policy: MergePolicy, incoming: (&Value, Hlc), server: (&Value, Hlc)) -> bool {
    if let MergePolicy::Ranked(order) = policy {
        let rank = |v: &Value| v.as_str().and_then(|s| order.iter().position(|o| *o == s));
        let (a, b) = (rank(incoming.0), rank(server.0));
        if a != b {
            return a > b;
        }
    }
    incoming.1 > server.1
}

fn update(def: &EntityDef, cur: &RecordState, base: u64, m: &Mutation) -> Outcome {
    if cur.deleted {
        // Deletion wins over edits made without knowing of it; the edits are kept as conflicts
        // so a reviewer can restore the record.
        let conflicts = m
            .fields
            .iter()
            .map(|(name, value)| LostValue {
                field: name.clone(),
                yours: value.clone(),
                theirs: Value::Null,
                kept: Value::Null,
                kind: ConflictKind::Delete,
                theirs_hlc: None,
            })
            .collect();
        return Outcome {
            status: Status::Conflict,
            state: cur.clone(),
            changed: false,
            conflicts,
        };
    }
    let new_version = cur.version + 1;
    let mut state = cur.clone();
    let mut changed = false;
    let mut conflicts = Vec::new();
    for (name, value) in &m.fields {
        let server_value = cur.fields.get(name).unwrap_or(&Value::Null);
        let meta = cur.meta.get(name);
        let policy = policy(def, name);
        let raced = raced(policy, meta, base, m);
        let take = match meta {
            Some(fm) if raced => {
                let wins = incoming_wins(policy, (value, m.hlc), (server_value, fm.hlc));
                if server_value != value {
                    conflicts.push(LostValue {
                        field: name.clone(),
                        yours: value.clone(),
                        theirs: server_value.clone(),
                        kept: if wins {
                            value.clone()
                        } else {
                            server_value.clone()
                        },
                        kind: ConflictKind::Field,
                        theirs_hlc: Some(fm.hlc),
                    });
                }
                wins
            }
            // The device's own newer write already arrived (out-of-order delivery): the older
            // one is superseded by its own author, not lost.
            Some(fm) if fm.version > base => m.hlc > fm.hlc,
            _ => true,
        };
        let equal = server_value == value;
        // Two devices wrote the same value in a race: whoever's stamp stays, the value now has
        // two authors (see `FieldMeta::shared`).
        let shared_now =
            equal && raced && meta.is_some_and(|fm| fm.shared || fm.hlc.node != m.hlc.node);
        if take {
            // A write of the value the field already has still counts as a write: it takes
            // over the field's stamp and version, so that a later race is decided the same way
            // whichever of two equal writes arrived first.
            if value.is_null() {
                state.fields.remove(name);
            } else {
                state.fields.insert(name.clone(), value.clone());
            }
            let mut fm = FieldMeta::new(new_version, m.hlc);
            fm.shared = shared_now;
            state.meta.insert(name.clone(), fm);
            changed = true;
        } else if let Some(fm) = state.meta.get_mut(name).filter(|_| shared_now) {
            fm.shared = true;
        }
    }
    if changed {
        state.version = new_version;
    }
    Outcome {
        status: status(&conflicts, base, cur.version),
        state,
        changed,
        conflicts,
    }
}

fn delete(def: &EntityDef, cur: &RecordState, base: u64, m: &Mutation) -> Outcome {
    if cur.deleted {
        return Outcome {
            status: Status::Applied,
            state: cur.clone(),
            changed: false,
            conflicts: Vec::new(),
        };
    }
    // Values others wrote after the deleting device's base would vanish unseen: keep them.
    // Going through the metadata, not the values, also keeps a concurrent clearing of a field.
    let conflicts: Vec<LostValue> = cur
        .meta
        .iter()
        .filter(|(name, fm)| raced(policy(def, name), Some(fm), base, m))
        .map(|(name, fm)| LostValue {
            field: name.clone(),
            yours: Value::Null,
            theirs: cur.fields.get(name).cloned().unwrap_or(Value::Null),
            kept: Value::Null,
            kind: ConflictKind::Delete,
            theirs_hlc: Some(fm.hlc),
        })
        .collect();
    let mut state = cur.clone();
    state.deleted = true;
    state.version += 1;
    Outcome {
        status: status(&conflicts, base, cur.version),
        state,
        changed: true,
        conflicts,
    }
}

/// Sets one field as a reviewer's decision: a write made knowing the record as it is now (so
/// it takes effect whatever the stamps say), restoring a deleted record when the value is not
/// null. Returns `None` when nothing would change.
pub fn decide(cur: &RecordState, field: &str, value: &Value, stamp: Hlc) -> Option<RecordState> {
    let current = cur.fields.get(field).unwrap_or(&Value::Null);
    let restore = cur.deleted && !value.is_null();
    if current == value && !restore || cur.deleted && value.is_null() {
        return None;
    }
    let mut state = cur.clone();
    state.version += 1;
    state.deleted = false;
    if value.is_null() {
        state.fields.remove(field);
    } else {
        state.fields.insert(field.to_owned(), value.clone());
    }
    state
        .meta
        .insert(field.to_owned(), FieldMeta::new(state.version, stamp));
    Some(state)
}

/// Sets fields as the server's own consequence of a write (a case moved by a step, a task
/// closed by a passing check): one new version, each field stamped with `stamp`.
pub fn server_write(cur: &RecordState, fields: &Map<String, Value>, stamp: Hlc) -> RecordState {
    let mut state = cur.clone();
    state.version += 1;
    for (name, value) in fields {
        if value.is_null() {
            state.fields.remove(name);
        } else {
            state.fields.insert(name.clone(), value.clone());
        }
        state
            .meta
            .insert(name.clone(), FieldMeta::new(state.version, stamp));
    }
    state
}

/// A record the server makes (a task from a rule): version 1, every field stamped.
pub fn server_create(fields: Map<String, Value>, stamp: Hlc) -> RecordState {
    let meta = fields
        .keys()
        .map(|k| (k.clone(), FieldMeta::new(1, stamp)))
        .collect();
    RecordState {
        version: 1,
        deleted: false,
        fields,
        meta,
    }
}

/// A stamp for a server-side write that orders after the field's current one.
pub fn stamp_after(previous: Option<Hlc>, node: uuid::Uuid, now_ms: u64) -> Hlc {
    let mut clock = crate::hlc::HlcClock::new(node);
    if let Some(p) = previous {
        clock.observe(&p, now_ms)
    } else {
        clock.tick(now_ms)
    }
}

fn status(conflicts: &[LostValue], base: u64, server_version: u64) -> Status {
    if !conflicts.is_empty() {
        Status::Conflict
    } else if base < server_version {
        Status::Merged
    } else {
        Status::Applied
    }
}

#[cfg(test)]
mod tests;
