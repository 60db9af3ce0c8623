//! What judging and checking observations needs from the database: published survey forms,
//! earlier GPS fixes, village areas, and a household's checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use fieldsync_protocol::forms::FormDef;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Result, Store, StoreError, Tx, execute, fetch_as, fetch_scalar};

/// A published form version and when it was retired, if it was.
#[derive(Clone, Debug)]
pub struct PublishedForm {
    pub definition: FormDef,
    pub published_at: i64,
    /// Who published it from the console (`None`: from the command line).
    pub published_by: Option<Uuid>,
    pub retired_at: Option<i64>,
}

/// What a push judges a survey against: its form version's definition and when the version
/// was retired, if it was.
#[derive(Clone, Debug)]
pub struct SurveyForm {
    pub definition: Arc<FormDef>,
    pub retired_at: Option<i64>,
}

impl From<PublishedForm> for SurveyForm {
    fn from(f: PublishedForm) -> Self {
        SurveyForm {
            definition: Arc::new(f.definition),
            retired_at: f.retired_at,
        }
    }
}

/// The form definitions pushes have read, by key and version. A published version never
/// changes ([`Store::publish_form`]), so a definition read once serves every later push, on
/// any replica; a push reads its retirement, which can change, and only the definitions not
/// read before (`opening`). Bounded by the forms published.
#[derive(Default)]
pub(super) struct FormCache(Mutex<HashMap<(String, i64), Arc<FormDef>>>);

impl FormCache {
    pub(super) fn get(&self, key: &(String, i64)) -> Option<Arc<FormDef>> {
        self.map().get(key).cloned()
    }

    pub(super) fn insert(&self, key: (String, i64), definition: Arc<FormDef>) {
        self.map().insert(key, definition);
    }

    fn map(&self) -> MutexGuard<'_, HashMap<(String, i64), Arc<FormDef>>> {
        // Held for one lookup or insert, never across an await: a panic cannot leave it half
        // changed.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A form version's row.
#[derive(sqlx::FromRow)]
pub(super) struct FormRow {
    definition: Json<FormDef>,
    published_at: i64,
    published_by: Option<Uuid>,
    retired_at: Option<i64>,
}

impl From<FormRow> for PublishedForm {
    fn from(r: FormRow) -> Self {
        PublishedForm {
            definition: r.definition.0,
            published_at: r.published_at,
            published_by: r.published_by,
            retired_at: r.retired_at,
        }
    }
}

/// A stored fix of a device with its record's fix and verdict, to judge it again when a late
/// fix lands before it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredFix {
    pub record_id: Uuid,
    pub fix_at: i64,
    pub gps: Option<Json<fieldsync_protocol::gps::GpsFix>>,
    pub gps_verdict: Option<Json<fieldsync_protocol::gps::GpsVerdict>>,
}

/// An administrator's centre and radius for a village.
#[derive(Clone, Copy, Debug, PartialEq, sqlx::FromRow)]
pub struct VillageArea {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
}

/// A division's shape as imported: its code, the GeoJSON geometry (WGS-84) and its size.
#[derive(Clone, Debug)]
pub struct DivisionShape {
    pub code: String,
    pub geometry: Value,
    pub vertices: i64,
}

/// The area a village's fixes are held against, as stored: its own shape, its circle, or its
/// township's shape (the county's is built in).
#[derive(Clone, Debug, PartialEq)]
pub enum StoredArea {
    VillageShape(Value),
    VillageCircle(VillageArea),
    TownshipShape(Value),
}

/// A record of a household, decrypted, for its check history.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HouseholdRecord {
    pub id: Uuid,
    pub entity: String,
    pub scope: String,
    pub version: i64,
    pub fields: Json<Map<String, Value>>,
    pub gps_verdict: Option<Json<Value>>,
    pub created_at: i64,
}

impl Store {
    /// Publishes a form version. Fails with [`StoreError::Duplicate`] if it exists: a published
    /// version never changes.
    pub async fn publish_form(&self, form: &FormDef, by: Option<Uuid>, now_ms: i64) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO forms (key, version, definition, published_at, published_by) VALUES ($1, $2, $3, $4, $5)",
            &form.key,
            i64::from(form.version),
            Json(form),
            now_ms,
            by,
        )
        .map_err(StoreError::from_db)?;
        Ok(())
    }

    /// Retires a form version: submissions taken after `now_ms` are refused. Returns whether
    /// the version exists.
    pub async fn retire_form(&self, key: &str, version: u32, now_ms: i64) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "UPDATE forms SET retired_at = COALESCE(retired_at, $3) WHERE key = $1 AND version = $2",
            key,
            i64::from(version),
            now_ms,
        )?;
        Ok(n > 0)
    }

    /// Every form version, newest first within a key.
    pub async fn forms(&self) -> Result<Vec<PublishedForm>> {
        let rows: Vec<FormRow> = fetch_as!(
            self.reader(),
            fetch_all,
            FormRow,
            "SELECT definition, published_at, published_by, retired_at FROM forms ORDER BY key, version DESC",
        )?;
        Ok(rows.into_iter().map(PublishedForm::from).collect())
    }

    /// How many surveys were captured on each form version: `(key, version, surveys)`. One
    /// pass over the surveys through the `(entity, scope)` index, for the forms page.
    pub async fn surveys_by_form_version(&self) -> Result<Vec<(String, u32, i64)>> {
        let sql = match self.reader() {
            super::Engine::Sqlite(_) => {
                "SELECT json_extract(fields, '$.form_key'),
                     CAST(json_extract(fields, '$.form_version') AS TEXT), COUNT(*)
                 FROM records WHERE entity = 'survey_submission' AND NOT deleted
                 GROUP BY 1, 2"
            }
            super::Engine::Postgres(_) => {
                "SELECT fields->>'form_key', fields->>'form_version', COUNT(*)
                 FROM records WHERE entity = 'survey_submission' AND NOT deleted
                 GROUP BY 1, 2"
            }
        };
        let rows: Vec<(Option<String>, Option<String>, i64)> = fetch_as!(
            self.reader(),
            fetch_all,
            (Option<String>, Option<String>, i64),
            sql
        )?;
        // A survey is checked against a published version before it is kept, so every row
        // names one; the filter only keeps a hand-edited database from breaking the page.
        Ok(rows
            .into_iter()
            .filter_map(|(key, version, n)| Some((key?, version?.parse().ok()?, n)))
            .collect())
    }

    /// All records of a household (itself, members, checks, surveys), oldest first.
    pub async fn household_records(&self, household_id: Uuid) -> Result<Vec<HouseholdRecord>> {
        let mut rows: Vec<HouseholdRecord> = fetch_as!(
            self.reader(),
            fetch_all,
            HouseholdRecord,
            "SELECT id, entity, scope, version, fields, gps_verdict, created_at FROM records
             WHERE household_id = $1 AND NOT deleted ORDER BY seq",
            household_id,
        )?;
        for r in &mut rows {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
        }
        Ok(rows)
    }

    /// Stores imported shapes (replacing earlier ones of the same codes) in one transaction;
    /// a village's circle gives way to its new shape.
    pub async fn import_division_shapes(
        &self,
        shapes: &[DivisionShape],
        source_crs: &str,
        by: Option<Uuid>,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for s in shapes {
            execute!(
                tx.conn(),
                "INSERT INTO division_shapes (code, shape, vertices, source_crs, set_at, set_by)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (code) DO UPDATE SET shape = excluded.shape, vertices = excluded.vertices,
                     source_crs = excluded.source_crs, set_at = excluded.set_at, set_by = excluded.set_by",
                &s.code,
                s.geometry.to_string(),
                s.vertices,
                source_crs,
                now_ms,
                by,
            )
            .map_err(StoreError::from_db)?;
            execute!(
                tx.conn(),
                "DELETE FROM village_areas WHERE code = $1",
                &s.code
            )?;
        }
        tx.commit().await
    }

    /// Sets a village's circle; its imported shape, if any, gives way.
    pub async fn set_village_area(
        &self,
        code: &str,
        area: VillageArea,
        by: Option<Uuid>,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            "DELETE FROM division_shapes WHERE code = $1",
            code
        )?;
        execute!(
            tx.conn(),
            "INSERT INTO village_areas (code, lat, lon, radius_m, set_at, set_by) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (code) DO UPDATE SET lat = excluded.lat, lon = excluded.lon,
                 radius_m = excluded.radius_m, set_at = excluded.set_at, set_by = excluded.set_by",
            code,
            area.lat,
            area.lon,
            area.radius_m,
            now_ms,
            by,
        )
        .map_err(StoreError::from_db)?;
        tx.commit().await
    }
}

impl Tx {
    pub async fn form(&mut self, key: &str, version: i64) -> Result<Option<PublishedForm>> {
        let row: Option<FormRow> = fetch_as!(
            self.conn(),
            fetch_optional,
            FormRow,
            "SELECT definition, published_at, published_by, retired_at FROM forms WHERE key = $1 AND version = $2",
            key,
            version,
        )?;
        Ok(row.map(PublishedForm::from))
    }

    /// The area a village's fixes are held against, when an administrator gave one for the
    /// village or its township.
    pub async fn village_area(&mut self, code: &str) -> Result<Option<StoredArea>> {
        let shapes: Vec<(String, String)> = fetch_as!(
            self.conn(),
            fetch_all,
            (String, String),
            "SELECT code, shape FROM division_shapes
             WHERE code = $1 OR code = (SELECT parent_code FROM divisions WHERE code = $1)",
            code,
        )?;
        let parse = |text: &str| {
            serde_json::from_str::<Value>(text)
                .map_err(|e| StoreError::Corrupt(format!("division shape: {e}")))
        };
        if let Some((_, shape)) = shapes.iter().find(|(c, _)| c == code) {
            return Ok(Some(StoredArea::VillageShape(parse(shape)?)));
        }
        let circle = fetch_as!(
            self.conn(),
            fetch_optional,
            VillageArea,
            "SELECT lat, lon, radius_m FROM village_areas WHERE code = $1",
            code,
        )?;
        if let Some(c) = circle {
            return Ok(Some(StoredArea::VillageCircle(c)));
        }
        match shapes.first() {
            Some((_, shape)) => Ok(Some(StoredArea::TownshipShape(parse(shape)?))),
            None => Ok(None),
        }
    }

    /// The device's fix just before the fix of record `record_id` at `fix_at_ms` (WGS-84):
    /// `(lat, lon, fix_at_ms, record_id)`. Fixes are ordered by time, then by record id, so two at the
    /// same instant still have an order that does not depend on which arrived first.
    pub async fn previous_fix(
        &mut self,
        device_id: Uuid,
        fix_at_ms: i64,
        record_id: Uuid,
    ) -> Result<Option<(f64, f64, i64, Uuid)>> {
        Ok(fetch_as!(
            self.conn(),
            fetch_optional,
            (f64, f64, i64, Uuid),
            "SELECT lat, lon, fix_at, record_id FROM gps_fixes
             WHERE device_id = $1 AND (fix_at < $2 OR (fix_at = $2 AND record_id < $3))
             ORDER BY fix_at DESC, record_id DESC LIMIT 1",
            device_id,
            fix_at_ms,
            record_id,
        )?)
    }

    /// The device's stored fix just after the fix of record `record_id` at `fix_at_ms` (the
    /// order of [`Tx::previous_fix`]), with the record's fix as the phone sent it and the
    /// verdict it was given.
    pub async fn next_fix(
        &mut self,
        device_id: Uuid,
        fix_at_ms: i64,
        record_id: Uuid,
    ) -> Result<Option<StoredFix>> {
        Ok(fetch_as!(
            self.conn(),
            fetch_optional,
            StoredFix,
            "SELECT g.record_id, g.fix_at, r.gps, r.gps_verdict
             FROM gps_fixes g JOIN records r ON r.id = g.record_id
             WHERE g.device_id = $1 AND (g.fix_at > $2 OR (g.fix_at = $2 AND g.record_id > $3))
             ORDER BY g.fix_at, g.record_id LIMIT 1",
            device_id,
            fix_at_ms,
            record_id,
        )?)
    }

    /// How many records of `entity` the user created since `since_ms` (server time).
    pub async fn created_since(
        &mut self,
        user_id: Uuid,
        entity: &str,
        since_ms: i64,
    ) -> Result<i64> {
        Ok(fetch_scalar!(
            self.conn(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM records WHERE created_by = $1 AND entity = $2 AND created_at >= $3",
            user_id,
            entity,
            since_ms,
        )?)
    }

    /// Whether exactly these coordinates were recorded anywhere but at this household.
    pub async fn coordinates_seen_elsewhere(
        &mut self,
        lat: f64,
        lon: f64,
        household_id: Uuid,
    ) -> Result<bool> {
        let n: i64 = fetch_scalar!(
            self.conn(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM gps_fixes WHERE lat = $1 AND lon = $2
                 AND (household_id IS NULL OR household_id <> $3)",
            lat,
            lon,
            household_id,
        )?;
        Ok(n > 0)
    }
}
