//! Reading households and their check records in pages, for the export to county officials.
//!
//! An export may cover every household of a county (tens of thousands), so nothing here reads a
//! whole result set: households come in pages, keyset by id (never `OFFSET`, which rereads what
//! it skips), and the check records are read for one page of households at a time.
//!
//! How a page is found matters more than it looks: `records` has no index on `(scope, id)`.
//! Within one village, the `(scope, seq)` index finds the village's records, which must then be
//! sorted by id, so each page costs the size of the village; that is the cheapest way for the
//! villages of real life (a few hundred households: one page), but it grows quadratically in a
//! village of 100,000. After [`SCOPE_PAGES`] full pages of one village the read switches to
//! walking the `(household_id, entity)` index in id order (a household's `household_id` is its
//! own id), which costs every household of the database after the cursor, but only once. An index
//! on `records (scope, entity, id)` would make both one index range.

use fieldsync_protocol::registry::{CHECKS, HOUSEHOLD, MEMBER};
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, fetch_as};

/// Full pages read through the village's own index before the read walks households in id
/// order instead (see the module doc).
const SCOPE_PAGES: usize = 4;

/// A household record, decrypted.
#[derive(Clone, Debug)]
pub struct ExportHousehold {
    pub id: Uuid,
    pub scope: String,
    pub fields: Map<String, Value>,
}

/// A check record of a household, decrypted.
#[derive(Clone, Debug)]
pub struct ExportCheck {
    pub id: Uuid,
    pub household_id: Uuid,
    pub entity: String,
    pub fields: Map<String, Value>,
}

/// A village's name and the name of the township it lies in.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct VillageLabel {
    pub code: String,
    pub name: String,
    pub township: Option<String>,
}

/// Where a paged read of households stands: the village being read, the last household
/// returned from it, and how many full pages it has given.
#[derive(Clone, Debug, Default)]
pub struct HouseholdCursor {
    village: usize,
    after: Uuid,
    pages: usize,
}

#[derive(sqlx::FromRow)]
struct HouseholdRow {
    id: Uuid,
    scope: String,
    fields: Json<Map<String, Value>>,
}

#[derive(sqlx::FromRow)]
struct CheckRow {
    id: Uuid,
    household_id: Uuid,
    entity: String,
    fields: Json<Map<String, Value>>,
}

fn village_list(villages: &[String]) -> Result<String> {
    serde_json::to_string(villages).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// How many households (not deleted) the villages hold.
    pub async fn count_households(&self, villages: &[String]) -> Result<u64> {
        if villages.is_empty() {
            return Ok(0);
        }
        let n: i64 = match self.reader() {
            Engine::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM records WHERE entity = $1 AND NOT deleted
                     AND scope IN (SELECT value FROM json_each($2))",
                )
                .bind(HOUSEHOLD.name)
                .bind(village_list(villages)?)
                .fetch_one(p)
                .await?
            }
            Engine::Postgres(p) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM records WHERE entity = $1 AND NOT deleted AND scope = ANY($2)",
                )
                .bind(HOUSEHOLD.name)
                .bind(villages)
                .fetch_one(p)
                .await?
            }
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The next households (not deleted) of `villages`, village by village in the given order and
    /// by id within a village; at most `limit`, fewer only at the end. Advances `cursor`.
    pub async fn households_page(
        &self,
        villages: &[String],
        cursor: &mut HouseholdCursor,
        limit: usize,
    ) -> Result<Vec<ExportHousehold>> {
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(village) = villages.get(cursor.village) else {
                break;
            };
            let wanted = limit - out.len();
            let rows = self
                .village_households(village, cursor.after, wanted, cursor.pages >= SCOPE_PAGES)
                .await?;
            match rows.last() {
                Some(last) if rows.len() == wanted => {
                    cursor.after = last.id;
                    cursor.pages += 1;
                }
                _ => {
                    *cursor = HouseholdCursor {
                        village: cursor.village + 1,
                        ..HouseholdCursor::default()
                    };
                }
            }
            for r in rows {
                let mut fields = r.fields.0;
                super::sealing::open_fields(self.key(), HOUSEHOLD.name, &mut fields)?;
                out.push(ExportHousehold {
                    id: r.id,
                    scope: r.scope,
                    fields,
                });
            }
        }
        Ok(out)
    }

    /// One village's households after `after`, by id: through the village's index, or, when
    /// `walk`, along the household index (see the module doc).
    async fn village_households(
        &self,
        village: &str,
        after: Uuid,
        limit: usize,
        walk: bool,
    ) -> Result<Vec<HouseholdRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = match (walk, self.kind()) {
            (false, _) => {
                "SELECT id, scope, fields FROM records
                 WHERE scope = $1 AND entity = $2 AND NOT deleted AND id > $3
                 ORDER BY id LIMIT $4"
            }
            // Without statistics SQLite would take the village's index and sort again.
            (true, super::Kind::Sqlite) => {
                "SELECT id, scope, fields FROM records INDEXED BY records_household
                 WHERE household_id > $3 AND entity = $2 AND scope = $1 AND NOT deleted
                 ORDER BY household_id LIMIT $4"
            }
            (true, super::Kind::Postgres) => {
                "SELECT id, scope, fields FROM records
                 WHERE household_id > $3 AND entity = $2 AND scope = $1 AND NOT deleted
                 ORDER BY household_id LIMIT $4"
            }
        };
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            HouseholdRow,
            sql,
            village,
            HOUSEHOLD.name,
            after,
            limit,
        )?)
    }

    /// The check records (the four checks, not deleted) of the given households, in no
    /// particular order, decrypted.
    pub async fn check_records(&self, households: &[Uuid]) -> Result<Vec<ExportCheck>> {
        let entities: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
        self.records_of_households(households, &entities).await
    }

    /// The people (members, not deleted) of the given households, in no particular order,
    /// decrypted.
    pub async fn member_records(&self, households: &[Uuid]) -> Result<Vec<ExportCheck>> {
        self.records_of_households(households, &[MEMBER.name]).await
    }

    async fn records_of_households(
        &self,
        households: &[Uuid],
        entities: &[&str],
    ) -> Result<Vec<ExportCheck>> {
        if households.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<CheckRow> = match self.reader() {
            Engine::Sqlite(p) => {
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "SELECT id, household_id, entity, fields FROM records WHERE NOT deleted AND entity IN (",
                );
                let mut list = qb.separated(", ");
                for e in entities {
                    list.push_bind(*e);
                }
                qb.push(") AND household_id IN (");
                let mut list = qb.separated(", ");
                for id in households {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build_query_as().fetch_all(p).await?
            }
            Engine::Postgres(p) => {
                sqlx::query_as(
                    "SELECT id, household_id, entity, fields FROM records
                     WHERE household_id = ANY($1) AND entity = ANY($2) AND NOT deleted",
                )
                .bind(households)
                .bind(entities)
                .fetch_all(p)
                .await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut fields = r.fields.0;
            super::sealing::open_fields(self.key(), &r.entity, &mut fields)?;
            out.push(ExportCheck {
                id: r.id,
                household_id: r.household_id,
                entity: r.entity,
                fields,
            });
        }
        Ok(out)
    }

    /// Names of the villages, with their townships.
    pub async fn village_labels(&self, villages: &[String]) -> Result<Vec<VillageLabel>> {
        if villages.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match self.reader() {
            Engine::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT v.code, v.name, t.name AS township FROM divisions v
                     LEFT JOIN divisions t ON t.code = v.parent_code
                     WHERE v.code IN (SELECT value FROM json_each($1))",
                )
                .bind(village_list(villages)?)
                .fetch_all(p)
                .await?
            }
            Engine::Postgres(p) => {
                sqlx::query_as(
                    "SELECT v.code, v.name, t.name AS township FROM divisions v
                     LEFT JOIN divisions t ON t.code = v.parent_code
                     WHERE v.code = ANY($1)",
                )
                .bind(villages)
                .fetch_all(p)
                .await?
            }
        })
    }
}
