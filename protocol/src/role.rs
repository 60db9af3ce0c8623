//! The roles of `DESIGN.md` ("Security"), with their fixed wire identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    CountyOfficer,
    /// The team leader who reviews attendance (乡镇党委).
    TownshipSupervisor,
    /// Resident first secretary (驻村第一书记).
    FirstSecretary,
    /// Work team member (工作队员).
    TeamMember,
    /// Grid worker (网格员).
    GridWorker,
    /// 12317 hotline operator.
    HotlineOperator,
    /// A farmer who may only self-report.
    Farmer,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::CountyOfficer,
        Role::TownshipSupervisor,
        Role::FirstSecretary,
        Role::TeamMember,
        Role::GridWorker,
        Role::HotlineOperator,
        Role::Farmer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CountyOfficer => "county_officer",
            Role::TownshipSupervisor => "township_supervisor",
            Role::FirstSecretary => "first_secretary",
            Role::TeamMember => "team_member",
            Role::GridWorker => "grid_worker",
            Role::HotlineOperator => "hotline_operator",
            Role::Farmer => "farmer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown role {0:?}; expected one of admin, county_officer, township_supervisor, first_secretary, team_member, grid_worker, hotline_operator, farmer"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("mayor".parse::<Role>().is_err());
    }
}
