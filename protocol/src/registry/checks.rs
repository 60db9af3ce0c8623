//! The four checks a visit makes (DOMAIN.md, "The checks a visit makes"): housing safety,
//! drinking water, compulsory education, basic medical care. Each is an append-only fact about
//! a household (or one member of it); a correction is a new check that `supersedes` the old one.
//! The server evaluates each check on arrival and writes `passing` and `failures`.

use serde_json::{Map, Value};

use super::FieldType::*;
use super::{EntityDef, FieldDef, Personal, ScopeRule};

/// 房屋安全性鉴定等级: A/B safe, C/D dangerous.
pub const APPRAISAL_GRADES: &[&str] = &["A", "B", "C", "D", "not_appraised"];
pub const HAZARDS: &[&str] = &[
    "geological",
    "ageing",
    "flood",
    "earthquake_damage",
    "fire",
    "other",
];
pub const REPAIR_STATUSES: &[&str] = &[
    "not_needed",
    "planned",
    "in_progress",
    "completed",
    "relocated",
];
/// 水源: centralised supply, well, water cellar (水窖), trucked water, spring.
pub const WATER_SOURCES: &[&str] = &[
    "centralised_tap",
    "well",
    "cellar",
    "trucked",
    "spring",
    "other",
];
pub const WATER_PROBLEMS: &[&str] = &[
    "poor_maintenance",
    "bad_quality",
    "insufficient_source",
    "frozen_pipes",
    "other",
];
/// 控辍保学: home teaching (送教上门) is schooling for children who cannot attend for physical
/// reasons; dropping out is the failure to fix.
pub const SCHOOLING: &[&str] = &[
    "enrolled",
    "dropped_out",
    "home_teaching",
    "deferred",
    "suspended",
    "not_school_age",
    "graduated",
];

/// Every failure a check can report; a follow-up task rule keys on these codes.
pub const FAILURES: &[&str] = &[
    "dangerous_house",
    "unresolved_hazard",
    "not_appraised",
    "water_quantity",
    "water_quality",
    "water_convenience",
    "water_supply",
    "out_of_school",
    "uninsured",
    "no_family_doctor",
];

/// Fields every check carries, before its own.
macro_rules! check_fields {
    ($($own:expr),* $(,)?) => {
        &[
            FieldDef::plain("household_id", Ref("household")).required().immutable(),
            FieldDef::plain("captured_at", DateTime).required().immutable(),
            FieldDef::plain("photos", HashList),
            FieldDef::plain("notes", Text { max_chars: 1000 }),
            $($own,)*
            FieldDef::plain("passing", Bool).server_only(),
            FieldDef::plain("failures", EnumList(FAILURES)).server_only(),
        ]
    };
}

const fn check(name: &'static str, fields: &'static [FieldDef]) -> EntityDef {
    EntityDef {
        name,
        fields,
        scope: ScopeRule::Parent {
            field: "household_id",
        },
        append_only: true,
        needs_fix: false,
    }
}

pub static HOUSING_CHECK: EntityDef = check(
    "housing_check",
    check_fields![
        FieldDef::plain("supersedes", Ref("housing_check")).immutable(),
        FieldDef::plain("appraisal_grade", Enum(APPRAISAL_GRADES)).required(),
        FieldDef::plain("hazards", EnumList(HAZARDS)),
        FieldDef::plain("repair_status", Enum(REPAIR_STATUSES)),
        FieldDef::plain("occupied", Bool),
    ],
);

pub static WATER_CHECK: EntityDef = check(
    "water_check",
    check_fields![
        FieldDef::plain("supersedes", Ref("water_check")).immutable(),
        FieldDef::plain("source", Enum(WATER_SOURCES)).required(),
        FieldDef::plain("quantity_ok", Bool).required(),
        FieldDef::plain("quality_ok", Bool).required(),
        FieldDef::plain("convenience_ok", Bool).required(),
        FieldDef::plain("supply_guaranteed", Bool).required(),
        FieldDef::plain("problems", EnumList(WATER_PROBLEMS)),
    ],
);

pub static EDUCATION_CHECK: EntityDef = check(
    "education_check",
    check_fields![
        FieldDef::plain("supersedes", Ref("education_check")).immutable(),
        FieldDef::plain("member_id", MemberOf("household_id"))
            .required()
            .immutable(),
        FieldDef::plain("status", Enum(SCHOOLING)).required(),
        FieldDef::plain("school", Text { max_chars: 100 }),
        FieldDef::plain("grade", Text { max_chars: 20 }),
        FieldDef::plain("reason", Text { max_chars: 500 }),
    ],
);

pub static HEALTH_CHECK: EntityDef = check(
    "health_check",
    check_fields![
        FieldDef::plain("supersedes", Ref("health_check")).immutable(),
        FieldDef::plain("member_id", MemberOf("household_id"))
            .required()
            .immutable(),
        // 参加基本医疗保险
        FieldDef::plain("insured", Bool).required(),
        // 家庭医生签约
        FieldDef::plain("family_doctor_signed", Bool).required(),
        FieldDef::plain("serious_illness", Bool).personal(Personal::Health),
        FieldDef::plain("chronic_illness", Text { max_chars: 200 }).personal(Personal::Health),
        // 先诊疗后付费
        FieldDef::plain("treat_first_pay_later", Bool),
    ],
);

pub static CHECKS: [&EntityDef; 4] = [
    &HOUSING_CHECK,
    &WATER_CHECK,
    &EDUCATION_CHECK,
    &HEALTH_CHECK,
];

fn flag(fields: &Map<String, Value>, name: &str) -> Option<bool> {
    fields.get(name).and_then(Value::as_bool)
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

/// The failures a check's values show, in the order of [`FAILURES`]; `None` for an entity that
/// is not a check. Empty means passing.
pub fn evaluate(entity: &str, fields: &Map<String, Value>) -> Option<Vec<&'static str>> {
    let mut failures = Vec::new();
    match entity {
        "housing_check" => {
            let grade = text(fields, "appraisal_grade");
            let resolved = matches!(
                text(fields, "repair_status"),
                Some("completed" | "relocated")
            );
            if matches!(grade, Some("C" | "D")) && !resolved {
                failures.push("dangerous_house");
            }
            let hazards = fields
                .get("hazards")
                .and_then(Value::as_array)
                .is_some_and(|h| !h.is_empty());
            if hazards && !resolved {
                failures.push("unresolved_hazard");
            }
            if grade == Some("not_appraised") {
                failures.push("not_appraised");
            }
        }
        "water_check" => {
            for (field, failure) in [
                ("quantity_ok", "water_quantity"),
                ("quality_ok", "water_quality"),
                ("convenience_ok", "water_convenience"),
                ("supply_guaranteed", "water_supply"),
            ] {
                if flag(fields, field) == Some(false) {
                    failures.push(failure);
                }
            }
        }
        "education_check" => {
            if matches!(text(fields, "status"), Some("dropped_out" | "suspended")) {
                failures.push("out_of_school");
            }
        }
        "health_check" => {
            if flag(fields, "insured") == Some(false) {
                failures.push("uninsured");
            }
            if flag(fields, "family_doctor_signed") == Some(false) {
                failures.push("no_family_doctor");
            }
        }
        _ => return None,
    }
    Some(failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(entity: &str, v: Value) -> Vec<&'static str> {
        evaluate(entity, v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn housing() {
        assert!(eval("housing_check", json!({"appraisal_grade": "B"})).is_empty());
        assert_eq!(
            eval(
                "housing_check",
                json!({"appraisal_grade": "D", "repair_status": "planned"})
            ),
            ["dangerous_house"]
        );
        assert!(
            eval(
                "housing_check",
                json!({"appraisal_grade": "D", "repair_status": "relocated"})
            )
            .is_empty()
        );
        assert_eq!(
            eval(
                "housing_check",
                json!({"appraisal_grade": "A", "hazards": ["geological"]})
            ),
            ["unresolved_hazard"]
        );
        assert_eq!(
            eval("housing_check", json!({"appraisal_grade": "not_appraised"})),
            ["not_appraised"]
        );
    }

    #[test]
    fn water_education_health() {
        let ok = json!({"source": "well", "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true});
        assert!(eval("water_check", ok).is_empty());
        let bad = json!({"source": "cellar", "quantity_ok": false, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": false});
        assert_eq!(eval("water_check", bad), ["water_quantity", "water_supply"]);
        assert_eq!(
            eval("education_check", json!({"status": "dropped_out"})),
            ["out_of_school"]
        );
        assert!(
            eval("education_check", json!({"status": "home_teaching"})).is_empty(),
            "taught at home is schooled"
        );
        assert_eq!(
            eval(
                "health_check",
                json!({"insured": false, "family_doctor_signed": false})
            ),
            ["uninsured", "no_family_doctor"]
        );
        assert!(evaluate("household", &Map::new()).is_none());
    }

    #[test]
    fn every_failure_code_is_declared() {
        let all = [
            eval(
                "housing_check",
                json!({"appraisal_grade": "C", "hazards": ["flood"]}),
            ),
            eval("housing_check", json!({"appraisal_grade": "not_appraised"})),
            eval(
                "water_check",
                json!({"quantity_ok": false, "quality_ok": false, "convenience_ok": false, "supply_guaranteed": false}),
            ),
            eval("education_check", json!({"status": "suspended"})),
            eval(
                "health_check",
                json!({"insured": false, "family_doctor_signed": false}),
            ),
        ];
        let mut seen: Vec<&str> = all.into_iter().flatten().collect();
        seen.sort_unstable();
        seen.dedup();
        let mut declared = FAILURES.to_vec();
        declared.sort_unstable();
        assert_eq!(seen, declared);
    }
}

/// A check record as stored, for working out what is in force.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    pub entity: &'a str,
    pub id: uuid::Uuid,
    pub fields: &'a Map<String, Value>,
}

fn captured(o: &Observed<'_>) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(
        o.fields.get("captured_at")?.as_str()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
}

/// The checks in force: for each check entity and (for the per-member checks) each member, the
/// latest captured check that no other check supersedes. Corrections supersede; history stays.
pub fn current<'a>(records: &'a [Observed<'a>]) -> Vec<&'a Observed<'a>> {
    let superseded: Vec<uuid::Uuid> = records
        .iter()
        .filter_map(|o| o.fields.get("supersedes")?.as_str()?.parse().ok())
        .collect();
    let mut best: Vec<&Observed<'a>> = Vec::new();
    for o in records
        .iter()
        .filter(|o| CHECKS.iter().any(|c| c.name == o.entity) && !superseded.contains(&o.id))
    {
        let member = o.fields.get("member_id");
        match best
            .iter_mut()
            .find(|b| b.entity == o.entity && b.fields.get("member_id") == member)
        {
            Some(slot) => {
                if (captured(o), o.id) > (captured(slot), slot.id) {
                    *slot = o;
                }
            }
            None => best.push(o),
        }
    }
    best
}

/// Where a household stands on one check.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// The checks in force pass.
    Pass,
    /// A check in force failed (for a member's check: any member's).
    Fail,
    /// Never checked.
    #[default]
    None,
}

impl CheckState {
    /// The name on the wire and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Pass => "pass",
            CheckState::Fail => "fail",
            CheckState::None => "none",
        }
    }
}

/// Where a household stands on one of the four checks.
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct CheckStatus {
    pub state: CheckState,
    pub failures: Vec<String>,
    /// When the latest check in force was captured.
    pub checked_at: Option<String>,
}

/// A household's standing on the four checks, from the checks in force. Per-member checks fail
/// the household when any member's fails.
pub fn household_status(in_force: &[&Observed<'_>]) -> [(&'static str, CheckStatus); 4] {
    CHECKS.map(|def| {
        let mine: Vec<&&Observed<'_>> = in_force.iter().filter(|o| o.entity == def.name).collect();
        let mut status = CheckStatus::default();
        let mut latest = None;
        for o in mine {
            let failures: Vec<String> = o
                .fields
                .get("failures")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if failures.is_empty() && status.state != CheckState::Fail {
                status.state = CheckState::Pass;
            } else if !failures.is_empty() {
                status.state = CheckState::Fail;
            }
            for f in failures {
                if !status.failures.contains(&f) {
                    status.failures.push(f);
                }
            }
            if captured(o) > latest {
                latest = captured(o);
                status.checked_at = o
                    .fields
                    .get("captured_at")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
        }
        (def.name, status)
    })
}

#[cfg(test)]
mod status_tests {
    use super::*;
    use serde_json::json;

    fn rec(
        entity: &'static str,
        id: u8,
        v: Value,
    ) -> (&'static str, uuid::Uuid, Map<String, Value>) {
        (
            entity,
            uuid::Uuid::from_bytes([id; 16]),
            v.as_object().unwrap().clone(),
        )
    }

    #[test]
    fn the_latest_uncorrected_check_is_in_force() {
        let child_a = "00000000-0000-0000-0000-0000000000aa";
        let child_b = "00000000-0000-0000-0000-0000000000bb";
        let raw = [
            rec(
                "water_check",
                1,
                json!({"captured_at": "2026-03-01T09:00:00+08:00", "failures": ["water_quality"]}),
            ),
            rec(
                "water_check",
                2,
                json!({"captured_at": "2026-06-01T09:00:00+08:00", "failures": []}),
            ),
            // 02:00 UTC is 10:00 in Ningxia: later than check 2, though it sorts earlier as text.
            rec(
                "water_check",
                3,
                json!({"captured_at": "2026-06-01T02:00:00+00:00", "failures": ["water_supply"]}),
            ),
            rec(
                "housing_check",
                4,
                json!({"captured_at": "2026-06-01T09:00:00+08:00", "failures": ["dangerous_house"]}),
            ),
            // A correction of check 4.
            rec(
                "housing_check",
                5,
                json!({"captured_at": "2026-06-01T10:00:00+08:00", "failures": [], "supersedes": uuid::Uuid::from_bytes([4; 16]).to_string()}),
            ),
            rec(
                "education_check",
                6,
                json!({"captured_at": "2026-06-01T09:00:00+08:00", "member_id": child_a, "failures": []}),
            ),
            rec(
                "education_check",
                7,
                json!({"captured_at": "2026-06-02T09:00:00+08:00", "member_id": child_b, "failures": ["out_of_school"]}),
            ),
        ];
        let observed: Vec<Observed<'_>> = raw
            .iter()
            .map(|(e, id, f)| Observed {
                entity: e,
                id: *id,
                fields: f,
            })
            .collect();
        let in_force = current(&observed);
        let ids: Vec<u8> = in_force.iter().map(|o| o.id.as_bytes()[0]).collect();
        assert!(
            ids.contains(&3) && !ids.contains(&2) && !ids.contains(&1),
            "{ids:?}"
        );
        assert!(ids.contains(&5) && !ids.contains(&4), "{ids:?}");
        let status = household_status(&in_force);
        let get = |name: &str| status.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(
            (
                get("water_check").state,
                get("water_check").failures.clone()
            ),
            (CheckState::Fail, vec!["water_supply".to_owned()])
        );
        assert_eq!(
            get("housing_check").state,
            CheckState::Pass,
            "the correction is in force"
        );
        assert_eq!(
            get("education_check").state,
            CheckState::Fail,
            "one child out of school fails the household"
        );
        assert_eq!(get("education_check").failures, ["out_of_school"]);
        assert_eq!(get("health_check").state, CheckState::None);
    }
}
