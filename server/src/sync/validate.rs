//! Everything about one pushed mutation that can be checked without the database: shape,
//! ids, entity, clock, GPS, role, fields. A mutation that fails is rejected alone.

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::push::{Mutation, Op};
use fieldsync_protocol::registry::{self, EntityDef};
use serde_json::Value;
use uuid::Uuid;

use super::actor::Actor;
use super::batch::PushRules;
use crate::access::{self, Action};

/// A rejection, with the mutation id when it could be read.
pub(super) type Invalid = (Option<Uuid>, ErrorDetail);

/// Checks one mutation and normalises its ID-card numbers.
pub(super) fn validate(
    actor: &Actor,
    rules: &PushRules,
    value: Value,
) -> Result<(Mutation, &'static EntityDef), Invalid> {
    let mut m = Mutation::parse(value)?;
    let id = Some(m.mutation_id);
    let fail = |e: ErrorDetail| Err((id, e));
    if m.mutation_id.get_version_num() != 7 {
        return fail(
            ErrorDetail::new(ErrorCode::InvalidId, "mutation_id must be a UUID version 7")
                .at("mutation_id"),
        );
    }
    if m.op == Op::Create && m.id.get_version_num() != 7 {
        return fail(
            ErrorDetail::new(
                ErrorCode::InvalidId,
                "a new record's id must be a UUID version 7",
            )
            .at("id"),
        );
    }
    let Some(def) = registry::entity(&m.entity) else {
        return fail(
            ErrorDetail::new(
                ErrorCode::UnknownEntity,
                format!("unknown entity {:?}", m.entity),
            )
            .at("entity"),
        );
    };
    if m.op == Op::Create && m.base_version.is_some() {
        return fail(
            ErrorDetail::new(ErrorCode::InvalidMutation, "a create has no base_version")
                .at("base_version"),
        );
    }
    if m.hlc.node != actor.device_id {
        return fail(
            ErrorDetail::new(
                ErrorCode::InvalidMutation,
                "hlc.node must be the id of the device that made the edit",
            )
            .at("hlc.node"),
        );
    }
    let ahead = i64::try_from(m.hlc.wall_ms)
        .unwrap_or(i64::MAX)
        .saturating_sub(rules.now_ms);
    if ahead > rules.max_clock_ahead_ms {
        return fail(
            ErrorDetail::new(
                ErrorCode::HlcInFuture,
                format!("the edit is stamped {} s ahead of the server's clock; set the phone's clock and stamp it again", ahead / 1000),
            )
            .at("hlc.wall_ms"),
        );
    }
    if let Some(gps) = &m.gps {
        gps.validate().map_err(|e| (id, e.within("gps")))?;
    } else if def.needs_fix && m.op == Op::Create {
        return fail(
            ErrorDetail::new(
                ErrorCode::InvalidGps,
                format!("a {} is only taken with a GPS fix", def.name),
            )
            .at("gps"),
        );
    }
    // Before the role: nobody may edit a fact, and saying so tells the phone what to do instead.
    if !def.allows(m.op) {
        return fail(fieldsync_protocol::merge::Refusal::AppendOnly.detail(def.name));
    }
    if !access::allowed(actor.role, def.name, Action::of(m.op)) {
        return fail(
            ErrorDetail::new(
                ErrorCode::ForbiddenRole,
                format!("a {} may not {} a {}", actor.role, m.op.as_str(), def.name),
            )
            .at("op"),
        );
    }
    registry::validate_fields(def, m.op, &m.fields).map_err(|e| (id, e))?;
    // `YYYY-MM-DD` (checked above) orders as text.
    if let (Some(first), Some(last)) = (
        m.fields.get("first_day").and_then(Value::as_str),
        m.fields.get("last_day").and_then(Value::as_str),
    ) && last < first
    {
        return fail(
            ErrorDetail::new(ErrorCode::InvalidValue, "last_day is before first_day")
                .at("fields.last_day"),
        );
    }
    // One number, one spelling: the check character `x` is stored as `X`, so equal numbers
    // compare equal in merges and in the keyed-hash index.
    for f in def
        .fields
        .iter()
        .filter(|f| f.ty == registry::FieldType::IdCard)
    {
        if let Some(Value::String(s)) = m.fields.get_mut(f.name) {
            *s = registry::idcard::normalize(s);
        }
    }
    Ok((m, def))
}
