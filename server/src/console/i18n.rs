//! The console's two languages. Simplified Chinese is the default (the offices work in it);
//! English is a toggle kept in a cookie. Each text is written in both languages where it is
//! used (`lang.t("审核", "Review")`), so a page reads whole in its source.

/// The language of a page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// The cookie that keeps the choice.
pub const COOKIE: &str = "fs_lang";

impl Lang {
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn role(self, role: fieldsync_protocol::Role) -> &'static str {
        use fieldsync_protocol::Role::*;
        match role {
            Admin => self.t("系统管理员", "Administrator"),
            CountyOfficer => self.t("县级干部", "County officer"),
            TownshipSupervisor => self.t("乡镇包村干部", "Township supervisor"),
            FirstSecretary => self.t("驻村第一书记", "First secretary"),
            TeamMember => self.t("工作队员", "Work team member"),
            GridWorker => self.t("网格员", "Grid worker"),
            HotlineOperator => self.t("热线接线员", "Hotline operator"),
            Farmer => self.t("农户", "Farmer"),
        }
    }

    /// A role by its wire name, as stored with users.
    pub fn role_name(self, role: &str) -> String {
        role.parse()
            .map_or_else(|_| role.to_owned(), |r| self.role(r).to_owned())
    }

    /// A case state.
    pub fn case_state(self, state: &str) -> &'static str {
        match state {
            "reported" => self.t("已申报", "Reported"),
            "verified" => self.t("已入户核实", "Verified at home"),
            "reviewed" => self.t("已民主评议", "Democratic review held"),
            "publicized" => self.t("公示中", "Publicized"),
            "township_reviewed" => self.t("乡镇已审核", "Township reviewed"),
            "approved" => self.t("县级已确定", "Approved by county"),
            "helping" => self.t("帮扶中", "Helping"),
            "eliminated" => self.t("风险已消除", "Risk eliminated"),
            "not_admitted" => self.t("不纳入", "Not admitted"),
            _ => self.t("未知", "Unknown"),
        }
    }

    /// A task status.
    pub fn task_status(self, status: &str) -> &'static str {
        match status {
            "open" => self.t("待办", "Open"),
            "in_progress" => self.t("办理中", "In progress"),
            "cancelled" => self.t("已取消", "Cancelled"),
            "done" => self.t("已办结", "Done"),
            _ => self.t("未知", "Unknown"),
        }
    }

    /// A day of an attendance sheet.
    pub fn day_state(self, state: crate::attendance::DayState) -> &'static str {
        use crate::attendance::DayState::*;
        match state {
            Present => self.t("在村", "Present"),
            Exempt => self.t("公出/培训", "Training/trip"),
            Leave => self.t("请假", "Leave"),
            Doubtful => self.t("存疑", "Doubtful"),
            Absent => self.t("缺勤", "Absent"),
            Future => self.t("未到", "Future"),
        }
    }

    /// Where an attendance review stands (`attendance::review_state`).
    pub fn review_state(self, state: &str) -> &'static str {
        match state {
            "approved" => self.t("已审核", "Approved"),
            "returned" => self.t("已退回", "Returned"),
            "answered" => self.t("已答复", "Answered"),
            _ => self.t("待审核", "To review"),
        }
    }

    /// One of the four checks, or a visit.
    pub fn check_kind(self, entity: &str) -> &'static str {
        match entity {
            "housing_check" => self.t("住房安全", "Housing"),
            "water_check" => self.t("饮水安全", "Drinking water"),
            "education_check" => self.t("义务教育", "Schooling"),
            "health_check" => self.t("基本医疗", "Health cover"),
            "visit" => self.t("走访", "Visit"),
            "presence" => self.t("签到", "Check-in"),
            _ => self.t("其他", "Other"),
        }
    }

    /// The difficulty a self-report or case is about.
    pub fn difficulty(self, d: &str) -> &'static str {
        match d {
            "illness" => self.t("大病重病", "Serious illness"),
            "disability" => self.t("劳动力伤残", "Disability of a worker"),
            "disaster" => self.t("自然灾害", "Natural disaster"),
            "accident" => self.t("意外事故", "Accident"),
            "business_loss" => self.t("经营亏损", "Business loss"),
            "education_costs" => self.t("教育支出大", "Education costs"),
            "income_drop" => self.t("收入骤减", "Income drop"),
            "housing" => self.t("住房安全", "Housing"),
            "drinking_water" => self.t("饮水安全", "Drinking water"),
            _ => self.t("其他", "Other"),
        }
    }

    /// A field of a household, a member or a task, for reviewers; the wire name otherwise.
    pub fn field(self, name: &str) -> String {
        let label = match name {
            "head_name" => self.t("户主姓名", "Head of household"),
            "name" => self.t("姓名", "Name"),
            "grid" => self.t("网格", "Grid"),
            "address" => self.t("住址", "Address"),
            "phone" => self.t("电话", "Phone"),
            "head_id_card" | "id_card" => self.t("身份证号", "ID card"),
            "poverty_status" => self.t("脱贫状态", "Poverty status"),
            "monitoring_type" => self.t("监测类型", "Monitoring type"),
            "labour_capacity" => self.t("劳动能力", "Labour capacity"),
            "household_size" => self.t("家庭人口", "Household size"),
            "per_capita_income" => self.t("人均纯收入", "Income per person"),
            "income_year" => self.t("收入年度", "Income year"),
            "home_lat" => self.t("住房纬度", "Home latitude"),
            "home_lon" => self.t("住房经度", "Home longitude"),
            "notes" | "note" => self.t("备注", "Notes"),
            "relation" => self.t("与户主关系", "Relation to head"),
            "gender" => self.t("性别", "Gender"),
            "birth_date" => self.t("出生日期", "Birth date"),
            "school_status" => self.t("就学状态", "School status"),
            "school_name" => self.t("学校", "School"),
            "insurance_status" => self.t("医保状态", "Health insurance"),
            "family_doctor_signed" => self.t("家庭医生签约", "Family doctor"),
            "illness" => self.t("疾病", "Illness"),
            "disability" => self.t("残疾", "Disability"),
            "migrant_worker" => self.t("外出务工", "Migrant worker"),
            "status" => self.t("状态", "Status"),
            "assignee_id" => self.t("负责人", "Assignee"),
            "due_on" => self.t("期限", "Due"),
            "title" => self.t("标题", "Title"),
            _ => return name.to_owned(),
        };
        label.to_owned()
    }

    /// A household's monitoring type.
    pub fn monitoring_type(self, t: &str) -> &'static str {
        match t {
            "unstable_out_of_poverty" => self.t("脱贫不稳定户", "Unstable out of poverty"),
            "marginal_prone" => self.t("边缘易致贫户", "Marginal, prone to poverty"),
            "sudden_severe_difficulty" => self.t("突发严重困难户", "Sudden severe difficulty"),
            _ => self.t("未分类", "Not typed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_and_state_has_a_name_in_both_languages() {
        for role in fieldsync_protocol::Role::ALL {
            assert_ne!(Lang::Zh.role(role), Lang::En.role(role));
        }
        for s in fieldsync_protocol::registry::work::CASE_STATES {
            assert_ne!(Lang::En.case_state(s), "Unknown", "{s}");
        }
        for s in fieldsync_protocol::registry::work::TASK_STATUSES {
            assert_ne!(Lang::En.task_status(s), "Unknown", "{s}");
        }
        for t in crate::cases::machine::CASE_TYPES {
            assert_ne!(Lang::En.monitoring_type(t), "Not typed", "{t}");
        }
        // Every field a reviewer can meet in a household or member conflict reads as words.
        for def in [
            &fieldsync_protocol::registry::HOUSEHOLD,
            &fieldsync_protocol::registry::MEMBER,
        ] {
            for f in def
                .fields
                .iter()
                .filter(|f| !f.name.ends_with("_code") && f.name != "household_id")
            {
                assert_ne!(Lang::Zh.field(f.name), f.name, "{}.{}", def.name, f.name);
            }
        }
        assert_eq!(Lang::from_code("en"), Some(Lang::En));
        assert_eq!(Lang::from_code("fr"), None);
    }
}
