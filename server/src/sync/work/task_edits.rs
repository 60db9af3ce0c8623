//! Task edits, checked field by field: who may reassign, rename or reschedule a task, who may
//! change its status, and that closing it needs evidence.

use fieldsync_protocol::Role;
use fieldsync_protocol::error::ErrorCode;
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::push::Op;
use fieldsync_protocol::registry::work::OPEN_TASK_STATUSES as OPEN_TASK;
use serde_json::{Map, json};

use super::evidence::evidence_closes;
use super::follow::{Follow, Judged, Judging, refuse, text, uuid};
use crate::cases::rules;
use crate::clock;
use crate::store::Tx;
use crate::sync::batch::Step;

/// Who may reassign, reschedule or cancel a task.
const LEADERS: &[Role] = &[
    Role::FirstSecretary,
    Role::TownshipSupervisor,
    Role::CountyOfficer,
];

/// A new task, or an edit of one, checked field by field.
pub(super) async fn task_edit(tx: &mut Tx, cx: &Judging<'_>, state: &mut RecordState) -> Judged {
    let Step { actor, m, .. } = cx.step;
    let empty = Map::new();
    let old = cx.before().map_or(&empty, |b| &b.fields);
    let new = &state.fields;
    let changed = |name: &str| old.get(name) != new.get(name);
    let leader = LEADERS.contains(&actor.role);
    if m.op == Op::Create {
        if new.get("status").is_some_and(|s| s != "open") {
            return refuse(
                ErrorCode::InvalidValue,
                "a new task is open",
                "fields.status",
            );
        }
    } else if ["title", "due_on", "assignee_id"]
        .iter()
        .any(|f| changed(f))
        && !leader
    {
        return refuse(
            ErrorCode::ForbiddenRole,
            "only the first secretary or a team leader reassigns, renames or reschedules a task",
            "fields",
        );
    }
    if changed("assignee_id")
        && let Some(who) = uuid(new, "assignee_id")
    {
        let people = tx.candidates(cx.scope, &clock::iso(cx.at.today)).await?;
        let takes = people
            .iter()
            .any(|c| c.user_id == who && rules::takes_tasks(&c.role));
        if !takes {
            return refuse(
                ErrorCode::UnknownReference,
                "assignee_id is not a cadre or leader assigned to this village",
                "fields.assignee_id",
            );
        }
    }
    let mut server = Map::new();
    if m.op == Op::Create {
        server.insert("status".into(), json!("open"));
        server.insert("source".into(), json!("manual"));
        server.insert("source_id".into(), json!(m.id.to_string()));
        server.insert("created_at".into(), json!(cx.at.rfc3339));
    } else if changed("status") {
        let from = text(old, "status").unwrap_or("open");
        let to = text(new, "status").unwrap_or("open");
        if !OPEN_TASK.contains(&from) {
            return refuse(
                ErrorCode::InvalidTransition,
                format!("a {from} task stays closed; open a new one"),
                "fields.status",
            );
        }
        let assignee = uuid(new, "assignee_id") == Some(actor.user_id);
        if !assignee && !leader {
            return refuse(
                ErrorCode::ForbiddenRole,
                "only the assignee or a leader changes a task's status",
                "fields.status",
            );
        }
        match to {
            "cancelled" if !leader => {
                return refuse(
                    ErrorCode::ForbiddenRole,
                    "only the first secretary or a team leader cancels a task",
                    "fields.status",
                );
            }
            "cancelled" if text(new, "note").is_none_or(|n| n.trim().is_empty()) => {
                return refuse(
                    ErrorCode::MissingField,
                    "cancelling a task says why in its note",
                    "fields.note",
                );
            }
            "done" => {
                if let Err(why) = evidence_closes(tx, cx.records, new, cx.scope).await? {
                    return refuse(ErrorCode::EvidenceRequired, why, "fields.evidence_id");
                }
                server.insert("closed_at".into(), json!(cx.at.rfc3339));
                server.insert("closed_by".into(), json!(actor.user_id.to_string()));
            }
            "cancelled" => {
                server.insert("closed_at".into(), json!(cx.at.rfc3339));
                server.insert("closed_by".into(), json!(actor.user_id.to_string()));
            }
            _ => {}
        }
    }
    for (name, value) in server {
        state.fields.insert(name, value);
    }
    Ok(Ok(Follow::default()))
}
