//! Impossible travel, whatever the order of sync.
//!
//! A fix is held against the same device's fix just before it in time (`geo::judge`). Phones
//! sync late and out of order: the 10:00 check may reach the server after the 10:05 one, in a
//! later push or later in the same batch. The new fix is judged against its predecessor as
//! usual, and the fix just after it — whose predecessor it has now become — is judged again
//! against it. When that changes the later fix's `impossible_travel` doubt, its verdict is
//! revised: a record already stored gets a new version (a server write, logged, pulled by
//! phones) carrying the revised verdict; one earlier in the same batch is revised before it is
//! written. The doubted records are therefore the same in every order of arrival
//! (`tests/api/travel.rs` pushes permutations). Pushes of one device are serialised by its
//! device row, so no other fix of the device can land in between.

use fieldsync_protocol::gps::{Doubt, LatLon};
use fieldsync_protocol::merge;
use fieldsync_protocol::push::{Op, Status};
use fieldsync_protocol::registry;
use serde_json::Map;
use uuid::Uuid;

use super::batch::{Batch, Step};
use super::household::household_of;
use crate::geo::judge::{PreviousFix, impossible_travel};
use crate::store::{Author, MutationWrite, StoreError, Tx};

/// Judges the device's next fix after the one the step's mutation just added to the batch
/// again, against it.
pub(super) async fn revise_next(
    tx: &mut Tx,
    step: &Step<'_>,
    batch: &mut Batch,
) -> Result<(), StoreError> {
    let Step {
        actor, rules, m, ..
    } = *step;
    let Some(new) = batch.writes.fixes.iter().find(|f| f.record_id == m.id) else {
        return Ok(());
    };
    let key = (new.fix_at_ms, new.record_id);
    let before = PreviousFix {
        at: LatLon {
            lat: new.lat,
            lon: new.lon,
        },
        fix_at_ms: new.fix_at_ms,
    };
    let in_batch = batch
        .writes
        .fixes
        .iter()
        .filter(|f| f.by.device_id == actor.device_id)
        .map(|f| (f.fix_at_ms, f.record_id))
        .filter(|k| *k > key)
        .min();
    let stored = tx.next_fix(actor.device_id, key.0, key.1).await?;
    if let Some(b) = in_batch
        && stored.as_ref().is_none_or(|s| b < (s.fix_at, s.record_id))
    {
        // Judged earlier in this batch and not written yet: revise it in place.
        if let Some(w) = batch.records.get_mut(&b.1)
            && let (Some(fix), Some(verdict)) = (&w.gps, &mut w.gps_verdict)
        {
            verdict.set_doubt(
                Doubt::ImpossibleTravel,
                impossible_travel(fix, &before, &rules.gps),
            );
        }
        return Ok(());
    }
    let Some(next) = stored else { return Ok(()) };
    let Some(fix) = next.gps else { return Ok(()) };
    let doubted = impossible_travel(&fix.0, &before, &rules.gps);
    // Revised already in this batch (by a fix before this one): that revision is the latest.
    if let Some(w) = batch.records.get_mut(&next.record_id)
        && w.dirty
        && let Some(verdict) = &mut w.gps_verdict
    {
        verdict.set_doubt(Doubt::ImpossibleTravel, doubted);
        return Ok(());
    }
    let Some(mut verdict) = next.gps_verdict else {
        return Ok(());
    };
    if !verdict.0.set_doubt(Doubt::ImpossibleTravel, doubted) {
        return Ok(());
    }
    let revision = Revision {
        by: step.author(),
        id: next.record_id,
        verdict: verdict.0,
        stamp: step.server_stamp(),
    };
    write_revision(tx, revision, batch).await
}

/// A stored record's revised verdict, and the stamp of the server write that carries it.
struct Revision {
    by: Author,
    id: Uuid,
    verdict: fieldsync_protocol::gps::GpsVerdict,
    stamp: fieldsync_protocol::Hlc,
}

/// A new version of a stored record whose verdict changed: nothing but the verdict differs.
async fn write_revision(
    tx: &mut Tx,
    Revision {
        by,
        id,
        verdict,
        stamp,
    }: Revision,
    batch: &mut Batch,
) -> Result<(), StoreError> {
    if !batch.records.contains_key(&id) {
        batch.hold(tx.lock_records(&[id]).await?);
    }
    let Some(def) = batch
        .records
        .get(&id)
        .and_then(|w| registry::entity(&w.entity))
    else {
        return Ok(());
    };
    let Some(w) = batch.change(id, by) else {
        return Ok(());
    };
    w.state = merge::server_write(&w.state, &Map::new(), stamp);
    w.gps_verdict = Some(verdict);
    let logged = MutationWrite {
        by,
        mutation_id: Uuid::now_v7(),
        record_id: id,
        entity: def.name,
        op: Op::Update,
        status: Status::Applied,
        version: w.state.version,
        fields: Vec::new(),
        hlc: stamp,
        gps: None,
        household_id: household_of(def, id, &w.state.fields),
        scope: w.scope.clone(),
    };
    batch.writes.mutations.push(logged);
    Ok(())
}
