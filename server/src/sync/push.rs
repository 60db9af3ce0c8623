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
use fieldsync_protocol::push::{
    ClientInfo, ConflictInfo, ConflictKind, Mutation, MutationResult, Op, Status,
};
use fieldsync_protocol::registry::{self, EntityDef};
use serde_json::Value;
use uuid::Uuid;

use super::actor::Actor;
pub use super::batch::PushRules;
use super::batch::{Batch, Step};
use super::retry::{IsRetry, retrying};
use super::{observe, plan, validate};
use crate::store::{ConflictRow, LoggedMutation, Store, StoreError, StoredRecord, Tx};

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
    rules: &PushRules,
    raw: Vec<Value>,
    client: &ClientInfo,
) -> Result<Vec<MutationResult>, PushError> {
    let slots = prepare(actor, rules, raw);
    retrying(|| apply(store, actor, rules, &slots, client)).await
}

fn prepare(actor: &Actor, rules: &PushRules, raw: Vec<Value>) -> Vec<Slot> {
    let mut first_index: HashMap<Uuid, usize> = HashMap::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, value)| match validate::validate(actor, rules, value) {
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

async fn apply(
    store: &Store,
    actor: &Actor,
    rules: &PushRules,
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

    let stored = load_records(&mut tx, &ready, &logged).await?;
    let mut batch = Batch::new(actor, rules.now_ms, stored);
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
                    receipt: None,
                },
                None => {
                    let step = Step {
                        actor,
                        rules,
                        m,
                        def,
                    };
                    match plan::plan(&mut tx, &step, &mut batch).await? {
                        Ok(r) => r,
                        Err(e) => MutationResult::rejected(Some(m.mutation_id), e),
                    }
                }
            },
        };
        results.push(result);
    }

    let writes = batch.into_writes();
    if !writes.mutations.is_empty() {
        tx.write(&writes).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// Loads (and locks) the records the batch touches: each mutation's record, the records it
/// refers to (a new member's household, a task's evidence), and the open work (cases and
/// tasks) of the villages where the batch sets off follow-up work.
async fn load_records(
    tx: &mut Tx,
    ready: &[&Mutation],
    logged: &HashMap<Uuid, LoggedMutation>,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut ids: Vec<Uuid> = Vec::new();
    for m in ready
        .iter()
        .filter(|m| !logged.contains_key(&m.mutation_id))
    {
        ids.push(m.id);
        if m.op != Op::Delete
            && let Some(def) = registry::entity(&m.entity)
        {
            ids.extend(observe::referenced_ids(def, &m.fields));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut rows = tx.lock_records(&ids).await?;

    // The open work (cases and tasks) follow-up work may change: that of the household the
    // new record is about, or, where the household is not known yet (a report naming only a
    // person, a case not yet verified at a household), that of the whole village. Locking by
    // household keeps checks in a busy village from queueing behind each other.
    let mut households: Vec<Uuid> = Vec::new();
    let mut villages: Vec<String> = Vec::new();
    for m in ready
        .iter()
        .filter(|m| !logged.contains_key(&m.mutation_id) && m.op == Op::Create)
    {
        let field = |fields: &serde_json::Map<String, serde_json::Value>, name: &str| {
            fields
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let household = field(&m.fields, "household_id").and_then(|s| s.parse().ok());
        match m.entity.as_str() {
            "self_report" => match household {
                Some(h) => households.push(h),
                None => villages.extend(field(&m.fields, "village_code")),
            },
            "case" => households.extend(household),
            "case_step" => {
                let case: Option<Uuid> = field(&m.fields, "case_id").and_then(|s| s.parse().ok());
                if let Some(c) = rows.iter().find(|r| Some(r.id) == case) {
                    match field(&c.fields.0, "household_id").and_then(|s| s.parse().ok()) {
                        Some(h) => households.push(h),
                        None => villages.push(c.scope.clone()),
                    }
                }
            }
            e if registry::checks::CHECKS.iter().any(|c| c.name == e) => {
                households.extend(household);
            }
            _ => {}
        }
    }
    households.sort_unstable();
    households.dedup();
    villages.sort_unstable();
    villages.dedup();
    if !households.is_empty() || !villages.is_empty() {
        let mut work = tx.work_ids_of_households(&households).await?;
        work.extend(tx.work_ids(&villages).await?);
        work.sort_unstable();
        work.dedup();
        work.retain(|id| ids.binary_search(id).is_err());
        rows.extend(tx.lock_records(&work).await?);
    }
    Ok(rows)
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
