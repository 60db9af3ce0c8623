//! Follow-up work: tasks by village and assignee (overdue first) with reassignment, cases by
//! state with the procedure's next steps as buttons, and self-reports waiting for the home
//! visit. Lists, reassignments and steps are the operations' (`crate::service::work`), as the
//! API's are; a reassignment or a step is a mutation pushed from the sign-in's device, judged
//! by the same rules as a phone's.

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::registry::work::{CASE_TYPES, HELP_MEASURES, NOT_ADMITTED_REASONS};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ConsoleError;
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::scope::{self, People, Scope};
use super::session::{Posted, Viewer, see_other};
use super::{P, Q, here, url_encode};
use crate::cases::machine::{self, CaseState};
use crate::service::work::{self as ops, CaseFilter, Item, TaskFilter, text};
use crate::state::AppState;
use crate::store::Person;

/// Tasks on one page: enough to work through, small enough to render at once.
const PAGE: usize = 50;

/// The name of the person a record names by id (an assignee), or "unassigned".
fn person_name(l: Lang, people: &People, id: Option<&str>) -> String {
    match id.and_then(|i| i.parse::<Uuid>().ok()) {
        Some(id) => scope::name_of(l, people, id),
        None => l.t("未分配", "unassigned").to_owned(),
    }
}

#[derive(Deserialize)]
pub struct TasksQuery {
    village: Option<String>,
    assignee: Option<String>,
    status: Option<String>,
    escalated: Option<String>,
    page: Option<usize>,
    done: Option<String>,
}

pub async fn tasks(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<TasksQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let village = q.village.clone().filter(|s| !s.is_empty());
    let assignee = match q.assignee.as_deref().filter(|s| !s.is_empty()) {
        Some(a) => Some(
            a.parse::<Uuid>()
                .map_err(|_| ConsoleError::bad("assignee is not an id"))?,
        ),
        None => None,
    };
    let status = q
        .status
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "open".into());
    let escalated = q.escalated.as_deref() == Some("1");
    let list = ops::list_tasks(
        &state,
        &v.caller,
        TaskFilter {
            village: village.clone(),
            assignee,
            status: Some(status.clone()),
            escalated_to_me: escalated,
        },
    )
    .await?;
    let scope = Scope::of(&state, &v).await?;
    let people = scope::people(&state, &scope).await?;
    let pages = list.tasks.len().div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown = || list.tasks.iter().skip((page - 1) * PAGE).take(PAGE);
    let heads = heads(&state, &v, shown()).await?;
    let link = |p: usize| {
        format!(
            "/console/tasks?village={}&assignee={}&status={}&escalated={}&page={p}",
            url_encode(village.as_deref().unwrap_or("")),
            assignee.map(|a| a.to_string()).unwrap_or_default(),
            url_encode(&status),
            if escalated { "1" } else { "" },
        )
    };
    let back = here(&uri);
    let can_reassign = matches!(
        v.caller.role,
        fieldsync_protocol::Role::FirstSecretary
            | fieldsync_protocol::Role::TownshipSupervisor
            | fieldsync_protocol::Role::CountyOfficer
    );
    // Only those a task can be given to can be a task's assignee.
    let mut assignees: Vec<(&Uuid, &(Person, Vec<String>))> = people
        .iter()
        .filter(|(_, (p, _))| crate::cases::rules::takes_tasks(&p.role))
        .collect();
    assignees.sort_by(|a, b| a.1.0.name().cmp(b.1.0.name()));
    let body = html! {
        @if q.done.is_some() { (layout::flash(Some(l.t("任务已改派", "The task was reassigned")))) }
        form.filters method="get" action="/console/tasks" {
            label { (l.t("村", "Village"))
                select name="village" data-auto {
                    option value="" { (l.t("全部", "All")) }
                    (scope.village_options(village.as_deref()))
                }
            }
            label { (l.t("负责人", "Assignee"))
                select name="assignee" data-auto {
                    option value="" { (l.t("全部", "All")) }
                    @for (id, (p, _)) in &assignees {
                        option value=(id) selected[assignee == Some(**id)] { (p.name()) }
                    }
                }
            }
            label { (l.t("状态", "Status"))
                select name="status" data-auto {
                    option value="open" selected[status == "open"] { (l.t("未办结", "Open")) }
                    option value="closed" selected[status == "closed"] { (l.t("已办结/取消", "Closed")) }
                    option value="all" selected[status == "all"] { (l.t("全部", "All")) }
                }
            }
            label { (l.t("上报给我", "Escalated to me"))
                select name="escalated" data-auto {
                    option value="" { (l.t("不限", "Any")) }
                    option value="1" selected[escalated] { (l.t("是", "Yes")) }
                }
            }
            button type="submit" { (l.t("查看", "Show")) }
        }
        div.cards {
            div.card { div.muted { (l.t("未办结", "Open")) } div.figure data-testid="open-tasks" { (list.open) } }
            div.card { div.muted { (l.t("已逾期", "Overdue")) } div.figure data-testid="overdue-tasks" { (list.overdue) } }
            div.card { div.muted { (l.t("本页", "This list")) } div.figure { (list.tasks.len()) } }
        }
        div.scroll {
            table data-testid="tasks" {
                thead { tr {
                    th { (l.t("期限", "Due")) } th.num { (l.t("逾期天数", "Days late")) } th { (l.t("村", "Village")) }
                    th { (l.t("农户（户主）", "Household (head)")) } th { (l.t("任务", "Task")) } th { (l.t("负责人", "Assignee")) } th { (l.t("状态", "Status")) }
                    @if can_reassign { th { (l.t("改派", "Reassign")) } }
                } }
                tbody {
                    @for t in shown() {
                        (task_row(&v, t, &scope, &people, &heads, can_reassign, &back))
                    }
                    @if list.tasks.is_empty() { tr { td colspan="8" .muted { (l.t("没有任务", "No tasks")) } } }
                }
            }
        }
        (layout::pager(l, page, pages, link))
    };
    Ok(layout::page(&v, Nav::Tasks, l.t("帮扶任务", "Tasks"), &back, body).into_response())
}

/// The heads' names of the households `items` are about, as the viewer may see them.
async fn heads<'a>(
    state: &AppState,
    v: &Viewer,
    items: impl Iterator<Item = &'a Item>,
) -> Result<Heads, ConsoleError> {
    let ids: BTreeSet<Uuid> = items
        .filter_map(|i| text(&i.fields, "household_id")?.parse().ok())
        .collect();
    let ids: Vec<Uuid> = ids.into_iter().collect();
    Ok(ops::heads_of(state, &v.caller, &ids).await?)
}

type Heads = HashMap<Uuid, String>;

/// Which household a record is about: its head's name, or a dash.
fn household_cell(heads: &Heads, item: &Item) -> Markup {
    let head = text(&item.fields, "household_id")
        .and_then(|h| h.parse::<Uuid>().ok())
        .and_then(|h| heads.get(&h));
    html! { td.household { (head.map_or("—", String::as_str)) } }
}

fn task_row(
    v: &Viewer,
    t: &Item,
    scope: &Scope,
    people: &People,
    heads: &Heads,
    can_reassign: bool,
    back: &str,
) -> Markup {
    let l = v.lang;
    let f = &t.fields;
    let status = text(f, "status").unwrap_or("open");
    let open = matches!(status, "open" | "in_progress");
    let assignee = text(f, "assignee_id");
    // Who may be given it: people assigned to the village or above it whose role takes tasks
    // (the rule the push applies).
    let mut candidates: Vec<(&Uuid, &Person)> = people
        .iter()
        .filter(|(_, (p, divisions))| {
            crate::cases::rules::takes_tasks(&p.role)
                && divisions
                    .iter()
                    .any(|d| t.village_code.starts_with(d.as_str()))
        })
        .map(|(id, (p, _))| (id, p))
        .collect();
    candidates.sort_by(|a, b| a.1.name().cmp(b.1.name()));
    html! {
        tr class=[t.days_overdue.map(|_| "late")] data-id=(t.id) {
            td { (text(f, "due_on").unwrap_or("")) }
            td.num { @if let Some(d) = t.days_overdue { span.badge.bad { (d) } } }
            td { (scope.name(&t.village_code)) }
            (household_cell(heads, t))
            td {
                (text(f, "title").unwrap_or(""))
                @if let Some(c) = text(f, "case_id") { " " a href=(format!("/console/cases/{c}")) { (l.t("案例", "case")) } }
                @if text(f, "escalated_at").is_some() { " " span.badge.warn { (l.t("已上报", "escalated")) } }
            }
            td { (person_name(l, people, assignee)) }
            td { (l.task_status(status)) }
            @if can_reassign {
                td {
                    @if open {
                        form.inline method="post" action=(format!("/console/tasks/{}/reassign", t.id)) {
                            (layout::csrf(v))
                            input type="hidden" name="version" value=(t.version);
                            input type="hidden" name="back" value=(back);
                            select name="assignee_id" required {
                                @for (id, p) in &candidates {
                                    option value=(id) selected[assignee == Some(id.to_string().as_str())] { (p.name()) " · " (l.role_name(&p.role)) }
                                }
                            }
                            button.secondary type="submit" { (l.t("改派", "Reassign")) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ReassignForm {
    assignee_id: Uuid,
    version: u64,
    back: Option<String>,
}

pub async fn reassign(
    State(state): State<AppState>,
    P(id): P<Uuid>,
    posted: Posted<ReassignForm>,
) -> Result<Response, ConsoleError> {
    let f = &posted.form;
    ops::reassign_task(&state, &posted.viewer.caller, id, f.version, f.assignee_id).await?;
    let back = f
        .back
        .as_deref()
        .filter(|b| b.starts_with("/console/tasks"))
        .unwrap_or("/console/tasks");
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(see_other(&format!("{back}{sep}done=reassigned")))
}

#[derive(Deserialize)]
pub struct CasesQuery {
    village: Option<String>,
    state: Option<String>,
}

pub async fn cases(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<CasesQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let village = q.village.clone().filter(|s| !s.is_empty());
    let wanted = q.state.clone().filter(|s| !s.is_empty());
    let list = ops::list_cases(
        &state,
        &v.caller,
        CaseFilter {
            village: village.clone(),
            state: wanted.clone(),
        },
    )
    .await?;
    let scope = Scope::of(&state, &v).await?;
    let heads = heads(&state, &v, list.cases.iter()).await?;
    let link = |s: &str| {
        format!(
            "/console/cases?village={}&state={s}",
            url_encode(village.as_deref().unwrap_or(""))
        )
    };
    let body = html! {
        form.filters method="get" action="/console/cases" {
            label { (l.t("村", "Village"))
                select name="village" data-auto {
                    option value="" { (l.t("全部", "All")) }
                    (scope.village_options(village.as_deref()))
                }
            }
            input type="hidden" name="state" value=(wanted.as_deref().unwrap_or(""));
            button type="submit" { (l.t("查看", "Show")) }
        }
        p.states data-testid="by-state" {
            a href=(link("")) class=[wanted.is_none().then_some("badge ok")] { (l.t("全部", "All")) }
            @for (s, n) in &list.by_state {
                " " a.badge href=(link(s)) class=[(wanted.as_deref() == Some(s.as_str())).then_some("ok")] { (l.case_state(s)) " " (n) }
            }
        }
        div.scroll {
            table data-testid="cases" {
                thead { tr {
                    th { (l.t("开始", "Opened")) } th { (l.t("村", "Village")) } th { (l.t("农户（户主）", "Household (head)")) } th { (l.t("困难", "Difficulty")) }
                    th { (l.t("类型", "Type")) } th { (l.t("状态", "State")) } th.num { (l.t("申报次数", "Reports")) }
                } }
                tbody {
                    @for c in &list.cases {
                        tr {
                            td { a href=(format!("/console/cases/{}", c.id)) { (text(&c.fields, "opened_at").and_then(|t| t.get(..10)).unwrap_or("—")) } }
                            td { (scope.name(&c.village_code)) }
                            (household_cell(&heads, c))
                            td { (l.difficulty(text(&c.fields, "category").unwrap_or(""))) }
                            td { @if let Some(t) = text(&c.fields, "case_type") { (l.monitoring_type(t)) } }
                            td { (l.case_state(text(&c.fields, "state").unwrap_or("reported"))) }
                            td.num { (c.fields.get("reports").and_then(Value::as_i64).unwrap_or(0)) }
                        }
                    }
                    @if list.cases.is_empty() { tr { td colspan="7" .muted { (l.t("没有监测对象", "No cases")) } } }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Cases,
        l.t("监测对象", "Monitoring cases"),
        &here(&uri),
        body,
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct CasePageQuery {
    done: Option<String>,
}

pub async fn case(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    P(id): P<Uuid>,
    Q(q): Q<CasePageQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let view = ops::case_of(&state, &v.caller, id).await?;
    let scope = Scope::of(&state, &v).await?;
    let people = scope::people(&state, &scope).await?;
    let f = &view.case.fields;
    let current = text(f, "state").unwrap_or("reported");
    let next = CaseState::parse(current)
        .map(|s| machine::next_steps(s, v.caller.role))
        .unwrap_or_default();
    let title = format!(
        "{} · {}",
        l.difficulty(text(f, "category").unwrap_or("")),
        scope.name(&view.case.village_code)
    );
    let body = html! {
        @if q.done.is_some() { (layout::flash(Some(l.t("已提交，结果见下方记录", "Submitted; the outcome is in the steps below")))) }
        div.cards {
            div.card { div.muted { (l.t("当前状态", "State")) } div.figure data-testid="case-state" { (l.case_state(current)) } }
            div.card {
                div.muted { (l.t("类型", "Type")) }
                div { @if let Some(t) = text(f, "case_type") { (l.monitoring_type(t)) } @else { "—" } }
                @if let Some(u) = text(f, "publicity_until") { div.muted { (l.t("公示至 ", "Publicity until ")) (u) } }
            }
            div.card { div.muted { (l.t("情况说明", "Description")) } div { (text(f, "description").unwrap_or("—")) } }
        }
        @if !next.is_empty() {
            h2 { (l.t("下一步", "Next step")) }
            div.card data-testid="next-steps" {
                @for to in &next { (step_form(&v, id, current, *to)) }
            }
        }
        h2 { (l.t("办理记录", "Steps")) }
        (steps_table(l, &view.steps))
        h2 { (l.t("相关任务", "Tasks")) }
        ul {
            @for t in &view.tasks {
                li { (text(&t.fields, "title").unwrap_or("")) " · " (l.task_status(text(&t.fields, "status").unwrap_or("open")))
                     " · " (person_name(l, &people, text(&t.fields, "assignee_id"))) " · " (text(&t.fields, "due_on").unwrap_or("")) }
            }
        }
        h2 { (l.t("农户申报", "Self-reports")) }
        ul {
            @for r in &view.reports {
                li { (layout::when(r.received_at_ms)) " · " (l.difficulty(text(&r.fields, "category").unwrap_or(""))) " · " (text(&r.fields, "description").unwrap_or("")) }
            }
        }
    };
    Ok(layout::page(&v, Nav::Cases, &title, &here(&uri), body).into_response())
}

/// The steps of a case with their outcomes, oldest first.
pub(super) fn steps_table(l: Lang, steps: &[Item]) -> Markup {
    html! {
        table data-testid="steps" {
            thead { tr { th { (l.t("时间", "When")) } th { (l.t("步骤", "Step")) } th { (l.t("结果", "Outcome")) } th { (l.t("说明", "Note")) } } }
            tbody {
                @for s in steps {
                    tr {
                        td { (text(&s.fields, "taken_at").unwrap_or("")) }
                        td { (l.case_state(text(&s.fields, "from").unwrap_or(""))) " → " (l.case_state(text(&s.fields, "to").unwrap_or(""))) }
                        td { (outcome(l, text(&s.fields, "outcome"))) @if let Some(r) = text(&s.fields, "refusal") { " " span.muted { (r) } } }
                        td { (text(&s.fields, "note").unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn outcome(l: Lang, o: Option<&str>) -> Markup {
    match o {
        Some("applied") => html! { span.badge.ok { (l.t("已生效", "applied")) } },
        Some("already") => html! { span.badge { (l.t("已有人办理", "already taken")) } },
        Some("refused") => html! { span.badge.bad { (l.t("未通过", "refused")) } },
        _ => html! { span.badge { "—" } },
    }
}

/// The form of one step, with the evidence that step needs.
fn step_form(v: &Viewer, case: Uuid, from: &str, to: CaseState) -> Markup {
    let l = v.lang;
    let label = l.case_state(to.as_str());
    html! {
        form.inline method="post" action=(format!("/console/cases/{case}/step")) data-testid=(format!("step-{}", to.as_str())) {
            (layout::csrf(v))
            input type="hidden" name="from" value=(from);
            input type="hidden" name="to" value=(to.as_str());
            @match to {
                CaseState::Verified => { input name="visit_id" required placeholder=(l.t("入户走访记录编号", "Id of the home visit")); }
                CaseState::Publicized => { label { (l.t("公示天数", "Days of publicity")) input type="number" name="publicity_days" min="5" max="60" value="5" required; } }
                CaseState::Approved => {
                    select name="case_type" required {
                        @for t in CASE_TYPES { option value=(t) { (l.monitoring_type(t)) } }
                    }
                }
                CaseState::NotAdmitted => {
                    select name="reason" required {
                        @for r in NOT_ADMITTED_REASONS { option value=(r) { (l.not_admitted_reason(r)) } }
                    }
                }
                CaseState::Helping => {
                    @for m in HELP_MEASURES { label.check { input type="checkbox" name="measures" value=(m); (l.help_measure(m)) } }
                }
                _ => {}
            }
            input name="note" maxlength="2000" size="24" required[to == CaseState::Reviewed]
                placeholder=(if to == CaseState::Reviewed { l.t("评议记录（必填）", "Who met and what they decided") } else { l.t("说明（可选）", "Note (optional)") });
            button type="submit" { "→ " (label) }
        }
    }
}

/// A step, as a `case_step` pushed from the sign-in's device: the server's state machine
/// judges it exactly as it judges a phone's.
pub async fn step(
    State(state): State<AppState>,
    P(id): P<Uuid>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let v = &posted.viewer;
    let mut fields = Map::new();
    let mut measures = Vec::new();
    for (k, value) in &posted.form {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match k.as_str() {
            "from" | "to" | "note" | "case_type" | "reason" | "visit_id" => {
                fields.insert(k.clone(), Value::String(value.to_owned()));
            }
            "publicity_days" => {
                let days: u32 = value
                    .parse()
                    .map_err(|_| ConsoleError::bad("publicity_days is a number of days"))?;
                fields.insert(k.clone(), json!(days));
            }
            "measures" => measures.push(Value::String(value.to_owned())),
            _ => {}
        }
    }
    if !measures.is_empty() {
        fields.insert("measures".into(), Value::Array(measures));
    }
    ops::take_step(&state, &v.caller, id, fields).await?;
    Ok(see_other(&format!("/console/cases/{id}?done=1")))
}

#[derive(Deserialize)]
pub struct ReportsQuery {
    village: Option<String>,
}

pub async fn reports(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<ReportsQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let village = q.village.clone().filter(|s| !s.is_empty());
    let list = ops::list_awaiting(&state, &v.caller, village.as_deref()).await?;
    let scope = Scope::of(&state, &v).await?;
    let heads = heads(&state, &v, list.reports.iter()).await?;
    let body = html! {
        form.filters method="get" action="/console/reports" {
            label { (l.t("村", "Village"))
                select name="village" data-auto {
                    option value="" { (l.t("全部", "All")) }
                    (scope.village_options(village.as_deref()))
                }
            }
            button type="submit" { (l.t("查看", "Show")) }
        }
        p.muted { (l.t("这些农户申报还在等待入户核实。", "These self-reports are waiting for the home verification visit.")) }
        div.scroll {
            table data-testid="reports" {
                thead { tr {
                    th { (l.t("收到", "Received")) } th { (l.t("村", "Village")) } th { (l.t("农户（户主）", "Household (head)")) } th { (l.t("困难", "Difficulty")) }
                    th { (l.t("申报人", "Reporter")) } th { (l.t("情况", "Description")) } th { (l.t("渠道", "Channel")) } th {}
                } }
                tbody {
                    @for r in &list.reports {
                        tr {
                            td { (layout::when(r.received_at_ms)) }
                            td { (scope.name(&r.village_code)) }
                            (household_cell(&heads, r))
                            td { (l.difficulty(text(&r.fields, "category").unwrap_or(""))) }
                            td { (text(&r.fields, "reporter_name").unwrap_or("—")) }
                            td { (text(&r.fields, "description").unwrap_or("—")) }
                            td { (l.channel(text(&r.fields, "channel").unwrap_or(""))) }
                            td { @if let Some(c) = text(&r.fields, "case_id") { a href=(format!("/console/cases/{c}")) { (l.t("查看", "Open")) } } }
                        }
                    }
                    @if list.reports.is_empty() { tr { td colspan="8" .muted { (l.t("没有等待核实的申报", "Nothing waiting")) } } }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Reports,
        l.t("农户申报", "Self-reports"),
        &here(&uri),
        body,
    )
    .into_response())
}
