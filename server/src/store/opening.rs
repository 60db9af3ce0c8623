//! What a push reads before it plans, asked for at once: its devices touched and locked, the
//! log entries of mutations already received, the records the mutations touch, the form
//! versions their surveys name, and the sessions of pushes whose caller was known from before
//! (`sync::actor::SessionCheck`), with their users' assignments.
//!
//! Every statement sent on its own is a round trip: on SQLite a crossing to sqlx's SQLite thread
//! and back, two thread wake-ups that cost a lone push more than the statement itself; on
//! PostgreSQL a message each way and a wake-up of each side. So the reads go as few calls as
//! the locks allow, their rows saying which read they answer (`part`): on SQLite, one
//! multi-statement call; on PostgreSQL, which takes one statement a message, two statements of
//! `UNION`ed reads, in the order that keeps its locks deadlock-free and its snapshots right: the
//! device rows (with the forms and sessions, which lock nothing), then the log and the records,
//! locked in id order.
//!
//! A form version's definition never changes once published, so it is read once per process
//! (`observations::FormCache`); later pushes naming the version read only its retirement.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use fieldsync_protocol::forms::FormDef;
use sqlx::types::Json;
use sqlx::{Decode, FromRow, QueryBuilder, Row, Sqlite, Type};
use uuid::Uuid;

use super::batch::to_i64;
use super::columns::{self, Column};
use super::observations::{FormCache, SurveyForm};
use super::sessions::{
    CHECKED_SESSION_NULLS, CheckedSession, SessionAuth, checked_sessions, checked_sessions_sql,
};
use super::sync::{RECORD_COLUMNS, push_in_ids, sqlite_in_ids};
use super::{Engine, LoggedMutation, Result, StoreError, StoredRecord, Touch, Tx};

/// What a push asks for before it plans.
pub struct PushReads<'a> {
    /// Each pushing device once, with the user pushing from it.
    pub touches: &'a [Touch<'a>],
    /// Each mutation's id, with the records it touches (its own and those it refers to).
    pub mutations: Vec<(Uuid, Vec<Uuid>)>,
    /// The form versions (key, version) its new surveys name.
    pub forms: Vec<(String, i64)>,
    /// The sessions to check again, in the transaction (pushes whose caller was known from
    /// before), and the day whose assignments they are checked with.
    pub sessions: Vec<Uuid>,
    pub day: String,
}

/// What a push read before it plans.
pub struct Opening {
    /// Every known device's user and revocation time (`None`: live); only the live devices of
    /// the users pushing were touched and are locked until commit.
    pub devices: HashMap<Uuid, (Uuid, Option<i64>)>,
    /// The log entries of the mutations already received.
    pub logged: Vec<LoggedMutation>,
    /// The records the mutations touch, locked on PostgreSQL; those of mutations already
    /// received come too, and are never written.
    pub records: Vec<StoredRecord>,
    /// Each form version asked for (`None`: never published).
    pub forms: Vec<((String, i64), Option<SurveyForm>)>,
    /// The sessions asked for that exist, with their users' assignments on the day asked for.
    pub sessions: HashMap<Uuid, CheckedSession>,
}

impl Tx {
    /// Records that each device is syncing, with the health its phone reported (what it did not
    /// report is kept), and locks its row, so that two pushes of one device (a retry overtaking
    /// a slow original) run one after the other; then reads what the push plans against (see
    /// [`Opening`]). Only a live device of the user pushing is touched; the answer holds every
    /// known device's user and revocation, so the caller can tell a revoked or handed-over
    /// device from an unknown one.
    pub async fn open_push(&mut self, reads: &PushReads<'_>) -> Result<Opening> {
        let begin = match &mut self.engine {
            Engine::Sqlite(t) => t.begin_prefix(),
            Engine::Postgres(_) => "",
        };
        let known: Vec<Option<Arc<FormDef>>> =
            reads.forms.iter().map(|k| self.forms.get(k)).collect();
        let mut opening = match &mut self.engine {
            Engine::Sqlite(t) => {
                let rows = sqlite_reads(begin, reads, &known)
                    .build()
                    .fetch_all(t.conn())
                    .await
                    .map_err(StoreError::from_db)?;
                opening_of(reads, rows, &known, &self.forms)?
            }
            Engine::Postgres(t) => {
                let waited = t.took_waiting();
                let c = t.conn();
                let mut rows = postgres_touch(reads, &known)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(|e| match waited && super::fault::is_cut(&e) {
                        // Nothing ran: the group begins again on a new connection.
                        true => {
                            tracing::info!(error = %e, "the push connection was cut while it waited: opening another");
                            StoreError::Retry
                        }
                        false => StoreError::from_db(e),
                    })?;
                if !reads.mutations.is_empty() {
                    rows.extend(
                        postgres_log_and_records(reads)
                            .fetch_all(&mut *c)
                            .await
                            .map_err(StoreError::from_db)?,
                    );
                }
                opening_of(reads, rows, &known, &self.forms)?
            }
        };
        for r in &mut opening.records {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
        }
        // The rare rest: revoked, handed to someone else, or never registered.
        let rest: Vec<Uuid> = reads
            .touches
            .iter()
            .map(|t| t.device_id)
            .filter(|d| !opening.devices.contains_key(d))
            .collect();
        if !rest.is_empty() {
            let head = "SELECT id, user_id, revoked_at FROM devices WHERE id";
            let rows: Vec<(Uuid, Uuid, Option<i64>)> =
                match self.conn() {
                    Engine::Sqlite(c) => {
                        sqlite_in_ids(head, &rest, "")
                            .build_query_as()
                            .fetch_all(c)
                            .await
                    }
                    Engine::Postgres(c) => sqlx::query_as(
                        "SELECT id, user_id, revoked_at FROM devices WHERE id = ANY($1) FOR UPDATE",
                    )
                    .bind(&rest)
                    .fetch_all(c)
                    .await,
                }
                .map_err(StoreError::from_db)?;
            opening
                .devices
                .extend(rows.into_iter().map(|(d, u, r)| (d, (u, r))));
        }
        Ok(opening)
    }
}

/// The form columns of [`POSTGRES_TOUCH`]: the definition only where the push did not know it.
const FORM_COLUMNS: [Column; 4] = [
    ("f.key", "key", "text"),
    ("f.version::int8", "version", "int8"),
    (
        "CASE WHEN w.known THEN NULL ELSE f.definition END",
        "definition",
        "jsonb",
    ),
    ("f.retired_at", "retired_at", "int8"),
];

/// PostgreSQL, first: the devices touched and locked, with the forms and the sessions asked for
/// (which lock nothing), in one statement whose rows say which read they answer, as on SQLite.
/// The log is read in a statement after it, with a snapshot taken once the device rows are
/// locked: a retry that waited here for its original finds it logged.
static POSTGRES_TOUCH: LazyLock<String> = LazyLock::new(|| {
    let (forms, form_nulls) = (
        columns::select(&FORM_COLUMNS),
        columns::nulls(&FORM_COLUMNS),
    );
    let session_nulls = CHECKED_SESSION_NULLS.as_str();
    let sessions = checked_sessions_sql("$10", &format!("NULL, {form_nulls},"));
    format!(
        "WITH touched AS (
             UPDATE devices d SET last_seen_at = v.at,
                 app_version = COALESCE(v.app_version, d.app_version),
                 outbox_depth = COALESCE(v.outbox_depth, d.outbox_depth),
                 oldest_unsent_s = COALESCE(v.oldest_unsent_s, d.oldest_unsent_s)
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::int8[],
                         $6::int8[])
                  AS v(id, user_id, at, app_version, outbox_depth, oldest_unsent_s)
             WHERE d.id = v.id AND d.user_id = v.user_id AND d.revoked_at IS NULL
             RETURNING d.id
         )
         SELECT 'device' AS part, id, {form_nulls}, {session_nulls} FROM touched
         UNION ALL
         SELECT 'form', NULL, {forms}, {session_nulls}
         FROM forms f JOIN UNNEST($7::text[], $8::int8[], $11::bool[]) AS w(key, version, known)
              ON f.key = w.key AND f.version = w.version
         UNION ALL
         {sessions} = ANY($9)"
    )
});

fn postgres_touch<'q>(
    reads: &'q PushReads<'_>,
    known: &[Option<Arc<FormDef>>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let touches = reads.touches;
    sqlx::query(POSTGRES_TOUCH.as_str())
        .bind(touches.iter().map(|t| t.device_id).collect::<Vec<_>>())
        .bind(touches.iter().map(|t| t.user_id).collect::<Vec<_>>())
        .bind(touches.iter().map(|t| t.at_ms).collect::<Vec<_>>())
        .bind(
            touches
                .iter()
                .map(|t| t.client.app_version.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            touches
                .iter()
                .map(|t| t.client.outbox_depth.map(to_i64))
                .collect::<Vec<_>>(),
        )
        .bind(
            touches
                .iter()
                .map(|t| t.client.oldest_unsent_s.map(to_i64))
                .collect::<Vec<_>>(),
        )
        .bind(
            reads
                .forms
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(reads.forms.iter().map(|(_, v)| *v).collect::<Vec<_>>())
        .bind(&reads.sessions)
        .bind(reads.day.as_str())
        .bind(known.iter().map(Option::is_some).collect::<Vec<_>>())
}

/// PostgreSQL, second: the log entries of the mutations, and the records they touch, locked in
/// id order. The records are named by the caller, not chosen in SQL by what the log holds: a
/// plan cached while the table was small keeps a sequential scan for a list it cannot count
/// (measured: a lone household push's p99 went from 5 to 30 ms as the table grew), and
/// `id = ANY($2)` with a counted list is an index scan.
const POSTGRES_LOG_AND_RECORDS: &str = "WITH locked AS (
         SELECT id, entity, scope, version, deleted, fields, meta FROM records
         WHERE id = ANY($2) ORDER BY id FOR UPDATE
     )
     SELECT 'logged' AS part, mutation_id, device_id, status, version, NULL::uuid AS id,
            NULL::text AS entity, NULL::text AS scope, NULL::bool AS deleted,
            NULL::jsonb AS fields, NULL::json AS meta
     FROM mutations WHERE mutation_id = ANY($1)
     UNION ALL
     SELECT 'record', NULL, NULL, NULL, version, id, entity, scope, deleted, fields, meta
     FROM locked";

fn postgres_log_and_records<'q>(
    reads: &PushReads<'_>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(POSTGRES_LOG_AND_RECORDS)
        .bind(
            reads
                .mutations
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
        )
        .bind(touched_records(reads))
}

/// The records the mutations touch, each once, in id order.
fn touched_records(reads: &PushReads<'_>) -> Vec<Uuid> {
    let mut records: Vec<Uuid> = reads
        .mutations
        .iter()
        .flat_map(|(_, records)| records.iter().copied())
        .collect();
    records.sort_unstable();
    records.dedup();
    records
}

/// SQLite: the reads as one call, after `begin` (the `BEGIN` of a transaction begun by hand,
/// `push_sqlite`); each row's first column (`part`) names its read.
fn sqlite_reads(
    begin: &str,
    reads: &PushReads<'_>,
    known: &[Option<Arc<FormDef>>],
) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(begin);
    qb.push("WITH v(id, user_id, at, app_version, outbox_depth, oldest_unsent_s) AS (");
    qb.push_values(reads.touches, |mut row, t| {
        row.push_bind(t.device_id)
            .push_bind(t.user_id)
            .push_bind(t.at_ms)
            .push_bind(t.client.app_version.as_deref())
            .push_bind(t.client.outbox_depth.map(to_i64))
            .push_bind(t.client.oldest_unsent_s.map(to_i64));
    });
    qb.push(
        ") UPDATE devices SET last_seen_at = v.at,
             app_version = COALESCE(v.app_version, devices.app_version),
             outbox_depth = COALESCE(v.outbox_depth, devices.outbox_depth),
             oldest_unsent_s = COALESCE(v.oldest_unsent_s, devices.oldest_unsent_s)
         FROM v
         WHERE devices.id = v.id AND devices.user_id = v.user_id AND devices.revoked_at IS NULL
         RETURNING 'device' AS part, devices.id AS id;",
    );
    let ids = reads.mutations.iter().map(|(id, _)| *id);
    let records = touched_records(reads);
    if !reads.mutations.is_empty() {
        push_in_ids(
            &mut qb,
            " SELECT 'logged' AS part, mutation_id, device_id, status, version FROM mutations \
             WHERE mutation_id",
            ids,
        );
        qb.push(";");
    }
    if !records.is_empty() {
        push_in_ids(
            &mut qb,
            &format!(" SELECT 'record' AS part, {RECORD_COLUMNS} FROM records WHERE id"),
            records,
        );
        qb.push(";");
    }
    if !reads.forms.is_empty() {
        qb.push(
            " SELECT 'form' AS part, f.key AS key, f.version AS version, \
             CASE WHEN w.column3 THEN NULL ELSE f.definition END AS definition, \
             f.retired_at AS retired_at FROM forms f JOIN (",
        );
        qb.push_values(
            reads.forms.iter().zip(known),
            |mut row, ((key, version), k)| {
                row.push_bind(key.as_str())
                    .push_bind(*version)
                    .push_bind(k.is_some());
            },
        );
        qb.push(") AS w ON f.key = w.column1 AND f.version = w.column2;");
    }
    if !reads.sessions.is_empty() {
        static SQL: LazyLock<String> =
            LazyLock::new(|| checked_sessions_sql("(SELECT day FROM p)", ""));
        qb.push(" WITH p(day) AS (SELECT ");
        qb.push_bind(reads.day.as_str());
        qb.push(") ");
        push_in_ids(&mut qb, SQL.as_str(), reads.sessions.iter().copied());
        qb.push(";");
    }
    qb
}

/// The rows of the reads (SQLite's one call, PostgreSQL's two statements), sorted by the read
/// they answer.
fn opening_of<R: Row>(
    reads: &PushReads<'_>,
    rows: Vec<R>,
    known: &[Option<Arc<FormDef>>],
    cache: &FormCache,
) -> Result<Opening>
where
    for<'r> &'r str: sqlx::ColumnIndex<R> + Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> LoggedMutation: FromRow<'r, R>,
    for<'r> StoredRecord: FromRow<'r, R>,
    for<'r> FormRead: FromRow<'r, R>,
    for<'r> SessionAuth: FromRow<'r, R>,
{
    let mut opening = Opening {
        devices: HashMap::new(),
        logged: Vec::new(),
        records: Vec::new(),
        forms: Vec::new(),
        sessions: HashMap::new(),
    };
    let mut sessions = Vec::new();
    let mut found: HashMap<(String, i64), FormRead> = HashMap::new();
    for row in rows {
        let part: &str = row.try_get("part").map_err(StoreError::from_db)?;
        match part {
            "device" => {
                let id: Uuid = row.try_get("id").map_err(StoreError::from_db)?;
                if let Some(t) = reads.touches.iter().find(|t| t.device_id == id) {
                    opening.devices.insert(id, (t.user_id, None));
                }
            }
            "logged" => opening
                .logged
                .push(LoggedMutation::from_row(&row).map_err(StoreError::from_db)?),
            "record" => opening
                .records
                .push(StoredRecord::from_row(&row).map_err(StoreError::from_db)?),
            "form" => {
                let form = FormRead::from_row(&row).map_err(StoreError::from_db)?;
                found.insert((form.key.clone(), form.version), form);
            }
            "session" => sessions.push(row),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "a push's reads answered an unknown part {other:?}"
                )));
            }
        }
    }
    opening.forms = reads
        .forms
        .iter()
        .zip(known)
        .map(|(k, known)| {
            let form = found
                .remove(k)
                .map(|f| f.judged_with(k, known.as_ref(), cache));
            Ok((k.clone(), form.transpose()?))
        })
        .collect::<Result<_>>()?;
    opening.sessions = checked_sessions(&sessions)?;
    Ok(opening)
}

/// A form version as a push reads it: its definition only if the push did not know it.
#[derive(sqlx::FromRow)]
struct FormRead {
    key: String,
    version: i64,
    definition: Option<Json<FormDef>>,
    retired_at: Option<i64>,
}

impl FormRead {
    /// The form to judge surveys with: the definition read here (kept in `cache` for later
    /// pushes) or the one known before.
    fn judged_with(
        self,
        key: &(String, i64),
        known: Option<&Arc<FormDef>>,
        cache: &FormCache,
    ) -> Result<SurveyForm> {
        let definition = match (self.definition, known) {
            (Some(read), _) => {
                let read = Arc::new(read.0);
                cache.insert(key.clone(), read.clone());
                read
            }
            (None, Some(known)) => known.clone(),
            (None, None) => {
                return Err(StoreError::Corrupt(format!(
                    "form {} version {} was read without its definition",
                    key.0, key.1
                )));
            }
        };
        Ok(SurveyForm {
            definition,
            retired_at: self.retired_at,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use fieldsync_protocol::push::ClientInfo;

    use super::*;
    use crate::store::Store;

    /// The forms of one push's reads: each version asked for, with its definition's title and
    /// retirement.
    async fn read_forms(store: &Store, forms: &[(&str, i64)]) -> Vec<Option<(String, bool)>> {
        let client = ClientInfo::default();
        let touches = [Touch {
            device_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            at_ms: 0,
            client: &client,
        }];
        let reads = PushReads {
            touches: &touches,
            mutations: Vec::new(),
            forms: forms.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            sessions: Vec::new(),
            day: "2026-12-07".to_owned(),
        };
        let mut tx = store.begin_push(false).await.unwrap();
        let opening = tx.open_push(&reads).await.unwrap();
        tx.commit().await.unwrap();
        opening
            .forms
            .into_iter()
            .map(|(_, f)| f.map(|f| (f.definition.title.clone(), f.retired_at.is_some())))
            .collect()
    }

    /// A definition is read from the database once; a version's retirement, every time.
    #[tokio::test]
    async fn a_form_definition_is_read_once_and_its_retirement_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::test_sqlite(dir.path()).await;
        let form: FormDef = serde_json::from_value(serde_json::json!({
            "key": "income", "version": 1, "title": "收入调查",
            "fields": [{"name": "amount", "label": "金额", "type": "number"}]
        }))
        .unwrap();
        store.publish_form(&form, None, 1).await.unwrap();
        let title = || Some(("收入调查".to_owned(), false));

        assert_eq!(
            read_forms(&store, &[("income", 1), ("income", 2)]).await,
            [title(), None]
        );
        // Were the definition read again, this row would fail to decode.
        let Engine::Sqlite(pool) = store.writer() else {
            unreachable!()
        };
        sqlx::raw_sql("UPDATE forms SET definition = '\"not a form\"'")
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(read_forms(&store, &[("income", 1)]).await, [title()]);
        assert!(store.retire_form("income", 1, 5).await.unwrap());
        assert_eq!(
            read_forms(&store, &[("income", 1)]).await,
            [Some(("收入调查".to_owned(), true))]
        );
    }
}
