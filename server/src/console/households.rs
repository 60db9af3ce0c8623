//! The household file (农户档案): find a household by a name, a phone, an ID-card number or its
//! household number, and read everything about it on one page (`service::household_file`).
//!
//! A search is a form POST, so that what was typed (an ID-card number, a name) never lands in
//! an address, the browser's history or a proxy's log.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::registry::{self, EntityDef, FieldType};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{ConsoleError, correctable};
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::scope::Scope;
use super::session::{Posted, Viewer};
use super::work::steps_table;
use super::{P, here};
use crate::service::household_file::{self as ops, FOUND_AT_MOST, Found, HouseholdFile};
use crate::service::households::{CheckRecord, PhotoView};
use crate::service::work::{Item, text};
use crate::state::AppState;

const PATH: &str = "/console/households";

#[derive(Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    village: String,
}

fn title(l: Lang) -> &'static str {
    l.t("农户档案", "Household file")
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    ops::readers_only(&v.caller)?;
    search_page(&state, &v, &uri, &SearchForm::default(), None, None).await
}

pub async fn search(
    State(state): State<AppState>,
    uri: Uri,
    posted: Posted<SearchForm>,
) -> Result<Response, ConsoleError> {
    let (v, form) = (&posted.viewer, &posted.form);
    let village = Some(form.village.trim()).filter(|s| !s.is_empty());
    match ops::search(&state, &v.caller, &form.q, village).await {
        Ok(found) => search_page(&state, v, &uri, form, Some(found), None).await,
        Err(e) => {
            let why = correctable(v.lang, e, |f| match f {
                "q" => Some(v.lang.t("查找", "Search")),
                "village" => Some(v.lang.t("村", "Village")),
                _ => None,
            })?;
            search_page(&state, v, &uri, form, None, Some(&why)).await
        }
    }
}

async fn search_page(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    form: &SearchForm,
    found: Option<Found>,
    error: Option<&str>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let scope = Scope::of(state, v).await?;
    let selected = Some(form.village.as_str()).filter(|s| !s.is_empty());
    let body = html! {
        form.filters method="post" action=(PATH) data-testid="search" {
            (layout::csrf(v))
            label { (l.t("查找", "Search"))
                input name="q" value=(form.q) maxlength="50" size="28" required autofocus autocomplete="off"
                    placeholder=(l.t("户主或成员姓名、电话、身份证号、户编号", "Name of head or member, phone, ID-card number, household number"));
            }
            label { (l.t("村", "Village"))
                select name="village" {
                    option value="" { (l.t("全部", "All")) }
                    (scope.village_options(selected))
                }
            }
            button type="submit" { (l.t("查找", "Search")) }
        }
        p.muted { (l.t(
            "姓名可只输入开头几个字；电话、身份证号和户编号须完整。",
            "A name may be its first characters; phones, ID-card and household numbers in full."
        )) }
        @if let Some(e) = error { p.flash.bad role="alert" data-testid="error" { (e) } }
        @if let Some(found) = &found {
            @if found.hits.is_empty() {
                p.muted data-testid="nothing" { (l.t("没有找到符合条件的农户", "No household matches")) }
            } @else {
                table data-testid="households" {
                    thead { tr {
                        th { (l.t("户主", "Head")) } th { (l.t("村", "Village")) } th { (l.t("村民小组", "Group")) }
                        th { (l.t("户编号", "Household no.")) } th { (l.t("监测类型", "Monitoring")) }
                        th { (l.t("联系电话", "Phone")) } th { (l.t("匹配的成员", "Member found")) }
                    } }
                    tbody {
                        @for hit in &found.hits {
                            @let f = &hit.household.fields;
                            tr data-id=(hit.household.id) {
                                td.household { a href=(format!("{PATH}/{}", hit.household.id)) { (text(f, "head_name").unwrap_or("—")) } }
                                td { (scope.name(&hit.household.village_code)) }
                                td { (text(f, "grid").unwrap_or("")) }
                                td { (text(f, "household_no").unwrap_or("")) }
                                td { (l.monitoring_type(text(f, "monitoring_type").unwrap_or(""))) }
                                td { (text(f, "phone").unwrap_or("")) }
                                td { (hit.member.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if found.more {
                    p.muted data-testid="more" { (l.t("只显示前 ", "Only the first ")) (FOUND_AT_MOST)
                        (l.t(" 户；请多输入几个字或选择村。", " households are shown; type more or choose a village.")) }
                }
            }
        }
    };
    Ok(layout::form_page(
        v,
        Nav::Households,
        title(l),
        &here(uri),
        body,
        error.is_some(),
    ))
}

pub async fn file(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    P(id): P<Uuid>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let file = ops::file(&state, &v.caller, id).await?;
    let scope = Scope::of(&state, &v).await?;
    let h = &file.household.fields;
    let head = text(h, "head_name").unwrap_or("—");
    let page_title = format!("{head} · {}", scope.name(&file.household.village_code));
    let body = html! {
        p { a href=(PATH) { "← " (l.t("查找其他农户", "Find another household")) } }
        (fields_card(l, &scope, &registry::HOUSEHOLD, h, "household"))
        h2 { (l.t("家庭成员", "Members")) }
        (members_table(l, &file.members))
        h2 { (l.t("“四查”现状", "The four checks now")) }
        (status_table(l, &file))
        h2 { (l.t("核查记录", "Checks and surveys")) }
        (checks_list(l, &scope, &file.checks.history))
        h2 { (l.t("走访记录", "Visits")) }
        (visits_list(l, &scope, &file.visits))
        h2 { (l.t("监测对象", "Cases")) }
        @if file.cases.is_empty() { p.muted { (l.t("没有监测案例", "No cases")) } }
        @for c in &file.cases {
            @let f = &c.case.fields;
            div.card data-testid="case" {
                div {
                    a href=(format!("/console/cases/{}", c.case.id)) { strong { (l.difficulty(text(f, "category").unwrap_or(""))) } }
                    " · " span.badge { (l.case_state(text(f, "state").unwrap_or("reported"))) }
                    @if let Some(t) = text(f, "case_type") { " · " (l.monitoring_type(t)) }
                    @if let Some(at) = f.get("opened_at") { " · " span.muted { (shown(l, &scope, &registry::CASE, "opened_at", at)) } }
                }
                @if !c.steps.is_empty() { (steps_table(l, &c.steps)) }
            }
        }
        h2 { (l.t("帮扶任务", "Tasks")) }
        (tasks_list(l, &file.tasks))
        h2 { (l.t("农户申报", "Self-reports")) }
        (reports_list(l, &file.reports))
        h2 { (l.t("数据冲突", "Conflicts")) }
        (conflicts_list(l, &file))
        h2 { (l.t("修改记录", "History of edits")) }
        (edits_table(l, &file))
    };
    Ok(layout::page(&v, Nav::Households, &page_title, &here(&uri), body).into_response())
}

/// A record's fields as label and value, in the register's order; fields the viewer's role may
/// not see are left out, as the service left them out.
/// A field's value as a person reads it: a village by its name, a time in Beijing time, an
/// enumeration in words.
fn shown(l: Lang, scope: &Scope, def: &EntityDef, name: &str, value: &Value) -> String {
    let ty = def.field(name).map(|f| f.ty);
    match (ty, value) {
        (Some(FieldType::VillageCode), Value::String(code)) => scope.name(code).to_owned(),
        (Some(FieldType::DateTime), Value::String(at)) => {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map_or_else(
                    |_| at.clone(),
                    |t| {
                        layout::when(
                            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
                        )
                    },
                )
        }
        _ => l.value(name, value),
    }
}

fn fields_card(
    l: Lang,
    scope: &Scope,
    def: &'static EntityDef,
    f: &Map<String, Value>,
    testid: &str,
) -> Markup {
    html! {
        dl.fields data-testid=(testid) {
            @for field in def.fields.iter().filter(|d| !d.name.ends_with("_id")) {
                @if let Some(value) = f.get(field.name) {
                    dt { (l.field(def.name, field.name)) }
                    dd data-field=(field.name) { (shown(l, scope, def, field.name, value)) }
                }
            }
        }
    }
}

fn members_table(l: Lang, members: &[Item]) -> Markup {
    const COLUMNS: &[&str] = &[
        "name",
        "relation",
        "gender",
        "birth_date",
        "id_card",
        "phone",
        "school_status",
        "insurance_status",
        "family_doctor_signed",
        "illness",
        "disability",
        "labour_capacity",
        "migrant_worker",
    ];
    if members.is_empty() {
        return html! { p.muted { (l.t("没有登记成员", "No members registered")) } };
    }
    html! {
        table data-testid="members" {
            thead { tr { @for c in COLUMNS { th { (l.field("member", c)) } } } }
            tbody {
                @for m in members {
                    tr data-id=(m.id) {
                        @for c in COLUMNS {
                            td data-field=(c) { @if let Some(v) = m.fields.get(*c) { (l.value(c, v)) } }
                        }
                    }
                }
            }
        }
    }
}

fn status_table(l: Lang, file: &HouseholdFile) -> Markup {
    html! {
        table data-testid="check-status" {
            thead { tr { th { (l.t("核查", "Check")) } th { (l.t("现状", "Now")) } th { (l.t("问题", "Problems")) } th { (l.t("核查时间", "Checked")) } } }
            tbody {
                @for (check, s) in &file.checks.status {
                    tr data-check=(check) {
                        td { (l.entity(check)) }
                        td { (check_state(l, s.state.as_str())) }
                        td { @for (i, f) in s.failures.iter().enumerate() { @if i > 0 { (l.t("；", "; ")) } (l.failure(f)) } }
                        td { (s.checked_at.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
    }
}

fn check_state(l: Lang, state: &str) -> Markup {
    match state {
        "pass" => html! { span.badge.ok { (l.t("达标", "Passes")) } },
        "fail" => html! { span.badge.bad { (l.t("未达标", "Fails")) } },
        _ => html! { span.badge { (l.t("未核查", "Not checked")) } },
    }
}

/// The checks and surveys, newest first (visits and self-reports have their own sections).
fn checks_list(l: Lang, scope: &Scope, history: &[CheckRecord]) -> Markup {
    let history: Vec<&CheckRecord> = history
        .iter()
        .filter(|r| registry::is_check(&r.entity) || r.entity == registry::SURVEY_SUBMISSION.name)
        .collect();
    if history.is_empty() {
        return html! { p.muted { (l.t("还没有核查记录", "No checks yet")) } };
    }
    html! {
        @for r in history.iter().rev() {
            @let def = registry::entity(&r.entity);
            div.card data-testid="check" data-entity=(r.entity) {
                div {
                    strong { (l.entity(&r.entity)) }
                    " · " span.muted { (layout::when(r.received_at_ms)) }
                    @if r.in_force { " " span.badge.ok { (l.t("现行", "in force")) } }
                }
                dl.fields {
                    @for (name, value) in r.fields.iter().filter(|(n, _)| !n.ends_with("_id") && *n != "photos") {
                        dt { (l.field(&r.entity, name)) }
                        dd {
                            @if name == "failures" { (failures(l, value)) }
                            @else if let Some(def) = def { (shown(l, scope, def, name, value)) }
                            @else { (l.value(name, value)) }
                        }
                    }
                }
                @if !r.photos.is_empty() {
                    div.photos { @for p in &r.photos { (photo(l, p)) } }
                }
            }
        }
    }
}

fn failures(l: Lang, value: &Value) -> String {
    let list: Vec<&str> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|f| l.failure(f))
        .collect();
    if list.is_empty() {
        "—".to_owned()
    } else {
        list.join(l.t("；", "; "))
    }
}

fn photo(l: Lang, p: &PhotoView) -> Markup {
    html! {
        figure {
            @if p.state == "ready" {
                a href=(format!("/console/photos/{}", p.sha256)) {
                    img src=(format!("/console/photos/{}/thumb", p.sha256)) alt=(l.t("照片", "Photo")) loading="lazy";
                }
            } @else {
                div.muted { (match p.state {
                    "missing" => l.t("照片未上传", "Not uploaded"),
                    "rejected" => l.t("照片被拒收", "Refused"),
                    _ => l.t("处理中", "Processing"),
                }) }
            }
            @if let Some(t) = &p.taken_at { figcaption.muted { (t) } }
        }
    }
}

fn visits_list(l: Lang, scope: &Scope, visits: &[Item]) -> Markup {
    if visits.is_empty() {
        return html! { p.muted { (l.t("还没有走访记录", "No visits yet")) } };
    }
    html! {
        table data-testid="visits" {
            thead { tr { th { (l.t("时间", "When")) } th { (l.t("目的", "Purpose")) } th { (l.t("记录", "Notes")) } } }
            tbody {
                @for r in visits {
                    tr {
                        td { @match r.fields.get("started_at") {
                            Some(at) => (shown(l, scope, &registry::VISIT, "started_at", at)),
                            None => (layout::when(r.received_at_ms)),
                        } }
                        td { @if let Some(p) = r.fields.get("purpose") { (l.value("purpose", p)) } }
                        td { (text(&r.fields, "notes").unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn tasks_list(l: Lang, tasks: &[Item]) -> Markup {
    if tasks.is_empty() {
        return html! { p.muted { (l.t("没有帮扶任务", "No tasks")) } };
    }
    html! {
        table data-testid="tasks" {
            thead { tr { th { (l.t("期限", "Due")) } th { (l.t("任务", "Task")) } th { (l.t("状态", "Status")) } } }
            tbody {
                @for t in tasks {
                    tr data-id=(t.id) {
                        td { (text(&t.fields, "due_on").unwrap_or("")) }
                        td { (text(&t.fields, "title").unwrap_or("")) }
                        td { (l.task_status(text(&t.fields, "status").unwrap_or("open"))) }
                    }
                }
            }
        }
    }
}

fn reports_list(l: Lang, reports: &[Item]) -> Markup {
    if reports.is_empty() {
        return html! { p.muted { (l.t("没有农户申报", "No self-reports")) } };
    }
    html! {
        table data-testid="reports" {
            thead { tr { th { (l.t("时间", "When")) } th { (l.t("渠道", "Channel")) } th { (l.t("困难类别", "Difficulty")) } th { (l.t("反映的困难", "Description")) } } }
            tbody {
                @for r in reports {
                    tr {
                        td { (layout::when(r.received_at_ms)) }
                        td { (l.channel(text(&r.fields, "channel").unwrap_or(""))) }
                        td { (l.difficulty(text(&r.fields, "category").unwrap_or(""))) }
                        td { (text(&r.fields, "description").unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn conflicts_list(l: Lang, file: &HouseholdFile) -> Markup {
    if file.conflicts.is_empty() {
        return html! { p.muted { (l.t("没有数据冲突", "No conflicts")) } };
    }
    html! {
        table data-testid="conflicts" {
            thead { tr {
                th { (l.t("时间", "When")) } th { (l.t("内容", "Field")) } th { (l.t("手机提交的值", "Sent by the phone")) }
                th { (l.t("现在保留的值", "Kept now")) } th { (l.t("状态", "Status")) }
            } }
            tbody {
                @for c in &file.conflicts {
                    tr {
                        td { (layout::when(c.created_at_ms)) }
                        td { (l.entity(&c.entity)) " · " (l.field(&c.entity, &c.field)) }
                        td { (l.value(&c.field, &c.yours)) }
                        td { (l.value(&c.field, &c.kept)) }
                        td {
                            @if c.resolution.is_some() { span.badge.ok { (l.t("已处理", "Resolved")) } }
                            @else { a href="/console/conflicts" { span.badge.warn { (l.t("待处理", "Open")) } } }
                        }
                    }
                }
            }
        }
    }
}

fn edits_table(l: Lang, file: &HouseholdFile) -> Markup {
    if file.edits.is_empty() {
        return html! { p.muted { (l.t("没有修改记录", "No edits")) } };
    }
    html! {
        table data-testid="edits" {
            thead { tr {
                th { (l.t("时间", "When")) } th { (l.t("修改人", "By")) } th { (l.t("设备", "Device")) }
                th { (l.t("内容", "Record")) } th { (l.t("修改的项", "Fields")) } th { (l.t("结果", "Outcome")) }
            } }
            tbody {
                @for e in &file.edits {
                    tr {
                        td { (layout::when(e.at_ms)) }
                        td { (e.by) }
                        td.muted title=(e.device_id) { (e.device_id.simple().to_string().get(..8).unwrap_or("")) }
                        td { (l.entity(&e.entity)) " · " (op(l, &e.op)) }
                        td { @for (i, f) in e.fields.iter().enumerate() { @if i > 0 { (l.t("、", ", ")) } (l.field(&e.entity, f)) } }
                        td { (edit_status(l, &e.status)) }
                    }
                }
            }
        }
    }
}

fn op(l: Lang, op: &str) -> &'static str {
    match op {
        "create" => l.t("新建", "created"),
        "delete" => l.t("删除", "deleted"),
        _ => l.t("修改", "changed"),
    }
}

fn edit_status(l: Lang, status: &str) -> Markup {
    match status {
        "applied" | "merged" => html! { span.badge.ok { (l.t("已保存", "saved")) } },
        "conflict" => html! { span.badge.warn { (l.t("有冲突", "conflict")) } },
        _ => html! { span.badge.bad { (l.t("未保存", "refused")) } },
    }
}
