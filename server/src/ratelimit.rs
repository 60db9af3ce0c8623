//! Login throttling: after too many failed logins for one username, or from one address, within
//! a window, logins from it are refused with 429 and `Retry-After` until the window ends. This
//! stops password guessing against cadres' accounts without locking anyone out for good.

use std::net::IpAddr;

use crate::config::Limits;
use crate::store::{Result, Store};

/// Whether a login may be tried now.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Limited { retry_after_s: u64 },
}

struct Keys {
    user: String,
    ip: String,
}

fn keys(username: &str, ip: IpAddr) -> Keys {
    Keys {
        user: format!("user:{}", username.to_lowercase()),
        ip: format!("ip:{ip}"),
    }
}

/// Checks both counters before a login is attempted.
pub async fn check(
    store: &Store,
    limits: &Limits,
    username: &str,
    ip: IpAddr,
    now_ms: i64,
) -> Result<Verdict> {
    let k = keys(username, ip);
    let window_ms = limits.login_window_s.saturating_mul(1000);
    let mut retry_after_ms = 0i64;
    for (key, start, failures) in store
        .login_failures(&[k.user.clone(), k.ip.clone()])
        .await?
    {
        let limit = if key == k.user {
            limits.login_failures_per_user
        } else {
            limits.login_failures_per_ip
        };
        let ends = start.saturating_add(window_ms);
        if ends > now_ms && failures >= limit {
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

pub async fn failed(
    store: &Store,
    limits: &Limits,
    username: &str,
    ip: IpAddr,
    now_ms: i64,
) -> Result<()> {
    let k = keys(username, ip);
    store
        .count_login_failure(
            &[k.user, k.ip],
            now_ms,
            limits.login_window_s.saturating_mul(1000),
        )
        .await
}

/// A successful login clears the username's count (not the address's: one shared office
/// connection may still be guessing at other accounts).
pub async fn succeeded(store: &Store, username: &str, ip: IpAddr) -> Result<()> {
    store.clear_login_failures(&keys(username, ip).user).await
}
