//! The console's two languages. Simplified Chinese is the default (the offices work in it);
//! English is a toggle kept in a cookie. Each text is written in both languages where it is
//! used (`lang.t("审核", "Review")`), so a page reads whole in its source. The names of the
//! registry's fields, values, entities and roles come from the one list every front end reads
//! (`fieldsync_protocol::labels`).

use fieldsync_protocol::labels::{self, Label};

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

    /// Words from the one list of labels (`fieldsync_protocol::labels`), in this language.
    pub fn pick(self, label: Label) -> &'static str {
        self.t(label.zh, label.en)
    }

    pub fn role(self, role: fieldsync_protocol::Role) -> &'static str {
        self.pick(labels::role(role))
    }

    /// A role by its wire name, as stored with users.
    pub fn role_name(self, role: &str) -> String {
        role.parse()
            .map_or_else(|_| role.to_owned(), |r| self.role(r).to_owned())
    }

    /// A case state.
    pub fn case_state(self, state: &str) -> &'static str {
        labels::case_state(state).map_or(self.t("未知", "Unknown"), |l| self.pick(l))
    }

    /// A task status.
    pub fn task_status(self, status: &str) -> &'static str {
        labels::task_status(status).map_or(self.t("未知", "Unknown"), |l| self.pick(l))
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

    /// An entity by its short name: a check, a visit, a household …
    pub fn entity(self, entity: &str) -> &'static str {
        labels::entity(entity).map_or(self.t("其他", "Other"), |l| self.pick(l))
    }

    /// The difficulty a self-report or case is about.
    pub fn difficulty(self, d: &str) -> &'static str {
        labels::difficulty(d).map_or(self.t("其他", "Other"), |l| self.pick(l))
    }

    /// A help measure.
    pub fn help_measure(self, m: &str) -> &'static str {
        labels::help_measure(m).map_or(self.t("其他", "Other"), |l| self.pick(l))
    }

    /// Why a household was not admitted.
    pub fn not_admitted_reason(self, r: &str) -> &'static str {
        labels::not_admitted_reason(r).map_or(self.t("其他", "Other"), |l| self.pick(l))
    }

    /// How a self-report came in.
    pub fn channel(self, c: &str) -> &'static str {
        labels::channel(c).map_or(self.t("其他", "Other"), |l| self.pick(l))
    }

    /// What a check found wrong.
    pub fn failure(self, f: &str) -> &'static str {
        labels::failure(f).map_or(self.t("其他问题", "Other problem"), |l| self.pick(l))
    }

    /// A field's value as a person reads it: an enumeration's word, yes or no, a list joined;
    /// the text itself otherwise.
    pub fn value(self, field: &str, v: &serde_json::Value) -> String {
        use serde_json::Value;
        match v {
            Value::Null => "—".to_owned(),
            Value::Bool(true) => self.t("是", "Yes").to_owned(),
            Value::Bool(false) => self.t("否", "No").to_owned(),
            Value::String(s) => {
                labels::value(field, s).map_or_else(|| s.clone(), |l| self.pick(l).to_owned())
            }
            Value::Array(items) => items
                .iter()
                .map(|i| self.value(field, i))
                .collect::<Vec<_>>()
                .join(self.t("、", ", ")),
            other => other.to_string(),
        }
    }

    /// A field of `entity`, for reviewers; the wire name otherwise.
    pub fn field(self, entity: &str, name: &str) -> String {
        labels::field_of(entity, name).map_or_else(|| name.to_owned(), |l| self.pick(l).to_owned())
    }

    /// A household's monitoring type.
    pub fn monitoring_type(self, t: &str) -> &'static str {
        labels::value("monitoring_type", t)
            .map_or(self.t("未分类", "Not typed"), |l| self.pick(l))
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
                assert_ne!(
                    Lang::Zh.field(def.name, f.name),
                    f.name,
                    "{}.{}",
                    def.name,
                    f.name
                );
            }
        }
        assert_eq!(Lang::from_code("en"), Some(Lang::En));
        assert_eq!(Lang::from_code("fr"), None);
    }
}
