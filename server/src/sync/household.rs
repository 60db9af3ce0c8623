//! The household a record belongs to: what pulls, exports, the mutation log and the locks of
//! follow-up work are keyed by.

use fieldsync_protocol::registry::{self, EntityDef};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The household a record belongs to: itself, or the one its parent field names.
pub(crate) fn household_of(def: &EntityDef, id: Uuid, fields: &Map<String, Value>) -> Option<Uuid> {
    if def.name == registry::HOUSEHOLD.name {
        return Some(id);
    }
    def.fields
        .iter()
        .find(|f| f.ty == registry::FieldType::Ref(registry::HOUSEHOLD.name))
        .and_then(|f| fields.get(f.name)?.as_str()?.parse().ok())
}
