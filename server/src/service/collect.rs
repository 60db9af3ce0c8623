//! ODK Collect's keys: a per-phone secret in the OpenRosa base URL
//! (`…/openrosa/key/<key>`), as Central's app users have. Collect asks for a password only
//! after a challenge and sends Basic only over https, so a key in the URL is what works on a
//! village's plain-http LAN server and with one scanned QR code.
//!
//! A key is bound to one user and one device record of kind `collect` through an ordinary
//! session: `admin revoke-device` and `disable-user` end it exactly as they end a phone's
//! session, and everything the key does is done as that user on that device. A link is never
//! handed over to another cadre: it is revoked, and the new cadre gets a link of their own. Only the
//! key's hash is stored; the key itself is shown once, to the administrator who made it.

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::registry::{EntityDef, HOUSEHOLD};
use serde_json::Value;
use uuid::Uuid;

use super::disclosure::{self, Whereabouts};
use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::auth::token;
use crate::clock;
use crate::openrosa::entities::Row;
use crate::openrosa::xform;
use crate::state::AppState;
use crate::store::{CollectKey, Store, UserRow};

/// A key as issued: the secret (shown once) and the device and session it stands for.
pub struct Issued {
    pub key: String,
    pub device: CollectKey,
}

/// The path of a key's OpenRosa base, below the server's address.
pub fn base_path(key: &str) -> String {
    format!("/openrosa/key/{key}")
}

/// Issues a new key for `user`, on a new device of its own (one per phone: each can be
/// revoked alone). Refused for a disabled account and for a role no form is served to.
pub async fn issue(store: &Store, user: &UserRow, now_ms: i64) -> Result<Issued, ServiceError> {
    if user.disabled_at.is_some() {
        return Err(ServiceError::conflict(format!(
            "{} is disabled; enable the account first",
            user.username
        )));
    }
    let role = user.role()?;
    if !xform::registry::FORMS
        .iter()
        .any(|f| xform::allowed(role, f))
    {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("the role {role} fills no forms on a phone"),
        ));
    }
    let (key, hash) = token::new_refresh_token();
    let device = store.open_collect_key(user.id, &hash, now_ms).await?;
    tracing::info!(user = %user.id, device = %device.device_id, "collect key issued");
    Ok(Issued { key, device })
}

/// The caller a key stands for, if its session is alive. An unknown or ended key is
/// `Forbidden`, not `Unauthenticated`: a 401 would make Collect prompt for a password that
/// does not exist (Central answers 403 for the same reason).
pub async fn caller(store: &Store, key: &str) -> Result<Caller, ServiceError> {
    let refused = || {
        ServiceError::Forbidden(ErrorDetail::new(
            ErrorCode::DeviceRevoked,
            "this Collect link is not valid (revoked, replaced or mistyped); ask for a new one",
        ))
    };
    if key.is_empty() || key.len() > 128 {
        return Err(refused());
    }
    let session = store
        .collect_key_session(&token::hash_refresh_token(key))
        .await?
        .ok_or_else(refused)?;
    Caller::of_session(store, session, None)
        .await
        .map_err(|e| match e {
            ServiceError::Unauthenticated(_) => refused(),
            other => other,
        })
}

/// The records of `def` (households or members) in the caller's villages today, disclosed as
/// the caller's role may see them: what an entity list shows. With `audit`, the reading of the
/// personal fields left is entered in the audit log (a download); without, nothing is recorded
/// (the hash a manifest announces, which sends no record).
pub async fn entity_rows(
    state: &AppState,
    caller: &Caller,
    def: &'static EntityDef,
    audit: bool,
) -> Result<Vec<Row>, ServiceError> {
    if !access::allowed(caller.role, def.name, Action::Read) {
        return Ok(Vec::new());
    }
    let villages = caller.actor(state).await?.villages;
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for village in &villages {
        for r in state
            .store()
            .village_entity_records(village, def.name)
            .await?
        {
            let mut fields = r.fields.0;
            let household_id = if def.name == HOUSEHOLD.name {
                Some(r.id)
            } else {
                fields
                    .get("household_id")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
            };
            let at = Whereabouts {
                record_id: r.id,
                household_id,
                scope: village,
            };
            entries.extend(disclosure::disclose(caller, def, at, &mut fields));
            rows.push(Row {
                id: r.id,
                version: u64::try_from(r.version).unwrap_or(0),
                fields,
            });
        }
    }
    if audit {
        state
            .store()
            .append_audit(&entries, clock::now_ms())
            .await?;
    }
    Ok(rows)
}

/// The villages the caller serves today, with their names, for `villages.csv`.
pub async fn villages(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<(String, String)>, ServiceError> {
    let villages: Vec<String> = caller.actor(state).await?.villages.into_iter().collect();
    Ok(state
        .store()
        .village_labels(&villages)
        .await?
        .into_iter()
        .map(|v| (v.code, v.name))
        .collect())
}

/// For each entity id Collect asks about, whether it is gone for the caller: deleted, or
/// outside the caller's villages now (so Collect drops the phone's copy; Central answers the
/// same for entities outside the caller's access). An entity Collect created offline is named
/// by its own v4 id: once the server holds it (under the id derived from that one, which the
/// list carries) the phone's copy is answered gone, so the picker does not show it twice; before,
/// it is not, so a copy still waiting to be sent is never dropped.
pub async fn entities_gone(
    state: &AppState,
    caller: &Caller,
    def: &'static EntityDef,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, bool)>, ServiceError> {
    let villages = caller.actor(state).await?.villages;
    let readable = access::allowed(caller.role, def.name, Action::Read);
    let dataset = xform::registry::dataset(def).unwrap_or(def.name);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let record_id = crate::openrosa::ids::entity(dataset, *id);
        let gone = match state.store().record(record_id).await? {
            None => record_id == *id,
            Some(r) => {
                let here =
                    readable && !r.deleted && r.entity == def.name && villages.contains(&r.scope);
                !here || record_id != *id
            }
        };
        out.push((*id, gone));
    }
    Ok(out)
}
