//! What a push does with a batch of mutations.
//!
//! 1. Each mutation is parsed and validated on its own (shape, ids, entity, fields, clock,
//!    GPS, role). A bad one gets a `rejected` result and the rest go on.
//! 2. One transaction, for this push and the pushes committed with it (`super::group`): lock
//!    the device rows (a retry overtaking its slow original waits for it), find mutation ids
//!    already logged (`duplicate`), lock the records the pushes touch (these reads, with the
//!    forms new surveys name, are one call on SQLite and two statements on PostgreSQL:
//!    `store::opening`), merge each mutation in
//!    order against the record as the pushes before it have left it, check village scope,
//!    and write final records, the mutation log and conflict records together. Nothing of a
//!    push is half-written.
//! 3. A transaction that meets a concurrent writer is run again from the start.

use std::collections::{BTreeMap, HashMap, HashSet};

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::push::{
    ClientInfo, ConflictInfo, ConflictKind, Mutation, MutationResult, Op, Status,
};
use fieldsync_protocol::registry::{self, EntityDef};
use serde_json::Value;
use uuid::Uuid;

use super::actor::{Actor, SessionCheck};
pub use super::batch::PushRules;
use super::batch::{Batch, Step};
use super::retry::{IsRetry, retrying};
use super::{observe, plan, validate};
use crate::store::{
    CheckedSession, ConflictRow, Durable, LoggedMutation, PushReads, Refusal, Store, StoreError,
    StoredRecord, SubmissionNote, Touch, Tx,
};

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
    /// The session was checked again in the push's transaction ([`SessionCheck`]) and is
    /// refused.
    #[error("the session is refused: {0:?}")]
    Session(Refusal),
    /// The session's user has another role or other assignments than when the push was
    /// judged: it is not applied, and the phone's retry is judged afresh.
    #[error("the account's role or assignments changed during the push; send it again")]
    CallerChanged,
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

/// A push validated and waiting to be applied: who sent it, under which rules, and its
/// mutations. Applied alone ([`push`]) or with the pushes that arrived with it
/// (`super::group`).
pub(super) struct Pending {
    actor: Actor,
    rules: PushRules,
    slots: Vec<Slot>,
    client: ClientInfo,
    /// The session to check again in the transaction: the caller was known from before.
    check: Option<SessionCheck>,
    /// The OpenRosa submission these mutations came from: noted as pushed in the same
    /// transaction when none of them was rejected, so that it is marked pushed if and only if
    /// its records were committed, at no commit of its own.
    submission: Option<SubmissionNote>,
}

/// What applying a push gave: one result per mutation, or the push refused whole.
pub(super) type Outcome = Result<Vec<MutationResult>, PushError>;

impl Pending {
    /// Validates each mutation of `raw` on its own (no database needed).
    pub(super) fn new(
        actor: &Actor,
        rules: &PushRules,
        raw: Vec<Value>,
        client: &ClientInfo,
    ) -> Pending {
        Pending {
            actor: actor.clone(),
            rules: rules.clone(),
            slots: prepare(actor, rules, raw),
            client: client.clone(),
            check: None,
            submission: None,
        }
    }

    /// The same, its session checked again in the transaction (see `check`).
    pub(super) fn with_check(mut self, check: Option<SessionCheck>) -> Pending {
        self.check = check;
        self
    }

    /// The same, carrying the submission the mutations came from (see `submission`).
    pub(super) fn with_submission(mut self, note: SubmissionNote) -> Pending {
        self.submission = Some(note);
        self
    }

    /// How many mutations it carries.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    fn ready(&self) -> impl Iterator<Item = &Mutation> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Ready(m, _) => Some(m.as_ref()),
            _ => None,
        })
    }
}

/// Validates and applies a batch on its own; returns one result per mutation, in order. The
/// server's phones go through `super::group::Committer`, which commits pushes that arrive
/// together at once; this is for the imports, which send one large batch.
pub async fn push(
    store: &Store,
    actor: &Actor,
    rules: &PushRules,
    raw: Vec<Value>,
    client: &ClientInfo,
) -> Result<Vec<MutationResult>, PushError> {
    let pending = [Pending::new(actor, rules, raw, client)];
    let (mut outcomes, _) = retrying(|| apply(store, &pending, WhenSynced::Now)).await?;
    outcomes.pop().unwrap_or_else(|| Ok(Vec::new()))
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

/// When the commit of [`apply`] is synced to disk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum WhenSynced {
    /// Before `apply` returns.
    Now,
    /// Beside whatever the caller does next; it answers nobody before the returned
    /// [`Durable`] resolves.
    Later,
}

/// Applies `pushes` in one transaction, in order, as if each had been committed on its own
/// after the one before it: one outcome per push. A push refused whole (its device revoked)
/// writes nothing and leaves the others be; a rejected mutation is rejected alone. The outer
/// error is database trouble, which fails them all (the caller decides what to run again).
/// Nothing may be answered before the returned [`Durable`] resolves.
pub(super) async fn apply(
    store: &Store,
    pushes: &[Pending],
    sync: WhenSynced,
) -> Result<(Vec<Outcome>, Durable), StoreError> {
    let mut tx = store.begin_push(matches!(sync, WhenSynced::Later)).await?;
    let touches = touches(pushes);
    let reads = reads(pushes, &touches);
    let opening = tx.open_push(&reads).await?;
    let devices = opening.devices;
    let admitted: Vec<Result<&Pending, PushError>> = pushes
        .iter()
        .map(|p| match devices.get(&p.actor.device_id) {
            None => Err(PushError::UnknownDevice),
            Some((_, Some(_))) => Err(PushError::DeviceRevoked),
            Some((user, None)) if *user != p.actor.user_id => Err(PushError::DeviceMismatch),
            Some(_) => still_the_caller(p, &opening.sessions, &reads.day).map(|()| p),
        })
        .collect();

    let ready: Vec<&Mutation> = admitted.iter().flatten().flat_map(|p| p.ready()).collect();
    let logged: HashMap<Uuid, _> = opening
        .logged
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

    let stored = with_open_work(&mut tx, &ready, &logged, opening.records).await?;
    let mut batch = Batch::new(now_of(pushes), stored);
    batch.lookups.forms.extend(opening.forms);
    // Mutations planned by an earlier push of this group: a retry that overtook nothing, but
    // arrived together with its original, is a duplicate of it.
    let mut planned: HashMap<Uuid, (Uuid, MutationResult)> = HashMap::new();
    let mut outcomes = Vec::with_capacity(pushes.len());
    for push in admitted {
        let push = match push {
            Ok(p) => p,
            Err(e) => {
                outcomes.push(Err(e));
                continue;
            }
        };
        let actor = &push.actor;
        let mut results: Vec<MutationResult> = Vec::with_capacity(push.slots.len());
        for slot in &push.slots {
            let result = match slot {
                Slot::Rejected(r) => r.clone(),
                Slot::Repeat(i) => repeat(&results[*i]),
                Slot::Ready(m, def) => {
                    let earlier = logged
                        .get(&m.mutation_id)
                        .map(|l| (l.device_id, logged_result(l, &earlier_conflicts)))
                        .or_else(|| planned.get(&m.mutation_id).cloned());
                    match earlier {
                        Some((device, _)) if device != actor.device_id => MutationResult::rejected(
                            Some(m.mutation_id),
                            ErrorDetail::new(
                                ErrorCode::InvalidMutation,
                                "this mutation_id was already used by another device",
                            )
                            .at("mutation_id"),
                        ),
                        Some((_, first)) => repeat(&first),
                        None => {
                            let step = Step {
                                actor,
                                rules: &push.rules,
                                m,
                                def,
                            };
                            let result = match plan::plan(&mut tx, &step, &mut batch).await? {
                                Ok(r) => r,
                                Err(e) => MutationResult::rejected(Some(m.mutation_id), e),
                            };
                            if result.status != Status::Rejected {
                                planned.insert(m.mutation_id, (actor.device_id, result.clone()));
                            }
                            result
                        }
                    }
                }
            };
            results.push(result);
        }
        if let Some(note) = &push.submission
            && results.iter().all(|r| r.status != Status::Rejected)
        {
            tx.note_submission(note, Some(push.rules.now_ms)).await?;
        }
        outcomes.push(Ok(results));
    }

    let writes = batch.into_writes();
    let durable = if writes.mutations.is_empty() {
        tx.commit_unsynced().await?
    } else {
        tx.write_and_commit(&writes).await?
    };
    Ok((outcomes, durable))
}

/// The time a group is applied at: its latest push's.
fn now_of(pushes: &[Pending]) -> i64 {
    pushes
        .iter()
        .map(|p| p.rules.now_ms)
        .max()
        .unwrap_or_default()
}

/// A push whose caller was known from before ([`SessionCheck`]) goes on only if its session,
/// read again in this transaction, is alive and its user has the role and the assignments (on
/// the group's day) the push was judged with.
fn still_the_caller(
    p: &Pending,
    sessions: &HashMap<Uuid, CheckedSession>,
    day: &str,
) -> Result<(), PushError> {
    let Some(check) = &p.check else {
        return Ok(());
    };
    let Some(s) = sessions.get(&check.session_id) else {
        return Err(PushError::Session(Refusal::Ended));
    };
    if let Some(r) = s.auth.refusal() {
        return Err(PushError::Session(r));
    }
    if check.day != day || s.auth.role != p.actor.role.as_str() || s.assigned != check.assigned {
        return Err(PushError::CallerChanged);
    }
    Ok(())
}

/// Each pushing device once, with the health its phone reported last in the group: touched
/// and locked by [`Tx::open_push`], so that two pushes of one device never run side by side (a
/// retry overtaking its slow original waits for it).
fn touches(pushes: &[Pending]) -> Vec<Touch<'_>> {
    let mut latest: BTreeMap<Uuid, &Pending> = BTreeMap::new();
    for p in pushes {
        latest.insert(p.actor.device_id, p);
    }
    latest
        .into_values()
        .map(|p| Touch {
            device_id: p.actor.device_id,
            user_id: p.actor.user_id,
            at_ms: p.rules.now_ms,
            client: &p.client,
        })
        .collect()
}

/// What the pushes read before they are planned: each mutation with the records it touches
/// (its own and those it refers to: a new member's household, a task's evidence), and the form
/// versions of new surveys. Read for every push, admitted or not: the device rows are read in
/// the same call. A mutation id that comes twice keeps both entries: the second may be planned
/// (its first rejected) against records of its own.
fn reads<'a>(pushes: &'a [Pending], touches: &'a [Touch<'a>]) -> PushReads<'a> {
    let mut mutations: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
    let mut forms: Vec<(String, i64)> = Vec::new();
    for m in pushes.iter().flat_map(Pending::ready) {
        let mut records = vec![m.id];
        if m.op != Op::Delete
            && let Some(def) = registry::entity(&m.entity)
        {
            records.extend(observe::referenced_ids(def, &m.fields));
            if m.op == Op::Create && observe::is_survey(def) {
                forms.extend(observe::form_named(&m.fields));
            }
        }
        mutations.push((m.mutation_id, records));
    }
    forms.sort_unstable();
    forms.dedup();
    let mut sessions: Vec<Uuid> = pushes
        .iter()
        .filter_map(|p| p.check.as_ref().map(|c| c.session_id))
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    PushReads {
        touches,
        mutations,
        forms,
        sessions,
        day: crate::clock::iso(crate::clock::date_of_ms(now_of(pushes))),
    }
}

/// The result a mutation already in the log gets again.
fn logged_result(
    l: &LoggedMutation,
    earlier_conflicts: &BTreeMap<Uuid, Vec<ConflictInfo>>,
) -> MutationResult {
    MutationResult {
        mutation_id: Some(l.mutation_id),
        status: Status::Duplicate,
        version: u64::try_from(l.version).ok(),
        conflicts: earlier_conflicts
            .get(&l.mutation_id)
            .cloned()
            .unwrap_or_default(),
        error: None,
        original_status: Status::parse(&l.status),
        receipt: None,
    }
}

/// The records read with the push (`stored`), and the open work (cases and tasks) of the
/// villages where the batch sets off follow-up work, loaded and locked.
async fn with_open_work(
    tx: &mut Tx,
    ready: &[&Mutation],
    logged: &HashMap<Uuid, LoggedMutation>,
    stored: Vec<StoredRecord>,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut rows = stored;
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
        let held: HashSet<Uuid> = rows.iter().map(|r| r.id).collect();
        work.retain(|id| !held.contains(id));
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
