//! Who may do what to which entity, and who sees which personal data: the permission and
//! disclosure tables, as data that tests and the README iterate over. Village scope is checked
//! separately (a record must lie in one of the caller's villages); these tables answer the
//! role question only.

use fieldsync_protocol::Role;
use fieldsync_protocol::push::Op;
use fieldsync_protocol::registry::{self, Personal};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    /// Resolve a conflict record of the entity.
    Review,
    /// Approve or return a record that needs a decision (attendance sheets, leave, cases).
    Approve,
}

impl Action {
    pub fn of(op: Op) -> Action {
        match op {
            Op::Create => Action::Create,
            Op::Update => Action::Update,
            Op::Delete => Action::Delete,
        }
    }
}

/// One row: a role's rights on an entity.
pub struct Grant {
    pub role: Role,
    /// An entity's name, or [`EVERY_CHECK`].
    pub entity: &'static str,
    pub actions: &'static [Action],
}

/// In a grant, every check of the registry (`registry::CHECKS`): a new check has the rights of
/// the others without a row of its own.
pub const EVERY_CHECK: &str = "(every check)";

use Action::*;
use Role::*;

const EDIT: &[Action] = &[Read, Create, Update];
const EDIT_DELETE: &[Action] = &[Read, Create, Update, Delete];
const ALL: &[Action] = &[Read, Create, Update, Delete, Review];
const RECORD: &[Action] = &[Read, Create];

/// The table. A role absent for an entity has no access to it.
#[rustfmt::skip]
pub static GRANTS: &[Grant] = &[
    Grant { role: Admin, entity: "household", actions: ALL },
    Grant { role: Admin, entity: "member", actions: ALL },
    Grant { role: CountyOfficer, entity: "household", actions: ALL },
    Grant { role: CountyOfficer, entity: "member", actions: ALL },
    Grant { role: TownshipSupervisor, entity: "household", actions: &[Read, Create, Update, Review] },
    Grant { role: TownshipSupervisor, entity: "member", actions: &[Read, Create, Update, Review] },
    Grant { role: FirstSecretary, entity: "household", actions: ALL },
    Grant { role: FirstSecretary, entity: "member", actions: ALL },
    Grant { role: TeamMember, entity: "household", actions: EDIT },
    Grant { role: TeamMember, entity: "member", actions: EDIT_DELETE },
    Grant { role: GridWorker, entity: "household", actions: EDIT },
    Grant { role: GridWorker, entity: "member", actions: EDIT_DELETE },
    // Observations (checks, surveys) are facts: recorded once, never edited or deleted.
    Grant { role: Admin, entity: EVERY_CHECK, actions: RECORD },
    Grant { role: Admin, entity: "survey_submission", actions: RECORD },
    Grant { role: CountyOfficer, entity: EVERY_CHECK, actions: RECORD },
    Grant { role: CountyOfficer, entity: "survey_submission", actions: RECORD },
    Grant { role: TownshipSupervisor, entity: EVERY_CHECK, actions: &[Read] },
    Grant { role: TownshipSupervisor, entity: "survey_submission", actions: &[Read] },
    Grant { role: FirstSecretary, entity: EVERY_CHECK, actions: RECORD },
    Grant { role: FirstSecretary, entity: "survey_submission", actions: RECORD },
    Grant { role: TeamMember, entity: EVERY_CHECK, actions: RECORD },
    Grant { role: TeamMember, entity: "survey_submission", actions: RECORD },
    Grant { role: GridWorker, entity: EVERY_CHECK, actions: RECORD },
    Grant { role: GridWorker, entity: "survey_submission", actions: RECORD },
    // Visits and check-ins: the cadres who must be in the village record them; those who review
    // attendance read them.
    Grant { role: Admin, entity: "visit", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "visit", actions: &[Read] },
    Grant { role: TownshipSupervisor, entity: "visit", actions: &[Read] },
    Grant { role: FirstSecretary, entity: "visit", actions: RECORD },
    Grant { role: TeamMember, entity: "visit", actions: RECORD },
    Grant { role: GridWorker, entity: "visit", actions: RECORD },
    Grant { role: Admin, entity: "presence", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "presence", actions: &[Read] },
    Grant { role: TownshipSupervisor, entity: "presence", actions: &[Read] },
    Grant { role: FirstSecretary, entity: "presence", actions: RECORD },
    Grant { role: TeamMember, entity: "presence", actions: RECORD },
    // Self-reports: hotline operators and farmers submit; cadres and reviewers read. A farmer
    // reads only their own, through `GET /v1/self-reports/mine` (see WRITE_ONLY).
    Grant { role: HotlineOperator, entity: "self_report", actions: RECORD },
    Grant { role: Farmer, entity: "self_report", actions: &[Create] },
    Grant { role: Admin, entity: "self_report", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "self_report", actions: &[Read] },
    Grant { role: TownshipSupervisor, entity: "self_report", actions: &[Read] },
    Grant { role: FirstSecretary, entity: "self_report", actions: &[Read] },
    Grant { role: TeamMember, entity: "self_report", actions: &[Read] },
    Grant { role: GridWorker, entity: "self_report", actions: &[Read] },
    // Leave and declared training or trip days: cadres ask, team leaders answer.
    Grant { role: Admin, entity: "leave_request", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "leave_request", actions: &[Read] },
    Grant { role: TownshipSupervisor, entity: "leave_request", actions: &[Read] },
    Grant { role: FirstSecretary, entity: "leave_request", actions: RECORD },
    Grant { role: TeamMember, entity: "leave_request", actions: RECORD },
    Grant { role: Admin, entity: "leave_decision", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "leave_decision", actions: &[Read] },
    Grant { role: TownshipSupervisor, entity: "leave_decision", actions: RECORD },
    Grant { role: FirstSecretary, entity: "leave_decision", actions: &[Read] },
    Grant { role: TeamMember, entity: "leave_decision", actions: &[Read] },
    // Monitoring cases: cadres who find a household at risk open one (a county officer for a
    // department's alert); their state moves only by steps, judged by `cases::machine`, which
    // also decides which role takes which step. Reviewers settle a step that met a moved case.
    Grant { role: Admin, entity: "case", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "case", actions: &[Read, Create, Review] },
    Grant { role: TownshipSupervisor, entity: "case", actions: &[Read, Create, Review] },
    Grant { role: FirstSecretary, entity: "case", actions: RECORD },
    Grant { role: TeamMember, entity: "case", actions: RECORD },
    Grant { role: GridWorker, entity: "case", actions: RECORD },
    Grant { role: Admin, entity: "case_step", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "case_step", actions: RECORD },
    Grant { role: TownshipSupervisor, entity: "case_step", actions: RECORD },
    Grant { role: FirstSecretary, entity: "case_step", actions: RECORD },
    Grant { role: TeamMember, entity: "case_step", actions: RECORD },
    Grant { role: GridWorker, entity: "case_step", actions: RECORD },
    // Follow-up tasks: rules make most of them; leaders and first secretaries add and
    // reassign; everyone assigned works and closes them (see `sync::work` for who may change
    // which field).
    Grant { role: Admin, entity: "task", actions: &[Read] },
    Grant { role: CountyOfficer, entity: "task", actions: &[Read, Create, Update, Review] },
    Grant { role: TownshipSupervisor, entity: "task", actions: &[Read, Create, Update, Review] },
    Grant { role: FirstSecretary, entity: "task", actions: &[Read, Create, Update, Review] },
    Grant { role: TeamMember, entity: "task", actions: &[Read, Update] },
    Grant { role: GridWorker, entity: "task", actions: &[Read, Update] },
];

pub fn allowed(role: Role, entity: &str, action: Action) -> bool {
    // Checks are granted together; no row names one (a test holds to it).
    let row = if registry::is_check(entity) {
        EVERY_CHECK
    } else if entity == EVERY_CHECK {
        return false;
    } else {
        entity
    };
    GRANTS
        .iter()
        .any(|g| g.role == role && g.entity == row && g.actions.contains(&action))
}

/// How much of a kind of personal data a role sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disclosure {
    Full,
    /// Partly hidden: `6401**********1234`, `139****1234`.
    Masked,
    /// Left out.
    Hidden,
}

/// The disclosure table. Cadres who visit households, verify identities and decide on help see
/// everything; the township supervisor (who reviews attendance and cases) sees contact data
/// and incomes but not ID-card numbers or illnesses in full; the system administrator and the
/// hotline operator see no more than they need to identify a household.
pub fn disclosure(role: Role, kind: Personal) -> Disclosure {
    use Disclosure::*;
    match (kind, role) {
        (Personal::None | Personal::Identity, _) => Full,
        (_, CountyOfficer | FirstSecretary | TeamMember | GridWorker) => Full,
        (Personal::Phone | Personal::Income, TownshipSupervisor) => Full,
        (Personal::IdCard, TownshipSupervisor) => Masked,
        (Personal::Health, TownshipSupervisor) => Hidden,
        (Personal::IdCard | Personal::Phone, Admin | HotlineOperator | Farmer) => Masked,
        (Personal::Health | Personal::Income, Admin | HotlineOperator | Farmer) => Hidden,
    }
}

/// Whether the role reviews conflicts of any entity (and so may list them).
pub fn reviews_anything(role: Role) -> bool {
    GRANTS
        .iter()
        .any(|g| g.role == role && g.actions.contains(&Review))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_protocol::registry::ENTITIES;

    #[test]
    fn every_grant_names_a_registered_entity() {
        for g in GRANTS {
            assert!(
                g.entity == EVERY_CHECK || ENTITIES.iter().any(|e| e.name == g.entity),
                "{}",
                g.entity
            );
            assert!(
                !registry::is_check(g.entity),
                "{}: grant EVERY_CHECK",
                g.entity
            );
        }
    }

    #[test]
    fn every_check_has_the_rights_of_the_checks() {
        for check in registry::CHECK_NAMES {
            for role in Role::ALL {
                for action in [Read, Create, Update, Delete, Review, Approve] {
                    assert_eq!(
                        allowed(role, check, action),
                        GRANTS.iter().any(|g| g.role == role
                            && g.entity == EVERY_CHECK
                            && g.actions.contains(&action)),
                        "{role:?} {check} {action:?}"
                    );
                }
            }
        }
        assert!(allowed(GridWorker, "water_check", Create));
        assert!(!allowed(GridWorker, "water_check", Update));
        assert!(!allowed(Farmer, "health_check", Read));
        assert!(!allowed(GridWorker, EVERY_CHECK, Create));
    }

    #[test]
    fn whoever_writes_may_read() {
        // A farmer's reports are read through their own endpoint, never by pull: a farmer must
        // not receive the village's other reports.
        const WRITE_ONLY: &[(Role, &str)] = &[(Farmer, "self_report")];
        for g in GRANTS {
            if WRITE_ONLY.contains(&(g.role, g.entity)) {
                continue;
            }
            if g.actions.iter().any(|a| *a != Read) {
                assert!(g.actions.contains(&Read), "{:?} {}", g.role, g.entity);
            }
        }
    }

    #[test]
    fn farmers_and_operators_do_not_touch_household_registers() {
        for role in [Farmer, HotlineOperator] {
            for entity in ["household", "member"] {
                for action in [Read, Create, Update, Delete, Review, Approve] {
                    assert!(
                        !allowed(role, entity, action),
                        "{role:?} {entity} {action:?}"
                    );
                }
            }
        }
        assert!(!allowed(GridWorker, "household", Delete));
        assert!(allowed(FirstSecretary, "household", Delete));
    }

    #[test]
    fn only_field_cadres_see_every_id_card_and_illness() {
        let full: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| disclosure(*r, Personal::IdCard) == Disclosure::Full)
            .collect();
        assert_eq!(
            full,
            [CountyOfficer, FirstSecretary, TeamMember, GridWorker]
        );
        let health: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| disclosure(*r, Personal::Health) == Disclosure::Full)
            .collect();
        assert_eq!(health, full);
        for role in Role::ALL {
            assert_eq!(disclosure(role, Personal::Identity), Disclosure::Full);
            assert_ne!(
                disclosure(role, Personal::IdCard),
                Disclosure::Hidden,
                "a masked number still identifies a household"
            );
        }
        assert_eq!(disclosure(Admin, Personal::Income), Disclosure::Hidden);
    }
}
