//! What a phone tells the server about itself on every request, in headers: its app version
//! (which the server may refuse as too old) and the health of its outbox, so that team leaders
//! can find phones that stopped syncing or hold old unsent records.

/// `1.4.2` (the app's version, dot-separated numbers; a suffix after `-` or `+` is ignored).
pub const APP_VERSION_HEADER: &str = "x-fieldsync-app-version";
/// Mutations waiting in the phone's outbox.
pub const OUTBOX_DEPTH_HEADER: &str = "x-fieldsync-outbox-depth";
/// Age in seconds of the oldest mutation not yet accepted by the server.
pub const OLDEST_UNSENT_HEADER: &str = "x-fieldsync-oldest-unsent-s";

/// A version's numbers, or `None` when it is not one (`1.4`, `1.4.2`, `2.0.0-beta.1`).
pub fn version_numbers(v: &str) -> Option<Vec<u64>> {
    let core = v.trim().split(['-', '+']).next()?;
    if core.is_empty() {
        return None;
    }
    core.split('.').map(|n| n.parse().ok()).collect()
}

/// Whether version `v` is older than `min` (missing numbers count as 0: `1.4` = `1.4.0`).
/// A `v` that is not a version is older than anything.
pub fn is_older(v: &str, min: &str) -> bool {
    let (Some(a), Some(b)) = (version_numbers(v), version_numbers(min)) else {
        return true;
    };
    let n = a.len().max(b.len());
    let at = |x: &[u64], i: usize| x.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(&a, i).cmp(&at(&b, i)))
        .find(|o| o.is_ne())
        .is_some_and(|o| o.is_lt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number_not_text() {
        assert!(is_older("1.9.0", "1.10.0"));
        assert!(!is_older("1.10.0", "1.9.9"));
        assert!(!is_older("1.4", "1.4.0"));
        assert!(is_older("1.4.0-beta.2", "1.4.1"));
        assert!(!is_older("2.0.0+build.7", "2.0.0"));
        assert!(is_older("banana", "1.0.0"));
        assert_eq!(version_numbers("1.x"), None);
        assert_eq!(version_numbers(""), None);
    }
}
