//! The audit log: who read or changed which record's personal data, from which device, when,
//! and which fields. Written in the same transaction as the change it records; reads are
//! recorded before the data leaves the server.

use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, fetch_as};

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Read,
    Write,
    /// A reviewer's decision on a conflict.
    Resolve,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::Write => "write",
            AuditAction::Resolve => "resolve",
        }
    }
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

#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub at: i64,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub action: String,
    pub entity: String,
    pub record_id: Uuid,
    pub household_id: Option<Uuid>,
    pub scope: Option<String>,
    pub fields: Json<Vec<String>>,
}

/// Which audit rows to list; results come in time order after `after`.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub household_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub after: Option<Uuid>,
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
                 SELECT u.id, $1, u.user_id, u.device_id, u.action, u.entity, u.record_id, u.household_id, u.scope, u.fields
                 FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::uuid[], $8::uuid[],
                             $9::text[], $10::jsonb[])
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
            .bind(entries.iter().map(|e| Json(&e.fields)).collect::<Vec<_>>())
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

    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            AuditRow,
            "SELECT id, at, user_id, device_id, action, entity, record_id, household_id, scope, fields
             FROM audit_log
             WHERE ($1 IS NULL OR household_id = $1)
               AND ($2 IS NULL OR user_id = $2)
               AND ($3 IS NULL OR at >= $3)
               AND ($4 IS NULL OR at < $4)
               AND ($5 IS NULL OR id > $5)
             ORDER BY id LIMIT $6",
            f.household_id,
            f.user_id,
            f.from_ms,
            f.to_ms,
            f.after,
            f.limit,
        )?)
    }
}
