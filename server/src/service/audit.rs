//! The audit entry of a change an office makes (an account, an assignment, a form version):
//! who, from which sign-in, which record, where, and which fields (names, never values).

use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::clock;
use crate::state::AppState;
use crate::store::{AuditAction, AuditEntry};

/// The entry of `action` by `caller` on record `id` of `entity`, in `scope` (a division, or
/// none for what serves every county).
pub(super) fn entry(
    caller: &Caller,
    action: AuditAction,
    (entity, id): (&'static str, Uuid),
    scope: Option<&str>,
    fields: &[&str],
) -> AuditEntry {
    AuditEntry {
        user_id: caller.user_id,
        device_id: Some(caller.device_id),
        action,
        entity,
        record_id: id,
        household_id: None,
        scope: scope.map(str::to_owned),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// Audits one change ([`entry`]).
pub(super) async fn change(
    state: &AppState,
    caller: &Caller,
    action: AuditAction,
    record: (&'static str, Uuid),
    scope: Option<&str>,
    fields: &[&str],
) -> Result<(), ServiceError> {
    let entry = entry(caller, action, record, scope, fields);
    Ok(state
        .store()
        .append_audit(&[entry], clock::now_ms())
        .await?)
}
