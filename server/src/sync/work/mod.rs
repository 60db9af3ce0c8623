//! Follow-up work in the push (DOMAIN.md "Monitoring households at risk", "Follow-up work"):
//! what a new self-report, case, case step, check or task edit sets off, decided inside the
//! push transaction so that a phone's write and its consequences commit together.
//!
//! - A self-report joins the open case of its household and difficulty, or opens one
//!   (`reports`).
//! - A case step is judged by [`crate::cases::machine`] against the case as the batch has left
//!   it; an applied step moves the case, closes the tasks of the state it leaves and makes the
//!   tasks of the next. A step that meets a case another phone moved first is kept as a fact
//!   and shown to a reviewer as a conflict on the case's state: never last-writer-wins
//!   (`case_steps`).
//! - A failing check makes tasks by the county's rules; a passing one closes the tasks of the
//!   same check for the same household (and member) (`tasks`).
//! - A task edit is checked field by field: who may reassign, who may close, and closing needs
//!   evidence (`task_edits`; what counts as evidence is in `evidence`).
//!
//! [`judge`] decides before the mutation's record is placed (and may still reject it alone);
//! [`apply`] then writes the consequences into the batch.

mod case_steps;
mod evidence;
mod follow;
mod reports;
mod task_edits;
mod tasks;

use std::collections::HashMap;

use fieldsync_protocol::Role;
use fieldsync_protocol::merge::{self, RecordState};
use fieldsync_protocol::push::{ConflictInfo, ConflictKind, Op, Status};
use fieldsync_protocol::registry::{self, checks};
use uuid::Uuid;

use self::follow::{At, Follow, Judged, Judging};
use super::batch::{Batch, Step, Working};
use super::household::household_of;
use crate::store::{ConflictWrite, MutationWrite, Tx, field_names};

/// Decides what the step's mutation sets off; `state` is its record after the merge, in
/// village `scope`, and gains the server's fields (a case's state, a step's outcome, a closed
/// task's time).
pub(super) async fn judge(
    tx: &mut Tx,
    step: &Step<'_>,
    scope: &str,
    records: &HashMap<Uuid, Working>,
    state: &mut RecordState,
) -> Judged {
    let cx = Judging {
        step: *step,
        scope,
        records,
        at: At::new(step.rules.now_ms),
    };
    match (step.def.name, step.m.op) {
        ("self_report", Op::Create) => {
            if step.actor.role == Role::Farmer
                && let Err(e) = reports::farmer_reports_own_household(tx, &cx, state).await?
            {
                return Ok(Err(e));
            }
            reports::self_report(tx, &cx, state).await
        }
        ("case", Op::Create) => reports::open_case(tx, &cx, state).await,
        ("case_step", Op::Create) => case_steps::step(tx, &cx, state).await,
        ("task", Op::Create | Op::Update) => task_edits::task_edit(tx, &cx, state).await,
        (entity, Op::Create) if checks::CHECKS.iter().any(|c| c.name == entity) => {
            tasks::check(tx, &cx, state).await
        }
        _ => Ok(Ok(Follow::default())),
    }
}

/// Writes what the step's mutation set off into the batch, after its own record; returns the
/// conflict to report to the phone, if its step met a moved case.
pub(super) fn apply(follow: Follow, step: &Step<'_>, batch: &mut Batch) -> Option<ConflictInfo> {
    let stamp = step.server_stamp();
    for w in follow.writes {
        let (state, op) = if w.create {
            (merge::server_create(w.fields.clone(), stamp), Op::Create)
        } else {
            let Some(cur) = batch.records.get(&w.id) else {
                continue;
            };
            (
                merge::server_write(&cur.state, &w.fields, stamp),
                Op::Update,
            )
        };
        let version = state.version;
        let household_id = household_of(w.def, w.id, &state.fields);
        batch
            .change_or_create(w.id, w.def.name, &w.scope, step.author())
            .state = state;
        batch.writes.mutations.push(MutationWrite {
            by: step.author(),
            mutation_id: Uuid::now_v7(),
            record_id: w.id,
            entity: w.def.name,
            op,
            status: Status::Applied,
            version,
            fields: field_names(&w.fields),
            hlc: stamp,
            gps: None,
            household_id,
            scope: w.scope,
        });
    }
    let moved = follow.moved?;
    let conflict_id = Uuid::now_v7();
    let theirs_hlc = batch
        .records
        .get(&moved.case_id)
        .and_then(|w| w.state.meta.get("state"))
        .map(|fm| fm.hlc);
    batch.writes.conflicts.push(ConflictWrite {
        by: step.author(),
        id: conflict_id,
        record_id: moved.case_id,
        entity: registry::CASE.name,
        scope: moved.scope,
        field: "state".into(),
        kind: ConflictKind::Field,
        yours: moved.yours.clone(),
        theirs: moved.theirs.clone(),
        kept: moved.theirs.clone(),
        mutation_id: step.m.mutation_id,
        theirs_hlc,
    });
    Some(ConflictInfo {
        field: "state".into(),
        yours: moved.yours,
        theirs: moved.theirs.clone(),
        kept: moved.theirs,
        conflict_id,
        kind: ConflictKind::Field,
    })
}
