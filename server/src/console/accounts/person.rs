//! A person's page (`/console/accounts/{id}`): their assignments, past ones too, with adding
//! one (a division typed or picked from the viewer's, from a day, until a day or open-ended)
//! and ending one on a day; and their devices with last contact, revoking a lost or handed-on
//! phone. The rules are `service::accounts`'.

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::{PATH, day, refusal};
use crate::clock;
use crate::console::error::ConsoleError;
use crate::console::layout::{self, Nav};
use crate::console::scope::Scope;
use crate::console::session::{Posted, Viewer, see_other};
use crate::console::{P, Q, here};
use crate::service::ServiceError;
use crate::service::accounts::{self as ops, assignments};
use crate::state::AppState;
use crate::store::AssignmentSpan;

#[derive(Deserialize)]
pub struct PersonQuery {
    done: Option<String>,
}

/// The new-assignment form as posted; every field optional, so a refused form comes back with
/// what was typed.
#[derive(Default, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    division: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
}

/// What the page shows besides the lists.
#[derive(Default)]
struct Outcome<'a> {
    notice: Option<&'a str>,
    /// A refusal's message and the field it concerns.
    error: Option<(String, Option<String>)>,
    form: AssignForm,
}

async fn page_of(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    id: Uuid,
    outcome: Outcome<'_>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let (user, spans) = assignments::of_person(state, &v.caller, id).await?;
    let (_, devices) = ops::devices(state, &v.caller, id).await?;
    let scope = Scope::of(state, v).await?;
    let name = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.username.clone());
    let today = clock::iso(clock::today());
    let body = html! {
        (layout::flash(outcome.notice))
        @if let Some((e, field)) = &outcome.error {
            p.flash.bad role="alert" data-testid="error" data-field=[field.as_deref()] { (e) }
        }
        p { (user.username) " · " (l.role_name(&user.role)) }
        h2 { (l.t("工作区划", "Assignments")) }
        div.desk {
            section { (assign_form(v, &scope, id, &outcome, &today)) }
            section { (assignment_table(v, &scope, id, &spans, &today)) }
        }
        h2 { (l.t("登录设备", "Devices")) }
        div.scroll {
            table data-testid="devices" {
                thead { tr {
                    th { (l.t("设备", "Device")) } th { (l.t("最近联系", "Last contact")) } th { (l.t("启用于", "First seen")) }
                    th { (l.t("应用版本", "App version")) } th.num { (l.t("待上传", "Waiting to send")) } th { (l.t("状态", "State")) } th {}
                } }
                tbody {
                    @for d in &devices {
                        tr data-device=(d.id) {
                            td { code { (d.id.to_string().get(..8).unwrap_or("")) } }
                            td { (layout::when(d.last_seen_at)) }
                            td { (layout::when(d.created_at)) }
                            td { (d.app_version.as_deref().unwrap_or("—")) }
                            td.num { (d.outbox_depth.map_or_else(|| "—".to_owned(), |n| n.to_string())) }
                            td { @if d.revoked_at.is_some() { span.badge.bad { (l.t("已注销", "Revoked")) } } @else { span.badge.ok { (l.t("在用", "In use")) } } }
                            td {
                                @if d.revoked_at.is_none() && d.id != v.caller.device_id {
                                    form.inline method="post" action=(format!("{PATH}/{id}/devices/{}/revoke", d.id))
                                        data-confirm=(l.t("注销后这台设备无法再同步或登录，确定吗？", "A revoked device can neither sync nor sign in again. Revoke?")) {
                                        (layout::csrf(v))
                                        button.danger type="submit" data-testid="revoke" { (l.t("注销", "Revoke")) }
                                    }
                                }
                            }
                        }
                    }
                    @if devices.is_empty() { tr { td colspan="7" .muted { (l.t("还没有登录过的设备", "No device has signed in yet")) } } }
                }
            }
        }
        p { a href=(PATH) { "← " (l.t("账户管理", "Accounts")) } }
    };
    Ok(layout::form_page(
        v,
        Nav::Accounts,
        &name,
        &here(uri),
        body,
        outcome.error.is_some(),
    ))
}

/// Adding an assignment: a division typed, or picked from the viewer's (a datalist, so both
/// work on the offices' browsers), from a day, until a day or open-ended.
fn assign_form(v: &Viewer, scope: &Scope, id: Uuid, outcome: &Outcome, today: &str) -> Markup {
    let l = v.lang;
    let form = &outcome.form;
    // The field a refusal names is marked, for the eye and for screen readers.
    let bad = |name: &str| {
        outcome
            .error
            .as_ref()
            .is_some_and(|(_, f)| f.as_deref() == Some(name))
            .then_some("true")
    };
    let starts_on = if form.starts_on.is_empty() {
        today
    } else {
        form.starts_on.as_str()
    };
    html! {
        form.card.stack method="post" action=(format!("{PATH}/{id}/assignments")) data-testid="assign" {
            (layout::csrf(v))
            label { (l.t("区划（村、乡镇或县的代码，可从列表选）", "Division (a village's, township's or county's code; pick from the list or type it)"))
                input name="division" value=(form.division) list="division-choices" required maxlength="12" autocomplete="off" aria-invalid=[bad("division")];
                datalist #division-choices { (scope.division_options("")) (scope.village_options(None)) }
            }
            label { (l.t("起始日", "First day")) input type="date" name="starts_on" value=(starts_on) min=(today) required aria-invalid=[bad("starts_on")]; }
            label { (l.t("结束日（可不填）", "Last day (optional)")) input type="date" name="ends_on" value=(form.ends_on) aria-invalid=[bad("ends_on")]; }
            button type="submit" { (l.t("分配", "Assign")) }
        }
    }
}

fn assignment_table(
    v: &Viewer,
    scope: &Scope,
    id: Uuid,
    spans: &[AssignmentSpan],
    today: &str,
) -> Markup {
    let l = v.lang;
    let yesterday = clock::iso(clock::yesterday_of(clock::today()));
    html! {
        div.scroll {
            table data-testid="assignments" {
                thead { tr {
                    th { (l.t("区划", "Division")) } th { (l.t("起始日", "From")) } th { (l.t("结束日", "Until")) }
                    th { (l.t("状态", "State")) } th {}
                } }
                tbody {
                    @for a in spans {
                        @let over = a.ends_on.as_deref().is_some_and(|e| e < today);
                        @let planned = a.starts_on.as_str() > today;
                        tr data-division=(a.division_code) data-starts=(a.starts_on) {
                            td { (scope.name(&a.division_code)) " (" (a.division_code) ")" }
                            td { (a.starts_on) }
                            td { (a.ends_on.as_deref().unwrap_or("—")) }
                            td {
                                @if over { span.badge { (l.t("已结束", "Ended")) } }
                                @else if planned { span.badge.warn { (l.t("计划中", "Planned")) } }
                                @else { span.badge.ok { (l.t("在岗", "Current")) } }
                            }
                            td {
                                @if a.ends_on.as_deref().is_none_or(|e| e >= yesterday.as_str()) {
                                    form.inline method="post" action=(format!("{PATH}/{id}/assignments/end")) data-testid="end" {
                                        (layout::csrf(v))
                                        input type="hidden" name="division" value=(a.division_code);
                                        input type="hidden" name="starts_on" value=(a.starts_on);
                                        label { (l.t("最后一天", "Last day"))
                                            input type="date" name="ends_on" value=(a.ends_on.as_deref().unwrap_or(today)) min=(yesterday) required;
                                        }
                                        button.secondary type="submit" { (l.t("结束于此日", "End on this day")) }
                                    }
                                }
                            }
                        }
                    }
                    @if spans.is_empty() { tr { td colspan="5" .muted { (l.t("没有分配", "No assignment")) } } }
                }
            }
        }
    }
}

pub async fn person(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    P(id): P<Uuid>,
    Q(q): Q<PersonQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let notice = match q.done.as_deref() {
        Some("revoked") => Some(l.t(
            "设备已注销：它的下一次请求将被拒绝",
            "The device is revoked: its next request is refused",
        )),
        Some("assigned") => Some(l.t("分配已登记", "The assignment is recorded")),
        Some("ended") => Some(l.t(
            "已设定结束日：此人在该区划工作到这一天",
            "The last day is set: the person works there until that day",
        )),
        _ => None,
    };
    let outcome = Outcome {
        notice,
        ..Outcome::default()
    };
    page_of(&state, &v, &uri, id, outcome).await
}

pub async fn assign(
    State(state): State<AppState>,
    uri: Uri,
    P(id): P<Uuid>,
    posted: Posted<AssignForm>,
) -> Result<Response, ConsoleError> {
    let (v, f) = (&posted.viewer, &posted.form);
    let ends_on = Some(f.ends_on.trim()).filter(|e| !e.is_empty());
    let done = async {
        let new = assignments::NewAssignment {
            division: f.division.trim().to_owned(),
            starts_on: day(&f.starts_on, "starts_on")?,
            ends_on: ends_on.map(|e| day(e, "ends_on")).transpose()?,
        };
        assignments::add(&state, &v.caller, id, new).await
    }
    .await;
    let typed = AssignForm {
        division: f.division.clone(),
        starts_on: f.starts_on.clone(),
        ends_on: f.ends_on.clone(),
    };
    answer(&state, v, &uri, id, done.map(|()| "assigned"), typed).await
}

/// The answer to a form of the page: back to it with the notice of what was `done`, or the
/// page again with the refusal and what was `typed` in the new-assignment form.
async fn answer(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    id: Uuid,
    done: Result<&str, ServiceError>,
    typed: AssignForm,
) -> Result<Response, ConsoleError> {
    match done {
        Ok(done) => Ok(see_other(&format!("{PATH}/{id}?done={done}"))),
        Err(e) => {
            let outcome = Outcome {
                error: Some(refusal(e)?),
                form: typed,
                ..Outcome::default()
            };
            page_of(state, v, uri, id, outcome).await
        }
    }
}

#[derive(Deserialize)]
pub struct EndForm {
    division: String,
    starts_on: String,
    #[serde(default)]
    ends_on: String,
}

pub async fn end(
    State(state): State<AppState>,
    uri: Uri,
    P(id): P<Uuid>,
    posted: Posted<EndForm>,
) -> Result<Response, ConsoleError> {
    let (v, f) = (&posted.viewer, &posted.form);
    let done = match day(&f.ends_on, "ends_on") {
        Ok(last) => {
            let which = (f.division.as_str(), f.starts_on.as_str());
            assignments::end(&state, &v.caller, id, which, last).await
        }
        Err(e) => Err(e),
    };
    let done = done.map(|()| "ended");
    answer(&state, v, &uri, id, done, AssignForm::default()).await
}

#[derive(Deserialize)]
pub struct DevicePath {
    id: Uuid,
    device: Uuid,
}

pub async fn revoke(
    State(state): State<AppState>,
    P(path): P<DevicePath>,
    posted: Posted<super::BackForm>,
) -> Result<Response, ConsoleError> {
    ops::revoke_device(&state, &posted.viewer.caller, path.id, path.device).await?;
    Ok(see_other(&format!("{PATH}/{}?done=revoked", path.id)))
}
