//! One household as one row of the export: its register fields as the caller's role may see
//! them, and where it stands on each check. Both file formats write these cells, so a CSV
//! and an XLSX of the same households hold the same values under the same headers.

use std::sync::LazyLock;

use fieldsync_protocol::Role;
use fieldsync_protocol::labels;
use fieldsync_protocol::registry::checks::{self, CheckStatus, Observed};
use fieldsync_protocol::registry::{CHECK_NAMES, HOUSEHOLD, MEMBER, Personal, RELATIONS};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::privacy;
use crate::store::{ExportCheck, ExportHousehold, VillageLabel};

/// The register's columns, before the checks: the Chinese title for the officials who read the
/// file, and the English key.
const REGISTER_COLUMNS: [(&str, &str); 11] = [
    ("村代码", "village_code"),
    ("村名", "village_name"),
    ("乡镇", "township"),
    ("户主", "head_name"),
    ("住址", "address"),
    ("联系电话", "phone"),
    ("户主身份证号", "head_id_card"),
    ("监测类型", "monitoring_type"),
    ("劳动能力", "labour_capacity"),
    ("人均纯收入", "per_capita_income"),
    ("家庭人口", "household_size"),
];

/// The header row: Chinese for the officials who read the file, with the English key in
/// brackets for whoever processes it: the register's columns, then three for each check of the
/// registry (its standing, its failures, when it was made; named as `labels::entity` names the
/// check), then the record's id. Cells follow in this order (see [`build`]).
pub static HEADERS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut headers: Vec<String> = REGISTER_COLUMNS
        .iter()
        .map(|(zh, key)| format!("{zh} ({key})"))
        .collect();
    for check in CHECK_NAMES {
        let zh = labels::entity(check).map_or(check, |l| l.zh);
        headers.push(format!("{zh} ({check})"));
        headers.push(format!("{zh}问题 ({check}_failures)"));
        headers.push(format!("{zh}核查时间 ({check}_checked_at)"));
    }
    headers.push("家庭成员人数 (member_count)".to_owned());
    headers.push("家庭成员 (members)".to_owned());
    headers.push("记录编号 (household_id)".to_owned());
    headers
});

/// [`HEADERS`] as the writers take them.
pub fn headers() -> Vec<&'static str> {
    HEADERS.iter().map(String::as_str).collect()
}

/// The household fields exported, in column order after the village and township.
const FIELDS: [&str; 8] = [
    "head_name",
    "address",
    "phone",
    "head_id_card",
    "monitoring_type",
    "labour_capacity",
    "per_capita_income",
    "household_size",
];

/// One cell: text, a number (kept a number in XLSX so it sums), or nothing (unset, or not for
/// this role's eyes).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl Cell {
    fn of(value: Option<&Value>) -> Cell {
        match value {
            Some(Value::String(s)) => Cell::Text(s.clone()),
            Some(Value::Number(n)) => n.as_f64().map_or(Cell::Empty, Cell::Number),
            Some(Value::Bool(b)) => Cell::Text(b.to_string()),
            _ => Cell::Empty,
        }
    }

    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
}

/// A household's row, with what the audit log needs to know about it.
#[derive(Clone, Debug)]
pub struct Row {
    pub household_id: Uuid,
    pub village: String,
    /// One per header.
    pub cells: Vec<Cell>,
    /// The personal fields this row shows (in full or masked), for the audit entry.
    pub disclosed: Vec<String>,
}

/// The row of one household, from its record, its check records and its people, as `role`
/// may see it.
pub fn build(
    role: Role,
    household: ExportHousehold,
    checks: &[&ExportCheck],
    members: &[&ExportCheck],
    label: Option<&VillageLabel>,
) -> Row {
    let mut fields = household.fields;
    privacy::disclose(role, &HOUSEHOLD, &mut fields);
    let mut disclosed = disclosed(&fields);
    let people = people(role, members);
    if !people.is_empty() {
        disclosed.push("name".to_owned());
    }

    let observed: Vec<Observed<'_>> = checks
        .iter()
        .map(|c| Observed {
            entity: &c.entity,
            id: c.id,
            fields: &c.fields,
        })
        .collect();
    let status = checks::household_status(&checks::current(&observed));

    let mut cells = Vec::with_capacity(HEADERS.len());
    cells.push(Cell::text(household.scope.clone()));
    cells.push(label.map_or(Cell::Empty, |l| Cell::text(l.name.clone())));
    cells.push(
        label
            .and_then(|l| l.township.clone())
            .map_or(Cell::Empty, Cell::Text),
    );
    cells.extend(FIELDS.iter().map(|f| Cell::of(fields.get(*f))));
    for (_, s) in status {
        cells.extend(check_cells(s));
    }
    cells.push(Cell::Number(members.len() as f64));
    cells.push(if people.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(people)
    });
    cells.push(Cell::text(household.id.to_string()));
    Row {
        household_id: household.id,
        village: household.scope,
        cells,
        disclosed,
    }
}

/// The household's people as `姓名（关系）；…`, head first, names as `role` may see them (the
/// roster export, `export-roster`, has one row per person with everything else).
fn people(role: Role, members: &[&ExportCheck]) -> String {
    let mut shown: Vec<(usize, String)> = members
        .iter()
        .filter_map(|m| {
            let name =
                privacy::disclose_value(role, &MEMBER, "name", m.fields.get("name")?.clone());
            let name = name.as_str()?.to_owned();
            let relation = m.fields.get("relation").and_then(Value::as_str);
            let rank = relation
                .and_then(|r| RELATIONS.iter().position(|x| *x == r))
                .unwrap_or(RELATIONS.len());
            Some(match relation.and_then(|r| labels::value("relation", r)) {
                Some(l) => (rank, format!("{name}（{}）", l.zh)),
                None => (rank, name),
            })
        })
        .collect();
    shown.sort();
    shown
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join("；")
}

/// State, failures (`;`-separated codes) and capture time of one check.
fn check_cells(s: CheckStatus) -> [Cell; 3] {
    let failures = if s.failures.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s.failures.join(";"))
    };
    [
        Cell::text(s.state.as_str()),
        failures,
        s.checked_at.map_or(Cell::Empty, Cell::Text),
    ]
}

/// The exported personal fields left after disclosure (masked ones included: a masked number
/// still identifies a household).
fn disclosed(fields: &Map<String, Value>) -> Vec<String> {
    HOUSEHOLD
        .fields
        .iter()
        .filter(|f| f.personal != Personal::None && FIELDS.contains(&f.name))
        .filter(|f| fields.get(f.name).is_some_and(|v| !v.is_null()))
        .map(|f| f.name.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn household() -> ExportHousehold {
        ExportHousehold {
            id: Uuid::now_v7(),
            scope: "640104001002".into(),
            fields:
                json!({"village_code": "640104001002", "head_name": "马", "phone": "13912345678",
                           "head_id_card": "640104198506120316", "per_capita_income": 5200.5,
                           "household_size": 4, "monitoring_type": "none"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn check(household_id: Uuid, entity: &str, fields: Value) -> ExportCheck {
        ExportCheck {
            id: Uuid::now_v7(),
            household_id,
            entity: entity.into(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    fn col(name: &str) -> usize {
        HEADERS
            .iter()
            .position(|h| h.ends_with(&format!("({name})")))
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn cells_follow_the_headers_and_the_role() {
        let h = household();
        let water = check(
            h.id,
            "water_check",
            json!({"captured_at": "2026-11-01T09:00:00+08:00",
                                                      "failures": ["water_quality", "water_supply"]}),
        );
        let label = VillageLabel {
            code: "640104001002".into(),
            name: "崇安社区居委会".into(),
            township: Some("凤凰北街街道".into()),
        };
        let member = |name: &str, relation: &str| ExportCheck {
            id: Uuid::now_v7(),
            household_id: h.id,
            entity: "member".into(),
            fields: json!({"name": name, "relation": relation, "id_card": "640104201209010311"})
                .as_object()
                .unwrap()
                .clone(),
        };
        let (son, head) = (member("马小军", "child"), member("马德福", "head"));
        let row = build(
            Role::TownshipSupervisor,
            h.clone(),
            &[&water],
            &[&son, &head],
            Some(&label),
        );
        assert_eq!(row.cells.len(), HEADERS.len());
        assert_eq!(row.cells[col("member_count")], Cell::Number(2.0));
        assert_eq!(
            row.cells[col("members")],
            Cell::text("马德福（户主）；马小军（子女）"),
            "head first, relations in words, no ID-card number"
        );
        assert_eq!(row.cells[col("township")], Cell::text("凤凰北街街道"));
        assert_eq!(
            row.cells[col("head_id_card")],
            Cell::text("6401**********0316")
        );
        assert_eq!(row.cells[col("per_capita_income")], Cell::Number(5200.5));
        assert_eq!(row.cells[col("water_check")], Cell::text("fail"));
        assert_eq!(
            row.cells[col("water_check_failures")],
            Cell::text("water_quality;water_supply")
        );
        assert_eq!(row.cells[col("housing_check")], Cell::text("none"));
        assert_eq!(row.cells[col("housing_check_checked_at")], Cell::Empty);
        assert_eq!(row.cells[col("household_id")], Cell::text(h.id.to_string()));
        assert_eq!(
            row.disclosed,
            [
                "head_name",
                "phone",
                "head_id_card",
                "per_capita_income",
                "name"
            ]
        );

        let row = build(Role::Admin, h, &[], &[], None);
        assert_eq!(
            row.cells[col("per_capita_income")],
            Cell::Empty,
            "hidden from admins"
        );
        assert_eq!(row.cells[col("phone")], Cell::text("139****5678"));
        assert!(!row.disclosed.contains(&"per_capita_income".to_owned()));
    }
}
