//! What the steps of a push share, so that they import it from here and not from each other:
//! the limits a push is checked against ([`PushRules`]), the mutation being planned with its
//! caller ([`Step`]), and the batch as planned so far ([`Batch`], of [`Working`] records).

use std::collections::HashMap;
use std::sync::Arc;

use fieldsync_protocol::Hlc;
use fieldsync_protocol::gps::{GpsFix, GpsVerdict, VillageArea};
use fieldsync_protocol::merge::{self, RecordState};
use fieldsync_protocol::push::Mutation;
use fieldsync_protocol::registry::{self, EntityDef};
use uuid::Uuid;

use super::actor::Actor;
use super::household::household_of;
use crate::geo::Boundary;
use crate::store::{Author, RecordWrite, StoredRecord, SurveyForm, WriteBatch};

/// Limits a push is checked against.
#[derive(Clone, Debug)]
pub struct PushRules {
    pub now_ms: i64,
    /// How far ahead of the server's clock a stamp may be.
    pub max_clock_ahead_ms: i64,
    /// When a GPS fix is doubted.
    pub gps: crate::geo::judge::GpsLimits,
    /// Self-reports one farmer account may send in 24 hours.
    pub self_reports_per_day: i64,
    /// How far back an edit may have been made in a village the cadre has since left.
    pub late_edit_ms: i64,
    /// The year's monitoring line, for risk elimination.
    pub monitoring: crate::config::MonitoringSettings,
}

/// One validated mutation being planned, and the push it is part of: who pushes, under which
/// limits, at what time. Every step of planning reads it; what a step changes is the [`Batch`].
#[derive(Clone, Copy)]
pub(super) struct Step<'a> {
    pub(super) actor: &'a Actor,
    pub(super) rules: &'a PushRules,
    pub(super) m: &'a Mutation,
    pub(super) def: &'static EntityDef,
}

impl Step<'_> {
    /// Who writes what this step sets off: the pushing device and its user.
    pub(super) fn author(&self) -> Author {
        self.actor.author()
    }

    /// The stamp of a server write this mutation sets off: after the mutation's own.
    pub(super) fn server_stamp(&self) -> Hlc {
        merge::stamp_after(
            Some(self.m.hlc),
            self.actor.device_id,
            u64::try_from(self.rules.now_ms).unwrap_or_default(),
        )
    }
}

/// A record as the batch sees it.
pub(super) struct Working {
    pub(super) entity: String,
    pub(super) scope: String,
    pub(super) state: RecordState,
    pub(super) in_db: bool,
    pub(super) dirty: bool,
    pub(super) gps: Option<GpsFix>,
    pub(super) gps_verdict: Option<GpsVerdict>,
    /// The user whose push changed it last in this batch.
    pub(super) by: Uuid,
}

impl Working {
    /// A record read (and locked) from the database.
    fn stored(row: StoredRecord) -> (Uuid, Working) {
        let (id, entity, scope, state) = row.into_state();
        let w = Working {
            entity,
            scope,
            state,
            in_db: true,
            dirty: false,
            gps: None,
            gps_verdict: None,
            by: Uuid::nil(),
        };
        (id, w)
    }

    /// A record the batch creates.
    fn new(entity: &str, scope: &str) -> Working {
        Working {
            entity: entity.to_owned(),
            scope: scope.to_owned(),
            state: RecordState::default(),
            in_db: false,
            dirty: false,
            gps: None,
            gps_verdict: None,
            by: Uuid::nil(),
        }
    }
}

/// Lookups many mutations of a batch repeat (twenty surveys of one form, checks in one
/// village), kept for the batch: a push cannot change them, and a batch is one transaction.
#[derive(Default)]
pub(super) struct Lookups {
    /// Form versions by key and version (`None`: never published); those new surveys name are
    /// read with the push's records (`store::opening`).
    pub(super) forms: HashMap<(String, i64), Option<SurveyForm>>,
    /// The area each village's fixes are held against, parsed (`None`: none stored).
    pub(super) areas: HashMap<String, Option<Arc<(VillageArea, Boundary)>>>,
}

/// The batch as planned so far: the records it holds as it has left them, and what it writes
/// besides (the mutation log, conflicts, fixes). Nothing is written before the whole batch is
/// planned. One batch may hold the pushes of several devices (a group committed together,
/// `super::group`): each mutation is planned against the records as the pushes before it left
/// them, exactly as if those pushes had been committed one by one.
pub(super) struct Batch {
    pub(super) records: HashMap<Uuid, Working>,
    pub(super) writes: WriteBatch,
    /// What its mutations looked up that no push changes, read once for the batch.
    pub(super) lookups: Lookups,
    /// The changed records, in the order they were first changed: the order they are written in.
    order: Vec<Uuid>,
}

impl Batch {
    /// An empty batch at `now_ms`, holding the records read for it.
    pub(super) fn new(now_ms: i64, stored: Vec<StoredRecord>) -> Batch {
        let mut batch = Batch {
            records: HashMap::new(),
            writes: WriteBatch::new(now_ms),
            lookups: Lookups::default(),
            order: Vec::new(),
        };
        batch.hold(stored);
        batch
    }

    /// Holds more records read from the database.
    pub(super) fn hold(&mut self, stored: Vec<StoredRecord>) {
        self.records.extend(stored.into_iter().map(Working::stored));
    }

    /// Marks the held record `id` changed by `by`, and returns it.
    pub(super) fn change(&mut self, id: Uuid, by: Author) -> Option<&mut Working> {
        let w = self.records.get_mut(&id)?;
        if !w.dirty {
            w.dirty = true;
            self.order.push(id);
        }
        w.by = by.user_id;
        Some(w)
    }

    /// [`Batch::change`], holding a new record of `entity` in `scope` first if the batch holds
    /// none with this id.
    pub(super) fn change_or_create(
        &mut self,
        id: Uuid,
        entity: &str,
        scope: &str,
        by: Author,
    ) -> &mut Working {
        let w = self
            .records
            .entry(id)
            .or_insert_with(|| Working::new(entity, scope));
        if !w.dirty {
            w.dirty = true;
            self.order.push(id);
        }
        w.by = by.user_id;
        w
    }

    /// Everything the batch writes: the changed records last, in the order they were first
    /// changed.
    pub(super) fn into_writes(mut self) -> WriteBatch {
        for id in self.order {
            if let Some(w) = self.records.remove(&id).filter(|w| w.dirty) {
                let def = registry::entity(&w.entity);
                self.writes.records.push(RecordWrite {
                    id,
                    entity: def.map_or("unknown", |d| d.name),
                    household_id: def.and_then(|d| household_of(d, id, &w.state.fields)),
                    scope: w.scope,
                    state: w.state,
                    gps: w.gps,
                    gps_verdict: w.gps_verdict,
                    created: !w.in_db,
                    user_id: w.by,
                });
            }
        }
        self.writes
    }
}
