//! What a cadre's attendance is computed from: their judged events of a period and their dated
//! assignments.

use std::sync::LazyLock;

use fieldsync_protocol::registry;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Result, Store, entity_list, fetch_as};

/// A record of the cadre with a judged GPS fix.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PresenceEvent {
    /// Who created the record (the cadre).
    pub user_id: Uuid,
    pub record_id: Uuid,
    pub entity: String,
    pub scope: String,
    pub fix_at: i64,
    /// When the server received the record.
    pub received_at: i64,
    pub gps_verdict: Option<Json<Verdict>>,
}

/// What attendance reads of a GPS verdict (the rest of it stays in the record).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Verdict {
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// A record as the attendance reads it (leave requests and decisions hold no personal data
/// that needs opening).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlainRecord {
    pub id: Uuid,
    pub created_by: Uuid,
    pub scope: String,
    pub fields: Json<serde_json::Map<String, serde_json::Value>>,
    pub created_at: i64,
}

/// Which assignments make a cadre of a division for a period: first secretaries and work team
/// members (`u`) assigned (`a`) to a village in `[$1, $2]` (the division's village range) at
/// some time in `[$3, $4]`. One text, spliced in with `concat!`, so that [`Store::cadres_under`]
/// and every batched read take the same cadres.
macro_rules! cadre_assignment {
    () => {
        "a.division_code >= $1 AND a.division_code <= $2
         AND a.starts_on <= $4 AND (a.ends_on IS NULL OR a.ends_on >= $3)
         AND u.role IN ('first_secretary', 'team_member')"
    };
}

pub(super) use cadre_assignment;

/// The ids of the cadres of a division for a period (binds as [`cadre_assignment!`]), as a
/// subquery.
macro_rules! selected_cadres {
    () => {
        concat!(
            "SELECT a.user_id FROM assignments a JOIN users u ON u.id = a.user_id WHERE ",
            cadre_assignment!()
        )
    };
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AssignmentSpan {
    pub user_id: Uuid,
    pub division_code: String,
    pub starts_on: String,
    pub ends_on: Option<String>,
}

/// A cadre assigned to a village of a division during a period, for the township table.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CadreRow {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub division_code: String,
}

/// A household of a village and its visits (and checks) in a period, for coverage.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CoverageRow {
    pub household_id: Uuid,
    pub fields: Json<serde_json::Map<String, serde_json::Value>>,
    /// Visits and checks in the period.
    pub visits: i64,
    pub last_visit_ms: Option<i64>,
}

/// One entry of a sheet's review log.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub month: String,
    /// `approve`, `return`, `reply` or `accept_event`.
    pub action: String,
    pub by_user: Uuid,
    pub comment: Option<String>,
    pub event_id: Option<Uuid>,
    /// The sheet as approved (JSON), on approvals.
    pub snapshot: Option<String>,
    pub at: i64,
}

/// Every live household of a village with the records made at it (visits and checks) in a
/// time range: how many, and the last.
static COVERAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH seen AS (
             SELECT r.household_id, COALESCE(g.fix_at, r.created_at) AS at
             FROM records r LEFT JOIN gps_fixes g ON g.record_id = r.id
             WHERE r.scope = $1 AND r.entity IN ({})
         )
         SELECT h.id AS household_id, h.fields,
                (SELECT COUNT(*) FROM seen s
                  WHERE s.household_id = h.id AND s.at >= $2 AND s.at < $3) AS visits,
                (SELECT MAX(s.at) FROM seen s
                  WHERE s.household_id = h.id AND s.at >= $2 AND s.at < $3) AS last_visit_ms
         FROM records h
         WHERE h.entity = 'household' AND h.scope = $1 AND NOT h.deleted
         ORDER BY h.id",
        entity_list(&registry::AT_HOUSEHOLD)
    )
});

impl Store {
    pub async fn add_review(&self, r: &ReviewRow) -> Result<()> {
        super::execute!(
            self.writer(),
            "INSERT INTO attendance_reviews (id, user_id, month, action, by_user, comment, event_id,
                 snapshot, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            r.id,
            r.user_id,
            &r.month,
            &r.action,
            r.by_user,
            &r.comment,
            r.event_id,
            &r.snapshot,
            r.at,
        )?;
        Ok(())
    }

    /// First secretaries and work team members assigned to villages below `division` at some
    /// time in `[from, to]`: one row per cadre and village, by village then name.
    pub async fn cadres_under(
        &self,
        division: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<CadreRow>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            CadreRow,
            concat!(
                "SELECT DISTINCT u.id AS user_id, u.username, u.display_name, u.role,
                        a.division_code
                 FROM assignments a JOIN users u ON u.id = a.user_id WHERE ",
                cadre_assignment!(),
                " ORDER BY a.division_code, u.username"
            ),
            lo,
            hi,
            from,
            to,
        )?)
    }

    /// Every live household of a village with the number of visits and checks made at it in
    /// `[from_ms, to_ms)` (by the fix's time, else by when the server received them).
    pub async fn village_coverage(
        &self,
        village: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CoverageRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            CoverageRow,
            COVERAGE.as_str(),
            village,
            from_ms,
            to_ms,
        )?)
    }

    /// A sheet's review log, oldest first.
    pub async fn reviews(&self, user_id: Uuid, month: &str) -> Result<Vec<ReviewRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            ReviewRow,
            "SELECT id, user_id, month, action, by_user, comment, event_id, snapshot, at
             FROM attendance_reviews WHERE user_id = $1 AND month = $2 ORDER BY at, id",
            user_id,
            month,
        )?)
    }

    /// The user's events whose fix was taken in `[from_ms, to_ms)`, whenever they were synced.
    pub async fn presence_events(
        &self,
        user_id: Uuid,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<PresenceEvent>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            PresenceEvent,
            "SELECT r.created_by AS user_id, r.id AS record_id, r.entity, r.scope, g.fix_at,
                    r.created_at AS received_at, r.gps_verdict
             FROM gps_fixes g JOIN records r ON r.id = g.record_id
             WHERE r.created_by = $1 AND g.fix_at >= $2 AND g.fix_at < $3
             ORDER BY g.fix_at, r.id",
            user_id,
            from_ms,
            to_ms,
        )?)
    }

    /// The records of `entity` the user created, oldest first.
    pub async fn records_created_by(
        &self,
        user_id: Uuid,
        entity: &str,
    ) -> Result<Vec<PlainRecord>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            PlainRecord,
            "SELECT id, created_by, scope, fields, created_at FROM records
             WHERE created_by = $1 AND entity = $2 AND NOT deleted ORDER BY created_at, id",
            user_id,
            entity,
        )?)
    }

    /// The records of `entity` in a village, oldest first.
    pub async fn records_in_village(&self, entity: &str, scope: &str) -> Result<Vec<PlainRecord>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            PlainRecord,
            "SELECT id, created_by, scope, fields, created_at FROM records
             WHERE entity = $1 AND scope = $2 AND NOT deleted ORDER BY created_at, id",
            entity,
            scope,
        )?)
    }

    /// The user's assignments that overlap `[from, to]` (`YYYY-MM-DD`).
    pub async fn assignment_spans(
        &self,
        user_id: Uuid,
        from: &str,
        to: &str,
    ) -> Result<Vec<AssignmentSpan>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            AssignmentSpan,
            "SELECT user_id, division_code, starts_on, ends_on FROM assignments
             WHERE user_id = $1 AND starts_on <= $3 AND (ends_on IS NULL OR ends_on >= $2)
             ORDER BY starts_on, division_code",
            user_id,
            from,
            to,
        )?)
    }

    // Batched reads for every cadre below a division (the township table, the console): each
    // returns for all the cadres `cadres_under(division, from, to)` lists what the per-cadre read
    // above returns for one, in the same order within each cadre, so that grouping the rows by
    // cadre gives the same sheets in a handful of queries instead of six per cadre.

    /// The assignments overlapping `[from, to]` (`YYYY-MM-DD`) of every cadre below `division`
    /// (all of their assignments, not only those below it, as [`Store::assignment_spans`]).
    /// Every such cadre has at least one.
    pub async fn assignment_spans_under(
        &self,
        division: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<AssignmentSpan>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            AssignmentSpan,
            concat!(
                "SELECT user_id, division_code, starts_on, ends_on FROM assignments
                 WHERE user_id IN (",
                selected_cadres!(),
                ") AND starts_on <= $4 AND (ends_on IS NULL OR ends_on >= $3)
                 ORDER BY starts_on, division_code"
            ),
            lo,
            hi,
            from,
            to,
        )?)
    }

    /// The review logs of `month` of every cadre below `division` assigned in `[from, to]`,
    /// each oldest first.
    pub async fn reviews_under(
        &self,
        division: &str,
        from: &str,
        to: &str,
        month: &str,
    ) -> Result<Vec<ReviewRow>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            ReviewRow,
            concat!(
                "SELECT id, user_id, month, action, by_user, comment, event_id, snapshot, at
                 FROM attendance_reviews WHERE user_id IN (",
                selected_cadres!(),
                ") AND month = $5 ORDER BY at, id"
            ),
            lo,
            hi,
            from,
            to,
            month,
        )?)
    }

    /// The events of every cadre below `division` assigned in `[from, to]` whose fix was taken
    /// in `[from_ms, to_ms)`: selected by who created them, wherever that was (as
    /// [`Store::presence_events`]), in no order (each cadre's few are sorted by the caller).
    ///
    /// On SQLite, one row per cadre carrying their events as a JSON array: a county's month is
    /// ~54,000 events, and read one row each the driver's per-row cost was nearly all of the
    /// time (0.6 s for a query the database answers in 60 ms). PostgreSQL's rows are cheap and
    /// its JSON aggregation is not: there, a row per event.
    pub async fn presence_events_under(
        &self,
        division: &str,
        from: &str,
        to: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<PresenceEvent>> {
        let (lo, hi) = super::identity::village_range(division);
        if let super::Engine::Postgres(_) = self.reader() {
            return Ok(fetch_as!(
                self.reader(),
                fetch_all,
                PresenceEvent,
                concat!(
                    "SELECT r.created_by AS user_id, r.id AS record_id, r.entity, r.scope,
                            g.fix_at, r.created_at AS received_at, r.gps_verdict
                     FROM gps_fixes g JOIN records r ON r.id = g.record_id
                     WHERE r.created_by IN (",
                    selected_cadres!(),
                    ") AND g.fix_at >= $5 AND g.fix_at < $6"
                ),
                lo,
                hi,
                from,
                to,
                from_ms,
                to_ms,
            )?);
        }
        // Record ids as 32 hex digits, of the verdict only what the sheet reads.
        let rows = fetch_as!(
            self.reader(),
            fetch_all,
            (Uuid, String),
            concat!(
                "SELECT r.created_by, json_group_array(json_array(hex(r.id), r.entity, r.scope,
                        g.fix_at, r.created_at, r.gps_verdict ->> '$.ok' = 1,
                        r.gps_verdict -> '$.reasons'))
                 FROM gps_fixes g JOIN records r ON r.id = g.record_id
                 WHERE r.created_by IN (",
                selected_cadres!(),
                ") AND g.fix_at >= $5 AND g.fix_at < $6 GROUP BY r.created_by"
            ),
            lo,
            hi,
            from,
            to,
            from_ms,
            to_ms,
        )?;
        // `ok` as SQLite writes a comparison: 0 or 1 (null: no verdict).
        type Packed = (
            String,
            String,
            String,
            i64,
            i64,
            Option<i64>,
            Option<Vec<String>>,
        );
        let mut out = Vec::new();
        for (user_id, events) in rows {
            let events: Vec<Packed> = serde_json::from_str(&events)
                .map_err(|e| super::StoreError::Corrupt(format!("packed events: {e}")))?;
            for (id, entity, scope, fix_at, received_at, ok, reasons) in events {
                let record_id = Uuid::parse_str(&id)
                    .map_err(|e| super::StoreError::Corrupt(format!("record id {id:?}: {e}")))?;
                let ok = ok.map(|n| n != 0);
                // A record without a verdict has none.
                let gps_verdict = ok.map(|ok| {
                    Json(Verdict {
                        ok,
                        reasons: reasons.unwrap_or_default(),
                    })
                });
                out.push(PresenceEvent {
                    user_id,
                    record_id,
                    entity,
                    scope,
                    fix_at,
                    received_at,
                    gps_verdict,
                });
            }
        }
        Ok(out)
    }

    /// The live records of `entity` that the cadres below `division` assigned in `[from, to]`
    /// created, each cadre's oldest first (as [`Store::records_created_by`]).
    pub async fn records_created_under(
        &self,
        division: &str,
        from: &str,
        to: &str,
        entity: &str,
    ) -> Result<Vec<PlainRecord>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            PlainRecord,
            concat!(
                "SELECT id, created_by, scope, fields, created_at FROM records
                 WHERE created_by IN (",
                selected_cadres!(),
                ") AND entity = $5 AND NOT deleted ORDER BY created_at, id"
            ),
            lo,
            hi,
            from,
            to,
            entity,
        )?)
    }

    /// The live records of `entity` in every village where a cadre below `division` assigned
    /// in `[from, to]` created a live record of `made_there` (the leave decisions of the
    /// villages of their leave requests), oldest first (as [`Store::records_in_village`]).
    pub async fn records_in_villages_under(
        &self,
        division: &str,
        from: &str,
        to: &str,
        entity: &str,
        made_there: &str,
    ) -> Result<Vec<PlainRecord>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            PlainRecord,
            concat!(
                "SELECT id, created_by, scope, fields, created_at FROM records
                 WHERE entity = $5 AND NOT deleted AND scope IN (
                     SELECT m.scope FROM records m
                     WHERE m.entity = $6 AND NOT m.deleted AND m.created_by IN (",
                selected_cadres!(),
                ")) ORDER BY created_at, id"
            ),
            lo,
            hi,
            from,
            to,
            entity,
            made_there,
        )?)
    }
}
