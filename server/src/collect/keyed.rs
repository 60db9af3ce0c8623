//! The caller of an OpenRosa request: the key in its path (`service::collect::caller`), and the
//! absolute base URL the documents' links are written under (Collect follows `downloadUrl`,
//! `manifestUrl` and `integrityUrl` as given).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;

use super::CollectError;
use crate::service::{Caller, collect};
use crate::state::AppState;

pub struct Keyed {
    pub caller: Caller,
    /// `http://host:port/openrosa/key/<key>`: the links the documents carry.
    pub base: String,
}

impl FromRequestParts<AppState> for Keyed {
    type Rejection = CollectError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, CollectError> {
        let not_found = CollectError::NotFound("找不到", "no such path");
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| CollectError::NotFound("找不到", "no such path"))?;
        let key = params
            .iter()
            .find(|(name, _)| *name == "key")
            .map(|(_, v)| v.to_owned())
            .ok_or(not_found)?;
        let caller = collect::caller(state.store(), &key).await?;
        Ok(Keyed {
            caller,
            base: format!("{}{}", origin(parts, state), collect::base_path(&key)),
        })
    }
}

/// `scheme://host` as the phone reached the server: the `Host` it sent (only characters a
/// host and port may have; anything else falls back to the listening address), and https when
/// a trusted proxy says so.
fn origin(parts: &Parts, state: &AppState) -> String {
    let settings = state.settings();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map_or_else(|| settings.listen.to_string(), str::to_owned);
    let https = settings.limits.trust_forwarded_for
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}
