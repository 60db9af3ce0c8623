//! The writes of `fieldsync admin` beyond creating one user: importing a roster, scheduling
//! assignments ahead (handovers), and shutting out a lost phone or a departed cadre.
//!
//! Each command is one transaction, and each is safe to run again: an import finds users by
//! username and assignments by (user, division, start), so a second run of the same file
//! changes nothing; revoking a revoked device or disabling a disabled user keeps the first
//! time stamp.

use fieldsync_protocol::Role;
use uuid::Uuid;

use super::{Result, Store, StoreError, Tx, execute, fetch_as, fetch_scalar};

/// A user of an imported roster.
pub struct ImportUser {
    pub username: String,
    pub role: Role,
    /// `None` keeps an existing user's display name.
    pub display_name: Option<String>,
    /// The hash a new user gets; an existing user keeps its password.
    pub password_hash: Option<String>,
    pub assignments: Vec<ImportAssignment>,
}

/// One period of work in one division. The same user, division and start is the same
/// assignment, whose end is updated.
pub struct ImportAssignment {
    pub division: String,
    /// `YYYY-MM-DD`; `None`: the start of the assignment to this division running today, or
    /// today if none runs.
    pub starts_on: Option<String>,
    /// `YYYY-MM-DD`; `None`: open-ended.
    pub ends_on: Option<String>,
}

/// What an import did to one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOutcome {
    Created,
    /// Role or display name changed.
    Updated,
    Unchanged,
    /// New, but given no password hash: not created.
    Skipped,
}

/// What an import did to one user and its assignments.
#[derive(Clone, Copy, Debug)]
pub struct ImportedUser {
    /// `None` when skipped.
    pub id: Option<Uuid>,
    pub outcome: UserOutcome,
    /// Of its assignments, those added or whose end changed.
    pub assignments_changed: usize,
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    /// One per imported user, in the order given.
    pub users: Vec<ImportedUser>,
    pub assignments_added: usize,
    /// Existing assignments whose end changed.
    pub assignments_changed: usize,
    pub assignments_unchanged: usize,
}

/// A device as `fieldsync admin devices` lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct DeviceInfo {
    pub id: Uuid,
    pub username: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub app_version: Option<String>,
    pub outbox_depth: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A phone's last contact and health, with its user, for the team leader's list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeviceHealth {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub last_seen_at: i64,
    pub app_version: Option<String>,
    pub outbox_depth: Option<i64>,
    pub oldest_unsent_s: Option<i64>,
}

/// What a revoke or disable found before it changed anything.
#[derive(Debug)]
pub struct PreviousState {
    /// The user (of the device).
    pub username: String,
    /// When the device was revoked or the user disabled, if it was.
    pub since: Option<i64>,
}

enum Upserted {
    Added,
    Changed,
    Unchanged,
}

impl Store {
    /// Creates or updates the roster's users and upserts their assignments, in one
    /// transaction. `progress` is called after each user with the number done.
    pub async fn import_users(
        &self,
        users: &[ImportUser],
        today: &str,
        now_ms: i64,
        mut progress: impl FnMut(usize),
    ) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        let mut tx = self.begin().await?;
        for (i, user) in users.iter().enumerate() {
            let outcome = tx.upsert_user(user, now_ms).await?;
            let mut imported = ImportedUser {
                id: outcome.map(|(id, _)| id),
                outcome: outcome.map_or(UserOutcome::Skipped, |(_, o)| o),
                assignments_changed: 0,
            };
            if let Some(id) = imported.id {
                for a in &user.assignments {
                    match tx.upsert_assignment(id, a, today).await? {
                        Upserted::Added => summary.assignments_added += 1,
                        Upserted::Changed => summary.assignments_changed += 1,
                        Upserted::Unchanged => {
                            summary.assignments_unchanged += 1;
                            continue;
                        }
                    }
                    imported.assignments_changed += 1;
                }
            }
            summary.users.push(imported);
            progress(i + 1);
        }
        tx.commit().await?;
        Ok(summary)
    }

    /// Assigns a user to `divisions` from `from` (until `until`, or open-ended), and ends
    /// the user's other assignments running on `from` the day before (`day_before`). An
    /// assignment to one of `divisions` already running on `from` keeps its start; with
    /// `until` it ends then, without it keeps its end. Assignments to one of `divisions` that
    /// would start after `from` are superseded and removed; those to other divisions stay (a
    /// move planned ahead). With `from` today and no `until` this is
    /// [`Store::set_assignments`].
    pub async fn schedule_assignments(
        &self,
        user_id: Uuid,
        divisions: &[String],
        from: &str,
        day_before: &str,
        until: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let running: Vec<String> = fetch_scalar!(
            tx.conn(),
            fetch_all,
            String,
            "SELECT DISTINCT division_code FROM assignments
             WHERE user_id = $1 AND starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $2)",
            user_id,
            from,
        )?;
        for code in running.iter().filter(|c| !divisions.contains(c)) {
            execute!(
                tx.conn(),
                "UPDATE assignments SET ends_on = $4
                 WHERE user_id = $1 AND division_code = $2 AND starts_on <= $3
                     AND (ends_on IS NULL OR ends_on >= $3)",
                user_id,
                code,
                from,
                day_before,
            )?;
        }
        for code in divisions {
            execute!(
                tx.conn(),
                "DELETE FROM assignments
                 WHERE user_id = $1 AND division_code = $2 AND starts_on > $3",
                user_id,
                code,
                from,
            )?;
            if !running.contains(code) {
                execute!(
                    tx.conn(),
                    "INSERT INTO assignments (user_id, division_code, starts_on, ends_on)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id, division_code, starts_on)
                     DO UPDATE SET ends_on = excluded.ends_on",
                    user_id,
                    code,
                    from,
                    until,
                )
                .map_err(StoreError::from_db)?;
            } else if let Some(until) = until {
                execute!(
                    tx.conn(),
                    "UPDATE assignments SET ends_on = $4
                     WHERE user_id = $1 AND division_code = $2 AND starts_on <= $3
                         AND (ends_on IS NULL OR ends_on >= $3)",
                    user_id,
                    code,
                    from,
                    until,
                )?;
            }
        }
        tx.commit().await
    }

    /// Devices with their users, of one user or of all, by username and most recently seen
    /// first.
    /// Every phone in use (not revoked, of an active user), with the divisions its user is
    /// assigned to on `today` as `(user, division)` pairs.
    pub async fn device_health(
        &self,
        today: &str,
    ) -> Result<(Vec<DeviceHealth>, Vec<(Uuid, String)>)> {
        let devices = fetch_as!(
            self.reader(),
            fetch_all,
            DeviceHealth,
            "SELECT d.id, d.user_id, u.username, u.display_name, u.role, d.last_seen_at,
                 d.app_version, d.outbox_depth, d.oldest_unsent_s
             FROM devices d JOIN users u ON u.id = d.user_id
             WHERE d.revoked_at IS NULL AND u.disabled_at IS NULL AND d.kind = 'phone'
             ORDER BY d.last_seen_at, d.id",
        )?;
        let assigned = fetch_as!(
            self.reader(),
            fetch_all,
            (Uuid, String),
            "SELECT DISTINCT user_id, division_code FROM assignments
             WHERE starts_on <= $1 AND (ends_on IS NULL OR ends_on >= $1)",
            today,
        )?;
        Ok((devices, assigned))
    }

    pub async fn devices(&self, user_id: Option<Uuid>) -> Result<Vec<DeviceInfo>> {
        Ok(match user_id {
            Some(id) => fetch_as!(
                self.reader(),
                fetch_all,
                DeviceInfo,
                "SELECT d.id, u.username, d.created_at, d.last_seen_at,
                     d.app_version, d.outbox_depth, d.revoked_at
                 FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.user_id = $1
                 ORDER BY u.username, d.last_seen_at DESC, d.id",
                id,
            )?,
            None => fetch_as!(
                self.reader(),
                fetch_all,
                DeviceInfo,
                "SELECT d.id, u.username, d.created_at, d.last_seen_at,
                     d.app_version, d.outbox_depth, d.revoked_at
                 FROM devices d JOIN users u ON u.id = d.user_id
                 ORDER BY u.username, d.last_seen_at DESC, d.id",
            )?,
        })
    }

    /// Revokes a device (its next request is refused, and it cannot log in) and ends its
    /// sessions, deleting their refresh tokens; or lets it log in again (a new login: the
    /// ended sessions stay ended). `None` if there is no such device.
    pub async fn set_device_revoked(
        &self,
        device_id: Uuid,
        revoked: bool,
        now_ms: i64,
    ) -> Result<Option<PreviousState>> {
        let mut tx = self.begin().await?;
        let Some((username, since)) = fetch_as!(
            tx.conn(),
            fetch_optional,
            (String, Option<i64>),
            "SELECT u.username, d.revoked_at FROM devices d JOIN users u ON u.id = d.user_id
             WHERE d.id = $1",
            device_id,
        )?
        else {
            return Ok(None);
        };
        if revoked {
            execute!(
                tx.conn(),
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                device_id,
                now_ms,
            )?;
            execute!(
                tx.conn(),
                "UPDATE sessions SET ended_at = $2, end_reason = $3
                 WHERE device_id = $1 AND ended_at IS NULL",
                device_id,
                now_ms,
                super::EndReason::DeviceRevoked.as_str(),
            )?;
            execute!(
                tx.conn(),
                "DELETE FROM refresh_tokens WHERE device_id = $1",
                device_id,
            )?;
        } else {
            execute!(
                tx.conn(),
                "UPDATE devices SET revoked_at = NULL WHERE id = $1",
                device_id,
            )?;
        }
        tx.commit().await?;
        Ok(Some(PreviousState { username, since }))
    }

    /// Disables a user (no login; their devices are refused from their next request) and
    /// ends all of their sessions, deleting their refresh tokens; or enables them again (to
    /// log in anew). `None` if there is no such user.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        now_ms: i64,
    ) -> Result<Option<PreviousState>> {
        let mut tx = self.begin().await?;
        let Some((id, since)) = fetch_as!(
            tx.conn(),
            fetch_optional,
            (Uuid, Option<i64>),
            "SELECT id, disabled_at FROM users WHERE username = $1",
            username,
        )?
        else {
            return Ok(None);
        };
        if disabled {
            execute!(
                tx.conn(),
                "UPDATE users SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1",
                id,
                now_ms,
            )?;
            execute!(
                tx.conn(),
                "UPDATE sessions SET ended_at = $2, end_reason = $3
                 WHERE user_id = $1 AND ended_at IS NULL",
                id,
                now_ms,
                super::EndReason::UserDisabled.as_str(),
            )?;
            execute!(
                tx.conn(),
                "DELETE FROM refresh_tokens WHERE user_id = $1",
                id
            )?;
        } else {
            execute!(
                tx.conn(),
                "UPDATE users SET disabled_at = NULL WHERE id = $1",
                id,
            )?;
        }
        tx.commit().await?;
        Ok(Some(PreviousState {
            username: username.to_owned(),
            since,
        }))
    }
}

impl Tx {
    /// Finds the user by name and brings role and display name up to date, or creates it
    /// if it has a password hash. Returns its id, or `None` if it was new without a hash.
    async fn upsert_user(
        &mut self,
        user: &ImportUser,
        now_ms: i64,
    ) -> Result<Option<(Uuid, UserOutcome)>> {
        let existing: Option<(Uuid, String, Option<String>)> = fetch_as!(
            self.conn(),
            fetch_optional,
            (Uuid, String, Option<String>),
            "SELECT id, role, display_name FROM users WHERE username = $1",
            &user.username,
        )?;
        if let Some((id, role, display_name)) = existing {
            let wanted = user.display_name.as_ref().or(display_name.as_ref());
            if role == user.role.as_str() && wanted == display_name.as_ref() {
                return Ok(Some((id, UserOutcome::Unchanged)));
            }
            execute!(
                self.conn(),
                "UPDATE users SET role = $2, display_name = $3 WHERE id = $1",
                id,
                user.role.as_str(),
                wanted,
            )?;
            return Ok(Some((id, UserOutcome::Updated)));
        }
        let Some(hash) = &user.password_hash else {
            return Ok(None);
        };
        let id = Uuid::now_v7();
        execute!(
            self.conn(),
            "INSERT INTO users (id, username, password_hash, role, display_name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            id,
            &user.username,
            hash,
            user.role.as_str(),
            user.display_name.as_deref(),
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        Ok(Some((id, UserOutcome::Created)))
    }

    async fn upsert_assignment(
        &mut self,
        user_id: Uuid,
        a: &ImportAssignment,
        today: &str,
    ) -> Result<Upserted> {
        let starts_on = match &a.starts_on {
            Some(day) => day.clone(),
            None => fetch_scalar!(
                self.conn(),
                fetch_optional,
                String,
                "SELECT starts_on FROM assignments
                 WHERE user_id = $1 AND division_code = $2 AND starts_on <= $3
                     AND (ends_on IS NULL OR ends_on >= $3)
                 ORDER BY starts_on DESC LIMIT 1",
                user_id,
                &a.division,
                today,
            )?
            .unwrap_or_else(|| today.to_owned()),
        };
        let stored: Option<Option<String>> = fetch_scalar!(
            self.conn(),
            fetch_optional,
            Option<String>,
            "SELECT ends_on FROM assignments
             WHERE user_id = $1 AND division_code = $2 AND starts_on = $3",
            user_id,
            &a.division,
            &starts_on,
        )?;
        match stored {
            Some(ends_on) if ends_on == a.ends_on => Ok(Upserted::Unchanged),
            Some(_) => {
                execute!(
                    self.conn(),
                    "UPDATE assignments SET ends_on = $4
                     WHERE user_id = $1 AND division_code = $2 AND starts_on = $3",
                    user_id,
                    &a.division,
                    &starts_on,
                    a.ends_on.as_deref(),
                )?;
                Ok(Upserted::Changed)
            }
            None => {
                execute!(
                    self.conn(),
                    "INSERT INTO assignments (user_id, division_code, starts_on, ends_on)
                     VALUES ($1, $2, $3, $4)",
                    user_id,
                    &a.division,
                    &starts_on,
                    a.ends_on.as_deref(),
                )
                .map_err(StoreError::from_db)?;
                Ok(Upserted::Added)
            }
        }
    }
}
