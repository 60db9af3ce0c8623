//! Browser sign-ins of the review console. Each is an ordinary session (see `sessions.rs`) on a
//! device of kind `console` made for it, so everything that ends a phone's session ends this
//! one too; the browser's cookie token and the session's CSRF token live beside it.

use std::sync::LazyLock;

use fieldsync_protocol::registry;
use uuid::Uuid;

use super::{Result, Store, StoreError, entity_list, execute, fetch_as, fetch_scalar};

/// A console sign-in as a request sees it.
#[derive(Debug, sqlx::FromRow)]
pub struct ConsoleSession {
    pub session_id: Uuid,
    pub device_id: Uuid,
    pub csrf: String,
    pub expires_at: i64,
    pub username: String,
    pub display_name: Option<String>,
}

impl Store {
    /// Signs a user in from a browser: a console device, a session on it, and the cookie's
    /// token (its hash) with the session's CSRF token, in one transaction.
    pub async fn open_console_session(
        &self,
        user_id: Uuid,
        token_hash: &[u8],
        csrf: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<Uuid> {
        let mut tx = self.begin().await?;
        let (_, session_id) =
            super::sessions::open_own_device(&mut tx, user_id, "console", now_ms).await?;
        execute!(
            tx.conn(),
            "INSERT INTO console_sessions (token_hash, session_id, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            token_hash,
            session_id,
            csrf,
            now_ms,
            expires_ms,
        )
        .map_err(StoreError::from_db)?;
        tx.commit().await?;
        Ok(session_id)
    }

    /// The sign-in a cookie's token names, if it has not expired. Whether its session is still
    /// alive is checked like a phone's (`session_auth`).
    pub async fn console_session(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            ConsoleSession,
            "SELECT c.session_id, s.device_id, c.csrf, c.expires_at, u.username, u.display_name
             FROM console_sessions c JOIN sessions s ON s.id = c.session_id
                  JOIN users u ON u.id = s.user_id
             WHERE c.token_hash = $1 AND c.expires_at > $2",
            token_hash,
            now_ms,
        )?)
    }
}

/// A person the console names (an assignee, a reviewer, a cadre).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Person {
    pub id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
}

impl Person {
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.username)
    }
}

impl Store {
    /// The names of `code` and the divisions below it (a village's, a township's, a county's).
    pub async fn division_names_under(&self, code: &str) -> Result<Vec<(String, String)>> {
        let (lo, hi) = super::identity::village_range(code);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            (String, String),
            "SELECT code, name FROM divisions
             WHERE code >= $1 AND code <= $2 OR code = $3 ORDER BY code",
            lo,
            hi,
            code,
        )?)
    }

    /// Active people assigned, on `today`, at or below `code`, with the division of each
    /// assignment: who may be given a task there, and whose names lists show.
    pub async fn people_under(&self, code: &str, today: &str) -> Result<Vec<(Person, String)>> {
        Ok(self
            .accounts_under(code, today)
            .await?
            .into_iter()
            .filter(|a| a.disabled_at.is_none())
            .map(|a| {
                (
                    Person {
                        id: a.id,
                        username: a.username,
                        display_name: a.display_name,
                        role: a.role,
                    },
                    a.division_code,
                )
            })
            .collect())
    }
}

/// An account assigned, on a day, at or below a division: the accounts page's row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub division_code: String,
    pub disabled_at: Option<i64>,
}

impl Store {
    /// Every account assigned, on `today`, at or below `code` (disabled ones too), by
    /// division then username; an account assigned twice comes once per division.
    pub async fn accounts_under(&self, code: &str, today: &str) -> Result<Vec<AccountRow>> {
        let (lo, hi) = super::identity::village_range(code);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            AccountRow,
            "SELECT u.id, u.username, u.display_name, u.role, a.division_code, u.disabled_at
             FROM assignments a JOIN users u ON u.id = a.user_id
             WHERE (a.division_code >= $1 AND a.division_code <= $2 OR a.division_code = $4)
               AND a.starts_on <= $3 AND (a.ends_on IS NULL OR a.ends_on >= $3)
             ORDER BY a.division_code, u.username",
            lo,
            hi,
            today,
            code,
        )?)
    }
}

impl Store {
    /// A village handed over on `day`: `old`'s assignment to it running on `day` ends the day
    /// before (`day_before`), and `new` is assigned to it from `day` (unless already assigned
    /// then), in one transaction. `false`, changing nothing, when `old` was not assigned to
    /// the village since before `day`.
    pub async fn hand_over(
        &self,
        village: &str,
        old: Uuid,
        new: Uuid,
        day: &str,
        day_before: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let ended = execute!(
            tx.conn(),
            "UPDATE assignments SET ends_on = $4
             WHERE user_id = $1 AND division_code = $2 AND starts_on <= $4
               AND (ends_on IS NULL OR ends_on >= $3)",
            old,
            village,
            day,
            day_before,
        )?;
        if ended == 0 {
            return Ok(false);
        }
        let running: i64 = fetch_scalar!(
            tx.conn(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM assignments
             WHERE user_id = $1 AND division_code = $2 AND starts_on <= $3
               AND (ends_on IS NULL OR ends_on >= $3)",
            new,
            village,
            day,
        )?;
        if running == 0 {
            execute!(
                tx.conn(),
                "INSERT INTO assignments (user_id, division_code, starts_on, ends_on)
                 VALUES ($1, $2, $3, NULL)
                 ON CONFLICT (user_id, division_code, starts_on) DO UPDATE SET ends_on = NULL",
                new,
                village,
                day,
            )?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// A located visit, check or check-in of a village, for its map.
#[derive(Debug, sqlx::FromRow)]
pub struct MapPoint {
    pub record_id: Uuid,
    pub entity: String,
    pub lat: f64,
    pub lon: f64,
    pub fix_at: i64,
    pub gps_verdict: Option<sqlx::types::Json<serde_json::Value>>,
}

impl Store {
    /// The fixes of a village's records taken in `[from_ms, to_ms)`, oldest first.
    pub async fn village_points(
        &self,
        village: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<MapPoint>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            MapPoint,
            "SELECT r.id AS record_id, r.entity, g.lat, g.lon, g.fix_at, r.gps_verdict
             FROM records r JOIN gps_fixes g ON g.record_id = r.id
             WHERE r.scope = $1 AND g.fix_at >= $2 AND g.fix_at < $3 AND NOT r.deleted
             ORDER BY g.fix_at, r.id",
            village,
            from_ms,
            to_ms,
        )?)
    }

    /// The area a village's fixes are judged against, as an administrator gave it.
    pub async fn stored_village_area(
        &self,
        village: &str,
    ) -> Result<Option<super::observations::StoredArea>> {
        let mut tx = self.begin().await?;
        let area = tx.village_area(village).await?;
        tx.commit().await?;
        Ok(area)
    }
}

/// A village's figures for a month, for the dashboard.
#[derive(Clone, Debug, Default)]
pub struct VillageMonth {
    pub households: i64,
    /// Households with a visit or a check this month.
    pub visited: i64,
    /// Checks made this month and how many failed, by check entity.
    pub checks: Vec<(String, i64, i64)>,
}

/// Households of each village with a record made at them (a visit or a check) in a time range.
static VISITED_BY_VILLAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT r.scope, COUNT(DISTINCT r.household_id)
         FROM records r LEFT JOIN gps_fixes g ON g.record_id = r.id
         WHERE r.scope >= $1 AND r.scope <= $2 AND r.household_id IS NOT NULL
           AND r.entity IN ({})
           AND COALESCE(g.fix_at, r.created_at) >= $3 AND COALESCE(g.fix_at, r.created_at) < $4
         GROUP BY r.scope",
        entity_list(&registry::AT_HOUSEHOLD)
    )
});

/// Checks of each village in a time range, and how many failed. `passing` is written by the
/// server into the check's fields (JSON on both engines, read differently).
static CHECKS_BY_VILLAGE_SQLITE: LazyLock<String> =
    LazyLock::new(|| checks_by_village("json_extract(r.fields, '$.passing') = 0"));
static CHECKS_BY_VILLAGE_POSTGRES: LazyLock<String> =
    LazyLock::new(|| checks_by_village("r.fields->>'passing' = 'false'"));

fn checks_by_village(failed: &str) -> String {
    format!(
        "SELECT r.scope, r.entity, COUNT(*), SUM(CASE WHEN {failed} THEN 1 ELSE 0 END)
         FROM records r LEFT JOIN gps_fixes g ON g.record_id = r.id
         WHERE r.scope >= $1 AND r.scope <= $2 AND NOT r.deleted
           AND r.entity IN ({})
           AND COALESCE(g.fix_at, r.created_at) >= $3 AND COALESCE(g.fix_at, r.created_at) < $4
         GROUP BY r.scope, r.entity",
        entity_list(&registry::CHECK_NAMES)
    )
}

impl Store {
    /// Each village at or below `code` with its households, visited households and checks in
    /// `[from_ms, to_ms)` (by the fix's time, else by when the server received them).
    pub async fn village_months(
        &self,
        code: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::BTreeMap<String, VillageMonth>> {
        let (lo, hi) = super::identity::village_range(code);
        let mut out: std::collections::BTreeMap<String, VillageMonth> = Default::default();
        for (scope, n) in fetch_as!(
            self.reader(),
            fetch_all,
            (String, i64),
            "SELECT scope, COUNT(*) FROM records
             WHERE entity = 'household' AND NOT deleted AND scope >= $1 AND scope <= $2
             GROUP BY scope",
            &lo,
            &hi,
        )? {
            out.entry(scope).or_default().households = n;
        }
        for (scope, n) in fetch_as!(
            self.reader(),
            fetch_all,
            (String, i64),
            VISITED_BY_VILLAGE.as_str(),
            &lo,
            &hi,
            from_ms,
            to_ms,
        )? {
            out.entry(scope).or_default().visited = n;
        }
        let checks = match self.reader() {
            super::Engine::Sqlite(_) => CHECKS_BY_VILLAGE_SQLITE.as_str(),
            super::Engine::Postgres(_) => CHECKS_BY_VILLAGE_POSTGRES.as_str(),
        };
        for (scope, entity, n, failed) in fetch_as!(
            self.reader(),
            fetch_all,
            (String, String, i64, i64),
            checks,
            &lo,
            &hi,
            from_ms,
            to_ms,
        )? {
            out.entry(scope)
                .or_default()
                .checks
                .push((entity, n, failed));
        }
        Ok(out)
    }
}
