//! A farmer's declaration of difficulty (农户自主申报), entered by a 12317 hotline operator or
//! sent from the farmer's app. It names the household, or the person's ID-card number and
//! village when the household is not known to the caller, and records the farmer's consent to
//! the checks of their data that monitoring needs.

use super::FieldType::*;
use super::{EntityDef, FieldDef, Personal, ScopeRule};

/// What the difficulty is about (the monitoring criteria, DOMAIN.md).
pub const DIFFICULTIES: &[&str] = &[
    "illness",         // 大病重病
    "disability",      // 主要劳动力伤残
    "disaster",        // 自然灾害
    "accident",        // 意外事故
    "business_loss",   // 经营亏损
    "education_costs", // 多名在校大学生
    "income_drop",     // 收入骤减
    "housing",         // 住房安全
    "drinking_water",  // 饮水安全
    "other",
];

pub const CHANNELS: &[&str] = &["hotline", "app", "paper"];

pub static SELF_REPORT: EntityDef = EntityDef {
    name: "self_report",
    scope: ScopeRule::OwnField("village_code"),
    append_only: true,
    needs_fix: false,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        FieldDef::plain("household_id", Ref("household")).immutable(),
        FieldDef::plain("id_card", IdCard)
            .immutable()
            .personal(Personal::IdCard),
        FieldDef::plain("reporter_name", Text { max_chars: 50 })
            .immutable()
            .personal(Personal::Identity),
        FieldDef::plain("contact_phone", Phone)
            .immutable()
            .personal(Personal::Phone),
        FieldDef::plain("category", Enum(DIFFICULTIES))
            .required()
            .immutable(),
        // May tell of an illness: shown only to those who may see health data.
        FieldDef::plain("description", Text { max_chars: 2000 })
            .required()
            .immutable()
            .personal(Personal::Health),
        FieldDef::plain("consent_to_checks", Bool)
            .required()
            .immutable(),
        FieldDef::plain("channel", Enum(CHANNELS))
            .required()
            .immutable(),
        // The monitoring case the report opened or joined (same household, same difficulty,
        // case still open).
        FieldDef::plain("case_id", Ref("case")).server_only(),
    ],
};
