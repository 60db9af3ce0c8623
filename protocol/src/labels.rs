//! The words people see for the registry's names, in Chinese and English: fields, enumeration
//! values, entities and forms. One place for every front end (the console's pages, the forms
//! ODK Collect shows, the export's headers), so a field reads the same wherever a cadre or an
//! official meets it, and a new field or value is named once.

use crate::Role;

/// A name in both languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    pub zh: &'static str,
    pub en: &'static str,
}

/// A field of `entity`: the entity's own meaning of the name first (a task's `status` is not
/// a schooling status), else [`field`].
pub fn field_of(entity: &str, name: &str) -> Option<Label> {
    let (zh, en) = match (entity, name) {
        ("task", "status") => ("状态", "Status"),
        ("task", "title") => ("标题", "Title"),
        ("task", "assignee_id") => ("负责人", "Assignee"),
        ("task", "due_on") => ("期限", "Due"),
        ("task", "kind") => ("任务类型", "Kind of task"),
        ("task" | "case", "source") => ("来源", "Source"),
        ("task", "created_at") => ("派发时间", "Made at"),
        ("task", "closed_at") => ("办结时间", "Closed at"),
        ("case", "state") => ("办理状态", "State"),
        ("case", "category") | ("self_report", "category") => ("困难类别", "Difficulty"),
        ("case", "description") | ("self_report", "description") => {
            ("反映的困难", "The difficulty described")
        }
        ("case", "closed_at") => ("结案时间", "Closed at"),
        ("case_step", "case_type") | ("case", "case_type") => ("监测对象类型", "Monitoring type"),
        ("leave_request", "kind") => ("类别", "Kind"),
        _ => return field(name),
    };
    Some(Label { zh, en })
}

/// An entity's short name, as lists and charts show it.
pub fn entity(name: &str) -> Option<Label> {
    let (zh, en) = match name {
        "housing_check" => ("住房安全", "Housing"),
        "water_check" => ("饮水安全", "Drinking water"),
        "education_check" => ("义务教育", "Schooling"),
        "health_check" => ("基本医疗", "Health cover"),
        "visit" => ("走访", "Visit"),
        "presence" => ("签到", "Check-in"),
        "household" => ("农户", "Household"),
        "member" => ("家庭成员", "Member"),
        "task" => ("任务", "Task"),
        "case" => ("监测对象", "Case"),
        "case_step" => ("办理步骤", "Case step"),
        "self_report" => ("农户申报", "Self-report"),
        "survey_submission" => ("调查表", "Survey"),
        "leave_request" => ("请假申请", "Leave request"),
        "leave_decision" => ("请假审批", "Leave decision"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// A role, as people call it.
pub fn role(role: Role) -> Label {
    use Role::*;
    let (zh, en) = match role {
        Admin => ("系统管理员", "Administrator"),
        CountyOfficer => ("县级干部", "County officer"),
        TownshipSupervisor => ("乡镇包村干部", "Township supervisor"),
        FirstSecretary => ("驻村第一书记", "First secretary"),
        TeamMember => ("工作队员", "Work team member"),
        GridWorker => ("网格员", "Grid worker"),
        HotlineOperator => ("热线接线员", "Hotline operator"),
        Farmer => ("农户", "Farmer"),
    };
    Label { zh, en }
}

/// A monitoring case's state (`registry::work::CASE_STATES`).
pub fn case_state(state: &str) -> Option<Label> {
    let (zh, en) = match state {
        "reported" => ("已申报", "Reported"),
        "verified" => ("已入户核实", "Verified at home"),
        "reviewed" => ("已民主评议", "Democratic review held"),
        "publicized" => ("公示中", "Publicized"),
        "township_reviewed" => ("乡镇已审核", "Township reviewed"),
        "approved" => ("县级已确定", "Approved by county"),
        "helping" => ("帮扶中", "Helping"),
        "eliminated" => ("风险已消除", "Risk eliminated"),
        "not_admitted" => ("不纳入", "Not admitted"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// Where a self-report stands, in the words a hotline operator reads to the farmer who calls
/// again: what has happened and what comes next, without the procedure's terms. `received` is
/// a report no case has taken up yet; the others are `registry::work::CASE_STATES`.
pub fn case_standing(state: &str) -> Option<Label> {
    let (zh, en) = match state {
        "received" => (
            "已收到您的反映，正在转给村里",
            "We have your report and are passing it to your village",
        ),
        "reported" => (
            "已转到村里，驻村工作队会上门了解情况",
            "Your village has it; the village work team will visit you to see for themselves",
        ),
        "verified" => (
            "工作队已上门核实，村里将开会评议",
            "The work team has visited; the village will meet to discuss your household",
        ),
        "reviewed" => (
            "村里已评议，结果将在村里公示",
            "The village has discussed it; the result will be posted in the village",
        ),
        "publicized" => (
            "结果正在村里公示，有意见可以提出",
            "The result is posted in the village; anyone may raise an objection",
        ),
        "township_reviewed" => (
            "乡镇已审核，正等县里确定",
            "The township has checked it; the county will decide",
        ),
        "approved" => (
            "县里已确定帮扶，帮扶措施马上落实",
            "The county has decided to help; the help is being arranged",
        ),
        "helping" => ("帮扶措施正在落实", "Help is under way"),
        "eliminated" => (
            "困难已解决，帮扶结束",
            "The difficulty is resolved; the help has ended",
        ),
        "not_admitted" => (
            "经核实不纳入监测，原因见下",
            "After the checks your household was not taken into monitoring; the reason follows",
        ),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// Why a household was not taken into monitoring (`registry::work::NOT_ADMITTED_REASONS`).
pub fn not_admitted_reason(reason: &str) -> Option<Label> {
    let (zh, en) = match reason {
        "criteria_not_met" => ("不符合监测标准", "The household does not meet the criteria"),
        "hidden_assets_or_false_expenses" => (
            "隐瞒家庭资产或虚报支出",
            "Assets were hidden or expenses overstated",
        ),
        "abroad_at_own_cost" => ("自费出国", "Travel abroad at own cost"),
        "luxury_spending" => ("有高消费", "Luxury spending"),
        "relatives_well_off" => (
            "赡养人或扶养人有能力",
            "Relatives who support the household are well off",
        ),
        "excessive_treatment" => ("过度医疗", "Treatment beyond what was needed"),
        "public_objection_unproven" => (
            "公示有异议且未能说明",
            "An objection during the posting was not answered",
        ),
        "illegal_acts" => ("有违法行为", "Unlawful acts"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// A help measure of a monitored household (`registry::work::HELP_MEASURES`).
pub fn help_measure(m: &str) -> Option<Label> {
    let (zh, en) = match m {
        "industry" => ("产业帮扶", "Industry support"),
        "employment" => ("就业帮扶", "Employment support"),
        "public_welfare_job" => ("公益岗位", "Public-welfare job"),
        "education_aid" => ("教育资助", "Education aid"),
        "medical_aid" => ("医疗救助", "Medical aid"),
        "insurance" => ("保险", "Insurance"),
        "housing_repair" => ("危房改造", "Housing repair"),
        "drinking_water" => ("饮水工程", "Drinking-water works"),
        "minimum_living" => ("低保", "Minimum living allowance"),
        "temporary_relief" => ("临时救助", "Temporary relief"),
        "disability_aid" => ("残疾人补贴", "Disability allowance"),
        "consumption" => ("消费帮扶", "Consumption support"),
        "other" => ("其他", "Other"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// How a self-report came in (`registry::CHANNELS`).
pub fn channel(c: &str) -> Option<Label> {
    let (zh, en) = match c {
        "hotline" => ("12317 热线", "12317 hotline"),
        "app" => ("手机应用", "The app"),
        "paper" => ("纸质申请", "On paper"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// A follow-up task's status (`registry::work::TASK_STATUSES`).
pub fn task_status(status: &str) -> Option<Label> {
    let (zh, en) = match status {
        "open" => ("待办", "Open"),
        "in_progress" => ("办理中", "In progress"),
        "cancelled" => ("已取消", "Cancelled"),
        "done" => ("已办结", "Done"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// The difficulty a self-report or a case is about (`registry::DIFFICULTIES`).
pub fn difficulty(d: &str) -> Option<Label> {
    let (zh, en) = match d {
        "illness" => ("大病重病", "Serious illness"),
        "disability" => ("劳动力伤残", "Disability of a worker"),
        "disaster" => ("自然灾害", "Natural disaster"),
        "accident" => ("意外事故", "Accident"),
        "business_loss" => ("经营亏损", "Business loss"),
        "education_costs" => ("教育支出大", "Education costs"),
        "income_drop" => ("收入骤减", "Income drop"),
        "housing" => ("住房安全", "Housing"),
        "drinking_water" => ("饮水安全", "Drinking water"),
        "other" => ("其他", "Other"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// What a check found wrong (`registry::checks::FAILURES`).
pub fn failure(code: &str) -> Option<Label> {
    let (zh, en) = match code {
        "dangerous_house" => (
            "危房（C/D级）未改造",
            "Dangerous house (grade C/D) not fixed",
        ),
        "unresolved_hazard" => ("安全隐患未消除", "Hazard not resolved"),
        "not_appraised" => ("住房未鉴定", "House not appraised"),
        "water_quantity" => ("水量不足", "Not enough water"),
        "water_quality" => ("水质不达标", "Water quality not met"),
        "water_convenience" => ("取水不方便", "Water not convenient to fetch"),
        "water_supply" => ("供水无保障", "Water supply not guaranteed"),
        "out_of_school" => ("适龄儿童失学辍学", "Child of school age out of school"),
        "uninsured" => ("未参加基本医疗保险", "Not in basic medical insurance"),
        "no_family_doctor" => ("未签约家庭医生", "No family doctor contract"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// A kind of absence a cadre declares (`registry::ABSENCE_KINDS`).
pub fn absence_kind(kind: &str) -> Option<Label> {
    let (zh, en) = match kind {
        "leave" => ("请假", "Leave"),
        "training" => ("培训", "Training"),
        "official_trip" => ("公出", "Official trip"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// Why the server doubts a GPS fix (`gps::Doubt`, by its wire name, and the attendance's
/// `fix_after_sync`).
pub fn doubt(code: &str) -> Option<Label> {
    let (zh, en) = match code {
        "outside_village" => ("位置不在村内", "outside the village"),
        "far_from_household" => ("离农户太远", "far from the household"),
        "impossible_travel" => ("移动速度不可能", "impossible travel"),
        "repeated_coordinates" => ("坐标与他户相同", "same coordinates as another household"),
        "mock_location" => ("模拟定位", "mock location"),
        "low_accuracy" => ("定位精度低", "poor GPS accuracy"),
        "clock_mismatch" => ("手机时间不对", "phone clock wrong"),
        "fix_after_sync" => ("时间晚于上传", "stamped after upload"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// A field's label, whatever entity it belongs to; `None` for a name no one is shown. Where
/// one name means different things in different entities (`status`), [`field_of`] tells.
pub fn field(name: &str) -> Option<Label> {
    let (zh, en) = match name {
        "village_code" => ("村", "Village"),
        "household_id" => ("农户", "Household"),
        "member_id" => ("家庭成员", "Household member"),
        "household_no" => ("户编号", "Household number"),
        "person_no" => ("人编号", "Person number"),
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
        "home_lat" => ("住房纬度", "Home latitude"),
        "home_lon" => ("住房经度", "Home longitude"),
        "captured_at" => ("采集时间", "Captured at"),
        "supersedes" => ("更正的记录", "Corrects the record"),
        "passing" => ("是否达标", "Passes"),
        "failures" => ("发现的问题", "Problems found"),
        "form_key" => ("调查表", "Survey form"),
        "form_version" => ("调查表版本", "Form version"),
        "answers" => ("回答", "Answers"),
        "started_at" => ("开始时间", "Started at"),
        "ended_at" => ("结束时间", "Ended at"),
        "first_day" => ("第一天", "First day"),
        "last_day" => ("最后一天", "Last day"),
        "leave_request_id" => ("请假申请", "Leave request"),
        "decision" => ("审批结果", "Decision"),
        "comment" => ("审批意见", "Comment"),
        "reporter_name" => ("反映人姓名", "Reported by"),
        "contact_phone" => ("联系电话", "Contact phone"),
        "consent_to_checks" => ("同意核查家庭信息", "Consents to data checks"),
        "channel" => ("反映渠道", "Channel"),
        "case_id" => ("监测案例", "Case"),
        "self_report_id" => ("农户申报", "Self-report"),
        "reports" => ("申报次数", "Reports"),
        "publicity_until" => ("公示截止", "Publicity until"),
        "not_admitted_reason" => ("未纳入原因", "Why not admitted"),
        "measures" => ("帮扶措施", "Help measures"),
        "opened_at" => ("立案时间", "Opened at"),
        "closed_at" => ("关闭时间", "Closed at"),
        "from" => ("原状态", "From"),
        "to" => ("新状态", "To"),
        "taken_at" => ("办理时间", "Taken at"),
        "visit_id" => ("入户走访", "Home visit"),
        "publicity_days" => ("公示天数", "Days of publicity"),
        "outcome" => ("结果", "Outcome"),
        "refusal" => ("未通过原因", "Why refused"),
        "evidence_id" => ("办结依据", "Evidence"),
        "source_id" => ("来源记录", "Source record"),
        "rule" => ("派发规则", "Rule"),
        "escalated_at" => ("上报时间", "Escalated at"),
        "escalated_to" => ("上报至", "Escalated to"),
        "closed_by" => ("办结人", "Closed by"),
        "category" => ("类别", "Category"),
        "description" => ("说明", "Description"),
        "state" => ("状态", "State"),
        "case_type" => ("监测对象类型", "Monitoring type"),
        _ => return None,
    };
    Some(Label { zh, en })
}

/// An enumeration value's label, by the field it belongs to (the same word means different
/// things in different lists: `none`).
pub fn value(field: &str, v: &str) -> Option<Label> {
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
    Some(Label { zh, en })
}

/// The title of a registry form.
pub fn form_title(form_id: &str) -> Option<Label> {
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
    Some(Label { zh, en })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{
        ABSENCE_KINDS, CHECK_NAMES, DIFFICULTIES, FieldType, HOUSEHOLD, MEMBER, work,
    };

    #[test]
    fn every_check_and_every_enumeration_value_has_words() {
        for c in CHECK_NAMES {
            assert!(entity(c).is_some(), "{c}");
            assert!(form_title(c).is_some(), "{c}");
        }
        for r in Role::ALL {
            assert_ne!(role(r).zh, role(r).en);
        }
        for s in work::CASE_STATES {
            assert!(case_state(s).is_some(), "{s}");
            assert!(case_standing(s).is_some(), "{s}");
        }
        assert!(case_standing("received").is_some());
        for r in work::NOT_ADMITTED_REASONS {
            assert!(not_admitted_reason(r).is_some(), "{r}");
        }
        for m in work::HELP_MEASURES {
            assert!(help_measure(m).is_some(), "{m}");
        }
        for c in crate::registry::CHANNELS {
            assert!(channel(c).is_some(), "{c}");
        }
        for s in work::TASK_STATUSES {
            assert!(task_status(s).is_some(), "{s}");
        }
        for d in DIFFICULTIES {
            assert!(difficulty(d).is_some(), "{d}");
        }
        for k in ABSENCE_KINDS {
            assert!(absence_kind(k).is_some(), "{k}");
        }
        for f in crate::registry::checks::FAILURES {
            assert!(failure(f).is_some(), "{f}");
        }
        // Every entity and every field of it, as the household file and the history of edits
        // show them.
        for def in crate::registry::ENTITIES {
            assert!(entity(def.name).is_some(), "{}", def.name);
            for f in def.fields {
                assert!(
                    field_of(def.name, f.name).is_some(),
                    "{}.{}",
                    def.name,
                    f.name
                );
            }
        }
        // Every field a form asks and each of its values: the forms' own test (the server's
        // `openrosa::xform`) holds to it; here, the registers a reviewer reads.
        for def in [&HOUSEHOLD, &MEMBER] {
            for f in def.fields.iter().filter(|f| !f.server_only) {
                assert!(
                    field_of(def.name, f.name).is_some(),
                    "{}.{}",
                    def.name,
                    f.name
                );
                if let FieldType::Enum(values) | FieldType::EnumList(values) = f.ty {
                    for v in values {
                        assert!(value(f.name, v).is_some(), "{}.{} = {v}", def.name, f.name);
                    }
                }
            }
        }
    }

    #[test]
    fn an_entitys_own_meaning_of_a_name_comes_first() {
        assert_eq!(field_of("case", "source").map(|l| l.zh), Some("来源"));
        assert_eq!(
            field_of("water_check", "source").map(|l| l.zh),
            Some("水源类型")
        );
        assert_eq!(field_of("task", "status").map(|l| l.en), Some("Status"));
        assert_eq!(
            field_of("education_check", "status").map(|l| l.en),
            Some("Schooling")
        );
        assert_eq!(field_of("household", "head_name"), field("head_name"));
    }
}
