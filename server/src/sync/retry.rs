//! Running a transaction again when it met a concurrent writer.

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

impl IsRetry for StoreError {
    fn is_retry(&self) -> bool {
        matches!(self, StoreError::Retry)
    }
}
