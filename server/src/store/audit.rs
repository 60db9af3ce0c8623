//! The audit trail: who read or changed which record's personal data, from which device, when,
//! and which fields. Writes are the mutation log itself (written in the push transaction, now
//! with household and village); `audit_log` holds reads, recorded before the data leaves the
//! server, and reviewers' decisions. [`Store::audit`] reads both as one list.

use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, fetch_as};

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Read,
    /// A reviewer's decision on a conflict.
    Resolve,
    /// An account made, disabled or enabled from the console (entity `user`, the record the
    /// account's id, the scope its division).
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    /// A first password made again; every session of the account ended.
    PasswordReset,
    /// One of an account's devices revoked (entity `device`).
    DeviceRevoked,
    /// A village handed over: the old cadre's assignment ended, the new one's begun (an entry
    /// for each).
    Handover,
    /// An account's role, name or assignments changed by a roster import (`account_created`
    /// for the accounts it made).
    AccountChanged,
    /// One assignment of an account added, or given its end (entity `user`, the division as
    /// scope).
    AssignmentAdded,
    AssignmentEnded,
    /// A survey form version published or retired (entity `form`, the record the version's
    /// derived id, `forms::version_id`; no scope: forms serve every county).
    FormPublished,
    FormRetired,
    /// A village's category designated by an administrator, or the designation removed (its
    /// county's category again): entity `village`, the record [`village_record`] of its code,
    /// the village as scope.
    VillageCategorySet,
    VillageCategoryCleared,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::Resolve => "resolve",
            AuditAction::AccountCreated => "account_created",
            AuditAction::AccountDisabled => "account_disabled",
            AuditAction::AccountEnabled => "account_enabled",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::Handover => "handover",
            AuditAction::DeviceRevoked => "device_revoked",
            AuditAction::AccountChanged => "account_changed",
            AuditAction::AssignmentAdded => "assignment_added",
            AuditAction::AssignmentEnded => "assignment_ended",
            AuditAction::FormPublished => "form_published",
            AuditAction::FormRetired => "form_retired",
            AuditAction::VillageCategorySet => "village_category_set",
            AuditAction::VillageCategoryCleared => "village_category_cleared",
        }
    }
}

/// The audit's record id of a village, which has a code and no id: a UUID (version 8) whose
/// last six bytes are the code's number, so every entry about the village names the same record
/// and the code can be read back from it.
pub fn village_record(code: &str) -> Uuid {
    let number: u64 = code.parse().unwrap_or(0);
    let mut b = [0u8; 16];
    b[10..].copy_from_slice(&number.to_be_bytes()[2..]);
    b[6] = 0x80;
    b[8] = 0x80;
    Uuid::from_bytes(b)
}

#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub action: AuditAction,
    pub entity: &'static str,
    pub record_id: Uuid,
    /// The household the record belongs to (itself for a household).
    pub household_id: Option<Uuid>,
    pub scope: Option<String>,
    /// The names of the fields read or written (never their values).
    pub fields: Vec<String>,
}

/// One audit entry: a read or decision from `audit_log`, or a write from the mutation log.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    /// Milliseconds since the epoch.
    pub id: Uuid,
    pub at: i64,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    /// `read`, `write` or `decide`.
    pub action: String,
    pub entity: String,
    pub record_id: Uuid,
    pub household_id: Option<Uuid>,
    pub scope: Option<String>,
    /// Field names only, never values.
    pub fields: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct RawAuditRow {
    id: Uuid,
    at: i64,
    user_id: Uuid,
    device_id: Option<Uuid>,
    action: String,
    entity: String,
    record_id: Uuid,
    household_id: Option<Uuid>,
    scope: Option<String>,
    /// The names of the fields read or written (both tables keep a list of names).
    fields: Json<serde_json::Value>,
}

/// The field names of an audit entry or a log entry's `fields`: a JSON list of names.
pub(super) fn names_of(fields: &serde_json::Value) -> Vec<String> {
    fields
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

impl From<RawAuditRow> for AuditRow {
    fn from(r: RawAuditRow) -> Self {
        let fields = names_of(&r.fields.0);
        AuditRow {
            id: r.id,
            at: r.at,
            user_id: r.user_id,
            device_id: r.device_id,
            action: r.action,
            entity: r.entity,
            record_id: r.record_id,
            household_id: r.household_id,
            scope: r.scope,
            fields,
        }
    }
}

/// Which audit entries to list; results come in time order after `after`.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub household_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// The `(at, id)` of the last entry of the previous page.
    pub after: Option<(i64, Uuid)>,
    pub limit: i64,
}

const ROWS_PER_INSERT: usize = 2000;

async fn append(
    conn: Engine<&mut sqlx::SqliteConnection, &mut sqlx::PgConnection>,
    entries: &[AuditEntry],
    now_ms: i64,
) -> sqlx::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    match conn {
        Engine::Sqlite(c) => {
            for chunk in entries.chunks(ROWS_PER_INSERT) {
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO audit_log (id, at, user_id, device_id, action, entity, record_id, household_id, scope, fields) ",
                );
                qb.push_values(chunk, |mut row, e| {
                    row.push_bind(Uuid::now_v7())
                        .push_bind(now_ms)
                        .push_bind(e.user_id)
                        .push_bind(e.device_id)
                        .push_bind(e.action.as_str())
                        .push_bind(e.entity)
                        .push_bind(e.record_id)
                        .push_bind(e.household_id)
                        .push_bind(e.scope.clone())
                        .push_bind(Json(e.fields.clone()));
                });
                qb.build().execute(&mut *c).await?;
            }
        }
        Engine::Postgres(c) => {
            sqlx::query(
                "INSERT INTO audit_log (id, at, user_id, device_id, action, entity, record_id, household_id, scope, fields)
                 SELECT u.id, $1, u.user_id, u.device_id, u.action, u.entity, u.record_id, u.household_id, u.scope, u.fields::json
                 FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::uuid[], $8::uuid[],
                             $9::text[], $10::text[])
                      AS u(id, user_id, device_id, action, entity, record_id, household_id, scope, fields)",
            )
            .bind(now_ms)
            .bind(entries.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.user_id).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.device_id).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.entity).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.record_id).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.household_id).collect::<Vec<_>>())
            .bind(entries.iter().map(|e| e.scope.as_deref()).collect::<Vec<_>>())
            .bind(super::write_postgres::texts(entries.iter().map(|e| &e.fields))?)
            .execute(c)
            .await?;
        }
    }
    Ok(())
}

impl Tx {
    pub async fn append_audit(&mut self, entries: &[AuditEntry], now_ms: i64) -> Result<()> {
        append(self.conn(), entries, now_ms)
            .await
            .map_err(StoreError::from_db)
    }
}

impl Store {
    /// Records reads (outside any other transaction).
    pub async fn append_audit(&self, entries: &[AuditEntry], now_ms: i64) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        tx.append_audit(entries, now_ms).await?;
        tx.commit().await
    }

    /// Reads and reviewer decisions from `audit_log`, writes from the mutation log, merged in
    /// time order.
    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRow>> {
        let rows = fetch_as!(
            self.reader(),
            fetch_all,
            RawAuditRow,
            "SELECT id, at, user_id, device_id, action, entity, record_id, household_id, scope, fields
             FROM (
                 SELECT id, at, user_id, device_id, action, entity, record_id, household_id, scope, fields
                 FROM audit_log
                 UNION ALL
                 SELECT mutation_id, received_at, user_id, device_id, 'write', entity, record_id,
                        household_id, scope, fields
                 FROM mutations
             ) a
             WHERE ($1 IS NULL OR household_id = $1)
               AND ($2 IS NULL OR user_id = $2)
               AND ($3 IS NULL OR at >= $3)
               AND ($4 IS NULL OR at < $4)
               AND ($5 IS NULL OR at > $5 OR (at = $5 AND id > $6))
             ORDER BY at, id LIMIT $7",
            f.household_id,
            f.user_id,
            f.from_ms,
            f.to_ms,
            f.after.map(|(at, _)| at),
            f.after.map(|(_, id)| id),
            f.limit,
        )?;
        Ok(rows.into_iter().map(AuditRow::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::village_record;

    /// A village's record id is the same every time and shows its code (in hexadecimal).
    #[test]
    fn a_villages_record_id_carries_its_code() {
        let id = village_record("640104001002");
        assert_eq!(id, village_record("640104001002"));
        assert_ne!(id, village_record("640104001003"));
        assert_eq!(id.get_version_num(), 8);
        let hex = id.simple().to_string();
        assert_eq!(
            u64::from_str_radix(&hex[20..], 16).ok(),
            Some(640_104_001_002)
        );
    }
}
