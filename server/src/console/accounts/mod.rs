//! Accounts (账户管理): an admin, or a county officer within the county, lists the people
//! assigned under a division, makes an account (its first password shown once on the answer
//! page, never stored in clear nor sent again), disables or enables one, resets a password,
//! hands a village over, and imports the staff roster (`import`). A person's own page, with
//! their assignments and devices, is `person`. The rules are `service::accounts`'.

mod import;
mod person;

pub use import::import;
pub use person::{assign, end, person, revoke};

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::Response;
use fieldsync_protocol::{ErrorCode, Role};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::scope::{self, Scope};
use super::session::{Posted, Viewer, see_other};
use super::{P, Q, here, url_encode};
use crate::service::ServiceError;
use crate::service::accounts::{self as ops, NewAccount};
use crate::state::AppState;

const PATH: &str = "/console/accounts";

#[derive(Deserialize)]
pub struct ListQuery {
    division: Option<String>,
    done: Option<String>,
}

/// The new-account form as posted; every field optional, so that a refused form comes back
/// with what was typed.
#[derive(Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    division: String,
}

#[derive(Deserialize)]
pub struct BackForm {
    division: Option<String>,
}

/// The roles the viewer may give: an admin any, a county officer those below the county's.
fn roles_for(v: &Viewer) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| v.caller.role == Role::Admin || !matches!(r, Role::Admin | Role::CountyOfficer))
        .collect()
}

/// What the page shows besides the list.
#[derive(Default)]
struct Outcome<'a> {
    notice: Option<&'a str>,
    error: Option<String>,
    /// The account just made, or whose password was made again, and its first password.
    made: Option<(String, String)>,
}

async fn page_of(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    asked: Option<&str>,
    form: &CreateForm,
    outcome: Outcome<'_>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let title = l.t("账户管理", "Accounts");
    let scope = Scope::of(state, v).await?;
    let Some(division) = scope.division(asked) else {
        return Ok(scope::unassigned(v, Nav::Accounts, title, uri));
    };
    let accounts = ops::list(state, &v.caller, &division).await?;
    let roles = roles_for(v);
    let chosen_division = if form.division.is_empty() {
        division.as_str()
    } else {
        form.division.as_str()
    };
    let body = html! {
        (layout::flash(outcome.notice))
        @if let Some(e) = &outcome.error { p.flash.bad role="alert" data-testid="error" { (e) } }
        @if let Some((username, secret)) = &outcome.made {
            div.flash.good role="status" data-testid="made" {
                (l.t("账户已创建：", "Account made: ")) b { (username) }
                br;
                (l.t("初始密码（只显示这一次，请当面或电话交给本人，登录后修改）：", "First password (shown this once; hand it to the person, who changes it after signing in): "))
                code data-testid="password" { (secret) }
            }
        }
        form.filters method="get" action=(PATH) {
            label { (l.t("区划", "Division"))
                select name="division" data-auto { (divisions(&scope, &division)) }
            }
            button type="submit" { (l.t("查看", "Show")) }
        }
        div.desk {
            section {
                h2 { (l.t("新建账户", "New account")) }
                form.stack method="post" action=(PATH) data-testid="create" {
                    (layout::csrf(v))
                    label { (l.t("用户名（字母、数字、. _ -）", "Username (letters, digits, . _ -)"))
                        input name="username" value=(form.username) maxlength="64" required autocomplete="off";
                    }
                    label { (l.t("姓名", "Name")) input name="display_name" value=(form.display_name) maxlength="50"; }
                    label { (l.t("角色", "Role"))
                        select name="role" required {
                            @for r in &roles {
                                option value=(r.as_str()) selected[form.role == r.as_str()] { (l.role(*r)) }
                            }
                        }
                    }
                    label { (l.t("工作区划", "Works in"))
                        select name="division" required { (divisions(&scope, chosen_division)) }
                    }
                    button type="submit" { (l.t("创建并生成初始密码", "Make it, with a first password")) }
                }
                h2 { (l.t("导入人员名单", "Import the staff roster")) }
                (import::form(v))
            }
            section {
                h2 { (l.t("在岗人员", "People assigned")) " · " (scope.name(&division)) }
                (handover_form(v, &scope, &division, &accounts))
                div.scroll {
                    table data-testid="accounts" {
                        thead { tr {
                            th { (l.t("姓名", "Name")) } th { (l.t("用户名", "Username")) } th { (l.t("角色", "Role")) }
                            th { (l.t("区划", "Division")) } th { (l.t("状态", "State")) } th {}
                        } }
                        tbody {
                            @for a in &accounts {
                                (account_row(v, &scope, &division, a))
                            }
                            @if accounts.is_empty() { tr { td colspan="6" .muted { (l.t("没有人员", "No one")) } } }
                        }
                    }
                }
            }
        }
    };
    let refused = outcome.error.is_some();
    Ok(unstored(layout::form_page(
        v,
        Nav::Accounts,
        title,
        &here(uri),
        body,
        refused,
    )))
}

/// A page that may carry a first password: no cache keeps it (the router's default says the
/// same; this page does not rely on it).
fn unstored(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `<option>`s of the viewer's divisions, the townships and the villages below them.
fn divisions(scope: &Scope, selected: &str) -> Markup {
    html! {
        (scope.division_options(selected))
        @for village in &scope.villages {
            option value=(village) selected[selected == village] { (scope.name(village)) " (" (village) ")" }
        }
    }
}

/// The handover of a village (two-year rotation): the leaving cadre works there until the day
/// before, the arriving one from the day. Both from the accounts listed.
fn handover_form(v: &Viewer, scope: &Scope, division: &str, accounts: &[ops::Account]) -> Markup {
    let l = v.lang;
    let today = crate::clock::iso(crate::clock::today());
    let mut people: Vec<&ops::Account> = accounts
        .iter()
        .filter(|a| a.disabled_at.is_none() && crate::cases::rules::takes_tasks(&a.role))
        .collect();
    people.sort_by(|a, b| a.username.cmp(&b.username));
    people.dedup_by(|a, b| a.id == b.id);
    let option = |a: &ops::Account| {
        html! { option value=(a.id) { (a.display_name.as_deref().unwrap_or(&a.username)) " · " (l.role_name(&a.role)) " · " (a.username) } }
    };
    html! {
        details.handover {
            summary { (l.t("交接（轮换）", "Handover (rotation)")) }
            form.filters method="post" action=(format!("{PATH}/handover")) data-testid="handover" {
                (layout::csrf(v))
                input type="hidden" name="division" value=(division);
                label { (l.t("村", "Village"))
                    select name="village" required {
                        @for village in &scope.villages {
                            @if village.starts_with(division) { option value=(village) { (scope.name(village)) } }
                        }
                    }
                }
                label { (l.t("离任", "Leaving")) select name="from" required { @for a in &people { (option(a)) } } }
                label { (l.t("接任", "Arriving")) select name="to" required { @for a in &people { (option(a)) } } }
                label { (l.t("交接日（接任者首日）", "From (the arriving cadre's first day)")) input type="date" name="day" value=(today) min=(today) required; }
                button type="submit" { (l.t("交接", "Hand over")) }
            }
        }
    }
}

fn account_row(v: &Viewer, scope: &Scope, division: &str, a: &ops::Account) -> Markup {
    let l = v.lang;
    let disabled = a.disabled_at.is_some();
    let action = if disabled { "enable" } else { "disable" };
    html! {
        tr data-username=(a.username) {
            td { (a.display_name.as_deref().unwrap_or("—")) }
            td { a href=(format!("{PATH}/{}", a.id)) title=(l.t("登录设备", "Devices")) { (a.username) } }
            td { (l.role_name(&a.role)) }
            td { (scope.name(&a.division_code)) }
            td { @if disabled { span.badge.bad { (l.t("已停用", "Disabled")) } } @else { span.badge.ok { (l.t("在用", "Active")) } } }
            td {
                @if a.id != v.caller.user_id {
                    form.inline method="post" action=(format!("{PATH}/{}/password", a.id))
                        data-confirm=(l.t("将生成新的初始密码，此人所有登录和手机需重新登录，确定吗？", "A new first password ends every sign-in of this person; their phones sign in again. Go on?")) {
                        (layout::csrf(v))
                        input type="hidden" name="division" value=(division);
                        button.secondary type="submit" data-testid="reset" { (l.t("重置密码", "Reset password")) }
                    }
                    " "
                    form.inline method="post" action=(format!("{PATH}/{}/{action}", a.id))
                        data-confirm=[(!disabled).then(|| l.t("停用后此人无法登录，手机也将无法同步，确定吗？", "Once disabled, this person cannot sign in and their phones cannot sync. Disable?"))] {
                        (layout::csrf(v))
                        input type="hidden" name="division" value=(division);
                        @if disabled {
                            button.secondary type="submit" data-testid="enable" { (l.t("启用", "Enable")) }
                        } @else {
                            button.danger type="submit" data-testid="disable" { (l.t("停用", "Disable")) }
                        }
                    }
                }
            }
        }
    }
}

/// A refusal the office can act on, shown on the form: its message and the field it
/// concerns. Other errors are the error page.
fn refusal(e: ServiceError) -> Result<(String, Option<String>), ConsoleError> {
    match e {
        ServiceError::Invalid(d)
        | ServiceError::Rejected(d)
        | ServiceError::Conflict(d)
        | ServiceError::Forbidden(d) => Ok((d.message, d.field)),
        e => Err(e.into()),
    }
}

fn correctable(e: ServiceError) -> Result<String, ConsoleError> {
    refusal(e).map(|(message, _)| message)
}

/// A day typed in `field` of a form (`YYYY-MM-DD`).
fn day(text: &str, field: &str) -> Result<time::Date, ServiceError> {
    crate::clock::parse_date(text.trim()).ok_or_else(|| {
        ServiceError::invalid(
            ErrorCode::InvalidValue,
            format!("{text:?} is not a day (YYYY-MM-DD)"),
        )
        .at(field)
    })
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<ListQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let notice = match q.done.as_deref() {
        Some("disabled") => Some(l.t(
            "账户已停用，其登录和手机已失效",
            "The account is disabled; its sign-ins and phones are refused",
        )),
        Some("enabled") => Some(l.t("账户已启用", "The account is enabled")),
        Some("handover") => Some(l.t("交接已登记：离任者工作到交接日前一天，接任者从交接日起负责该村", "The handover is recorded: the leaving cadre works there until the day before, the arriving one from the day")),
        _ => None,
    };
    let outcome = Outcome {
        notice,
        ..Outcome::default()
    };
    page_of(
        &state,
        &v,
        &uri,
        q.division.as_deref(),
        &CreateForm::default(),
        outcome,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    uri: Uri,
    posted: Posted<CreateForm>,
) -> Result<Response, ConsoleError> {
    let (v, form) = (&posted.viewer, &posted.form);
    let division = form.division.trim();
    let made = match form.role.parse::<Role>() {
        Ok(role) => {
            let new = NewAccount {
                username: form.username.trim().to_owned(),
                display_name: Some(form.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
                role,
                division: division.to_owned(),
            };
            ops::create(&state, &v.caller, new).await
        }
        Err(e) => Err(ServiceError::invalid(
            ErrorCode::InvalidValue,
            e.to_string(),
        )),
    };
    let asked = Some(division).filter(|d| !d.is_empty());
    match made {
        Ok((_, secret)) => {
            let outcome = Outcome {
                made: Some((form.username.trim().to_owned(), secret)),
                ..Outcome::default()
            };
            page_of(&state, v, &uri, asked, &CreateForm::default(), outcome).await
        }
        Err(e) => {
            let outcome = Outcome {
                error: Some(correctable(e)?),
                ..Outcome::default()
            };
            page_of(&state, v, &uri, None, form, outcome).await
        }
    }
}

async fn set_disabled(
    state: AppState,
    id: Uuid,
    posted: Posted<BackForm>,
    disabled: bool,
) -> Result<Response, ConsoleError> {
    ops::set_disabled(&state, &posted.viewer.caller, id, disabled).await?;
    let division = posted.form.division.unwrap_or_default();
    let done = if disabled { "disabled" } else { "enabled" };
    Ok(see_other(&format!(
        "{PATH}?division={}&done={done}",
        url_encode(&division)
    )))
}

pub async fn disable(
    State(state): State<AppState>,
    P(id): P<Uuid>,
    posted: Posted<BackForm>,
) -> Result<Response, ConsoleError> {
    set_disabled(state, id, posted, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    P(id): P<Uuid>,
    posted: Posted<BackForm>,
) -> Result<Response, ConsoleError> {
    set_disabled(state, id, posted, false).await
}

pub async fn reset_password(
    State(state): State<AppState>,
    uri: Uri,
    P(id): P<Uuid>,
    posted: Posted<BackForm>,
) -> Result<Response, ConsoleError> {
    let v = &posted.viewer;
    let made = ops::reset_password(&state, &v.caller, id).await?;
    let outcome = Outcome {
        made: Some(made),
        ..Outcome::default()
    };
    let division = posted.form.division.as_deref().filter(|d| !d.is_empty());
    page_of(&state, v, &uri, division, &CreateForm::default(), outcome).await
}

#[derive(Deserialize)]
pub struct HandoverForm {
    division: Option<String>,
    village: String,
    from: Uuid,
    to: Uuid,
    day: String,
}

pub async fn handover(
    State(state): State<AppState>,
    uri: Uri,
    posted: Posted<HandoverForm>,
) -> Result<Response, ConsoleError> {
    let (v, f) = (&posted.viewer, &posted.form);
    let division = f.division.as_deref().filter(|d| !d.is_empty());
    let done = match day(&f.day, "day") {
        Ok(day) => {
            let h = ops::Handover {
                village: f.village.clone(),
                from: f.from,
                to: f.to,
                day,
            };
            ops::hand_over(&state, &v.caller, h).await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(see_other(&format!(
            "{PATH}?division={}&done=handover",
            url_encode(division.unwrap_or(""))
        ))),
        Err(e) => {
            let outcome = Outcome {
                error: Some(correctable(e)?),
                ..Outcome::default()
            };
            page_of(&state, v, &uri, division, &CreateForm::default(), outcome).await
        }
    }
}
