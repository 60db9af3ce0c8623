//! The frame every page shares: the top bar (who is signed in, the language toggle, sign-out),
//! the navigation, and small pieces forms and lists repeat.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::i18n::Lang;
use super::session::Viewer;

/// The sections of the console, in the navigation's order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Attendance,
    Tasks,
    Households,
    Cases,
    Reports,
    Conflicts,
    Map,
    Roster,
    Accounts,
    Forms,
    Staffing,
    Hotline,
}

impl Nav {
    const ALL: [Nav; 13] = [
        Nav::Dashboard,
        Nav::Households,
        Nav::Attendance,
        Nav::Tasks,
        Nav::Cases,
        Nav::Reports,
        Nav::Conflicts,
        Nav::Map,
        Nav::Roster,
        Nav::Accounts,
        Nav::Forms,
        Nav::Staffing,
        Nav::Hotline,
    ];

    fn href(self) -> &'static str {
        match self {
            Nav::Dashboard => "/console/",
            Nav::Households => "/console/households",
            Nav::Attendance => "/console/attendance",
            Nav::Tasks => "/console/tasks",
            Nav::Cases => "/console/cases",
            Nav::Reports => "/console/reports",
            Nav::Conflicts => "/console/conflicts",
            Nav::Map => "/console/map",
            Nav::Roster => "/console/roster",
            Nav::Accounts => "/console/accounts",
            Nav::Forms => "/console/forms",
            Nav::Staffing => "/console/staffing",
            Nav::Hotline => "/console/hotline",
        }
    }

    /// The roster import and the accounts are for the county's office only, the survey forms
    /// for admins (a form serves every county), the village teams for those who oversee
    /// villages, and the hotline desk for its operators, who work at nothing else here; the
    /// other sections answer every other role with what it may see.
    fn shown_to(self, role: fieldsync_protocol::Role) -> bool {
        use fieldsync_protocol::Role::{Admin, CountyOfficer, HotlineOperator};
        if self == Nav::Hotline || role == HotlineOperator {
            return self == Nav::Hotline && role == HotlineOperator;
        }
        match self {
            Nav::Forms => role == Admin,
            Nav::Roster | Nav::Accounts => matches!(role, Admin | CountyOfficer),
            Nav::Staffing => crate::service::staffing::READERS.contains(&role),
            _ => true,
        }
    }

    fn label(self, l: Lang) -> &'static str {
        match self {
            Nav::Dashboard => l.t("概览", "Overview"),
            Nav::Attendance => l.t("考勤审核", "Attendance"),
            Nav::Households => l.t("农户档案", "Households"),
            Nav::Tasks => l.t("帮扶任务", "Tasks"),
            Nav::Cases => l.t("监测对象", "Cases"),
            Nav::Reports => l.t("农户申报", "Self-reports"),
            Nav::Conflicts => l.t("数据冲突", "Conflicts"),
            Nav::Map => l.t("地图", "Map"),
            Nav::Roster => l.t("户籍导入", "Roster import"),
            Nav::Accounts => l.t("账户管理", "Accounts"),
            Nav::Forms => l.t("调查表", "Survey forms"),
            Nav::Staffing => l.t("驻村力量", "Village teams"),
            Nav::Hotline => l.t("12317 受理台", "12317 hotline desk"),
        }
    }
}

fn head(l: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (l.t("审核工作台", "Review console")) }
            link rel="stylesheet" href=(assets::CSS_PATH);
            script src=(assets::JS_PATH) defer {}
        }
    }
}

/// A page of the signed-in console. `here` is the page's own path and query (for the
/// language toggle to come back to).
pub fn page(v: &Viewer, nav: Nav, title: &str, here: &str, body: Markup) -> Html<String> {
    let l = v.lang;
    Html(
        html! {
            (DOCTYPE)
            html lang=(l.html()) {
                (head(l, title))
                body {
                    header.top {
                        a.brand href="/console/" { (l.t("防返贫监测 · 审核工作台", "Monitoring · Review console")) }
                        span.who data-testid="who" { (v.name) " · " (l.role(v.caller.role)) }
                        span.lang { (lang_links(l, here)) }
                        form.signout method="post" action="/console/logout" {
                            (csrf(v))
                            button type="submit" { (l.t("退出", "Sign out")) }
                        }
                    }
                    nav.sections {
                        @for n in Nav::ALL.into_iter().filter(|n| n.shown_to(v.caller.role)) {
                            a href=(n.href()) class=[(n == nav).then_some("active")] { (n.label(l)) }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// A page with a form: `422` when it comes back refused (the reason and what was typed on
/// it), `200` otherwise.
pub fn form_page(
    v: &Viewer,
    nav: Nav,
    title: &str,
    here: &str,
    body: Markup,
    refused: bool,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = if refused {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    (status, page(v, nav, title, here, body)).into_response()
}

/// A page without the frame (the sign-in).
pub fn bare(l: Lang, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(l.html()) {
                (head(l, title))
                body.bare { (body) }
            }
        }
        .into_string(),
    )
}

pub fn lang_links(l: Lang, here: &str) -> Markup {
    let link = |code: &str| format!("/console/lang?to={code}&next={}", super::url_encode(here));
    html! {
        @if l == Lang::Zh { b { "中文" } } @else { a href=(link("zh")) { "中文" } }
        " | "
        @if l == Lang::En { b { "English" } } @else { a href=(link("en")) { "English" } }
    }
}

/// The hidden field every form carries.
pub fn csrf(v: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(v.csrf); }
}

/// A notice after a form was applied (`?done=…`).
pub fn flash(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text { p.flash.good role="status" data-testid="flash" { (t) } }
    }
}

/// Local date and time of a Unix millisecond timestamp, in Beijing time.
pub fn when(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(crate::clock::CHINA);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// Previous / next links of a paged list.
pub fn pager(l: Lang, page: usize, pages: usize, link: impl Fn(usize) -> String) -> Markup {
    html! {
        @if pages > 1 {
            nav.pager {
                @if page > 1 { a rel="prev" href=(link(page - 1)) { "← " (l.t("上一页", "Previous")) } }
                span { (page) " / " (pages) }
                @if page < pages { a rel="next" href=(link(page + 1)) { (l.t("下一页", "Next")) " →" } }
            }
        }
    }
}
