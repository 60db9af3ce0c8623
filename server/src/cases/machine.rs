//! The monitoring procedure (防止返贫动态监测, DOMAIN.md "Monitoring households at risk") as a
//! state machine: which step may follow which, who may take it, and what evidence it needs.
//!
//! Pure: the caller gathers the facts (the visit named as evidence and its GPS verdict, the
//! household's income and labour capacity, its four checks, the year's line) and applies the
//! step only if [`step`] allows it. Steps arriving from two offline phones are applied in
//! arrival order against the state they find; a step whose `from` is no longer the state is
//! refused with the state it met, never merged by clock.

use fieldsync_protocol::Role;
use time::Date;

/// Where a case stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseState {
    /// Reported by the household, alerted by a department, or found by cadres.
    Reported,
    /// Home verification done (入户核实).
    Verified,
    /// Democratic review held (民主评议).
    Reviewed,
    /// Publicised in the village (乡村公示) until a day.
    Publicized,
    /// Township review passed (乡镇审核).
    TownshipReviewed,
    /// Approved by the county as one of the three monitored types (批准确定).
    Approved,
    /// Help measures recorded (帮扶措施).
    Helping,
    /// Risk eliminated (风险消除): the end of monitoring.
    Eliminated,
    /// Not admitted, with a reason: the end.
    NotAdmitted,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Reported => "reported",
            CaseState::Verified => "verified",
            CaseState::Reviewed => "reviewed",
            CaseState::Publicized => "publicized",
            CaseState::TownshipReviewed => "township_reviewed",
            CaseState::Approved => "approved",
            CaseState::Helping => "helping",
            CaseState::Eliminated => "eliminated",
            CaseState::NotAdmitted => "not_admitted",
        }
    }

    /// Eliminated or not admitted: the procedure is over.
    pub fn is_ended(self) -> bool {
        matches!(self, CaseState::Eliminated | CaseState::NotAdmitted)
    }

    pub fn parse(s: &str) -> Option<CaseState> {
        ALL_STATES.iter().copied().find(|c| c.as_str() == s)
    }
}

pub const ALL_STATES: [CaseState; 9] = [
    CaseState::Reported,
    CaseState::Verified,
    CaseState::Reviewed,
    CaseState::Publicized,
    CaseState::TownshipReviewed,
    CaseState::Approved,
    CaseState::Helping,
    CaseState::Eliminated,
    CaseState::NotAdmitted,
];

pub use fieldsync_protocol::registry::work::{CASE_TYPES, NOT_ADMITTED_REASONS};

/// The facts a step is judged on, gathered by the caller.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// The visit named as evidence: to this household, after the report, with a doubt-free
    /// fix.
    pub verified_visit: bool,
    /// A note of the democratic review (who met, what was decided).
    pub note: Option<String>,
    /// Days the publicity runs.
    pub publicity_days: Option<u32>,
    /// For approval: the type.
    pub case_type: Option<String>,
    /// For non-admission: the reason.
    pub reason: Option<String>,
    /// For help: the measures recorded.
    pub measures: Vec<String>,
    /// For elimination: income per person this year, in yuan.
    pub income_per_person: Option<f64>,
    /// For elimination: all four checks of the household pass now.
    pub checks_pass: bool,
    /// For elimination: the household has no labour capacity (it stays tracked).
    pub no_labour_capacity: bool,
}

/// A case as the machine needs it.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub state: CaseState,
    /// The last day of the village publicity, once publicised.
    pub publicity_until: Option<Date>,
}

/// What a step changes besides the state.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub to: CaseState,
    pub publicity_until: Option<Date>,
}

/// Why a step is refused; each names what would make it possible.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the case is {met}, not {expected}: someone moved it first")]
    Moved {
        expected: &'static str,
        met: &'static str,
    },
    #[error("a case that is {from} cannot go to {to}")]
    NotAStep {
        from: &'static str,
        to: &'static str,
    },
    #[error("a {role} may not move a case to {to}")]
    Role {
        role: &'static str,
        to: &'static str,
    },
    #[error("{0}")]
    Evidence(String),
}

/// Publicity lasts at least this many days (公示期).
pub const MIN_PUBLICITY_DAYS: u32 = 5;
/// Income must exceed the line by this factor for the risk to count as eliminated (l.238).
pub const ELIMINATION_FACTOR: f64 = 1.1;

/// Who may take a case to `to`.
pub fn roles_for(to: CaseState) -> &'static [Role] {
    use Role::*;
    match to {
        CaseState::Reported => &[],
        CaseState::Verified => &[FirstSecretary, TeamMember, GridWorker],
        CaseState::Reviewed | CaseState::Publicized => &[FirstSecretary],
        CaseState::TownshipReviewed => &[TownshipSupervisor],
        CaseState::Approved | CaseState::Eliminated => &[CountyOfficer],
        CaseState::NotAdmitted => &[FirstSecretary, TownshipSupervisor, CountyOfficer],
        CaseState::Helping => &[FirstSecretary, TeamMember],
    }
}

/// The steps `role` may take from `from`, in the procedure's order: the buttons a reviewer
/// is offered (the evidence is still judged when the step is taken).
pub fn next_steps(from: CaseState, role: Role) -> Vec<CaseState> {
    ALL_STATES
        .into_iter()
        .filter(|to| allowed(from, *to) && roles_for(*to).contains(&role))
        .collect()
}

/// The steps of the procedure.
fn allowed(from: CaseState, to: CaseState) -> bool {
    use CaseState::*;
    matches!(
        (from, to),
        (Reported, Verified)
            | (Verified, Reviewed)
            | (Reviewed, Publicized)
            | (Publicized, TownshipReviewed)
            | (TownshipReviewed, Approved)
            | (Approved | Helping, Helping)
            | (Helping, Eliminated)
            | (
                Reported | Verified | Reviewed | TownshipReviewed,
                NotAdmitted
            )
    )
}

/// Judges one step: the case must still be in `expected` (the state the phone saw), the step
/// must be one of the procedure's, the role must be one that takes it, and the evidence must
/// hold. `line` is the year's monitoring line in yuan per person (6000 for 2021).
pub fn step(
    case: &Case,
    expected: CaseState,
    to: CaseState,
    role: Role,
    evidence: &Evidence,
    line: f64,
    today: Date,
) -> Result<Outcome, Refusal> {
    if case.state != expected {
        return Err(Refusal::Moved {
            expected: expected.as_str(),
            met: case.state.as_str(),
        });
    }
    if !allowed(case.state, to) {
        return Err(Refusal::NotAStep {
            from: case.state.as_str(),
            to: to.as_str(),
        });
    }
    if !roles_for(to).contains(&role) {
        return Err(Refusal::Role {
            role: role.as_str(),
            to: to.as_str(),
        });
    }
    let need = |m: &str| Err(Refusal::Evidence(m.to_owned()));
    let mut publicity_until = case.publicity_until;
    match to {
        CaseState::Verified if !evidence.verified_visit => {
            return need(
                "home verification needs a visit to the household with a doubt-free GPS fix",
            );
        }
        CaseState::Reviewed if evidence.note.as_deref().is_none_or(|n| n.trim().is_empty()) => {
            return need("the democratic review needs a note of who met and what they decided");
        }
        CaseState::Publicized => {
            let days = evidence.publicity_days.unwrap_or(0);
            if days < MIN_PUBLICITY_DAYS {
                return need("the village publicity runs at least 5 days");
            }
            publicity_until = today.checked_add(time::Duration::days(i64::from(days) - 1));
        }
        CaseState::TownshipReviewed if case.publicity_until.is_none_or(|until| today <= until) => {
            return need("the township reviews after the village publicity has ended");
        }
        CaseState::Approved
            if evidence
                .case_type
                .as_deref()
                .is_none_or(|t| !CASE_TYPES.contains(&t)) =>
        {
            return need(
                "approval names the type: unstable_out_of_poverty, marginal_prone or sudden_severe_difficulty",
            );
        }
        CaseState::NotAdmitted
            if evidence
                .reason
                .as_deref()
                .is_none_or(|r| !NOT_ADMITTED_REASONS.contains(&r)) =>
        {
            return need(
                "not admitting a household names the reason (the negative list or criteria_not_met)",
            );
        }
        CaseState::Helping if evidence.measures.is_empty() => {
            return need("record at least one help measure");
        }
        CaseState::Eliminated => {
            if evidence.no_labour_capacity {
                return need(
                    "a household without labour capacity stays tracked: its risk is not marked eliminated",
                );
            }
            // In fen, so that 6000 × 1.1 is exactly 6600 and not 6600.000000000001.
            let fen = |yuan: f64| (yuan * 100.0).round() as i64;
            let threshold = fen(line * ELIMINATION_FACTOR);
            if evidence
                .income_per_person
                .is_none_or(|i| fen(i) <= threshold)
            {
                return Err(Refusal::Evidence(format!(
                    "income per person must be above {:.2} yuan (the line × 1.1)",
                    threshold as f64 / 100.0
                )));
            }
            if !evidence.checks_pass {
                return need("all four checks of the household must pass");
            }
        }
        _ => {}
    }
    Ok(Outcome {
        to,
        publicity_until,
    })
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
