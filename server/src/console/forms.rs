//! Survey forms (调查表), for admins: the published versions of each form with their fields,
//! who published them when, whether they are in use, and how many surveys each took; publish
//! a new version from a JSON file (every problem of a refused file listed by the field it
//! concerns, beside the upload); retire a version. The rules are `service::forms`'.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use fieldsync_protocol::forms::FormProblem;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::ConsoleError;
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::{Posted, Viewer, see_other};
use super::upload::Upload;
use super::{P, Q, here, url_encode};
use crate::service::ServiceError;
use crate::service::forms::{self as ops, FormVersion};
use crate::state::AppState;

const PATH: &str = "/console/forms";

/// The largest definition the page takes; the longest real form is a few kilobytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
    key: Option<String>,
    version: Option<u32>,
}

/// What a refused upload shows beside the form: the file's name and its problems.
struct Refused {
    file: String,
    problems: Vec<FormProblem>,
}

async fn page_of(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    notice: Option<String>,
    refused: Option<Refused>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let forms = ops::list(state, &v.caller).await?;
    let mut by_key: BTreeMap<&str, Vec<&FormVersion>> = BTreeMap::new();
    for f in &forms {
        by_key.entry(&f.definition.key).or_default().push(f);
    }
    let body = html! {
        (layout::flash(notice.as_deref()))
        p.muted { (l.t(
            "手机同步时下载在用的调查表，离线填写。已发布的版本不能修改：要改一张表，就发布它的下一版（版本号加一）。旧版本停用前采集的调查仍可同步。",
            "Phones download the forms in use when they sync and fill them offline. A published version never changes: to change a form, publish its next version (the version number plus one). Surveys captured on an old version before it was retired still sync."
        )) }
        div.desk {
            section {
                h2 { (l.t("发布新版本", "Publish a version")) }
                form.card.stack method="post" action=(PATH) enctype="multipart/form-data" data-testid="publish" {
                    (layout::csrf(v))
                    label { (l.t("调查表定义（JSON 文件，格式见 ops/forms/ 中的示例）", "Form definition (a JSON file, laid out as the examples in ops/forms/)"))
                        input type="file" name="file" required accept=".json,application/json";
                    }
                    button type="submit" { (l.t("检查并发布", "Check and publish")) }
                }
                @if let Some(r) = &refused { (problems(l, r)) }
            }
            section {
                h2 { (l.t("已发布的调查表", "Published forms")) }
                @if by_key.is_empty() { p.muted data-testid="no-forms" { (l.t("还没有发布调查表", "No form is published yet")) } }
                @for (key, versions) in &by_key {
                    (form_table(v, key, versions))
                }
            }
        }
    };
    Ok(layout::form_page(
        v,
        Nav::Forms,
        l.t("调查表", "Survey forms"),
        &here(uri),
        body,
        refused.is_some(),
    ))
}

/// A refused file's problems, grouped by the field each concerns (the form as a whole first).
fn problems(l: Lang, r: &Refused) -> Markup {
    let mut groups: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
    for p in &r.problems {
        let field = p.field.as_deref();
        match groups.iter_mut().find(|(f, _)| *f == field) {
            Some((_, messages)) => messages.push(&p.message),
            None => groups.push((field, vec![&p.message])),
        }
    }
    groups.sort_by_key(|(f, _)| f.is_some());
    html! {
        div.flash.bad role="alert" data-testid="problems" {
            p { (l.t("未发布。", "Not published. ")) b { (r.file) } (l.t(" 有以下问题，改好后再上传：", " has these problems; fix them and upload it again:")) }
            ul {
                @for (field, messages) in &groups {
                    li data-field=(field.unwrap_or("")) {
                        b { @match field {
                            Some(f) => { (l.t("字段 ", "Field ")) code { (f) } }
                            None => { (l.t("整张表", "The form as a whole")) }
                        } }
                        ul { @for m in messages { li { (m) } } }
                    }
                }
            }
        }
    }
}

fn form_table(v: &Viewer, key: &str, versions: &[&FormVersion]) -> Markup {
    let l = v.lang;
    let title = versions.first().map_or("", |f| f.definition.title.as_str());
    html! {
        h3 { (title) " " code { (key) } }
        div.scroll {
            table data-form=(key) {
                thead { tr {
                    th { (l.t("版本", "Version")) } th { (l.t("标题", "Title")) } th.num { (l.t("项数", "Fields")) }
                    th { (l.t("发布", "Published")) } th { (l.t("状态", "State")) } th.num { (l.t("已采集", "Surveys")) } th {}
                } }
                tbody {
                    @for f in versions {
                        tr data-version=(f.definition.version) data-surveys=(f.surveys) {
                            td { "v" (f.definition.version) }
                            td { (f.definition.title) }
                            td.num { (f.definition.fields.len()) }
                            td { (layout::when(f.published_at)) " · " (f.published_by.as_deref().unwrap_or(l.t("命令行", "command line"))) }
                            td { @match f.retired_at {
                                Some(at) => { span.badge.bad data-testid="retired" { (l.t("已停用", "Retired")) } " " (layout::when(at)) }
                                None => { span.badge.ok data-testid="in-use" { (l.t("在用", "In use")) } }
                            } }
                            td.num { (f.surveys) }
                            td {
                                @if f.retired_at.is_none() {
                                    form.inline method="post" action=(format!("{PATH}/{}/{}/retire", url_encode(key), f.definition.version))
                                        data-confirm=(l.t("停用后，用这一版新采集的调查将被拒绝（停用前采集的仍可同步）。确定停用吗？", "Once retired, surveys captured on this version are refused (those captured before still sync). Retire it?")) {
                                        (layout::csrf(v))
                                        button.danger type="submit" data-testid="retire" { (l.t("停用", "Retire")) }
                                        span.muted { (l.t("此后用它采集的调查将被拒绝", "surveys captured on it from then on are refused")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<PageQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let (what, then) = match q.done.as_deref() {
        Some("published") => (
            l.t("已发布", "Published"),
            l.t(
                "：手机下次同步时下载",
                ": phones download it at their next sync",
            ),
        ),
        Some("retired") => (
            l.t("已停用", "Retired"),
            l.t(
                "：此后用它采集的调查将被拒绝",
                ": surveys captured on it from now on are refused",
            ),
        ),
        Some("already") => (l.t("早已停用", "Retired already"), ""),
        _ => ("", ""),
    };
    let notice = (!what.is_empty()).then(|| match (&q.key, q.version) {
        (Some(k), Some(n)) => format!("{what} {k} v{n}{then}"),
        _ => format!("{what}{then}"),
    });
    page_of(&state, &v, &uri, notice, None).await
}

/// A new version from an uploaded file: published, or the page again with the file's problems.
pub async fn publish(
    State(state): State<AppState>,
    uri: Uri,
    mut upload: Upload,
) -> Result<Response, ConsoleError> {
    let mut files = upload.files(&[("file", MAX_FILE_BYTES)]).await?;
    let v = &upload.viewer;
    let refuse = |file: String, message: String, field: Option<String>| Refused {
        file,
        problems: vec![FormProblem { field, message }],
    };
    let Some(file) = files.remove("file") else {
        let r = refuse(
            String::new(),
            v.lang
                .t("请选择要发布的文件", "choose the file to publish")
                .to_owned(),
            None,
        );
        return page_of(&state, v, &uri, None, Some(r)).await;
    };
    let refused = match String::from_utf8(file.bytes) {
        Err(_) => refuse(
            file.name,
            "the file is not UTF-8 text; save it as UTF-8".to_owned(),
            None,
        ),
        Ok(text) => match ops::publish(&state, &v.caller, &text).await {
            Ok(Ok(form)) => {
                return Ok(see_other(&format!(
                    "{PATH}?done=published&key={}&version={}",
                    url_encode(&form.key),
                    form.version
                )));
            }
            Ok(Err(problems)) => Refused {
                file: file.name,
                problems,
            },
            Err(ServiceError::Conflict(d) | ServiceError::Invalid(d)) => {
                refuse(file.name, d.message, d.field)
            }
            Err(e) => return Err(e.into()),
        },
    };
    page_of(&state, v, &uri, None, Some(refused)).await
}

pub async fn retire(
    State(state): State<AppState>,
    P((key, version)): P<(String, u32)>,
    posted: Posted<serde::de::IgnoredAny>,
) -> Result<Response, ConsoleError> {
    let retired = ops::retire(&state, &posted.viewer.caller, &key, version).await?;
    let done = if retired { "retired" } else { "already" };
    Ok(see_other(&format!(
        "{PATH}?done={done}&key={}&version={version}",
        url_encode(&key)
    )))
}
