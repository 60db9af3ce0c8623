//! The follow-up work a team leader works from and on: open tasks by village and assignee,
//! overdue first, and their reassignment (`tasks.rs`); cases by state, one case with its whole
//! history, a step of the procedure, and self-reports waiting for the home verification
//! (`cases.rs`). Everything is limited to the caller's villages and role, personal data is
//! disclosed as the role may see it, and reads of it are audited. Writes are mutations pushed
//! from the caller's device (`super::push`), judged as a phone's are.

mod cases;
mod reports;
mod tasks;

use std::collections::BTreeSet;

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::hlc::Hlc;
use fieldsync_protocol::registry::EntityDef;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::disclosure::{self, Whereabouts};
use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::clock;
use crate::state::AppState;
use crate::store::{AuditEntry, WorkRecord};

pub use cases::{
    Awaiting, CaseFilter, CaseList, CaseView, case_of, list_awaiting, list_cases, take_step,
};
pub use reports::{Call, Followed, Standing, calls_today, reports_about, standing, take_call};
pub use tasks::{TaskFilter, TaskList, list_tasks, reassign_task};

/// One record of a list, as the caller may see it (its `fields` are those of its entity in
/// `mobile-contract/schemas/entities.json`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WorkItem)]
pub struct Item {
    pub id: Uuid,
    pub version: i64,
    pub village_code: String,
    pub fields: Map<String, Value>,
    pub received_at_ms: i64,
    /// Tasks: open after their due day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_overdue: Option<i64>,
}

/// Shows records of one entity to the caller: disclosed by role, reads of personal data
/// audited.
pub(super) struct Shown<'a> {
    caller: &'a Caller,
    audit: Vec<AuditEntry>,
}

impl<'a> Shown<'a> {
    pub(super) fn new(caller: &'a Caller) -> Self {
        Shown {
            caller,
            audit: Vec::new(),
        }
    }

    pub(super) fn item(&mut self, def: &'static EntityDef, r: WorkRecord) -> Item {
        let mut fields = r.fields.0;
        let at = Whereabouts {
            record_id: r.id,
            household_id: crate::sync::household_of(def, r.id, &fields),
            scope: &r.scope,
        };
        self.audit
            .extend(disclosure::disclose(self.caller, def, at, &mut fields));
        Item {
            id: r.id,
            version: r.version,
            village_code: r.scope,
            fields,
            received_at_ms: r.created_at,
            days_overdue: None,
        }
    }

    pub(super) async fn finish(self, state: &AppState) -> Result<(), ServiceError> {
        state
            .store()
            .append_audit(&self.audit, clock::now_ms())
            .await?;
        Ok(())
    }

    /// Adds audit entries of personal data shown some other way.
    pub(super) fn extend(&mut self, entries: impl IntoIterator<Item = AuditEntry>) {
        self.audit.extend(entries);
    }
}

/// The villages a list covers: the caller's, or one of them.
async fn villages(
    state: &AppState,
    caller: &Caller,
    entity: &str,
    village: Option<&str>,
) -> Result<BTreeSet<String>, ServiceError> {
    if !access::allowed(caller.role, entity, Action::Read) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("a {} does not read {entity} records", caller.role),
        ));
    }
    caller.villages_asked(state, village).await
}

/// Who each of `records` is about: its household's head's name as the caller may see it
/// (masked or withheld by role; a household is about itself), the reads audited. Records of
/// households outside the caller's villages are left out.
pub async fn heads_of(
    state: &AppState,
    caller: &Caller,
    records: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, ServiceError> {
    let villages = caller.villages_asked(state, None).await?;
    let mut shown = Shown::new(caller);
    let mut heads = std::collections::HashMap::new();
    for (record, household) in state.store().households_of(records).await? {
        if !villages.contains(&household.scope) {
            continue;
        }
        let item = shown.item(&fieldsync_protocol::registry::HOUSEHOLD, household);
        if let Some(name) = text(&item.fields, "head_name") {
            heads.insert(record, name.to_owned());
        }
    }
    shown.finish(state).await?;
    Ok(heads)
}

/// A text field of a record's fields.
pub fn text<'a>(f: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    f.get(k)?.as_str()
}

/// The stamp of a change made now on the caller's device.
fn stamp(caller: &Caller) -> Hlc {
    Hlc {
        wall_ms: u64::try_from(clock::now_ms()).unwrap_or_default(),
        counter: 0,
        node: caller.device_id,
    }
}
