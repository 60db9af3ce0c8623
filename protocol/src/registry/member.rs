//! 家庭成员: one person of a household. School status and insurance feed the education and
//! health checks (DOMAIN.md, "The checks a visit makes").

use super::FieldType::*;
use super::household::LABOUR_CAPACITIES;
use super::{EntityDef, FieldDef, Personal, ScopeRule};

/// 与户主关系.
pub const RELATIONS: &[&str] = &[
    "head",
    "spouse",
    "child",
    "child_in_law",
    "grandchild",
    "parent",
    "grandparent",
    "sibling",
    "other",
];

pub const GENDERS: &[&str] = &["male", "female"];

/// 控辍保学: where a child of school age stands.
pub const SCHOOL_STATUSES: &[&str] = &[
    "not_school_age",
    "enrolled",
    "dropped_out",
    // 送教上门: taught at home for physical reasons.
    "home_teaching",
    "deferred",
    "graduated",
];

/// 基本医疗保险 enrolment.
pub const INSURANCE_STATUSES: &[&str] = &["enrolled", "not_enrolled", "unknown"];

/// 残疾等级: none, or the four grades of the disability certificate.
pub const DISABILITY_GRADES: &[&str] = &["none", "grade_1", "grade_2", "grade_3", "grade_4"];

pub static MEMBER: EntityDef = EntityDef {
    name: "member",
    scope: ScopeRule::Parent {
        field: "household_id",
    },
    append_only: false,
    needs_fix: false,
    fields: &[
        FieldDef::plain("household_id", Ref("household"))
            .required()
            .immutable(),
        FieldDef::plain("name", Text { max_chars: 50 })
            .required()
            .personal(Personal::Identity),
        FieldDef::plain("relation", Enum(RELATIONS)),
        FieldDef::plain("gender", Enum(GENDERS)),
        FieldDef::plain("birth_date", Date).personal(Personal::Identity),
        FieldDef::plain("id_card", IdCard).personal(Personal::IdCard),
        FieldDef::plain("phone", Phone).personal(Personal::Phone),
        FieldDef::plain("school_status", Enum(SCHOOL_STATUSES)),
        FieldDef::plain("school_name", Text { max_chars: 100 }),
        FieldDef::plain("insurance_status", Enum(INSURANCE_STATUSES)),
        // 家庭医生签约
        FieldDef::plain("family_doctor_signed", Bool),
        // Serious or chronic illness, free text: the most sensitive field we hold.
        FieldDef::plain("illness", Text { max_chars: 200 }).personal(Personal::Health),
        FieldDef::plain("disability", Enum(DISABILITY_GRADES)).personal(Personal::Health),
        FieldDef::plain("labour_capacity", Enum(LABOUR_CAPACITIES)),
        // 外出务工
        FieldDef::plain("migrant_worker", Bool),
        // 人编号: the national monitoring system's number for the person (see `household_no`).
        FieldDef::plain("person_no", Text { max_chars: 40 }),
    ],
};
