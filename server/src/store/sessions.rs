//! Device sessions and their refresh tokens.
//!
//! A login opens a session on a device. Its refresh tokens are single-use: each refresh spends
//! one and issues the next. Presenting a spent token means a copy exists (a stolen phone
//! backup, a leaked token), so the whole session ends at once; access tokens name their
//! session and stop working on their next request.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use sqlx::FromRow;
use uuid::Uuid;

use super::columns::{self, Column};
use super::identity::{ASSIGNED_ON_DAY, VILLAGES_OF_USER};
use super::{Result, Store, StoreError, execute, fetch_as, fetch_scalar};

/// The columns of [`SessionAuth`], from [`SESSION_AUTH_FROM`].
const SESSION_AUTH_COLUMNS: [Column; 8] = [
    ("s.device_id", "device_id", "uuid"),
    ("s.user_id", "user_id", "uuid"),
    ("s.ended_at", "ended_at", "int8"),
    ("d.revoked_at", "device_revoked_at", "int8"),
    ("d.user_id", "device_user_id", "uuid"),
    ("u.role", "role", "text"),
    ("u.disabled_at", "user_disabled_at", "int8"),
    ("s.unused_pair", "unused_pair", "uuid"),
];

/// A session `s` with its device `d` and user `u`.
const SESSION_AUTH_FROM: &str =
    "sessions s JOIN devices d ON d.id = s.device_id JOIN users u ON u.id = s.user_id";

/// [`SessionAuth`], for a `WHERE` on `s` (the session) to follow.
static SESSION_AUTH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM {SESSION_AUTH_FROM}",
        columns::select(&SESSION_AUTH_COLUMNS)
    )
});

/// The sessions a push group checks in its own transaction (`store::opening`), each with the
/// divisions its user is assigned to on the day `day` names (SQL, used twice): a row per
/// assignment (one with `assigned` `NULL` if none), tagged `part = 'session'`. `others` comes
/// right after `part`: the other reads' columns, `NULL`, when this is one branch of a `UNION`.
/// The list of sessions follows (`= ANY($1)`, `IN (…)`). Assignments rather than villages: the
/// villages follow from them and the divisions, which do not change, and this plans in a
/// fraction of the villages' time on PostgreSQL, which plans a statement with an array anew
/// each time.
pub(super) fn checked_sessions_sql(day: &str, others: &str) -> String {
    format!(
        "SELECT 'session' AS part, {others} {}
         FROM {SESSION_AUTH_FROM} LEFT JOIN assignments a ON a.user_id = s.user_id
              AND a.starts_on <= {day} AND (a.ends_on IS NULL OR a.ends_on >= {day})
         WHERE s.id",
        columns::select(&checked_session_columns())
    )
}

/// The columns of [`checked_sessions_sql`] after `part`: the session's id, [`SessionAuth`]'s,
/// and a division its user is assigned to.
fn checked_session_columns() -> Vec<Column> {
    let mut list = vec![("s.id", "session_id", "uuid")];
    list.extend(SESSION_AUTH_COLUMNS);
    list.push(("a.division_code", "assigned", "text"));
    list
}

/// The columns of [`checked_sessions_sql`] after `part`, as typed `NULL`s (PostgreSQL): for the
/// other branches of a `UNION` it is part of.
pub(super) static CHECKED_SESSION_NULLS: LazyLock<String> =
    LazyLock::new(|| columns::nulls(&checked_session_columns()));

/// A session checked in a push group's transaction, with the divisions its user is assigned
/// to that day.
#[derive(Debug)]
pub struct CheckedSession {
    pub auth: SessionAuth,
    pub assigned: BTreeSet<String>,
}

/// The rows of [`checked_sessions_sql`], by session.
pub(super) fn checked_sessions<R: sqlx::Row>(rows: &[R]) -> Result<HashMap<Uuid, CheckedSession>>
where
    SessionAuth: for<'r> sqlx::FromRow<'r, R>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> Uuid: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut out: HashMap<Uuid, CheckedSession> = HashMap::new();
    for row in rows {
        let id: Uuid = row.try_get("session_id").map_err(StoreError::from_db)?;
        let assigned: Option<String> = row.try_get("assigned").map_err(StoreError::from_db)?;
        let session = match out.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(CheckedSession {
                auth: SessionAuth::from_row(row).map_err(StoreError::from_db)?,
                assigned: BTreeSet::new(),
            }),
        };
        session.assigned.extend(assigned);
    }
    Ok(out)
}

/// A session with its user's villages and assignments on one day
/// ([`Store::session_with_villages`]).
#[derive(Debug)]
pub struct SessionWithVillages {
    pub auth: SessionAuth,
    pub villages: Vec<String>,
    pub assigned: BTreeSet<String>,
}

/// What an authenticated request needs to know about its session.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionAuth {
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub ended_at: Option<i64>,
    pub device_revoked_at: Option<i64>,
    pub device_user_id: Uuid,
    pub role: String,
    pub user_disabled_at: Option<i64>,
    /// The pair of tokens the session issued last, until the phone first uses it.
    pub unused_pair: Option<Uuid>,
}

/// Why a session's requests are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The account is disabled.
    Disabled,
    /// The session ended: logged out, ended for theft or guessing, or its device revoked or
    /// handed to someone else.
    Ended,
}

impl SessionAuth {
    /// Why its requests are refused, if they are: a disabled account first (the answer says
    /// so), then an ended session. Every request's read and a push's check in its transaction
    /// decide by this.
    pub fn refusal(&self) -> Option<Refusal> {
        if self.user_disabled_at.is_some() {
            Some(Refusal::Disabled)
        } else if !self.is_alive() {
            Some(Refusal::Ended)
        } else {
            None
        }
    }

    /// Alive: not ended, device not revoked and still bound to this user, user not disabled.
    pub fn is_alive(&self) -> bool {
        self.ended_at.is_none()
            && self.device_revoked_at.is_none()
            && self.device_user_id == self.user_id
            && self.user_disabled_at.is_none()
    }
}

/// Why a session ended, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    /// A spent refresh token was presented again.
    RefreshReuse,
    /// An administrator handed the device to another user.
    DeviceReassigned,
    /// The user changed their password on another session.
    PasswordChanged,
    /// An administrator revoked the device.
    DeviceRevoked,
    /// An administrator disabled the user.
    UserDisabled,
    /// Too many wrong current passwords were tried on the session (a stolen session guessing
    /// the password it would need to lock the owner out).
    PasswordGuessing,
}

impl EndReason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::RefreshReuse => "refresh_reuse",
            EndReason::DeviceReassigned => "device_reassigned",
            EndReason::PasswordChanged => "password_changed",
            EndReason::DeviceRevoked => "device_revoked",
            EndReason::UserDisabled => "user_disabled",
            EndReason::PasswordGuessing => "password_guessing",
        }
    }
}

/// The outcome of presenting a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Spent {
    /// Valid: the session and user to issue new tokens for.
    Fresh { session_id: Uuid, user_id: Uuid },
    /// Already spent: its session has now been ended.
    Reused,
    /// Unknown, expired, for another device, or of an ended session.
    Invalid,
}

impl Store {
    /// Opens a session for a user on a device and stores its first refresh token.
    pub async fn open_session(
        &self,
        device_id: Uuid,
        user_id: Uuid,
        token_hash: &[u8],
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            "INSERT INTO sessions (id, device_id, user_id, created_at, last_used_at) VALUES ($1, $2, $3, $4, $4)",
            id,
            device_id,
            user_id,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        insert_refresh_token(
            &mut tx, token_hash, id, device_id, user_id, now_ms, expires_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The session an access token names, with its device and user.
    pub async fn session_auth(&self, session_id: Uuid) -> Result<Option<SessionAuth>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("{} WHERE s.id = $1", *SESSION_AUTH));
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            SessionAuth,
            SQL.as_str(),
            session_id,
        )?)
    }

    /// [`Store::session_auth`] and the villages the session's user may touch on `today`
    /// ([`Store::user_villages`]), in one read, for the requests that need both (a push), with
    /// the divisions the user is assigned to that day ([`Store::user_assignments`]; a push
    /// remembers them, to check them again in its transaction: read in the same statement, they
    /// are those the villages came from). `user_id` is the user the access token names: were it
    /// not the session's, the villages would be another user's, and the caller refuses the
    /// token anyway.
    pub async fn session_with_villages(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        today: &str,
    ) -> Result<Option<SessionWithVillages>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH {ASSIGNED_ON_DAY}, {VILLAGES_OF_USER}, session AS ({} WHERE s.id = $3),
                 codes AS (
                     SELECT code AS village, CAST(NULL AS TEXT) AS assigned FROM villages
                     UNION ALL
                     SELECT NULL, division_code FROM assigned
                 )
                 SELECT session.*, codes.village, codes.assigned
                 FROM session LEFT JOIN codes ON TRUE",
                *SESSION_AUTH
            )
        });
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            session: SessionAuth,
            village: Option<String>,
            assigned: Option<String>,
        }
        let rows: Vec<Row> = fetch_as!(
            self.reader(),
            fetch_all,
            Row,
            SQL.as_str(),
            user_id,
            today,
            session_id,
        )?;
        let villages = rows.iter().filter_map(|r| r.village.clone()).collect();
        let assigned = rows.iter().filter_map(|r| r.assigned.clone()).collect();
        Ok(rows.into_iter().next().map(|r| SessionWithVillages {
            auth: r.session,
            villages,
            assigned,
        }))
    }

    /// Spends a refresh token presented by `device_id` and, if it was good, stores `next` as the
    /// session's new refresh token, all in one transaction.
    ///
    /// A token already spent is taken as a copy (the session ends), except when its own device
    /// presents it again while the pair issued for it is still unused: the answer to that
    /// refresh was lost on the way, and the phone, which never saw the new tokens, asks again.
    /// Nobody can have used that pair, so it is dropped and `next` replaces it. Once the phone
    /// has used either token of a pair (`Store::pair_used`), its predecessor is spent for good.
    pub async fn rotate_refresh_token(
        &self,
        hash: &[u8],
        device_id: Uuid,
        next: &[u8],
        now_ms: i64,
        next_expires_ms: i64,
    ) -> Result<Spent> {
        let mut tx = self.begin().await?;
        let spent: Option<(Option<Uuid>, Uuid, Uuid, i64)> = fetch_as!(
            tx.conn(),
            fetch_optional,
            (Option<Uuid>, Uuid, Uuid, i64),
            "UPDATE refresh_tokens SET used_at = $2, replaced_by = $3
             WHERE token_hash = $1 AND used_at IS NULL
             RETURNING session_id, device_id, user_id, expires_at",
            hash.to_vec(),
            now_ms,
            next.to_vec(),
        )?;
        // The session and user a new pair is issued for, or why none is.
        let renewal: std::result::Result<(Uuid, Uuid), Spent> = match spent {
            Some((Some(session_id), device, user_id, expires))
                if device == device_id && expires > now_ms =>
            {
                Ok((session_id, user_id))
            }
            Some(_) => Err(Spent::Invalid),
            None => {
                let earlier: Option<SpentToken> = fetch_as!(
                    tx.conn(),
                    fetch_optional,
                    SpentToken,
                    "SELECT session_id, device_id, user_id, expires_at, replaced_by
                     FROM refresh_tokens WHERE token_hash = $1",
                    hash.to_vec(),
                )?;
                match earlier {
                    Some(SpentToken {
                        session_id: Some(session_id),
                        device_id: device,
                        user_id,
                        expires_at,
                        replaced_by: Some(successor),
                    }) if device == device_id
                        && expires_at > now_ms
                        && successor_unused(&mut tx, session_id, &successor).await? =>
                    {
                        // A retry: the pair it bought never arrived; it gives way to the next.
                        execute!(
                            tx.conn(),
                            "DELETE FROM refresh_tokens WHERE token_hash = $1",
                            successor,
                        )?;
                        execute!(
                            tx.conn(),
                            "UPDATE refresh_tokens SET replaced_by = $2 WHERE token_hash = $1",
                            hash.to_vec(),
                            next.to_vec(),
                        )?;
                        Ok((session_id, user_id))
                    }
                    Some(SpentToken {
                        session_id: Some(session_id),
                        ..
                    }) => {
                        end(&mut tx, session_id, EndReason::RefreshReuse, now_ms).await?;
                        Err(Spent::Reused)
                    }
                    _ => Err(Spent::Invalid),
                }
            }
        };
        let outcome = match renewal {
            Ok((session_id, user_id)) => {
                renew(
                    &mut tx,
                    session_id,
                    device_id,
                    user_id,
                    next,
                    now_ms,
                    next_expires_ms,
                )
                .await?
            }
            Err(refused) => refused,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Notes that the phone used the pair of tokens `pair` (its access token's `pair` claim)
    /// that session `session_id` issued last: from now on, the refresh token spent to get it
    /// is spent for good. One write per refresh; requests after it find nothing to change.
    pub async fn pair_used(&self, session_id: Uuid, pair: Uuid) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE sessions SET unused_pair = NULL WHERE id = $1 AND unused_pair = $2",
            session_id,
            pair,
        )?;
        Ok(())
    }

    /// Sets a user's password and ends every other session of the user: whoever knew the old
    /// password is logged out everywhere but here.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep_session: Uuid,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            user_id,
            password_hash
        )?;
        execute!(
            tx.conn(),
            "UPDATE sessions SET ended_at = $3, end_reason = $4
             WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL",
            user_id,
            keep_session,
            now_ms,
            EndReason::PasswordChanged.as_str(),
        )?;
        execute!(
            tx.conn(),
            "DELETE FROM refresh_tokens WHERE user_id = $1 AND (session_id IS NULL OR session_id <> $2)",
            user_id,
            keep_session,
        )?;
        tx.commit().await
    }

    /// Ends a session (logout): its access and refresh tokens stop working.
    pub async fn end_session(
        &self,
        session_id: Uuid,
        reason: EndReason,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        end(&mut tx, session_id, reason, now_ms).await?;
        tx.commit().await
    }
}

/// A device of `kind` made for one sign-in (`console`) or one link (`collect`), and a session
/// on it: everything that ends a phone's session ends it too. Returns (device, session).
pub(super) async fn open_own_device(
    tx: &mut super::Tx,
    user_id: Uuid,
    kind: &str,
    now_ms: i64,
) -> Result<(Uuid, Uuid)> {
    let (device_id, session_id) = (Uuid::now_v7(), Uuid::now_v7());
    execute!(
        tx.conn(),
        "INSERT INTO devices (id, user_id, created_at, last_seen_at, kind)
         VALUES ($1, $2, $3, $3, $4)",
        device_id,
        user_id,
        now_ms,
        kind,
    )
    .map_err(StoreError::from_db)?;
    execute!(
        tx.conn(),
        "INSERT INTO sessions (id, device_id, user_id, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $4)",
        session_id,
        device_id,
        user_id,
        now_ms,
    )
    .map_err(StoreError::from_db)?;
    Ok((device_id, session_id))
}

/// A refresh token already spent, presented again.
#[derive(sqlx::FromRow)]
struct SpentToken {
    session_id: Option<Uuid>,
    device_id: Uuid,
    user_id: Uuid,
    expires_at: i64,
    /// The refresh token issued when it was spent.
    replaced_by: Option<Vec<u8>>,
}

/// Continues a live session with the new refresh token `next`, whose pair is unused until the
/// phone uses it; [`Spent::Invalid`] if the session has ended.
async fn renew(
    tx: &mut super::Tx,
    session_id: Uuid,
    device_id: Uuid,
    user_id: Uuid,
    next: &[u8],
    now_ms: i64,
    next_expires_ms: i64,
) -> Result<Spent> {
    let alive: Option<Uuid> = fetch_scalar!(
        tx.conn(),
        fetch_optional,
        Uuid,
        "UPDATE sessions SET last_used_at = $2, unused_pair = $3
         WHERE id = $1 AND ended_at IS NULL RETURNING id",
        session_id,
        now_ms,
        crate::auth::token::pair_of(next),
    )?;
    if alive.is_none() {
        return Ok(Spent::Invalid);
    }
    insert_refresh_token(
        tx,
        next,
        session_id,
        device_id,
        user_id,
        now_ms,
        next_expires_ms,
    )
    .await?;
    Ok(Spent::Fresh {
        session_id,
        user_id,
    })
}

/// Whether the pair issued for a spent token (`successor`, its refresh token's hash) is still
/// the live session's last and unused: `unused_pair` moves on when the successor is spent
/// (`renew`) and clears when either of its tokens is used (`Store::pair_used`).
async fn successor_unused(tx: &mut super::Tx, session_id: Uuid, successor: &[u8]) -> Result<bool> {
    let unused: Option<Option<Uuid>> = fetch_scalar!(
        tx.conn(),
        fetch_optional,
        Option<Uuid>,
        "SELECT unused_pair FROM sessions WHERE id = $1 AND ended_at IS NULL",
        session_id,
    )?;
    Ok(unused.flatten() == Some(crate::auth::token::pair_of(successor)))
}

async fn insert_refresh_token(
    tx: &mut super::Tx,
    hash: &[u8],
    session_id: Uuid,
    device_id: Uuid,
    user_id: Uuid,
    now_ms: i64,
    expires_ms: i64,
) -> Result<()> {
    execute!(
        tx.conn(),
        "INSERT INTO refresh_tokens (token_hash, session_id, device_id, user_id, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        hash.to_vec(),
        session_id,
        device_id,
        user_id,
        now_ms,
        expires_ms,
    )
    .map_err(StoreError::from_db)?;
    Ok(())
}

async fn end(tx: &mut super::Tx, session_id: Uuid, reason: EndReason, now_ms: i64) -> Result<()> {
    execute!(
        tx.conn(),
        "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL",
        session_id,
        now_ms,
        reason.as_str(),
    )?;
    execute!(
        tx.conn(),
        "DELETE FROM refresh_tokens WHERE session_id = $1",
        session_id
    )?;
    Ok(())
}

impl super::Tx {
    /// Ends every session of a device that belongs to another user than `keep_user`, and
    /// returns how many were running.
    pub async fn end_sessions_of_others(
        &mut self,
        device_id: Uuid,
        keep_user: Uuid,
        now_ms: i64,
    ) -> Result<u64> {
        let ended = execute!(
            self.conn(),
            "UPDATE sessions SET ended_at = $3, end_reason = $4
             WHERE device_id = $1 AND user_id <> $2 AND ended_at IS NULL",
            device_id,
            keep_user,
            now_ms,
            EndReason::DeviceReassigned.as_str(),
        )?;
        execute!(
            self.conn(),
            "DELETE FROM refresh_tokens WHERE device_id = $1 AND user_id <> $2",
            device_id,
            keep_user
        )?;
        Ok(ended)
    }
}
