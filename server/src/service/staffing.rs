//! Staffing by village class, for the console and the command line: each village below a
//! division with its class (`staffing::category`) and its team on a day, and the shortfall list
//! (the villages whose team falls short that day or on a later day it changes, a planned
//! handover that leaves a gap included). An admin reads any division; a county officer or a
//! township supervisor those at or below a division they are assigned to today (another one
//! is not found, as an unknown one). Only an admin designates a village's class (A, a
//! resettlement village; D, not an out-of-poverty village of a B or C county), audited
//! (`village_category_set` / `village_category_cleared`, entity `village`) in the same
//! transaction.

use std::collections::HashMap;

use fieldsync_protocol::{ErrorCode, Role};
use time::Date;
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::clock;
use crate::staffing::{Category, Gap, Post, Posting, Staff, gaps};
use crate::state::AppState;
use crate::store::{AuditAction, AuditEntry, Division, PostingRow, Store, village_record};

/// The roles that read staffing.
pub const READERS: &[Role] = &[Role::Admin, Role::CountyOfficer, Role::TownshipSupervisor];

/// A village with its class and its team.
#[derive(Clone, Debug)]
pub struct VillageStaffing {
    pub code: String,
    pub name: String,
    pub category: Category,
    /// The class is an administrator's designation, not the county's.
    pub designated: bool,
    /// The team on the day asked.
    pub staff: Staff,
    /// When, from the day asked, the team falls short.
    pub gaps: Vec<Gap>,
}

/// The villages of a division on a day.
#[derive(Clone, Debug)]
pub struct Report {
    pub division: Division,
    pub on: Date,
    pub villages: Vec<VillageStaffing>,
}

impl Report {
    /// The shortfall list: every period a village is short, those of the day asked first, then
    /// by the day it starts and the village.
    pub fn shortfalls(&self) -> Vec<(&VillageStaffing, &Gap)> {
        let mut out: Vec<(&VillageStaffing, &Gap)> = self
            .villages
            .iter()
            .flat_map(|v| v.gaps.iter().map(move |g| (v, g)))
            .collect();
        out.sort_by(|a, b| (a.1.from, &a.0.code).cmp(&(b.1.from, &b.0.code)));
        out
    }
}

/// The staffing of `division` on `on`, as `caller` may read it.
pub async fn report(
    state: &AppState,
    caller: &Caller,
    division: &str,
    on: Date,
) -> Result<Report, ServiceError> {
    may_read(state, caller, division).await?;
    report_of(state.store(), division, on).await
}

/// The staffing of `division` on `on`, for whoever runs the server (the command line).
pub async fn report_of(store: &Store, division: &str, on: Date) -> Result<Report, ServiceError> {
    let found = store
        .division(division)
        .await?
        .ok_or_else(|| no_division(division))?;
    let villages = store.village_classes(division).await?;
    let mut postings: HashMap<String, Vec<Posting>> = HashMap::new();
    for row in store.postings_under(division, &clock::iso(on)).await? {
        if let Some((village, posting)) = posting_of(row)? {
            postings.entry(village).or_default().push(posting);
        }
    }
    let villages = villages
        .into_iter()
        .map(|v| {
            let designated = v.designated.as_deref().and_then(Category::parse);
            let category = Category::of_village(&v.code, designated);
            let theirs = postings.remove(&v.code).unwrap_or_default();
            VillageStaffing {
                staff: Staff::on(&theirs, on),
                gaps: gaps(&theirs, category.need(), on),
                code: v.code,
                name: v.name,
                category,
                designated: designated.is_some(),
            }
        })
        .collect();
    Ok(Report {
        division: found,
        on,
        villages,
    })
}

fn posting_of(row: PostingRow) -> Result<Option<(String, Posting)>, ServiceError> {
    let Some(post) = Post::of_role(&row.role) else {
        return Ok(None);
    };
    let date = |text: &str| {
        clock::parse_date(text).ok_or_else(|| {
            ServiceError::internal(format!(
                "assignment of {} to {} has the date {text:?}",
                row.user_id, row.village
            ))
        })
    };
    let starts_on = date(&row.starts_on)?;
    let ends_on = row.ends_on.as_deref().map(date).transpose()?;
    let posting = Posting {
        user_id: row.user_id,
        name: row
            .display_name
            .clone()
            .unwrap_or_else(|| row.username.clone()),
        post,
        starts_on,
        ends_on,
    };
    Ok(Some((row.village, posting)))
}

fn no_division(code: &str) -> ServiceError {
    ServiceError::not_found(format!("no division {code} among yours")).at("division")
}

/// Whether the caller's role reads staffing at all.
pub fn may_see(caller: &Caller) -> Result<(), ServiceError> {
    if READERS.contains(&caller.role) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("a {} does not oversee the villages' teams", caller.role),
        ))
    }
}

/// An admin reads every division; a county officer or township supervisor those inside a
/// division of theirs today.
async fn may_read(state: &AppState, caller: &Caller, division: &str) -> Result<(), ServiceError> {
    may_see(caller)?;
    if caller.role == Role::Admin {
        return Ok(());
    }
    let today = clock::iso(clock::today());
    let own = state
        .store()
        .user_assignments(caller.user_id, &today)
        .await?;
    let (lo, hi) = crate::store::village_range(division);
    let inside = |d: &String| {
        let (own_lo, own_hi) = crate::store::village_range(d);
        own_lo <= lo && hi <= own_hi
    };
    if own.iter().any(inside) {
        Ok(())
    } else {
        Err(no_division(division))
    }
}

/// Who designates a class, for the audit: a person on a device, or (the nil user, no device)
/// the server's command line.
#[derive(Clone, Copy, Debug)]
pub struct Designator {
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
}

/// A village's class after a designation.
#[derive(Clone, Debug)]
pub struct Designated {
    pub village: String,
    pub name: String,
    pub category: Category,
    /// Whether the designation changed anything (an unchanged one writes no audit entry).
    pub changed: bool,
}

/// An admin designates `village` as `category`, or (`None`) returns it to its county's class.
pub async fn designate(
    state: &AppState,
    caller: &Caller,
    village: &str,
    category: Option<Category>,
) -> Result<Designated, ServiceError> {
    if caller.role != Role::Admin {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "only an administrator designates a village's class",
        ));
    }
    let by = Designator {
        user_id: caller.user_id,
        device_id: Some(caller.device_id),
    };
    set_category(state.store(), by, village, category).await
}

/// Designates `village` as `category` (`None`: back to its county's class), audited as `by`.
pub async fn set_category(
    store: &Store,
    by: Designator,
    village: &str,
    category: Option<Category>,
) -> Result<Designated, ServiceError> {
    let invalid = |m: String| ServiceError::invalid(ErrorCode::InvalidValue, m);
    let found = store
        .division(village)
        .await?
        .filter(|d| d.level == "village")
        .ok_or_else(|| invalid(format!("{village} is not a village code")).at("village"))?;
    if let Some(c) = category {
        c.may_designate(village)
            .map_err(|m| invalid(m).at("category"))?;
    }
    let entry = AuditEntry {
        user_id: by.user_id,
        device_id: by.device_id,
        action: if category.is_some() {
            AuditAction::VillageCategorySet
        } else {
            AuditAction::VillageCategoryCleared
        },
        entity: "village",
        record_id: village_record(village),
        household_id: None,
        scope: Some(village.to_owned()),
        fields: vec!["category".to_owned()],
    };
    let changed = store
        .set_village_category(
            village,
            category.map(Category::as_str),
            by.user_id,
            clock::now_ms(),
            &entry,
        )
        .await?;
    Ok(Designated {
        village: village.to_owned(),
        name: found.name,
        category: Category::of_village(village, category),
        changed,
    })
}
