//! The password check every sign-in shares (the phone's login, the console's sign-in),
//! throttled per username and per address, with the answers a wrong or throttled attempt gets.

use std::net::IpAddr;

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};

use super::ServiceError;
use crate::auth::password;
use crate::ratelimit::{self, Verdict};
use crate::state::AppState;
use crate::store::UserRow;

/// The active user with this username and password. Unknown users cost the same argon2 time
/// as known ones, and every failure counts toward the username's and the address's limit.
pub async fn check_credentials(
    state: &AppState,
    ip: IpAddr,
    username: &str,
    password: String,
    now: i64,
) -> Result<UserRow, ServiceError> {
    if username.is_empty() || username.len() > 64 || password.len() > 1024 {
        return Err(wrong_credentials());
    }
    let limits = &state.settings().limits;
    if let Verdict::Limited { retry_after_s } =
        ratelimit::check(state.store(), limits, username, ip, now).await?
    {
        return Err(too_many("failed logins", retry_after_s));
    }
    let user = state.store().user_by_username(username).await?;
    let stored = user
        .as_ref()
        .map_or_else(|| password::decoy().to_owned(), |u| u.password_hash.clone());
    let candidate = password;
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || password::verify(&stored, &candidate))
        .await
        .map_err(ServiceError::internal)?;
    let user = match user {
        Some(u) if ok && u.disabled_at.is_none() => u,
        _ => {
            ratelimit::failed(state.store(), limits, username, ip, now).await?;
            tracing::info!(%ip, "login failed");
            return Err(wrong_credentials());
        }
    };
    ratelimit::succeeded(state.store(), username).await?;
    Ok(user)
}

/// A wrong username or password (which of the two is not said).
pub fn wrong_credentials() -> ServiceError {
    ServiceError::Unauthenticated(ErrorDetail::new(
        ErrorCode::InvalidCredentials,
        "wrong username or password",
    ))
}

/// Too many failed attempts of `what`: try again in `retry_after_s`.
pub fn too_many(what: &str, retry_after_s: u64) -> ServiceError {
    ServiceError::RateLimited {
        detail: ErrorDetail::new(
            ErrorCode::RateLimited,
            format!(
                "too many {what}; try again in {} minutes",
                retry_after_s.div_ceil(60)
            ),
        ),
        retry_after_s,
    }
}
