//! A survey submission: a grid worker's answers to a versioned form (see `crate::forms`),
//! filled offline. Append-only like the checks; the answers are checked against the form
//! version the phone had.

use super::FieldType::*;
use super::{EntityDef, FieldDef, ScopeRule};

pub static SURVEY_SUBMISSION: EntityDef = EntityDef {
    name: "survey_submission",
    scope: ScopeRule::Parent {
        field: "household_id",
    },
    append_only: true,
    needs_fix: false,
    fields: &[
        FieldDef::plain("household_id", Ref("household"))
            .required()
            .immutable(),
        FieldDef::plain("member_id", MemberOf("household_id")).immutable(),
        FieldDef::plain("form_key", Text { max_chars: 64 })
            .required()
            .immutable(),
        FieldDef::plain(
            "form_version",
            Integer {
                min: 1,
                max: 1_000_000,
            },
        )
        .required()
        .immutable(),
        FieldDef::plain("answers", Object).required().immutable(),
        FieldDef::plain("captured_at", DateTime)
            .required()
            .immutable(),
        FieldDef::plain("supersedes", Ref("survey_submission")).immutable(),
        FieldDef::plain("photos", HashList),
    ],
};
