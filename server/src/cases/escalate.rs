//! Overdue tasks go up to the team leader (逾期上报): a task still open after its due day is
//! marked escalated, with the township supervisor of its village as `escalated_to`, in a write
//! every phone of the village (and the supervisor's) pulls. `serve` runs this every
//! `monitoring.escalate_every_s`; `fieldsync admin escalate-tasks` runs it on demand.

use std::collections::HashMap;

use fieldsync_protocol::Role;
use fieldsync_protocol::merge;
use fieldsync_protocol::push::{Op, Status};
use fieldsync_protocol::registry;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::clock;
use crate::store::{
    Author, MutationWrite, RecordWrite, Store, StoreError, WriteBatch, field_names,
};

/// The node and user of writes the server makes on its own (not in answer to a phone).
pub const SERVER: Uuid = Uuid::nil();

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Escalated {
    /// Tasks marked escalated.
    pub tasks: usize,
    /// Of those, tasks whose village has no township supervisor assigned today.
    pub without_leader: usize,
}

fn overdue(fields: &Map<String, Value>, today: &str) -> bool {
    // A task without a status is open (a phone's create before the server filled it in).
    let open = fields
        .get("status")
        .and_then(Value::as_str)
        .is_none_or(|s| fieldsync_protocol::registry::work::OPEN_TASK_STATUSES.contains(&s));
    let due = fields.get("due_on").and_then(Value::as_str);
    open && due.is_some_and(|d| d < today) && !fields.contains_key("escalated_at")
}

/// Marks every overdue task not yet escalated.
pub async fn escalate(store: &Store, now_ms: i64) -> Result<Escalated, StoreError> {
    let today = clock::iso(clock::date_of_ms(now_ms));
    let due: Vec<Uuid> = store
        .work_records("task", None)
        .await?
        .into_iter()
        .filter(|r| overdue(&r.fields.0, &today))
        .map(|r| r.id)
        .collect();
    let mut done = Escalated::default();
    // A few hundred at a time: one transaction per chunk keeps locks short.
    for chunk in due.chunks(500) {
        let mut tx = store.begin().await?;
        let mut leaders: HashMap<String, Option<Uuid>> = HashMap::new();
        let mut batch = WriteBatch::new(now_ms);
        for rec in tx.lock_records(chunk).await? {
            // Looked at again under the lock: a phone may have closed it meanwhile.
            if rec.deleted || !overdue(&rec.fields.0, &today) {
                continue;
            }
            let leader = match leaders.get(&rec.scope) {
                Some(l) => *l,
                None => {
                    let l = tx
                        .candidates(&rec.scope, &today)
                        .await?
                        .into_iter()
                        .find(|c| c.role == Role::TownshipSupervisor.as_str())
                        .map(|c| c.user_id);
                    leaders.insert(rec.scope.clone(), l);
                    l
                }
            };
            let (id, _, scope, state) = rec.into_state();
            let mut fields = Map::new();
            fields.insert("escalated_at".into(), json!(clock::rfc3339_of_ms(now_ms)));
            match leader {
                Some(l) => {
                    fields.insert("escalated_to".into(), json!(l.to_string()));
                }
                None => done.without_leader += 1,
            }
            let previous = state.meta.values().map(|m| m.hlc).max();
            let stamp = merge::stamp_after(previous, SERVER, u64::try_from(now_ms).unwrap_or(0));
            let state = merge::server_write(&state, &fields, stamp);
            let household_id = crate::sync::household_of(&registry::TASK, id, &state.fields);
            batch.mutations.push(MutationWrite {
                by: Author {
                    device_id: SERVER,
                    user_id: SERVER,
                },
                mutation_id: Uuid::now_v7(),
                record_id: id,
                entity: registry::TASK.name,
                op: Op::Update,
                status: Status::Applied,
                version: state.version,
                fields: field_names(&fields),
                hlc: stamp,
                gps: None,
                household_id,
                scope: scope.clone(),
            });
            batch.records.push(RecordWrite {
                id,
                entity: registry::TASK.name,
                household_id,
                scope,
                state,
                gps: None,
                gps_verdict: None,
                created: false,
                user_id: SERVER,
            });
            done.tasks += 1;
        }
        if !batch.records.is_empty() {
            tx.write(&batch).await?;
        }
        tx.commit().await?;
    }
    if done.tasks > 0 {
        tracing::info!(
            tasks = done.tasks,
            without_leader = done.without_leader,
            "escalated overdue tasks"
        );
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_open_tasks_past_their_day_and_not_yet_escalated_are_overdue() {
        let t = |v: Value| v.as_object().cloned().unwrap_or_default();
        let today = "2026-11-28";
        assert!(overdue(
            &t(json!({"status": "open", "due_on": "2026-11-27"})),
            today
        ));
        assert!(overdue(
            &t(json!({"status": "in_progress", "due_on": "2026-11-01"})),
            today
        ));
        assert!(
            !overdue(&t(json!({"status": "open", "due_on": "2026-11-28"})), today),
            "due today is not late"
        );
        assert!(!overdue(
            &t(json!({"status": "done", "due_on": "2026-11-01"})),
            today
        ));
        assert!(!overdue(
            &t(json!({"status": "cancelled", "due_on": "2026-11-01"})),
            today
        ));
        assert!(!overdue(
            &t(
                json!({"status": "open", "due_on": "2026-11-01", "escalated_at": "2026-11-02T08:00:00+08:00"})
            ),
            today
        ));
    }
}
