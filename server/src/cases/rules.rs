//! Task rules: which finding makes which task, for whom, due when. Data, not code paths: the
//! built-in set is `ops/task-rules.json`, and a county replaces it with its own
//! (`fieldsync admin task-rules set`), checked here before it is stored.

use std::sync::OnceLock;

use fieldsync_protocol::Role;
use fieldsync_protocol::registry::checks::{CHECKS, FAILURES};
use serde::{Deserialize, Serialize};

use super::machine::CaseState;

/// What makes a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A case reaches this state (`reported` when it is opened).
    Case(CaseState),
    /// A check of this entity finds this failure.
    Check {
        entity: &'static str,
        failure: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub trigger: Trigger,
    /// The task's `kind`: tasks of one kind for one household (and member) are not repeated
    /// while one is open.
    pub kind: String,
    pub title: String,
    /// Roles to assign to, in order of preference: the first role with someone assigned to the
    /// village (or, for leaders, to a division above it) takes the task.
    pub assign: Vec<Role>,
    pub due_days: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Rules(Vec<Rule>);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RawRule>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    on: String,
    kind: String,
    title: String,
    assign: Vec<Role>,
    due_days: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RulesError {
    #[error("not a rule file: {0}")]
    Json(String),
    #[error("rule {index} ({id}): {message}")]
    Rule {
        index: usize,
        id: String,
        message: String,
    },
}

/// Who can be given a task: the people who work in villages and those who review.
pub const ASSIGNABLE: &[Role] = &[
    Role::FirstSecretary,
    Role::TeamMember,
    Role::GridWorker,
    Role::TownshipSupervisor,
    Role::CountyOfficer,
];

/// Whether a person of `role` (its wire name) may be given a task: never a farmer, a hotline
/// operator or an admin account, whatever they are assigned to.
pub fn takes_tasks(role: &str) -> bool {
    ASSIGNABLE.iter().any(|r| r.as_str() == role)
}

fn trigger(on: &str) -> Result<Trigger, String> {
    let parts: Vec<&str> = on.split(':').collect();
    match parts.as_slice() {
        ["case", state] => match CaseState::parse(state) {
            Some(s) if s.is_ended() => Err(format!(
                "a case that is {state} has ended: no task follows it"
            )),
            Some(s) => Ok(Trigger::Case(s)),
            None => Err(format!("{state:?} is not a case state")),
        },
        ["check", entity, failure] => {
            let entity = CHECKS
                .iter()
                .map(|c| c.name)
                .find(|c| c == entity)
                .ok_or_else(|| format!("{entity:?} is not one of the four checks"))?;
            let failure = FAILURES
                .iter()
                .copied()
                .find(|f| f == failure)
                .ok_or_else(|| format!("{failure:?} is not a failure a check reports"))?;
            Ok(Trigger::Check { entity, failure })
        }
        _ => Err(format!(
            "\"on\" is \"case:<state>\" or \"check:<check>:<failure>\", not {on:?}"
        )),
    }
}

/// Reads and checks a rule file.
pub fn parse(text: &str) -> Result<Rules, RulesError> {
    let file: RuleFile = serde_json::from_str(text).map_err(|e| RulesError::Json(e.to_string()))?;
    let mut rules = Vec::with_capacity(file.rules.len());
    for (index, raw) in file.rules.into_iter().enumerate() {
        let bad = |message: String| RulesError::Rule {
            index,
            id: raw.id.clone(),
            message,
        };
        let is_key = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !is_key(&raw.id) || !is_key(&raw.kind) {
            return Err(bad(
                "id and kind are 1 to 64 lower-case letters, digits or _".into(),
            ));
        }
        if rules.iter().any(|r: &Rule| r.id == raw.id) {
            return Err(bad("the id is used twice".into()));
        }
        let title_len = raw.title.trim().chars().count();
        if title_len == 0 || title_len > 200 {
            return Err(bad("the title is 1 to 200 characters".into()));
        }
        if raw.assign.is_empty() {
            return Err(bad("assign names at least one role".into()));
        }
        if let Some(r) = raw.assign.iter().find(|r| !ASSIGNABLE.contains(r)) {
            return Err(bad(format!("a {r} does not take tasks")));
        }
        if !(1..=365).contains(&raw.due_days) {
            return Err(bad("due_days is 1 to 365".into()));
        }
        let trigger = trigger(&raw.on).map_err(bad)?;
        rules.push(Rule {
            id: raw.id,
            trigger,
            kind: raw.kind,
            title: raw.title.trim().to_owned(),
            assign: raw.assign,
            due_days: raw.due_days,
        });
    }
    Ok(Rules(rules))
}

/// The built-in rules.
pub fn defaults() -> &'static Rules {
    static DEFAULTS: OnceLock<Rules> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        // Checked by a unit test: a broken default file fails the build's tests, not a push.
        parse(DEFAULT_TEXT).unwrap_or_default()
    })
}

pub const DEFAULT_TEXT: &str = include_str!("../../../ops/task-rules.json");

impl Rules {
    /// The rules a trigger fires.
    pub fn fired(&self, trigger: Trigger) -> impl Iterator<Item = &Rule> {
        self.0.iter().filter(move |r| r.trigger == trigger)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_parse_and_cover_every_failure_and_open_state() {
        let rules = parse(DEFAULT_TEXT).expect("ops/task-rules.json");
        assert_eq!(rules.len(), defaults().len());
        for failure in FAILURES {
            let any = CHECKS.iter().any(|c| {
                rules
                    .fired(Trigger::Check {
                        entity: c.name,
                        failure,
                    })
                    .next()
                    .is_some()
            });
            assert!(any, "no rule for {failure}");
        }
        assert_eq!(
            rules
                .fired(Trigger::Case(CaseState::Reported))
                .map(|r| r.kind.as_str())
                .collect::<Vec<_>>(),
            ["home_verification"]
        );
    }

    #[test]
    fn bad_rules_are_refused_with_their_place() {
        let one = |rule: &str| parse(&format!("{{\"rules\": [{rule}]}}"));
        let ok = r#"{"id": "a", "on": "case:verified", "kind": "k", "title": "t", "assign": ["first_secretary"], "due_days": 3}"#;
        assert!(one(ok).is_ok());
        for (bad, says) in [
            (ok.replace("case:verified", "case:eliminated"), "ended"),
            (
                ok.replace("case:verified", "case:closed"),
                "not a case state",
            ),
            (
                ok.replace("case:verified", "check:water_check:leaky"),
                "not a failure",
            ),
            (
                ok.replace("case:verified", "check:roof_check:dangerous_house"),
                "four checks",
            ),
            (
                ok.replace("\"first_secretary\"", "\"farmer\""),
                "does not take tasks",
            ),
            (ok.replace("\"due_days\": 3", "\"due_days\": 0"), "due_days"),
            (
                ok.replace("\"kind\": \"k\"", "\"kind\": \"K k\""),
                "lower-case",
            ),
            (ok.replace("\"title\": \"t\"", "\"title\": \" \""), "title"),
        ] {
            let e = one(&bad).expect_err(&bad).to_string();
            assert!(e.contains(says) && e.contains("rule 0 (a)"), "{e}");
        }
        let twice = parse(&format!("{{\"rules\": [{ok}, {ok}]}}")).unwrap_err();
        assert!(twice.to_string().contains("twice"));
        assert!(matches!(parse("{\"rules\": 3}"), Err(RulesError::Json(_))));
        assert!(matches!(
            parse(&ok.replace("}", ", \"extra\": 1}")),
            Err(RulesError::Json(_))
        ));
    }
}
