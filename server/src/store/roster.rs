//! What a roster import reads and remembers (migration 0018): the live households and people
//! of a village with their merge metadata and the import's baseline, the keyed ID-card index of
//! a village, and the import's own device.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Sqlite};
use uuid::Uuid;

use super::{Result, Store, StoreError, execute, fetch_as, fetch_scalar};

/// A live household or person as the import compares it with a row of the file.
#[derive(Debug, sqlx::FromRow)]
pub struct RosterRecord {
    pub id: Uuid,
    pub entity: String,
    pub household_id: Option<Uuid>,
    pub version: i64,
    pub fields: Json<Map<String, Value>>,
    pub meta: Json<super::Stamps>,
    /// The version the last import left the record at, if an import wrote it.
    pub baseline_version: Option<i64>,
    /// Field → keyed hash of the value the last import wrote ([`Store::roster_digest`]).
    pub digests: Option<Json<BTreeMap<String, String>>>,
}

/// What an import wrote to one record.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub record_id: Uuid,
    pub version: i64,
    pub digests: BTreeMap<String, String>,
}

impl Store {
    /// The live households and people of a village, their personal fields opened.
    pub async fn roster_records(&self, village: &str) -> Result<Vec<RosterRecord>> {
        let mut rows = fetch_as!(
            self.reader(),
            fetch_all,
            RosterRecord,
            "SELECT r.id, r.entity, r.household_id, r.version, r.fields, r.meta,
                    b.version AS baseline_version, b.digests
             FROM records r LEFT JOIN roster_baselines b ON b.record_id = r.id
             WHERE r.scope = $1 AND r.entity IN ('household', 'member') AND NOT r.deleted
             ORDER BY r.id",
            village,
        )?;
        for r in &mut rows {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
        }
        Ok(rows)
    }

    /// The keyed hashes of the ID-card numbers held by a village's live households and people
    /// (`id_card_index`), with the record holding each: the file's numbers are matched by their
    /// hash, never by comparing numbers in clear.
    pub async fn village_id_card_index(&self, village: &str) -> Result<Vec<(Vec<u8>, Uuid)>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            (Vec<u8>, Uuid),
            "SELECT i.blind, i.record_id FROM id_card_index i JOIN records r ON r.id = i.record_id
             WHERE r.scope = $1 AND r.entity IN ('household', 'member') AND NOT r.deleted",
            village,
        )?)
    }

    /// Records what an import wrote, replacing what an earlier import wrote to the same records:
    /// a few hundred rows a statement (an import notes hundreds of thousands), all of a call in
    /// one transaction (on SQLite each commit is an fsync).
    pub async fn put_roster_baselines(&self, rows: &[Baseline], now_ms: i64) -> Result<()> {
        const UPSERT: &str = " ON CONFLICT (record_id) DO UPDATE SET version = excluded.version,
             digests = excluded.digests, imported_at = excluded.imported_at";
        const INSERT: &str =
            "INSERT INTO roster_baselines (record_id, version, digests, imported_at) ";
        // The same statement on either engine's builder.
        macro_rules! upsert {
            ($db:ty, $conn:expr, $chunk:expr) => {{
                let mut qb = QueryBuilder::<$db>::new(INSERT);
                qb.push_values($chunk, |mut b, r| {
                    b.push_bind(r.record_id)
                        .push_bind(r.version)
                        .push_bind(Json(&r.digests))
                        .push_bind(now_ms);
                });
                qb.push(UPSERT);
                qb.build()
                    .execute($conn)
                    .await
                    .map_err(StoreError::from_db)?;
            }};
        }
        let mut tx = self.begin().await?;
        for chunk in rows.chunks(500) {
            match tx.conn() {
                super::Engine::Sqlite(c) => upsert!(Sqlite, c, chunk),
                super::Engine::Postgres(c) => upsert!(Postgres, c, chunk),
            }
        }
        tx.commit().await
    }

    /// The keyed hash an import keeps of a field's value: 16 hex digits, enough to tell a
    /// changed value from the one imported before, too short and keyed to test guesses with.
    pub fn roster_digest(&self, field: &str, value: &Value) -> String {
        let text = value.to_string();
        let tag = self.key().tag(&format!("roster/{field}"), text.as_bytes());
        crate::hex::hex(&tag[..8])
    }

    /// The device a user's roster imports write from (kind `import`), made on first use: an
    /// import is a device of its own, so its writes meet the phones' as any device's do.
    pub async fn import_device(&self, user_id: Uuid, now_ms: i64) -> Result<Uuid> {
        let found: Option<Uuid> = fetch_scalar!(
            self.reader(),
            fetch_optional,
            Uuid,
            "SELECT id FROM devices WHERE user_id = $1 AND kind = 'import' AND revoked_at IS NULL
             ORDER BY created_at LIMIT 1",
            user_id,
        )?;
        if let Some(id) = found {
            return Ok(id);
        }
        let id = Uuid::now_v7();
        execute!(
            self.writer(),
            "INSERT INTO devices (id, user_id, created_at, last_seen_at, kind)
             VALUES ($1, $2, $3, $3, 'import')",
            id,
            user_id,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        Ok(id)
    }
}

/// An import started from the console, as its page shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RosterImport {
    pub id: Uuid,
    pub user_id: Uuid,
    pub file_name: String,
    /// `checking`, `checked`, `importing`, `imported` or `failed`.
    pub state: String,
    pub done: i64,
    pub total: i64,
    pub summary: Option<Json<Value>>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the personal-data key seals an uploaded file under.
const SEALED_FILE: &str = "roster_imports.file";
const SEALED_MAPPING: &str = "roster_imports.mapping";

impl Store {
    /// Keeps an uploaded file (sealed) for its dry run and import.
    pub async fn add_roster_import(
        &self,
        id: Uuid,
        user_id: Uuid,
        file_name: &str,
        file: &[u8],
        mapping: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<()> {
        let file = self.key().seal_bytes(SEALED_FILE, file);
        let mapping = mapping.map(|m| self.key().seal_bytes(SEALED_MAPPING, m));
        execute!(
            self.writer(),
            "INSERT INTO roster_imports
                 (id, user_id, file_name, file, mapping, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'checking', $6, $6)",
            id,
            user_id,
            file_name,
            file,
            mapping,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        Ok(())
    }

    pub async fn roster_import(&self, id: Uuid) -> Result<Option<RosterImport>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            RosterImport,
            "SELECT id, user_id, file_name, state, done, total, summary, error, created_at,
                    updated_at
             FROM roster_imports WHERE id = $1",
            id
        )?)
    }

    /// A user's imports, newest first.
    pub async fn roster_imports_of(&self, user_id: Uuid, limit: i64) -> Result<Vec<RosterImport>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            RosterImport,
            "SELECT id, user_id, file_name, state, done, total, summary, error, created_at,
                    updated_at
             FROM roster_imports WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
            user_id,
            limit
        )?)
    }

    /// The uploaded file and mapping, opened; `None` once the file has been dropped.
    pub async fn roster_import_file(&self, id: Uuid) -> Result<Option<(Vec<u8>, Option<Vec<u8>>)>> {
        type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>);
        let row: Option<Sealed> = fetch_as!(
            self.reader(),
            fetch_optional,
            Sealed,
            "SELECT file, mapping FROM roster_imports WHERE id = $1",
            id,
        )?;
        let Some((Some(file), mapping)) = row else {
            return Ok(None);
        };
        let corrupt = |_| StoreError::Corrupt("an uploaded roster does not open".into());
        let file = self.key().open_bytes(SEALED_FILE, &file).map_err(corrupt)?;
        let mapping = mapping
            .map(|m| self.key().open_bytes(SEALED_MAPPING, &m).map_err(corrupt))
            .transpose()?;
        Ok(Some((file, mapping)))
    }

    /// Moves an import to `state` if it is in one of `from`; `false` if it was not (another
    /// request started it first).
    pub async fn set_roster_import_state(
        &self,
        id: Uuid,
        from: &[&str],
        state: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let from = serde_json::to_string(from).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = match self.writer() {
            super::Engine::Sqlite(_) => {
                "UPDATE roster_imports SET state = $2, done = 0, error = NULL, updated_at = $3
                 WHERE id = $1 AND state IN (SELECT value FROM json_each($4))"
            }
            super::Engine::Postgres(_) => {
                "UPDATE roster_imports SET state = $2, done = 0, error = NULL, updated_at = $3
                 WHERE id = $1 AND state IN (SELECT jsonb_array_elements_text($4::jsonb))"
            }
        };
        let n = execute!(self.writer(), sql, id, state, now_ms, from)?;
        Ok(n > 0)
    }

    /// A running import's progress (also its sign of life: see `updated_at`).
    pub async fn roster_import_progress(
        &self,
        id: Uuid,
        done: i64,
        total: i64,
        now_ms: i64,
    ) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE roster_imports SET done = $2, total = $3, updated_at = $4 WHERE id = $1",
            id,
            done,
            total,
            now_ms,
        )?;
        Ok(())
    }

    /// The end of a run: its state, report and error; an import's file is dropped once it has
    /// been imported (the records hold the data now, sealed where personal).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_roster_import(
        &self,
        id: Uuid,
        state: &str,
        summary: Option<&Value>,
        report: Option<&[u8]>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE roster_imports SET state = $2, summary = $3, report = $4, error = $5,
                 updated_at = $6,
                 file = CASE WHEN $2 = 'imported' THEN NULL ELSE file END,
                 mapping = CASE WHEN $2 = 'imported' THEN NULL ELSE mapping END
             WHERE id = $1",
            id,
            state,
            summary.map(Json),
            report,
            error,
            now_ms,
        )?;
        Ok(())
    }

    /// The last run's report as CSV.
    pub async fn roster_import_report(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        let r: Option<Option<Vec<u8>>> = fetch_scalar!(
            self.reader(),
            fetch_optional,
            Option<Vec<u8>>,
            "SELECT report FROM roster_imports WHERE id = $1",
            id,
        )?;
        Ok(r.flatten())
    }

    /// Drops the files of uploads nobody imported within `keep_ms`: they hold personal data
    /// that is of no use once the office has moved on.
    pub async fn drop_stale_roster_files(&self, now_ms: i64, keep_ms: i64) -> Result<u64> {
        Ok(execute!(
            self.writer(),
            "UPDATE roster_imports SET file = NULL, mapping = NULL
             WHERE file IS NOT NULL AND updated_at < $1 AND state <> 'importing'",
            now_ms - keep_ms,
        )?)
    }
}
