//! `read(write(h)) == h`, through CSV and through XLSX.

use serde_json::{Map, Value, json};

use super::*;
use crate::sheets::{Person, Village, header, rows};

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn person(line: usize, no: Option<&str>, record: Option<&str>, fields: Value) -> Person {
    Person {
        line,
        person_no: no.map(str::to_owned),
        record_id: record.map(str::to_owned),
        fields: map(fields),
    }
}

/// Three households: one with every field, one without members, one with a named village.
/// Lines are the rows the writer puts them on, below the header on line 1.
fn households() -> Vec<Household> {
    let (a, b) = (id("64042219850612031"), id("64042219870305042"));
    let (d, e) = (id("64042220150909013"), id("64042219600101011"));
    vec![
        Household {
            line: 2,
            household_no: "640422100201000001".into(),
            record_id: Some("01936f3e-9a7b-7c3d-8e2f-0a1b2c3d4e5f".into()),
            village: Village::Code("640422100201".into()),
            fields: map(json!({
                "head_name": "马德福", "head_id_card": a, "grid": "3组",
                "address": "吉强镇龙王坝村3组", "phone": "0954-1234567",
                "poverty_status": "out_of_poverty", "monitoring_type": "marginal_prone",
                "labour_capacity": "weak", "household_size": 4, "per_capita_income": 6543.5,
                "income_year": 2024, "home_lat": 35.96512, "home_lon": 105.73321,
                "notes": "2024年新识别",
            })),
            members: vec![
                person(
                    2,
                    Some("P1"),
                    Some("01936f3e-9a7b-7c3d-8e2f-0a1b2c3d4e60"),
                    json!({
                        "name": "马德福", "relation": "head", "gender": "male",
                        "birth_date": "1985-06-12", "id_card": a, "phone": "13909541234",
                        "school_status": "graduated", "insurance_status": "enrolled",
                        "family_doctor_signed": true, "labour_capacity": "full",
                        "migrant_worker": true, "disability": "none",
                    }),
                ),
                person(
                    3,
                    Some("P2"),
                    None,
                    json!({
                        "name": "李秀兰", "relation": "spouse", "gender": "female",
                        "birth_date": "1987-03-05", "id_card": b, "illness": "长期慢性病",
                        "disability": "grade_2", "insurance_status": "not_enrolled",
                        "family_doctor_signed": false, "migrant_worker": false,
                    }),
                ),
                person(
                    4,
                    Some("P3"),
                    None,
                    json!({
                        "name": "马小花", "relation": "child", "gender": "female",
                        "birth_date": "2015-09-09", "id_card": d, "school_status": "enrolled",
                        "school_name": "吉强镇中心小学",
                    }),
                ),
                person(
                    5,
                    Some("P4"),
                    None,
                    json!({
                        "name": "马老汉", "relation": "parent", "gender": "male",
                        "birth_date": "1941-02-03", "insurance_status": "unknown",
                    }),
                ),
            ],
        },
        Household {
            line: 6,
            household_no: "640422100201000002".into(),
            record_id: None,
            village: Village::Named {
                township: Some("吉强镇".into()),
                village: "龙王坝村".into(),
            },
            fields: map(
                json!({"head_name": "杨建国", "monitoring_type": "none", "household_size": 1}),
            ),
            members: vec![],
        },
        Household {
            line: 7,
            household_no: "640422100201000003".into(),
            record_id: None,
            village: Village::Named {
                township: None,
                village: "火石寨村".into(),
            },
            fields: map(
                json!({"head_name": "苏玉梅", "head_id_card": e, "per_capita_income": 6000}),
            ),
            members: vec![person(
                7,
                None,
                None,
                json!({
                    "name": "苏玉梅", "relation": "head", "gender": "female",
                    "birth_date": "1960-01-01", "id_card": e, "school_status": "not_school_age",
                    "labour_capacity": "none", "disability": "grade_4",
                }),
            )],
        },
    ]
}

fn table() -> Vec<Vec<String>> {
    let h = households();
    let mut all = vec![header().into_iter().map(str::to_owned).collect()];
    all.extend(rows(&h));
    all
}

#[test]
fn the_written_words_are_the_office_s() {
    let t = table();
    let col = |name: &str| t[0].iter().position(|h| h == name).unwrap();
    assert_eq!(t.len(), 7);
    assert_eq!(t[1][col("与户主关系")], "户主");
    assert_eq!(t[3][col("与户主关系")], "之女");
    assert_eq!(t[1][col("健康状况")], "健康");
    assert_eq!(t[2][col("健康状况")], "长期慢性病");
    assert_eq!(t[1][col("家庭医生签约")], "是");
    assert_eq!(t[2][col("残疾等级")], "二级");
    assert_eq!(t[1][col("监测对象类别")], "边缘易致贫户");
    assert_eq!(t[5][col("姓名")], "");
    assert_eq!(t[5][col("健康状况")], "");
    assert_eq!(t[5][col("行政村")], "龙王坝村");
}

#[test]
fn csv_reads_back_as_written() {
    let roster = read(csv_text(&table()).as_bytes(), "export.csv", None).unwrap();
    assert_eq!(roster.bad_rows, []);
    assert_eq!(roster.unknown_columns, Vec::<String>::new());
    assert_eq!(roster.households().collect::<Vec<_>>(), households());
}

#[test]
fn xlsx_reads_back_as_written() {
    let rows: Vec<Vec<X>> = table()
        .into_iter()
        .map(|r| r.into_iter().map(X::from).collect())
        .collect();
    let bytes = xlsx(&[("农户", None, rows)]);
    let roster = read(&bytes, "export.xlsx", None).unwrap();
    assert_eq!(roster.bad_rows, []);
    assert_eq!(roster.households().collect::<Vec<_>>(), households());
}
