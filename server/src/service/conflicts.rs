//! Values that lost a same-field race, for the reviewer: a page of the conflicts of the
//! caller's villages (values of personal fields as far as the role may see them, their reading
//! audited), and the decision on one, which is a new version of the record every phone pulls.

use fieldsync_protocol::registry::{self, Personal};
use fieldsync_protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::clock;
use crate::privacy;
use crate::state::AppState;
use crate::store::{AuditAction, AuditEntry, ConflictFilter, ConflictRow};
use crate::sync::resolve::{self, Decision, Resolution};

#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    Open,
    Resolved,
    All,
}

/// Which conflicts a page shows.
pub struct ConflictQuery {
    pub status: StatusFilter,
    /// Only the conflicts of this record.
    pub record_id: Option<Uuid>,
    /// Only the conflicts of this household's records.
    pub household_id: Option<Uuid>,
    /// The last conflict id of the previous page.
    pub after: Option<Uuid>,
    /// At most this many, 1 to 500; 100 when absent.
    pub limit: Option<i64>,
}

/// A value that lost a same-field race, and the values around it, as the reviewer's role may
/// see them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub id: Uuid,
    pub entity: String,
    pub record_id: Uuid,
    pub scope: String,
    pub field: String,
    /// `field` or `delete`.
    pub kind: String,
    /// The value the pushing device sent.
    pub yours: Value,
    /// The value the server had.
    pub theirs: Value,
    /// The value the record kept.
    pub kept: Value,
    pub mutation_id: Uuid,
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub created_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

impl ConflictView {
    /// The view of a conflict for a reviewer of `role`: values of personal fields as far as
    /// the role may see them.
    fn for_role(r: ConflictRow, role: Role) -> Self {
        let shown = |v: Value| match registry::entity(&r.entity) {
            Some(def) => privacy::disclose_value(role, def, &r.field, v),
            None => v,
        };
        let (yours, theirs, kept) = (
            shown(r.yours.0.clone()),
            shown(r.theirs.0.clone()),
            shown(r.kept.0.clone()),
        );
        let resolution: Option<Resolution> = r
            .resolution
            .clone()
            .and_then(|j| serde_json::from_value(j.0).ok())
            .map(|mut res: Resolution| {
                res.value = shown(res.value);
                res
            });
        ConflictView {
            id: r.id,
            entity: r.entity,
            record_id: r.record_id,
            scope: r.scope,
            field: r.field,
            kind: r.kind,
            yours,
            theirs,
            kept,
            mutation_id: r.mutation_id,
            device_id: r.device_id,
            user_id: r.user_id,
            created_at_ms: r.created_at,
            resolved_at_ms: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConflictPage {
    pub conflicts: Vec<ConflictView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// A page of the conflicts of the caller's villages, oldest first.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    p: ConflictQuery,
) -> Result<ConflictPage, ServiceError> {
    if !access::reviews_anything(caller.role) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("a {} does not review conflicts", caller.role),
        ));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidRequest,
            "limit must be within 1..500",
        )
        .at("limit"));
    }
    let actor = caller.actor(state).await?;
    let villages: Vec<String> = actor.villages.into_iter().collect();
    let rows = state
        .store()
        .conflicts(&ConflictFilter {
            villages: &villages,
            open: match p.status {
                StatusFilter::Open => Some(true),
                StatusFilter::Resolved => Some(false),
                StatusFilter::All => None,
            },
            record_id: p.record_id,
            household_id: p.household_id,
            after: p.after,
            limit: limit + 1,
        })
        .await?;
    let page_size = usize::try_from(limit).unwrap_or(usize::MAX);
    let next = if rows.len() > page_size {
        rows.get(page_size - 1).map(|r| r.id)
    } else {
        None
    };
    let shown: Vec<ConflictRow> = rows
        .into_iter()
        .take(page_size)
        .filter(|r| access::allowed(caller.role, &r.entity, Action::Review))
        .collect();
    let audit: Vec<AuditEntry> = shown.iter().filter_map(|r| read_entry(caller, r)).collect();
    state.store().append_audit(&audit, clock::now_ms()).await?;
    let conflicts = shown
        .into_iter()
        .map(|r| ConflictView::for_role(r, caller.role))
        .collect();
    Ok(ConflictPage { conflicts, next })
}

/// A conflict of a personal field shows personal data: record the read.
fn read_entry(caller: &Caller, r: &ConflictRow) -> Option<AuditEntry> {
    let def = registry::entity(&r.entity)?;
    let field = def.field(&r.field)?;
    (field.personal != Personal::None).then(|| AuditEntry {
        user_id: caller.user_id,
        device_id: Some(caller.device_id),
        action: AuditAction::Read,
        entity: def.name,
        record_id: r.record_id,
        household_id: (def.name == registry::HOUSEHOLD.name).then_some(r.record_id),
        scope: Some(r.scope.clone()),
        fields: vec![r.field.clone()],
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Resolved {
    pub conflict: ConflictView,
    /// The record's version after the decision.
    pub version: u64,
}

/// A reviewer's decision on a conflict.
pub async fn resolve(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    decision: &Decision,
) -> Result<Resolved, ServiceError> {
    let actor = caller.actor(state).await?;
    let done = resolve::resolve(state.store(), &actor, id, decision, clock::now_ms()).await?;
    tracing::info!(conflict = %id, reviewer = %caller.user_id, "conflict resolved");
    Ok(Resolved {
        conflict: ConflictView::for_role(done.conflict, caller.role),
        version: done.version,
    })
}
