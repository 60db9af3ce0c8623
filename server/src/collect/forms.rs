//! The form list, the forms, their manifests and media (the entity lists), and the entity
//! integrity check: everything Collect reads.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::forms::FormDef;
use fieldsync_protocol::registry::{EntityDef, HOUSEHOLD, MEMBER};
use uuid::Uuid;

use super::keyed::Keyed;
use super::{CollectError, xml_response};
use crate::openrosa::entities::{self, MediaFile};
use crate::openrosa::responses::{self, Listed, Media};
use crate::openrosa::xform::{self, XForm};
use crate::service::{Caller, collect};
use crate::state::AppState;

/// The most entity ids one integrity question may name.
const MAX_INTEGRITY_IDS: usize = 10_000;

/// The survey form versions served: the newest version of each form not retired. Older and
/// retired versions leave the list, but submissions made on them are still read
/// ([`survey_version`]).
pub(super) async fn live_surveys(state: &AppState) -> Result<Vec<FormDef>, CollectError> {
    let mut newest: BTreeMap<String, FormDef> = BTreeMap::new();
    for f in state.store().forms().await? {
        if f.retired_at.is_some() {
            continue;
        }
        let def = f.definition;
        match newest.get(&def.key) {
            Some(have) if have.version >= def.version => {}
            _ => {
                newest.insert(def.key.clone(), def);
            }
        }
    }
    Ok(newest.into_values().collect())
}

/// A survey form's definition at a version (retired or not), or its newest.
pub(super) async fn survey_version(
    state: &AppState,
    key: &str,
    version: Option<u32>,
) -> Result<Option<FormDef>, CollectError> {
    let mut found: Option<FormDef> = None;
    for f in state.store().forms().await? {
        let def = f.definition;
        if def.key != key {
            continue;
        }
        match version {
            Some(v) if def.version == v => return Ok(Some(def)),
            Some(_) => {}
            None if found.as_ref().is_none_or(|have| have.version < def.version) => {
                found = Some(def);
            }
            None => {}
        }
    }
    Ok(found)
}

async fn served(state: &AppState, caller: &Caller) -> Result<Vec<XForm>, CollectError> {
    Ok(xform::forms_for(caller.role, &live_surveys(state).await?))
}

/// `GET formList`: the forms the caller fills; `?formID=` narrows it to one (Enketo asks so).
pub(super) async fn form_list(
    State(state): State<AppState>,
    keyed: Keyed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, CollectError> {
    let forms = served(&state, &keyed.caller).await?;
    let listed: Vec<Listed<'_>> = forms
        .iter()
        .filter(|f| query.get("formID").is_none_or(|id| *id == f.form_id))
        .map(|f| Listed {
            form: f,
            download_url: format!("{}/forms/{}.xml", keyed.base, f.form_id),
            manifest_url: (!f.lists.is_empty())
                .then(|| format!("{}/forms/{}/manifest", keyed.base, f.form_id)),
        })
        .collect();
    Ok(xml_response(responses::form_list(&listed)))
}

async fn one_form(state: &AppState, caller: &Caller, form_id: &str) -> Result<XForm, CollectError> {
    served(state, caller)
        .await?
        .into_iter()
        .find(|f| f.form_id == form_id)
        .ok_or(CollectError::NotFound(
            "没有这个表单，或您的角色不填写它",
            "no such form, or not one the caller's role fills",
        ))
}

/// `GET forms/{id}.xml`: the form, the bytes its `md5:` hash names.
pub(super) async fn download(
    State(state): State<AppState>,
    keyed: Keyed,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, CollectError> {
    let name = params.get("form").map_or("", String::as_str);
    let form_id = name.strip_suffix(".xml").unwrap_or(name);
    let form = one_form(&state, &keyed.caller, form_id).await?;
    let hash = form.hash();
    Ok(cached(&headers, &hash, xml_response(form.xml)))
}

/// `GET forms/{id}/manifest`: the form's media, entity lists marked as such with their
/// integrity URL. An entity list's hash is the MD5 of the list as the caller would get it now,
/// so it changes exactly when the list does and Collect downloads it only then.
pub(super) async fn manifest(
    State(state): State<AppState>,
    keyed: Keyed,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, CollectError> {
    let form_id = params.get("form").map_or("", String::as_str);
    let form = one_form(&state, &keyed.caller, form_id).await?;
    let mut files = Vec::new();
    for list in &form.lists {
        let file = media_file(&state, &keyed.caller, list, false).await?;
        files.push(Media {
            file_name: file.file_name.to_owned(),
            hash: file.hash,
            download_url: format!("{}/media/{}", keyed.base, file.file_name),
            integrity_url: entity_def(list)
                .map(|_| format!("{}/datasets/{list}/integrity", keyed.base)),
        });
    }
    Ok(xml_response(responses::manifest(&files)))
}

/// The entity an entity list holds.
fn entity_def(list: &str) -> Option<&'static EntityDef> {
    match list {
        "households" => Some(&HOUSEHOLD),
        "members" => Some(&MEMBER),
        _ => None,
    }
}

async fn media_file(
    state: &AppState,
    caller: &Caller,
    list: &str,
    download: bool,
) -> Result<MediaFile, CollectError> {
    Ok(match list {
        "households" => {
            entities::households(&collect::entity_rows(state, caller, &HOUSEHOLD, download).await?)
        }
        "members" => {
            entities::members(&collect::entity_rows(state, caller, &MEMBER, download).await?)
        }
        "villages" => entities::villages(&collect::villages(state, caller).await?),
        _ => {
            return Err(CollectError::NotFound("没有这个文件", "no such media file"));
        }
    })
}

/// `GET media/{file}`: an entity list or `villages.csv`, as the caller may see it; the reading
/// of personal fields is audited.
pub(super) async fn media(
    State(state): State<AppState>,
    keyed: Keyed,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, CollectError> {
    let file = params.get("file").map_or("", String::as_str);
    let list = file
        .strip_suffix(".csv")
        .ok_or(CollectError::NotFound("没有这个文件", "no such media file"))?;
    let media = media_file(&state, &keyed.caller, list, true).await?;
    let mut r = media.csv.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", media.file_name)) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(cached(&headers, &media.hash, r))
}

/// `GET datasets/{list}/integrity?id=a,b,c`: for the entities the phone holds, whether each is
/// gone for it (deleted, or out of the caller's villages now).
pub(super) async fn integrity(
    State(state): State<AppState>,
    keyed: Keyed,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, CollectError> {
    let list = params.get("list").map_or("", String::as_str);
    let def = entity_def(list).ok_or(CollectError::NotFound(
        "没有这个实体列表",
        "no such entity list",
    ))?;
    let ids: Vec<Uuid> = query
        .get("id")
        .map(|ids| {
            ids.split(',')
                .filter_map(|s| Uuid::parse_str(s.trim()).ok())
                .take(MAX_INTEGRITY_IDS)
                .collect()
        })
        .unwrap_or_default();
    let gone = collect::entities_gone(&state, &keyed.caller, def, &ids).await?;
    Ok(xml_response(responses::integrity(&gone)))
}

/// A response Collect's HTTP cache may keep and revalidate: `ETag` is the `md5:` hash (what
/// Central sends), and a matching `If-None-Match` gets `304` without the body.
fn cached(request: &HeaderMap, hash: &str, mut response: Response) -> Response {
    let etag = format!("\"{hash}\"");
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        response = StatusCode::NOT_MODIFIED.into_response();
    }
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}
