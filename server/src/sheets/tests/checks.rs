//! Row checks: what makes a row bad, what a bad row takes with it, and that reasons never
//! repeat an ID-card number or phone.

use super::*;

const HEAD: &[&str] = &[
    "户编号",
    "人编号",
    "姓名",
    "与户主关系",
    "证件号码",
    "行政村",
    "家庭人口数",
    "联系电话",
    "残疾等级",
];

fn roster(rows: &[&[&str]]) -> Roster {
    let mut all = vec![HEAD];
    all.extend_from_slice(rows);
    read_csv(&all)
}

#[test]
fn a_mistyped_id_card_drops_that_person_only() {
    let (a, b) = (id("64042219850612031"), id("64042219870305042"));
    let wrong = mistyped(&b);
    let r = roster(&[
        &["H1", "P1", "马德福", "户主", &a, "龙王坝村", "2", "", ""],
        &[
            "H1",
            "P2",
            "李秀兰",
            "配偶",
            &wrong,
            "龙王坝村",
            "2",
            "",
            "",
        ],
    ]);
    let bad = bad_at(&r, 3);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].column.as_deref(), Some("证件号码"));
    assert!(bad[0].reason.contains("check digit"), "{}", bad[0].reason);
    assert!(!bad[0].reason.contains(&wrong[..6]), "{}", bad[0].reason);
    let h = household(&r, "H1");
    assert_eq!(h.members.len(), 1);
    assert_eq!(h.fields["household_size"], 2);
    // The birth date comes from the ID card when the sheet has no column for it.
    assert_eq!(h.members[0].fields["birth_date"], "1985-06-12");
}

#[test]
fn the_same_person_twice_is_bad_the_second_time() {
    let (a, b) = (id("64042219850612031"), id("64042219870305042"));
    let r = roster(&[
        &["H1", "P1", "马德福", "户主", &a, "龙王坝村", "", "", ""],
        &["H1", "P2", "李秀兰", "配偶", &b, "龙王坝村", "", "", ""],
        &["H1", "P3", "李秀兰", "配偶", &b, "龙王坝村", "", "", ""],
        &["H1", "P1", "马德", "之子", "", "龙王坝村", "", "", ""],
    ]);
    assert_eq!(bad_at(&r, 4)[0].reason, "same ID-card number as line 3");
    assert_eq!(bad_at(&r, 4)[0].column.as_deref(), Some("证件号码"));
    assert_eq!(bad_at(&r, 5)[0].reason, "same 人编号 as line 2");
    assert_eq!(household(&r, "H1").members.len(), 2);
}

#[test]
fn unknown_words_are_quoted_unless_the_column_is_personal() {
    let a = id("64042219850612031");
    let r = roster(&[
        &["H1", "P1", "马德福", "户主", &a, "龙王坝村", "", "", ""],
        &["H1", "P2", "马三", "邻居", "", "龙王坝村", "", "", ""],
        &["H1", "P3", "马四", "之子", "", "龙王坝村", "", "", "很重"],
        &[
            "H1",
            "P5",
            "马五",
            "之女",
            "",
            "龙王坝村",
            "",
            "1390954",
            "",
        ],
    ]);
    let rel = bad_at(&r, 3)[0];
    assert_eq!(rel.column.as_deref(), Some("与户主关系"));
    assert!(
        rel.reason.starts_with("unknown word \"邻居\""),
        "{}",
        rel.reason
    );
    let dis = bad_at(&r, 4)[0];
    assert_eq!(dis.column.as_deref(), Some("残疾等级"));
    assert!(!dis.reason.contains("很重"), "{}", dis.reason);
    // A household phone on a member's row: bad, and the number is not repeated.
    let phone = bad_at(&r, 5)[0];
    assert_eq!(phone.column.as_deref(), Some("联系电话"));
    assert!(!phone.reason.contains("1390954"), "{}", phone.reason);
    assert_eq!(household(&r, "H1").members.len(), 1);
}

#[test]
fn a_household_without_a_head_is_dropped_with_every_row_told() {
    let r = roster(&[
        &["H1", "P1", "马德福", "户主", "", "龙王坝村", "", "", ""],
        &["H2", "P2", "李秀兰", "配偶", "", "龙王坝村", "", "", ""],
        &["H2", "P3", "马小军", "之子", "", "龙王坝村", "", "", ""],
    ]);
    assert_eq!(r.len(), 1);
    for line in [3, 4] {
        let bad = bad_at(&r, line);
        assert_eq!(bad[0].reason, "no 户主 row for 户编号 H2");
        assert_eq!(bad[0].column.as_deref(), Some("与户主关系"));
    }
}

#[test]
fn household_values_that_disagree_make_the_later_row_bad() {
    let r = roster(&[
        &["H1", "P2", "李秀兰", "配偶", "", "", "3", "", ""],
        &["H1", "P1", "马德福", "户主", "", "龙王坝村", "4", "", ""],
        &["H1", "P3", "马小军", "之子", "", "", "", "", ""],
    ]);
    // The 户主 row leads, so the spouse's row above it is the one that disagrees.
    let bad = bad_at(&r, 2);
    assert_eq!(bad[0].column.as_deref(), Some("家庭人口数"));
    assert_eq!(bad[0].reason, "家庭人口数 differs from line 3");
    let h = household(&r, "H1");
    assert_eq!(h.fields["household_size"], 4);
    assert_eq!(h.line, 2);
    let names: Vec<&str> = h
        .members
        .iter()
        .filter_map(|m| m.fields["name"].as_str())
        .collect();
    assert_eq!(names, ["马德福", "马小军"]);
}

#[test]
fn missing_numbers_and_names_and_rows_that_are_no_people() {
    let r = roster(&[
        &["H1", "P1", "马德福", "户主", "", "龙王坝村", "两人", "", ""],
        &["", "P2", "李秀兰", "配偶", "", "龙王坝村", "", "", ""],
        &["H3", "P3", "", "之子", "", "龙王坝村", "", "", ""],
        &["H4", "", "", "", "", "", "", "", ""],
        &["", "", "", "", "", "", "5", "", ""],
        &["填表人：马文", "", "", "", "", "", "", "", ""],
    ]);
    assert_eq!(bad_at(&r, 2)[0].column.as_deref(), Some("家庭人口数"));
    assert_eq!(bad_at(&r, 2)[0].reason, "not a whole number \"两人\"");
    assert_eq!(bad_at(&r, 3)[0].reason, "missing 户编号");
    assert_eq!(bad_at(&r, 4)[0].reason, "missing 姓名");
    assert_eq!(bad_at(&r, 5)[0].reason, "missing 姓名");
    let skipped: Vec<usize> = r.skipped.iter().map(|s| s.line).collect();
    assert_eq!(skipped, [6, 7]);
    assert!(r.is_empty());
    assert_eq!(r.rows_read, 4);
}

#[test]
fn spellings_offices_use_are_read() {
    let rows = vec![
        row(&[
            "户编号",
            "姓名",
            "与户主关系",
            "出生日期",
            "证件号码",
            "个人联系电话",
            "家庭人口数",
            "行政村",
            "备用（一）",
        ]),
        vec![
            X::from("H1"),
            X::from("马德福"),
            X::from("户主"),
            // A date cell formatted as a number: Excel's day count.
            X::N(31210.0),
            X::from("暂无"),
            X::from("139-0954-1234"),
            X::from("3人"),
            X::from("龙王坝村"),
            X::from("x"),
        ],
    ];
    let r = read(&xlsx(&[("Sheet1", None, rows)]), "a.xlsx", None).unwrap();
    assert_eq!(r.bad_rows, []);
    assert_eq!(r.unknown_columns, ["备用（一）"]);
    let h = household(&r, "H1");
    assert_eq!(h.fields["household_size"], 3);
    let m = &h.members[0].fields;
    assert_eq!(m["birth_date"], "1985-06-12");
    assert_eq!(m["phone"], "13909541234");
    assert!(!m.contains_key("id_card"));
}
