//! Users, their village assignments, devices and refresh tokens.

use std::sync::LazyLock;

use fieldsync_protocol::Role;
use uuid::Uuid;

use super::{Result, Store, StoreError, execute, fetch_as, fetch_scalar};

pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub display_name: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub display_name: Option<String>,
    pub disabled_at: Option<i64>,
}

impl UserRow {
    pub fn role(&self) -> Result<Role> {
        self.role.parse().map_err(|_| {
            StoreError::Corrupt(format!("user {} has unknown role {:?}", self.id, self.role))
        })
    }
}

/// A device as an authenticated request sees it, with its user.
#[derive(Debug, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub revoked_at: Option<i64>,
    pub role: String,
    pub user_disabled_at: Option<i64>,
}

/// What a login finds of the device it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// New, now registered to the user, or already theirs.
    Bound,
    /// Revoked by an administrator.
    Revoked,
    /// Registered to another user.
    Taken,
}

/// A device before it was handed over, and how many sessions the handover ended.
#[derive(Debug)]
pub struct HandOver {
    pub from_user: Uuid,
    pub from_username: String,
    /// `phone`, or `console` (a browser sign-in's, never handed over).
    pub kind: String,
    pub revoked_at: Option<i64>,
    pub sessions_ended: u64,
}

/// The range of 12-digit village codes below a division code of any level. Codes are
/// hierarchical: province `64` + `0000`, city 4 digits + `00`, county 6, township 9,
/// village 12; county codes never end in `00`.
pub fn village_range(code: &str) -> (String, String) {
    let significant = match code.len() {
        12 => 12,
        9 => 9,
        6 if code.ends_with("0000") => 2,
        6 if code.ends_with("00") => 4,
        _ => code.len().min(12),
    };
    let prefix = &code[..significant.min(code.len())];
    let pad = 12 - prefix.len();
    (
        format!("{prefix}{}", "0".repeat(pad)),
        format!("{prefix}{}", "9".repeat(pad)),
    )
}

/// A common table expression naming `assigned(division_code)`: the divisions user `$1` is
/// assigned to on day `$2`.
pub(super) const ASSIGNED_ON_DAY: &str = "assigned AS (
        SELECT division_code FROM assignments
        WHERE user_id = $1 AND starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $2)
    )";

/// Common table expressions naming `villages(code)`: the villages user `$1` may touch on day
/// `$2`, in one statement (every push and pull asks), after [`ASSIGNED_ON_DAY`]. Each
/// assignment's code becomes the prefix its villages share, as [`village_range`] says, and the
/// villages are read by index range.
pub(super) const VILLAGES_OF_USER: &str = "mine AS (
        SELECT DISTINCT CASE
            WHEN length(division_code) = 6 AND substr(division_code, 3) = '0000'
                THEN substr(division_code, 1, 2)
            WHEN length(division_code) = 6 AND substr(division_code, 5) = '00'
                THEN substr(division_code, 1, 4)
            ELSE substr(division_code, 1, 12) END AS prefix
        FROM assigned
    ), villages AS (
        SELECT DISTINCT d.code FROM mine JOIN divisions d
            ON d.code >= substr(mine.prefix || '000000000000', 1, 12)
           AND d.code <= substr(mine.prefix || '999999999999', 1, 12)
        WHERE d.level = 'village'
    )";

impl Store {
    /// Creates a user assigned to `divisions` from `today` on. Fails with
    /// [`StoreError::Duplicate`] if the username is taken.
    pub async fn create_user(
        &self,
        user: &NewUser,
        divisions: &[String],
        today: &str,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            "INSERT INTO users (id, username, password_hash, role, display_name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            user.id,
            &user.username,
            &user.password_hash,
            user.role.as_str(),
            user.display_name.as_deref(),
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        for code in divisions {
            execute!(
                tx.conn(),
                "INSERT INTO assignments (user_id, division_code, starts_on) VALUES ($1, $2, $3)",
                user.id,
                code,
                today,
            )
            .map_err(StoreError::from_db)?;
        }
        tx.commit().await
    }

    /// Replaces a user's current assignments: the old ones end yesterday, the new ones start
    /// today (an assignment already running keeps its start).
    pub async fn set_assignments(
        &self,
        user_id: Uuid,
        divisions: &[String],
        today: &str,
        yesterday: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let current: Vec<String> = fetch_scalar!(
            tx.conn(),
            fetch_all,
            String,
            "SELECT division_code FROM assignments
             WHERE user_id = $1 AND starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $2)",
            user_id,
            today,
        )?;
        for code in current.iter().filter(|c| !divisions.contains(c)) {
            execute!(
                tx.conn(),
                "UPDATE assignments SET ends_on = $3
                 WHERE user_id = $1 AND division_code = $2 AND (ends_on IS NULL OR ends_on >= $4)",
                user_id,
                code,
                yesterday,
                today,
            )?;
        }
        for code in divisions.iter().filter(|c| !current.contains(c)) {
            execute!(
                tx.conn(),
                "INSERT INTO assignments (user_id, division_code, starts_on) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, division_code, starts_on) DO UPDATE SET ends_on = NULL",
                user_id,
                code,
                today,
            )
            .map_err(StoreError::from_db)?;
        }
        tx.commit().await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            UserRow,
            "SELECT id, username, password_hash, role, display_name, disabled_at FROM users WHERE username = $1",
            username,
        )?)
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            UserRow,
            "SELECT id, username, password_hash, role, display_name, disabled_at FROM users ORDER BY username",
        )?)
    }

    /// The villages a user may see and change on `today` (a `YYYY-MM-DD` date in local time).
    /// Runs on every push and pull, so it is index range scans, not a join over all divisions.
    pub async fn user_villages(&self, user_id: Uuid, today: &str) -> Result<Vec<String>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH {ASSIGNED_ON_DAY}, {VILLAGES_OF_USER} SELECT code FROM villages ORDER BY code"
            )
        });
        Ok(fetch_scalar!(
            self.reader(),
            fetch_all,
            String,
            SQL.as_str(),
            user_id,
            today,
        )?)
    }

    /// The division codes a user is assigned to on `today`.
    pub async fn user_assignments(&self, user_id: Uuid, today: &str) -> Result<Vec<String>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH {ASSIGNED_ON_DAY}
                 SELECT DISTINCT division_code FROM assigned ORDER BY division_code"
            )
        });
        Ok(fetch_scalar!(
            self.reader(),
            fetch_all,
            String,
            SQL.as_str(),
            user_id,
            today,
        )?)
    }

    /// Registers a device to the user logging in on it: a new device id becomes the user's,
    /// the user's own device is seen again. A device registered to another user is refused
    /// and nothing of it changes (its owner's sessions go on); only an administrator's
    /// [`Store::hand_over_device`] gives it to someone else. One statement, so two first
    /// logins racing on one new id cannot both register it.
    pub async fn bind_device(
        &self,
        device_id: Uuid,
        user_id: Uuid,
        now_ms: i64,
    ) -> Result<Binding> {
        let mut tx = self.begin().await?;
        let bound: Option<Uuid> = fetch_scalar!(
            tx.conn(),
            fetch_optional,
            Uuid,
            "INSERT INTO devices (id, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at
             WHERE devices.revoked_at IS NULL AND devices.user_id = excluded.user_id
             RETURNING user_id",
            device_id,
            user_id,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        if bound.is_some() {
            tx.commit().await?;
            return Ok(Binding::Bound);
        }
        let revoked: Option<Option<i64>> = fetch_scalar!(
            tx.conn(),
            fetch_optional,
            Option<i64>,
            "SELECT revoked_at FROM devices WHERE id = $1",
            device_id,
        )?;
        tx.commit().await?;
        Ok(match revoked {
            Some(Some(_)) => Binding::Revoked,
            _ => Binding::Taken,
        })
    }

    /// Gives a phone to another user (an administrator's decision): every session of its
    /// previous user on it ends (`device_reassigned`), so their tokens stop at the next
    /// request, and the new user may log in on it. `None` if there is no such device.
    pub async fn hand_over_device(
        &self,
        device_id: Uuid,
        to_user: Uuid,
        now_ms: i64,
    ) -> Result<Option<HandOver>> {
        let mut tx = self.begin().await?;
        let Some((from_user, from_username, kind, revoked_at)) = fetch_as!(
            tx.conn(),
            fetch_optional,
            (Uuid, String, String, Option<i64>),
            "SELECT d.user_id, u.username, d.kind, d.revoked_at
             FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
            device_id,
        )?
        else {
            return Ok(None);
        };
        let before = HandOver {
            from_user,
            from_username,
            kind,
            revoked_at,
            sessions_ended: 0,
        };
        // A console sign-in's device, or a Collect link's, is made for that sign-in or link
        // alone: nothing to hand over (a link's holder gets a new link).
        if before.kind != "phone" || before.from_user == to_user {
            return Ok(Some(before));
        }
        execute!(
            tx.conn(),
            "UPDATE devices SET user_id = $2 WHERE id = $1",
            device_id,
            to_user,
        )?;
        let sessions_ended = tx
            .end_sessions_of_others(device_id, to_user, now_ms)
            .await?;
        tx.commit().await?;
        Ok(Some(HandOver {
            sessions_ended,
            ..before
        }))
    }

    /// The device and its user's current role, for checking a request's token.
    pub async fn device(&self, device_id: Uuid) -> Result<Option<DeviceRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            DeviceRow,
            "SELECT d.id, d.user_id, d.revoked_at, u.role, u.disabled_at AS user_disabled_at
             FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
            device_id,
        )?)
    }

    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            UserRow,
            "SELECT id, username, password_hash, role, display_name, disabled_at FROM users WHERE id = $1",
            id,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::village_range;

    #[test]
    fn ranges_follow_the_code_hierarchy() {
        let r = |c: &str| village_range(c);
        assert_eq!(r("640000"), ("640000000000".into(), "649999999999".into()));
        assert_eq!(r("640100"), ("640100000000".into(), "640199999999".into()));
        assert_eq!(r("640181"), ("640181000000".into(), "640181999999".into()));
        assert_eq!(
            r("640104001"),
            ("640104001000".into(), "640104001999".into())
        );
        assert_eq!(
            r("640104001002"),
            ("640104001002".into(), "640104001002".into())
        );
    }
}
