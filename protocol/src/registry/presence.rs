//! What proves a cadre was in the village: visits (to a household, or a village meeting) and
//! explicit check-ins. Both are append-only facts with a GPS fix; the server judges the fix and
//! counts the day (see the server's `attendance` module).

use super::FieldType::*;
use super::checks::CHECK_NAMES;
use super::{EntityDef, FieldDef, ScopeRule};

/// Why a visit was made.
pub const VISIT_PURPOSES: &[&str] = &[
    "routine",           // 例行走访
    "checks",            // 四项核查
    "follow_up",         // 问题跟进 (a task)
    "policy_publicity",  // 政策宣传
    "village_meeting",   // 村民会议
    "monitoring_survey", // 监测排查
    "other",
];

pub static VISIT: EntityDef = EntityDef {
    name: "visit",
    scope: ScopeRule::OwnField("village_code"),
    append_only: true,
    // A visit without a fix is still recorded (the phone may have had none); it just does not
    // prove presence.
    needs_fix: false,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        // Absent for a village meeting; else a household of the same village.
        FieldDef::plain("household_id", Ref("household")).immutable(),
        FieldDef::plain("started_at", DateTime)
            .required()
            .immutable(),
        FieldDef::plain("ended_at", DateTime).immutable(),
        FieldDef::plain("purpose", Enum(VISIT_PURPOSES))
            .required()
            .immutable(),
        FieldDef::plain("notes", Text { max_chars: 2000 }).immutable(),
        FieldDef::plain("photos", HashList),
        FieldDef::plain("supersedes", Ref("visit")).immutable(),
    ],
};

/// The entities whose records show a cadre at a household: a visit or any check. They count as
/// visits in coverage and attendance, and may close a task (`work::EVIDENCE`).
pub const AT_HOUSEHOLD: [&str; CHECK_NAMES.len() + 1] =
    super::join::<_, 1, { CHECK_NAMES.len() }, { CHECK_NAMES.len() + 1 }>(["visit"], CHECK_NAMES);

/// An explicit check-in: "I am in the village now", with a fix.
pub static PRESENCE: EntityDef = EntityDef {
    name: "presence",
    scope: ScopeRule::OwnField("village_code"),
    append_only: true,
    needs_fix: true,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        FieldDef::plain("captured_at", DateTime)
            .required()
            .immutable(),
        FieldDef::plain("note", Text { max_chars: 500 }).immutable(),
    ],
};

/// Kinds of absence a cadre declares: leave does not count as present, training and official
/// trips do (DOMAIN.md, l.1282).
pub const ABSENCE_KINDS: &[&str] = &["leave", "training", "official_trip"];

/// A cadre's request for leave, or declaration of training or an official trip, from the phone
/// (offline too). The team leader's answer is a `leave_decision`.
pub static LEAVE_REQUEST: EntityDef = EntityDef {
    name: "leave_request",
    scope: ScopeRule::OwnField("village_code"),
    append_only: true,
    needs_fix: false,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        FieldDef::plain("kind", Enum(ABSENCE_KINDS))
            .required()
            .immutable(),
        FieldDef::plain("first_day", Date).required().immutable(),
        FieldDef::plain("last_day", Date).required().immutable(),
        FieldDef::plain("reason", Text { max_chars: 500 }).immutable(),
        // Withdrawing or changing a request is a new request that supersedes it.
        FieldDef::plain("supersedes", Ref("leave_request")).immutable(),
    ],
};

pub const DECISIONS: &[&str] = &["approved", "rejected"];

/// The team leader's answer to a leave request (also taken offline, on the leader's phone).
/// The latest decision on a request is the one in force.
pub static LEAVE_DECISION: EntityDef = EntityDef {
    name: "leave_decision",
    scope: ScopeRule::Parent {
        field: "leave_request_id",
    },
    append_only: true,
    needs_fix: false,
    fields: &[
        FieldDef::plain("leave_request_id", Ref("leave_request"))
            .required()
            .immutable(),
        FieldDef::plain("decision", Enum(DECISIONS))
            .required()
            .immutable(),
        FieldDef::plain("comment", Text { max_chars: 500 }).immutable(),
    ],
};
