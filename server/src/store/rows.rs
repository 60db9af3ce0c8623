//! Row types shared by both engines.

use fieldsync_protocol::merge::RecordState;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// A record with its merge metadata, as a push loads it.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredRecord {
    pub id: Uuid,
    pub entity: String,
    pub scope: String,
    pub version: i64,
    pub deleted: bool,
    pub fields: Json<Map<String, Value>>,
    pub meta: Json<super::Stamps>,
}

impl StoredRecord {
    pub fn into_state(self) -> (Uuid, String, String, RecordState) {
        let state = RecordState {
            version: u64::try_from(self.version).unwrap_or_default(),
            deleted: self.deleted,
            fields: self.fields.0,
            meta: self.meta.0.0,
        };
        (self.id, self.entity, self.scope, state)
    }
}

/// A record as a pull sends it.
#[derive(Debug, sqlx::FromRow)]
pub struct PulledRecord {
    pub id: Uuid,
    pub entity: String,
    pub scope: String,
    pub version: i64,
    pub seq: i64,
    pub deleted: bool,
    pub fields: Json<Map<String, Value>>,
    pub gps_verdict: Option<Json<Value>>,
}

/// What the mutation log remembers of an accepted mutation, to answer a re-send.
#[derive(Debug, sqlx::FromRow)]
pub struct LoggedMutation {
    pub mutation_id: Uuid,
    pub device_id: Uuid,
    pub status: String,
    pub version: i64,
}
