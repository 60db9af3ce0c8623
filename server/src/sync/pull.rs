//! What a pull returns: every change in the caller's villages after the cursor, never skipping
//! one (see `crate::store` for why sequence order is commit order), in pages.

use std::collections::BTreeSet;

use fieldsync_protocol::pull::{Change, PullResponse};
use fieldsync_protocol::registry::{self, Personal};

use super::actor::Actor;
use super::cursor::{BadCursor, Cursor, scope_hash};
use super::household::household_of;
use crate::access::{self, Action};
use crate::privacy;
use crate::store::{AuditAction, AuditEntry, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cursor(#[from] BadCursor),
}

/// One page of changes for a device whose user may see `villages` now.
pub async fn pull(
    store: &Store,
    actor: &Actor,
    cursor: Option<&str>,
    limit: usize,
    now_ms: i64,
) -> Result<PullResponse, PullError> {
    let villages = &actor.villages;
    let limit = limit.max(1);
    let cur = match cursor {
        Some(c) => Cursor::decode(c)?,
        // The first pull streams every village from zero up to the current head, then follows
        // changes after it.
        None => Cursor::new(store.head_seq().await?, String::new(), None),
    };
    let before: BTreeSet<String> = if cur.h.is_empty() {
        BTreeSet::new()
    } else {
        store
            .scope_set(&cur.h)
            .await?
            .ok_or(BadCursor)?
            .into_iter()
            .collect()
    };
    let mut drop_scopes: Vec<String> = before.difference(villages).cloned().collect();
    // A village half caught up and then taken away was partly delivered: drop it too.
    if let Some((v, _)) = cur
        .c
        .as_ref()
        .filter(|(v, _)| !villages.contains(v) && !before.contains(v))
    {
        drop_scopes.push(v.clone());
    }
    let mut steady: BTreeSet<String> = before.intersection(villages).cloned().collect();
    let pending: Vec<String> = villages.difference(&before).cloned().collect();

    let mut changes: Vec<Change> = Vec::new();
    let mut catching: Option<(String, i64)> = None;
    let mut has_more = false;

    for village in &pending {
        let room = limit - changes.len();
        if room == 0 {
            has_more = true;
            break;
        }
        let from = match &cur.c {
            Some((v, pos)) if v == village => *pos,
            _ => 0,
        };
        let rows = store
            .village_records(village, from, cur.s, to_i64(room + 1))
            .await?;
        if rows.len() > room {
            let last = rows[room - 1].seq;
            changes.extend(rows.into_iter().take(room).map(to_change));
            catching = Some((village.clone(), last));
            has_more = true;
            break;
        }
        changes.extend(rows.into_iter().map(to_change));
        steady.insert(village.clone());
    }

    let mut seq = cur.s;
    if catching.is_none() && !has_more {
        let room = limit - changes.len();
        if room == 0 {
            has_more = true;
        } else {
            let steady_list: Vec<String> = steady.iter().cloned().collect();
            let rows = store
                .records_after(&steady_list, cur.s, to_i64(room + 1))
                .await?;
            has_more = rows.len() > room;
            let taken: Vec<_> = rows.into_iter().take(room).collect();
            if let Some(last) = taken.last() {
                seq = last.seq;
            }
            changes.extend(taken.into_iter().map(to_change));
        }
    }

    let hash = scope_hash(&steady);
    if hash != cur.h && !hash.is_empty() {
        let list: Vec<String> = steady.iter().cloned().collect();
        store.save_scope_set(&hash, &list, now_ms).await?;
    }
    // Personal data leaves the server only as far as the role may see it, and only recorded.
    changes.retain(|c| access::allowed(actor.role, &c.entity, Action::Read));
    let mut audit = Vec::new();
    for c in &mut changes {
        let Some(def) = registry::entity(&c.entity) else {
            continue;
        };
        privacy::disclose(actor.role, def, &mut c.fields);
        let personal: Vec<String> = def
            .fields
            .iter()
            .filter(|f| f.personal != Personal::None && c.fields.contains_key(f.name))
            .map(|f| f.name.to_owned())
            .collect();
        if !personal.is_empty() {
            audit.push(AuditEntry {
                user_id: actor.user_id,
                device_id: Some(actor.device_id),
                action: AuditAction::Read,
                entity: def.name,
                record_id: c.id,
                household_id: household_of(def, c.id, &c.fields),
                scope: Some(c.scope.clone()),
                fields: personal,
            });
        }
    }
    store.append_audit(&audit, now_ms).await?;
    Ok(PullResponse {
        changes,
        cursor: Cursor::new(seq, hash, catching).encode(),
        has_more,
        drop_scopes,
        scopes: villages.iter().cloned().collect(),
    })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_change(r: crate::store::PulledRecord) -> Change {
    Change {
        entity: r.entity,
        id: r.id,
        version: u64::try_from(r.version).unwrap_or_default(),
        deleted: r.deleted,
        scope: r.scope,
        fields: if r.deleted {
            Default::default()
        } else {
            r.fields.0
        },
        gps_verdict: r.gps_verdict.map(|v| v.0),
    }
}
