//! The overview of a township or county for a month: visit coverage, check failures by type,
//! households under monitoring by type, and attendance compliance, each with a chart.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::registry;
use maud::html;
use serde::Deserialize;

use super::charts::{self, AMBER, BLUE, Bar, GREEN, RED, percent};
use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::scope::{self, Scope};
use super::session::Viewer;
use super::{Q, here};
use crate::attendance::load;
use crate::service::attendance as ops;
use crate::service::work::text;
use crate::state::AppState;
use crate::store::VillageMonth;

#[derive(Deserialize)]
pub struct DashboardQuery {
    division: Option<String>,
    month: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<DashboardQuery>,
) -> Result<Response, ConsoleError> {
    // Hotline operators work at their desk only.
    if v.caller.role == fieldsync_protocol::Role::HotlineOperator {
        return Ok(super::session::see_other("/console/hotline"));
    }
    let l = v.lang;
    let scope = Scope::of(&state, &v).await?;
    let month = ops::month_of(q.month.as_deref().filter(|m| !m.is_empty()))?;
    let month_text = ops::month_text(month);
    let Some(division) = scope.division(q.division.as_deref()) else {
        return Ok(scope::unassigned(
            &v,
            Nav::Dashboard,
            l.t("概览", "Overview"),
            &uri,
        ));
    };
    if !scope.covers(&division) {
        return Err(ConsoleError::not_found());
    }
    let (from, to) = load::month_ms(month).ok_or_else(|| ConsoleError::bad("no such month"))?;
    let villages: BTreeMap<String, VillageMonth> = state
        .store()
        .village_months(&division, from, to)
        .await?
        .into_iter()
        .filter(|(code, _)| scope.villages.contains(code))
        .collect();
    // Rows: the villages of a township, the townships of anything larger.
    let group_len = if division.len() >= 9 { 12 } else { 9 };
    let mut groups: BTreeMap<String, VillageMonth> = BTreeMap::new();
    let mut checks: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (code, m) in &villages {
        let g = groups
            .entry(code.get(..group_len).unwrap_or(code).to_owned())
            .or_default();
        g.households += m.households;
        g.visited += m.visited;
        for (entity, n, failed) in &m.checks {
            let c = checks.entry(entity.clone()).or_default();
            c.0 += n;
            c.1 += failed;
        }
    }
    let households: i64 = groups.values().map(|g| g.households).sum();
    let visited: i64 = groups.values().map(|g| g.visited).sum();

    // Households under monitoring: cases approved or being helped, by type.
    let by_type = if crate::access::allowed(
        v.caller.role,
        registry::CASE.name,
        crate::access::Action::Read,
    ) {
        // Counted, not shown: read from the store without the list's disclosure and the
        // audit of reading each case's description (the dashboard shows none of them).
        let below: std::collections::BTreeSet<String> = scope
            .villages
            .iter()
            .filter(|code| code.starts_with(division.as_str()))
            .cloned()
            .collect();
        let cases = state
            .store()
            .work_records(registry::CASE.name, Some(&below))
            .await?;
        let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
        for c in cases
            .iter()
            .filter(|c| matches!(text(&c.fields.0, "state"), Some("approved" | "helping")))
        {
            *by_type
                .entry(text(&c.fields.0, "case_type").unwrap_or("").to_owned())
                .or_default() += 1;
        }
        Some(by_type)
    } else {
        None
    };

    // Attendance compliance of the month's cadres.
    let attendance = if ops::REVIEWERS.contains(&v.caller.role) {
        let cadres = ops::cadres_of(&state, &v.caller, &division, month).await?;
        let lines = super::attendance::lines(&state, cadres, month).await?;
        let meeting = lines.iter().filter(|x| x.sheet.meets_requirement).count();
        Some((meeting as i64, lines.len() as i64))
    } else {
        None
    };

    let coverage_bars: Vec<Bar> = groups
        .iter()
        .map(|(code, g)| Bar {
            label: scope.name(code).to_owned(),
            value: if g.households > 0 {
                g.visited as f64 / g.households as f64
            } else {
                0.0
            },
            text: format!(
                "{} ({}/{})",
                percent(g.visited, g.households),
                g.visited,
                g.households
            ),
            colour: if g.households > 0 && g.visited * 10 >= g.households * 8 {
                GREEN
            } else {
                AMBER
            },
        })
        .collect();
    let check_bars: Vec<Bar> = registry::CHECK_NAMES
        .iter()
        .map(|c| {
            let (n, failed) = checks.get(*c).copied().unwrap_or_default();
            Bar {
                label: l.entity(c).to_owned(),
                value: failed as f64,
                text: format!("{failed} / {n}"),
                colour: RED,
            }
        })
        .collect();
    let body = html! {
        form.filters method="get" action="/console/" {
            label { (l.t("范围", "Division")) select name="division" data-auto { (scope.division_options(&division)) } }
            label { (l.t("月份", "Month")) input type="month" name="month" value=(month_text); }
            button type="submit" { (l.t("查看", "Show")) }
        }
        div.cards {
            div.card {
                div.muted { (l.t("本月走访覆盖", "Households visited this month")) }
                div.figure data-testid="coverage" { (percent(visited, households)) }
                div.muted { (visited) " / " (households) " " (l.t("户", "households")) }
            }
            div.card {
                div.muted { (l.t("本月核查未通过", "Checks failed this month")) }
                div.figure { (checks.values().map(|c| c.1).sum::<i64>()) }
                div.muted { (l.t("共核查", "of")) " " (checks.values().map(|c| c.0).sum::<i64>()) }
            }
            @if let Some(t) = &by_type {
                div.card {
                    div.muted { (l.t("纳入监测户", "Households under monitoring")) }
                    div.figure { (t.values().sum::<i64>()) }
                }
            }
            @if let Some((meeting, all)) = attendance {
                div.card {
                    div.muted { (l.t("驻村考勤达标", "Cadres meeting 20 days")) }
                    div.figure data-testid="compliance" { (percent(meeting, all)) }
                    div.muted { (meeting) " / " (all) }
                }
            }
        }
        div.cards.charts {
            div.card { (charts::bars(l.t("走访覆盖率", "Visit coverage"), &coverage_bars, Some(1.0))) }
            div.card { (charts::bars(l.t("核查未通过（按类型）", "Failed checks by type"), &check_bars, None)) }
            @if let Some(t) = &by_type {
                div.card { (charts::bars(l.t("监测户（按类型）", "Monitored households by type"),
                    &crate::cases::machine::CASE_TYPES.iter().map(|ty| {
                        let n = t.get(*ty).copied().unwrap_or(0);
                        Bar { label: l.monitoring_type(ty).to_owned(), value: n as f64, text: n.to_string(), colour: BLUE }
                    }).collect::<Vec<_>>(), None)) }
            }
            @if let Some((meeting, all)) = attendance {
                div.card { (charts::bars(l.t("驻村考勤", "Attendance"), &[
                    Bar { label: l.t("达标", "20 days or more").to_owned(), value: meeting as f64, text: meeting.to_string(), colour: GREEN },
                    Bar { label: l.t("未达标", "Fewer").to_owned(), value: (all - meeting) as f64, text: (all - meeting).to_string(), colour: RED },
                ], None)) }
            }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Dashboard,
        l.t("概览", "Overview"),
        &here(&uri),
        body,
    )
    .into_response())
}
