//! Tasks: the list of the caller's villages, open ones overdue first, and a reassignment,
//! which is an edit of the task pushed from the caller's device.

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::registry;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Item, Shown, stamp, text, villages};
use crate::clock;
use crate::service::{Caller, ServiceError, push};
use crate::state::AppState;

/// Which tasks a list shows.
#[derive(Default)]
pub struct TaskFilter {
    /// One of the caller's villages; all of them when absent.
    pub village: Option<String>,
    /// Only this person's tasks.
    pub assignee: Option<Uuid>,
    /// `open` (open and in progress; the default), `closed` (done and cancelled) or `all`.
    pub status: Option<String>,
    /// Only tasks escalated to the caller.
    pub escalated_to_me: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskList {
    /// Open tasks overdue first (most overdue first), then by due day.
    pub tasks: Vec<Item>,
    pub open: usize,
    pub overdue: usize,
}

/// The tasks of the caller's villages: open ones overdue first.
pub async fn list_tasks(
    state: &AppState,
    caller: &Caller,
    q: TaskFilter,
) -> Result<TaskList, ServiceError> {
    let which = q.status.as_deref().unwrap_or("open");
    let wanted: &[&str] = match which {
        "open" => registry::work::OPEN_TASK_STATUSES,
        "closed" => &["done", "cancelled"],
        "all" => registry::work::TASK_STATUSES,
        other => {
            return Err(ServiceError::invalid(
                ErrorCode::InvalidRequest,
                format!("status is open, closed or all, not {other:?}"),
            )
            .at("status"));
        }
    };
    let villages = villages(state, caller, "task", q.village.as_deref()).await?;
    let today = clock::today();
    let me = caller.user_id.to_string();
    let assignee = q.assignee.map(|a| a.to_string());
    let mut shown = Shown::new(caller);
    let mut items: Vec<Item> = Vec::new();
    for r in state
        .store()
        .work_records(registry::TASK.name, Some(&villages))
        .await?
    {
        let f = &r.fields.0;
        let status = text(f, "status").unwrap_or("open");
        if !wanted.contains(&status)
            || assignee
                .as_deref()
                .is_some_and(|a| text(f, "assignee_id") != Some(a))
            || q.escalated_to_me && text(f, "escalated_to") != Some(me.as_str())
        {
            continue;
        }
        let late = registry::work::OPEN_TASK_STATUSES
            .contains(&status)
            .then(|| text(f, "due_on").and_then(|d| days_after(today, d)))
            .flatten()
            .filter(|d| *d > 0);
        let mut item = shown.item(&registry::TASK, r);
        item.days_overdue = late;
        items.push(item);
    }
    items.sort_by(|a, b| {
        let due = |i: &Item| text(&i.fields, "due_on").unwrap_or("").to_owned();
        b.days_overdue
            .is_some()
            .cmp(&a.days_overdue.is_some())
            .then_with(|| due(a).cmp(&due(b)))
            .then_with(|| a.id.cmp(&b.id))
    });
    let open = items
        .iter()
        .filter(|i| {
            text(&i.fields, "status")
                .is_some_and(|s| registry::work::OPEN_TASK_STATUSES.contains(&s))
        })
        .count();
    let overdue = items.iter().filter(|i| i.days_overdue.is_some()).count();
    shown.finish(state).await?;
    Ok(TaskList {
        tasks: items,
        open,
        overdue,
    })
}

/// Days from `date` (`YYYY-MM-DD`) to `today`.
fn days_after(today: time::Date, date: &str) -> Option<i64> {
    Some((today - clock::parse_date(date)?).whole_days())
}

/// Gives task `id` (at `version`, the one the caller saw) to `assignee`: an edit pushed from
/// the caller's device, so the task rules judge who may be given it, as for a phone's edit.
pub async fn reassign_task(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    version: u64,
    assignee: Uuid,
) -> Result<(), ServiceError> {
    push::push_one(
        state,
        caller,
        json!({
            "mutation_id": Uuid::now_v7(),
            "entity": "task",
            "id": id,
            "op": "update",
            "base_version": version,
            "fields": { "assignee_id": assignee },
            "hlc": stamp(caller),
        }),
    )
    .await?;
    Ok(())
}
