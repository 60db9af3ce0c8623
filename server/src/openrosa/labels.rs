//! Chinese and English labels of the registry's fields and enumeration values, as the forms
//! show them to cadres. (The console names household and member fields for reviewers in
//! `console::i18n`; these cover every field a form asks, and the values of every enumeration.)

/// A text in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// A field's label; `None` for a field no form asks.
pub fn field(name: &str) -> Option<Text> {
    let (zh, en) = match name {
        "village_code" => ("村", "Village"),
        "household_id" => ("农户", "Household"),
        "member_id" => ("家庭成员", "Household member"),
        "head_name" => ("户主姓名", "Head of household"),
        "name" => ("姓名", "Name"),
        "grid" => ("村民小组/网格", "Village group or grid"),
        "address" => ("住址", "Address"),
        "phone" => ("联系电话", "Phone"),
        "head_id_card" => ("户主身份证号", "Head's ID-card number"),
        "id_card" => ("身份证号", "ID-card number"),
        "poverty_status" => ("脱贫状态", "Poverty status"),
        "monitoring_type" => ("监测对象类型", "Monitoring type"),
        "labour_capacity" => ("劳动能力", "Labour capacity"),
        "household_size" => ("家庭人口数", "Household size"),
        "per_capita_income" => ("人均纯收入（元/年）", "Income per person (yuan a year)"),
        "income_year" => ("收入年度", "Income year"),
        "home" => ("住房位置", "Location of the house"),
        "notes" | "note" => ("备注", "Notes"),
        "photos" => ("照片", "Photos"),
        "photo" => ("拍照", "Take a photo"),
        "gps" => ("当前位置（GPS）", "Current position (GPS)"),
        "relation" => ("与户主关系", "Relation to the head"),
        "gender" => ("性别", "Gender"),
        "birth_date" => ("出生日期", "Birth date"),
        "school_status" => ("就学状态", "School status"),
        "school_name" => ("学校名称", "School"),
        "insurance_status" => ("基本医疗保险", "Basic health insurance"),
        "family_doctor_signed" => ("家庭医生签约", "Family doctor signed"),
        "illness" => ("疾病情况", "Illness"),
        "disability" => ("残疾等级", "Disability grade"),
        "migrant_worker" => ("外出务工", "Works away from home"),
        "appraisal_grade" => ("房屋安全鉴定等级", "House safety grade"),
        "hazards" => ("安全隐患", "Hazards"),
        "repair_status" => ("改造/修缮情况", "Repair status"),
        "occupied" => ("是否居住", "Lived in"),
        "source" => ("水源类型", "Water source"),
        "quantity_ok" => ("水量达标", "Enough water"),
        "quality_ok" => ("水质达标", "Water quality good"),
        "convenience_ok" => ("取水方便", "Water close at hand"),
        "supply_guaranteed" => ("供水有保障", "Supply guaranteed"),
        "problems" => ("存在问题", "Problems"),
        "status" => ("就学状态", "Schooling"),
        "school" => ("就读学校", "School"),
        "grade" => ("年级", "Grade"),
        "reason" => ("原因", "Reason"),
        "insured" => ("参加基本医疗保险", "Insured"),
        "serious_illness" => ("患大病重病", "Serious illness"),
        "chronic_illness" => ("慢性病", "Chronic illness"),
        "treat_first_pay_later" => ("先诊疗后付费", "Treat first, pay later"),
        "purpose" => ("走访目的", "Purpose of the visit"),
        "household" => ("农户", "Household"),
        _ => return None,
    };
    Some(Text::new(zh, en))
}

/// An enumeration value's label, by the field it belongs to (the same word means different
/// things in different lists: `none`).
pub fn value(field: &str, v: &str) -> Option<Text> {
    let (zh, en) = match (field, v) {
        ("monitoring_type", "none") => ("未纳入监测", "Not monitored"),
        ("monitoring_type", "unstable_out_of_poverty") => {
            ("脱贫不稳定户", "Unstable out of poverty")
        }
        ("monitoring_type", "marginal_prone") => ("边缘易致贫户", "Marginal, prone to poverty"),
        ("monitoring_type", "sudden_severe_difficulty") => {
            ("突发严重困难户", "Sudden severe difficulty")
        }
        ("poverty_status", "out_of_poverty") => ("脱贫户", "Out of poverty"),
        ("poverty_status", "ordinary") => ("一般农户", "Ordinary household"),
        ("labour_capacity", "full") => ("有劳动能力", "Full"),
        ("labour_capacity", "weak") => ("弱劳动能力", "Weak"),
        ("labour_capacity", "none") => ("无劳动能力", "None"),
        ("relation", "head") => ("户主", "Head"),
        ("relation", "spouse") => ("配偶", "Spouse"),
        ("relation", "child") => ("子女", "Child"),
        ("relation", "child_in_law") => ("儿媳/女婿", "Child-in-law"),
        ("relation", "grandchild") => ("孙子女", "Grandchild"),
        ("relation", "parent") => ("父母", "Parent"),
        ("relation", "grandparent") => ("祖父母", "Grandparent"),
        ("relation", "sibling") => ("兄弟姐妹", "Sibling"),
        ("gender", "male") => ("男", "Male"),
        ("gender", "female") => ("女", "Female"),
        ("school_status" | "status", "not_school_age") => ("非学龄", "Not of school age"),
        ("school_status" | "status", "enrolled") => ("在校就读", "Enrolled"),
        ("school_status" | "status", "dropped_out") => ("辍学", "Dropped out"),
        ("school_status" | "status", "home_teaching") => ("送教上门", "Taught at home"),
        ("school_status" | "status", "deferred") => ("缓学", "Deferred"),
        ("school_status" | "status", "graduated") => ("已毕业", "Graduated"),
        ("status", "suspended") => ("休学", "Suspended"),
        ("insurance_status", "enrolled") => ("已参保", "Enrolled"),
        ("insurance_status", "not_enrolled") => ("未参保", "Not enrolled"),
        ("insurance_status", "unknown") => ("不清楚", "Unknown"),
        ("disability", "none") => ("无残疾", "None"),
        ("disability", "grade_1") => ("一级", "Grade 1"),
        ("disability", "grade_2") => ("二级", "Grade 2"),
        ("disability", "grade_3") => ("三级", "Grade 3"),
        ("disability", "grade_4") => ("四级", "Grade 4"),
        ("appraisal_grade", "A") => ("A级（安全）", "A (safe)"),
        ("appraisal_grade", "B") => ("B级（基本安全）", "B (mostly safe)"),
        ("appraisal_grade", "C") => ("C级（局部危险）", "C (partly dangerous)"),
        ("appraisal_grade", "D") => ("D级（整体危险）", "D (dangerous)"),
        ("appraisal_grade", "not_appraised") => ("未鉴定", "Not appraised"),
        ("hazards", "geological") => ("地质灾害", "Geological"),
        ("hazards", "ageing") => ("房屋老化", "Ageing"),
        ("hazards", "flood") => ("洪涝", "Flood"),
        ("hazards", "earthquake_damage") => ("地震损坏", "Earthquake damage"),
        ("hazards", "fire") => ("火灾隐患", "Fire"),
        ("repair_status", "not_needed") => ("无需改造", "Not needed"),
        ("repair_status", "planned") => ("已列入计划", "Planned"),
        ("repair_status", "in_progress") => ("正在改造", "In progress"),
        ("repair_status", "completed") => ("已完成", "Completed"),
        ("repair_status", "relocated") => ("已搬迁", "Relocated"),
        ("source", "centralised_tap") => ("集中供水（自来水）", "Piped supply"),
        ("source", "well") => ("水井", "Well"),
        ("source", "cellar") => ("水窖", "Water cellar"),
        ("source", "trucked") => ("拉水/送水", "Trucked water"),
        ("source", "spring") => ("泉水", "Spring"),
        ("problems", "poor_maintenance") => ("管护不到位", "Poor maintenance"),
        ("problems", "bad_quality") => ("水质不达标", "Bad quality"),
        ("problems", "insufficient_source") => ("水源不足", "Not enough water at the source"),
        ("problems", "frozen_pipes") => ("管道冻裂", "Frozen pipes"),
        ("purpose", "routine") => ("例行走访", "Routine visit"),
        ("purpose", "checks") => ("四项核查", "The four checks"),
        ("purpose", "follow_up") => ("问题跟进", "Follow-up"),
        ("purpose", "policy_publicity") => ("政策宣传", "Policy publicity"),
        ("purpose", "village_meeting") => ("村民会议", "Village meeting"),
        ("purpose", "monitoring_survey") => ("监测排查", "Monitoring survey"),
        (_, "true") => ("是", "Yes"),
        (_, "false") => ("否", "No"),
        (_, "other") => ("其他", "Other"),
        _ => return None,
    };
    Some(Text::new(zh, en))
}

/// The title of a registry form.
pub fn form_title(form_id: &str) -> Option<Text> {
    let (zh, en) = match form_id {
        "housing_check" => ("住房安全核查", "Housing safety check"),
        "water_check" => ("饮水安全核查", "Drinking water check"),
        "education_check" => ("义务教育核查", "Schooling check"),
        "health_check" => ("基本医疗核查", "Health cover check"),
        "visit" => ("入户走访", "Visit"),
        "presence" => ("驻村签到", "Check in at the village"),
        "household_register" => ("农户登记", "Register a household"),
        "household_update" => ("农户信息修改", "Update a household"),
        "member_register" => ("家庭成员登记", "Register a household member"),
        "member_update" => ("家庭成员信息修改", "Update a household member"),
        _ => return None,
    };
    Some(Text::new(zh, en))
}
