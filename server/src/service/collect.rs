//! ODK Collect's keys: a per-phone secret in the OpenRosa base URL
//! (`…/openrosa/key/<key>`), as Central's app users have. Collect asks for a password only
//! after a challenge and sends Basic only over https, so a key in the URL is what works on a
//! village's plain-http LAN server and with one scanned QR code.
//!
//! A key is bound to one user and one device record of kind `collect` through an ordinary
//! session: `admin revoke-device`, `disable-user` and a hand-over end it exactly as they end a
//! phone's session, and everything the key does is done as that user on that device. Only the
//! key's hash is stored; the key itself is shown once, to the administrator who made it.

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};

use super::{Caller, ServiceError};
use crate::auth::token;
use crate::openrosa::xform;
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
    Caller::of_session(store, session)
        .await
        .map_err(|e| match e {
            ServiceError::Unauthenticated(_) => refused(),
            other => other,
        })
}
