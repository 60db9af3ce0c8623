//! The layouts offices send: the national export under a printed title, GB18030 CSV typed with
//! full-width digits, a household sheet beside a member sheet.

use serde_json::json;

use super::*;
use crate::sheets::{Skipped, Village};

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xfee0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

#[test]
fn national_export_under_a_merged_title_with_a_totals_row() {
    let (a, b, c, d) = (
        id("64042219850612031"),
        id("64042219870305042"),
        id("64042219600101011"),
        id("64042220150909013"),
    );
    let header = row(&[
        "序号",
        "县",
        "乡（镇）",
        "村",
        "行政区划代码",
        "户编号",
        "人编号",
        "姓名",
        "证件号码",
        "与户主关系",
        "性别",
        "家庭人口数",
        "家庭人均纯收入（元/人）",
        "监测对象类别",
        "在校生状况",
        "健康状况",
        "劳动技能",
        "务工状况",
        "备用栏",
    ]);
    let person =
        |n: f64, hh: &str, p: &str, name: &str, id: &str, rel: &str, g: &str, rest: [&str; 5]| {
            let mut r = vec![X::N(n)];
            r.extend(row(&[
                "西吉县",
                "吉强镇",
                "龙王坝村",
                "640422100201",
                hh,
                p,
                name,
                id,
                rel,
                g,
            ]));
            let size = if hh == "H1" { 3.0 } else { 1.0 };
            let income = if hh == "H1" { 6543.5 } else { 8000.0 };
            r.extend([X::N(size), X::N(income)]);
            r.extend(row(&rest));
            r
        };
    let rows = vec![
        row(&["填报单位：吉强镇人民政府    填报日期：2024年12月1日"]),
        header,
        person(
            1.0,
            "H1",
            "P1",
            "马德福",
            &a,
            "户主",
            "男",
            ["边缘易致贫户", "非在校生", "健康", "普通劳动力", "省外务工"],
        ),
        person(
            2.0,
            "H2",
            "P3",
            "杨建国",
            &c,
            "户主",
            "男",
            [
                "非监测户",
                "非在校生",
                "长期慢性病",
                "弱劳动力或半劳动力",
                "否",
            ],
        ),
        person(
            3.0,
            "H1",
            "P2",
            "李秀兰",
            &b,
            "配偶",
            "女",
            ["边缘易致贫户", "非在校生", "健康", "普通劳动力", ""],
        ),
        person(
            4.0,
            "H1",
            "P4",
            "马小军",
            &d,
            "之子",
            "男",
            ["边缘易致贫户", "小学四年级", "健康", "无劳动力", "未务工"],
        ),
        vec![],
        vec![X::from("合计"), X::T(String::new()), X::N(4.0)],
    ];
    let bytes = xlsx(&[(
        "监测对象",
        Some("西吉县防返贫监测对象信息表（2024年）"),
        rows,
    )]);
    let roster = read(&bytes, "花名册.xlsx", None).unwrap();

    assert_eq!(roster.bad_rows, []);
    assert_eq!(roster.encoding, None);
    assert_eq!(roster.rows_read, 4);
    assert_eq!(roster.unknown_columns, ["备用栏"]);
    let skipped: Vec<(usize, &str)> = roster
        .skipped
        .iter()
        .map(|s| (s.line, s.why.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (1, "title row"),
            (2, "title row"),
            (8, "blank row"),
            (9, "totals row")
        ]
    );

    let nos: Vec<String> = roster.households().map(|h| h.household_no).collect();
    assert_eq!(nos, ["H1", "H2"]);
    let h1 = household(&roster, "H1");
    assert_eq!(h1.line, 4);
    assert_eq!(h1.village, Village::Code("640422100201".into()));
    assert_eq!(
        serde_json::Value::Object(h1.fields.clone()),
        json!({
            "head_name": "马德福", "head_id_card": a, "household_size": 3,
            "per_capita_income": 6543.5, "monitoring_type": "marginal_prone",
        })
    );
    let lines: Vec<usize> = h1.members.iter().map(|m| m.line).collect();
    assert_eq!(lines, [4, 6, 7]);
    assert_eq!(
        serde_json::Value::Object(h1.members[0].fields.clone()),
        json!({
            "name": "马德福", "id_card": a, "relation": "head", "gender": "male",
            "birth_date": "1985-06-12", "school_status": "not_school_age",
            "labour_capacity": "full", "migrant_worker": true,
        })
    );
    assert_eq!(h1.members[0].person_no.as_deref(), Some("P1"));
    let son = &h1.members[2].fields;
    assert_eq!(son["school_status"], "enrolled");
    assert_eq!(son["labour_capacity"], "none");
    assert_eq!(son["migrant_worker"], false);
    let h2 = household(&roster, "H2");
    assert_eq!(h2.fields["monitoring_type"], "none");
    assert_eq!(h2.members[0].fields["illness"], "长期慢性病");
    assert_eq!(h2.members[0].fields["labour_capacity"], "weak");
}

#[test]
fn gb18030_csv_with_full_width_digits_and_a_lower_case_x() {
    // A number whose check character is X, typed as a full-width lower-case ｘ.
    let with_x = (0..100)
        .map(|n| id(&format!("640422199001010{n:02}")))
        .find(|i| i.ends_with('X'))
        .unwrap();
    let typed = full_width(&with_x.to_lowercase());
    let text = format!(
        "户编号,姓名,证件号码,与户主关系,乡镇,行政村\r\n\
         {},马德福,{typed},户主,吉强镇,龙王坝村\r\n\
         \r\n\
         {},马小花,,之女,吉强镇,龙王坝村\r\n",
        full_width("640422 001"),
        full_width("640422001"),
    );
    let (bytes, _, bad) = encoding_rs::GB18030.encode(&text);
    assert!(!bad);
    let roster = read(&bytes, "花名册.csv", None).unwrap();
    assert_eq!(roster.encoding, Some("GB18030"));
    assert_eq!(roster.bad_rows, []);
    assert_eq!(
        roster.skipped,
        [Skipped {
            line: 3,
            why: "blank row".into()
        }]
    );
    let h = household(&roster, "640422001");
    assert_eq!(h.fields["head_id_card"], with_x.as_str());
    assert_eq!(h.members[0].fields["id_card"], with_x.as_str());
    assert_eq!(h.members[1].line, 4);
    assert_eq!(
        h.village,
        Village::Named {
            township: Some("吉强镇".into()),
            village: "龙王坝村".into()
        }
    );
}

#[test]
fn household_sheet_and_member_sheet_are_joined_on_the_household_number() {
    let (a, b) = (id("64042219850612031"), id("64042219870305042"));
    let members = vec![
        row(&[
            "户编号",
            "人编号",
            "姓名",
            "与户主关系",
            "身份证号码",
            "性别",
        ]),
        row(&["H1", "P1", "马德福", "户主", &a, "男"]),
        row(&["H1", "P2", "李秀兰", "配偶", &b, "女"]),
        row(&["", "P9", "无户号", "之子", "", "男"]),
    ];
    let households = vec![
        row(&[
            "户编号",
            "户主姓名",
            "行政区划代码",
            "家庭人口数",
            "监测对象类型",
            "户主联系电话",
        ]),
        row(&[
            "H1",
            "马德福",
            "640422100201",
            "2",
            "突发严重困难户",
            "139 0954 1234",
        ]),
        row(&["H2", "杨建国", "640422100202", "1", "无", ""]),
    ];
    // The member sheet comes first in the workbook: the household sheet still leads.
    let bytes = xlsx(&[("成员信息", None, members), ("户信息", None, households)]);
    let roster = read(&bytes, "book.xlsx", None).unwrap();

    assert_eq!(roster.rows_read, 3);
    assert_eq!(
        roster.bad_rows,
        [BadRow {
            line: 4,
            column: Some("户编号".into()),
            reason: "sheet \"成员信息\": missing 户编号".into()
        }]
    );
    let h1 = household(&roster, "H1");
    assert_eq!(h1.line, 2);
    assert_eq!(h1.members.len(), 2);
    assert_eq!(h1.fields["head_name"], "马德福");
    assert_eq!(h1.fields["head_id_card"], a.as_str());
    assert_eq!(h1.fields["phone"], "13909541234");
    assert_eq!(h1.fields["monitoring_type"], "sudden_severe_difficulty");
    let h2 = household(&roster, "H2");
    assert_eq!(h2.line, 3);
    assert_eq!(h2.members, []);
    assert_eq!(h2.fields["head_name"], "杨建国");
    assert_eq!(h2.fields["monitoring_type"], "none");
}

#[test]
fn an_id_card_stored_as_a_number_is_a_bad_row() {
    let rows = vec![
        row(&["户编号", "姓名", "与户主关系", "证件号码", "行政村"]),
        vec![
            X::from("H1"),
            X::from("马德福"),
            X::from("户主"),
            X::N(640422198506120312.0),
            X::from("龙王坝村"),
        ],
        row(&["H1", "李秀兰", "配偶", "", "龙王坝村"]),
    ];
    let roster = read(&xlsx(&[("Sheet1", None, rows)]), "x.xlsx", None).unwrap();
    assert!(roster.is_empty());
    assert_eq!(
        roster.bad_rows[0],
        BadRow {
            line: 2,
            column: Some("证件号码".into()),
            reason: "ID-card number stored as a number; format the column as text".into()
        }
    );
    assert_eq!(
        bad_at(&roster, 3)[0].reason,
        "户编号 H1 is not imported: its 户主 row (line 2) is bad"
    );
}

#[test]
fn whole_file_problems() {
    use crate::sheets::FileError;
    let no_header = read("姓名,性别\n马德福,男\n".as_bytes(), "a.csv", None).unwrap_err();
    assert!(matches!(no_header, FileError::NoHeader), "{no_header}");
    assert!(no_header.to_string().contains("户编号"));
    let no_rows = read("户编号,姓名,与户主关系\n".as_bytes(), "a.csv", None).unwrap_err();
    assert!(matches!(no_rows, FileError::NoRows), "{no_rows}");
    let html = read(b"<html><table></table></html>", "a.xls", None).unwrap_err();
    assert!(html.to_string().contains("a.xls"), "{html}");
    assert!(matches!(read(b"", "a.csv", None), Err(FileError::Empty)));
}

#[test]
fn a_header_in_two_rows_under_a_group_title() {
    // 户编号, 行政村 and 家庭人口数 merged down over two rows; 家庭成员信息 over the person
    // columns, named in the second row.
    let r = read_csv(&[
        &["户编号", "行政村", "家庭人口数", "家庭成员信息", "", ""],
        &["", "", "", "姓名", "与户主关系", "性别"],
        &["H1", "龙王坝村", "1", "马德福", "户主", "男"],
    ]);
    assert_eq!(r.bad_rows, []);
    assert_eq!(r.unknown_columns, Vec::<String>::new());
    assert_eq!(
        r.skipped,
        [Skipped {
            line: 2,
            why: "second header row".into()
        }]
    );
    let h = household(&r, "H1");
    assert_eq!(h.members[0].fields["gender"], "male");
    assert_eq!(h.fields["household_size"], 1);
}

#[test]
fn a_head_row_disagreeing_with_the_household_sheet_drops_the_household() {
    let households = vec![
        row(&["户编号", "户主姓名", "行政村", "家庭人口数"]),
        row(&["H1", "马德福", "龙王坝村", "2"]),
    ];
    let members = vec![
        row(&["户编号", "姓名", "与户主关系", "家庭人口数"]),
        row(&["H1", "马德福", "户主", "3"]),
        row(&["H1", "李秀兰", "配偶", ""]),
    ];
    let bytes = xlsx(&[("户", None, households), ("人", None, members)]);
    let r = read(&bytes, "b.xlsx", None).unwrap();
    assert!(r.is_empty());
    let reasons: Vec<&str> = r.bad_rows.iter().map(|b| b.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "sheet \"户\": 户编号 H1 is not imported: its 户主 row (line 2 of sheet \"人\") is bad",
            "sheet \"人\": 家庭人口数 differs from line 2 of sheet \"户\"",
            "sheet \"人\": 户编号 H1 is not imported: its 户主 row (line 2 of sheet \"人\") is bad",
        ]
    );
}
