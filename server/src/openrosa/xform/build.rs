//! Writes an XForm from a list of questions: the primary instance, binds, itext in Chinese
//! (default) and English, secondary instances for entity lists, the OpenRosa meta block, the
//! ODK Entities block and the body. The same spec always gives the same bytes.

use crate::openrosa::labels::Text;
use crate::openrosa::xml::Writer;

/// The root element of every instance we serve.
pub const ROOT: &str = "data";
/// Longest side of a photo, in pixels: Collect scales before saving (`orx:max-pixels`), so a
/// 12-megapixel original does not travel over a village's mobile link; 2048 px keeps a
/// document or a crack in a wall readable.
pub const MAX_PIXELS: &str = "2048";

#[derive(Clone, Debug)]
pub enum Control {
    /// A typed input: `string`, `int`, `decimal`, `date`, `dateTime`, `geopoint`.
    Input(&'static str),
    /// One of the listed (value, label).
    Select1(Vec<(String, Text)>),
    /// Any of the listed (value, label), sent separated by spaces.
    Select(Vec<(String, Text)>),
    /// One item of an entity list (`households`), optionally filtered (`village_code =
    /// /data/village_code`); its value is the item's `name`.
    FromList {
        list: &'static str,
        filter: Option<String>,
    },
    /// Photos: a repeat of image uploads (`<photos><photo>…`).
    Photos,
    /// Not shown: set by a calculation or by actions (`Question::on_change` of another).
    Hidden {
        ty: &'static str,
        calculate: Option<String>,
    },
    /// A group of questions under this element (survey answers, originals).
    Group(Vec<Question>),
}

#[derive(Clone, Debug)]
pub struct Question {
    /// The element name (a registry field name, mostly).
    pub name: String,
    pub label: Text,
    pub hint: Option<Text>,
    pub control: Control,
    pub required: bool,
    pub relevant: Option<String>,
    /// An XPath on `.`, with the message shown when it fails.
    pub constraint: Option<(String, Text)>,
    /// `entities:saveto`.
    pub saveto: Option<String>,
    /// Values set when this answer changes: (target path, XPath).
    pub on_change: Vec<(String, String)>,
}

impl Question {
    pub fn new(name: &str, label: Text, control: Control) -> Self {
        Question {
            name: name.to_owned(),
            label,
            hint: None,
            control,
            required: false,
            relevant: None,
            constraint: None,
            saveto: None,
            on_change: Vec::new(),
        }
    }
}

/// The ODK Entities block.
#[derive(Clone, Debug)]
pub struct EntityBlock {
    pub dataset: &'static str,
    /// For an update: the question whose value is the entity's id (its `name` in the list).
    pub update_from: Option<String>,
    /// XPath of the entity's label.
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub form_id: String,
    pub title: String,
    pub questions: Vec<Question>,
    /// Entity lists the form reads (`households` → `jr://file-csv/households.csv`).
    pub lists: Vec<&'static str>,
    pub entity: Option<EntityBlock>,
}

const NAMESPACES: &[(&str, &str)] = &[
    ("xmlns", "http://www.w3.org/2002/xforms"),
    ("xmlns:h", "http://www.w3.org/1999/xhtml"),
    ("xmlns:ev", "http://www.w3.org/2001/xml-events"),
    ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
    ("xmlns:jr", "http://openrosa.org/javarosa"),
    ("xmlns:orx", "http://openrosa.org/xforms"),
    ("xmlns:odk", "http://www.opendatakit.org/xforms"),
    (
        "xmlns:entities",
        "http://www.opendatakit.org/xforms/entities",
    ),
];

/// Chinese first: JavaRosa shows the default language, and Collect picks by the "(code)".
const LANGUAGES: [(&str, bool); 2] = [("中文 (zh)", true), ("English (en)", false)];

/// Writes the form with this version string.
pub fn write(spec: &Spec, version: &str) -> String {
    let mut w = Writer::new();
    w.open("h:html", NAMESPACES);
    w.open("h:head", &[]);
    w.leaf("h:title", &[], &spec.title);
    let mut model_attrs = vec![("odk:xforms-version", "1.0.0")];
    if spec.entity.is_some() {
        model_attrs.push(("entities:entities-version", "2024.1.0"));
    }
    w.open("model", &model_attrs);
    itext(&mut w, spec);
    w.open("instance", &[]);
    w.open(ROOT, &[("id", &spec.form_id), ("version", version)]);
    for q in &spec.questions {
        instance_node(&mut w, q);
    }
    w.open("meta", &[]);
    for m in [
        "instanceID",
        "deprecatedID",
        "timeStart",
        "timeEnd",
        "deviceID",
    ] {
        w.empty(m, &[]);
    }
    if let Some(e) = &spec.entity {
        let attrs: Vec<(&str, &str)> = match e.update_from {
            None => vec![("dataset", e.dataset), ("id", ""), ("create", "1")],
            Some(_) => vec![
                ("dataset", e.dataset),
                ("id", ""),
                ("update", "1"),
                ("baseVersion", ""),
                ("trunkVersion", ""),
                ("branchId", ""),
            ],
        };
        w.open("entity", &attrs).empty("label", &[]).close();
    }
    w.close().close().close();
    for list in &spec.lists {
        let src = format!("jr://file-csv/{list}.csv");
        w.empty("instance", &[("id", list), ("src", &src)]);
    }
    let root = format!("/{ROOT}");
    for q in &spec.questions {
        binds(&mut w, q, &root);
    }
    meta_binds(&mut w, spec);
    w.close().close();
    w.open("h:body", &[]);
    for q in &spec.questions {
        body(&mut w, q, &root);
    }
    w.finish()
}

fn instance_node(w: &mut Writer, q: &Question) {
    match &q.control {
        Control::Group(children) => {
            w.open(&q.name, &[]);
            for c in children {
                instance_node(w, c);
            }
            w.close();
        }
        Control::Photos => {
            w.open(&q.name, &[]).empty("photo", &[]).close();
        }
        _ => {
            w.empty(&q.name, &[]);
        }
    }
}

fn label_id(path: &str) -> String {
    format!("{path}:label")
}

/// Every translatable text: (id, text).
fn texts(q: &Question, parent: &str, out: &mut Vec<(String, Text)>) {
    let path = format!("{parent}/{}", q.name);
    if let Control::Group(children) = &q.control {
        // Groups are shown without a label of their own.
        for c in children {
            texts(c, &path, out);
        }
        return;
    }
    if matches!(q.control, Control::Hidden { .. }) {
        return;
    }
    out.push((label_id(&path), q.label.clone()));
    if let Some(h) = &q.hint {
        out.push((format!("{path}:hint"), h.clone()));
    }
    if let Some((_, msg)) = &q.constraint {
        out.push((format!("{path}:constraintMsg"), msg.clone()));
    }
    match &q.control {
        Control::Select1(items) | Control::Select(items) => {
            for (v, t) in items {
                out.push((label_id(&format!("{path}/{v}")), t.clone()));
            }
        }
        Control::Photos => {
            let photo = crate::openrosa::labels::field("photo")
                .unwrap_or_else(|| Text::new("照片", "Photo"));
            out.push((label_id(&format!("{path}/photo")), photo));
        }
        _ => {}
    }
}

fn itext(w: &mut Writer, spec: &Spec) {
    let mut all = Vec::new();
    let root = format!("/{ROOT}");
    for q in &spec.questions {
        texts(q, &root, &mut all);
    }
    w.open("itext", &[]);
    for (lang, default) in LANGUAGES {
        let mut attrs = vec![("lang", lang)];
        if default {
            attrs.push(("default", "true()"));
        }
        w.open("translation", &attrs);
        for (id, t) in &all {
            let text = if default { &t.zh } else { &t.en };
            w.open("text", &[("id", id)])
                .leaf("value", &[], text)
                .close();
        }
        w.close();
    }
    w.close();
}

fn binds(w: &mut Writer, q: &Question, parent: &str) {
    let path = format!("{parent}/{}", q.name);
    let (ty, calculate) = match &q.control {
        Control::Group(children) => {
            if let Some(r) = &q.relevant {
                w.empty("bind", &[("nodeset", &path), ("relevant", r)]);
            }
            for c in children {
                binds(w, c, &path);
            }
            return;
        }
        Control::Photos => {
            let photo = format!("{path}/photo");
            w.empty(
                "bind",
                &[
                    ("nodeset", &photo),
                    ("type", "binary"),
                    ("orx:max-pixels", MAX_PIXELS),
                ],
            );
            return;
        }
        Control::Input(t) | Control::Hidden { ty: t, .. } => (
            *t,
            match &q.control {
                Control::Hidden { calculate, .. } => calculate.clone(),
                _ => None,
            },
        ),
        Control::Select1(_) | Control::FromList { .. } => ("string", None),
        Control::Select(_) => ("string", None),
    };
    let mut attrs: Vec<(&str, String)> = vec![("nodeset", path.clone()), ("type", ty.to_owned())];
    if q.required {
        attrs.push(("required", "true()".into()));
        attrs.push(("jr:requiredMsg", "必填 / Required".into()));
    }
    if let Some(r) = &q.relevant {
        attrs.push(("relevant", r.clone()));
    }
    if let Some((c, _)) = &q.constraint {
        attrs.push(("constraint", c.clone()));
        attrs.push((
            "jr:constraintMsg",
            format!("jr:itext('{path}:constraintMsg')"),
        ));
    }
    if let Some(c) = calculate {
        attrs.push(("calculate", c));
    }
    if let Some(s) = &q.saveto {
        attrs.push(("entities:saveto", s.clone()));
    }
    let refs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.empty("bind", &refs);
}

fn meta_binds(w: &mut Writer, spec: &Spec) {
    let m = format!("/{ROOT}/meta");
    let p = |s: &str| format!("{m}/{s}");
    w.empty(
        "bind",
        &[
            ("nodeset", &p("instanceID")),
            ("type", "string"),
            ("readonly", "true()"),
            ("jr:preload", "uid"),
        ],
    );
    w.empty(
        "bind",
        &[("nodeset", &p("deprecatedID")), ("type", "string")],
    );
    for (name, param) in [("timeStart", "start"), ("timeEnd", "end")] {
        w.empty(
            "bind",
            &[
                ("nodeset", &p(name)),
                ("type", "dateTime"),
                ("jr:preload", "timestamp"),
                ("jr:preloadParams", param),
            ],
        );
    }
    w.empty(
        "bind",
        &[
            ("nodeset", &p("deviceID")),
            ("type", "string"),
            ("jr:preload", "property"),
            ("jr:preloadParams", "deviceid"),
        ],
    );
    let Some(e) = &spec.entity else { return };
    let id = p("entity/@id");
    let label = p("entity/label");
    match &e.update_from {
        // A new entity's id is a v4 `uuid()`, as the Entities spec requires and Collect checks
        // before it keeps an offline entity (getodk/collect#7096); the server keeps the record
        // under an id derived from it (`ids::entity`), since the push takes only v7 ids for
        // new records.
        None => {
            w.empty(
                "bind",
                &[("nodeset", &id), ("type", "string"), ("readonly", "true()")],
            );
            w.empty(
                "setvalue",
                &[
                    ("event", "odk-instance-first-load"),
                    ("ref", &id),
                    ("value", "uuid()"),
                ],
            );
        }
        Some(q) => {
            let source = format!("/{ROOT}/{q}");
            let item = format!("instance('{}')/root/item[name = {source}]", e.dataset);
            w.empty(
                "bind",
                &[
                    ("nodeset", &id),
                    ("type", "string"),
                    ("readonly", "true()"),
                    ("calculate", &source),
                ],
            );
            for (attr, column) in [
                ("baseVersion", "__version"),
                ("trunkVersion", "__trunkVersion"),
                ("branchId", "__branchId"),
            ] {
                let node = p(&format!("entity/@{attr}"));
                let calc = format!("{item}/{column}");
                w.empty(
                    "bind",
                    &[
                        ("nodeset", &node),
                        ("type", "string"),
                        ("readonly", "true()"),
                        ("calculate", &calc),
                    ],
                );
            }
        }
    }
    w.empty(
        "bind",
        &[
            ("nodeset", &label),
            ("type", "string"),
            ("readonly", "true()"),
            ("calculate", &e.label),
        ],
    );
}

fn label(w: &mut Writer, path: &str, q: &Question) {
    w.empty(
        "label",
        &[("ref", &format!("jr:itext('{}')", label_id(path)))],
    );
    if q.hint.is_some() {
        w.empty("hint", &[("ref", &format!("jr:itext('{path}:hint')"))]);
    }
}

fn actions(w: &mut Writer, q: &Question) {
    for (target, value) in &q.on_change {
        w.empty(
            "setvalue",
            &[
                ("event", "xforms-value-changed"),
                ("ref", target),
                ("value", value),
            ],
        );
    }
}

fn body(w: &mut Writer, q: &Question, parent: &str) {
    let path = format!("{parent}/{}", q.name);
    match &q.control {
        Control::Hidden { .. } => {}
        Control::Group(children) => {
            if children
                .iter()
                .all(|c| matches!(c.control, Control::Hidden { .. }))
            {
                return;
            }
            w.open("group", &[("ref", &path)]);
            for c in children {
                body(w, c, &path);
            }
            w.close();
        }
        Control::Photos => {
            w.open("group", &[("ref", &path)]);
            label(w, &path, q);
            w.open("repeat", &[("nodeset", &path)]);
            let photo = format!("{path}/photo");
            w.open("upload", &[("ref", &photo), ("mediatype", "image/*")]);
            w.empty(
                "label",
                &[("ref", &format!("jr:itext('{}')", label_id(&photo)))],
            );
            w.close().close().close();
        }
        Control::Input(_) => {
            w.open("input", &[("ref", &path)]);
            label(w, &path, q);
            actions(w, q);
            w.close();
        }
        Control::Select1(items) | Control::Select(items) => {
            let tag = if matches!(q.control, Control::Select1(_)) {
                "select1"
            } else {
                "select"
            };
            w.open(tag, &[("ref", &path)]);
            label(w, &path, q);
            for (v, _) in items {
                w.open("item", &[]);
                w.empty(
                    "label",
                    &[(
                        "ref",
                        &format!("jr:itext('{}')", label_id(&format!("{path}/{v}"))),
                    )],
                );
                w.leaf("value", &[], v);
                w.close();
            }
            actions(w, q);
            w.close();
        }
        Control::FromList { list, filter } => {
            w.open("select1", &[("ref", &path)]);
            label(w, &path, q);
            let nodeset = match filter {
                Some(f) => format!("instance('{list}')/root/item[{f}]"),
                None => format!("instance('{list}')/root/item"),
            };
            w.open("itemset", &[("nodeset", &nodeset)]);
            w.empty("value", &[("ref", "name")])
                .empty("label", &[("ref", "label")]);
            w.close();
            actions(w, q);
            w.close();
        }
    }
}
