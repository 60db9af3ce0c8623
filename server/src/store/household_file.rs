//! What the household file (农户档案) reads: households found by name, phone, household number or
//! ID-card number within a set of villages, and the history of edits to a household's records.
//!
//! Each search is one indexed lookup (`0020_household_search`, and `id_card_index` for ID-card
//! numbers by keyed hash): a search never reads households it does not return, and never
//! compares ID-card numbers in clear.

use sqlx::types::Json;
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError};

/// What a search looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needle {
    /// The start of a head's or a member's name.
    Name(String),
    /// A phone number of the household or a member, exactly.
    Phone(String),
    /// A household number (户编号), exactly.
    Number(String),
    /// An ID-card number of the head or a member (already checked and normalised).
    IdCard(String),
}

/// A household a search found, and by what.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Found {
    pub household_id: Uuid,
    /// The entity that matched: `household` (its head, phone or number) or `member`.
    pub entity: String,
    /// The record that matched (the household itself, or a member).
    pub record_id: Uuid,
}

/// One accepted or refused change to a record of a household, from the mutation log: who, from
/// which device, when, and which fields (never their values).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Edit {
    pub received_at: i64,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub entity: String,
    pub record_id: Uuid,
    pub op: String,
    pub status: String,
    pub fields: Json<serde_json::Value>,
}

impl Edit {
    /// The names of the fields the change wrote.
    pub fn field_names(&self) -> Vec<String> {
        super::audit::names_of(&self.fields.0)
    }
}

/// An index of `0020_household_search`: its name, and the entity and field it holds.
#[derive(Clone, Copy)]
struct Index(&'static str, &'static str, &'static str);

// SQLite, without statistics, prefers the `(entity, scope)` index (every household of the
// villages) to these; the searches name theirs (`INDEXED BY`). PostgreSQL's planner has its
// statistics and picks them itself.
const HEAD_NAME: Index = Index("records_head_name", "household", "head_name");
const MEMBER_NAME: Index = Index("records_member_name", "member", "name");
const HOUSEHOLD_PHONE: Index = Index("records_household_phone", "household", "phone");
const MEMBER_PHONE: Index = Index("records_member_phone", "member", "phone");
const HOUSEHOLD_NO: Index = Index("records_household_no", "household", "household_no");

/// The smallest text greater than every text that starts with `prefix` (byte-wise, as both
/// engines compare these indexes): a prefix is the range `[prefix, end)`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

impl Store {
    /// Up to `limit` records of live households and members of `villages` that match `needle`,
    /// by village then name.
    pub async fn find_households(
        &self,
        villages: &[String],
        needle: &Needle,
        limit: i64,
    ) -> Result<Vec<Found>> {
        if villages.is_empty() {
            return Ok(Vec::new());
        }
        // A statement is given only the parameters it uses (PostgreSQL refuses others). The
        // same conditions on both engines; a field's value is `json_extract(fields, '$.f')`
        // on SQLite and `fields ->> 'f'` (byte-wise for names) on PostgreSQL, the expressions
        // the indexes were made on, so that the planner uses them.
        let (index, exact, value) = match needle {
            Needle::IdCard(number) => return self.find_by_id_card(villages, number, limit).await,
            Needle::Name(name) => {
                let mut found = self
                    .find_in(villages, HEAD_NAME, false, name, limit)
                    .await?;
                let members = self
                    .find_in(villages, MEMBER_NAME, false, name, limit)
                    .await?;
                found.extend(members);
                found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                return Ok(found);
            }
            Needle::Phone(phone) => {
                let mut found = self
                    .find_in(villages, HOUSEHOLD_PHONE, true, phone, limit)
                    .await?;
                found.extend(
                    self.find_in(villages, MEMBER_PHONE, true, phone, limit)
                        .await?,
                );
                found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                return Ok(found);
            }
            Needle::Number(no) => (HOUSEHOLD_NO, true, no),
        };
        self.find_in(villages, index, exact, value, limit).await
    }

    async fn find_in(
        &self,
        villages: &[String],
        index: Index,
        exact: bool,
        value: &str,
        limit: i64,
    ) -> Result<Vec<Found>> {
        let Index(name, entity, field) = index;
        let household = if entity == "household" {
            "id"
        } else {
            "household_id"
        };
        let end = prefix_end(value);
        let sqlite = matches!(self.reader(), Engine::Sqlite(_));
        // The field's expression as its index was made on it, the table (named index on
        // SQLite), and the village list (a JSON array on SQLite, an array on PostgreSQL).
        let (at, from, of_villages) = match (sqlite, exact) {
            (true, _) => (
                format!("json_extract(fields, '$.{field}')"),
                format!("records INDEXED BY {name}"),
                "IN (SELECT value FROM json_each($1))",
            ),
            (false, true) => (
                format!("(fields ->> '{field}')"),
                "records".to_owned(),
                "= ANY($1)",
            ),
            (false, false) => (
                format!("((fields ->> '{field}') COLLATE \"C\")"),
                "records".to_owned(),
                "= ANY($1)",
            ),
        };
        let test = if exact {
            format!("{at} = $3")
        } else {
            format!("{at} >= $3 AND {at} < $4")
        };
        let sql = format!(
            "SELECT {household} AS household_id, entity, id AS record_id FROM {from}
             WHERE entity = '{entity}' AND scope {of_villages}
               AND {test} AND NOT deleted AND {household} IS NOT NULL
             ORDER BY scope, {at} LIMIT $2"
        );
        let rows = match self.reader() {
            Engine::Sqlite(p) => {
                let list = serde_json::to_string(villages)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(list)
                    .bind(limit)
                    .bind(value);
                if exact { q } else { q.bind(&end) }.fetch_all(p).await?
            }
            Engine::Postgres(p) => {
                let q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(villages)
                    .bind(limit)
                    .bind(value);
                if exact { q } else { q.bind(&end) }.fetch_all(p).await?
            }
        };
        Ok(rows)
    }

    async fn find_by_id_card(
        &self,
        villages: &[String],
        number: &str,
        limit: i64,
    ) -> Result<Vec<Found>> {
        let blind = self.key().blind(number);
        // From the index entry to its record (CROSS JOIN keeps SQLite from walking the
        // records of the villages instead).
        const SELECT: &str = "SELECT r.household_id, r.entity, r.id AS record_id
             FROM id_card_index i {JOIN} records r ON r.id = i.record_id
             WHERE i.blind = $1 AND r.entity IN ('household', 'member') AND NOT r.deleted
               AND r.household_id IS NOT NULL AND r.scope ";
        let rows = match self.reader() {
            Engine::Sqlite(p) => {
                let list = serde_json::to_string(villages)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let select = SELECT.replace("{JOIN}", "CROSS JOIN");
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{select}IN (SELECT value FROM json_each($2)) ORDER BY r.scope LIMIT $3"
                )))
                .bind(blind)
                .bind(list)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            Engine::Postgres(p) => {
                let select = SELECT.replace("{JOIN}", "JOIN");
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{select}= ANY($2) ORDER BY r.scope LIMIT $3"
                )))
                .bind(blind)
                .bind(villages)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows)
    }

    /// The newest `limit` changes to the records of a household, newest first. Found through
    /// the household's records: the log has no index by household (see migration 0022).
    pub async fn household_edits(&self, household_id: Uuid, limit: i64) -> Result<Vec<Edit>> {
        match self.reader() {
            Engine::Sqlite(p) => Ok(sqlx::query_as(
                "SELECT received_at, user_id, device_id, entity, record_id, op, status, fields
                 FROM mutations
                 WHERE record_id IN (SELECT id FROM records WHERE household_id = $1)
                 ORDER BY received_at DESC, mutation_id DESC LIMIT $2",
            )
            .bind(household_id)
            .bind(limit)
            .fetch_all(p)
            .await?),
            Engine::Postgres(p) => Ok(edits_postgres(p, household_id, limit).await?),
        }
    }
}

/// [`Store::household_edits`] on PostgreSQL: the household's records first, then their changes
/// by the log's `mutations_record` index. As one statement (a join, or `= ANY(ARRAY(…))`) the plan
/// depended on the statistics: after a roster import of 100,000 households PostgreSQL hashed or
/// scanned the whole log, 18-95 ms a household page instead of a few (`household_file`
/// benchmark).
async fn edits_postgres(
    p: &sqlx::PgPool,
    household_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<Edit>> {
    let records: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM records WHERE household_id = $1")
        .bind(household_id)
        .fetch_all(p)
        .await?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "SELECT received_at, user_id, device_id, entity, record_id, op, status, fields
         FROM mutations WHERE record_id = ANY($1)
         ORDER BY received_at DESC, mutation_id DESC LIMIT $2",
    )
    .bind(records)
    .bind(limit)
    .fetch_all(p)
    .await
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_range_holds_every_name_that_starts_with_it_and_no_other() {
        let end = prefix_end("马");
        for name in ["马", "马德福", "马𠀋", "马zzz"] {
            assert!(name >= "马" && name < end.as_str(), "{name}");
        }
        for name in ["麻", "玛", "Ma", ""] {
            assert!(!(name >= "马" && name < end.as_str()), "{name}");
        }
    }
}
