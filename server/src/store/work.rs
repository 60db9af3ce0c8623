//! What follow-up work reads: the cases and tasks of villages, the people a task can go to,
//! a county's task rules, and the GPS verdict of evidence.

use fieldsync_protocol::gps::GpsVerdict;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, execute, fetch_as, fetch_scalar};

/// A person who may take a task: active, assigned on the day to the village or one of the
/// divisions above it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Candidate {
    pub user_id: Uuid,
    pub role: String,
    pub division_code: String,
}

/// A live case or task as the lists read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WorkRecord {
    pub id: Uuid,
    pub scope: String,
    pub version: i64,
    pub fields: Json<Map<String, Value>>,
    pub created_at: i64,
}

/// The division codes above a village, nearest first (township, county, city, province), and
/// the village itself first.
pub fn village_and_above(village: &str) -> Vec<String> {
    if village.len() != 12 {
        return vec![village.to_owned()];
    }
    vec![
        village.to_owned(),
        village[..9].to_owned(),
        village[..6].to_owned(),
        format!("{}00", &village[..4]),
        format!("{}0000", &village[..2]),
    ]
}

impl Tx {
    /// The live cases and tasks of villages: what the push's follow-up work may change.
    pub async fn work_ids(&mut self, villages: &[String]) -> Result<Vec<Uuid>> {
        let mut ids = Vec::new();
        for v in villages {
            let found: Vec<Uuid> = fetch_scalar!(
                self.conn(),
                fetch_all,
                Uuid,
                "SELECT id FROM records
                 WHERE entity IN ('case', 'task') AND scope = $1 AND NOT deleted",
                v,
            )?;
            ids.extend(found);
        }
        Ok(ids)
    }

    /// The live cases and tasks of households (by the `(household_id, entity)` index).
    /// One query for the whole batch: a push of 50 checks names up to 50 households.
    pub async fn work_ids_of_households(&mut self, households: &[Uuid]) -> Result<Vec<Uuid>> {
        if households.is_empty() {
            return Ok(Vec::new());
        }
        match self.conn() {
            Engine::Sqlite(c) => {
                super::sync::sqlite_in_ids(
                    "SELECT id FROM records WHERE household_id",
                    households,
                    "AND entity IN ('case', 'task') AND NOT deleted",
                )
                .build_query_scalar()
                .fetch_all(c)
                .await
            }
            Engine::Postgres(c) => {
                sqlx::query_scalar(
                    "SELECT id FROM records
                     WHERE household_id = ANY($1) AND entity IN ('case', 'task') AND NOT deleted",
                )
                .bind(households)
                .fetch_all(c)
                .await
            }
        }
        .map_err(StoreError::from_db)
    }

    /// Whether the user was assigned on `day` (`YYYY-MM-DD`) to a division holding `village`.
    pub async fn was_assigned(&mut self, user_id: Uuid, village: &str, day: &str) -> Result<bool> {
        let codes: Vec<String> = fetch_scalar!(
            self.conn(),
            fetch_all,
            String,
            "SELECT division_code FROM assignments
             WHERE user_id = $1 AND starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $2)",
            user_id,
            day,
        )?;
        Ok(codes.iter().any(|c| {
            let (lo, hi) = super::village_range(c);
            lo.as_str() <= village && village <= hi.as_str()
        }))
    }

    /// The stored verdict on a record's fix.
    pub async fn gps_verdict(&mut self, id: Uuid) -> Result<Option<GpsVerdict>> {
        let v: Option<Option<Json<GpsVerdict>>> = fetch_scalar!(
            self.conn(),
            fetch_optional,
            Option<Json<GpsVerdict>>,
            "SELECT gps_verdict FROM records WHERE id = $1",
            id,
        )?;
        Ok(v.flatten().map(|j| j.0))
    }

    /// Every live record of a household (its checks, visits …), as (entity, id, fields).
    pub async fn household_fields(
        &mut self,
        household_id: Uuid,
    ) -> Result<Vec<(String, Uuid, Map<String, Value>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            entity: String,
            id: Uuid,
            fields: Json<Map<String, Value>>,
        }
        let rows: Vec<Row> = fetch_as!(
            self.conn(),
            fetch_all,
            Row,
            "SELECT entity, id, fields FROM records
             WHERE household_id = $1 AND NOT deleted ORDER BY seq",
            household_id,
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for mut r in rows {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
            out.push((r.entity, r.id, r.fields.0));
        }
        Ok(out)
    }

    /// The household of the village registered with this ID-card number (as its head or one of
    /// its members), found by keyed hash.
    pub async fn household_of_id_card(
        &mut self,
        id_card: &str,
        village: &str,
    ) -> Result<Option<Uuid>> {
        let blind = self.key().blind(id_card);
        Ok(fetch_scalar!(
            self.conn(),
            fetch_optional,
            Uuid,
            "SELECT r.household_id FROM id_card_index i JOIN records r ON r.id = i.record_id
             WHERE i.blind = $1 AND r.scope = $2 AND NOT r.deleted
               AND r.entity IN ('household', 'member') AND r.household_id IS NOT NULL
             ORDER BY r.created_at LIMIT 1",
            blind,
            village,
        )?)
    }

    /// Who may take a task in a village on `today`, in order of assignment then name.
    pub async fn candidates(&mut self, village: &str, today: &str) -> Result<Vec<Candidate>> {
        let codes = village_and_above(village);
        let code = |i: usize| codes.get(i).unwrap_or(&codes[0]).clone();
        // Nearest division first: a code sorts after the codes of the divisions above it
        // (640104001002 > 640104001 > 640104 > 640100 > 640000).
        Ok(fetch_as!(
            self.conn(),
            fetch_all,
            Candidate,
            "SELECT u.id AS user_id, u.role, a.division_code
             FROM assignments a JOIN users u ON u.id = a.user_id
             WHERE a.division_code IN ($1, $2, $3, $4, $5) AND a.starts_on <= $6
               AND (a.ends_on IS NULL OR a.ends_on >= $6) AND u.disabled_at IS NULL
             ORDER BY a.division_code DESC, a.starts_on, u.username",
            code(0),
            code(1),
            code(2),
            code(3),
            code(4),
            today,
        )?)
    }

    /// A county's own task rules (JSON), if it has set any.
    pub async fn task_rules(&mut self, county: &str) -> Result<Option<String>> {
        Ok(fetch_scalar!(
            self.conn(),
            fetch_optional,
            String,
            "SELECT rules FROM task_rules WHERE county = $1",
            county,
        )?)
    }
}

impl Store {
    /// Replaces a county's task rules (already checked by the caller).
    pub async fn set_task_rules(
        &self,
        county: &str,
        rules: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO task_rules (county, rules, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (county) DO UPDATE
             SET rules = excluded.rules, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
            county,
            rules,
            now_ms,
            by,
        )?;
        Ok(())
    }

    /// Drops a county's own rules: the defaults apply again. Returns whether it had any.
    pub async fn clear_task_rules(&self, county: &str) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "DELETE FROM task_rules WHERE county = $1",
            county,
        )?;
        Ok(n > 0)
    }

    /// A county's own rules, as stored.
    pub async fn task_rules_of(&self, county: &str) -> Result<Option<String>> {
        Ok(fetch_scalar!(
            self.reader(),
            fetch_optional,
            String,
            "SELECT rules FROM task_rules WHERE county = $1",
            county,
        )?)
    }

    /// Every live record of `entity` (`case`, `task`, `self_report`) in the given villages
    /// (all villages: `None`), by the `(entity, scope)` index, oldest first.
    pub async fn work_records(
        &self,
        entity: &str,
        villages: Option<&std::collections::BTreeSet<String>>,
    ) -> Result<Vec<WorkRecord>> {
        let mut rows: Vec<WorkRecord> = match villages {
            None => fetch_as!(
                self.reader(),
                fetch_all,
                WorkRecord,
                "SELECT id, scope, version, fields, created_at FROM records
                 WHERE entity = $1 AND NOT deleted ORDER BY created_at, id",
                entity,
            )?,
            Some(villages) => {
                let villages: Vec<&String> = villages.iter().collect();
                match self.reader() {
                    Engine::Sqlite(p) => {
                        let list = serde_json::to_string(&villages)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        sqlx::query_as(
                            "SELECT id, scope, version, fields, created_at FROM records
                             WHERE entity = $1 AND scope IN (SELECT value FROM json_each($2))
                               AND NOT deleted ORDER BY created_at, id",
                        )
                        .bind(entity)
                        .bind(list)
                        .fetch_all(p)
                        .await?
                    }
                    Engine::Postgres(p) => {
                        sqlx::query_as(
                            "SELECT id, scope, version, fields, created_at FROM records
                             WHERE entity = $1 AND scope = ANY($2) AND NOT deleted
                             ORDER BY created_at, id",
                        )
                        .bind(entity)
                        .bind(villages)
                        .fetch_all(p)
                        .await?
                    }
                }
            }
        };
        for r in &mut rows {
            super::sealing::open_fields(self.key(), entity, &mut r.fields.0)?;
        }
        Ok(rows)
    }

    /// The self-reports about the person with this ID-card number, newest first: those that
    /// give the number, and those about a household the number belongs to (as its head or a
    /// member), found by keyed hash, never by comparing numbers in clear. At most `limit`.
    pub async fn self_reports_about(&self, id_card: &str, limit: i64) -> Result<Vec<WorkRecord>> {
        let blind = self.key().blind(id_card);
        let mut rows = fetch_as!(
            self.reader(),
            fetch_all,
            WorkRecord,
            "SELECT id, scope, version, fields, created_at FROM records
             WHERE entity = 'self_report' AND NOT deleted
               AND (id IN (SELECT record_id FROM id_card_index WHERE blind = $1)
                    OR household_id IN (
                        SELECT h.household_id FROM id_card_index i
                        JOIN records h ON h.id = i.record_id
                        WHERE i.blind = $2 AND h.entity IN ('household', 'member')
                          AND NOT h.deleted AND h.household_id IS NOT NULL))
             ORDER BY created_at DESC, id DESC LIMIT $3",
            &blind,
            &blind,
            limit,
        )?;
        for r in &mut rows {
            super::sealing::open_fields(self.key(), "self_report", &mut r.fields.0)?;
        }
        Ok(rows)
    }

    /// The records of `entity` a user created since `since_ms`, newest first, their personal
    /// fields opened.
    pub async fn work_records_by(
        &self,
        user_id: Uuid,
        entity: &str,
        since_ms: i64,
    ) -> Result<Vec<WorkRecord>> {
        let mut rows = fetch_as!(
            self.reader(),
            fetch_all,
            WorkRecord,
            "SELECT id, scope, version, fields, created_at FROM records
             WHERE created_by = $1 AND entity = $2 AND created_at >= $3 AND NOT deleted
             ORDER BY created_at DESC, id DESC",
            user_id,
            entity,
            since_ms,
        )?;
        for r in &mut rows {
            super::sealing::open_fields(self.key(), entity, &mut r.fields.0)?;
        }
        Ok(rows)
    }

    /// The live household each of `records` belongs to (a household's is itself), with the
    /// household's personal fields opened: `(record, household)`.
    pub async fn households_of(&self, records: &[Uuid]) -> Result<Vec<(Uuid, WorkRecord)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            record_id: Uuid,
            #[sqlx(flatten)]
            household: WorkRecord,
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // SQLite without statistics would walk every household (by the entity index) and
        // look for the records among their members; CROSS JOIN makes it start from the records
        // asked for, as PostgreSQL's planner does by itself.
        const SELECT: &str = "SELECT r.id AS record_id, h.id, h.scope, h.version, h.fields,
                h.created_at
             FROM records r {JOIN} records h ON h.id = r.household_id
             WHERE h.entity = 'household' AND NOT h.deleted AND r.id ";
        let rows: Vec<Row> = match self.reader() {
            Engine::Sqlite(p) => {
                let list = serde_json::to_string(records)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                // Ids are stored as 16-byte blobs; the JSON list holds their text.
                let select = SELECT.replace("{JOIN}", "CROSS JOIN");
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{select}IN (SELECT unhex(replace(value, '-', '')) FROM json_each($1))"
                )))
                .bind(list)
                .fetch_all(p)
                .await?
            }
            Engine::Postgres(p) => {
                let select = SELECT.replace("{JOIN}", "JOIN");
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{select}= ANY($1)")))
                    .bind(records)
                    .fetch_all(p)
                    .await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for mut r in rows {
            super::sealing::open_fields(self.key(), "household", &mut r.household.fields.0)?;
            out.push((r.record_id, r.household));
        }
        Ok(out)
    }
}
