//! What any XForm says about the values its submissions carry: the form id and version, each
//! bind's type, `required`, `entities:saveto`, which controls are selects, which groups repeat,
//! and the media it names. Enough to read a submission without an XPath engine; relevance and
//! constraints are Collect's to enforce (the registry's checks run again after mapping).

use crate::openrosa::problem::{Kind, Problem};
use crate::openrosa::xml::Element;

const ENTITIES_NS: &str = "http://www.opendatakit.org/xforms/entities";

/// A bind's `type`, with the select controls told apart (their binds say `string`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueType {
    Text,
    Int,
    Decimal,
    Date,
    Time,
    DateTime,
    Boolean,
    Geopoint,
    Geotrace,
    Geoshape,
    /// A file: its value is the file name of a multipart part.
    Binary,
    /// `select1`: one value.
    Select1,
    /// `select`: values separated by spaces.
    Select,
    /// Another type (`barcode`, `intent` …), read as text.
    Other(String),
}

impl ValueType {
    fn of(bind_type: &str) -> ValueType {
        let t = bind_type.rsplit(':').next().unwrap_or(bind_type);
        match t {
            "string" | "" => ValueType::Text,
            "int" | "integer" | "long" | "short" => ValueType::Int,
            "decimal" | "double" | "float" => ValueType::Decimal,
            "date" => ValueType::Date,
            "time" => ValueType::Time,
            "dateTime" => ValueType::DateTime,
            "boolean" => ValueType::Boolean,
            "geopoint" => ValueType::Geopoint,
            "geotrace" => ValueType::Geotrace,
            "geoshape" => ValueType::Geoshape,
            "binary" => ValueType::Binary,
            "select1" => ValueType::Select1,
            "select" => ValueType::Select,
            other => ValueType::Other(other.to_owned()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bind {
    /// Absolute, without indexes: `/data/members/person/name`.
    pub nodeset: String,
    pub ty: ValueType,
    pub required: bool,
    /// `entities:saveto`: the entity property this value is saved to.
    pub saveto: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FormSchema {
    pub form_id: String,
    pub version: Option<String>,
    pub title: Option<String>,
    /// The primary instance's root element name (`data`).
    pub root: String,
    pub binds: Vec<Bind>,
    /// Nodesets of repeats.
    pub repeats: Vec<String>,
    /// `entities:entities-version` of the model.
    pub entities_version: Option<String>,
    /// Files the form needs: secondary instances' `jr://file-csv/…` and `jr://file/…`
    /// sources, by file name.
    pub media: Vec<String>,
}

fn invalid(zh: &str, en: &str) -> Problem {
    Problem::new(Kind::Invalid, format!("表单定义有误：{zh}"), en)
}

impl FormSchema {
    /// Reads an XForm document (`<h:html>`).
    pub fn read(html: &Element) -> Result<FormSchema, Problem> {
        if html.name != "html" {
            return Err(invalid(
                "根元素不是 h:html",
                "the root element is not h:html",
            ));
        }
        let head = html
            .child("head")
            .ok_or_else(|| invalid("缺少 h:head", "no h:head"))?;
        let model = head
            .child("model")
            .ok_or_else(|| invalid("缺少 model", "no model").at("/html/head"))?;
        let primary = model
            .children_named("instance")
            .find(|i| i.attr("id").is_none())
            .or_else(|| model.child("instance"))
            .ok_or_else(|| invalid("缺少主实例", "no primary instance").at("/html/head/model"))?;
        let root = primary.children.first().ok_or_else(|| {
            invalid("主实例是空的", "the primary instance is empty").at("/html/head/model/instance")
        })?;
        let form_id = root
            .attr("id")
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| {
                invalid("主实例根元素缺少 id", "the instance root has no id")
                    .at(format!("/html/head/model/instance/{}", root.name))
            })?
            .trim()
            .to_owned();
        let selects = selects(html.child("body"), &format!("/{}", root.name));
        let mut binds = Vec::new();
        for b in model.children_named("bind") {
            let Some(nodeset) = b.attr("nodeset") else {
                continue;
            };
            let nodeset = absolute(nodeset, &format!("/{}", root.name));
            let ty = selects.iter().find(|(n, _)| *n == nodeset).map_or_else(
                || ValueType::of(b.attr("type").unwrap_or("string")),
                |(_, t)| t.clone(),
            );
            binds.push(Bind {
                required: b.attr("required").is_some_and(|r| r.trim() == "true()"),
                saveto: b
                    .attr_ns(ENTITIES_NS, "saveto")
                    .or_else(|| b.attr("saveto"))
                    .map(str::to_owned),
                nodeset,
                ty,
            });
        }
        // A select without a bind still holds a list.
        for (nodeset, ty) in selects {
            if !binds.iter().any(|b| b.nodeset == nodeset) {
                binds.push(Bind {
                    nodeset,
                    ty,
                    required: false,
                    saveto: None,
                });
            }
        }
        let media = model
            .children_named("instance")
            .filter_map(|i| i.attr("src"))
            .filter_map(|src| src.rsplit('/').next().map(str::to_owned))
            .collect();
        let mut repeats = Vec::new();
        if let Some(body) = html.child("body") {
            collect_repeats(body, &format!("/{}", root.name), &mut repeats);
        }
        Ok(FormSchema {
            form_id,
            version: root
                .attr("version")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            title: head.child("title").map(|t| t.value().to_owned()),
            root: root.name.clone(),
            binds,
            repeats,
            entities_version: model
                .attr_ns(ENTITIES_NS, "entities-version")
                .or_else(|| model.attr("entities-version"))
                .map(str::to_owned),
            media,
        })
    }

    pub fn bind(&self, nodeset: &str) -> Option<&Bind> {
        self.binds.iter().find(|b| b.nodeset == nodeset)
    }

    /// Nodesets whose values are files.
    pub fn binary_fields(&self) -> impl Iterator<Item = &str> {
        self.binds
            .iter()
            .filter(|b| b.ty == ValueType::Binary)
            .map(|b| b.nodeset.as_str())
    }
}

/// A ref relative to the context (`some_string` in a body without groups) made absolute.
fn absolute(r: &str, context: &str) -> String {
    let r = r.trim();
    if r.starts_with('/') {
        return r.to_owned();
    }
    let mut parts: Vec<&str> = context.split('/').filter(|s| !s.is_empty()).collect();
    for seg in r.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The body's `select1` and `select` controls, by absolute ref.
fn selects(body: Option<&Element>, context: &str) -> Vec<(String, ValueType)> {
    let mut out = Vec::new();
    if let Some(body) = body {
        visit_controls(body, context, &mut out);
    }
    out
}

fn visit_controls(e: &Element, context: &str, out: &mut Vec<(String, ValueType)>) {
    for c in &e.children {
        let here = c
            .attr("ref")
            .or_else(|| c.attr("nodeset"))
            .map(|r| absolute(r, context));
        match c.name.as_str() {
            "select1" | "select" | "rank" => {
                if let Some(r) = here {
                    let t = if c.name == "select1" {
                        ValueType::Select1
                    } else {
                        ValueType::Select
                    };
                    out.push((r, t));
                }
            }
            "group" | "repeat" => visit_controls(c, here.as_deref().unwrap_or(context), out),
            _ => {}
        }
    }
}

fn collect_repeats(e: &Element, context: &str, out: &mut Vec<String>) {
    for c in &e.children {
        let here = c
            .attr("ref")
            .or_else(|| c.attr("nodeset"))
            .map(|r| absolute(r, context));
        if c.name == "repeat"
            && let Some(r) = &here
        {
            out.push(r.clone());
        }
        if matches!(c.name.as_str(), "group" | "repeat") {
            collect_repeats(c, here.as_deref().unwrap_or(context), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openrosa::xml::{Limits, parse};

    #[test]
    fn reads_binds_selects_repeats_and_media() {
        let form = r#"<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:entities="http://www.opendatakit.org/xforms/entities">
  <h:head><h:title>户</h:title>
    <model entities:entities-version="2024.1.0">
      <instance><data id="f" version="7"><a/><g><b/></g><p><c/></p><meta><instanceID/></meta></data></instance>
      <instance id="households" src="jr://file-csv/households.csv"/>
      <bind nodeset="/data/a" type="xsd:int" required="true()" entities:saveto="size"/>
      <bind nodeset="/data/g/b" type="string"/>
      <bind nodeset="/data/p/c" type="geopoint"/>
    </model></h:head>
  <h:body><group ref="/data/g"><select1 ref="b"/></group><repeat nodeset="/data/p"><input ref="c"/></repeat></h:body>
</h:html>"#;
        let s = FormSchema::read(&parse(form.as_bytes(), &Limits::FORM).unwrap()).unwrap();
        assert_eq!((s.form_id.as_str(), s.version.as_deref()), ("f", Some("7")));
        assert_eq!(s.title.as_deref(), Some("户"));
        let a = s.bind("/data/a").unwrap();
        assert_eq!(
            (&a.ty, a.required, a.saveto.as_deref()),
            (&ValueType::Int, true, Some("size"))
        );
        assert_eq!(s.bind("/data/g/b").unwrap().ty, ValueType::Select1);
        assert_eq!(s.repeats, ["/data/p"]);
        assert_eq!(s.media, ["households.csv"]);
        assert_eq!(s.entities_version.as_deref(), Some("2024.1.0"));
    }

    #[test]
    fn a_form_without_an_id_is_refused() {
        let form = r#"<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:head><model><instance><data/></instance></model></h:head></h:html>"#;
        let e = FormSchema::read(&parse(form.as_bytes(), &Limits::FORM).unwrap()).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("/html/head/model/instance/data"));
    }
}
