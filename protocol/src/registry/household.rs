//! 农户: the household, the unit of monitoring (DOMAIN.md, "Monitoring households at risk").

use super::FieldType::*;
use super::{EntityDef, FieldDef, Personal, ScopeRule};

/// 监测对象类型: the three monitored types of l.212–240, or not monitored.
pub const MONITORING_TYPES: &[&str] = &[
    "none",
    // 脱贫不稳定户
    "unstable_out_of_poverty",
    // 边缘易致贫户
    "marginal_prone",
    // 突发严重困难户
    "sudden_severe_difficulty",
];

/// 脱贫户 (left poverty, registered before 2021) or an ordinary rural household.
pub const POVERTY_STATUSES: &[&str] = &["out_of_poverty", "ordinary"];

/// 有劳动能力 / 弱劳动能力 / 无劳动能力: decides whether risk can be eliminated (l.238).
pub const LABOUR_CAPACITIES: &[&str] = &["full", "weak", "none"];

pub static HOUSEHOLD: EntityDef = EntityDef {
    name: "household",
    scope: ScopeRule::OwnField("village_code"),
    append_only: false,
    needs_fix: false,
    fields: &[
        FieldDef::plain("village_code", VillageCode)
            .required()
            .immutable(),
        FieldDef::plain("head_name", Text { max_chars: 50 })
            .required()
            .personal(Personal::Identity),
        // 村民小组 / 网格: the village group the grid worker covers.
        FieldDef::plain("grid", Text { max_chars: 50 }),
        FieldDef::plain("address", Text { max_chars: 200 }).personal(Personal::Identity),
        FieldDef::plain("phone", Phone).personal(Personal::Phone),
        FieldDef::plain("head_id_card", IdCard).personal(Personal::IdCard),
        FieldDef::plain("poverty_status", Enum(POVERTY_STATUSES)),
        FieldDef::plain("monitoring_type", Enum(MONITORING_TYPES)),
        FieldDef::plain("labour_capacity", Enum(LABOUR_CAPACITIES)),
        FieldDef::plain("household_size", Integer { min: 1, max: 50 }),
        // 人均纯收入, yuan per person per year.
        FieldDef::plain(
            "per_capita_income",
            Decimal {
                min: 0.0,
                max: 10_000_000.0,
            },
        )
        .personal(Personal::Income),
        FieldDef::plain(
            "income_year",
            Integer {
                min: 2000,
                max: 2100,
            },
        ),
        // The house's position (WGS-84), against which visit fixes are judged.
        FieldDef::plain(
            "home_lat",
            Decimal {
                min: -90.0,
                max: 90.0,
            },
        ),
        FieldDef::plain(
            "home_lon",
            Decimal {
                min: -180.0,
                max: 180.0,
            },
        ),
        FieldDef::plain("notes", Text { max_chars: 2000 }),
        // 户编号: the national monitoring system's number for the household, which a roster
        // import matches on (an office's spreadsheet names households by it).
        FieldDef::plain("household_no", Text { max_chars: 40 }),
    ],
};
