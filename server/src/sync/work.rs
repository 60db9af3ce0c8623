//! Follow-up work in the push (DOMAIN.md "Monitoring households at risk", "Follow-up work"):
//! what a new self-report, case, case step, check or task edit sets off, decided inside the
//! push transaction so that a phone's write and its consequences commit together.
//!
//! - A self-report joins the open case of its household and difficulty, or opens one.
//! - A case step is judged by [`crate::cases::machine`] against the case as the batch has left
//!   it; an applied step moves the case, closes the tasks of the state it leaves and makes the
//!   tasks of the next. A step that meets a case another phone moved first is kept as a fact
//!   and shown to a reviewer as a conflict on the case's state: never last-writer-wins.
//! - A failing check makes tasks by the county's rules; a passing one closes the tasks of the
//!   same check for the same household (and member).
//! - A task edit is checked field by field: who may reassign, who may close, and closing needs
//!   evidence.
//!
//! [`judge`] decides before the mutation's record is placed (and may still reject it alone);
//! [`apply`] then writes the consequences into the batch.

use std::borrow::Cow;
use std::collections::HashMap;

use fieldsync_protocol::Role;
use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use fieldsync_protocol::merge::{self, RecordState};
use fieldsync_protocol::push::{ConflictInfo, ConflictKind, Mutation, Op, Status};
use fieldsync_protocol::registry::checks::{self, CheckState, Observed};
use fieldsync_protocol::registry::{self, EntityDef};
use serde_json::{Map, Value, json};
use time::Date;
use uuid::Uuid;

use super::Actor;
use super::plan::Working;
use super::push::PushRules;
use crate::cases::machine::{self, Case, CaseState, Evidence, Refusal};
use crate::cases::rules::{self, Rules, Trigger};
use crate::clock;
use crate::store::{ConflictWrite, MutationWrite, StoreError, Tx, WriteBatch};

/// A record the server writes as a consequence.
struct ServerWrite {
    id: Uuid,
    def: &'static EntityDef,
    scope: String,
    fields: Map<String, Value>,
    create: bool,
}

/// A step that met a case moved by someone else: kept, and a conflict on the case's state.
struct MovedStep {
    case_id: Uuid,
    scope: String,
    yours: Value,
    theirs: Value,
}

/// What a mutation sets off.
#[derive(Default)]
pub(super) struct Follow {
    writes: Vec<ServerWrite>,
    moved: Option<MovedStep>,
}

type Judged = Result<Result<Follow, ErrorDetail>, StoreError>;

/// Who may reassign, reschedule or cancel a task.
const LEADERS: &[Role] = &[
    Role::FirstSecretary,
    Role::TownshipSupervisor,
    Role::CountyOfficer,
];
use fieldsync_protocol::registry::work::OPEN_TASK_STATUSES as OPEN_TASK;

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name)?.as_str()
}

fn uuid(fields: &Map<String, Value>, name: &str) -> Option<Uuid> {
    text(fields, name)?.parse().ok()
}

fn refuse(code: ErrorCode, message: impl Into<String>, field: &str) -> Judged {
    Ok(Err(ErrorDetail::new(code, message).at(field)))
}

/// Every live record of `entity` in `scope` the batch holds (the push preloads the cases and
/// tasks of the villages it touches).
fn live<'a>(
    records: &'a HashMap<Uuid, Working>,
    entity: &'a str,
    scope: &'a str,
) -> impl Iterator<Item = (Uuid, &'a Map<String, Value>)> + 'a {
    records
        .iter()
        .filter(move |(_, w)| w.entity == entity && w.scope == scope && !w.state.deleted)
        .map(|(id, w)| (*id, &w.state.fields))
}

fn is_open_case(fields: &Map<String, Value>) -> bool {
    !text(fields, "state")
        .and_then(CaseState::parse)
        .is_some_and(CaseState::is_ended)
}

/// Decides what the mutation sets off; `state` is its record after the merge, and gains the
/// server's fields (a case's state, a step's outcome, a closed task's time).
#[allow(clippy::too_many_arguments)]
pub(super) async fn judge(
    tx: &mut Tx,
    actor: &Actor,
    rules: &PushRules,
    m: &Mutation,
    def: &'static EntityDef,
    before: Option<&RecordState>,
    state: &mut RecordState,
    scope: &str,
    records: &HashMap<Uuid, Working>,
) -> Judged {
    let at = At::new(rules.now_ms);
    match (def.name, m.op) {
        ("self_report", Op::Create) => {
            if actor.role == Role::Farmer
                && let Err(e) = farmer_reports_own_household(tx, actor, state, scope).await?
            {
                return Ok(Err(e));
            }
            self_report(tx, m, state, scope, records, &at).await
        }
        ("case", Op::Create) => open_case(tx, actor, m, state, scope, records, &at).await,
        ("case_step", Op::Create) => step(tx, actor, rules, m, state, records, &at).await,
        ("task", Op::Create | Op::Update) => {
            task_edit(tx, actor, m, before, state, scope, records, &at).await
        }
        (entity, Op::Create) if checks::CHECKS.iter().any(|c| c.name == entity) => {
            check(tx, actor, m, def, state, scope, records, &at).await
        }
        _ => Ok(Ok(Follow::default())),
    }
}

/// The push's time, in the forms records carry.
struct At {
    today: Date,
    rfc3339: String,
}

impl At {
    fn new(ms: i64) -> At {
        At {
            today: clock::date_of_ms(ms),
            rfc3339: clock::rfc3339_of_ms(ms),
        }
    }
}

/// The task rules of a village's county: its own, else the built-in ones.
async fn rules_of(tx: &mut Tx, village: &str) -> Result<Cow<'static, Rules>, StoreError> {
    let county = village.get(..6).unwrap_or(village);
    Ok(match tx.task_rules(county).await? {
        Some(text) => match rules::parse(&text) {
            Ok(r) => Cow::Owned(r),
            Err(e) => {
                // Stored rules were checked when set; a file that no longer parses (a newer
                // check) must not stop pushes.
                tracing::warn!(county, error = %e, "stored task rules unreadable; using the defaults");
                Cow::Borrowed(rules::defaults())
            }
        },
        None => Cow::Borrowed(rules::defaults()),
    })
}

/// What a new task is about.
#[derive(Clone, Copy)]
struct About<'a> {
    village: &'a str,
    household: Option<Uuid>,
    member: Option<Uuid>,
    case: Option<Uuid>,
    source: &'static str,
    source_id: Uuid,
}

/// Makes the tasks a trigger fires, unless one of the same kind is still open for the same
/// household, member and case.
async fn make_tasks(
    tx: &mut Tx,
    trigger: Trigger,
    about: About<'_>,
    records: &HashMap<Uuid, Working>,
    at: &At,
    follow: &mut Follow,
) -> Result<(), StoreError> {
    let rules = rules_of(tx, about.village).await?;
    let fired: Vec<_> = rules.fired(trigger).collect();
    if fired.is_empty() {
        return Ok(());
    }
    // Read only when a task is really made: a failing check whose task is already open
    // (the common case on a re-check) costs no assignment query.
    let mut candidates = None;
    for rule in fired {
        let same = |f: &Map<String, Value>| {
            text(f, "kind") == Some(rule.kind.as_str())
                && text(f, "status").is_some_and(|s| OPEN_TASK.contains(&s))
                && uuid(f, "household_id") == about.household
                && uuid(f, "member_id") == about.member
                && uuid(f, "case_id") == about.case
        };
        let exists = live(records, "task", about.village).any(|(_, f)| same(f))
            || follow
                .writes
                .iter()
                .any(|w| w.def.name == "task" && same(&w.fields));
        if exists {
            continue;
        }
        let candidates = match &mut candidates {
            Some(c) => c,
            None => candidates.insert(tx.candidates(about.village, &clock::iso(at.today)).await?),
        };
        let assignee = rule.assign.iter().find_map(|role| {
            candidates
                .iter()
                .find(|c| c.role == role.as_str())
                .map(|c| c.user_id)
        });
        let due = at
            .today
            .checked_add(time::Duration::days(i64::from(rule.due_days)))
            .unwrap_or(at.today);
        let mut fields = Map::new();
        fields.insert("village_code".into(), json!(about.village));
        for (name, id) in [
            ("household_id", about.household),
            ("member_id", about.member),
            ("case_id", about.case),
            ("assignee_id", assignee),
        ] {
            if let Some(id) = id {
                fields.insert(name.into(), json!(id.to_string()));
            }
        }
        fields.insert("kind".into(), json!(rule.kind));
        fields.insert("title".into(), json!(rule.title));
        fields.insert("due_on".into(), json!(clock::iso(due)));
        fields.insert("status".into(), json!("open"));
        fields.insert("source".into(), json!(about.source));
        fields.insert("source_id".into(), json!(about.source_id.to_string()));
        fields.insert("rule".into(), json!(rule.id));
        fields.insert("created_at".into(), json!(at.rfc3339));
        follow.writes.push(ServerWrite {
            id: Uuid::now_v7(),
            def: &registry::TASK,
            scope: about.village.to_owned(),
            fields,
            create: true,
        });
    }
    Ok(())
}

/// The fields that close a task, by whom, with what.
fn closing(by: Uuid, evidence: Option<Uuid>, at: &At) -> Map<String, Value> {
    let mut f = Map::new();
    f.insert("status".into(), json!("done"));
    f.insert("closed_at".into(), json!(at.rfc3339));
    f.insert("closed_by".into(), json!(by.to_string()));
    if let Some(e) = evidence {
        f.insert("evidence_id".into(), json!(e.to_string()));
    }
    f
}

/// The open case of a household for a difficulty, if there is one.
fn open_case_of(
    records: &HashMap<Uuid, Working>,
    scope: &str,
    household: Uuid,
    category: &str,
) -> Option<(Uuid, i64)> {
    live(records, "case", scope)
        .find(|(_, f)| {
            uuid(f, "household_id") == Some(household)
                && text(f, "category") == Some(category)
                && is_open_case(f)
        })
        .map(|(id, f)| (id, f.get("reports").and_then(Value::as_i64).unwrap_or(0)))
}

/// A farmer's account reports only about its own household: the one whose head or a member
/// holds the ID-card number on file for the account. A report naming another household, or
/// another person's number that is not of the farmer's household, would join a stranger's case
/// and show its progress to the farmer. Hotline operators report for anyone.
async fn farmer_reports_own_household(
    tx: &mut Tx,
    actor: &Actor,
    state: &RecordState,
    scope: &str,
) -> Result<Result<(), ErrorDetail>, StoreError> {
    let Some(own) = tx.own_id_card(actor.user_id).await? else {
        return Ok(Err(ErrorDetail::new(
            ErrorCode::IdCardNotOnFile,
            "your ID-card number is not on file for this account; ask the village (the first secretary) to register it, or call 12317",
        )
        .at("fields.id_card")));
    };
    let not_yours = |field: &str| {
        Ok(Err(ErrorDetail::new(
            ErrorCode::NotYourHousehold,
            "this account reports only about your own household; for another household, call 12317",
        )
        .at(field)))
    };
    if let Some(h) = uuid(&state.fields, "household_id")
        && !own.households.contains(&h)
    {
        return not_yours("fields.household_id");
    }
    if let Some(card) = text(&state.fields, "id_card")
        && tx.blind_id_card(card) != own.blind
    {
        // Another member of the farmer's own household (a spouse, a parent) is theirs too.
        let theirs = tx.household_of_id_card(card, scope).await?;
        if !theirs.is_some_and(|h| own.households.contains(&h)) {
            return not_yours("fields.id_card");
        }
    }
    Ok(Ok(()))
}

async fn self_report(
    tx: &mut Tx,
    m: &Mutation,
    state: &mut RecordState,
    scope: &str,
    records: &HashMap<Uuid, Working>,
    at: &At,
) -> Judged {
    let mut follow = Follow::default();
    let mut household = uuid(&state.fields, "household_id");
    if household.is_none()
        && let Some(card) = text(&state.fields, "id_card")
    {
        household = tx.household_of_id_card(card, scope).await?;
        if let Some(h) = household {
            state
                .fields
                .insert("household_id".into(), json!(h.to_string()));
        }
    }
    let category = text(&state.fields, "category")
        .unwrap_or("other")
        .to_owned();
    if let Some((case_id, reports)) =
        household.and_then(|h| open_case_of(records, scope, h, &category))
    {
        state
            .fields
            .insert("case_id".into(), json!(case_id.to_string()));
        let mut fields = Map::new();
        fields.insert("reports".into(), json!(reports + 1));
        follow.writes.push(ServerWrite {
            id: case_id,
            def: &registry::CASE,
            scope: scope.to_owned(),
            fields,
            create: false,
        });
        return Ok(Ok(follow));
    }
    let case_id = Uuid::now_v7();
    state
        .fields
        .insert("case_id".into(), json!(case_id.to_string()));
    let mut fields = Map::new();
    fields.insert("village_code".into(), json!(scope));
    if let Some(h) = household {
        fields.insert("household_id".into(), json!(h.to_string()));
    }
    fields.insert("category".into(), json!(category));
    if let Some(d) = state.fields.get("description") {
        fields.insert("description".into(), d.clone());
    }
    fields.insert("source".into(), json!("self_report"));
    fields.insert("self_report_id".into(), json!(m.id.to_string()));
    fields.insert("reports".into(), json!(1));
    fields.insert("state".into(), json!(CaseState::Reported.as_str()));
    fields.insert("opened_at".into(), json!(at.rfc3339));
    follow.writes.push(ServerWrite {
        id: case_id,
        def: &registry::CASE,
        scope: scope.to_owned(),
        fields,
        create: true,
    });
    let about = About {
        village: scope,
        household,
        member: None,
        case: Some(case_id),
        source: "self_report",
        source_id: m.id,
    };
    make_tasks(
        tx,
        Trigger::Case(CaseState::Reported),
        about,
        records,
        at,
        &mut follow,
    )
    .await?;
    Ok(Ok(follow))
}

async fn open_case(
    tx: &mut Tx,
    actor: &Actor,
    m: &Mutation,
    state: &mut RecordState,
    scope: &str,
    records: &HashMap<Uuid, Working>,
    at: &At,
) -> Judged {
    let household = uuid(&state.fields, "household_id");
    let category = text(&state.fields, "category")
        .unwrap_or("other")
        .to_owned();
    if let Some((existing, _)) = household.and_then(|h| open_case_of(records, scope, h, &category))
    {
        return refuse(
            ErrorCode::AlreadyExists,
            format!("this household already has an open case for {category}: {existing}"),
            "fields.household_id",
        );
    }
    let source = match actor.role {
        Role::CountyOfficer | Role::TownshipSupervisor => "department",
        _ => "cadre",
    };
    for (name, value) in [
        ("source", json!(source)),
        ("reports", json!(0)),
        ("state", json!(CaseState::Reported.as_str())),
        ("opened_at", json!(at.rfc3339)),
    ] {
        state.fields.insert(name.into(), value);
    }
    let mut follow = Follow::default();
    let about = About {
        village: scope,
        household,
        member: None,
        case: Some(m.id),
        source: "case",
        source_id: m.id,
    };
    make_tasks(
        tx,
        Trigger::Case(CaseState::Reported),
        about,
        records,
        at,
        &mut follow,
    )
    .await?;
    Ok(Ok(follow))
}

/// The verdict on a record's fix: judged in this batch, else as stored.
async fn verdict_ok(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    id: Uuid,
) -> Result<bool, StoreError> {
    if let Some(v) = records.get(&id).and_then(|w| w.gps_verdict.as_ref()) {
        return Ok(v.ok);
    }
    Ok(tx.gps_verdict(id).await?.is_some_and(|v| v.ok))
}

/// Why a visit does not verify a case at a household, if it does not.
async fn visit_problem(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    visit_id: Option<Uuid>,
    case: &Map<String, Value>,
) -> Result<Result<Uuid, String>, StoreError> {
    let Some(id) = visit_id else {
        return Ok(Err(
            "home verification names the visit to the household (visit_id)".into(),
        ));
    };
    let Some(visit) = records.get(&id).filter(|w| w.entity == "visit") else {
        return Ok(Err("visit_id does not name a visit of this village".into()));
    };
    let Some(household) = uuid(&visit.state.fields, "household_id") else {
        return Ok(Err("the visit names no household".into()));
    };
    if uuid(case, "household_id").is_some_and(|h| h != household) {
        return Ok(Err("the visit was to another household".into()));
    }
    let opened = text(case, "opened_at").and_then(clock::ms_of_rfc3339);
    let started = text(&visit.state.fields, "started_at").and_then(clock::ms_of_rfc3339);
    if let (Some(o), Some(s)) = (opened, started)
        && clock::date_of_ms(s) < clock::date_of_ms(o)
    {
        return Ok(Err("the visit was made before the case was reported".into()));
    }
    if !verdict_ok(tx, records, id).await? {
        return Ok(Err(
            "the visit's GPS fix is missing or doubted (outside the village, far from the house …): visit again"
                .into(),
        ));
    }
    Ok(Ok(household))
}

/// What elimination is judged on: the household's income and its year's line, its labour
/// capacity, and its four checks (in the database and in this batch).
struct Household {
    income: Option<f64>,
    income_year: Option<i32>,
    no_labour: bool,
    checks_pass: bool,
}

async fn household_facts(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    household: Uuid,
) -> Result<Household, StoreError> {
    let mut rows: HashMap<Uuid, (String, Map<String, Value>)> = tx
        .household_fields(household)
        .await?
        .into_iter()
        .map(|(entity, id, fields)| (id, (entity, fields)))
        .collect();
    for (id, w) in records {
        let mine = *id == household || uuid(&w.state.fields, "household_id") == Some(household);
        if mine && !w.state.deleted {
            rows.insert(*id, (w.entity.clone(), w.state.fields.clone()));
        }
    }
    let home = rows
        .get(&household)
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    let observed: Vec<Observed<'_>> = rows
        .iter()
        .map(|(id, (entity, fields))| Observed {
            entity,
            id: *id,
            fields,
        })
        .collect();
    let status = checks::household_status(&checks::current(&observed));
    let checks_pass = status.iter().all(|(name, s)| {
        // A household without school-age children has no education check to pass.
        s.state == CheckState::Pass
            || (*name == registry::EDUCATION_CHECK.name && s.state == CheckState::None)
    });
    Ok(Household {
        income: home.get("per_capita_income").and_then(Value::as_f64),
        income_year: home
            .get("income_year")
            .and_then(Value::as_i64)
            .and_then(|y| i32::try_from(y).ok()),
        no_labour: text(&home, "labour_capacity") == Some("none"),
        checks_pass,
    })
}

async fn step(
    tx: &mut Tx,
    actor: &Actor,
    rules: &PushRules,
    m: &Mutation,
    state: &mut RecordState,
    records: &HashMap<Uuid, Working>,
    at: &At,
) -> Judged {
    let f = &state.fields;
    let parse_state = |name: &str| text(f, name).and_then(CaseState::parse);
    let (Some(case_id), Some(from), Some(to)) =
        (uuid(f, "case_id"), parse_state("from"), parse_state("to"))
    else {
        return refuse(
            ErrorCode::MissingField,
            "a step names its case, from and to",
            "fields",
        );
    };
    let Some(case_rec) = records.get(&case_id).filter(|w| w.entity == "case") else {
        return refuse(
            ErrorCode::UnknownReference,
            "case_id does not name a case",
            "fields.case_id",
        );
    };
    let scope = case_rec.scope.clone();
    let case_fields = case_rec.state.fields.clone();
    let current = text(&case_fields, "state")
        .and_then(CaseState::parse)
        .unwrap_or(CaseState::Reported);
    let publicity_until = text(&case_fields, "publicity_until").and_then(clock::parse_date);

    let mut evidence = Evidence {
        note: text(f, "note").map(str::to_owned),
        publicity_days: f
            .get("publicity_days")
            .and_then(Value::as_u64)
            .and_then(|d| u32::try_from(d).ok()),
        case_type: text(f, "case_type").map(str::to_owned),
        reason: text(f, "reason").map(str::to_owned),
        measures: f
            .get("measures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        ..Evidence::default()
    };
    let visit_id = uuid(f, "visit_id");
    let mut visit_refusal = None;
    let mut verified_household = None;
    let mut line = rules.monitoring.line_for(at.today.year()).unwrap_or(0.0);
    let mut income_refusal = None;
    if to == CaseState::Verified {
        match visit_problem(tx, records, visit_id, &case_fields).await? {
            Ok(h) => {
                evidence.verified_visit = true;
                verified_household = Some(h);
            }
            Err(why) => visit_refusal = Some(why),
        }
    }
    if to == CaseState::Eliminated {
        match uuid(&case_fields, "household_id") {
            Some(h) => {
                let facts = household_facts(tx, records, h).await?;
                evidence.no_labour_capacity = facts.no_labour;
                evidence.checks_pass = facts.checks_pass;
                match facts.income_year {
                    Some(year) if year < at.today.year() - 1 => {
                        income_refusal = Some(format!(
                            "the household's income is of {year}: record this year's per_capita_income and income_year first"
                        ));
                    }
                    Some(year) => {
                        evidence.income_per_person = facts.income;
                        line = rules.monitoring.line_for(year).unwrap_or(line);
                    }
                    None => {
                        income_refusal = Some(
                            "record the household's per_capita_income and income_year first".into(),
                        );
                    }
                }
            }
            None => {
                income_refusal = Some("the case names no household".into());
            }
        }
    }

    let case = Case {
        state: current,
        publicity_until,
    };
    let mut follow = Follow::default();
    let outcome = match machine::step(&case, from, to, actor.role, &evidence, line, at.today) {
        Ok(o) => o,
        Err(Refusal::Moved { met, .. }) => {
            let already = met == to.as_str();
            state.fields.insert(
                "outcome".into(),
                json!(if already { "already" } else { "refused" }),
            );
            if !already {
                state.fields.insert(
                    "refusal".into(),
                    json!(format!(
                        "the case was already {met} when this step from {} arrived",
                        from.as_str()
                    )),
                );
                follow.moved = Some(MovedStep {
                    case_id,
                    scope,
                    yours: json!(to.as_str()),
                    theirs: json!(met),
                });
            }
            return Ok(Ok(follow));
        }
        Err(Refusal::NotAStep { .. }) => {
            return refuse(
                ErrorCode::InvalidTransition,
                format!(
                    "a case that is {} cannot go to {}",
                    from.as_str(),
                    to.as_str()
                ),
                "fields.to",
            );
        }
        Err(e @ Refusal::Role { .. }) => {
            return refuse(ErrorCode::ForbiddenRole, e.to_string(), "fields.to");
        }
        Err(Refusal::Evidence(why)) => {
            let (why, field) = match to {
                CaseState::Verified => (visit_refusal.unwrap_or(why), "fields.visit_id"),
                // Without labour capacity the machine says so first; otherwise a missing or
                // stale income is the reason it saw none.
                CaseState::Eliminated if !evidence.no_labour_capacity => {
                    (income_refusal.unwrap_or(why), "fields.to")
                }
                CaseState::Reviewed => (why, "fields.note"),
                CaseState::Publicized => (why, "fields.publicity_days"),
                CaseState::Approved => (why, "fields.case_type"),
                CaseState::NotAdmitted => (why, "fields.reason"),
                CaseState::Helping => (why, "fields.measures"),
                _ => (why, "fields.to"),
            };
            return refuse(ErrorCode::EvidenceRequired, why, field);
        }
    };
    state.fields.insert("outcome".into(), json!("applied"));

    let mut moved = Map::new();
    moved.insert("state".into(), json!(outcome.to.as_str()));
    if let Some(until) = outcome
        .publicity_until
        .filter(|_| to == CaseState::Publicized)
    {
        moved.insert("publicity_until".into(), json!(clock::iso(until)));
    }
    match to {
        CaseState::Approved => {
            moved.insert("case_type".into(), json!(evidence.case_type));
        }
        CaseState::NotAdmitted => {
            moved.insert("not_admitted_reason".into(), json!(evidence.reason));
        }
        CaseState::Helping => {
            let mut all: Vec<String> = case_fields
                .get("measures")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            for measure in &evidence.measures {
                if !all.contains(measure) {
                    all.push(measure.clone());
                }
            }
            moved.insert("measures".into(), json!(all));
        }
        _ => {}
    }
    if to.is_ended() {
        moved.insert("closed_at".into(), json!(at.rfc3339));
    }
    let household = uuid(&case_fields, "household_id").or(verified_household);
    if uuid(&case_fields, "household_id").is_none()
        && let Some(h) = verified_household
    {
        moved.insert("household_id".into(), json!(h.to_string()));
    }
    follow.writes.push(ServerWrite {
        id: case_id,
        def: &registry::CASE,
        scope: scope.clone(),
        fields: moved,
        create: false,
    });
    // The tasks of the state the case leaves are done: the step is their evidence.
    for (task_id, tf) in live(records, "task", &scope) {
        if uuid(tf, "case_id") == Some(case_id)
            && text(tf, "source") != Some("manual")
            && text(tf, "status").is_some_and(|s| OPEN_TASK.contains(&s))
        {
            let mut fields = closing(
                actor.user_id,
                visit_id.filter(|_| evidence.verified_visit),
                at,
            );
            fields.insert(
                "note".into(),
                json!(format!(
                    "closed by the case step {} to {}",
                    m.id,
                    to.as_str()
                )),
            );
            follow.writes.push(ServerWrite {
                id: task_id,
                def: &registry::TASK,
                scope: scope.clone(),
                fields,
                create: false,
            });
        }
    }
    let about = About {
        village: &scope,
        household,
        member: None,
        case: Some(case_id),
        source: "case",
        source_id: case_id,
    };
    make_tasks(tx, Trigger::Case(to), about, records, at, &mut follow).await?;
    Ok(Ok(follow))
}

#[allow(clippy::too_many_arguments)]
async fn check(
    tx: &mut Tx,
    actor: &Actor,
    m: &Mutation,
    def: &'static EntityDef,
    state: &RecordState,
    scope: &str,
    records: &HashMap<Uuid, Working>,
    at: &At,
) -> Judged {
    let mut follow = Follow::default();
    let f = &state.fields;
    let household = uuid(f, "household_id");
    let member = uuid(f, "member_id");
    let failures: Vec<&str> = f
        .get("failures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if failures.is_empty() {
        // 对账销号: a passing check closes the open tasks the same check opened here.
        for (task_id, tf) in live(records, "task", scope) {
            if text(tf, "source") == Some(def.name)
                && uuid(tf, "household_id") == household
                && uuid(tf, "member_id") == member
                && text(tf, "status").is_some_and(|s| OPEN_TASK.contains(&s))
            {
                follow.writes.push(ServerWrite {
                    id: task_id,
                    def: &registry::TASK,
                    scope: scope.to_owned(),
                    fields: closing(actor.user_id, Some(m.id), at),
                    create: false,
                });
            }
        }
        return Ok(Ok(follow));
    }
    for failure in failures {
        let Some(failure) = checks::FAILURES.iter().copied().find(|x| *x == failure) else {
            continue;
        };
        let about = About {
            village: scope,
            household,
            member,
            case: None,
            source: def.name,
            source_id: m.id,
        };
        make_tasks(
            tx,
            Trigger::Check {
                entity: def.name,
                failure,
            },
            about,
            records,
            at,
            &mut follow,
        )
        .await?;
    }
    Ok(Ok(follow))
}

#[allow(clippy::too_many_arguments)]
async fn task_edit(
    tx: &mut Tx,
    actor: &Actor,
    m: &Mutation,
    before: Option<&RecordState>,
    state: &mut RecordState,
    scope: &str,
    records: &HashMap<Uuid, Working>,
    at: &At,
) -> Judged {
    let empty = Map::new();
    let old = before.map_or(&empty, |b| &b.fields);
    let new = &state.fields;
    let changed = |name: &str| old.get(name) != new.get(name);
    let leader = LEADERS.contains(&actor.role);
    if m.op == Op::Create {
        if new.get("status").is_some_and(|s| s != "open") {
            return refuse(
                ErrorCode::InvalidValue,
                "a new task is open",
                "fields.status",
            );
        }
    } else if ["title", "due_on", "assignee_id"]
        .iter()
        .any(|f| changed(f))
        && !leader
    {
        return refuse(
            ErrorCode::ForbiddenRole,
            "only the first secretary or a team leader reassigns, renames or reschedules a task",
            "fields",
        );
    }
    if changed("assignee_id")
        && let Some(who) = uuid(new, "assignee_id")
    {
        let people = tx.candidates(scope, &clock::iso(at.today)).await?;
        let takes = people
            .iter()
            .any(|c| c.user_id == who && rules::ASSIGNABLE.iter().any(|r| r.as_str() == c.role));
        if !takes {
            return refuse(
                ErrorCode::UnknownReference,
                "assignee_id is not a cadre or leader assigned to this village",
                "fields.assignee_id",
            );
        }
    }
    let mut server = Map::new();
    if m.op == Op::Create {
        server.insert("status".into(), json!("open"));
        server.insert("source".into(), json!("manual"));
        server.insert("source_id".into(), json!(m.id.to_string()));
        server.insert("created_at".into(), json!(at.rfc3339));
    } else if changed("status") {
        let from = text(old, "status").unwrap_or("open");
        let to = text(new, "status").unwrap_or("open");
        if !OPEN_TASK.contains(&from) {
            return refuse(
                ErrorCode::InvalidTransition,
                format!("a {from} task stays closed; open a new one"),
                "fields.status",
            );
        }
        let assignee = uuid(new, "assignee_id") == Some(actor.user_id);
        if !assignee && !leader {
            return refuse(
                ErrorCode::ForbiddenRole,
                "only the assignee or a leader changes a task's status",
                "fields.status",
            );
        }
        match to {
            "cancelled" if !leader => {
                return refuse(
                    ErrorCode::ForbiddenRole,
                    "only the first secretary or a team leader cancels a task",
                    "fields.status",
                );
            }
            "cancelled" if text(new, "note").is_none_or(|n| n.trim().is_empty()) => {
                return refuse(
                    ErrorCode::MissingField,
                    "cancelling a task says why in its note",
                    "fields.note",
                );
            }
            "done" => {
                if let Err(why) = evidence_closes(tx, records, new, scope).await? {
                    return refuse(ErrorCode::EvidenceRequired, why, "fields.evidence_id");
                }
                server.insert("closed_at".into(), json!(at.rfc3339));
                server.insert("closed_by".into(), json!(actor.user_id.to_string()));
            }
            "cancelled" => {
                server.insert("closed_at".into(), json!(at.rfc3339));
                server.insert("closed_by".into(), json!(actor.user_id.to_string()));
            }
            _ => {}
        }
    }
    for (name, value) in server {
        state.fields.insert(name, value);
    }
    Ok(Ok(Follow::default()))
}

/// Whether the task's evidence shows the work done: a record of the village (of the task's
/// household) made after the task, and for a task a check opened, a passing check of the same
/// kind (of the same member); otherwise a visit with a doubt-free fix or a passing check.
async fn evidence_closes(
    tx: &mut Tx,
    records: &HashMap<Uuid, Working>,
    task: &Map<String, Value>,
    scope: &str,
) -> Result<Result<(), String>, StoreError> {
    let Some(id) = uuid(task, "evidence_id") else {
        return Ok(Err(
            "closing a task needs evidence: the visit or the passing check that shows the work done (evidence_id)"
                .into(),
        ));
    };
    let found = match records.get(&id) {
        Some(w) => Some((w.entity.clone(), w.scope.clone(), w.state.fields.clone())),
        None => tx
            .lock_records(&[id])
            .await?
            .pop()
            .filter(|r| !r.deleted)
            .map(|r| (r.entity, r.scope, r.fields.0)),
    };
    let Some((entity, _, ev)) = found
        .filter(|(e, s, _)| registry::work::EVIDENCE.contains(&e.as_str()) && s.as_str() == scope)
    else {
        return Ok(Err(
            "evidence_id does not name a visit or check of this village".into(),
        ));
    };
    if let Some(h) = uuid(task, "household_id")
        && uuid(&ev, "household_id") != Some(h)
    {
        return Ok(Err("the evidence is of another household".into()));
    }
    let made = text(&ev, "captured_at")
        .or_else(|| text(&ev, "started_at"))
        .and_then(clock::ms_of_rfc3339);
    let set = text(task, "created_at").and_then(clock::ms_of_rfc3339);
    if let (Some(made), Some(set)) = (made, set)
        && clock::date_of_ms(made) < clock::date_of_ms(set)
    {
        return Ok(Err(
            "the evidence was recorded before the task was set".into()
        ));
    }
    let passing = ev.get("passing").and_then(Value::as_bool);
    let source = text(task, "source").unwrap_or("manual");
    if checks::CHECKS.iter().any(|c| c.name == source) {
        if entity != source {
            return Ok(Err(format!(
                "a task from a {source} closes with a new {source} that passes"
            )));
        }
        if uuid(task, "member_id").is_some() && uuid(&ev, "member_id") != uuid(task, "member_id") {
            return Ok(Err("the check is of another member".into()));
        }
    }
    if entity == "visit" {
        if !verdict_ok(tx, records, id).await? {
            return Ok(Err(
                "the visit's GPS fix is missing or doubted: it does not show the work done".into(),
            ));
        }
    } else if passing != Some(true) {
        return Ok(Err("the check does not pass yet".into()));
    }
    Ok(Ok(()))
}

/// Writes what a mutation set off into the batch, after its own record; returns the conflict
/// to report to the phone, if its step met a moved case.
pub(super) fn apply(
    follow: Follow,
    actor: &Actor,
    now_ms: i64,
    m: &Mutation,
    records: &mut HashMap<Uuid, Working>,
    batch: &mut WriteBatch,
    order: &mut Vec<Uuid>,
) -> Option<ConflictInfo> {
    let stamp = merge::stamp_after(
        Some(m.hlc),
        actor.device_id,
        u64::try_from(now_ms).unwrap_or_default(),
    );
    for w in follow.writes {
        let (state, op) = if w.create {
            (merge::server_create(w.fields.clone(), stamp), Op::Create)
        } else {
            let Some(cur) = records.get(&w.id) else {
                continue;
            };
            (
                merge::server_write(&cur.state, &w.fields, stamp),
                Op::Update,
            )
        };
        let version = state.version;
        let household_id = super::plan::household_of(w.def, w.id, &state.fields);
        let entry = records.entry(w.id).or_insert_with(|| Working {
            entity: w.def.name.to_owned(),
            scope: w.scope.clone(),
            state: RecordState::default(),
            in_db: false,
            dirty: false,
            gps: None,
            gps_verdict: None,
        });
        entry.state = state;
        if !entry.dirty {
            entry.dirty = true;
            order.push(w.id);
        }
        batch.mutations.push(MutationWrite {
            mutation_id: Uuid::now_v7(),
            record_id: w.id,
            entity: w.def.name,
            op,
            status: Status::Applied,
            version,
            fields: w.fields,
            hlc: stamp,
            gps: None,
            household_id,
            scope: w.scope,
        });
    }
    let moved = follow.moved?;
    let conflict_id = Uuid::now_v7();
    let theirs_hlc = records
        .get(&moved.case_id)
        .and_then(|w| w.state.meta.get("state"))
        .map(|fm| fm.hlc);
    batch.conflicts.push(ConflictWrite {
        id: conflict_id,
        record_id: moved.case_id,
        entity: registry::CASE.name,
        scope: moved.scope,
        field: "state".into(),
        kind: ConflictKind::Field,
        yours: moved.yours.clone(),
        theirs: moved.theirs.clone(),
        kept: moved.theirs.clone(),
        mutation_id: m.mutation_id,
        theirs_hlc,
    });
    Some(ConflictInfo {
        field: "state".into(),
        yours: moved.yours,
        theirs: moved.theirs.clone(),
        kept: moved.theirs,
        conflict_id,
        kind: ConflictKind::Field,
    })
}
