//! `GET /v1/sync/pull`: every change in the caller's villages after a cursor.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// One record as it is now on the server: a full row, or a tombstone (`deleted`, no fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub entity: String,
    pub id: Uuid,
    pub version: u64,
    pub deleted: bool,
    /// The village the record belongs to; a phone drops records of villages in `drop_scopes`.
    pub scope: String,
    pub fields: Map<String, Value>,
    /// The server's judgement of the record's GPS fix, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_verdict: Option<Value>,
}

/// A pull carried by a push (`pull` in `POST /v1/sync/push`): the same as `GET /v1/sync/pull`'s
/// query, read after the push committed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PullRequest {
    /// The `cursor` of the previous pull; absent or empty for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Most changes in the answer (at least 1; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PullResponse {
    pub changes: Vec<Change>,
    /// Opaque; send it back as `?cursor=` on the next pull.
    pub cursor: String,
    /// More changes are waiting: pull again at once with the new cursor.
    pub has_more: bool,
    /// Villages the device must forget (assignment ended) before applying `changes`.
    pub drop_scopes: Vec<String>,
    /// The villages this device now receives.
    pub scopes: Vec<String>,
}
