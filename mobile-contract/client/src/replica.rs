//! A phone's local copy: what the app shows, what it has not sent yet, and how it syncs.
//!
//! The store is a SQLite file, so the outbox and the cursor survive the app being killed:
//! - `records`: each record as the server last gave it (version, fields, deleted);
//! - `outbox`: the phone's mutations not yet answered, in the order they were made;
//! - `answers`: what the server said of each sent mutation (rejections stay to be shown);
//! - `photos`: photos waiting to be uploaded, by name;
//! - `meta`: device id, the clock's last stamp, the pull cursor.
//!
//! What the user sees ([`Replica::view`]) is the server's record with the outbox's pending
//! edits laid over it. [`Replica::sync`] pushes the outbox (in order, retrying with backoff,
//! keeping each mutation until an answer for its id arrives), uploads photos (resuming), then
//! pulls until `has_more` is false. A village the server drops is evicted only after its
//! pending edits were pushed; an edit the server refuses is kept with the refusal, never
//! dropped silently.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use fieldsync_protocol::pull::{PullRequest, PullResponse};
use fieldsync_protocol::push::{Mutation, MutationResult, Op, Status};
use fieldsync_protocol::registry::{self, ScopeRule};
use fieldsync_protocol::{ErrorCode, Hlc};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use crate::{Api, ClientError, Device};

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("local store: {0}")]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Server(#[from] ClientError),
    #[error("local data is damaged: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, ReplicaError>;

/// A record as the phone shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub id: Uuid,
    pub entity: String,
    pub scope: String,
    /// The server version the view is based on (0: not on the server yet).
    pub version: u64,
    pub deleted: bool,
    pub fields: Map<String, Value>,
    /// Edits not yet answered by the server.
    pub pending: usize,
}

impl Local {
    /// A record the phone knows only from its own pending create.
    fn blank(id: Uuid, entity: &str, scope: &str) -> Local {
        Local {
            id,
            entity: entity.to_owned(),
            scope: scope.to_owned(),
            version: 0,
            deleted: false,
            fields: Map::new(),
            pending: 0,
        }
    }
}

/// A mutation the server refused (or that could no longer be sent), kept for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub mutation_id: Uuid,
    pub record_id: Uuid,
    pub code: String,
    pub message: String,
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pushed: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub duplicates: usize,
    pub pulled: usize,
    pub photos: usize,
    /// Photos the server refused for good (not a photo it takes): kept apart, with the reason.
    pub photos_refused: usize,
    pub dropped_scopes: Vec<String>,
}

/// How the network misbehaves, for tests and the simulator.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// The next push reaches the server but its answer is lost.
    pub lose_next_answer: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, entity TEXT NOT NULL, scope TEXT NOT NULL,
    version INTEGER NOT NULL, deleted INTEGER NOT NULL, fields TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_scope ON records (scope);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, mutation_id TEXT NOT NULL UNIQUE,
    record_id TEXT NOT NULL, scope TEXT NOT NULL, body TEXT NOT NULL, made_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    mutation_id TEXT PRIMARY KEY, record_id TEXT NOT NULL, status TEXT NOT NULL,
    version INTEGER, code TEXT, message TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photos (sha256 TEXT PRIMARY KEY, path TEXT NOT NULL);
-- Photos whose upload was started: only these ask the server where to go on (a round trip).
CREATE TABLE IF NOT EXISTS photo_tries (sha256 TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS photo_refusals (
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
";

/// Mutations sent in one push.
const BATCH: i64 = 100;
/// Most changes asked for in one pull page.
const PULL_LIMIT: usize = 500;
/// Tries of one request before the sync gives up (the outbox keeps everything).
const TRIES: u32 = 5;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A phone: its local store, its identity and clock, and its connection.
#[derive(Debug)]
pub struct Replica {
    db: SqlitePool,
    pub device: Device,
    pub api: Api,
    pub faults: Faults,
}

impl Replica {
    /// Opens (or creates) the phone's store at `path`, for the server at `base_url`. The
    /// device id is made on first open and kept.
    pub async fn open(path: &Path, base_url: &str) -> Result<Replica> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&db).await?;
        let mut device = match meta(&db, "device_id").await? {
            Some(id) => Device::with_id(
                id.parse()
                    .map_err(|_| ReplicaError::Corrupt("device_id".into()))?,
            ),
            None => {
                let d = Device::new();
                set_meta(&db, "device_id", &d.id.to_string()).await?;
                d
            }
        };
        if let Some(last) = meta(&db, "last_hlc").await? {
            let hlc: Hlc =
                serde_json::from_str(&last).map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
            device.observe(&hlc);
        }
        let api = Api::new(base_url, device.id);
        Ok(Replica {
            db,
            device,
            api,
            faults: Faults::default(),
        })
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Result<()> {
        self.api.login(username, password).await?;
        Ok(())
    }

    /// Creates a record offline; returns its id.
    pub async fn create(&mut self, entity: &str, fields: Value) -> Result<Uuid> {
        self.create_with(entity, fields, None).await
    }

    /// Creates a record offline with the phone's GPS fix of the moment (visits and checks carry
    /// one: the server judges it); returns its id.
    pub async fn create_at(
        &mut self,
        entity: &str,
        fields: Value,
        fix: fieldsync_protocol::gps::GpsFix,
    ) -> Result<Uuid> {
        self.create_with(entity, fields, Some(fix)).await
    }

    async fn create_with(
        &mut self,
        entity: &str,
        fields: Value,
        fix: Option<fieldsync_protocol::gps::GpsFix>,
    ) -> Result<Uuid> {
        let id = self.device.new_id();
        let mut m = self.device.create(entity, id, fields);
        m.gps = fix;
        let scope = self.scope_of_new(&m).await?;
        self.enqueue(m, &scope).await?;
        Ok(id)
    }

    /// Changes fields of a record offline; returns the mutation's id.
    pub async fn update(&mut self, id: Uuid, fields: Value) -> Result<Uuid> {
        let rec = self
            .view(id)
            .await?
            .ok_or_else(|| ReplicaError::Invalid(format!("no record {id}")))?;
        // A record created here and not yet confirmed will be version 1.
        let base = rec.version.max(1);
        let m = self.device.update(&rec.entity, id, base, fields);
        let mutation_id = m.mutation_id;
        self.enqueue(m, &rec.scope).await?;
        Ok(mutation_id)
    }

    /// Deletes a record offline.
    pub async fn delete(&mut self, id: Uuid) -> Result<()> {
        let rec = self
            .view(id)
            .await?
            .ok_or_else(|| ReplicaError::Invalid(format!("no record {id}")))?;
        let m = self.device.delete(&rec.entity, id, rec.version.max(1));
        self.enqueue(m, &rec.scope).await
    }

    /// Keeps a photo to upload on the next sync (name it in a record's `photos` by
    /// [`crate::photo_name`]).
    pub async fn add_photo(&self, path: &Path) -> Result<String> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| ReplicaError::Invalid(format!("{}: {e}", path.display())))?;
        let name = crate::photo_name(&bytes);
        sqlx::query("INSERT OR IGNORE INTO photos (sha256, path) VALUES (?, ?)")
            .bind(&name)
            .bind(path.display().to_string())
            .execute(&self.db)
            .await?;
        Ok(name)
    }

    async fn scope_of_new(&self, m: &Mutation) -> Result<String> {
        let def = registry::entity(&m.entity)
            .ok_or_else(|| ReplicaError::Invalid(format!("unknown entity {}", m.entity)))?;
        let text = |f: &str| m.fields.get(f).and_then(Value::as_str).map(str::to_owned);
        match def.scope {
            ScopeRule::OwnField(f) => {
                text(f).ok_or_else(|| ReplicaError::Invalid(format!("a {} needs {f}", def.name)))
            }
            ScopeRule::Parent { field } => {
                let parent: Uuid = text(field).and_then(|s| s.parse().ok()).ok_or_else(|| {
                    ReplicaError::Invalid(format!("a {} needs {field}", def.name))
                })?;
                Ok(self
                    .view(parent)
                    .await?
                    .ok_or_else(|| ReplicaError::Invalid(format!("no record {parent}")))?
                    .scope)
            }
        }
    }

    async fn enqueue(&mut self, m: Mutation, scope: &str) -> Result<()> {
        let body = serde_json::to_string(&m).map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
        let hlc =
            serde_json::to_string(&m.hlc).map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO outbox (mutation_id, record_id, scope, body, made_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(m.mutation_id.to_string())
        .bind(m.id.to_string())
        .bind(scope)
        .bind(body)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_hlc', ?)")
            .bind(hlc)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The record as the user sees it: the server's copy with pending edits over it.
    pub async fn view(&self, id: Uuid) -> Result<Option<Local>> {
        let base: Option<(String, String, i64, bool, String)> = sqlx::query_as(
            "SELECT entity, scope, version, deleted, fields FROM records WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.db)
        .await?;
        let pending = self.pending_of(Some(id)).await?;
        let mut local = match base {
            Some((entity, scope, version, deleted, fields)) => Local {
                id,
                entity,
                scope,
                version: u64::try_from(version).unwrap_or(0),
                deleted,
                fields: parse_fields(&fields)?,
                pending: 0,
            },
            None => match pending.first() {
                Some((m, scope)) => Local::blank(id, &m.entity, scope),
                None => return Ok(None),
            },
        };
        for (m, _) in &pending {
            lay_over(&mut local, m);
        }
        Ok(Some(local))
    }

    /// Every record the phone shows, pending edits applied, by id.
    pub async fn all(&self) -> Result<BTreeMap<Uuid, Local>> {
        let rows: Vec<(String, String, String, i64, bool, String)> = sqlx::query_as(
            "SELECT id, entity, scope, version, deleted, fields FROM records ORDER BY id",
        )
        .fetch_all(&self.db)
        .await?;
        let mut out = BTreeMap::new();
        for (id, entity, scope, version, deleted, fields) in rows {
            let id: Uuid = id
                .parse()
                .map_err(|_| ReplicaError::Corrupt("record id".into()))?;
            out.insert(
                id,
                Local {
                    id,
                    entity,
                    scope,
                    version: u64::try_from(version).unwrap_or(0),
                    deleted,
                    fields: parse_fields(&fields)?,
                    pending: 0,
                },
            );
        }
        for (m, scope) in self.pending_of(None).await? {
            let local = out
                .entry(m.id)
                .or_insert_with(|| Local::blank(m.id, &m.entity, &scope));
            lay_over(local, &m);
        }
        Ok(out)
    }

    /// Pending mutations (of one record, or all), oldest first, with their village.
    async fn pending_of(&self, id: Option<Uuid>) -> Result<Vec<(Mutation, String)>> {
        let rows: Vec<(String, String)> = match id {
            Some(id) => {
                sqlx::query_as("SELECT body, scope FROM outbox WHERE record_id = ? ORDER BY seq")
                    .bind(id.to_string())
                    .fetch_all(&self.db)
                    .await?
            }
            None => {
                sqlx::query_as("SELECT body, scope FROM outbox ORDER BY seq")
                    .fetch_all(&self.db)
                    .await?
            }
        };
        rows.into_iter()
            .map(|(body, scope)| {
                serde_json::from_str(&body)
                    .map(|m| (m, scope))
                    .map_err(|e| ReplicaError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Mutations waiting, and the age in seconds of the oldest.
    pub async fn outbox(&self) -> Result<(u64, u64)> {
        let (n, oldest): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(made_ms) FROM outbox")
                .fetch_one(&self.db)
                .await?;
        let age = oldest.map_or(0, |t| ((now_ms() - t).max(0) / 1000) as u64);
        Ok((u64::try_from(n).unwrap_or(0), age))
    }

    /// What the server refused (or what could not be sent before its village was dropped).
    pub async fn refused(&self) -> Result<Vec<Refused>> {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT mutation_id, record_id, code, message FROM answers
             WHERE status = 'rejected' ORDER BY mutation_id",
        )
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(m, r, code, message)| {
                Some(Refused {
                    mutation_id: m.parse().ok()?,
                    record_id: r.parse().ok()?,
                    code: code.unwrap_or_default(),
                    message: message.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Every answer the server gave this phone, by mutation id.
    pub async fn answers(&self) -> Result<std::collections::HashMap<Uuid, MutationResult>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT mutation_id, body FROM answers")
            .fetch_all(&self.db)
            .await?;
        rows.into_iter()
            .filter_map(|(id, body)| Some((id.parse().ok()?, body)))
            .map(|(id, body)| {
                serde_json::from_str(&body)
                    .map(|r| (id, r))
                    .map_err(|e| ReplicaError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// The server's answer to one of this phone's mutations.
    pub async fn answer(&self, mutation_id: Uuid) -> Result<Option<MutationResult>> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM answers WHERE mutation_id = ?")
                .bind(mutation_id.to_string())
                .fetch_optional(&self.db)
                .await?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| ReplicaError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Push, upload, pull. Stops at the first failure that retrying did not cure; what was
    /// not sent stays in the outbox for the next sync.
    pub async fn sync(&mut self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.fresh_token().await?;
        // The last push carries the pull's first page: one exchange fewer on a slow link.
        let carried = self.push_all(None, &mut report, true).await?;
        self.upload_photos(&mut report).await?;
        self.pull_all(carried, &mut report).await?;
        Ok(report)
    }

    /// Only sends the outbox (a phone on a metered link that pulls later).
    pub async fn push(&mut self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.fresh_token().await?;
        self.push_all(None, &mut report, false).await?;
        Ok(report)
    }

    /// Pushes the outbox (of one village, or all) in order, a batch at a time. With `pull`, the
    /// last batch asks for the first page of the pull in the same exchange; that page, if the
    /// server answered one, is returned for [`Replica::pull_all`].
    async fn push_all(
        &mut self,
        scope: Option<&str>,
        report: &mut SyncReport,
        pull: bool,
    ) -> Result<Option<PullResponse>> {
        loop {
            let mut rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT mutation_id, body, scope FROM outbox WHERE ?1 IS NULL OR scope = ?1
                 ORDER BY seq LIMIT ?2",
            )
            .bind(scope)
            .bind(BATCH + 1)
            .fetch_all(&self.db)
            .await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let last = rows.len() <= BATCH as usize;
            rows.truncate(BATCH as usize);
            let carry = if pull && last {
                Some(PullRequest {
                    cursor: meta(&self.db, "cursor").await?,
                    limit: Some(PULL_LIMIT),
                })
            } else {
                None
            };
            let batch: Vec<Mutation> = rows
                .iter()
                .map(|(_, b, _)| serde_json::from_str(b))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
            let (depth, age) = self.outbox().await?;
            self.api.set_health(depth, age);
            self.fresh_token().await?;
            let response =
                retry(|| self.api.push_and_pull(batch.clone(), None, carry.clone())).await?;
            if std::mem::take(&mut self.faults.lose_next_answer) {
                // The server applied it; the phone never heard. The outbox keeps everything
                // and the next push is answered `duplicate`.
                continue;
            }
            let mut tx = self.db.begin().await?;
            for ((m, r), (_, _, scope)) in batch.iter().zip(&response.results).zip(&rows) {
                match r.status {
                    Status::Conflict => report.conflicts += 1,
                    Status::Rejected => report.rejected += 1,
                    Status::Duplicate => report.duplicates += 1,
                    Status::Applied | Status::Merged => {}
                }
                report.pushed += 1;
                save_answer(&mut tx, m, r).await?;
                if r.status == Status::Applied {
                    apply_own(&mut tx, m, scope, r).await?;
                }
                sqlx::query("DELETE FROM outbox WHERE mutation_id = ?")
                    .bind(m.mutation_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            if last {
                return Ok(response.pull);
            }
        }
    }

    /// Access tokens last 15 minutes; a long sync (a week of outbox on a slow link) outlives
    /// one, so the token is refreshed when it is about to run out.
    async fn fresh_token(&mut self) -> Result<()> {
        if self.api.token_expiring() {
            self.api.refresh().await?;
        }
        Ok(())
    }

    async fn upload_photos(&mut self, report: &mut SyncReport) -> Result<()> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT sha256, path FROM photos")
            .fetch_all(&self.db)
            .await?;
        for (sha, path) in rows {
            // A photo never tried before starts at byte 0 without asking: if the server holds
            // it already, it takes the whole as proof of possession, as after a `HEAD`'s 404.
            let first = sqlx::query("INSERT OR IGNORE INTO photo_tries (sha256) VALUES (?)")
                .bind(&sha)
                .execute(&self.db)
                .await?
                .rows_affected()
                == 1;
            let outcome = match tokio::fs::read(&path).await {
                Ok(bytes) => {
                    let mut ask = !first;
                    retry(|| {
                        // A retry asks where to go on: part of the photo may have arrived.
                        let resume = std::mem::replace(&mut ask, true);
                        self.api.upload_photo_paced(&sha, &bytes, resume)
                    })
                    .await
                    .map(|_| ())
                }
                Err(e) => Err(ClientError::Api {
                    status: reqwest::StatusCode::NOT_FOUND,
                    body: fieldsync_protocol::error::ErrorBody {
                        error: fieldsync_protocol::ErrorDetail::new(
                            ErrorCode::NotFound,
                            format!("the photo file is gone from the phone: {e}"),
                        ),
                    },
                }),
            };
            match outcome {
                Ok(()) => report.photos += 1,
                // Refused for what it is (not a photo the server takes, too large, gone): no
                // retry will help, and the records must not wait for it. Kept apart for the
                // user to see.
                Err(ClientError::Api { status, body })
                    if status.is_client_error()
                        && ![401, 408, 409, 429].contains(&status.as_u16()) =>
                {
                    sqlx::query(
                        "INSERT OR REPLACE INTO photo_refusals (sha256, path, code, message)
                         VALUES (?, ?, ?, ?)",
                    )
                    .bind(&sha)
                    .bind(&path)
                    .bind(body.error.code.as_str())
                    .bind(&body.error.message)
                    .execute(&self.db)
                    .await?;
                    report.photos_refused += 1;
                }
                Err(e) => return Err(e.into()),
            }
            sqlx::query("DELETE FROM photos WHERE sha256 = ?")
                .bind(&sha)
                .execute(&self.db)
                .await?;
            sqlx::query("DELETE FROM photo_tries WHERE sha256 = ?")
                .bind(&sha)
                .execute(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Photos the server refused for good, with its reason: (name, code, message).
    pub async fn refused_photos(&self) -> Result<Vec<(String, String, String)>> {
        Ok(
            sqlx::query_as("SELECT sha256, code, message FROM photo_refusals ORDER BY sha256")
                .fetch_all(&self.db)
                .await?,
        )
    }

    /// Pulls until `has_more` is false, starting with `carried`, the page that came with the
    /// last push (if the server answered one).
    async fn pull_all(
        &mut self,
        mut carried: Option<PullResponse>,
        report: &mut SyncReport,
    ) -> Result<()> {
        loop {
            if let Some(page) = carried.take() {
                if !self.apply_page(page, report).await? {
                    return Ok(());
                }
                continue;
            }
            self.fresh_token().await?;
            let cursor = meta(&self.db, "cursor").await?;
            let page = match retry(|| self.api.pull(cursor.as_deref(), Some(PULL_LIMIT))).await {
                Err(ClientError::Api { body, .. })
                    if body.error.code == ErrorCode::InvalidCursor =>
                {
                    // The server no longer knows this cursor: start again from nothing.
                    sqlx::query("DELETE FROM meta WHERE key = 'cursor'")
                        .execute(&self.db)
                        .await?;
                    sqlx::query("DELETE FROM records").execute(&self.db).await?;
                    continue;
                }
                other => other?,
            };
            if !self.apply_page(page, report).await? {
                return Ok(());
            }
        }
    }

    /// Applies one page of changes: its dropped villages first, then its records and cursor in
    /// one transaction. Whether more are waiting.
    async fn apply_page(&mut self, page: PullResponse, report: &mut SyncReport) -> Result<bool> {
        for scope in &page.drop_scopes {
            self.drop_scope(scope, report).await?;
        }
        let mut tx = self.db.begin().await?;
        for c in &page.changes {
            let fields = serde_json::to_string(&c.fields)
                .map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO records (id, entity, scope, version, deleted, fields)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET entity = excluded.entity,
                     scope = excluded.scope, version = excluded.version,
                     deleted = excluded.deleted, fields = excluded.fields
                 WHERE excluded.version >= records.version",
            )
            .bind(c.id.to_string())
            .bind(&c.entity)
            .bind(&c.scope)
            .bind(i64::try_from(c.version).unwrap_or(i64::MAX))
            .bind(c.deleted)
            .bind(fields)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)")
            .bind(&page.cursor)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        report.pulled += page.changes.len();
        Ok(page.has_more)
    }

    /// A village the phone no longer serves: its pending edits go first (made while the cadre
    /// was assigned, the server still takes them), then its records leave the phone. Edits that
    /// still cannot be sent are kept as refused, with the reason, never dropped silently.
    async fn drop_scope(&mut self, scope: &str, report: &mut SyncReport) -> Result<()> {
        self.push_all(Some(scope), report, false).await?;
        let left: Vec<String> = sqlx::query_scalar("SELECT body FROM outbox WHERE scope = ?")
            .bind(scope)
            .fetch_all(&self.db)
            .await?;
        let mut tx = self.db.begin().await?;
        for body in left {
            let m: Mutation =
                serde_json::from_str(&body).map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
            // Kept as the server would have answered it, so the phone shows it like any refusal.
            let refused = MutationResult::rejected(
                Some(m.mutation_id),
                fieldsync_protocol::ErrorDetail::new(
                    ErrorCode::ForbiddenScope,
                    format!("village {scope} left this phone before the edit was sent"),
                ),
            );
            save_answer(&mut tx, &m, &refused).await?;
        }
        sqlx::query("DELETE FROM outbox WHERE scope = ?")
            .bind(scope)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM records WHERE scope = ?")
            .bind(scope)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        report.dropped_scopes.push(scope.to_owned());
        Ok(())
    }
}

async fn save_answer(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    m: &Mutation,
    r: &MutationResult,
) -> Result<()> {
    let body = serde_json::to_string(r).map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
    let status = match r.status {
        Status::Duplicate => r.original_status.unwrap_or(Status::Duplicate),
        s => s,
    };
    sqlx::query(
        "INSERT OR REPLACE INTO answers (mutation_id, record_id, status, version, code, message, body)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.mutation_id.to_string())
    .bind(m.id.to_string())
    .bind(status.as_str())
    .bind(r.version.and_then(|v| i64::try_from(v).ok()))
    .bind(r.error.as_ref().map(|e| e.code.as_str()))
    .bind(r.error.as_ref().map(|e| e.message.clone()))
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A mutation the server applied as sent (no merge): the server's record is now the phone's
/// copy with the mutation on it, at the answered version, so the phone shows it at once even
/// if the pull that follows fails. Merged or conflicting answers wait for the pull.
async fn apply_own(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    m: &Mutation,
    scope: &str,
    r: &MutationResult,
) -> Result<()> {
    let Some(version) = r.version.and_then(|v| i64::try_from(v).ok()) else {
        return Ok(());
    };
    let current: Option<(i64, String)> =
        sqlx::query_as("SELECT version, fields FROM records WHERE id = ?")
            .bind(m.id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    let mut local = match (m.op, current) {
        (Op::Create, None) => Local::blank(m.id, &m.entity, scope),
        // Only on top of the very version the server applied it to.
        (Op::Update | Op::Delete, Some((v, fields))) if v + 1 == version => Local {
            version: u64::try_from(v).unwrap_or(0),
            fields: parse_fields(&fields)?,
            ..Local::blank(m.id, &m.entity, scope)
        },
        _ => return Ok(()),
    };
    lay_over(&mut local, m);
    let fields =
        serde_json::to_string(&local.fields).map_err(|e| ReplicaError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO records (id, entity, scope, version, deleted, fields) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
             fields = excluded.fields
         WHERE excluded.version > records.version",
    )
    .bind(m.id.to_string())
    .bind(&local.entity)
    .bind(&local.scope)
    .bind(version)
    .bind(local.deleted)
    .bind(fields)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Lays a pending mutation over the record the phone shows.
fn lay_over(local: &mut Local, m: &Mutation) {
    local.pending += 1;
    match m.op {
        Op::Create => {
            local.fields.clone_from(&m.fields);
            local.deleted = false;
        }
        Op::Update => {
            for (k, v) in &m.fields {
                if v.is_null() {
                    local.fields.remove(k);
                } else {
                    local.fields.insert(k.clone(), v.clone());
                }
            }
        }
        Op::Delete => local.deleted = true,
    }
}

fn parse_fields(text: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| ReplicaError::Corrupt(e.to_string()))
}

async fn meta(db: &SqlitePool, key: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
        .bind(key)
        .fetch_optional(db)
        .await?)
}

async fn set_meta(db: &SqlitePool, key: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
        .bind(key)
        .bind(value)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether an error may go away by itself (the network, a busy or restarting server).
fn transient(e: &ClientError) -> bool {
    match e {
        ClientError::Http(_) => true,
        ClientError::Api { status, .. } => {
            status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408
        }
        ClientError::NotLoggedIn | ClientError::Encode(_) => false,
    }
}

/// Runs a request up to [`TRIES`] times with exponential backoff (100 ms, 200 ms, …) on
/// transient failures.
async fn retry<T, F, Fut>(mut f: F) -> std::result::Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, ClientError>>,
{
    let mut wait = Duration::from_millis(100);
    let mut tries = 1;
    loop {
        match f().await {
            Err(e) if tries < TRIES && transient(&e) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}
