//! Survey forms: the published versions with how many surveys each took, a new version
//! published from a file's text (every problem of the definition named with its field), a
//! version retired (surveys captured on it from then on are refused; those captured before
//! still sync).
//!
//! Only an admin publishes or retires from the console: a form serves every county's phones.
//! Each is audited (entity `form`, the record the version's [`version_id`]). The command line
//! (`admin publish-form`, `retire-form`, `forms`) runs the same [`publish_definition`],
//! [`retire_version`] and [`versions`] without a caller: whoever runs it is the server's
//! operator.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use fieldsync_protocol::error::ErrorDetail;
use fieldsync_protocol::forms::{FormDef, FormProblem};
use fieldsync_protocol::{ErrorCode, Role};
use uuid::Uuid;

use super::{Caller, ServiceError, audit};
use crate::clock;
use crate::state::AppState;
use crate::store::{AuditAction, Store, StoreError};

/// A published version as the forms page and `admin forms` list it.
#[derive(Clone, Debug)]
pub struct FormVersion {
    pub definition: FormDef,
    pub published_at: i64,
    /// Who published it from the console (`None`: from the command line).
    pub published_by: Option<String>,
    pub retired_at: Option<i64>,
    /// Surveys captured on this version and kept.
    pub surveys: i64,
}

/// The id a form version goes by in the audit: derived from its key and version, so every
/// entry about one version names the same record.
pub fn version_id(key: &str, version: u32) -> Uuid {
    crate::openrosa::ids::derived("form-version", &[key, &version.to_string()])
}

/// Every version, by key, newest first within a key, with its surveys and its publisher.
pub async fn versions(store: &Store) -> Result<Vec<FormVersion>, ServiceError> {
    let surveys: HashMap<(String, u32), i64> = store
        .surveys_by_form_version()
        .await?
        .into_iter()
        .map(|(key, version, n)| ((key, version), n))
        .collect();
    let mut names: HashMap<Uuid, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for f in store.forms().await? {
        let published_by = match f.published_by {
            Some(id) => {
                if let Entry::Vacant(slot) = names.entry(id) {
                    let user = store.user_by_id(id).await?;
                    slot.insert(user.map(|u| u.display_name.unwrap_or(u.username)));
                }
                names.get(&id).cloned().flatten()
            }
            None => None,
        };
        let key = (f.definition.key.clone(), f.definition.version);
        out.push(FormVersion {
            surveys: surveys.get(&key).copied().unwrap_or(0),
            definition: f.definition,
            published_at: f.published_at,
            published_by,
            retired_at: f.retired_at,
        });
    }
    Ok(out)
}

/// Publishes a checked definition. A version already published is refused: a published
/// version never changes (phones hold surveys filled on it), the next one is published.
pub async fn publish_definition(
    store: &Store,
    form: &FormDef,
    by: Option<Uuid>,
) -> Result<(), ServiceError> {
    match store.publish_form(form, by, clock::now_ms()).await {
        Err(StoreError::Duplicate(_)) => Err(ServiceError::from_detail(
            ErrorDetail::new(
                ErrorCode::AlreadyExists,
                format!(
                    "form {} version {} is already published; publish a new version instead of changing it",
                    form.key, form.version
                ),
            )
            .at("version"),
        )),
        other => Ok(other?),
    }
}

/// Retires a version: surveys captured on it from now on are refused. `false` when it was
/// retired already (nothing changes: it keeps its first retirement).
pub async fn retire_version(store: &Store, key: &str, version: u32) -> Result<bool, ServiceError> {
    let found = store
        .forms()
        .await?
        .into_iter()
        .find(|f| f.definition.key == key && f.definition.version == version)
        .ok_or_else(|| ServiceError::not_found(format!("no form {key} version {version}")))?;
    if found.retired_at.is_some() {
        return Ok(false);
    }
    if !store.retire_form(key, version, clock::now_ms()).await? {
        return Err(ServiceError::not_found(format!(
            "no form {key} version {version}"
        )));
    }
    Ok(true)
}

fn admin_only(caller: &Caller) -> Result<(), ServiceError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "only an admin publishes and retires survey forms: a form serves every county's phones",
        ))
    }
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<FormVersion>, ServiceError> {
    admin_only(caller)?;
    versions(state.store()).await
}

/// Publishes the definition in `text` (a JSON file's content): the form published, or every
/// problem of the text, each with the field it concerns, and nothing published.
pub async fn publish(
    state: &AppState,
    caller: &Caller,
    text: &str,
) -> Result<Result<FormDef, Vec<FormProblem>>, ServiceError> {
    admin_only(caller)?;
    let form = match FormDef::from_json(text) {
        Ok(form) => form,
        Err(problems) => return Ok(Err(problems)),
    };
    publish_definition(state.store(), &form, Some(caller.user_id)).await?;
    let id = ("form", version_id(&form.key, form.version));
    audit::change(
        state,
        caller,
        AuditAction::FormPublished,
        id,
        None,
        &["definition"],
    )
    .await?;
    Ok(Ok(form))
}

/// Retires a version; `false` when it was retired already.
pub async fn retire(
    state: &AppState,
    caller: &Caller,
    key: &str,
    version: u32,
) -> Result<bool, ServiceError> {
    admin_only(caller)?;
    let retired = retire_version(state.store(), key, version).await?;
    if retired {
        let id = ("form", version_id(key, version));
        audit::change(
            state,
            caller,
            AuditAction::FormRetired,
            id,
            None,
            &["retired_at"],
        )
        .await?;
    }
    Ok(retired)
}
