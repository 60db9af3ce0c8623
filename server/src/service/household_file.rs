//! The household file (农户档案): finding a household by what a caller or a visitor knows of it
//! (a name, a phone, the household number, an ID-card number), and everything the server holds
//! about one household on one page: its members, where it stands on the four checks with every
//! check and photo behind it, visits, cases with their steps, tasks, self-reports, conflicts and
//! who changed what from which device.
//!
//! Everything is limited to the caller's villages and role, personal data is disclosed as the
//! role may see it, and every read of it is audited, as on every other page.

use std::collections::{BTreeSet, HashMap};

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::registry::{self, EntityDef};
use serde::Serialize;
use uuid::Uuid;

use super::conflicts::{self, ConflictQuery, ConflictView, StatusFilter};
use super::households::{self, HouseholdChecks};
use super::work::{self, CaseView, Item, Shown};
use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::state::AppState;
use crate::store::{Needle, WorkRecord};

/// At most this many households a search shows; more asks for a narrower search.
pub const FOUND_AT_MOST: usize = 50;
/// The newest changes a household's page lists.
const EDITS_AT_MOST: i64 = 200;

/// A household a search found: enough to tell it from its neighbours.
#[derive(Serialize)]
pub struct Hit {
    pub household: Item,
    /// The member whose name, phone or ID-card number matched, by name; none when the household
    /// itself did.
    pub member: Option<String>,
}

/// What a search found; `more` when there were more than [`FOUND_AT_MOST`].
#[derive(Serialize)]
pub struct Found {
    pub hits: Vec<Hit>,
    pub more: bool,
}

/// Finds households of the caller's villages (or one of them) by `text`: an ID-card number (by
/// keyed hash), a phone number, a household number, or the start of the head's or a member's
/// name.
pub async fn search(
    state: &AppState,
    caller: &Caller,
    text: &str,
    village: Option<&str>,
) -> Result<Found, ServiceError> {
    readers_only(caller)?;
    let needles = needles(text)?;
    let villages: Vec<String> = caller
        .villages_asked(state, village)
        .await?
        .into_iter()
        .collect();
    let store = state.store();
    let limit = i64::try_from(FOUND_AT_MOST + 1).unwrap_or(i64::MAX);
    let mut order: Vec<Uuid> = Vec::new();
    let mut member_of: HashMap<Uuid, Uuid> = HashMap::new();
    for needle in &needles {
        for f in store.find_households(&villages, needle, limit).await? {
            if !order.contains(&f.household_id) {
                order.push(f.household_id);
                if f.entity == registry::MEMBER.name {
                    member_of.insert(f.household_id, f.record_id);
                }
            }
        }
    }
    let more = order.len() > FOUND_AT_MOST;
    order.truncate(FOUND_AT_MOST);

    // The households, and the members that matched, in one read each.
    let mut wanted = order.clone();
    wanted.extend(member_of.values());
    let mut shown = Shown::new(caller);
    let mut households: HashMap<Uuid, WorkRecord> = HashMap::new();
    for (record, household) in store.households_of(&wanted).await? {
        if record == household.id {
            households.insert(record, household);
        }
    }
    let members = member_names(state, caller, &mut shown, member_of.values()).await?;
    let hits = order
        .into_iter()
        .filter_map(|id| {
            let household = households.remove(&id)?;
            Some(Hit {
                household: shown.item(&registry::HOUSEHOLD, household),
                member: member_of.get(&id).and_then(|m| members.get(m).cloned()),
            })
        })
        .collect();
    shown.finish(state).await?;
    Ok(Found { hits, more })
}

/// The names of some members, as the caller may see them.
async fn member_names(
    state: &AppState,
    caller: &Caller,
    shown: &mut Shown<'_>,
    ids: impl Iterator<Item = &Uuid>,
) -> Result<HashMap<Uuid, String>, ServiceError> {
    let mut names = HashMap::new();
    if !access::allowed(caller.role, registry::MEMBER.name, Action::Read) {
        return Ok(names);
    }
    for id in ids {
        let Some(r) = state.store().record(*id).await? else {
            continue;
        };
        let mut fields = serde_json::Map::new();
        if let Some(name) = r.fields.0.get("name") {
            fields.insert("name".into(), name.clone());
        }
        let item = shown.item(
            &registry::MEMBER,
            WorkRecord {
                id: r.id,
                scope: r.scope,
                version: r.version,
                fields: sqlx::types::Json(fields),
                created_at: 0,
            },
        );
        if let Some(name) = work::text(&item.fields, "name") {
            names.insert(*id, name.to_owned());
        }
    }
    Ok(names)
}

/// What a search text can be. An ID-card number is only ever that; digits are a phone or a
/// household number; anything else is the start of a name or a household number.
fn needles(text: &str) -> Result<Vec<Needle>, ServiceError> {
    let text = text.trim();
    let bad =
        |message: &str| ServiceError::invalid(ErrorCode::InvalidValue, message.to_owned()).at("q");
    if text.is_empty() {
        return Err(bad(
            "type a name, a phone number, an ID-card number or a household number",
        ));
    }
    if text.chars().count() > 50 {
        return Err(bad("a search is at most 50 characters"));
    }
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let looks_like_id_card = compact.len() == 18
        && compact[..17].bytes().all(|b| b.is_ascii_digit())
        && compact[17..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'x' || b == b'X');
    if looks_like_id_card {
        registry::idcard::validate(&compact).map_err(|e| bad(&e.to_string()))?;
        return Ok(vec![Needle::IdCard(registry::idcard::normalize(&compact))]);
    }
    if compact.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(vec![
            Needle::Phone(compact.clone()),
            Needle::Number(compact),
        ]);
    }
    Ok(vec![
        Needle::Name(text.to_owned()),
        Needle::Number(text.to_owned()),
    ])
}

/// Only roles that read household registers search them (hotline operators find reports by
/// ID-card number at their desk instead).
pub fn readers_only(caller: &Caller) -> Result<(), ServiceError> {
    if access::allowed(caller.role, registry::HOUSEHOLD.name, Action::Read) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("a {} does not read household registers", caller.role),
        ))
    }
}

/// One change to one of the household's records: who, from which device, when, what.
#[derive(Serialize)]
pub struct EditView {
    pub at_ms: i64,
    pub user_id: Uuid,
    /// The person's name, or their username.
    pub by: String,
    pub device_id: Uuid,
    pub entity: String,
    pub record_id: Uuid,
    /// `create`, `update` or `delete`.
    pub op: String,
    /// `applied`, `conflict`, `rejected` …
    pub status: String,
    /// The fields written (never their values).
    pub fields: Vec<String>,
}

/// Everything about one household, as the caller may see it.
#[derive(Serialize)]
pub struct HouseholdFile {
    pub household: Item,
    pub members: Vec<Item>,
    /// The four checks' current status, and every check and survey with their photos.
    pub checks: HouseholdChecks,
    pub visits: Vec<Item>,
    /// Each case of the household with its steps, newest first.
    pub cases: Vec<CaseView>,
    pub tasks: Vec<Item>,
    pub reports: Vec<Item>,
    /// Conflicts of its records, open and resolved.
    pub conflicts: Vec<ConflictView>,
    /// The newest changes first.
    pub edits: Vec<EditView>,
}

/// The household's file; `not_found` for a household outside the caller's villages.
pub async fn file(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<HouseholdFile, ServiceError> {
    readers_only(caller)?;
    let records = households::readable_household(state, caller, id).await?;
    let (checks, check_reads) = households::checks_in(state, caller, id, &records).await?;
    let mut shown = Shown::new(caller);
    shown.extend(check_reads);

    let mut of = |def: &'static EntityDef| -> Vec<Item> {
        if !access::allowed(caller.role, def.name, Action::Read) {
            return Vec::new();
        }
        records
            .iter()
            .filter(|r| r.entity == def.name)
            .map(|r| {
                shown.item(
                    def,
                    WorkRecord {
                        id: r.id,
                        scope: r.scope.clone(),
                        version: r.version,
                        fields: r.fields.clone(),
                        created_at: r.created_at,
                    },
                )
            })
            .collect()
    };
    let mut household = of(&registry::HOUSEHOLD);
    let members = of(&registry::MEMBER);
    let mut visits = of(&registry::VISIT);
    let mut tasks = of(&registry::TASK);
    let mut reports = of(&registry::SELF_REPORT);
    let case_ids: Vec<Uuid> = of(&registry::CASE).iter().rev().map(|c| c.id).collect();
    let household = household
        .pop()
        .ok_or_else(|| ServiceError::not_found("no such household"))?;
    // Newest first, as a reader of a file looks for what happened last.
    for list in [&mut visits, &mut tasks, &mut reports] {
        list.reverse();
    }
    shown.finish(state).await?;

    let mut cases = Vec::with_capacity(case_ids.len());
    for case in case_ids {
        cases.push(work::case_of(state, caller, case).await?);
    }
    let conflicts = if access::reviews_anything(caller.role) {
        conflicts::list(
            state,
            caller,
            ConflictQuery {
                status: StatusFilter::All,
                record_id: None,
                household_id: Some(id),
                after: None,
                limit: Some(500),
            },
        )
        .await?
        .conflicts
    } else {
        Vec::new()
    };
    let edits = edits(state, id).await?;
    Ok(HouseholdFile {
        household,
        members,
        checks,
        visits,
        cases,
        tasks,
        reports,
        conflicts,
        edits,
    })
}

/// The household's newest changes with their authors' names.
async fn edits(state: &AppState, id: Uuid) -> Result<Vec<EditView>, ServiceError> {
    let store = state.store();
    let rows = store.household_edits(id, EDITS_AT_MOST).await?;
    let authors: BTreeSet<Uuid> = rows.iter().map(|e| e.user_id).collect();
    let mut names = HashMap::new();
    for user in authors {
        if let Some(u) = store.user_by_id(user).await? {
            names.insert(user, u.display_name.unwrap_or(u.username));
        }
    }
    Ok(rows
        .into_iter()
        .map(|e| EditView {
            at_ms: e.received_at,
            user_id: e.user_id,
            by: names.get(&e.user_id).cloned().unwrap_or_default(),
            device_id: e.device_id,
            fields: e.field_names(),
            entity: e.entity,
            record_id: e.record_id,
            op: e.op,
            status: e.status,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_text_is_read_as_what_it_can_be() {
        assert_eq!(
            needles(" 640104196503120133 ").unwrap(),
            vec![Needle::IdCard("640104196503120133".into())]
        );
        assert_eq!(
            needles("13912345678").unwrap(),
            vec![
                Needle::Phone("13912345678".into()),
                Needle::Number("13912345678".into())
            ]
        );
        assert_eq!(
            needles("马德").unwrap(),
            vec![Needle::Name("马德".into()), Needle::Number("马德".into())]
        );
        // A mistyped ID-card number is said to be one, not looked up as a household number.
        let e = needles("640104196503120134").unwrap_err();
        assert!(e.to_string().contains("check digit"), "{e}");
        assert!(needles("   ").is_err());
        assert!(needles(&"马".repeat(51)).is_err());
    }
}
