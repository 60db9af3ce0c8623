//! The documents Collect reads, exactly as it parses them (`Kxml2OpenRosaResponseParser`):
//! the form list (every child in the xformsList namespace; `formID`, `name`, `version`,
//! `hash` with its `md5:` prefix, `downloadUrl`, and `manifestUrl` only when the form has
//! media), the manifest (`mediaFile` with `type="entityList"` and `integrityUrl` for entity
//! lists), the `OpenRosaResponse` answer to a submission, and the entity integrity answer.

use super::xform::XForm;
use super::xml::Writer;

pub const FORM_LIST_NS: &str = "http://openrosa.org/xforms/xformsList";
pub const MANIFEST_NS: &str = "http://openrosa.org/xforms/xformsManifest";
pub const RESPONSE_NS: &str = "http://openrosa.org/http/response";

/// A form in the list, with the URLs the HTTP layer serves it at.
#[derive(Debug)]
pub struct Listed<'a> {
    pub form: &'a XForm,
    pub download_url: String,
    /// Given only for forms with media (Central leaves it out otherwise).
    pub manifest_url: Option<String>,
}

pub fn form_list(forms: &[Listed<'_>]) -> String {
    let mut w = Writer::new();
    w.open("xforms", &[("xmlns", FORM_LIST_NS)]);
    for l in forms {
        w.open("xform", &[]);
        w.leaf("formID", &[], &l.form.form_id)
            .leaf("name", &[], &l.form.title)
            .leaf("version", &[], &l.form.version)
            .leaf("hash", &[], &l.form.hash())
            .leaf("downloadUrl", &[], &l.download_url);
        if let Some(m) = &l.manifest_url {
            w.leaf("manifestUrl", &[], m);
        }
        w.close();
    }
    w.finish()
}

/// One file of a manifest.
#[derive(Debug)]
pub struct Media {
    pub file_name: String,
    /// With its `md5:` prefix.
    pub hash: String,
    pub download_url: String,
    /// For an entity list: the URL Collect asks which of its offline entities are deleted.
    pub integrity_url: Option<String>,
}

pub fn manifest(files: &[Media]) -> String {
    let mut w = Writer::new();
    w.open("manifest", &[("xmlns", MANIFEST_NS)]);
    for f in files {
        match &f.integrity_url {
            Some(url) => w.open(
                "mediaFile",
                &[("type", "entityList"), ("integrityUrl", url)],
            ),
            None => w.open("mediaFile", &[]),
        };
        w.leaf("filename", &[], &f.file_name)
            .leaf("hash", &[], &f.hash)
            .leaf("downloadUrl", &[], &f.download_url)
            .close();
    }
    w.finish()
}

/// Whether a submission went in; Collect shows the message either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nature {
    Success,
    Error,
}

/// `<OpenRosaResponse>` with one message (Chinese first, then English, as `Problem::message`
/// writes it).
pub fn response(nature: Nature, message: &str) -> String {
    let nature = match nature {
        Nature::Success => "submit_success",
        Nature::Error => "error",
    };
    let mut w = Writer::new();
    w.open(
        "OpenRosaResponse",
        &[("xmlns", RESPONSE_NS), ("items", "0")],
    );
    w.leaf("message", &[("nature", nature)], message);
    w.finish()
}

/// The integrity answer: for each entity id Collect asked about, whether it is gone (deleted,
/// or outside the caller's villages now, as Central answers).
pub fn integrity(entities: &[(uuid::Uuid, bool)]) -> String {
    let mut w = Writer::new();
    w.open("data", &[("xmlns", "http://opendatakit.org/submissions")]);
    w.open("entities", &[]);
    for (id, deleted) in entities {
        w.open("entity", &[("id", &id.to_string())])
            .leaf("deleted", &[], if *deleted { "true" } else { "false" })
            .close();
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openrosa::xform;
    use crate::openrosa::xml::{Limits, parse};

    #[test]
    fn the_form_list_is_what_collect_parses() {
        let forms = xform::all_forms(&[]);
        let listed: Vec<Listed<'_>> = forms
            .iter()
            .map(|f| Listed {
                form: f,
                download_url: format!("https://x/forms/{}.xml?a=1&b=2", f.form_id),
                manifest_url: (!f.lists.is_empty())
                    .then(|| format!("https://x/forms/{}/manifest", f.form_id)),
            })
            .collect();
        let doc = form_list(&listed);
        let root = parse(doc.as_bytes(), &Limits::FORM).unwrap();
        assert_eq!(root.namespace.as_deref(), Some(FORM_LIST_NS));
        assert_eq!(root.children.len(), forms.len());
        for (x, f) in root.children.iter().zip(&forms) {
            assert!(
                x.children
                    .iter()
                    .all(|c| c.namespace.as_deref() == Some(FORM_LIST_NS))
            );
            assert_eq!(x.child("formID").unwrap().text, f.form_id);
            assert_eq!(x.child("hash").unwrap().text, f.hash());
            assert!(x.child("hash").unwrap().text.starts_with("md5:"));
            assert!(x.child("downloadUrl").unwrap().text.ends_with("?a=1&b=2"));
            assert!(x.child("manifestUrl").is_some());
        }
    }

    #[test]
    fn manifest_response_and_integrity() {
        let m = manifest(&[
            Media {
                file_name: "households.csv".into(),
                hash: "md5:00".into(),
                download_url: "u1".into(),
                integrity_url: Some("i?x=1".into()),
            },
            Media {
                file_name: "villages.csv".into(),
                hash: "md5:01".into(),
                download_url: "u2".into(),
                integrity_url: None,
            },
        ]);
        let root = parse(m.as_bytes(), &Limits::FORM).unwrap();
        assert_eq!(root.namespace.as_deref(), Some(MANIFEST_NS));
        assert_eq!(root.children[0].attr("type"), Some("entityList"));
        assert_eq!(root.children[0].attr("integrityUrl"), Some("i?x=1"));
        assert_eq!(root.children[1].attr("type"), None);
        let r = response(Nature::Error, "表单未知 <x>\nunknown form");
        let root = parse(r.as_bytes(), &Limits::FORM).unwrap();
        assert_eq!(
            (root.name.as_str(), root.namespace.as_deref()),
            ("OpenRosaResponse", Some(RESPONSE_NS))
        );
        assert_eq!(
            root.child("message").unwrap().text,
            "表单未知 <x>\nunknown form"
        );
        let i = integrity(&[(uuid::Uuid::nil(), true)]);
        assert!(
            i.contains("<entity id=\"00000000-0000-0000-0000-000000000000\">"),
            "{i}"
        );
        assert!(i.contains("<deleted>true</deleted>"));
    }
}
