//! A county's mapping file, in TOML and in JSON: a column renamed and a word added.

use super::*;
use crate::sheets::Mapping;

const TOML: &str = r#"
[columns]
"户主身份证" = "head_id_card"
"成员电话" = "member.phone"

[values.monitoring_type]
"监测户" = "marginal_prone"
"#;

const JSON: &str = r#"{
  "columns": { "户主身份证": "head_id_card", "成员电话": "member.phone" },
  "values": { "monitoring_type": { "监测户": "marginal_prone" } }
}"#;

fn file() -> Vec<u8> {
    let a = id("64042219850612031");
    let rows = strings(&[
        &[
            "户编号",
            "行政村",
            "户主身份证",
            "监测对象类别",
            "姓名",
            "与户主关系",
            "成员电话",
        ],
        &[
            "H1",
            "龙王坝村",
            &a,
            "监测户",
            "马德福",
            "户主",
            "13909541234",
        ],
    ]);
    csv_text(&rows).into_bytes()
}

#[test]
fn without_the_mapping_the_county_s_names_are_unknown() {
    let r = read(&file(), "a.csv", None).unwrap();
    assert_eq!(r.unknown_columns, ["户主身份证", "成员电话"]);
    let bad = bad_at(&r, 2);
    assert_eq!(bad[0].column.as_deref(), Some("监测对象类别"));
    assert!(
        bad[0].reason.starts_with("unknown word \"监测户\""),
        "{}",
        bad[0].reason
    );
}

#[test]
fn toml_and_json_mappings_rename_columns_and_add_words() {
    let toml = Mapping::parse(TOML, "西吉县.toml").unwrap();
    let json = Mapping::parse(JSON, "西吉县.JSON").unwrap();
    assert_eq!(toml, json);
    let r = read(&file(), "a.csv", Some(&toml)).unwrap();
    assert_eq!(r.bad_rows, []);
    assert_eq!(r.unknown_columns, Vec::<String>::new());
    let h = household(&r, "H1");
    assert_eq!(h.fields["head_id_card"], id("64042219850612031").as_str());
    assert_eq!(h.fields["monitoring_type"], "marginal_prone");
    assert_eq!(h.members[0].fields["phone"], "13909541234");
    assert!(!h.fields.contains_key("phone"));
}

#[test]
fn a_mapping_naming_what_the_registry_lacks_is_refused() {
    let e = Mapping::parse("[columns]\n\"甲\" = \"shoe_size\"\n", "m.toml").unwrap_err();
    assert!(e.to_string().contains("shoe_size"), "{e}");
    let e = Mapping::parse("[values.relation]\n\"邻居\" = \"neighbour\"\n", "m.toml").unwrap_err();
    assert!(e.to_string().contains("neighbour"), "{e}");
    let e = Mapping::parse("[columns\n", "m.toml").unwrap_err();
    assert!(e.to_string().starts_with("mapping file m.toml:"), "{e}");
}
