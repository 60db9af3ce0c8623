//! Staffing (驻村力量): for a township or county, the villages whose resident team falls short
//! of their class's need today or on a later day the team changes (a planned handover without
//! its successor), what is missing in words, then every village with its team. An admin also
//! designates a village's class here (A, a resettlement village; D, not an out-of-poverty
//! village of a B or C county). The rules are `service::staffing`'s.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::Role;
use maud::{Markup, html};
use serde::Deserialize;
use time::Date;

use super::error::{ConsoleError, correctable};
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::scope::Scope;
use super::session::{Posted, Viewer, see_other};
use super::{Q, here, url_encode};
use crate::clock;
use crate::service::ServiceError;
use crate::service::staffing::{self as ops, Report, VillageStaffing};
use crate::staffing::{Category, Gap, Need};
use crate::state::AppState;

const PATH: &str = "/console/staffing";

#[derive(Default, Deserialize)]
pub struct StaffingQuery {
    division: Option<String>,
    /// The day judged (`YYYY-MM-DD`), today by default.
    on: Option<String>,
    done: Option<String>,
}

/// The designation form as posted; every field optional, so a refused form comes back with
/// what was chosen.
#[derive(Default, Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    village: String,
    /// `A`, `D`, or `none` (the county's class).
    #[serde(default)]
    category: String,
    division: Option<String>,
    on: Option<String>,
}

/// A class in words.
fn category_words(l: Lang, c: Category) -> &'static str {
    match c {
        Category::A => l.t("A 类 · 移民安置村", "A · resettlement village"),
        Category::B => l.t("B 类 · 国家乡村振兴重点帮扶县", "B · national key county"),
        Category::C => l.t("C 类 · 自治区重点帮扶县等", "C · regional key county"),
        Category::D => l.t("D 类 · 其他村", "D · other village"),
    }
}

/// What a class needs, in words.
fn need_words(l: Lang, need: Need) -> &'static str {
    match (need.first_secretaries, need.members) {
        (0, 0) => l.t("按需安排", "as needed"),
        (_, 0) => l.t("第一书记 1 名", "a first secretary"),
        _ => l.t(
            "第一书记 1 名、工作队员不少于 2 名",
            "a first secretary and at least 2 team members",
        ),
    }
}

/// What a gap lacks, in words.
fn missing_words(l: Lang, gap: &Gap) -> String {
    let mut parts: Vec<String> = Vec::new();
    if gap.first_secretaries_missing() > 0 {
        parts.push(l.t("没有第一书记", "no first secretary").to_owned());
    }
    if gap.members_missing() > 0 {
        let (have, need) = (gap.staff.members, gap.need.members);
        parts.push(match l {
            Lang::Zh => format!("工作队员 {have} 名（应不少于 {need} 名）"),
            Lang::En => format!(
                "{have} team member{} of {need}",
                if have == 1 { "" } else { "s" }
            ),
        });
    }
    parts.join(l.t("；", "; "))
}

/// When a gap runs, in words.
fn period_words(l: Lang, gap: &Gap, today: Date) -> String {
    let day = |d: Date| {
        if d == today {
            format!("{} ({})", clock::iso(d), l.t("今天", "today"))
        } else {
            clock::iso(d)
        }
    };
    match gap.until {
        Some(u) if u == gap.from => day(u),
        Some(u) => format!("{} {} {}", day(gap.from), l.t("至", "to"), day(u)),
        None => format!(
            "{} {}",
            day(gap.from),
            l.t("起，尚无接任", "on, no one planned")
        ),
    }
}

fn category_cell(l: Lang, v: &VillageStaffing) -> Markup {
    html! {
        span.badge.(if v.category.need().is_none() { "" } else { "warn" }) title=(need_words(l, v.category.need())) {
            (category_words(l, v.category))
        }
        @if v.designated { " " span.muted { (l.t("（管理员指定）", "(set by an admin)")) } }
    }
}

/// The divisions the selector offers: the viewer's, and for an admin (who may read any) every
/// county too.
async fn choices(
    state: &AppState,
    v: &Viewer,
    scope: &Scope,
    current: &str,
) -> Result<Vec<(String, String)>, ConsoleError> {
    let mut out: Vec<(String, String)> = scope
        .division_choices()
        .into_iter()
        .map(|d| (d.clone(), scope.name(&d).to_owned()))
        .collect();
    if v.caller.role == Role::Admin {
        for d in state.store().divisions_under("640000").await? {
            if d.level == "county" && !out.iter().any(|(c, _)| *c == d.code) {
                out.push((d.code, d.name));
            }
        }
    }
    if !current.is_empty() && !out.iter().any(|(c, _)| c == current) {
        out.push((current.to_owned(), current.to_owned()));
    }
    Ok(out)
}

/// What the page shows besides the lists.
#[derive(Default)]
struct Outcome<'a> {
    notice: Option<&'a str>,
    error: Option<String>,
    form: CategoryForm,
}

async fn page_of(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    q: &StaffingQuery,
    outcome: Outcome<'_>,
) -> Result<Response, ConsoleError> {
    ops::may_see(&v.caller)?;
    let l = v.lang;
    let title = l.t("驻村力量", "Village teams");
    let today = clock::today();
    let on = match q.on.as_deref().filter(|d| !d.is_empty()) {
        None => today,
        Some(text) => clock::parse_date(text)
            .ok_or_else(|| ConsoleError::bad(format!("{text:?} is not a day (YYYY-MM-DD)")))?,
    };
    let scope = Scope::of(state, v).await?;
    let division = scope.division(q.division.as_deref()).unwrap_or_default();
    let report = if division.is_empty() {
        None
    } else {
        Some(ops::report(state, &v.caller, &division, on).await?)
    };
    let options = choices(state, v, &scope, &division).await?;
    let body = html! {
        (layout::flash(outcome.notice))
        @if let Some(e) = &outcome.error { p.flash.bad role="alert" data-testid="error" { (e) } }
        form.filters method="get" action=(PATH) {
            label { (l.t("区划", "Division"))
                select name="division" data-auto {
                    @if division.is_empty() { option value="" { (l.t("请选择", "Choose")) } }
                    @for (code, name) in &options {
                        option value=(code) selected[*code == division] { (name) " (" (code) ")" }
                    }
                }
            }
            label { (l.t("日期", "Day")) input type="date" name="on" value=(clock::iso(on)); }
            button type="submit" { (l.t("查看", "Show")) }
        }
        p.muted {
            (l.t("A 类、B 类村：第一书记 1 名、工作队员不少于 2 名；C 类村：第一书记 1 名；D 类村按需安排。列出所选日期及以后每个人员变动日（任期结束、交接）缺配的村。",
                 "Classes A and B: a first secretary and at least 2 team members; C: a first secretary; D: as needed. Listed: the villages short on the day chosen, or on any later day their team changes (a term's end, a handover)."))
        }
        @match &report {
            None => p.muted { (l.t("请选择乡镇或县区", "Choose a township or county")) },
            Some(r) => (lists(l, r, today)),
        }
        @if v.caller.role == Role::Admin {
            @if let Some(r) = &report { (designation_form(v, r, &outcome.form)) }
        }
    };
    let status = if outcome.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        layout::page(v, Nav::Staffing, title, &here(uri), body),
    )
        .into_response())
}

/// The shortfall list, then every village.
fn lists(l: Lang, r: &Report, today: Date) -> Markup {
    let short = r.shortfalls();
    let short_now = r
        .villages
        .iter()
        .filter(|v| v.gaps.first().is_some_and(|g| g.from == r.on))
        .count();
    let short_later = r
        .villages
        .iter()
        .filter(|v| v.gaps.first().is_some_and(|g| g.from > r.on))
        .count();
    html! {
        div.cards {
            div.card { div.muted { (l.t("村（社区）", "Villages")) } div.figure data-testid="villages-count" { (r.villages.len()) } }
            div.card { div.muted { (l.t("当日缺配", "Short on the day")) } div.figure data-testid="short-now" { (short_now) } }
            div.card { div.muted { (l.t("计划变动后缺配", "Short after a planned change")) } div.figure data-testid="short-later" { (short_later) } }
        }
        h2 { (l.t("缺配的村", "Villages short of their team")) " · " (r.division.name) }
        div.scroll {
            table data-testid="short" {
                thead { tr {
                    th { (l.t("村", "Village")) } th { (l.t("类别", "Class")) } th { (l.t("应配", "Needs")) }
                    th { (l.t("缺配时间", "When")) } th { (l.t("缺", "Missing")) } th { (l.t("离任", "Leaving")) }
                } }
                tbody {
                    @for (v, gap) in &short {
                        tr data-village=(v.code) data-from=(clock::iso(gap.from)) {
                            td { (v.name) " " span.muted { (v.code) } }
                            td { (category_cell(l, v)) }
                            td { (need_words(l, gap.need)) }
                            td { (period_words(l, gap, today)) }
                            td { span.badge.bad { (missing_words(l, gap)) } }
                            td { (gap.leaving.join("、")) }
                        }
                    }
                    @if short.is_empty() { tr { td colspan="6" .muted { (l.t("没有缺配的村", "No village is short")) } } }
                }
            }
        }
        details.all {
            summary { (l.t("全部村的驻村力量", "Every village's team")) " (" (r.villages.len()) ")" }
            div.scroll {
                table data-testid="villages" {
                    thead { tr {
                        th { (l.t("村", "Village")) } th { (l.t("类别", "Class")) } th { (l.t("应配", "Needs")) }
                        th.num { (l.t("第一书记", "First secretaries")) } th.num { (l.t("工作队员", "Team members")) }
                        th { (l.t("状态", "State")) }
                    } }
                    tbody {
                        @for v in &r.villages {
                            tr data-village=(v.code) {
                                td { (v.name) " " span.muted { (v.code) } }
                                td { (category_cell(l, v)) }
                                td { (need_words(l, v.category.need())) }
                                td.num { (v.staff.first_secretaries) }
                                td.num { (v.staff.members) }
                                td {
                                    @match v.gaps.first() {
                                        Some(g) if g.from == r.on => span.badge.bad { (l.t("缺配", "Short")) },
                                        Some(_) => span.badge.warn { (l.t("将缺配", "Short later")) },
                                        None => span.badge.ok { (l.t("配齐", "Complete")) },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The admin's designation of a village's class.
fn designation_form(v: &Viewer, r: &Report, form: &CategoryForm) -> Markup {
    let l = v.lang;
    let chosen = form.category.as_str();
    html! {
        details.designate open[!form.village.is_empty()] {
            summary { (l.t("指定村的类别（管理员）", "Designate a village's class (admin)")) }
            form.filters method="post" action=(format!("{PATH}/category")) data-testid="designate" {
                (layout::csrf(v))
                input type="hidden" name="division" value=(r.division.code);
                input type="hidden" name="on" value=(clock::iso(r.on));
                label { (l.t("村", "Village"))
                    select name="village" required {
                        @for x in &r.villages {
                            option value=(x.code) selected[x.code == form.village] {
                                (x.name) " (" (x.code) ") · " (x.category.as_str())
                            }
                        }
                    }
                }
                label { (l.t("类别", "Class"))
                    select name="category" required {
                        option value="A" selected[chosen == "A"] { (category_words(l, Category::A)) }
                        option value="D" selected[chosen == "D"] { (l.t("D 类 · 非脱贫村（B、C 类县内）", "D · not an out-of-poverty village (in a B or C county)")) }
                        option value="none" selected[chosen == "none"] { (l.t("按所在县（取消指定）", "The county's class (remove the designation)")) }
                    }
                }
                button type="submit" { (l.t("保存", "Save")) }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<StaffingQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let notice = match q.done.as_deref() {
        Some("category") => Some(l.t("村的类别已保存", "The village's class is saved")),
        _ => None,
    };
    let outcome = Outcome {
        notice,
        ..Outcome::default()
    };
    page_of(&state, &v, &uri, &q, outcome).await
}

pub async fn designate(
    State(state): State<AppState>,
    uri: Uri,
    posted: Posted<CategoryForm>,
) -> Result<Response, ConsoleError> {
    let (v, form) = (&posted.viewer, posted.form);
    let category = match form.category.trim() {
        "none" | "" => Ok(None),
        text => Category::parse(text).map(Some).ok_or_else(|| {
            ServiceError::invalid(
                fieldsync_protocol::ErrorCode::InvalidValue,
                format!("{text:?} is not a class: A, D or none"),
            )
            .at("category")
        }),
    };
    let done = match category {
        Ok(c) => ops::designate(&state, &v.caller, form.village.trim(), c).await,
        Err(e) => Err(e),
    };
    let back = StaffingQuery {
        division: form.division.clone().filter(|d| !d.is_empty()),
        on: form.on.clone().filter(|d| !d.is_empty()),
        done: None,
    };
    match done {
        Ok(_) => Ok(see_other(&format!(
            "{PATH}?division={}&on={}&done=category",
            url_encode(back.division.as_deref().unwrap_or("")),
            url_encode(back.on.as_deref().unwrap_or(""))
        ))),
        // Only an admin has the form: anyone else's post is refused outright.
        Err(e @ ServiceError::Forbidden(_)) => Err(e.into()),
        Err(e) => {
            let l = v.lang;
            let why = correctable(l, e, |f| match f {
                "village" => Some(l.t("村", "Village")),
                "category" => Some(l.t("类别", "Class")),
                _ => None,
            })?;
            let outcome = Outcome {
                error: Some(why),
                form,
                ..Outcome::default()
            };
            page_of(&state, v, &uri, &back, outcome).await
        }
    }
}
