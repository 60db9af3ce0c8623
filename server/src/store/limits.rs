//! Counters of failed logins, in the database so that every replica sees the same count.

use super::{Result, Store, execute, fetch_as};

impl Store {
    /// The failures counted for each key in its current window: `(key, window_start, failures)`.
    pub async fn login_failures(&self, keys: &[String]) -> Result<Vec<(String, i64, i64)>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let row: Option<(String, i64, i64)> = fetch_as!(
                self.reader(),
                fetch_optional,
                (String, i64, i64),
                "SELECT key, window_start, failures FROM login_failures WHERE key = $1",
                key,
            )?;
            out.extend(row);
        }
        Ok(out)
    }

    /// Counts one failure for each key; a window that has run out starts again at `now_ms`.
    pub async fn count_login_failure(
        &self,
        keys: &[String],
        now_ms: i64,
        window_ms: i64,
    ) -> Result<()> {
        for key in keys {
            // Both SET expressions read the row as it was before the update.
            execute!(
                self.writer(),
                "INSERT INTO login_failures (key, window_start, failures) VALUES ($1, $2, 1)
                 ON CONFLICT (key) DO UPDATE SET
                     failures = CASE WHEN login_failures.window_start + $3 <= $2 THEN 1
                                     ELSE login_failures.failures + 1 END,
                     window_start = CASE WHEN login_failures.window_start + $3 <= $2 THEN $2
                                         ELSE login_failures.window_start END",
                key,
                now_ms,
                window_ms,
            )?;
        }
        Ok(())
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        execute!(
            self.writer(),
            "DELETE FROM login_failures WHERE key = $1",
            key
        )?;
        Ok(())
    }
}
