//! The staff roster's import from the accounts page: the CSV `admin import-users` reads,
//! uploaded; the answer page lists what was made and changed, the rows not imported with their
//! line and reason, and the first passwords made for new accounts, shown this once (the page
//! is not cached, and the passwords are kept nowhere but in their hashes).

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use secrecy::ExposeSecret;

use super::PATH;
use crate::console::error::ConsoleError;
use crate::console::here;
use crate::console::i18n::Lang;
use crate::console::layout::{self, Nav};
use crate::console::session::Viewer;
use crate::console::upload::Upload;
use crate::service::accounts::import::{self as ops, Report};
use crate::state::AppState;
use crate::store::UserOutcome;

/// The largest roster the page takes: a county's staff is a few thousand rows.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// The upload form, on the accounts page.
pub(super) fn form(v: &Viewer) -> Markup {
    let l = v.lang;
    html! {
        form.card.stack method="post" action=(format!("{PATH}/import")) enctype="multipart/form-data" data-testid="import" {
            (layout::csrf(v))
            label { (l.t("人员名单（CSV，UTF-8，列：username,role,display_name,divisions,starts_on,ends_on,password）",
                         "Staff roster (CSV, UTF-8, columns: username,role,display_name,divisions,starts_on,ends_on,password)"))
                input type="file" name="file" required accept=".csv,text/csv";
            }
            p.muted { (l.t("有问题的行不导入，其余照常导入；同一文件可再导入一次，不会重复。没有密码的新账户将生成初始密码，只在结果页显示一次。",
                           "Bad rows are left out and the rest imported; the same file can be imported again without duplicating anything. New accounts without a password get a first password, shown once on the result page.")) }
            button type="submit" { (l.t("导入", "Import")) }
        }
    }
}

fn outcome_name(l: Lang, o: UserOutcome, reassigned: bool) -> &'static str {
    match o {
        UserOutcome::Created => l.t("新建", "made"),
        UserOutcome::Updated => l.t("已更新", "updated"),
        UserOutcome::Unchanged if reassigned => l.t("分配已更新", "assignments updated"),
        UserOutcome::Unchanged => l.t("无变化", "unchanged"),
        UserOutcome::Skipped => l.t("未建（请再导入一次）", "not made (import again)"),
    }
}

fn report(v: &Viewer, file: &str, r: &Report) -> Markup {
    let l = v.lang;
    let i = &r.imported;
    html! {
        p data-testid="summary" {
            b { (file) } " · " (i.rows) (l.t(" 行：", " rows: "))
            (i.count(UserOutcome::Created)) (l.t(" 新建，", " made, "))
            (i.count(UserOutcome::Updated)) (l.t(" 更新，", " updated, "))
            (i.count(UserOutcome::Unchanged)) (l.t(" 无变化；分配 ", " unchanged; assignments "))
            (i.assignments_added) (l.t(" 新增，", " added, "))
            (i.assignments_changed) (l.t(" 变更，", " changed, "))
            (i.assignments_unchanged) (l.t(" 无变化；", " unchanged; "))
            (i.rejected.len()) (l.t(" 行未导入", " rows not imported"))
        }
        @if !r.passwords.is_empty() {
            div.flash.good role="status" data-testid="passwords" {
                p { (l.t("新账户的初始密码（只显示这一次，请当面或电话交给本人，登录后修改）：", "First passwords of the new accounts (shown this once; hand each to its person, who changes it after signing in):")) }
                table {
                    thead { tr { th { (l.t("用户名", "Username")) } th { (l.t("初始密码", "First password")) } } }
                    tbody { @for (username, secret) in &r.passwords {
                        tr data-username=(username) { td { (username) } td { code data-testid="password" { (secret.expose_secret()) } } }
                    } }
                }
            }
        }
        @if !i.rejected.is_empty() {
            h2 { (l.t("未导入的行", "Rows not imported")) }
            table data-testid="rejected" {
                thead { tr { th.num { (l.t("行号", "Line")) } th { (l.t("用户名", "Username")) } th { (l.t("原因", "Reason")) } } }
                tbody { @for x in &i.rejected {
                    tr data-line=(x.line) { td.num { (x.line) } td { (x.username.as_deref().unwrap_or("—")) } td { (x.reason) } }
                } }
            }
            p.muted { (l.t("改好这些行后，可把同一文件再导入一次。", "Fix these rows, then import the same file again.")) }
        }
        @if !i.people.is_empty() {
            h2 { (l.t("导入的人员", "People imported")) }
            table data-testid="people" {
                thead { tr { th { (l.t("用户名", "Username")) } th { (l.t("角色", "Role")) } th { (l.t("结果", "Outcome")) } } }
                tbody { @for p in &i.people {
                    tr data-username=(p.username) data-outcome=(format!("{:?}", p.user.outcome).to_lowercase()) {
                        td { @match p.user.id {
                            Some(id) => { a href=(format!("{PATH}/{id}")) { (p.username) } }
                            None => { (p.username) }
                        } }
                        td { (l.role(p.role)) }
                        td { (outcome_name(l, p.user.outcome, p.user.assignments_changed > 0)) }
                    }
                } }
            }
        }
        p { a href=(PATH) { "← " (l.t("账户管理", "Accounts")) } }
    }
}

/// The upload: the CSRF token first, then the file; the answer is the report, not a redirect,
/// since the first passwords on it are shown once.
pub async fn import(
    State(state): State<AppState>,
    uri: Uri,
    mut upload: Upload,
) -> Result<Response, ConsoleError> {
    let mut files = upload.files(&[("file", MAX_FILE_BYTES)]).await?;
    let v = &upload.viewer;
    let l = v.lang;
    let refused = |message: String| super::Outcome {
        error: Some(message),
        ..super::Outcome::default()
    };
    let Some(file) = files.remove("file") else {
        let outcome = refused(
            l.t("请选择人员名单文件", "Choose the roster file")
                .to_owned(),
        );
        return super::page_of(&state, v, &uri, None, &Default::default(), outcome).await;
    };
    // A file that is no roster at all comes back to the accounts page with the reason.
    let done = match ops::import_users(&state, &v.caller, file.bytes).await {
        Ok(done) => done,
        Err(e) => {
            let outcome = refused(format!("{}: {}", file.name, super::correctable(e)?));
            return super::page_of(&state, v, &uri, None, &Default::default(), outcome).await;
        }
    };
    let body = report(v, &file.name, &done);
    let page = layout::page(
        v,
        Nav::Accounts,
        l.t("人员名单导入结果", "Staff roster imported"),
        &here(&uri),
        body,
    );
    Ok(super::unstored(page.into_response()))
}
