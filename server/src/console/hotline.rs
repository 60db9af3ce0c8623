//! The 12317 hotline desk (受理台): an operator records a call, sees the day's calls with
//! where each stands, and on a follow-up call finds the reports about the caller by ID-card
//! number to read out where the case stands, in plain words. A call is a `self_report` pushed
//! from the operator's sign-in (`service::work::take_call`), judged as any report is.
//!
//! The ID-card search is a POST: the number never sits in a URL (browser history, proxies'
//! logs).

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::labels;
use fieldsync_protocol::registry::DIFFICULTIES;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{ConsoleError, correctable};
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::scope::Scope;
use super::session::{Posted, Viewer, see_other};
use super::{Q, here};
use crate::service::work::{self as ops, Call, Followed};
use crate::state::AppState;

const PATH: &str = "/console/hotline";

#[derive(Deserialize)]
pub struct DeskQuery {
    /// A call just recorded.
    taken: Option<uuid::Uuid>,
}

/// The call form as posted; every field optional, so a half-filled form comes back with what
/// was typed and the reason, never as a bare error page.
#[derive(Default, Deserialize)]
pub struct CallForm {
    #[serde(default)]
    village_code: String,
    #[serde(default)]
    id_card: String,
    #[serde(default)]
    reporter_name: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
    consent: Option<String>,
}

#[derive(Deserialize)]
pub struct FindForm {
    #[serde(default)]
    id_card: String,
}

fn filled(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Where a report stands, as the operator reads it out.
fn standing(l: Lang, f: &Followed) -> Markup {
    let s = &f.standing;
    html! {
        (labels::case_standing(&s.status).map_or(s.status.as_str(), |w| l.pick(w)))
        @if let Some(r) = &s.not_admitted_reason {
            (l.t("：", ": ")) (l.not_admitted_reason(r))
        }
    }
}

fn reports_table(l: Lang, scope: &Scope, list: &[Followed], testid: &str, empty: &str) -> Markup {
    let text = |f: &Followed, k: &str| {
        f.report
            .fields
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("—")
            .to_owned()
    };
    html! {
        div.scroll {
            table data-testid=(testid) {
                thead { tr {
                    th { (l.t("来电时间", "Received")) } th { (l.t("村", "Village")) }
                    th { (l.t("来电人", "Caller")) } th { (l.t("联系电话", "Phone")) }
                    th { (l.t("困难类别", "Difficulty")) } th { (l.t("办理情况（可告知来电人）", "Where it stands (to tell the caller)")) }
                } }
                tbody {
                    @for f in list {
                        tr {
                            td { (layout::when(f.report.received_at_ms)) }
                            td { (scope.name(&f.report.village_code)) }
                            td { (text(f, "reporter_name")) }
                            td { (text(f, "contact_phone")) }
                            td { (l.difficulty(&text(f, "category"))) }
                            td.standing { (standing(l, f)) }
                        }
                    }
                    @if list.is_empty() { tr { td colspan="6" .muted { (empty) } } }
                }
            }
        }
    }
}

/// The desk: the call form (with `error` and the values typed, when a call was refused), the
/// search for a follow-up call, and the day's calls.
async fn desk(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    form: &CallForm,
    error: Option<&str>,
    notice: Option<String>,
    found: Option<(&str, Vec<Followed>)>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let scope = Scope::of(state, v).await?;
    let today = ops::calls_today(state, &v.caller).await?;
    let selected = filled(&form.village_code);
    let body = html! {
        (layout::flash(notice.as_deref()))
        @if let Some(e) = error { p.flash.bad role="alert" data-testid="error" { (e) } }
        div.desk {
            section.call {
                h2 { (l.t("登记来电", "Record a call")) }
                form.stack method="post" action=(PATH) data-testid="call" {
                    (layout::csrf(v))
                    label { (l.t("所在村", "Village"))
                        select name="village_code" required {
                            option value="" { (l.t("请选择", "Choose")) }
                            (scope.village_options(selected.as_deref()))
                        }
                    }
                    label { (l.t("身份证号（困难群众本人或户内成员）", "ID-card number (of the person or a member of the household)"))
                        input name="id_card" value=(form.id_card) maxlength="18" autocomplete="off";
                    }
                    label { (l.t("来电人姓名", "Caller's name")) input name="reporter_name" value=(form.reporter_name) maxlength="50"; }
                    label { (l.t("联系电话", "Contact phone")) input name="contact_phone" value=(form.contact_phone) maxlength="20" inputmode="tel"; }
                    label { (l.t("困难类别", "Difficulty"))
                        select name="category" required {
                            option value="" { (l.t("请选择", "Choose")) }
                            @for d in DIFFICULTIES {
                                option value=(d) selected[form.category == *d] { (l.difficulty(d)) }
                            }
                        }
                    }
                    label { (l.t("反映的困难", "What the caller says"))
                        textarea name="description" rows="4" maxlength="2000" required { (form.description) }
                    }
                    label.check {
                        input type="checkbox" name="consent" value="1" checked[form.consent.is_some()];
                        (l.t("来电人同意核查家庭信息", "The caller agrees to checks of the household's data"))
                    }
                    button type="submit" { (l.t("登记并转村核实", "Record and pass to the village")) }
                }
            }
            div {
                section.find {
                    h2 { (l.t("再次来电：查询办理情况", "A follow-up call: where it stands")) }
                    form.filters method="post" action=(format!("{PATH}/find")) data-testid="find" {
                        (layout::csrf(v))
                        label { (l.t("身份证号", "ID-card number"))
                            input name="id_card" maxlength="18" autocomplete="off" value=(found.as_ref().map_or("", |f| f.0));
                        }
                        button type="submit" { (l.t("查询", "Find")) }
                    }
                    @if let Some((_, list)) = &found {
                        (reports_table(l, &scope, list, "found", l.t("没有找到这个身份证号的反映", "No report about this ID-card number")))
                    }
                }
                section.today {
                    h2 { (l.t("今天受理的来电", "Today's calls")) }
                    (reports_table(l, &scope, &today, "today", l.t("今天还没有来电", "No calls yet today")))
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        layout::page(
            v,
            Nav::Hotline,
            l.t("12317 受理台", "12317 hotline desk"),
            &here(uri),
            body,
        ),
    )
        .into_response())
}

/// The form's own name for a field a refusal points at (`fields.description` …).
fn form_label(l: Lang, field: &str) -> Option<&'static str> {
    Some(match field.strip_prefix("fields.")? {
        "village_code" => l.t("所在村", "Village"),
        // A report without a number has no household to be about.
        "id_card" | "household_id" => l.t("身份证号", "ID-card number"),
        "reporter_name" => l.t("来电人姓名", "Caller's name"),
        "contact_phone" => l.t("联系电话", "Contact phone"),
        "category" => l.t("困难类别", "Difficulty"),
        "description" => l.t("反映的困难", "What the caller says"),
        "consent_to_checks" => l.t("同意核查", "Consent"),
        _ => return None,
    })
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<DeskQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let notice = q.taken.map(|_| {
        l.t(
            "已登记。已转到村里，驻村工作队会上门了解情况；可在下方“今天受理的来电”中查看。",
            "Recorded. The village has it and the work team will visit; the call is in today's list below.",
        )
        .to_owned()
    });
    desk(&state, &v, &uri, &CallForm::default(), None, notice, None).await
}

pub async fn take(
    State(state): State<AppState>,
    uri: Uri,
    posted: Posted<CallForm>,
) -> Result<Response, ConsoleError> {
    let (v, form) = (&posted.viewer, &posted.form);
    let call = Call {
        village_code: form.village_code.trim().to_owned(),
        id_card: filled(&form.id_card),
        reporter_name: filled(&form.reporter_name),
        contact_phone: filled(&form.contact_phone),
        category: form.category.trim().to_owned(),
        description: form.description.trim().to_owned(),
        consent_to_checks: form.consent.is_some(),
    };
    match ops::take_call(&state, &v.caller, call).await {
        Ok(id) => Ok(see_other(&format!("{PATH}?taken={id}"))),
        Err(e) => {
            let why = correctable(v.lang, e, |f| form_label(v.lang, f))?;
            desk(&state, v, &uri, form, Some(&why), None, None).await
        }
    }
}

pub async fn find(
    State(state): State<AppState>,
    uri: Uri,
    posted: Posted<FindForm>,
) -> Result<Response, ConsoleError> {
    let v = &posted.viewer;
    let number = posted.form.id_card.trim();
    match ops::reports_about(&state, &v.caller, number).await {
        Ok(list) => {
            desk(
                &state,
                v,
                &uri,
                &CallForm::default(),
                None,
                None,
                Some((number, list)),
            )
            .await
        }
        Err(e) => {
            let why = correctable(v.lang, e, |f| form_label(v.lang, f))?;
            desk(
                &state,
                v,
                &uri,
                &CallForm::default(),
                Some(&why),
                None,
                None,
            )
            .await
        }
    }
}
