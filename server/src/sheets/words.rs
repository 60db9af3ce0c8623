//! The words offices write in coded columns, and the registry code each means. The first word
//! of each code is the one the export writes. A county's mapping file adds its own words
//! ahead of these.

use fieldsync_protocol::registry::FieldType;
use serde_json::Value;

use super::mapping::Mapping;
use super::text;

type Table = &'static [(&'static str, &'static [&'static str])];

const MONITORING_TYPE: Table = &[
    ("none", &["非监测户", "无", "否", "非监测对象"]),
    ("unstable_out_of_poverty", &["脱贫不稳定户"]),
    ("marginal_prone", &["边缘易致贫户"]),
    ("sudden_severe_difficulty", &["突发严重困难户"]),
];

const POVERTY_STATUS: Table = &[
    (
        "out_of_poverty",
        &["脱贫户", "已脱贫户", "脱贫享受政策户", "脱贫不享受政策户"],
    ),
    ("ordinary", &["一般农户", "一般户", "农户", "非贫困户"]),
];

const LABOUR_CAPACITY: Table = &[
    (
        "full",
        &["普通劳动力", "技能劳动力", "有劳动能力", "有劳动力"],
    ),
    (
        "weak",
        &[
            "弱劳动力或半劳动力",
            "弱劳动力",
            "半劳动力",
            "弱劳动能力",
            "弱劳动力/半劳动力",
        ],
    ),
    (
        "none",
        &["丧失劳动力", "无劳动力", "无劳动能力", "丧失劳动能力"],
    ),
];

const RELATION: Table = &[
    ("head", &["户主", "本人"]),
    (
        "spouse",
        &["配偶", "之妻", "之夫", "妻", "夫", "妻子", "丈夫"],
    ),
    (
        "child",
        &[
            "之子", "之女", "子", "女", "儿子", "女儿", "长子", "次子", "三子", "长女", "次女",
            "三女", "养子", "养女", "继子", "继女",
        ],
    ),
    ("child_in_law", &["之儿媳", "之女婿", "儿媳", "女婿"]),
    (
        "grandchild",
        &[
            "之孙子",
            "之孙女",
            "之外孙子",
            "之外孙女",
            "孙子",
            "孙女",
            "外孙子",
            "外孙女",
        ],
    ),
    (
        "parent",
        &[
            "之父",
            "之母",
            "之岳父",
            "之岳母",
            "之公公",
            "之婆婆",
            "父亲",
            "母亲",
            "岳父",
            "岳母",
            "公公",
            "婆婆",
        ],
    ),
    (
        "grandparent",
        &[
            "之祖父",
            "之祖母",
            "之外祖父",
            "之外祖母",
            "祖父",
            "祖母",
            "外祖父",
            "外祖母",
        ],
    ),
    (
        "sibling",
        &[
            "之兄弟姐妹",
            "之兄",
            "之弟",
            "之姐",
            "之妹",
            "兄弟姐妹",
            "兄",
            "弟",
            "姐",
            "妹",
            "哥哥",
            "弟弟",
            "姐姐",
            "妹妹",
        ],
    ),
    ("other", &["其他", "之其他", "其它"]),
];

const GENDER: Table = &[("male", &["男", "男性"]), ("female", &["女", "女性"])];

const SCHOOL_STATUS: Table = &[
    (
        "not_school_age",
        &["非在校生", "学龄前儿童", "学龄前", "非在校"],
    ),
    (
        "enrolled",
        &[
            "在校生",
            "学前教育",
            "小学",
            "初中",
            "高中",
            "中职",
            "高职",
            "大专",
            "本科",
            "研究生",
        ],
    ),
    ("dropped_out", &["辍学", "失学"]),
    ("home_teaching", &["送教上门"]),
    ("deferred", &["缓学", "休学"]),
    ("graduated", &["毕业"]),
];

const INSURANCE_STATUS: Table = &[
    ("enrolled", &["是", "已参加", "参加", "已参保", "参保"]),
    ("not_enrolled", &["否", "未参加", "未参保"]),
    ("unknown", &["不详", "未知"]),
];

const DISABILITY: Table = &[
    ("none", &["无", "否", "非残疾", "健全"]),
    ("grade_1", &["一级", "1级"]),
    ("grade_2", &["二级", "2级"]),
    ("grade_3", &["三级", "3级"]),
    ("grade_4", &["四级", "4级"]),
];

const YES_NO: Table = &[
    ("true", &["是", "有", "TRUE", "true"]),
    ("false", &["否", "无", "FALSE", "false"]),
];

const DOCTOR: Table = &[
    ("true", &["是", "已签约", "签约", "TRUE", "true"]),
    ("false", &["否", "未签约", "FALSE", "false"]),
];

const MIGRANT: Table = &[
    (
        "true",
        &[
            "是",
            "省外务工",
            "县外省内务工",
            "县内务工",
            "省内县外务工",
            "务工",
        ],
    ),
    ("false", &["否", "未务工", "无", "不务工", "未外出务工"]),
];

fn table(field: &str) -> Option<Table> {
    Some(match field {
        "monitoring_type" => MONITORING_TYPE,
        "poverty_status" => POVERTY_STATUS,
        "labour_capacity" => LABOUR_CAPACITY,
        "relation" => RELATION,
        "gender" => GENDER,
        "school_status" => SCHOOL_STATUS,
        "insurance_status" => INSURANCE_STATUS,
        "disability" => DISABILITY,
        "family_doctor_signed" => DOCTOR,
        "migrant_worker" => MIGRANT,
        _ => return None,
    })
}

/// The code a written word means in a coded (enumeration or yes/no) field; `None` for a word
/// nobody taught us.
pub fn code(field: &str, ty: FieldType, word: &str, mapping: Option<&Mapping>) -> Option<Value> {
    let word = text::compact(word);
    if let Some(v) = mapping.and_then(|m| m.word(field, &word)) {
        return Some(v.clone());
    }
    let found = table(field)
        .and_then(|t| t.iter().find(|(_, words)| words.contains(&word.as_str())))
        .map(|(code, _)| *code)
        .or_else(|| loosely(field, &word));
    match ty {
        FieldType::Bool => {
            let found = found.or_else(|| {
                YES_NO
                    .iter()
                    .find(|(_, w)| w.contains(&word.as_str()))
                    .map(|(c, _)| *c)
            });
            found.map(|c| Value::Bool(c == "true"))
        }
        // The codes themselves are words too: a file written by another system in English.
        FieldType::Enum(codes) => found
            .or_else(|| codes.iter().copied().find(|c| *c == word))
            .filter(|c| codes.contains(c))
            .map(|c| Value::String(c.to_owned())),
        _ => None,
    }
}

/// Words matched by what they contain: grades and schools are written many ways
/// (`初中二年级`, `肢体二级`, `省内县外务工`).
fn loosely(field: &str, word: &str) -> Option<&'static str> {
    let has = |parts: &[&str]| parts.iter().any(|p| word.contains(p));
    match field {
        "school_status" => Some(if has(&["非在校", "学龄前"]) {
            "not_school_age"
        } else if has(&["辍学", "失学"]) {
            "dropped_out"
        } else if has(&["送教"]) {
            "home_teaching"
        } else if has(&["缓学", "休学"]) {
            "deferred"
        } else if has(&["毕业"]) {
            "graduated"
        } else if has(&[
            "在校",
            "年级",
            "小学",
            "初中",
            "高中",
            "中职",
            "高职",
            "大专",
            "专科",
            "本科",
            "研究生",
            "学前",
            "幼儿园",
            "中专",
            "技工",
        ]) {
            "enrolled"
        } else {
            return None;
        }),
        "disability" => [
            ("grade_1", ["一级", "1级"]),
            ("grade_2", ["二级", "2级"]),
            ("grade_3", ["三级", "3级"]),
            ("grade_4", ["四级", "4级"]),
        ]
        .into_iter()
        .find(|(_, w)| has(w.as_slice()))
        .map(|(c, _)| c),
        "migrant_worker" if word.contains("务工") && !has(&["未", "不", "无"]) => Some("true"),
        _ => None,
    }
}

/// The word the export writes for a code: the first of its words. Relations and genders
/// pick the word of the person's gender (之女, not 之子, for a daughter).
pub fn word(field: &str, value: &Value, gender: Option<&str>) -> String {
    let code = match value {
        Value::Bool(b) => return if *b { "是" } else { "否" }.to_owned(),
        Value::String(s) => s.as_str(),
        other => return other.to_string(),
    };
    if field == "relation" && gender == Some("female") {
        let female = match code {
            "child" => Some("之女"),
            "child_in_law" => Some("之儿媳"),
            "grandchild" => Some("之孙女"),
            "parent" => Some("之母"),
            "grandparent" => Some("之祖母"),
            _ => None,
        };
        if let Some(w) = female {
            return w.to_owned();
        }
    }
    if field == "relation" && gender == Some("male") && code == "child_in_law" {
        return "之女婿".to_owned();
    }
    table(field)
        .and_then(|t| t.iter().find(|(c, _)| *c == code))
        .and_then(|(_, words)| words.first())
        .map_or_else(|| code.to_owned(), |w| (*w).to_owned())
}

/// The words of a field, for a message listing what is understood.
pub fn known(field: &str) -> Vec<&'static str> {
    table(field)
        .map(|t| t.iter().filter_map(|(_, w)| w.first().copied()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::registry::{HOUSEHOLD, MEMBER};

    use super::*;

    fn ty(field: &str) -> FieldType {
        MEMBER
            .field(field)
            .or_else(|| HOUSEHOLD.field(field))
            .map(|f| f.ty)
            .unwrap_or(FieldType::Bool)
    }

    fn c(field: &str, w: &str) -> Option<Value> {
        code(field, ty(field), w, None)
    }

    #[test]
    fn every_code_of_a_table_is_a_registry_code() {
        for field in [
            "monitoring_type",
            "poverty_status",
            "labour_capacity",
            "relation",
            "gender",
            "school_status",
            "insurance_status",
            "disability",
        ] {
            let FieldType::Enum(codes) = ty(field) else {
                panic!("{field} is no enumeration")
            };
            for (code, _) in table(field).unwrap() {
                assert!(codes.contains(code), "{field}: {code}");
            }
        }
    }

    #[test]
    fn words_read_as_codes() {
        let s = |v: &str| Some(Value::String(v.into()));
        assert_eq!(c("relation", "之外孙女"), s("grandchild"));
        assert_eq!(c("relation", " 户主 "), s("head"));
        assert_eq!(c("school_status", "初中二年级"), s("enrolled"));
        assert_eq!(c("school_status", "非在校生"), s("not_school_age"));
        assert_eq!(c("school_status", "初中毕业"), s("graduated"));
        assert_eq!(c("disability", "肢体二级"), s("grade_2"));
        assert_eq!(c("disability", "３级"), s("grade_3"));
        assert_eq!(c("labour_capacity", "弱劳动力或半劳动力"), s("weak"));
        assert_eq!(c("monitoring_type", "marginal_prone"), s("marginal_prone"));
        assert_eq!(c("migrant_worker", "县外省内务工"), Some(Value::Bool(true)));
        assert_eq!(c("migrant_worker", "乡镇内务工"), Some(Value::Bool(true)));
        assert_eq!(c("migrant_worker", "未务工"), Some(Value::Bool(false)));
        assert_eq!(c("family_doctor_signed", "是"), Some(Value::Bool(true)));
        assert_eq!(c("relation", "邻居"), None);
        assert_eq!(c("gender", "男女"), None);
    }

    #[test]
    fn written_words_read_back_as_their_code() {
        for field in ["relation", "school_status", "disability", "monitoring_type"] {
            let FieldType::Enum(codes) = ty(field) else {
                panic!()
            };
            for code in codes {
                for gender in [None, Some("male"), Some("female")] {
                    let v = Value::String((*code).into());
                    let w = word(field, &v, gender);
                    assert_eq!(c(field, &w), Some(v), "{field} {code} {w}");
                }
            }
        }
    }
}
