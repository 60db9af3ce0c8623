//! XForms: the forms the server serves ([`registry`] from the entity registry, [`survey`]
//! from published survey definitions, both written by [`build`]) and the reading of any form's
//! binds ([`schema`]).
//!
//! A form's bytes depend only on its definition and this code, so its `version` and its
//! `md5:` hash are stable: the version is the definition's (for surveys) and the first eight
//! hex digits of the SHA-256 of the form written without a version, so a change in what is
//! served always changes the version Collect sees, and the hash in the form list is the MD5 of
//! exactly the bytes served.

pub mod build;
pub mod registry;
pub mod schema;
pub mod survey;

use fieldsync_protocol::Role;
use fieldsync_protocol::forms::FormDef;
use md5::Md5;
use sha2::{Digest, Sha256};

use std::sync::LazyLock;

use crate::access::{self, Action};
use crate::hex::hex;
use crate::openrosa::xml::{Limits, parse};
use registry::{FORMS, Purpose, RegistryForm};
use schema::FormSchema;

/// A form as served.
#[derive(Clone, Debug, PartialEq)]
pub struct XForm {
    pub form_id: String,
    pub version: String,
    /// The form list's `name` (Chinese).
    pub title: String,
    pub xml: String,
    /// Entity lists and other files the form reads (`households` for `households.csv`).
    pub lists: Vec<&'static str>,
}

impl XForm {
    fn new(spec: build::Spec, version_base: Option<String>) -> XForm {
        let draft = build::write(&spec, "");
        let digest = hex(&Sha256::digest(draft.as_bytes())[..4]);
        let version = match version_base {
            Some(base) => format!("{base}.{digest}"),
            None => digest,
        };
        XForm {
            xml: build::write(&spec, &version),
            form_id: spec.form_id,
            version,
            title: spec.title,
            lists: spec.lists,
        }
    }

    /// `md5:` and the MD5 of the bytes served, as the form list and Collect want it.
    pub fn hash(&self) -> String {
        format!(
            "md5:{}",
            hex(&<Md5 as md5::Digest>::digest(self.xml.as_bytes()))
        )
    }

    /// The file names of the form's media (`households.csv`).
    pub fn media(&self) -> Vec<String> {
        self.lists.iter().map(|l| format!("{l}.csv")).collect()
    }
}

pub fn registry_form(form: &RegistryForm) -> XForm {
    XForm::new(registry::spec(form), None)
}

pub fn survey_form(def: &FormDef) -> XForm {
    XForm::new(survey::spec(def), Some(def.version.to_string()))
}

/// Whether a role may submit what a registry form records.
pub fn allowed(role: Role, form: &RegistryForm) -> bool {
    let action = match form.purpose {
        Purpose::Update(_) => Action::Update,
        _ => Action::Create,
    };
    access::allowed(role, form.entity().name, action)
}

/// The registry's forms as served, and what their binds say, written and read once: they
/// depend only on this code, and every form list, download and submission needs them.
static REGISTRY_FORMS: LazyLock<Vec<(XForm, Option<FormSchema>)>> = LazyLock::new(|| {
    FORMS
        .iter()
        .map(|f| {
            let form = registry_form(f);
            let schema = parse(form.xml.as_bytes(), &Limits::FORM)
                .and_then(|html| FormSchema::read(&html))
                .ok();
            (form, schema)
        })
        .collect()
});

/// A registry form as served (`FORMS`' order), and its binds; `None` for the binds only if the
/// form does not read back, which the tests rule out.
pub fn served_registry_form(
    form_id: &str,
) -> Option<(&'static XForm, Option<&'static FormSchema>)> {
    REGISTRY_FORMS
        .iter()
        .find(|(f, _)| f.form_id == form_id)
        .map(|(f, s)| (f, s.as_ref()))
}

/// Every form a role is served: the registry forms its role may submit, and the given survey
/// versions (the caller passes those in use) when it may record surveys.
pub fn forms_for(role: Role, surveys: &[FormDef]) -> Vec<XForm> {
    let mut out: Vec<XForm> = FORMS
        .iter()
        .zip(REGISTRY_FORMS.iter())
        .filter(|(f, _)| allowed(role, f))
        .map(|(_, (x, _))| x.clone())
        .collect();
    if access::allowed(role, "survey_submission", Action::Create) {
        out.extend(surveys.iter().map(survey_form));
    }
    out
}

/// Every form the server can serve to anyone (for ODK Validate and the CLI).
pub fn all_forms(surveys: &[FormDef]) -> Vec<XForm> {
    let mut out: Vec<XForm> = REGISTRY_FORMS.iter().map(|(x, _)| x.clone()).collect();
    out.extend(surveys.iter().map(survey_form));
    out
}

#[cfg(test)]
pub(crate) mod tests;
