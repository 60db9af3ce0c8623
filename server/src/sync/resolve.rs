//! A reviewer's decision on a conflict record: keep what the merge kept, take the other
//! value, or enter a corrected one. A decision that changes the record is written like any
//! other change (new version, new sequence number, logged), so every phone pulls it.

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::merge;
use fieldsync_protocol::push::{Op, Status};
use fieldsync_protocol::registry;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::actor::Actor;
use super::household::household_of;
use super::retry::{IsRetry, retrying};
use crate::access::{self, Action};
use crate::store::{
    AuditAction, AuditEntry, Author, ConflictRow, MutationWrite, RecordWrite, Store, StoreError,
    WriteBatch, field_names,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// Keep the value the merge kept.
    Kept,
    /// Take the value the pushing device sent.
    Yours,
    /// Take the value the server had.
    Theirs,
    /// Take `value`, a corrected value.
    Value,
}

/// A reviewer's decision on a conflict.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub choice: Choice,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub note: Option<String>,
}

/// What is stored with a resolved conflict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    pub choice: Choice,
    /// The value the field was set to (null: cleared, or for a deleted record, left deleted).
    pub value: Value,
    #[serde(default)]
    pub note: Option<String>,
    /// The record's version after the decision.
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such conflict")]
    NotFound,
    #[error("{}", .0.message)]
    Invalid(ErrorDetail),
    #[error("the conflict was already resolved")]
    AlreadyResolved,
}

impl IsRetry for ResolveError {
    fn is_retry(&self) -> bool {
        matches!(self, ResolveError::Store(StoreError::Retry))
    }
}

pub struct Resolved {
    pub conflict: ConflictRow,
    /// The record's version after the decision.
    pub version: u64,
}

pub async fn resolve(
    store: &Store,
    actor: &Actor,
    conflict_id: Uuid,
    decision: &Decision,
    now_ms: i64,
) -> Result<Resolved, ResolveError> {
    if decision
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 1000)
    {
        return Err(ResolveError::Invalid(
            ErrorDetail::new(ErrorCode::InvalidValue, "at most 1000 characters").at("note"),
        ));
    }
    retrying(|| attempt(store, actor, conflict_id, decision, now_ms)).await
}

async fn attempt(
    store: &Store,
    actor: &Actor,
    conflict_id: Uuid,
    decision: &Decision,
    now_ms: i64,
) -> Result<Resolved, ResolveError> {
    let mut tx = store.begin().await?;
    // A conflict outside the reviewer's villages does not exist for them.
    let conflict = tx
        .lock_conflict(conflict_id)
        .await?
        .filter(|c| actor.villages.contains(&c.scope))
        .ok_or(ResolveError::NotFound)?;
    if !access::allowed(actor.role, &conflict.entity, Action::Review) {
        return Err(ResolveError::Invalid(ErrorDetail::new(
            ErrorCode::ForbiddenRole,
            format!(
                "a {} may not resolve conflicts of a {}",
                actor.role, conflict.entity
            ),
        )));
    }
    if conflict.resolved_at.is_some() {
        return Err(ResolveError::AlreadyResolved);
    }
    let def = registry::entity(&conflict.entity).ok_or_else(|| {
        StoreError::Corrupt(format!("conflict of unknown entity {}", conflict.entity))
    })?;
    // A field the server writes (a case's state, moved only by steps through the procedure)
    // is never set by a decision: the reviewer acknowledges what was kept and, if the other
    // move was right, takes it as a new step.
    let server_field = def.field(&conflict.field).is_some_and(|f| f.server_only);
    if server_field && decision.choice != Choice::Kept {
        return Err(ResolveError::Invalid(
            ErrorDetail::new(
                ErrorCode::InvalidTransition,
                format!(
                    "the server decides a {}'s {}: acknowledge with \"kept\", then take the step the procedure allows",
                    def.name, conflict.field
                ),
            )
            .at("choice"),
        ));
    }
    let value = match decision.choice {
        Choice::Kept => conflict.kept.0.clone(),
        Choice::Yours => conflict.yours.0.clone(),
        Choice::Theirs => conflict.theirs.0.clone(),
        Choice::Value => decision.value.clone().ok_or_else(|| {
            ResolveError::Invalid(
                ErrorDetail::new(ErrorCode::MissingField, "choice \"value\" needs a value")
                    .at("value"),
            )
        })?,
    };
    let mut fields = Map::new();
    fields.insert(conflict.field.clone(), value.clone());
    if !server_field {
        registry::validate_fields(def, Op::Update, &fields)
            .map_err(|e| ResolveError::Invalid(e.within("value")))?;
    }

    let record = tx
        .lock_records(&[conflict.record_id])
        .await?
        .pop()
        .ok_or_else(|| {
            StoreError::Corrupt(format!("conflict {} names a missing record", conflict.id))
        })?;
    let (id, _, scope, state) = record.into_state();
    let previous = state.meta.get(&conflict.field).map(|m| m.hlc);
    let stamp = merge::stamp_after(
        previous,
        actor.device_id,
        u64::try_from(now_ms).unwrap_or_default(),
    );
    let mut version = state.version;
    let audit = vec![AuditEntry {
        user_id: actor.user_id,
        device_id: Some(actor.device_id),
        action: AuditAction::Resolve,
        entity: def.name,
        record_id: id,
        household_id: household_of(def, id, &state.fields),
        scope: Some(scope.clone()),
        fields: vec![conflict.field.clone()],
    }];
    let decided = if server_field {
        None
    } else {
        merge::decide(&state, &conflict.field, &value, stamp)
    };
    if let Some(new_state) = decided {
        version = new_state.version;
        let batch = WriteBatch {
            now_ms,
            records: vec![RecordWrite {
                id,
                entity: def.name,
                scope: scope.clone(),
                state: new_state,
                gps: None,
                gps_verdict: None,
                household_id: audit[0].household_id,
                created: false,
                user_id: actor.user_id,
            }],
            mutations: vec![MutationWrite {
                by: Author {
                    device_id: actor.device_id,
                    user_id: actor.user_id,
                },
                mutation_id: Uuid::now_v7(),
                record_id: id,
                entity: def.name,
                op: Op::Update,
                status: Status::Applied,
                version,
                fields: field_names(&fields),
                hlc: stamp,
                gps: None,
                household_id: audit[0].household_id,
                scope: scope.clone(),
            }],
            conflicts: Vec::new(),
            audit,
            fixes: Vec::new(),
        };
        tx.write(&batch).await?;
    } else {
        tx.append_audit(&audit, now_ms).await?;
    }
    let resolution = serde_json::to_value(Resolution {
        choice: decision.choice,
        value,
        note: decision.note.clone(),
        version,
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.mark_resolved(conflict.id, actor.user_id, now_ms, &resolution)
        .await?;
    tx.commit().await?;
    let mut conflict = conflict;
    conflict.resolved_at = Some(now_ms);
    conflict.resolved_by = Some(actor.user_id);
    conflict.resolution = Some(sqlx::types::Json(resolution));
    Ok(Resolved { conflict, version })
}
