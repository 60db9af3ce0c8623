//! Follow-up work (DOMAIN.md "Monitoring households at risk", "Follow-up work"): monitoring
//! cases, the steps that move them, and the tasks that tell a cadre what to do next.
//!
//! A case's state is the server's to write: phones propose a move by recording a `case_step`
//! (a fact: who, when, from which state, with what evidence), and the server applies it through
//! the procedure's state machine in the push. Two phones moving the same case offline therefore
//! never meet in a field merge; the later step meets the state the first one left.

use super::FieldType::*;
use super::checks::CHECK_NAMES;
use super::household::MONITORING_TYPES;
use super::report::DIFFICULTIES;
use super::{EntityDef, FieldDef, MergePolicy, Personal, ScopeRule};

/// Where a case stands, in the order of the procedure (the last two are ends).
pub const CASE_STATES: &[&str] = &[
    "reported",          // 农户申报 / 部门预警 / 干部排查
    "verified",          // 入户核实
    "reviewed",          // 民主评议
    "publicized",        // 村内公示
    "township_reviewed", // 乡镇审核
    "approved",          // 县级批准确定
    "helping",           // 落实帮扶措施
    "eliminated",        // 风险消除
    "not_admitted",      // 不纳入
];

/// The three monitored types (the household's `monitoring_type` without `none`).
pub const CASE_TYPES: &[&str] = {
    let (_, types) = MONITORING_TYPES.split_at(1);
    types
};

/// Why a household is not admitted: the negative list (l.236) and not meeting the criteria.
pub const NOT_ADMITTED_REASONS: &[&str] = &[
    "criteria_not_met",
    "hidden_assets_or_false_expenses",
    "abroad_at_own_cost",
    "luxury_spending",
    "relatives_well_off",
    "excessive_treatment",
    "public_objection_unproven",
    "illegal_acts",
];

/// Help measures (帮扶措施) matched to the cause of the risk.
pub const HELP_MEASURES: &[&str] = &[
    "industry",           // 产业帮扶
    "employment",         // 就业帮扶
    "public_welfare_job", // 公益岗位
    "education_aid",      // 教育资助
    "medical_aid",        // 医疗救助
    "insurance",          // 保险
    "housing_repair",     // 危房改造
    "drinking_water",     // 饮水工程
    "minimum_living",     // 低保
    "temporary_relief",   // 临时救助
    "disability_aid",     // 残疾人补贴
    "consumption",        // 消费帮扶
    "other",
];

/// How a case came to be opened.
pub const CASE_SOURCES: &[&str] = &["self_report", "cadre", "department"];

pub static CASE: EntityDef = EntityDef {
    name: "case",
    scope: ScopeRule::OwnField("village_code"),
    append_only: false,
    needs_fix: false,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        // Absent when a self-report named only a person; the home verification fills it in.
        FieldDef::plain("household_id", Ref("household")).immutable(),
        FieldDef::plain("category", Enum(DIFFICULTIES))
            .required()
            .immutable(),
        FieldDef::plain("description", Text { max_chars: 2000 })
            .immutable()
            .personal(Personal::Health),
        FieldDef::plain("source", Enum(CASE_SOURCES)).server_only(),
        FieldDef::plain("self_report_id", Ref("self_report")).server_only(),
        // Self-reports of the same household and difficulty that joined this case.
        FieldDef::plain("reports", Integer { min: 0, max: 1_000 }).server_only(),
        FieldDef::plain("state", Enum(CASE_STATES)).server_only(),
        FieldDef::plain("case_type", Enum(CASE_TYPES)).server_only(),
        FieldDef::plain("publicity_until", Date).server_only(),
        FieldDef::plain("not_admitted_reason", Enum(NOT_ADMITTED_REASONS)).server_only(),
        FieldDef::plain("measures", EnumList(HELP_MEASURES)).server_only(),
        FieldDef::plain("opened_at", DateTime).server_only(),
        FieldDef::plain("closed_at", DateTime).server_only(),
    ],
};

/// What the server made of a step.
pub const STEP_OUTCOMES: &[&str] = &[
    // The case moved.
    "applied",
    // Another phone had already taken the same step: nothing moved, the record stays as
    // evidence.
    "already",
    // The case had moved elsewhere before this step arrived; kept, and shown to a reviewer.
    "refused",
];

/// One proposed move of a case, with its evidence.
pub static CASE_STEP: EntityDef = EntityDef {
    name: "case_step",
    scope: ScopeRule::Parent { field: "case_id" },
    append_only: true,
    needs_fix: false,
    fields: &[
        FieldDef::plain("case_id", Ref("case"))
            .required()
            .immutable(),
        // The state the phone saw the case in.
        FieldDef::plain("from", Enum(CASE_STATES))
            .required()
            .immutable(),
        FieldDef::plain("to", Enum(CASE_STATES))
            .required()
            .immutable(),
        FieldDef::plain("taken_at", DateTime).required().immutable(),
        // Home verification: the visit to the household.
        FieldDef::plain("visit_id", Ref("visit")).immutable(),
        FieldDef::plain("note", Text { max_chars: 2000 }).immutable(),
        FieldDef::plain("publicity_days", Integer { min: 1, max: 60 }).immutable(),
        FieldDef::plain("case_type", Enum(CASE_TYPES)).immutable(),
        FieldDef::plain("reason", Enum(NOT_ADMITTED_REASONS)).immutable(),
        FieldDef::plain("measures", EnumList(HELP_MEASURES)).immutable(),
        FieldDef::plain("photos", HashList).immutable(),
        FieldDef::plain("outcome", Enum(STEP_OUTCOMES)).server_only(),
        FieldDef::plain("refusal", Text { max_chars: 500 }).server_only(),
    ],
};

/// A task moves forward only; in a race the value further along wins and the other is kept as
/// a conflict. A cancellation (a leader's call) gives way to work done with evidence.
pub const TASK_STATUSES: &[&str] = &["open", "in_progress", "cancelled", "done"];

/// The statuses of a task still to be worked.
pub const OPEN_TASK_STATUSES: &[&str] = &["open", "in_progress"];

/// Where a task came from.
pub const TASK_SOURCES: &[&str] =
    &super::join::<_, { CHECK_NAMES.len() }, 3, { CHECK_NAMES.len() + 3 }>(
        CHECK_NAMES,
        ["self_report", "case", "manual"],
    );

/// What may close a task: a record made at the household (a visit or a check).
pub const EVIDENCE: &[&str] = &super::AT_HOUSEHOLD;

pub static TASK: EntityDef = EntityDef {
    name: "task",
    scope: ScopeRule::OwnField("village_code"),
    append_only: false,
    needs_fix: false,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        FieldDef::plain("household_id", Ref("household")).immutable(),
        FieldDef::plain("member_id", MemberOf("household_id")).immutable(),
        FieldDef::plain("case_id", Ref("case")).immutable(),
        // The rule's kind (`home_verification`, `out_of_school` …); counties may add kinds.
        FieldDef::plain("kind", Text { max_chars: 64 })
            .required()
            .immutable(),
        FieldDef::plain("title", Text { max_chars: 200 }).required(),
        FieldDef::plain("due_on", Date).required(),
        FieldDef::plain("assignee_id", Id),
        FieldDef::plain("status", Enum(TASK_STATUSES)).merge(MergePolicy::Ranked(TASK_STATUSES)),
        // The visit or check that shows the work was done: needed to close.
        FieldDef::plain("evidence_id", AnyRef(EVIDENCE)),
        FieldDef::plain("note", Text { max_chars: 1000 }),
        FieldDef::plain("source", Enum(TASK_SOURCES)).server_only(),
        FieldDef::plain("source_id", Id).server_only(),
        FieldDef::plain("rule", Text { max_chars: 64 }).server_only(),
        FieldDef::plain("created_at", DateTime).server_only(),
        FieldDef::plain("escalated_at", DateTime).server_only(),
        FieldDef::plain("escalated_to", Id).server_only(),
        FieldDef::plain("closed_at", DateTime).server_only(),
        FieldDef::plain("closed_by", Id).server_only(),
    ],
};
