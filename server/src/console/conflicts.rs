//! Sync conflicts waiting for a reviewer: for each, the value the phone sent, the value the
//! server had and the value the merge kept, side by side, with the decision as buttons. The
//! list, the disclosure of personal values, the audit of their reading and the decision are
//! the operations' (`crate::service::conflicts`), as the API's are.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::ConsoleError;
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::scope::{self, Scope};
use super::session::{Posted, Viewer, see_other};
use super::{P, Q, here};
use crate::service::conflicts::{self as ops, ConflictQuery, ConflictView, StatusFilter};
use crate::state::AppState;
use crate::sync::resolve::{Choice, Decision};

const PAGE: i64 = 20;

#[derive(Deserialize)]
pub struct ListQuery {
    /// `open` (default) or `resolved`.
    status: Option<String>,
    after: Option<Uuid>,
    done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<ListQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let resolved = q.status.as_deref() == Some("resolved");
    let page = ops::list(
        &state,
        &v.caller,
        ConflictQuery {
            status: if resolved {
                StatusFilter::Resolved
            } else {
                StatusFilter::Open
            },
            record_id: None,
            household_id: None,
            after: q.after,
            limit: Some(PAGE),
        },
    )
    .await?;
    let scope = Scope::of(&state, &v).await?;
    let people = scope::people(&state, &scope).await?;
    let who = |id: Uuid| scope::name_of(l, &people, id);
    let records: Vec<Uuid> = page.conflicts.iter().map(|c| c.record_id).collect();
    let heads = crate::service::work::heads_of(&state, &v.caller, &records).await?;
    let status = if resolved { "resolved" } else { "open" };
    let body = html! {
        @if q.done.is_some() { (layout::flash(Some(l.t("已处理该冲突", "The conflict is resolved")))) }
        form.filters method="get" action="/console/conflicts" {
            label { (l.t("状态", "Status"))
                select name="status" data-auto {
                    option value="open" selected[!resolved] { (l.t("待处理", "Waiting")) }
                    option value="resolved" selected[resolved] { (l.t("已处理", "Resolved")) }
                }
            }
            button type="submit" { (l.t("查看", "Show")) }
        }
        p.muted { (l.t(
            "两部手机离线时改了同一项，合并保留了一个值，另一个值在这里等您决定。",
            "Two phones changed the same field while offline; the merge kept one value and the other waits here for your decision."
        )) }
        @for c in &page.conflicts { (card(&v, c, &scope, heads.get(&c.record_id), &who)) }
        @if page.conflicts.is_empty() { p.muted data-testid="no-conflicts" { (l.t("没有待处理的冲突", "No conflicts waiting")) } }
        @if let Some(next) = page.next {
            nav.pager { a rel="next" href=(format!("/console/conflicts?status={status}&after={next}")) { (l.t("下一页", "Next")) " →" } }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Conflicts,
        l.t("数据冲突", "Sync conflicts"),
        &here(&uri),
        body,
    )
    .into_response())
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn card(
    v: &Viewer,
    c: &ConflictView,
    scope: &Scope,
    head: Option<&String>,
    who: &dyn Fn(Uuid) -> String,
) -> Markup {
    let l = v.lang;
    let action = format!("/console/conflicts/{}/resolve", c.id);
    html! {
        div.card data-testid="conflict" data-id=(c.id) {
            div {
                strong { (l.entity(&c.entity)) " · " (l.field(&c.entity, &c.field)) }
                " " span.badge { (kind_name(l, &c.kind)) }
                " " span.muted {
                    (scope.name(&c.scope))
                    @if let Some(h) = head { " · " span.household { (l.t("户主 ", "Head: ")) (h) } }
                    " · " (who(c.user_id)) " · " (layout::when(c.created_at_ms))
                }
            }
            div.side-by-side {
                div { h2 { (l.t("手机提交的值", "Sent by the phone")) } pre data-testid="yours" { (shown(&c.yours)) } }
                div { h2 { (l.t("服务器原有的值", "On the server before")) } pre data-testid="theirs" { (shown(&c.theirs)) } }
                div { h2 { (l.t("现在保留的值", "Kept now")) } pre data-testid="kept" { (shown(&c.kept)) } }
            }
            @if let Some(r) = &c.resolution {
                p { (l.t("处理结果：", "Decision: ")) (choice_name(l, r.choice)) " → " (shown(&r.value))
                    @if let Some(n) = &r.note { " (" (n) ")" } }
            } @else {
                form.inline method="post" action=(action) {
                    (layout::csrf(v))
                    input name="note" maxlength="1000" size="30" placeholder=(l.t("备注（可选）", "Note (optional)"));
                    button type="submit" name="choice" value="kept" data-testid="keep" { (l.t("保留现值", "Keep")) }
                    button.secondary type="submit" name="choice" value="yours" { (l.t("采用手机的值", "Take the phone's")) }
                    button.secondary type="submit" name="choice" value="theirs" { (l.t("采用原值", "Take the earlier")) }
                }
                form.inline method="post" action=(action) {
                    (layout::csrf(v))
                    input type="hidden" name="choice" value="value";
                    input name="value" required size="30" placeholder=(l.t("更正后的值", "Corrected value"));
                    input name="note" maxlength="1000" size="20" placeholder=(l.t("备注", "Note"));
                    button.secondary type="submit" { (l.t("改为此值", "Set this value")) }
                }
            }
        }
    }
}

fn kind_name(l: Lang, kind: &str) -> &'static str {
    match kind {
        "delete" => l.t("删除与修改冲突", "Deleted while edited"),
        _ => l.t("同一项被改了两次", "Same field changed twice"),
    }
}

fn choice_name(l: Lang, c: Choice) -> &'static str {
    match c {
        Choice::Kept => l.t("保留现值", "kept"),
        Choice::Yours => l.t("采用手机的值", "the phone's value"),
        Choice::Theirs => l.t("采用原值", "the earlier value"),
        Choice::Value => l.t("更正", "corrected"),
    }
}

#[derive(Deserialize)]
pub struct ResolveForm {
    choice: String,
    value: Option<String>,
    note: Option<String>,
}

/// A decision. A corrected value is taken as JSON when it reads as
/// JSON (a number, `true`), else as text.
pub async fn resolve(
    State(state): State<AppState>,
    P(id): P<Uuid>,
    posted: Posted<ResolveForm>,
) -> Result<Response, ConsoleError> {
    let f = posted.form;
    let choice = match f.choice.as_str() {
        "kept" => Choice::Kept,
        "yours" => Choice::Yours,
        "theirs" => Choice::Theirs,
        "value" => Choice::Value,
        _ => return Err(ConsoleError::bad("choice is kept, yours, theirs or value")),
    };
    let value = f
        .value
        .filter(|_| choice == Choice::Value)
        .map(|text| serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)));
    let note = f
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    ops::resolve(
        &state,
        &posted.viewer.caller,
        id,
        &Decision {
            choice,
            value,
            note,
        },
    )
    .await?;
    Ok(see_other("/console/conflicts?done=1"))
}
