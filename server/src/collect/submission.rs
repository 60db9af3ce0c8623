//! Submissions: Collect's `HEAD` preflight and the multipart `POST`, as Collect sends them
//! (`OpenRosaServerInstanceUploader`, `OkHttpConnection.uploadSubmissionAndFiles`): the
//! instance in part `xml_submission_file`, every file of the instance's folder as a part named
//! by its file name, and, when the files do not fit one POST, several POSTs that repeat the
//! same instance with `*isIncomplete*=yes` on all but the last.
//!
//! The instance becomes the native push's mutations (`openrosa::mapping`) and goes through the
//! push pipeline from the key's device, so it is judged, recorded, receipted and audited as a
//! phone's push. Its `instanceID` names the mutation: a resend of the same bytes is answered
//! `201` and changes nothing; other bytes under an instanceID already taken are `409`, as in
//! Central. Attachments are hashed as they stream into the photo store (never held whole in
//! memory) and named in the records by that hash; files the instance does not name are read
//! and dropped (Central keeps only those, too). The records are pushed once every file the
//! instance names has arrived, or with the last POST of a split upload (without the files
//! still missing, which the answer names).

use std::collections::HashMap;

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::forms::FormDef;
use fieldsync_protocol::gps::GpsVerdict;
use fieldsync_protocol::labels::{self, Label};
use fieldsync_protocol::push::{ClientInfo, Mutation, Status};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_stream::StreamExt;

use super::forms::survey_version;
use super::keyed::Keyed;
use super::{CollectError, xml_response};
use crate::access::{self, Action};
use crate::clock;
use crate::openrosa::instance::{self, Submission};
use crate::openrosa::mapping::{self, Context, Source};
use crate::openrosa::responses::{self, Nature};
use crate::openrosa::xform::registry::RegistryForm;
use crate::openrosa::xform::schema::FormSchema;
use crate::openrosa::xform::{self, survey};
use crate::openrosa::xml::{self, Limits};
use crate::openrosa::{Kind, Problem, ids};
use crate::service::{Caller, ServiceError, push};
use crate::state::AppState;
use crate::store::SubmissionNote;

/// `HEAD`/`GET submission`: `204`, the only answer Collect takes before it POSTs (a 200 is "not
/// an OpenRosa endpoint"); the accepted length rides on every answer. A dead key is refused
/// here already, so Collect shows why before it sends anything.
pub(super) async fn preflight(_keyed: Keyed) -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The form a submission was filled on.
enum Form {
    Registry(&'static RegistryForm),
    Survey(FormDef),
}

impl Form {
    fn source(&self) -> Source<'_> {
        match self {
            Form::Registry(f) => Source::Registry(f),
            Form::Survey(def) => Source::Survey(def),
        }
    }
}

/// An instance read, and what is stored of it already.
struct Received {
    sub: Submission,
    form: Form,
    /// The files the instance names.
    wanted: Vec<String>,
    /// The submission to note, with the files named by the instance that came in this POST.
    note: SubmissionNote,
    /// An earlier POST of it was noted: a part of a split upload, or a resend.
    earlier: bool,
    /// The instance was already pushed (this is a resend).
    pushed: bool,
}

fn bad_multipart(e: MultipartError) -> CollectError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Problem::new(
            Kind::TooLarge,
            "提交的内容过大",
            format!("the submission is too large: {}", e.body_text()),
        )
        .into();
    }
    Problem::new(
        Kind::Malformed,
        "提交的数据不完整或格式有误，请重新发送",
        format!("the multipart body is malformed: {}", e.body_text()),
    )
    .into()
}

/// `POST submission`.
pub(super) async fn submit(
    State(state): State<AppState>,
    keyed: Keyed,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, CollectError> {
    let mut multipart = multipart.map_err(|e| {
        Problem::new(
            Kind::Malformed,
            "提交的不是表单数据（multipart）",
            format!("not a multipart submission: {}", e.body_text()),
        )
    })?;
    let caller = &keyed.caller;
    let now = clock::now_ms();
    let mut received: Option<Received> = None;
    let mut incomplete = false;
    // Files that came before the instance (Collect sends it first; other clients may not).
    let mut early: Vec<(String, String)> = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(bad_multipart)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "xml_submission_file" => {
                if received.is_some() {
                    return Err(Problem::new(
                        Kind::Malformed,
                        "提交中有两份表单数据",
                        "two xml_submission_file parts",
                    )
                    .into());
                }
                let bytes = read_all(&mut field, Limits::SUBMISSION.max_bytes).await?;
                let mut got = read_instance(&state, caller, &bytes, now).await?;
                for (file, hash) in early.drain(..) {
                    if got.wanted.contains(&file) {
                        got.note.attachments.push((file, hash));
                    }
                }
                received = Some(got);
            }
            "*isIncomplete*" => {
                let text = read_all(&mut field, 64).await?;
                incomplete = String::from_utf8_lossy(&text)
                    .trim()
                    .eq_ignore_ascii_case("yes");
            }
            _ => {
                let file = field.file_name().map(str::to_owned).unwrap_or(name);
                let wanted = received.as_ref().is_none_or(|r| r.wanted.contains(&file));
                if !wanted {
                    while field.chunk().await.map_err(bad_multipart)?.is_some() {}
                    continue;
                }
                let bytes = std::pin::pin!(field.map(|r| r.map_err(axum::Error::new)));
                let info = state
                    .blobs()
                    .put_unnamed(caller.device_id, None, bytes)
                    .await?;
                // Noted with the submission: with its records if it is complete, alone if not.
                match &mut received {
                    Some(r) => r.note.attachments.push((file, info.sha256)),
                    None => early.push((file, info.sha256)),
                }
            }
        }
    }
    let got = received.ok_or_else(|| {
        Problem::new(
            Kind::Malformed,
            "提交中没有表单数据（xml_submission_file）",
            "no xml_submission_file part",
        )
    })?;
    let client = ClientInfo {
        app_version: collect_version(&headers),
        ..ClientInfo::default()
    };
    finish(&state, caller, got, incomplete, &client, now).await
}

/// `collect v2024.2.4` from Collect's `User-Agent` (`… org.odk.collect.android/v2024.2.4`), so
/// the team leader's list of phones shows which Collect a cadre runs.
fn collect_version(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let (_, rest) = agent.split_once("org.odk.collect.android/")?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(32)
        .collect();
    (!version.is_empty()).then(|| format!("collect {version}"))
}

/// A part's bytes, at most `max` of them.
async fn read_all(field: &mut Field<'_>, max: usize) -> Result<Vec<u8>, CollectError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
        if out.len() + chunk.len() > max {
            return Err(Problem::new(
                Kind::TooLarge,
                format!("表单数据过大（超过{max}字节）"),
                format!("the part is larger than {max} bytes"),
            )
            .into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads the instance against the form it names, checks that the caller fills that form, and
/// looks up what is stored under its mutation id (refusing other bytes under an id already
/// pushed, or an id another user took). Nothing is written yet: a complete submission is
/// noted in the transaction of its records (`finish`).
async fn read_instance(
    state: &AppState,
    caller: &Caller,
    bytes: &[u8],
    now: i64,
) -> Result<Received, CollectError> {
    let root = xml::parse(bytes, &Limits::SUBMISSION)?;
    let (form_id, version) = instance::form_of(&root)?;
    let unknown = || {
        Problem::new(
            Kind::UnknownForm,
            format!("服务器上没有这个表单：{form_id}"),
            format!("no such form on this server: {form_id}"),
        )
    };
    let (schema, form) = if let Some(f) = RegistryForm::by_id(&form_id) {
        if !xform::allowed(caller.role, f) {
            return Err(not_yours(&form_id));
        }
        let schema = match xform::served_registry_form(&form_id) {
            Some((_, Some(schema))) => schema.clone(),
            _ => schema_of(&xform::registry_form(f))?,
        };
        (schema, Form::Registry(f))
    } else if let Some(key) = survey::key_of(&form_id) {
        if !access::allowed(caller.role, "survey_submission", Action::Create) {
            return Err(not_yours(&form_id));
        }
        let asked = version.as_deref().and_then(survey::version_of);
        let def = survey_version(state, key, asked)
            .await?
            .ok_or_else(unknown)?;
        (schema_of(&xform::survey_form(&def))?, Form::Survey(def))
    } else {
        return Err(unknown().into());
    };
    let sub = instance::read(&root, &schema)?;
    let instance_id = sub.instance_id.clone().ok_or_else(|| {
        Problem::new(
            Kind::Invalid,
            "提交的数据没有实例编号（instanceID）",
            "the instance has no instanceID",
        )
        .at("/meta/instanceID")
    })?;
    let mutation_id = ids::mutation(&form_id, &instance_id);
    let sha = Sha256::digest(bytes).to_vec();
    // Until it is pushed, the same user may send it again mended (its push was refused).
    let seen = state.store().submission(mutation_id).await?;
    if let Some(seen) = &seen
        && (seen.user_id != caller.user_id || (seen.pushed_at.is_some() && seen.xml_sha256 != sha))
    {
        return Err(ServiceError::conflict(format!(
            "a submission already exists with the instanceID {instance_id} but with different content; an edited form gets a new instanceID"
        ))
        .into());
    }
    let wanted = sub.attachments().into_iter().map(str::to_owned).collect();
    Ok(Received {
        sub,
        form,
        wanted,
        note: SubmissionNote {
            mutation_id,
            form_id,
            xml_sha256: sha,
            user_id: caller.user_id,
            device_id: caller.device_id,
            received_at: now,
            attachments: Vec::new(),
        },
        earlier: seen.is_some(),
        pushed: seen.is_some_and(|s| s.pushed_at.is_some()),
    })
}

/// The binds of a form as served.
fn schema_of(form: &xform::XForm) -> Result<FormSchema, Problem> {
    FormSchema::read(&xml::parse(form.xml.as_bytes(), &Limits::FORM)?)
}

fn not_yours(form_id: &str) -> CollectError {
    ServiceError::forbidden(
        ErrorCode::ForbiddenRole,
        format!("your role does not fill the form {form_id}"),
    )
    .into()
}

/// Pushes the instance once its files are in (or the last POST of a split upload came), and
/// answers what happened in the cadre's words.
async fn finish(
    state: &AppState,
    caller: &Caller,
    got: Received,
    incomplete: bool,
    client: &ClientInfo,
    now: i64,
) -> Result<Response, CollectError> {
    if got.pushed {
        return Ok(success(
            "已收到（这份表单之前已经收到，没有重复保存）",
            "received before; nothing was saved twice",
        ));
    }
    let mut have: HashMap<String, String> = if got.earlier {
        state
            .store()
            .attachments(got.note.mutation_id)
            .await?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    for (file, hash) in &got.note.attachments {
        have.entry(file.clone()).or_insert_with(|| hash.clone());
    }
    // An edit in Collect (or Web Forms) does not send again the files it did not change: they
    // carry over from the instance it replaces, as in Central, if that one was the caller's.
    if let Some(deprecated) = &got.sub.deprecated_id {
        let before = ids::mutation(&got.sub.form_id, deprecated);
        if state
            .store()
            .submission(before)
            .await?
            .is_some_and(|s| s.user_id == caller.user_id)
        {
            for (file, hash) in state.store().attachments(before).await? {
                if got.wanted.contains(&file) {
                    have.entry(file).or_insert(hash);
                }
            }
        }
    }
    if incomplete && got.wanted.iter().any(|w| !have.contains_key(w)) {
        state.store().note_submission(&got.note, None).await?;
        return Ok(success(
            "已收到一部分，正在等待其余照片",
            "part received; waiting for the other files",
        ));
    }
    let received = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .map_err(ServiceError::internal)?;
    // The context borrows a closure that is not `Sync`: keep it out of the awaits below.
    let mapped = {
        let photo = |name: &str| have.get(name).cloned();
        let ctx = Context {
            device_id: caller.device_id,
            received,
            photo: &photo,
        };
        mapping::mutations(&got.sub, got.form.source(), &ctx)?
    };
    if mapped.mutations.is_empty() {
        // An update form sent without a change: nothing to push, nothing lost.
        state.store().note_submission(&got.note, Some(now)).await?;
        return Ok(success(
            "已收到（没有修改）",
            "received; nothing was changed",
        ));
    }
    let values = mapped
        .mutations
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServiceError::internal)?;
    let results = push::push_submission(state, caller, values, client, now, got.note).await?;
    if let Some(detail) = results
        .iter()
        .find(|r| r.status == Status::Rejected)
        .and_then(|r| r.error.clone())
    {
        let problem = Problem::new(
            Kind::Invalid,
            format!("数据未通过检查，未保存：{}", detail.message),
            detail.message.clone(),
        );
        return Err(match detail.field {
            Some(f) => problem.at(f),
            None => problem,
        }
        .into());
    }
    let conflicts = results
        .iter()
        .any(|r| r.status == Status::Conflict || r.original_status == Some(Status::Conflict));
    let doubts = gps_doubts(state, &mapped.mutations).await?;
    Ok(if conflicts {
        success(
            "已收到。有的内容与别人的修改冲突，两份都已保存，由审核人员处理",
            "received; some fields conflict with another edit: both were kept for a reviewer",
        )
    } else if !doubts.is_empty() {
        let (zh, en): (Vec<&str>, Vec<&str>) = doubts.iter().map(|l| (l.zh, l.en)).unzip();
        success(
            &format!("已收到，但定位存疑：{}（审核时会看到）", zh.join("、")),
            &format!("received; the GPS fix is doubted: {}", en.join(", ")),
        )
    } else if !mapped.missing_photos.is_empty() {
        let names = mapped.missing_photos.join(", ");
        success(
            &format!("已收到，但缺少照片：{names}"),
            &format!("received, without the files {names}"),
        )
    } else {
        success("已收到，谢谢", "received")
    })
}

/// Why the server doubts the fixes of what was just pushed, in words.
async fn gps_doubts(state: &AppState, mutations: &[Mutation]) -> Result<Vec<Label>, CollectError> {
    let mut out: Vec<Label> = Vec::new();
    for m in mutations.iter().filter(|m| m.gps.is_some()) {
        let Some(v) = state.store().gps_verdict(m.id).await? else {
            continue;
        };
        let Ok(verdict) = serde_json::from_value::<GpsVerdict>(v) else {
            continue;
        };
        for reason in verdict.reasons {
            let code = serde_json::to_value(reason)
                .ok()
                .and_then(|c| c.as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Some(l) = labels::doubt(&code)
                && !out.contains(&l)
            {
                out.push(l);
            }
        }
    }
    Ok(out)
}

fn success(zh: &str, en: &str) -> Response {
    let mut r = xml_response(responses::response(Nature::Success, &format!("{zh}\n{en}")));
    *r.status_mut() = StatusCode::CREATED;
    r
}
