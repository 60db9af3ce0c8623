//! The roster import for the county's office (`service::roster::runs`): upload the national
//! system's spreadsheet, read the dry run's report per village, confirm, watch the progress,
//! download every row's outcome. Pages refresh themselves while a run goes on (a meta refresh:
//! no script needed on the offices' old browsers).

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::{Posted, Viewer, see_other};
use super::upload::Upload;
use super::{P, here};
use crate::service::roster::report::{Counts, Outcome};
use crate::service::roster::runs::{self, MAX_FILE_BYTES, RunView};
use crate::state::AppState;

/// Seconds between refreshes of a page whose run goes on.
const REFRESH_S: u32 = 2;

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let runs = runs::list(&state, &v.caller).await?;
    let body = html! {
        p.muted { (l.t(
            "上传全国防返贫监测信息系统导出的花名册（XLSX、XLS 或 CSV，一人一行，按户编号归户）。先检查，看清每个村新增、变更和有问题的行，确认后再导入。手机上改过的项不会被覆盖：文件也改了同一项时，两个值都留给您审核。",
            "Upload the roster exported from the national monitoring system (XLSX, XLS or CSV, one row per person, grouped by household number). It is checked first: you see what is new, changed or wrong in each village, then confirm the import. What cadres corrected on phones is never overwritten: where the file changed the same field, both values wait for your review."
        )) }
        form.card method="post" action="/console/roster" enctype="multipart/form-data" data-testid="upload" {
            (layout::csrf(&v))
            label { (l.t("花名册文件", "Roster file")) " "
                input type="file" name="file" required accept=".xlsx,.xls,.csv"; }
            label { (l.t("对照表（可选，本县表头与全国不同时）", "Mapping file (optional, when the county's headers differ)")) " "
                input type="file" name="mapping" accept=".toml,.json"; }
            button type="submit" { (l.t("上传并检查", "Upload and check")) }
        }
        h2 { (l.t("最近的导入", "Recent imports")) }
        @if runs.is_empty() { p.muted { (l.t("还没有导入过", "No imports yet")) } }
        @else {
            table {
                thead { tr {
                    th { (l.t("文件", "File")) } th { (l.t("上传时间", "Uploaded")) } th { (l.t("状态", "State")) }
                } }
                tbody { @for r in &runs { tr {
                    td { a href=(format!("/console/roster/{}", r.id)) { (r.file_name) } }
                    td { (layout::when(r.created_at)) }
                    td { (state_name(l, r)) }
                } } }
            }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Roster,
        l.t("户籍导入", "Roster import"),
        &here(&uri),
        body,
    )
    .into_response())
}

fn state_name(l: Lang, r: &RunView) -> &'static str {
    if r.stalled {
        return l.t("已中断，可重新开始", "Stopped; start it again");
    }
    match r.state.as_str() {
        "checking" => l.t("正在检查", "Checking"),
        "checked" => l.t("已检查，待确认", "Checked, waiting for you"),
        "importing" => l.t("正在导入", "Importing"),
        "imported" => l.t("已导入", "Imported"),
        _ => l.t("失败", "Failed"),
    }
}

/// The upload: the CSRF token first (the form puts it first), then the file and the mapping.
pub async fn upload(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Response, ConsoleError> {
    let wanted = [("file", MAX_FILE_BYTES), ("mapping", 1024 * 1024)];
    let mut files = upload.files(&wanted).await?;
    let mapping = files.remove("mapping").map(|m| m.bytes);
    let Some(file) = files.remove("file") else {
        return Err(ConsoleError::bad("choose the roster file to upload"));
    };
    let caller = &upload.viewer.caller;
    let id = runs::upload(&state, caller, &file.name, file.bytes, mapping).await?;
    Ok(see_other(&format!("/console/roster/{id}")))
}

pub async fn show(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    P(id): P<Uuid>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let run = runs::view(&state, &v.caller, id).await?;
    let body = html! {
        @if run.running() {
            meta http-equiv="refresh" content=(REFRESH_S);
            p data-testid="progress" {
                (state_name(l, &run)) " "
                progress max=(run.total.max(1)) value=(run.done) {}
                " " (run.done) " / " (run.total) " " (l.t("户", "households"))
            }
        } @else {
            p data-testid="state" { strong { (state_name(l, &run)) } }
        }
        @if let Some(e) = &run.error { p.flash.bad data-testid="error" { (e) } }
        @if let Some(s) = &run.summary {
            p {
                @if let Some(enc) = &s.encoding { (l.t("CSV 编码：", "CSV encoding: ")) (enc) " · " }
                (s.rows_read) (l.t(" 行人员数据", " person rows"))
            }
            @if !s.unknown_columns.is_empty() {
                p.muted { (l.t("未导入的列（不认识，可用对照表指定）：", "Columns not imported (not known; a mapping file can name them): "))
                    (s.unknown_columns.join("、")) }
            }
            table data-testid="villages" {
                thead { tr {
                    th { (l.t("村", "Village")) }
                    th { (l.t("户：新增/变更/无变化", "Households: new/changed/same")) }
                    th { (l.t("人：新增/变更/无变化", "People: new/changed/same")) }
                    th { (if s.dry_run { l.t("将产生冲突", "Would conflict") } else { l.t("冲突（待审核）", "Conflicts (for review)") }) }
                    th { (l.t("问题行", "Bad rows")) }
                    th { (l.t("文件中已没有", "No longer in file")) }
                } }
                tbody {
                    @for (village, c) in &s.villages { (counts_row(l, village, c)) }
                    (counts_row(l, "all", &s.totals))
                }
            }
            @if s.problem_count > 0 {
                h2 { (l.t("需要看的行", "Rows to look at")) " (" (s.problem_count) ")" }
                table data-testid="problems" {
                    thead { tr { th { (l.t("行号", "Line")) } th { (l.t("编号", "Number")) } th { (l.t("情况", "What")) } th { (l.t("字段/原因", "Fields / reason")) } } }
                    tbody { @for p in &s.problems { tr {
                        td { (p.line) } td { (p.number) } td { (outcome_name(l, p.outcome, s.dry_run)) }
                        td { (p.fields.iter().map(|f| l.field(&p.entity, f)).collect::<Vec<_>>().join("、")) " " (p.reason) }
                    } } }
                }
                @if s.problems.len() < s.problem_count { p.muted { (l.t("其余的见下载的报告。", "The rest are in the downloadable report.")) } }
            }
            p { a href=(format!("/console/roster/{}/report.csv", run.id)) data-testid="report" { (l.t("下载全部行的结果（CSV）", "Download every row's outcome (CSV)")) } }
        }
        @if run.can_import() {
            form method="post" action=(format!("/console/roster/{}/import", run.id)) {
                (layout::csrf(&v))
                button type="submit" data-testid="confirm" { (l.t("确认导入", "Import now")) }
            }
        }
        p { a href="/console/roster" { "← " (l.t("户籍导入", "Roster import")) } }
    };
    Ok(layout::page(&v, Nav::Roster, &run.file_name, &here(&uri), body).into_response())
}

fn counts_row(l: Lang, village: &str, c: &Counts) -> Markup {
    let name = match village {
        "all" => l.t("合计", "All"),
        "" => l.t("（村不明）", "(village unknown)"),
        v => v,
    };
    html! { tr {
        td { (name) }
        td { (c.households[0]) " / " (c.households[1]) " / " (c.households[2]) }
        td { (c.people[0]) " / " (c.people[1]) " / " (c.people[2]) }
        td { (c.conflicts) } td { (c.bad) } td { (c.missing) }
    } }
}

fn outcome_name(l: Lang, o: Outcome, dry_run: bool) -> &'static str {
    match o {
        Outcome::New => l.t("新增", "new"),
        Outcome::Changed => l.t("变更", "changed"),
        Outcome::Unchanged => l.t("无变化", "unchanged"),
        Outcome::Conflict if dry_run => l.t("将产生冲突", "would conflict"),
        Outcome::Conflict => l.t("冲突，待审核", "conflict, for review"),
        Outcome::Bad => l.t("问题行，未导入", "bad row, not imported"),
        Outcome::Missing => l.t("文件中已没有（保留）", "no longer in the file (kept)"),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn import(
    State(state): State<AppState>,
    P(id): P<Uuid>,
    posted: Posted<Nothing>,
) -> Result<Response, ConsoleError> {
    runs::start(&state, &posted.viewer.caller, id).await?;
    Ok(see_other(&format!("/console/roster/{id}")))
}

pub async fn report(
    State(state): State<AppState>,
    v: Viewer,
    P(id): P<Uuid>,
) -> Result<Response, ConsoleError> {
    let csv = runs::report_csv(&state, &v.caller, id).await?;
    let mut r = csv.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"roster-report-{id}.csv\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
