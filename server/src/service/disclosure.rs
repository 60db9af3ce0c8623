//! A record as the caller may see it: personal fields disclosed as the role allows
//! (`crate::privacy::disclose`), and the audit entry of reading the personal fields left.

use fieldsync_protocol::registry::{EntityDef, Personal};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::Caller;
use crate::privacy;
use crate::store::{AuditAction, AuditEntry};

/// Where a shown record is: its id, its household (when it belongs to one) and its village.
pub struct Whereabouts<'a> {
    pub record_id: Uuid,
    pub household_id: Option<Uuid>,
    pub scope: &'a str,
}

/// Discloses `fields` of a record of `def` as the caller's role may see them; the entry that
/// records the reading of the personal fields left, if any are.
pub fn disclose(
    caller: &Caller,
    def: &'static EntityDef,
    at: Whereabouts<'_>,
    fields: &mut Map<String, Value>,
) -> Option<AuditEntry> {
    privacy::disclose(caller.role, def, fields);
    let personal: Vec<String> = def
        .fields
        .iter()
        .filter(|f| f.personal != Personal::None && fields.contains_key(f.name))
        .map(|f| f.name.to_owned())
        .collect();
    (!personal.is_empty()).then(|| AuditEntry {
        user_id: caller.user_id,
        device_id: Some(caller.device_id),
        action: AuditAction::Read,
        entity: def.name,
        record_id: at.record_id,
        household_id: at.household_id,
        scope: Some(at.scope.to_owned()),
        fields: personal,
    })
}
