//! The sync domain: what a push does (validate, deduplicate, merge, write), what a pull
//! returns (cursor and scopes), and how a reviewer resolves a conflict. HTTP lives in
//! `crate::http`; SQL in `crate::store`.

pub mod cursor;
mod observe;
mod plan;
pub mod pull;
pub mod push;
pub mod resolve;
mod travel;
mod validate;
mod work;

pub(crate) use plan::household_of;

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::store::StoreError;

/// How often a transaction that met a concurrent writer is run again before giving up.
const MAX_ATTEMPTS: usize = 5;

/// Runs `attempt` until it succeeds or fails with something other than
/// [`StoreError::Retry`], at most [`MAX_ATTEMPTS`] times, backing off a little each time.
pub(crate) async fn retrying<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: IsRetry,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if e.is_retry() && tries + 1 < MAX_ATTEMPTS => {
                tries += 1;
                let jitter = u64::from(rand::random::<u8>() % 10);
                tokio::time::sleep(std::time::Duration::from_millis(5 * tries as u64 + jitter))
                    .await;
            }
            other => return other,
        }
    }
}

pub(crate) trait IsRetry {
    fn is_retry(&self) -> bool;
}

/// Who is syncing: the authenticated user and device, and the villages they may touch today.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub role: fieldsync_protocol::Role,
    pub villages: BTreeSet<String>,
}

impl IsRetry for StoreError {
    fn is_retry(&self) -> bool {
        matches!(self, StoreError::Retry)
    }
}
