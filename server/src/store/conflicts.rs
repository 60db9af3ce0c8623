//! Conflict records: values that lost a same-field race, until a reviewer resolves them.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, execute};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ConflictRow {
    pub id: Uuid,
    pub record_id: Uuid,
    pub entity: String,
    pub scope: String,
    pub field: String,
    pub kind: String,
    pub yours: Json<Value>,
    pub theirs: Json<Value>,
    pub kept: Json<Value>,
    pub mutation_id: Uuid,
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<Uuid>,
    pub resolution: Option<Json<Value>>,
}

/// Opens the encrypted values of a conflict of an encrypted field.
fn open_row(key: &crate::privacy::DataKey, mut r: ConflictRow) -> Result<ConflictRow> {
    use super::sealing::open_value;
    r.yours = Json(open_value(key, &r.entity, &r.field, r.yours.0)?);
    r.theirs = Json(open_value(key, &r.entity, &r.field, r.theirs.0)?);
    r.kept = Json(open_value(key, &r.entity, &r.field, r.kept.0)?);
    Ok(r)
}

const COLUMNS: &str = "id, record_id, entity, scope, field, kind, yours, theirs, kept, mutation_id, \
                       device_id, user_id, created_at, resolved_at, resolved_by, resolution";

/// Which conflicts a reviewer asks for. Results come in id (= time) order after `after`.
pub struct ConflictFilter<'a> {
    pub villages: &'a [String],
    pub open: Option<bool>,
    pub record_id: Option<Uuid>,
    /// Only the conflicts of this household's records (itself, its members, its tasks …).
    pub household_id: Option<Uuid>,
    pub after: Option<Uuid>,
    pub limit: i64,
}

impl Store {
    pub async fn conflicts(&self, f: &ConflictFilter<'_>) -> Result<Vec<ConflictRow>> {
        if f.villages.is_empty() {
            return Ok(Vec::new());
        }
        // The village list is a JSON array on SQLite and an array parameter on PostgreSQL; the
        // other conditions are the same text on both.
        let rest = "AND ($2 IS NULL OR (resolved_at IS NULL) = $2)
                    AND ($3 IS NULL OR record_id = $3)
                    AND ($4 IS NULL OR record_id IN (SELECT id FROM records WHERE household_id = $4))
                    AND ($5 IS NULL OR id > $5)
                    ORDER BY id LIMIT $6";
        let rows = match self.reader() {
            Engine::Sqlite(p) => {
                let list = serde_json::to_string(f.villages)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let sql = format!(
                    "SELECT {COLUMNS} FROM conflicts WHERE scope IN (SELECT value FROM json_each($1)) {rest}"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(list)
                    .bind(f.open)
                    .bind(f.record_id)
                    .bind(f.household_id)
                    .bind(f.after)
                    .bind(f.limit)
                    .fetch_all(p)
                    .await?
            }
            Engine::Postgres(p) => {
                let sql = format!("SELECT {COLUMNS} FROM conflicts WHERE scope = ANY($1) {rest}");
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(f.villages)
                    .bind(f.open)
                    .bind(f.record_id)
                    .bind(f.household_id)
                    .bind(f.after)
                    .bind(f.limit)
                    .fetch_all(p)
                    .await?
            }
        };
        rows.into_iter().map(|r| open_row(self.key(), r)).collect()
    }
}

impl Tx {
    /// The conflicts recorded for some mutations (to repeat a result on a re-send).
    pub async fn conflicts_of_mutations(
        &mut self,
        mutation_ids: &[Uuid],
    ) -> Result<Vec<ConflictRow>> {
        let mut out = Vec::new();
        for id in mutation_ids {
            let sql = format!("SELECT {COLUMNS} FROM conflicts WHERE mutation_id = $1 ORDER BY id");
            let rows: Vec<ConflictRow> = match self.conn() {
                Engine::Sqlite(c) => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_all(c)
                        .await?
                }
                Engine::Postgres(c) => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_all(c)
                        .await?
                }
            };
            for r in rows {
                out.push(open_row(self.key(), r)?);
            }
        }
        Ok(out)
    }

    /// Loads a conflict and, on PostgreSQL, locks it for the resolving transaction.
    pub async fn lock_conflict(&mut self, id: Uuid) -> Result<Option<ConflictRow>> {
        let lock = match self.conn() {
            Engine::Sqlite(_) => "",
            Engine::Postgres(_) => "FOR UPDATE",
        };
        let sql = format!("SELECT {COLUMNS} FROM conflicts WHERE id = $1 {lock}");
        let row: Option<ConflictRow> = match self.conn() {
            Engine::Sqlite(c) => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(c)
                    .await?
            }
            Engine::Postgres(c) => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(c)
                    .await?
            }
        };
        row.map(|r| open_row(self.key(), r)).transpose()
    }

    pub async fn mark_resolved(
        &mut self,
        id: Uuid,
        by: Uuid,
        now_ms: i64,
        resolution: &Value,
    ) -> Result<()> {
        execute!(
            self.conn(),
            "UPDATE conflicts SET resolved_at = $2, resolved_by = $3, resolution = $4 WHERE id = $1",
            id,
            now_ms,
            by,
            Json(resolution),
        )?;
        Ok(())
    }
}
