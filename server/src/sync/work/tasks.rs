//! Tasks made and closed by rules: the county's task rules, the tasks a trigger (a case
//! reaching a state, a check failing) makes, and what a new check sets off.

use std::borrow::Cow;

use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::registry::work::OPEN_TASK_STATUSES as OPEN_TASK;
use fieldsync_protocol::registry::{self, checks};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::follow::{At, Follow, Judged, Judging, ServerWrite, live, text, uuid};
use crate::cases::rules::{self, Rules, Trigger};
use crate::clock;
use crate::store::{StoreError, Tx};
use crate::sync::batch::Step;

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
pub(super) struct About<'a> {
    pub(super) village: &'a str,
    pub(super) household: Option<Uuid>,
    pub(super) member: Option<Uuid>,
    pub(super) case: Option<Uuid>,
    pub(super) source: &'static str,
    pub(super) source_id: Uuid,
}

/// Makes the tasks a trigger fires, unless one of the same kind is still open for the same
/// household, member and case.
pub(super) async fn make_tasks(
    tx: &mut Tx,
    cx: &Judging<'_>,
    trigger: Trigger,
    about: About<'_>,
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
        let exists = live(cx.records, "task", about.village).any(|(_, f)| same(f))
            || follow
                .writes
                .iter()
                .any(|w| w.def.name == "task" && same(&w.fields));
        if exists {
            continue;
        }
        let candidates = match &mut candidates {
            Some(c) => c,
            None => candidates.insert(
                tx.candidates(about.village, &clock::iso(cx.at.today))
                    .await?,
            ),
        };
        let assignee = rule.assign.iter().find_map(|role| {
            candidates
                .iter()
                .find(|c| c.role == role.as_str())
                .map(|c| c.user_id)
        });
        let due = cx
            .at
            .today
            .checked_add(time::Duration::days(i64::from(rule.due_days)))
            .unwrap_or(cx.at.today);
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
        fields.insert("created_at".into(), json!(cx.at.rfc3339));
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
pub(super) fn closing(by: Uuid, evidence: Option<Uuid>, at: &At) -> Map<String, Value> {
    let mut f = Map::new();
    f.insert("status".into(), json!("done"));
    f.insert("closed_at".into(), json!(at.rfc3339));
    f.insert("closed_by".into(), json!(by.to_string()));
    if let Some(e) = evidence {
        f.insert("evidence_id".into(), json!(e.to_string()));
    }
    f
}

/// What a new check sets off: a passing one closes the open tasks the same check opened, a
/// failing one makes the tasks its failures fire.
pub(super) async fn check(tx: &mut Tx, cx: &Judging<'_>, state: &RecordState) -> Judged {
    let Step { actor, m, def, .. } = cx.step;
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
        for (task_id, tf) in live(cx.records, "task", cx.scope) {
            if text(tf, "source") == Some(def.name)
                && uuid(tf, "household_id") == household
                && uuid(tf, "member_id") == member
                && text(tf, "status").is_some_and(|s| OPEN_TASK.contains(&s))
            {
                follow.writes.push(ServerWrite {
                    id: task_id,
                    def: &registry::TASK,
                    scope: cx.scope.to_owned(),
                    fields: closing(actor.user_id, Some(m.id), &cx.at),
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
            village: cx.scope,
            household,
            member,
            case: None,
            source: def.name,
            source_id: m.id,
        };
        let trigger = Trigger::Check {
            entity: def.name,
            failure,
        };
        make_tasks(tx, cx, trigger, about, &mut follow).await?;
    }
    Ok(Ok(follow))
}
