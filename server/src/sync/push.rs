//! What a push does with a batch of mutations.
//!
//! 1. Each mutation is parsed and validated on its own (shape, ids, entity, fields, clock,
//!    GPS, role). A bad one gets a `rejected` result and the rest go on.
//! 2. One transaction: lock the device row (a retry overtaking its slow original waits for
//!    it), find mutation ids already logged (`duplicate`), lock the records the batch touches,
//!    merge each mutation in order against the record as the batch has left it, check village
//!    scope, and write final records, the mutation log and conflict records together. Nothing
//!    of a batch is half-written.
//! 3. A transaction that meets a concurrent writer is run again from the start.

use std::collections::{BTreeMap, HashMap};

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::merge::{self, RecordState};
use fieldsync_protocol::push::{
    ClientInfo, ConflictInfo, ConflictKind, Mutation, MutationResult, Op, Status,
};
use fieldsync_protocol::registry::{self, EntityDef, ScopeRule};
use serde_json::Value;
use uuid::Uuid;

use super::{Actor, IsRetry, retrying};
use crate::access::{self, Action};
use crate::privacy;
use crate::store::{
    ConflictRow, ConflictWrite, MutationWrite, RecordWrite, Store, StoreError, Tx, WriteBatch,
};

/// Limits a push is checked against.
#[derive(Clone, Copy, Debug)]
pub struct PushRules {
    pub now_ms: i64,
    /// How far ahead of the server's clock a stamp may be.
    pub max_clock_ahead_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the device is not registered; log in again")]
    UnknownDevice,
    #[error("the device was revoked")]
    DeviceRevoked,
    #[error("the device belongs to another user now")]
    DeviceMismatch,
}

impl IsRetry for PushError {
    fn is_retry(&self) -> bool {
        matches!(self, PushError::Store(StoreError::Retry))
    }
}

/// One mutation of the batch after validation.
enum Slot {
    Rejected(MutationResult),
    Ready(Box<Mutation>, &'static EntityDef),
    /// The same `mutation_id` came earlier in this batch, at this index.
    Repeat(usize),
}

/// Validates and applies a batch; returns one result per mutation, in order.
pub async fn push(
    store: &Store,
    actor: &Actor,
    rules: PushRules,
    raw: Vec<Value>,
    client: &ClientInfo,
) -> Result<Vec<MutationResult>, PushError> {
    let slots = prepare(actor, rules, raw);
    retrying(|| apply(store, actor, rules, &slots, client)).await
}

fn prepare(actor: &Actor, rules: PushRules, raw: Vec<Value>) -> Vec<Slot> {
    let mut first_index: HashMap<Uuid, usize> = HashMap::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, value)| match validate(actor, rules, value) {
            Ok((m, def)) => match first_index.get(&m.mutation_id) {
                Some(&earlier) => Slot::Repeat(earlier),
                None => {
                    first_index.insert(m.mutation_id, i);
                    Slot::Ready(Box::new(m), def)
                }
            },
            Err((id, e)) => Slot::Rejected(MutationResult::rejected(id, e)),
        })
        .collect()
}

type Invalid = (Option<Uuid>, ErrorDetail);

/// Everything that can be checked without the database.
fn validate(
    actor: &Actor,
    rules: PushRules,
    value: Value,
) -> Result<(Mutation, &'static EntityDef), Invalid> {
    let mut m = Mutation::parse(value)?;
    let id = Some(m.mutation_id);
    let fail = |e: ErrorDetail| Err((id, e));
    if m.mutation_id.get_version_num() != 7 {
        return fail(
            ErrorDetail::new(ErrorCode::InvalidId, "mutation_id must be a UUID version 7")
                .at("mutation_id"),
        );
    }
    if m.op == Op::Create && m.id.get_version_num() != 7 {
        return fail(
            ErrorDetail::new(
                ErrorCode::InvalidId,
                "a new record's id must be a UUID version 7",
            )
            .at("id"),
        );
    }
    let Some(def) = registry::entity(&m.entity) else {
        return fail(
            ErrorDetail::new(
                ErrorCode::UnknownEntity,
                format!("unknown entity {:?}", m.entity),
            )
            .at("entity"),
        );
    };
    if m.op == Op::Create && m.base_version.is_some() {
        return fail(
            ErrorDetail::new(ErrorCode::InvalidMutation, "a create has no base_version")
                .at("base_version"),
        );
    }
    if m.hlc.node != actor.device_id {
        return fail(
            ErrorDetail::new(
                ErrorCode::InvalidMutation,
                "hlc.node must be the id of the device that made the edit",
            )
            .at("hlc.node"),
        );
    }
    let ahead = i64::try_from(m.hlc.wall_ms)
        .unwrap_or(i64::MAX)
        .saturating_sub(rules.now_ms);
    if ahead > rules.max_clock_ahead_ms {
        return fail(
            ErrorDetail::new(
                ErrorCode::HlcInFuture,
                format!("the edit is stamped {} s ahead of the server's clock; set the phone's clock and stamp it again", ahead / 1000),
            )
            .at("hlc.wall_ms"),
        );
    }
    if let Some(gps) = &m.gps {
        gps.validate().map_err(|e| (id, e.within("gps")))?;
    }
    if !access::allowed(actor.role, def.name, Action::of(m.op)) {
        return fail(
            ErrorDetail::new(
                ErrorCode::ForbiddenRole,
                format!("a {} may not {} a {}", actor.role, m.op.as_str(), def.name),
            )
            .at("op"),
        );
    }
    registry::validate_fields(def, m.op, &m.fields).map_err(|e| (id, e))?;
    // One number, one spelling: the check character `x` is stored as `X`, so equal numbers
    // compare equal in merges and in the keyed-hash index.
    for f in def
        .fields
        .iter()
        .filter(|f| f.ty == registry::FieldType::IdCard)
    {
        if let Some(Value::String(s)) = m.fields.get_mut(f.name) {
            *s = registry::idcard::normalize(s);
        }
    }
    Ok((m, def))
}

/// A record as the batch sees it.
struct Working {
    entity: String,
    scope: String,
    state: RecordState,
    in_db: bool,
    dirty: bool,
    gps: Option<fieldsync_protocol::gps::GpsFix>,
}

async fn apply(
    store: &Store,
    actor: &Actor,
    rules: PushRules,
    slots: &[Slot],
    client: &ClientInfo,
) -> Result<Vec<MutationResult>, PushError> {
    let mut tx = store.begin().await?;
    match tx
        .touch_device(actor.device_id, rules.now_ms, client)
        .await?
    {
        None => return Err(PushError::UnknownDevice),
        Some((_, Some(_))) => return Err(PushError::DeviceRevoked),
        Some((user, None)) if user != actor.user_id => return Err(PushError::DeviceMismatch),
        Some(_) => {}
    }

    let ready: Vec<&Mutation> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Ready(m, _) => Some(m.as_ref()),
            _ => None,
        })
        .collect();
    let ids: Vec<Uuid> = ready.iter().map(|m| m.mutation_id).collect();
    let logged: HashMap<Uuid, _> = tx
        .logged_mutations(&ids)
        .await?
        .into_iter()
        .map(|l| (l.mutation_id, l))
        .collect();
    let earlier_conflicts = {
        let with_conflicts: Vec<Uuid> = logged
            .values()
            .filter(|l| l.status == Status::Conflict.as_str())
            .map(|l| l.mutation_id)
            .collect();
        group_by_mutation(tx.conflicts_of_mutations(&with_conflicts).await?)
    };

    let mut records = load_records(&mut tx, &ready, &logged).await?;
    let mut batch = WriteBatch {
        device_id: actor.device_id,
        user_id: actor.user_id,
        now_ms: rules.now_ms,
        records: Vec::new(),
        mutations: Vec::new(),
        conflicts: Vec::new(),
        audit: Vec::new(),
    };
    let mut order: Vec<Uuid> = Vec::new();
    let mut results: Vec<MutationResult> = Vec::with_capacity(slots.len());
    for slot in slots {
        let result = match slot {
            Slot::Rejected(r) => r.clone(),
            Slot::Repeat(i) => repeat(&results[*i]),
            Slot::Ready(m, def) => match logged.get(&m.mutation_id) {
                Some(l) if l.device_id != actor.device_id => MutationResult::rejected(
                    Some(m.mutation_id),
                    ErrorDetail::new(
                        ErrorCode::InvalidMutation,
                        "this mutation_id was already used by another device",
                    )
                    .at("mutation_id"),
                ),
                Some(l) => MutationResult {
                    mutation_id: Some(m.mutation_id),
                    status: Status::Duplicate,
                    version: u64::try_from(l.version).ok(),
                    conflicts: earlier_conflicts
                        .get(&m.mutation_id)
                        .cloned()
                        .unwrap_or_default(),
                    error: None,
                    original_status: Status::parse(&l.status),
                },
                None => match plan(&mut tx, actor, m, def, &mut records, &mut batch, &mut order)
                    .await?
                {
                    Ok(r) => r,
                    Err(e) => MutationResult::rejected(Some(m.mutation_id), e),
                },
            },
        };
        results.push(result);
    }

    for id in order {
        if let Some(w) = records.remove(&id).filter(|w| w.dirty) {
            batch.records.push(RecordWrite {
                id,
                entity: registry::entity(&w.entity).map_or("unknown", |d| d.name),
                scope: w.scope,
                state: w.state,
                gps: w.gps,
                created: !w.in_db,
                user_id: actor.user_id,
            });
        }
    }
    if !batch.mutations.is_empty() {
        tx.write(&batch).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// Loads (and locks) the records the batch touches: each mutation's record, and the parent a
/// new record is scoped by (a new member's household).
async fn load_records(
    tx: &mut Tx,
    ready: &[&Mutation],
    logged: &HashMap<Uuid, crate::store::LoggedMutation>,
) -> Result<HashMap<Uuid, Working>, StoreError> {
    let mut ids: Vec<Uuid> = Vec::new();
    for m in ready
        .iter()
        .filter(|m| !logged.contains_key(&m.mutation_id))
    {
        ids.push(m.id);
        if let Some(parent) = parent_id(m) {
            ids.push(parent);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(tx
        .lock_records(&ids)
        .await?
        .into_iter()
        .map(|r| {
            let (id, entity, scope, state) = r.into_state();
            (
                id,
                Working {
                    entity,
                    scope,
                    state,
                    in_db: true,
                    dirty: false,
                    gps: None,
                },
            )
        })
        .collect())
}

fn parent_id(m: &Mutation) -> Option<Uuid> {
    let def = registry::entity(&m.entity)?;
    let (field, _) = def.parent()?;
    m.fields.get(field)?.as_str()?.parse().ok()
}

/// Merges one mutation into the batch. The outer error aborts the batch (database trouble);
/// the inner one rejects this mutation only.
async fn plan(
    tx: &mut Tx,
    actor: &Actor,
    m: &Mutation,
    def: &'static EntityDef,
    records: &mut HashMap<Uuid, Working>,
    batch: &mut WriteBatch,
    order: &mut Vec<Uuid>,
) -> Result<Result<MutationResult, ErrorDetail>, StoreError> {
    let existing = records.get(&m.id);
    if let Some(w) = existing.filter(|w| w.entity != def.name) {
        return Ok(Err(ErrorDetail::new(
            ErrorCode::EntityMismatch,
            format!("this id is a {}, not a {}", w.entity, def.name),
        )
        .at("id")));
    }
    let scope = match (m.op, existing) {
        (Op::Create, _) => match scope_of_new(def, m, records) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        },
        (_, Some(w)) => w.scope.clone(),
        (_, None) => return Ok(Err(merge::Refusal::NotFound.detail(def.name))),
    };
    if !actor.villages.contains(&scope) {
        return Ok(Err(out_of_scope(tx, def, &scope).await?));
    }
    let outcome = match merge::apply(def, existing.map(|w| &w.state), m) {
        Ok(o) => o,
        Err(refusal) => return Ok(Err(refusal.detail(def.name))),
    };

    let mut infos = Vec::with_capacity(outcome.conflicts.len());
    for lost in outcome.conflicts {
        let id = Uuid::now_v7();
        // The phone sees the other side's value only as far as its role may.
        let shown = |v: &Value| privacy::disclose_value(actor.role, def, &lost.field, v.clone());
        infos.push(ConflictInfo {
            field: lost.field.clone(),
            yours: shown(&lost.yours),
            theirs: shown(&lost.theirs),
            kept: shown(&lost.kept),
            conflict_id: id,
            kind: lost.kind,
        });
        batch.conflicts.push(ConflictWrite {
            id,
            record_id: m.id,
            entity: def.name,
            scope: scope.clone(),
            field: lost.field,
            kind: lost.kind,
            yours: lost.yours,
            theirs: lost.theirs,
            kept: lost.kept,
            mutation_id: m.mutation_id,
            theirs_hlc: lost.theirs_hlc,
        });
    }
    let version = outcome.state.version;
    if outcome.changed {
        let w = records.entry(m.id).or_insert_with(|| Working {
            entity: def.name.to_owned(),
            scope: scope.clone(),
            state: RecordState::default(),
            in_db: false,
            dirty: false,
            gps: None,
        });
        w.state = outcome.state;
        if !w.dirty {
            w.dirty = true;
            order.push(m.id);
        }
        if m.gps.is_some() {
            w.gps.clone_from(&m.gps);
        }
    }
    let household_id = household_of(
        def,
        m.id,
        records.get(&m.id).map_or(&m.fields, |w| &w.state.fields),
    );
    batch.mutations.push(MutationWrite {
        mutation_id: m.mutation_id,
        record_id: m.id,
        entity: def.name,
        op: m.op,
        status: outcome.status,
        version,
        fields: m.fields.clone(),
        hlc: m.hlc,
        gps: m.gps.clone(),
        household_id,
        scope,
    });
    Ok(Ok(MutationResult {
        mutation_id: Some(m.mutation_id),
        status: outcome.status,
        version: Some(version),
        conflicts: infos,
        error: None,
        original_status: None,
    }))
}

/// The village a new record belongs to.
fn scope_of_new(
    def: &EntityDef,
    m: &Mutation,
    records: &HashMap<Uuid, Working>,
) -> Result<String, ErrorDetail> {
    match def.scope {
        ScopeRule::OwnField(field) => m
            .fields
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                ErrorDetail::new(
                    ErrorCode::MissingField,
                    format!("a new {} needs {field}", def.name),
                )
                .at(format!("fields.{field}"))
            }),
        ScopeRule::Parent { field } => {
            let parent_entity = def.parent().map_or("", |(_, e)| e);
            let unknown = || {
                ErrorDetail::new(
                    ErrorCode::UnknownReference,
                    format!("{field} does not name an existing {parent_entity}"),
                )
                .at(format!("fields.{field}"))
            };
            let id: Uuid = m
                .fields
                .get(field)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or_else(unknown)?;
            match records.get(&id) {
                Some(p) if p.entity == parent_entity && !p.state.deleted => Ok(p.scope.clone()),
                _ => Err(unknown()),
            }
        }
    }
}

/// Tells an unknown village from one the caller is not assigned to.
async fn out_of_scope(
    tx: &mut Tx,
    def: &EntityDef,
    scope: &str,
) -> Result<ErrorDetail, StoreError> {
    let own_field = match def.scope {
        ScopeRule::OwnField(f) => Some(f),
        ScopeRule::Parent { .. } => None,
    };
    let known = tx.is_village(scope).await?;
    let detail = if known {
        ErrorDetail::new(
            ErrorCode::ForbiddenScope,
            format!("village {scope} is not one of your assigned villages"),
        )
    } else {
        ErrorDetail::new(
            ErrorCode::UnknownVillage,
            format!("{scope} is not a known village code"),
        )
    };
    Ok(match own_field {
        Some(f) => detail.at(format!("fields.{f}")),
        None => detail.at("id"),
    })
}

/// The household a record belongs to: itself, or the one its parent field names.
pub(crate) fn household_of(
    def: &EntityDef,
    id: Uuid,
    fields: &serde_json::Map<String, Value>,
) -> Option<Uuid> {
    if def.name == registry::HOUSEHOLD.name {
        return Some(id);
    }
    def.fields
        .iter()
        .find(|f| f.ty == registry::FieldType::Ref(registry::HOUSEHOLD.name))
        .and_then(|f| fields.get(f.name)?.as_str()?.parse().ok())
}

/// The result for a mutation that came twice in one batch.
fn repeat(first: &MutationResult) -> MutationResult {
    if first.status == Status::Rejected {
        return first.clone();
    }
    MutationResult {
        status: Status::Duplicate,
        original_status: Some(first.original_status.unwrap_or(first.status)),
        ..first.clone()
    }
}

fn group_by_mutation(rows: Vec<ConflictRow>) -> BTreeMap<Uuid, Vec<ConflictInfo>> {
    let mut out: BTreeMap<Uuid, Vec<ConflictInfo>> = BTreeMap::new();
    for r in rows {
        out.entry(r.mutation_id).or_default().push(ConflictInfo {
            field: r.field,
            yours: r.yours.0,
            theirs: r.theirs.0,
            kept: r.kept.0,
            conflict_id: r.id,
            kind: if r.kind == "delete" {
                ConflictKind::Delete
            } else {
                ConflictKind::Field
            },
        });
    }
    out
}
