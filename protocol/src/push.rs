//! `POST /v1/sync/push`: a batch of mutations from one device, and a result for each.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ErrorCode, ErrorDetail};
use crate::gps::GpsFix;
use crate::hlc::Hlc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// One edit made on a phone. Ids are UUID v7 made on the device, so records can be created
/// offline; `mutation_id` makes a re-send recognisable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    pub mutation_id: Uuid,
    pub entity: String,
    pub id: Uuid,
    pub op: Op,
    /// The server version of the record the edit was made on; null for a create.
    #[serde(default)]
    pub base_version: Option<u64>,
    /// The changed fields only (all fields for a create). `null` clears an optional field.
    #[serde(default)]
    pub fields: Map<String, Value>,
    pub hlc: Hlc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<GpsFix>,
}

impl Mutation {
    /// Parses one mutation of a batch on its own, so that a malformed one is rejected alone.
    /// On failure, returns the `mutation_id` when it could still be read, so the phone can match
    /// the rejection to its outbox entry.
    pub fn parse(value: Value) -> Result<Mutation, (Option<Uuid>, ErrorDetail)> {
        let id = value
            .get("mutation_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        serde_json::from_value::<Mutation>(value).map_err(|e| {
            let detail = ErrorDetail::new(ErrorCode::InvalidMutation, e.to_string());
            (id, detail)
        })
    }
}

/// What the phone reports about itself on every push and pull, so team leaders can find
/// phones that silently stopped syncing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Mutations waiting in the phone's outbox, this batch included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_depth: Option<u64>,
    /// Age in seconds of the oldest unsent mutation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_unsent_s: Option<u64>,
}

/// The request as a client builds it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "device_id": "0192f5a0-0000-7000-8000-00000000d001",
    "mutations": [{
        "mutation_id": "0192f5a0-0001-7000-8000-000000000001",
        "entity": "household",
        "id": "0192f5a0-1000-7000-8000-000000000001",
        "op": "create",
        "base_version": null,
        "fields": {"village_code": "640104001002", "head_name": "马德福", "phone": "13995001234"},
        "hlc": {"wall_ms": 1764300000000u64, "counter": 0, "node": "0192f5a0-0000-7000-8000-00000000d001"},
        "gps": {"lat": 38.4872, "lon": 106.2309, "accuracy_m": 8.0, "crs": "wgs84",
                "fix_at": "2025-11-28T10:00:00Z", "mocked": false}
    }],
    "client": {"app_version": "1.4.2", "outbox_depth": 1, "oldest_unsent_s": 3600},
    "pull": {"cursor": "eyJzIjoxMn0"}
}))]
pub struct PushRequest {
    pub device_id: Uuid,
    pub mutations: Vec<Mutation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    /// Pull in the same exchange: the answer's `pull` is the page `GET /v1/sync/pull` would
    /// give with this cursor right after the push committed (the push's own records included,
    /// with the server's judgement of them). Saves a round trip per sync on a slow link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<crate::pull::PullRequest>,
}

/// The request as the server reads it: each mutation stays raw JSON until it is parsed on its
/// own, so one malformed mutation cannot fail the batch.
#[derive(Clone, Debug, Deserialize)]
pub struct RawPushRequest {
    pub device_id: Uuid,
    pub mutations: Vec<Value>,
    #[serde(default)]
    pub client: Option<ClientInfo>,
    #[serde(default)]
    pub pull: Option<crate::pull::PullRequest>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Applied on the version it was made on.
    Applied,
    /// The record changed on the server since `base_version`, but in other fields; both kept.
    Merged,
    /// At least one field was also changed by someone else; see `conflicts`.
    Conflict,
    /// Not applied; see `error`. Nothing of it was written.
    Rejected,
    /// This `mutation_id` was already received; nothing changed. `original_status` and the other
    /// fields repeat the first result.
    Duplicate,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Merged => "merged",
            Status::Conflict => "conflict",
            Status::Rejected => "rejected",
            Status::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Applied,
            Status::Merged,
            Status::Conflict,
            Status::Rejected,
            Status::Duplicate,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ConflictKind {
    /// Both sides set the same field to different values.
    #[default]
    Field,
    /// One side deleted the record while the other changed this field; `null` stands for
    /// "deleted".
    Delete,
}

/// A same-field race: the value kept, and the value that lost (stored in a conflict record
/// that a reviewer can resolve).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConflictInfo {
    pub field: String,
    /// The value this mutation carried.
    pub yours: Value,
    /// The value on the server when the mutation arrived.
    pub theirs: Value,
    /// The value the record now has.
    pub kept: Value,
    pub conflict_id: Uuid,
    #[serde(default)]
    pub kind: ConflictKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MutationResult {
    /// Null only when the mutation was too malformed to carry a readable id.
    pub mutation_id: Option<Uuid>,
    pub status: Status,
    /// The record's version after this mutation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// For a duplicate: the status of the first delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_status: Option<Status>,
    /// For an accepted observation (visit, check, check-in …): the server's signed receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<crate::receipt::Receipt>,
}

impl MutationResult {
    pub fn rejected(mutation_id: Option<Uuid>, error: ErrorDetail) -> Self {
        MutationResult {
            mutation_id,
            status: Status::Rejected,
            version: None,
            conflicts: Vec::new(),
            error: Some(error),
            original_status: None,
            receipt: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushResponse {
    /// One result per mutation, in the order of the request.
    pub results: Vec<MutationResult>,
    /// The server's clock, so a phone can notice that its own clock is off.
    pub server_time_ms: u64,
    /// The page of changes the request's `pull` asked for. Absent when it asked for none, or
    /// when the pull could not be answered (a cursor the server no longer knows, a busy
    /// server): the push's results stand, and the phone pulls as usual with `GET`, which says
    /// what went wrong. A server older than this field answers without it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<crate::pull::PullResponse>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn design_example() -> Value {
        json!({"mutation_id": "01965d4e-8f2a-7000-8000-000000000001", "entity": "household",
               "id": "01965d4e-8f2a-7000-8000-000000000002", "op": "update", "base_version": 17,
               "fields": {"phone": "13900000000"},
               "hlc": {"wall_ms": 1764324000000u64, "counter": 0, "node": "01965d4e-8f2a-7000-8000-000000000003"},
               "gps": {"lat": 36.0, "lon": 106.2, "accuracy_m": 8.0, "crs": "wgs84",
                       "fix_at": "2026-11-28T10:00:00Z", "mocked": false}})
    }

    #[test]
    fn parses_the_design_example() {
        let m = Mutation::parse(design_example()).unwrap();
        assert_eq!(m.op, Op::Update);
        assert_eq!(m.base_version, Some(17));
        assert_eq!(m.fields["phone"], "13900000000");
        assert!(m.gps.is_some());
    }

    #[test]
    fn a_bad_op_is_reported_with_the_mutation_id() {
        let mut v = design_example();
        v["op"] = json!("upsert");
        let (id, err) = Mutation::parse(v).unwrap_err();
        assert_eq!(
            id.unwrap().to_string(),
            "01965d4e-8f2a-7000-8000-000000000001"
        );
        assert_eq!(err.code, ErrorCode::InvalidMutation);
        assert!(err.message.contains("upsert"), "{}", err.message);
    }

    #[test]
    fn unknown_top_level_keys_are_rejected() {
        let mut v = design_example();
        v["feilds"] = json!({});
        assert!(Mutation::parse(v).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in ["applied", "merged", "conflict", "rejected", "duplicate"] {
            let st = Status::parse(s).unwrap();
            assert_eq!(st.as_str(), s);
            assert_eq!(serde_json::to_value(st).unwrap(), json!(s));
        }
    }
}
