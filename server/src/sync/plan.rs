//! Merging one pushed mutation into the batch: its village (checked against the caller's),
//! the three-way merge, the conflict records, and the log entry.

use std::collections::HashMap;

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::merge;
use fieldsync_protocol::push::{ConflictInfo, MutationResult, Op, Status};
use fieldsync_protocol::registry::{self, EntityDef, ScopeRule};
use serde_json::Value;
use uuid::Uuid;

use super::batch::{Batch, Step, Working};
use super::household::household_of;
use super::{observe, travel, work};
use crate::privacy;
use crate::store::{ConflictWrite, MutationWrite, StoreError, Tx, field_names};

/// Merges one mutation into the batch. The outer error aborts the batch (database trouble);
/// the inner one rejects this mutation only.
pub(super) async fn plan(
    tx: &mut Tx,
    step: &Step<'_>,
    batch: &mut Batch,
) -> Result<Result<MutationResult, ErrorDetail>, StoreError> {
    let Step {
        actor,
        rules,
        m,
        def,
    } = *step;
    let existing = batch.records.get(&m.id);
    if let Some(w) = existing.filter(|w| w.entity != def.name) {
        return Ok(Err(ErrorDetail::new(
            ErrorCode::EntityMismatch,
            format!("this id is a {}, not a {}", w.entity, def.name),
        )
        .at("id")));
    }
    let scope = match (m.op, existing) {
        (Op::Create, _) => match scope_of_new(step, &batch.records) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        },
        (_, Some(w)) => w.scope.clone(),
        (_, None) => return Ok(Err(merge::Refusal::NotFound.detail(def.name))),
    };
    if !actor.villages.contains(&scope) && !made_while_assigned(tx, step, &scope).await? {
        return Ok(Err(out_of_scope(tx, def, &scope).await?));
    }
    if m.op != Op::Delete
        && let Err(e) = observe::check_references(step, &scope, &batch.records)
    {
        return Ok(Err(e));
    }
    if m.op == Op::Create {
        if observe::is_survey(def)
            && let Err(e) = observe::check_survey(tx, m, &mut batch.lookups).await?
        {
            return Ok(Err(e));
        }
        if def.name == registry::SELF_REPORT.name {
            // Earlier reports in this batch count against the limit too.
            let in_batch = batch
                .writes
                .mutations
                .iter()
                .filter(|w| w.entity == registry::SELF_REPORT.name && w.by == step.author())
                .count();
            let per_day = rules.self_reports_per_day - i64::try_from(in_batch).unwrap_or(i64::MAX);
            if let Err(e) = observe::check_self_report(tx, step, per_day).await? {
                return Ok(Err(e));
            }
        }
    }
    let mut outcome = match merge::apply(def, existing.map(|w| &w.state), m) {
        Ok(o) => o,
        Err(refusal) => return Ok(Err(refusal.detail(def.name))),
    };
    if m.op == Op::Create {
        observe::add_outcome(def.name, &mut outcome.state.fields);
    }
    // Cases, steps, tasks, self-reports and checks set off follow-up work; this may still
    // reject the mutation, so it comes before anything is placed in the batch.
    let follow = match work::judge(tx, step, &scope, &batch.records, &mut outcome.state).await? {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let household_id = household_of(def, m.id, &outcome.state.fields);
    // Observations carry fixes that count as evidence (attendance, home verification): judge
    // them. Edits of registers (households, members) keep their fix without a verdict.
    let judged = if def.append_only && m.op == Op::Create {
        observe::judge_fix(tx, step, &scope, household_id, batch).await?
    } else {
        None
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
        batch.writes.conflicts.push(ConflictWrite {
            by: step.author(),
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
        let w = batch.change_or_create(m.id, def.name, &scope, step.author());
        w.state = outcome.state;
        if m.gps.is_some() {
            w.gps.clone_from(&m.gps);
        }
        if let Some((verdict, fix)) = judged {
            w.gps_verdict = Some(verdict);
            batch.writes.fixes.push(fix);
            // This fix may now stand just before one judged earlier: judge that one again.
            travel::revise_next(tx, step, batch).await?;
        }
    }
    let mut status = outcome.status;
    if let Some(moved) = work::apply(follow, step, batch) {
        infos.push(moved);
        status = Status::Conflict;
    }
    batch.writes.mutations.push(MutationWrite {
        by: step.author(),
        mutation_id: m.mutation_id,
        record_id: m.id,
        entity: def.name,
        op: m.op,
        status,
        version,
        fields: field_names(&m.fields),
        hlc: m.hlc,
        gps: m.gps.clone(),
        household_id,
        scope,
    });
    Ok(Ok(MutationResult {
        mutation_id: Some(m.mutation_id),
        status,
        version: Some(version),
        conflicts: infos,
        error: None,
        original_status: None,
        receipt: None,
    }))
}

/// The village a new record belongs to.
fn scope_of_new(step: &Step<'_>, records: &HashMap<Uuid, Working>) -> Result<String, ErrorDetail> {
    let Step { m, def, .. } = *step;
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

/// An edit made offline while the cadre still served a village they have since left (a
/// reassignment while the phone was away) is still taken: the work was theirs when they did
/// it. Judged by the day the edit was stamped, within `PushRules::late_edit_ms`.
async fn made_while_assigned(
    tx: &mut Tx,
    step: &Step<'_>,
    scope: &str,
) -> Result<bool, StoreError> {
    let Step {
        actor, rules, m, ..
    } = *step;
    let made = i64::try_from(m.hlc.wall_ms).unwrap_or(i64::MAX);
    if made < rules.now_ms - rules.late_edit_ms || made > rules.now_ms {
        return Ok(false);
    }
    let day = crate::clock::iso(crate::clock::date_of_ms(made));
    tx.was_assigned(actor.user_id, scope, &day).await
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
