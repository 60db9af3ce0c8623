//! Attendance review: the month's sheets of the cadres a team leader oversees, one cadre's
//! days with their evidence, the decisions (approve, return with a comment, accept a doubted
//! event), and the township table as XLSX.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::{labels, registry};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::scope::{self, Scope};
use super::session::{Posted, Viewer, see_other};
use super::{P, Q, here, url_encode};
use crate::attendance::{DayState, Sheet, load};
use crate::export::Format;
use crate::service::attendance::{self as ops, Review, SheetView};
use crate::state::AppState;
use crate::store::CadreRow;

#[derive(Deserialize)]
pub struct ListQuery {
    division: Option<String>,
    month: Option<String>,
    /// `todo` (default: sheets waiting for a decision) or `all`.
    show: Option<String>,
}

/// One cadre's line of the list.
pub(super) struct Line {
    pub cadre: CadreRow,
    pub sheet: Sheet,
    pub review: &'static str,
}

/// The sheets of `cadres` for the month (the list's and the dashboard's).
pub(super) async fn lines(
    state: &AppState,
    cadres: Vec<CadreRow>,
    month: (i32, time::Month),
) -> Result<Vec<Line>, ConsoleError> {
    // All of them in a handful of queries: a county is 900 cadres.
    let sheets = load::sheets(state.store(), &cadres, month).await?;
    Ok(cadres
        .into_iter()
        .filter_map(|cadre| {
            // A cadre of two villages is listed once per village, with the same sheet.
            let found = sheets.get(&cadre.user_id)?;
            let (sheet, review) = (found.sheet.clone(), found.review_state());
            Some(Line {
                cadre,
                sheet,
                review,
            })
        })
        .collect())
}

/// The month's sheets of a division's cadres.
pub async fn list(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<ListQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    if !ops::REVIEWERS.contains(&v.caller.role) {
        // A first secretary reviews no one: their own sheet is the page.
        return Ok(see_other(&format!(
            "/console/attendance/{}",
            v.caller.user_id
        )));
    }
    let scope = Scope::of(&state, &v).await?;
    let month = ops::month_of(q.month.as_deref().filter(|m| !m.is_empty()))?;
    let month_text = ops::month_text(month);
    let Some(division) = scope.division(q.division.as_deref()) else {
        return Ok(scope::unassigned(
            &v,
            Nav::Attendance,
            l.t("考勤审核", "Attendance review"),
            &uri,
        ));
    };
    let cadres = ops::cadres_of(&state, &v.caller, &division, month).await?;
    let all = lines(&state, cadres, month).await?;
    let todo = q.show.as_deref() != Some("all");
    let waiting = all
        .iter()
        .filter(|x| matches!(x.review, "open" | "answered"))
        .count();
    let meeting = all.iter().filter(|x| x.sheet.meets_requirement).count();
    let shown: Vec<&Line> = all
        .iter()
        .filter(|x| !todo || matches!(x.review, "open" | "answered"))
        .collect();
    let xlsx = format!(
        "/console/attendance/table.xlsx?division={}&month={month_text}",
        url_encode(&division)
    );
    let body = html! {
        form.filters method="get" action="/console/attendance" {
            label { (l.t("范围", "Division")) select name="division" data-auto { (scope.division_options(&division)) } }
            label { (l.t("月份", "Month")) input type="month" name="month" value=(month_text); }
            label { (l.t("显示", "Show"))
                select name="show" data-auto {
                    option value="todo" selected[todo] { (l.t("待审核", "To review")) }
                    option value="all" selected[!todo] { (l.t("全部", "All")) }
                }
            }
            button type="submit" { (l.t("查看", "Show")) }
            a href=(xlsx) data-testid="xlsx" { (l.t("导出考勤表 (XLSX)", "Download table (XLSX)")) }
        }
        div.cards {
            div.card { div.muted { (l.t("驻村干部", "Cadres")) } div.figure data-testid="cadres" { (all.len()) } }
            div.card { div.muted { (l.t("在村达标 (≥20天)", "Meet 20 days")) } div.figure { (meeting) } }
            div.card { div.muted { (l.t("待审核", "Waiting for review")) } div.figure { (waiting) } }
        }
        div.scroll {
            table data-testid="sheets" {
                thead { tr {
                    th { (l.t("村", "Village")) } th { (l.t("姓名", "Name")) } th { (l.t("职务", "Role")) }
                    th.num { (l.t("在村", "Present")) } th.num { (l.t("公出/培训", "Trip/training")) }
                    th.num { (l.t("请假", "Leave")) } th.num { (l.t("存疑", "Doubtful")) } th.num { (l.t("缺勤", "Absent")) }
                    th { (l.t("达标", "Meets")) } th { (l.t("审核", "Review")) }
                } }
                tbody {
                    @for x in &shown {
                        tr {
                            td { (scope.name(&x.cadre.division_code)) }
                            td { a href=(format!("/console/attendance/{}?month={month_text}", x.cadre.user_id)) {
                                (x.cadre.display_name.as_deref().unwrap_or(&x.cadre.username)) } }
                            td { (l.role_name(&x.cadre.role)) }
                            td.num { (x.sheet.present) } td.num { (x.sheet.exempt) } td.num { (x.sheet.leave) }
                            td.num { (x.sheet.doubtful) } td.num { (x.sheet.absent) }
                            td { (meets(l, x.sheet.meets_requirement)) }
                            td { (review_badge(l, x.review)) }
                        }
                    }
                    @if shown.is_empty() {
                        tr { td colspan="10" .muted { (l.t("没有需要审核的考勤表", "No sheets to review")) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Attendance,
        l.t("考勤审核", "Attendance review"),
        &here(&uri),
        body,
    )
    .into_response())
}

fn meets(l: super::i18n::Lang, yes: bool) -> Markup {
    html! {
        @if yes { span.badge.ok { (l.t("达标", "Yes")) } } @else { span.badge.bad { (l.t("未达标", "No")) } }
    }
}

pub(super) fn review_badge(l: super::i18n::Lang, state: &str) -> Markup {
    let class = match state {
        "approved" => "badge ok",
        "returned" => "badge bad",
        "answered" => "badge warn",
        _ => "badge",
    };
    html! { span class=(class) data-testid="review-state" { (l.review_state(state)) } }
}

#[derive(Deserialize)]
pub struct SheetQuery {
    month: Option<String>,
    done: Option<String>,
}

/// One cadre's month.
pub async fn sheet(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    P(user_id): P<Uuid>,
    Q(q): Q<SheetQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let month = q.month.as_deref().filter(|m| !m.is_empty());
    let view = ops::sheet_of(&state, &v.caller, Some(user_id), month).await?;
    let cadre = state
        .store()
        .user_by_id(user_id)
        .await?
        .ok_or_else(ConsoleError::not_found)?;
    let name = cadre.display_name.clone().unwrap_or(cadre.username.clone());
    let scope = Scope::of(&state, &v).await?;
    let reviewer = ops::REVIEWERS.contains(&v.caller.role) && user_id != v.caller.user_id;
    let people = scope::people(&state, &scope).await?;
    let who = |id: Uuid| scope::name_of(l, &people, id);
    let done = q.done.as_deref().map(|d| match d {
        "approve" => l.t("已审核通过并锁定", "Approved and locked"),
        "return" => l.t(
            "已退回，干部会收到意见",
            "Returned; the cadre sees your comment",
        ),
        _ => l.t("已接受该记录", "The event now counts"),
    });
    let title = format!("{} · {}", name, view.sheet.month);
    let photos = photos_of(&state, user_id, &view.sheet).await?;
    let body = sheet_body(&v, &view, &scope, reviewer, &who, done, &photos);
    Ok(layout::page(&v, Nav::Attendance, &title, &here(&uri), body).into_response())
}

/// The photos of the month's visits and checks, by record: the evidence a reviewer looks at.
async fn photos_of(
    state: &AppState,
    user_id: Uuid,
    sheet: &Sheet,
) -> Result<HashMap<Uuid, Vec<String>>, ConsoleError> {
    let shown: HashSet<Uuid> = sheet
        .days
        .iter()
        .flat_map(|d| d.events.iter().map(|e| e.record_id))
        .collect();
    let mut out = HashMap::new();
    for entity in registry::AT_HOUSEHOLD {
        for r in state.store().records_created_by(user_id, entity).await? {
            if !shown.contains(&r.id) {
                continue;
            }
            let hashes: Vec<String> = r
                .fields
                .0
                .get("photos")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect();
            if !hashes.is_empty() {
                out.insert(r.id, hashes);
            }
        }
    }
    Ok(out)
}

fn sheet_body(
    v: &Viewer,
    view: &SheetView,
    scope: &Scope,
    reviewer: bool,
    who: &dyn Fn(Uuid) -> String,
    done: Option<&str>,
    photos: &HashMap<Uuid, Vec<String>>,
) -> Markup {
    let l = v.lang;
    let s = &view.sheet;
    let action = format!("/console/attendance/{}/review", s.user_id);
    let offset = s
        .days
        .first()
        .and_then(|d| crate::clock::parse_date(&d.date))
        .map_or(0, |d| d.weekday().number_days_from_monday());
    let can_decide = reviewer && !view.review.locked;
    html! {
        (layout::flash(done))
        div.cards {
            div.card {
                div.muted { (l.t("在村天数 (含公出/培训) / 要求", "Days present (with trips) / required")) }
                div.figure data-testid="present" { (s.present + s.exempt) " / " (s.required) }
                (meets(l, s.meets_requirement))
            }
            div.card {
                div.muted { (l.t("请假 · 存疑 · 缺勤", "Leave · doubtful · absent")) }
                div.figure { (s.leave) " · " (s.doubtful) " · " (s.absent) }
            }
            div.card {
                div.muted { (l.t("审核状态", "Review")) }
                div.figure { (review_badge(l, view.review.state)) }
            }
        }
        @if can_decide {
            div.card data-testid="decide" {
                form.inline method="post" action=(action) data-confirm=(l.t("审核通过后考勤表将锁定，确定吗？", "Approving locks the sheet. Approve?")) {
                    (layout::csrf(v))
                    input type="hidden" name="month" value=(s.month);
                    input type="hidden" name="action" value="approve";
                    button type="submit" data-testid="approve" { (l.t("审核通过", "Approve")) }
                }
                form.inline method="post" action=(action) {
                    (layout::csrf(v))
                    input type="hidden" name="month" value=(s.month);
                    input type="hidden" name="action" value="return";
                    input name="comment" required maxlength="1000" size="40" placeholder=(l.t("退回原因（必填）", "Why it is returned (required)"));
                    button.secondary type="submit" data-testid="return" { (l.t("退回", "Return")) }
                }
            }
        }
        @if !view.amendments.is_empty() {
            div.card {
                h2 { (l.t("审核后的变化", "Changes since approval")) }
                ul { @for a in &view.amendments { li { (a.date) ": " (a.approved.as_str().unwrap_or("")) " → " (a.now.as_str().unwrap_or("")) } } }
            }
        }
        h2 { (l.t("每日记录", "Days")) }
        div.days data-testid="days" {
            @for w in WEEKDAYS { div.weekday { (l.t(w.0, w.1)) } }
            @for _ in 0..offset { div {} }
            @for d in &s.days {
                div class=(format!("day {}", day_class(d.state))) data-date=(d.date) {
                    div.date { (d.date.get(8..).unwrap_or(&d.date)) " " span.muted { (l.day_state(d.state)) } }
                    @for e in &d.events {
                        div.event {
                            (e.time) " " (l.entity(&e.entity)) " · " (scope.name(&e.village))
                            @if e.accepted { " " span.badge.ok { (l.t("已接受", "accepted")) } }
                            @else if !e.counts { " " span.badge.warn title=(e.doubts.join(", ")) { (doubt_text(l, &e.doubts)) } }
                            @if let Some(hashes) = photos.get(&e.record_id) {
                                div.photos {
                                    @for h in hashes {
                                        a href=(format!("/console/photos/{h}")) target="_blank" {
                                            img src=(format!("/console/photos/{h}/thumb")) alt=(l.t("现场照片", "photo")) loading="lazy";
                                        }
                                    }
                                }
                            }
                            @if can_decide && !e.counts {
                                form.inline method="post" action=(action) {
                                    (layout::csrf(v))
                                    input type="hidden" name="month" value=(s.month);
                                    input type="hidden" name="action" value="accept_event";
                                    input type="hidden" name="event_id" value=(e.record_id);
                                    input name="comment" required maxlength="1000" size="12" placeholder=(l.t("说明", "Why"));
                                    button.secondary type="submit" { (l.t("接受", "Accept")) }
                                }
                            }
                        }
                    }
                    @for a in &d.absences {
                        div.muted { (absence_kind(l, &a.kind)) " (" (a.status) ")" }
                    }
                }
            }
        }
        @if !view.review.history.is_empty() {
            h2 { (l.t("审核记录", "Review history")) }
            table data-testid="history" {
                thead { tr { th { (l.t("时间", "When")) } th { (l.t("操作", "Action")) } th { (l.t("人员", "By")) } th { (l.t("意见", "Comment")) } } }
                tbody {
                    @for h in &view.review.history {
                        tr {
                            td { (layout::when(h.at_ms)) }
                            td { (action_text(l, &h.action)) }
                            td { (who(h.by_user)) }
                            td { (h.comment.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

/// Monday first, as Chinese calendars are printed.
const WEEKDAYS: [(&str, &str); 7] = [
    ("一", "Mon"),
    ("二", "Tue"),
    ("三", "Wed"),
    ("四", "Thu"),
    ("五", "Fri"),
    ("六", "Sat"),
    ("日", "Sun"),
];

fn day_class(state: DayState) -> &'static str {
    match state {
        DayState::Present => "present",
        DayState::Exempt => "exempt",
        DayState::Leave => "leave",
        DayState::Doubtful => "doubtful",
        DayState::Absent => "absent",
        DayState::Future => "future",
    }
}

fn action_text(l: super::i18n::Lang, action: &str) -> &'static str {
    match action {
        "approve" => l.t("审核通过", "Approved"),
        "return" => l.t("退回", "Returned"),
        "reply" => l.t("干部答复", "Cadre replied"),
        _ => l.t("接受记录", "Accepted an event"),
    }
}

fn absence_kind(l: super::i18n::Lang, kind: &str) -> &'static str {
    labels::absence_kind(kind).map_or(l.t("公出", "Official trip"), |k| l.pick(k))
}

/// Why an event does not count, in words.
fn doubt_text(l: super::i18n::Lang, doubts: &[String]) -> String {
    if doubts.is_empty() {
        return l
            .t("不在所驻村", "outside the assigned villages")
            .to_owned();
    }
    doubts
        .iter()
        .map(|d| labels::doubt(d).map_or(l.t("定位存疑", "doubted fix"), |x| l.pick(x)))
        .collect::<Vec<_>>()
        .join("、")
}

#[derive(Deserialize)]
pub struct ReviewForm {
    month: String,
    action: String,
    comment: Option<String>,
    event_id: Option<String>,
}

/// A decision on a sheet.
pub async fn review(
    State(state): State<AppState>,
    P(user_id): P<Uuid>,
    posted: Posted<ReviewForm>,
) -> Result<Response, ConsoleError> {
    let f = posted.form;
    let event_id = match f.event_id.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => Some(
            e.parse::<Uuid>()
                .map_err(|_| ConsoleError::bad("event_id is not an id"))?,
        ),
        None => None,
    };
    let month = f.month.clone();
    ops::decide(
        &state,
        &posted.viewer.caller,
        Review {
            user_id,
            month: f.month,
            action: f.action.clone(),
            comment: f.comment,
            event_id,
        },
    )
    .await?;
    Ok(see_other(&format!(
        "/console/attendance/{user_id}?month={}&done={}",
        url_encode(&month),
        url_encode(&f.action)
    )))
}

#[derive(Deserialize)]
pub struct XlsxQuery {
    division: String,
    month: String,
}

/// The township table, the same file the API gives.
pub async fn xlsx(
    State(state): State<AppState>,
    v: Viewer,
    Q(q): Q<XlsxQuery>,
) -> Result<Response, ConsoleError> {
    let file = ops::table_file(&state, &v.caller, &q.division, &q.month, Format::Xlsx).await?;
    Ok(crate::web::attachment(
        file.bytes,
        file.content_type,
        &file.name,
    ))
}
