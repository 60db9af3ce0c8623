//! Password-guessing throttles: after too many wrong passwords for one username, or from one
//! address, within a window, logins from it are refused with 429 and `Retry-After` until the
//! window ends. Changing one's password checks the current password, so it is counted too:
//! per username (the same count as logins: guesses are guesses, wherever they are made) and
//! per session, and a session that keeps guessing is ended by the caller. This stops password
//! guessing against cadres' accounts without locking anyone out for good.
//!
//! The counts are in the database (`store/limits.rs`), so every replica sees the same count.

use std::net::IpAddr;

use uuid::Uuid;

use crate::config::Limits;
use crate::store::{Result, Store};

/// Whether a password may be tried now.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Limited { retry_after_s: u64 },
}

/// One count and the failures it allows within the window.
struct Counter {
    key: String,
    limit: i64,
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn login_counters(limits: &Limits, username: &str, ip: IpAddr) -> [Counter; 2] {
    [
        Counter {
            key: user_key(username),
            limit: limits.login_failures_per_user,
        },
        Counter {
            key: format!("ip:{ip}"),
            limit: limits.login_failures_per_ip,
        },
    ]
}

/// A password change counts per user (shared with logins) and per session; a session gets as
/// many tries as a username.
fn change_counters(limits: &Limits, username: &str, session: Uuid) -> [Counter; 2] {
    [
        Counter {
            key: user_key(username),
            limit: limits.login_failures_per_user,
        },
        Counter {
            key: format!("session:{session}"),
            limit: limits.login_failures_per_user,
        },
    ]
}

fn window_ms(limits: &Limits) -> i64 {
    limits.login_window_s.saturating_mul(1000)
}

async fn verdict(
    store: &Store,
    limits: &Limits,
    counters: &[Counter],
    now_ms: i64,
) -> Result<Verdict> {
    let keys: Vec<String> = counters.iter().map(|c| c.key.clone()).collect();
    let mut retry_after_ms = 0i64;
    for (key, start, failures) in store.login_failures(&keys).await? {
        let Some(counter) = counters.iter().find(|c| c.key == key) else {
            continue;
        };
        let ends = start.saturating_add(window_ms(limits));
        if ends > now_ms && failures >= counter.limit {
            retry_after_ms = retry_after_ms.max(ends - now_ms);
        }
    }
    Ok(if retry_after_ms > 0 {
        Verdict::Limited {
            retry_after_s: u64::try_from((retry_after_ms + 999) / 1000).unwrap_or(1),
        }
    } else {
        Verdict::Allowed
    })
}

/// Checks both counters before a login is attempted.
pub async fn check(
    store: &Store,
    limits: &Limits,
    username: &str,
    ip: IpAddr,
    now_ms: i64,
) -> Result<Verdict> {
    verdict(store, limits, &login_counters(limits, username, ip), now_ms).await
}

pub async fn failed(
    store: &Store,
    limits: &Limits,
    username: &str,
    ip: IpAddr,
    now_ms: i64,
) -> Result<()> {
    let keys = login_counters(limits, username, ip).map(|c| c.key);
    store
        .count_login_failure(&keys, now_ms, window_ms(limits))
        .await
}

/// A successful login clears the username's count (not the address's: one shared office
/// connection may still be guessing at other accounts).
pub async fn succeeded(store: &Store, username: &str) -> Result<()> {
    store.clear_login_failures(&user_key(username)).await
}

/// Checks the user's and the session's counters before a current password is checked.
pub async fn check_change(
    store: &Store,
    limits: &Limits,
    username: &str,
    session: Uuid,
    now_ms: i64,
) -> Result<Verdict> {
    verdict(
        store,
        limits,
        &change_counters(limits, username, session),
        now_ms,
    )
    .await
}

/// Counts a wrong current password; `true` once the session has used up its tries, and
/// should end.
pub async fn failed_change(
    store: &Store,
    limits: &Limits,
    username: &str,
    session: Uuid,
    now_ms: i64,
) -> Result<bool> {
    let counters = change_counters(limits, username, session);
    let keys = counters.each_ref().map(|c| c.key.clone());
    store
        .count_login_failure(&keys, now_ms, window_ms(limits))
        .await?;
    Ok(verdict(store, limits, &counters[1..], now_ms).await? != Verdict::Allowed)
}

/// A right current password clears the user's and the session's counts, as a login does.
pub async fn succeeded_change(store: &Store, username: &str, session: Uuid) -> Result<()> {
    store.clear_login_failures(&user_key(username)).await?;
    store
        .clear_login_failures(&format!("session:{session}"))
        .await
}
