//! Writing one push (or one reviewer decision) in one transaction: the mutation log, conflict
//! records and, last, the records with their sequence numbers.
//!
//! Ordering guarantee for pulls: every write transaction takes its sequence numbers from the
//! single `sync_head` row as its *last* statement before commit. On PostgreSQL the row lock
//! makes the next writer wait until this one has committed, so a higher sequence number is
//! never visible before a lower one; on SQLite writers are serialised anyway, so the head moves
//! first in the batch's one write call (`write_sqlite`). A pull that has
//! seen sequence `n` has therefore seen every change numbered `n` or less.
//!
//! The lock serialises commits, so what runs under it is kept to one statement: on PostgreSQL
//! conflicts and fixes are written first, then a single statement takes the numbers and writes
//! every record row and the mutation log, and the transaction commits.

use fieldsync_protocol::Hlc;
use fieldsync_protocol::gps::{GpsFix, GpsVerdict};
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::push::{ConflictKind, Op, Status};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{CallEnd, Durable, Engine, Result, StoreError, Tx, write_postgres, write_sqlite};

/// The final state of one record written by a batch.
#[derive(Clone, Debug)]
pub struct RecordWrite {
    pub id: Uuid,
    pub entity: &'static str,
    pub scope: String,
    pub state: RecordState,
    pub gps: Option<GpsFix>,
    /// The server's judgement of `gps`.
    pub gps_verdict: Option<GpsVerdict>,
    /// The household the record belongs to (itself for a household).
    pub household_id: Option<Uuid>,
    /// New in this batch (inserted rather than updated).
    pub created: bool,
    pub user_id: Uuid,
}

/// Who wrote a row: the device and its user (the nil ids for the server's own writes). One
/// batch may hold the writes of several (a group of pushes committed together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Author {
    pub device_id: Uuid,
    pub user_id: Uuid,
}

/// A judged fix, in WGS-84, remembered for later judgements.
#[derive(Clone, Debug)]
pub struct FixWrite {
    pub by: Author,
    pub record_id: Uuid,
    pub household_id: Option<Uuid>,
    pub fix_at_ms: i64,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Clone, Debug)]
pub struct MutationWrite {
    pub by: Author,
    pub mutation_id: Uuid,
    pub record_id: Uuid,
    pub entity: &'static str,
    pub op: Op,
    pub status: Status,
    pub version: u64,
    /// The names of the fields the mutation wrote, not their values: the log is read for who
    /// changed which field (the household file, the audit), and the values are the record's.
    pub fields: Vec<String>,
    pub hlc: Hlc,
    pub gps: Option<GpsFix>,
    /// The household the record belongs to, and its village: the mutation log is the audit
    /// trail of writes, queried by household.
    pub household_id: Option<Uuid>,
    pub scope: String,
}

#[derive(Clone, Debug)]
pub struct ConflictWrite {
    pub by: Author,
    pub id: Uuid,
    pub record_id: Uuid,
    pub entity: &'static str,
    pub scope: String,
    pub field: String,
    pub kind: ConflictKind,
    pub yours: Value,
    pub theirs: Value,
    pub kept: Value,
    pub mutation_id: Uuid,
    pub theirs_hlc: Option<Hlc>,
}

/// The names of the fields of a change, as the log keeps them.
pub fn field_names(fields: &Map<String, Value>) -> Vec<String> {
    fields.keys().cloned().collect()
}

/// Everything a group of pushes (or one conflict resolution) writes, in one transaction.
#[derive(Clone, Debug)]
pub struct WriteBatch {
    pub now_ms: i64,
    pub records: Vec<RecordWrite>,
    pub mutations: Vec<MutationWrite>,
    pub conflicts: Vec<ConflictWrite>,
    /// Reviewer decisions, for the audit log (writes are audited by the mutation log itself).
    pub audit: Vec<super::AuditEntry>,
    pub fixes: Vec<FixWrite>,
}

impl WriteBatch {
    /// An empty batch written at `now_ms`.
    pub fn new(now_ms: i64) -> WriteBatch {
        WriteBatch {
            now_ms,
            records: Vec::new(),
            mutations: Vec::new(),
            conflicts: Vec::new(),
            audit: Vec::new(),
            fixes: Vec::new(),
        }
    }
}

impl Tx {
    /// Writes a batch: encrypted fields sealed, ID-card numbers indexed, the audit entries
    /// appended, and the records with their sequence numbers last (see the module doc).
    pub async fn write(&mut self, batch: &WriteBatch) -> Result<()> {
        self.write_batch(batch, false).await
    }

    /// [`Tx::write`], then [`Tx::commit_unsynced`]; a transaction begun by hand on SQLite
    /// (`push_sqlite`) commits at the end of the write's own call.
    pub async fn write_and_commit(mut self, batch: &WriteBatch) -> Result<Durable> {
        let inline = matches!(&self.engine, Engine::Sqlite(t) if t.commits_inline());
        self.write_batch(batch, inline).await?;
        if inline && let Engine::Sqlite(t) = &mut self.engine {
            t.committed();
        }
        self.commit_unsynced().await
    }

    async fn write_batch(&mut self, batch: &WriteBatch, commit: bool) -> Result<()> {
        self.index_id_cards(batch).await?;
        self.append_audit(&batch.audit, batch.now_ms).await?;
        self.reference_blobs(batch).await?;
        let sealed = super::sealing::seal_batch(self.key(), batch);
        let end = match (commit, &self.wal) {
            (true, _) => CallEnd::Commit,
            (false, Some(_)) => CallEnd::Unsynced,
            (false, None) => CallEnd::Open,
        };
        let complete = match self.conn() {
            Engine::Sqlite(c) => {
                let places = write_sqlite(c, &sealed, end)
                    .await
                    .map_err(StoreError::from_db)?;
                self.floor = self.floor.into_iter().chain(places.floor).min();
                self.moved |= places.moved;
                true
            }
            Engine::Postgres(c) => write_postgres(c, &sealed)
                .await
                .map_err(StoreError::from_db)?,
        };
        if complete {
            Ok(())
        } else {
            Err(StoreError::Retry)
        }
    }
}

impl Tx {
    /// Notes which blobs the batch's records name (a check's photos), each reference linked or
    /// not (see `store::blob_links`: a record opens a photo only if it was uploaded by a device of
    /// someone who may write the record), and starts each named blob's grace period again
    /// (`Tx::touch_blob`).
    async fn reference_blobs(&mut self, batch: &WriteBatch) -> Result<()> {
        let mut named: Vec<(String, &RecordWrite)> = Vec::new();
        for r in &batch.records {
            let Some(def) = fieldsync_protocol::registry::entity(r.entity) else {
                continue;
            };
            named.extend(
                def.fields
                    .iter()
                    .filter(|f| f.ty == fieldsync_protocol::registry::FieldType::HashList)
                    .filter_map(|f| r.state.fields.get(f.name)?.as_array())
                    .flatten()
                    .filter_map(|v| Some((v.as_str()?.to_owned(), r))),
            );
        }
        if named.is_empty() {
            return Ok(());
        }
        self.lock_blob_links(named.iter().map(|(sha, _)| sha.as_str()))
            .await?;
        let today = crate::clock::iso(crate::clock::date_of_ms(batch.now_ms));
        for (sha, r) in &named {
            let linked = self
                .links_to(sha, &[r.user_id], r.entity, &r.scope, &today)
                .await?;
            super::execute!(
                self.conn(),
                "INSERT INTO blob_refs (sha256, record_id, linked) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256, record_id) DO UPDATE SET linked = TRUE
                 WHERE excluded.linked AND NOT COALESCE(blob_refs.linked, FALSE)",
                sha,
                r.id,
                linked,
            )?;
            self.touch_blob(sha, batch.now_ms).await?;
        }
        Ok(())
    }
}

pub(super) fn kind_str(kind: ConflictKind) -> &'static str {
    match kind {
        ConflictKind::Field => "field",
        ConflictKind::Delete => "delete",
    }
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
