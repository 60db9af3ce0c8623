//! XML for OpenRosa: a safe reader into a small element tree ([`read`]) and a writer for the
//! documents the server answers with ([`write`]).

mod read;
mod write;

pub use read::{Limits, parse};
pub use write::{Inline, Writer, escape_attr, escape_text};

/// One element: its name split into prefix and local name, the namespace the prefix resolved
/// to (if any), attributes (namespace declarations left out), children and its own text.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub prefix: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    /// The element's own character data (text of children excluded), references resolved.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub prefix: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub value: String,
}

impl Element {
    /// The first child with this local name, whatever its namespace.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// An attribute by local name; an unprefixed one wins over a prefixed one (a root with
    /// both `version` and `orx:version`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        let mut found = None;
        for a in self.attributes.iter().filter(|a| a.name == name) {
            if a.prefix.is_none() {
                return Some(&a.value);
            }
            found.get_or_insert(a.value.as_str());
        }
        found
    }

    /// An attribute by namespace and local name.
    pub fn attr_ns(&self, namespace: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name && a.namespace.as_deref() == Some(namespace))
            .map(|a| a.value.as_str())
    }

    /// The text with surrounding whitespace removed.
    pub fn value(&self) -> &str {
        self.text.trim()
    }

    /// Every element below this one, depth first, with its path from this element
    /// (`/data/meta/instanceID`; repeated siblings as `/data/person[2]/name`, from 1).
    pub fn walk(&self) -> Vec<(String, &Element)> {
        let mut out = Vec::new();
        walk(self, format!("/{}", self.name), &mut out);
        out
    }
}

fn walk<'a>(e: &'a Element, path: String, out: &mut Vec<(String, &'a Element)>) {
    out.push((path.clone(), e));
    for (i, c) in e.children.iter().enumerate() {
        let same = e.children.iter().filter(|s| s.name == c.name).count();
        let p = if same > 1 {
            let n = 1 + e.children[..i].iter().filter(|s| s.name == c.name).count();
            format!("{path}/{}[{n}]", c.name)
        } else {
            format!("{path}/{}", c.name)
        };
        walk(c, p, out);
    }
}

/// `/data/person[2]/name` → `/data/person/name`: the path a form's bind names.
pub fn without_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '[' => skipping = true,
            ']' => skipping = false,
            _ if !skipping => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
