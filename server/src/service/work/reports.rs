//! Self-reports as the people who filed them follow them, and the 12317 hotline desk's calls.
//!
//! A call the desk takes is a `self_report` pushed from the operator's device with channel
//! `hotline`, judged as any report is: it finds its household by the ID-card number, joins the
//! open case of that household and difficulty or opens one, and the home verification task
//! goes to the village's first secretary. Where a report stands is its case's state.

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::Role;
use fieldsync_protocol::registry;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Item, Shown, stamp, text};
use crate::clock;
use crate::service::{Caller, ServiceError, push};
use crate::state::AppState;
use crate::store::{Store, StoreError, StoredRecord, WorkRecord};

/// Reports a follow-up search shows at most: a person calls about a handful.
const FOUND_AT_MOST: i64 = 50;

/// A call as the operator writes it down; blank optional answers are `None`.
#[derive(Debug, Default)]
pub struct Call {
    pub village_code: String,
    /// Of the person the difficulty is about, when the caller knows it: the household is
    /// found by it.
    pub id_card: Option<String>,
    pub reporter_name: Option<String>,
    pub contact_phone: Option<String>,
    pub category: String,
    pub description: String,
    pub consent_to_checks: bool,
}

/// Where a report stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// `received` until a case takes the report up, then the case's state
    /// (`registry::work::CASE_STATES`).
    pub status: String,
    pub case_id: Option<Uuid>,
    /// Why the household was not admitted, when it was not: the reporter has a right to know.
    pub not_admitted_reason: Option<String>,
}

/// A report the desk lists, disclosed as the operator may see it, and where it stands.
pub struct Followed {
    pub report: Item,
    pub standing: Standing,
}

fn only_operators(caller: &Caller) -> Result<(), ServiceError> {
    if caller.role == Role::HotlineOperator {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "the hotline desk is for hotline operators",
        ))
    }
}

/// Records a call as a self-report; its id. A refusal is the push's, naming the field it is
/// about (a number that is not an ID card, a village outside the operator's, a blank
/// description).
pub async fn take_call(
    state: &AppState,
    caller: &Caller,
    call: Call,
) -> Result<Uuid, ServiceError> {
    only_operators(caller)?;
    let mut fields = Map::new();
    fields.insert("village_code".into(), json!(call.village_code));
    let optional = [
        ("id_card", call.id_card),
        ("reporter_name", call.reporter_name),
        ("contact_phone", call.contact_phone),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            fields.insert(name.into(), json!(v));
        }
    }
    // Left out when blank, so the push names the missing field rather than an empty one.
    for (name, value) in [
        ("category", call.category),
        ("description", call.description),
    ] {
        if !value.is_empty() {
            fields.insert(name.into(), json!(value));
        }
    }
    fields.insert("consent_to_checks".into(), json!(call.consent_to_checks));
    fields.insert("channel".into(), json!("hotline"));
    let id = Uuid::now_v7();
    push::push_one(
        state,
        caller,
        json!({
            "mutation_id": Uuid::now_v7(),
            "entity": registry::SELF_REPORT.name,
            "id": id,
            "op": "create",
            "fields": fields,
            "hlc": stamp(caller),
        }),
    )
    .await?;
    Ok(id)
}

/// Where the report with `fields` stands: its case's state, or `received` until a case takes
/// it up. A case `may_follow` refuses is not the reader's business, and the report shows as
/// received.
pub async fn standing(
    store: &Store,
    fields: &Map<String, Value>,
    may_follow: impl Fn(&StoredRecord) -> bool,
) -> Result<Standing, StoreError> {
    let case_id: Option<Uuid> = text(fields, "case_id").and_then(|s| s.parse().ok());
    let case = match case_id {
        Some(id) => store
            .record(id)
            .await?
            .filter(|c| c.entity == registry::CASE.name)
            .filter(|c| may_follow(c)),
        None => None,
    };
    Ok(match case {
        Some(c) => Standing {
            status: text(&c.fields.0, "state").unwrap_or("reported").to_owned(),
            case_id: Some(c.id),
            not_admitted_reason: text(&c.fields.0, "not_admitted_reason").map(str::to_owned),
        },
        None => Standing {
            status: "received".to_owned(),
            case_id: None,
            not_admitted_reason: None,
        },
    })
}

/// The calls the operator took today, newest first.
pub async fn calls_today(state: &AppState, caller: &Caller) -> Result<Vec<Followed>, ServiceError> {
    only_operators(caller)?;
    let today = clock::today();
    // A village day is at most a day long: ask the store for the last day, keep today's.
    let since = clock::now_ms() - 24 * 60 * 60 * 1000;
    let taken = state
        .store()
        .work_records_by(caller.user_id, registry::SELF_REPORT.name, since)
        .await?
        .into_iter()
        .filter(|r| clock::date_of_ms(r.created_at) == today)
        .collect();
    follow(state, caller, taken).await
}

/// A farmer calls again: the reports about the person with this ID-card number (theirs, or
/// their household's) in the operator's villages, newest first, whoever took them.
pub async fn reports_about(
    state: &AppState,
    caller: &Caller,
    id_card: &str,
) -> Result<Vec<Followed>, ServiceError> {
    only_operators(caller)?;
    let id_card = id_card.trim();
    if let Err(e) = registry::idcard::validate(id_card) {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidValue,
            e.to_string(),
        ));
    }
    let villages = caller.villages_asked(state, None).await?;
    let found = state
        .store()
        .self_reports_about(id_card, FOUND_AT_MOST)
        .await?
        .into_iter()
        .filter(|r| villages.contains(&r.scope))
        .collect();
    follow(state, caller, found).await
}

/// The reports with where each stands, disclosed as the caller may see them (the reads of
/// personal data audited).
async fn follow(
    state: &AppState,
    caller: &Caller,
    reports: Vec<WorkRecord>,
) -> Result<Vec<Followed>, ServiceError> {
    let store = state.store();
    let mut shown = Shown::new(caller);
    let mut out = Vec::with_capacity(reports.len());
    for r in reports {
        // The operator tells the caller where the case stands: every case is theirs to read
        // out, as the report's is.
        let standing = standing(store, &r.fields.0, |_| true).await?;
        out.push(Followed {
            report: shown.item(&registry::SELF_REPORT, r),
            standing,
        });
    }
    shown.finish(state).await?;
    Ok(out)
}
