//! Who may do what to which entity: the permission table, as data that tests and the README
//! iterate over. Village scope is checked separately (a record must lie in one of the caller's
//! villages); this table answers the role question only.

use fieldsync_protocol::Role;
use fieldsync_protocol::push::Op;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    /// Resolve a conflict record of the entity.
    Review,
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
    pub entity: &'static str,
    pub actions: &'static [Action],
}

use Action::*;
use Role::*;

const EDIT: &[Action] = &[Read, Create, Update];
const EDIT_DELETE: &[Action] = &[Read, Create, Update, Delete];
const ALL: &[Action] = &[Read, Create, Update, Delete, Review];

/// The table. A role absent for an entity has no access to it.
pub static GRANTS: &[Grant] = &[
    Grant {
        role: Admin,
        entity: "household",
        actions: ALL,
    },
    Grant {
        role: Admin,
        entity: "member",
        actions: ALL,
    },
    Grant {
        role: CountyOfficer,
        entity: "household",
        actions: ALL,
    },
    Grant {
        role: CountyOfficer,
        entity: "member",
        actions: ALL,
    },
    Grant {
        role: TownshipSupervisor,
        entity: "household",
        actions: &[Read, Create, Update, Review],
    },
    Grant {
        role: TownshipSupervisor,
        entity: "member",
        actions: &[Read, Create, Update, Review],
    },
    Grant {
        role: FirstSecretary,
        entity: "household",
        actions: ALL,
    },
    Grant {
        role: FirstSecretary,
        entity: "member",
        actions: ALL,
    },
    Grant {
        role: TeamMember,
        entity: "household",
        actions: EDIT,
    },
    Grant {
        role: TeamMember,
        entity: "member",
        actions: EDIT_DELETE,
    },
    Grant {
        role: GridWorker,
        entity: "household",
        actions: EDIT,
    },
    Grant {
        role: GridWorker,
        entity: "member",
        actions: EDIT_DELETE,
    },
];

pub fn allowed(role: Role, entity: &str, action: Action) -> bool {
    GRANTS
        .iter()
        .any(|g| g.role == role && g.entity == entity && g.actions.contains(&action))
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
            assert!(ENTITIES.iter().any(|e| e.name == g.entity), "{}", g.entity);
        }
    }

    #[test]
    fn whoever_writes_may_read() {
        for g in GRANTS {
            if g.actions.iter().any(|a| *a != Read) {
                assert!(g.actions.contains(&Read), "{:?} {}", g.role, g.entity);
            }
        }
    }

    #[test]
    fn farmers_and_operators_do_not_touch_household_registers() {
        for role in [Farmer, HotlineOperator] {
            for entity in ["household", "member"] {
                for action in [Read, Create, Update, Delete, Review] {
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
}
