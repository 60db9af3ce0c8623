//! Who sees a photo. A photo is visible to the user whose device sent every byte of it (hashed)
//! and to whoever may read a record linked to it (see `store::blob_links`); to anyone else it
//! does not exist, and every answer about it is the one a photo the server never had gets.

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::blob::{BlobInfo, is_sha256_hex};

use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::blobs::BlobError;
use crate::state::AppState;
use crate::store::BlobRow;

/// What the caller may know of the photo; `not_found` when it is not theirs to see, exactly as
/// for a photo the server has never had, except for the caller's own upload in progress.
pub async fn visible(
    state: &AppState,
    caller: &Caller,
    sha256: &str,
) -> Result<BlobInfo, ServiceError> {
    if !is_sha256_hex(sha256) {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidRequest,
            BlobError::BadName(sha256.to_owned()).to_string(),
        ));
    }
    let seen = seen(state, caller, sha256).await?;
    state
        .blobs()
        .info(sha256, caller.device_id, seen.as_ref())
        .await
        .map_err(read_fault)?
        .ok_or_else(|| ServiceError::not_found("no such photo"))
}

/// The photo's row, if the server has it and the caller may see it: their device sent it, or
/// a record they may read links to it.
pub async fn seen(
    state: &AppState,
    caller: &Caller,
    sha256: &str,
) -> Result<Option<BlobRow>, ServiceError> {
    let store = state.store();
    let Some(row) = store.blob(sha256).await? else {
        return Ok(None);
    };
    if store
        .is_blob_owner(sha256, caller.device_id, caller.user_id)
        .await?
    {
        return Ok(Some(row));
    }
    let references = store.blob_references(sha256).await?;
    if references.is_empty() {
        return Ok(None);
    }
    let actor = caller.actor(state).await?;
    let readable = references.iter().any(|r| {
        actor.villages.contains(&r.scope) && access::allowed(caller.role, &r.entity, Action::Read)
    });
    Ok(readable.then_some(row))
}

/// A failure reading what the server holds of a photo: the database's trouble as it is (busy,
/// full), anything else a fault of the server.
fn read_fault(e: BlobError) -> ServiceError {
    match e {
        BlobError::Db(s) => s.into(),
        other => ServiceError::internal(other),
    }
}
