//! Which column holds what: the national monitoring system's column names (and the variants
//! counties use), a county's own names from its mapping file, and finding the header row below
//! the title rows a printed sheet carries.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::LazyLock;

use super::cells::Sheet;
use super::mapping::Mapping;
use super::text;

/// What a column feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    HouseholdNo,
    /// 系统户ID: fieldsync's own household id, written by the export.
    HouseholdRecordId,
    PersonNo,
    /// 系统人员ID.
    PersonRecordId,
    VillageCode,
    Township,
    VillageName,
    /// A household field of the registry.
    Household(&'static str),
    /// A member field of the registry.
    Person(&'static str),
    /// Known and deliberately not read (省, 市, 县, 序号).
    Ignore,
}

impl Target {
    /// Whether the column describes a person: a sheet with one is a member sheet.
    pub fn is_person(self) -> bool {
        matches!(
            self,
            Target::PersonNo | Target::PersonRecordId | Target::Person(_)
        )
    }
}

use Target::{Household as H, Person as P, *};

/// The export's columns, in order (see `write.rs`); each is also the first name the reader
/// takes for its key. Every registry field of households and members has one (a test checks).
pub const CANONICAL: &[(&str, Target)] = &[
    ("户编号", HouseholdNo),
    ("系统户ID", HouseholdRecordId),
    ("人编号", PersonNo),
    ("系统人员ID", PersonRecordId),
    ("行政区划代码", VillageCode),
    ("乡镇", Township),
    ("行政村", VillageName),
    ("户主姓名", H("head_name")),
    ("户主证件号码", H("head_id_card")),
    ("村民小组", H("grid")),
    ("家庭住址", H("address")),
    ("联系电话", H("phone")),
    ("户类型", H("poverty_status")),
    ("监测对象类别", H("monitoring_type")),
    ("家庭劳动能力", H("labour_capacity")),
    ("家庭人口数", H("household_size")),
    ("人均纯收入（元）", H("per_capita_income")),
    ("收入年度", H("income_year")),
    ("住房纬度", H("home_lat")),
    ("住房经度", H("home_lon")),
    ("备注", H("notes")),
    ("姓名", P("name")),
    ("与户主关系", P("relation")),
    ("性别", P("gender")),
    ("出生日期", P("birth_date")),
    ("证件号码", P("id_card")),
    ("个人联系电话", P("phone")),
    ("在校生状况", P("school_status")),
    ("就读学校", P("school_name")),
    ("是否参加城乡居民基本医疗保险", P("insurance_status")),
    ("家庭医生签约", P("family_doctor_signed")),
    ("健康状况", P("illness")),
    ("残疾等级", P("disability")),
    ("劳动技能", P("labour_capacity")),
    ("务工状况", P("migrant_worker")),
];

/// Other spellings of the same columns in national exports and county sheets.
const VARIANTS: &[(&str, Target)] = &[
    ("户码", HouseholdNo),
    ("户号", HouseholdNo),
    ("家庭编号", HouseholdNo),
    ("成员编号", PersonNo),
    ("人员编号", PersonNo),
    ("村代码", VillageCode),
    ("行政村代码", VillageCode),
    ("村行政区划代码", VillageCode),
    ("乡(镇)", Township),
    ("乡(镇、街道)", Township),
    ("乡镇(街道)", Township),
    ("乡镇名称", Township),
    ("村", VillageName),
    ("村名称", VillageName),
    ("行政村名称", VillageName),
    ("村名", VillageName),
    ("户主证件号", H("head_id_card")),
    ("户主身份证号", H("head_id_card")),
    ("户主身份证号码", H("head_id_card")),
    ("组", H("grid")),
    ("村民小组(网格)", H("grid")),
    ("网格", H("grid")),
    ("住址", H("address")),
    ("详细地址", H("address")),
    ("家庭地址", H("address")),
    ("户主联系电话", H("phone")),
    ("家庭联系电话", H("phone")),
    ("户类别", H("poverty_status")),
    ("脱贫户属性", H("poverty_status")),
    ("监测对象类型", H("monitoring_type")),
    ("监测户类型", H("monitoring_type")),
    ("家庭人口", H("household_size")),
    ("家庭人数", H("household_size")),
    ("人口数", H("household_size")),
    ("人均纯收入", H("per_capita_income")),
    ("家庭人均纯收入", H("per_capita_income")),
    ("年人均纯收入", H("per_capita_income")),
    ("成员姓名", P("name")),
    ("身份证号", P("id_card")),
    ("身份证号码", P("id_card")),
    ("身份证件号码", P("id_card")),
    ("证件号", P("id_card")),
    ("公民身份号码", P("id_card")),
    ("成员联系电话", P("phone")),
    ("本人联系电话", P("phone")),
    ("在校生情况", P("school_status")),
    ("在校情况", P("school_status")),
    ("就学状况", P("school_status")),
    ("学校名称", P("school_name")),
    ("参加医疗保险", P("insurance_status")),
    ("是否参加基本医疗保险", P("insurance_status")),
    ("是否参加城乡居民医疗保险", P("insurance_status")),
    ("基本医疗保险", P("insurance_status")),
    ("是否签约家庭医生", P("family_doctor_signed")),
    ("家庭医生签约情况", P("family_doctor_signed")),
    ("健康情况", P("illness")),
    ("残疾类别及等级", P("disability")),
    ("劳动能力", P("labour_capacity")),
    ("是否外出务工", P("migrant_worker")),
    ("务工情况", P("migrant_worker")),
    ("省", Ignore),
    ("省份", Ignore),
    ("市", Ignore),
    ("市(州)", Ignore),
    ("地市", Ignore),
    ("县", Ignore),
    ("县(市、区)", Ignore),
    ("县区", Ignore),
    ("序号", Ignore),
];

/// Rows searched for the header below title rows.
const SEARCH_ROWS: usize = 20;
/// Known columns a header row needs, 户编号 included: a title row may name one by chance.
const MIN_KNOWN: usize = 3;

/// The built-in names, normalised once: each name and its stem without a unit.
static KNOWN: LazyLock<Vec<(String, String, Target)>> = LazyLock::new(|| {
    CANONICAL
        .iter()
        .chain(VARIANTS)
        .map(|(name, t)| {
            let h = text::header(name);
            let stem = text::without_unit(&h).unwrap_or(&h).to_owned();
            (h, stem, *t)
        })
        .collect()
});

/// How a header cell reads: by the mapping file first, then built in; each as written, then
/// without a unit in brackets.
pub fn target(written: &str, mapping: Option<&Mapping>) -> Option<Target> {
    let h = text::header(written);
    if h.is_empty() {
        return None;
    }
    let builtin = |name: &str| KNOWN.iter().find(|(n, _, _)| n == name).map(|k| k.2);
    let builtin_stem = |stem: &str| KNOWN.iter().find(|(_, s, _)| s == stem).map(|k| k.2);
    let mapped = |name: &str| mapping.and_then(|m| m.column(name));
    mapped(&h).or_else(|| builtin(&h)).or_else(|| {
        let stem = text::without_unit(&h)?;
        mapped(stem).or_else(|| builtin_stem(stem))
    })
}

/// A header as the office wrote it, on one line.
fn as_written(s: &str) -> String {
    s.trim().replace(['\r', '\n'], "")
}

/// The header of one sheet.
#[derive(Debug)]
pub struct Header {
    /// Index of the header row in the sheet's rows.
    pub index: usize,
    /// Rows of the header (two when a group row sits over it), for skipping them.
    pub height: usize,
    /// Per column: what it feeds and its header as written.
    /// Shared (`Arc`): every row's cells name their column by it.
    pub columns: Vec<Option<(Target, Arc<str>)>>,
    /// Headers that read as nothing, or as a key an earlier column already feeds.
    pub unknown: Vec<String>,
    /// The person columns by target, one map every row of the sheet shares.
    pub person_columns: Arc<HashMap<Target, Arc<str>>>,
}

impl Header {
    pub fn is_person_sheet(&self) -> bool {
        self.columns.iter().flatten().any(|(t, _)| t.is_person())
    }

    /// The column feeding `target`, with its header as written.
    pub fn column(&self, target: Target) -> Option<(usize, &str)> {
        self.columns.iter().enumerate().find_map(|(i, c)| match c {
            Some((t, w)) if *t == target => Some((i, &**w)),
            _ => None,
        })
    }
}

/// The first row among the first [`SEARCH_ROWS`] naming 户编号 and enough known columns.
pub fn find(sheet: &Sheet, mapping: Option<&Mapping>) -> Option<Header> {
    // The rows searched, and the one below for a second header row.
    let rows = sheet.head(SEARCH_ROWS + 1);
    let (index, targets) = rows
        .iter()
        .take(SEARCH_ROWS)
        .enumerate()
        .find_map(|(i, r)| {
            let targets: Vec<Option<Target>> =
                r.cells.iter().map(|c| target(&c.text, mapping)).collect();
            let known = targets.iter().flatten().filter(|t| **t != Ignore).count();
            (targets.contains(&Some(HouseholdNo)) && known >= MIN_KNOWN).then_some((i, targets))
        })?;
    let mut written: Vec<String> = rows[index]
        .cells
        .iter()
        .map(|c| as_written(&c.text))
        .collect();
    let mut targets = targets;
    // A second header row under a group row ("家庭成员信息" over 姓名, 性别 …): its names
    // take the place of the group's where it has them.
    let mut height = 1;
    if let Some(below) = rows.get(index + 1) {
        let below_targets: Vec<Option<Target>> = below
            .cells
            .iter()
            .map(|c| target(&c.text, mapping))
            .collect();
        if below_targets.iter().flatten().count() >= 2 {
            height = 2;
            for (i, (t, c)) in below_targets.iter().zip(&below.cells).enumerate() {
                if text::clean(&c.text).is_empty() {
                    continue;
                }
                if i >= targets.len() {
                    targets.resize(i + 1, None);
                    written.resize(i + 1, String::new());
                }
                targets[i] = *t;
                written[i] = as_written(&c.text);
            }
        }
    }
    let mut seen = HashSet::new();
    let mut unknown = Vec::new();
    let columns = targets
        .into_iter()
        .zip(written)
        .map(|(t, w)| match t {
            Some(t) if t == Ignore || seen.insert(t) => Some((t, Arc::from(w))),
            _ => {
                if !w.is_empty() && !unknown.contains(&w) {
                    unknown.push(w);
                }
                None
            }
        })
        .collect();
    let columns: Vec<Option<(Target, Arc<str>)>> = columns;
    let person_columns = Arc::new(
        columns
            .iter()
            .flatten()
            .filter(|(t, _)| t.is_person())
            .map(|(t, w)| (*t, w.clone()))
            .collect(),
    );
    Some(Header {
        index,
        height,
        columns,
        unknown,
        person_columns,
    })
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::registry::{FieldType, HOUSEHOLD, MEMBER};

    use super::*;

    #[test]
    fn every_registry_field_has_a_canonical_column() {
        // 户编号, 人编号 and the village are columns of their own; a reference is no column.
        let own = ["village_code", "household_no", "person_no"];
        for (entity, wrap) in [(&HOUSEHOLD, H as fn(_) -> _), (&MEMBER, P)] {
            for f in entity.fields {
                if own.contains(&f.name) || matches!(f.ty, FieldType::Ref(_)) {
                    continue;
                }
                let t = wrap(f.name);
                assert!(
                    CANONICAL.iter().any(|(_, c)| *c == t),
                    "{}.{} has no column",
                    entity.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn every_column_names_a_registry_field() {
        for (name, t) in CANONICAL.iter().chain(VARIANTS) {
            match t {
                H(f) => assert!(HOUSEHOLD.field(f).is_some(), "{name}"),
                P(f) => assert!(MEMBER.field(f).is_some(), "{name}"),
                _ => {}
            }
        }
    }

    #[test]
    fn headers_match_with_spaces_units_and_full_width_brackets() {
        assert_eq!(target(" 户　编 号 ", None), Some(HouseholdNo));
        assert_eq!(
            target("人均纯收入（元）", None),
            Some(H("per_capita_income"))
        );
        assert_eq!(
            target("家庭人均纯收入(元/人)", None),
            Some(H("per_capita_income"))
        );
        assert_eq!(target("乡（镇）", None), Some(Township));
        assert_eq!(target("*姓名", None), Some(P("name")));
        assert_eq!(target("县（市、区）", None), Some(Ignore));
        assert_eq!(target("户主身份证", None), None);
    }
}
