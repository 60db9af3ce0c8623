//! Reading XML from phones into a small element tree, safely.
//!
//! Guarantees: UTF-8 only; a `<!DOCTYPE` is refused outright, so no entity can be declared,
//! let alone expanded (quick-xml never fetches external entities, and here nothing reaches
//! them); the only references resolved are the five predefined entities and character
//! references; size, depth and element count are bounded before anything is kept. Errors
//! carry the element path and the line.
//!
//! Namespaces are resolved, but readers match elements by local name, as ODK Central does:
//! Central's own fixtures use an undeclared `orx:` prefix, Aggregate exports put the meta block
//! under `n0:`. An undeclared prefix is accepted: the well-known ODK prefixes get their usual
//! namespace, any other none.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::{Attribute, Element};
use crate::openrosa::problem::{Kind, Problem};

/// How much the reader takes.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Limits {
    /// A submission's XML: Collect's largest instances are a few hundred KiB.
    pub const SUBMISSION: Limits = Limits {
        max_bytes: 4 * 1024 * 1024,
        max_depth: 48,
        max_elements: 50_000,
    };
    /// A form definition (our own, and the samples in tests).
    pub const FORM: Limits = Limits {
        max_bytes: 8 * 1024 * 1024,
        max_depth: 64,
        max_elements: 200_000,
    };
}

/// Prefixes ODK tools use without always declaring them, with their namespaces.
const KNOWN_PREFIXES: &[(&str, &str)] = &[
    ("orx", "http://openrosa.org/xforms"),
    ("jr", "http://openrosa.org/javarosa"),
    ("odk", "http://www.opendatakit.org/xforms"),
    ("entities", "http://www.opendatakit.org/xforms/entities"),
    ("h", "http://www.w3.org/1999/xhtml"),
    ("xsd", "http://www.w3.org/2001/XMLSchema"),
    ("ev", "http://www.w3.org/2001/xml-events"),
];

fn malformed(zh: &str, en: impl Into<String>) -> Problem {
    Problem::new(Kind::Malformed, format!("提交的XML无法读取：{zh}"), en)
}

/// Reads one document into its root element.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, Problem> {
    if bytes.len() > limits.max_bytes {
        return Err(Problem::new(
            Kind::TooLarge,
            format!("XML文件过大（超过{}字节）", limits.max_bytes),
            format!("the XML is larger than {} bytes", limits.max_bytes),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        malformed(
            "不是UTF-8编码",
            format!("not UTF-8 (byte {})", e.valid_up_to()),
        )
        .at(format!("line {}", line_of(bytes, e.valid_up_to())))
    })?;
    Parser {
        text,
        limits,
        stack: Vec::new(),
        scopes: Vec::new(),
        root: None,
        elements: 0,
    }
    .run()
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

struct Parser<'a> {
    text: &'a str,
    limits: &'a Limits,
    stack: Vec<Element>,
    /// Namespace declarations in force, one list per open element: (prefix, uri).
    scopes: Vec<Vec<(Option<String>, String)>>,
    root: Option<Element>,
    elements: usize,
}

impl Parser<'_> {
    fn run(mut self) -> Result<Element, Problem> {
        let mut reader = quick_xml::Reader::from_str(self.text);
        reader.config_mut().check_end_names = true;
        loop {
            let event = reader.read_event().map_err(|e| {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                malformed("格式错误", e.to_string()).at(self.where_(at))
            })?;
            let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            match event {
                Event::Decl(d) => {
                    if let Some(Ok(enc)) = d.encoding()
                        && !enc.eq_ignore_ascii_case("utf-8")
                    {
                        return Err(malformed(
                            "只接受UTF-8编码",
                            format!("encoding {enc:?}: only UTF-8 is taken"),
                        ));
                    }
                }
                Event::DocType(_) => {
                    return Err(malformed(
                        "不允许DOCTYPE声明",
                        "a DOCTYPE is not allowed (no entities are expanded)",
                    )
                    .at(self.where_(at)));
                }
                Event::PI(_) | Event::Comment(_) => {}
                Event::Start(e) => self.open(&e, at)?,
                Event::Empty(e) => {
                    self.open(&e, at)?;
                    self.close();
                }
                Event::End(_) => self.close(),
                Event::Text(t) => self.text(&t.xml10_content(), at)?,
                Event::CData(c) => self.text(&c, at)?,
                Event::GeneralRef(r) => {
                    let c = if r.is_char_ref() {
                        r.resolve_char_ref().ok().flatten().filter(|c| xml_char(*c))
                    } else {
                        predefined(&r).and_then(|s| s.chars().next())
                    };
                    let Some(c) = c else {
                        return Err(malformed(
                            "含有不允许的实体引用",
                            format!(
                                "&{};: only &lt; &gt; &amp; &apos; &quot; and character references are taken",
                                &*r
                            ),
                        )
                        .at(self.where_(at)));
                    };
                    self.text(c.encode_utf8(&mut [0; 4]), at)?;
                }
                Event::Eof => break,
            }
        }
        match (self.root, self.stack.is_empty()) {
            (Some(root), true) => Ok(root),
            _ => Err(malformed(
                "文件不完整",
                "the document ends before its root element is closed",
            )),
        }
    }

    /// `/data/meta/instanceID, line 4`.
    fn where_(&self, offset: usize) -> String {
        let path: String = self.stack.iter().map(|e| format!("/{}", e.name)).collect();
        let line = line_of(self.text.as_bytes(), offset);
        if path.is_empty() {
            format!("line {line}")
        } else {
            format!("{path}, line {line}")
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, at: usize) -> Result<(), Problem> {
        if self.root.is_some() {
            return Err(
                malformed("根元素之后还有内容", "a second root element").at(self.where_(at))
            );
        }
        self.elements += 1;
        if self.stack.len() >= self.limits.max_depth || self.elements > self.limits.max_elements {
            return Err(Problem::new(
                Kind::TooLarge,
                "XML层级过深或元素过多",
                format!(
                    "more than {} levels or {} elements",
                    self.limits.max_depth, self.limits.max_elements
                ),
            )
            .at(self.where_(at)));
        }
        let mut declared = Vec::new();
        let mut raw = Vec::new();
        for attr in e.attributes() {
            let attr =
                attr.map_err(|err| malformed("属性格式错误", err.to_string()).at(self.where_(at)))?;
            let value = attr
                .normalized_value_with(XmlVersion::Implicit1_0, 1, predefined)
                .map_err(|err| {
                    malformed("属性值含有不允许的引用", err.to_string()).at(self.where_(at))
                })?
                .into_owned();
            let qname: String = attr.key.as_ref().to_owned();
            match qname.split_once(':') {
                None if qname == "xmlns" => declared.push((None, value)),
                Some(("xmlns", p)) => declared.push((Some(p.to_owned()), value)),
                _ => raw.push((qname, value)),
            }
        }
        self.scopes.push(declared);
        let qname: String = e.name().as_ref().to_owned();
        let (prefix, name) = split(&qname);
        let namespace = self.resolve(prefix.as_deref(), true);
        let attributes = raw
            .into_iter()
            .map(|(q, value)| {
                let (prefix, name) = split(&q);
                // Unprefixed attributes are in no namespace (not the default one).
                let namespace = prefix.as_deref().and_then(|p| self.resolve(Some(p), false));
                Attribute {
                    prefix,
                    name,
                    namespace,
                    value,
                }
            })
            .collect();
        self.stack.push(Element {
            prefix,
            name,
            namespace,
            attributes,
            children: Vec::new(),
            text: String::new(),
        });
        Ok(())
    }

    fn close(&mut self) {
        self.scopes.pop();
        // quick-xml checks that end names match, so the stack is never empty here.
        if let Some(done) = self.stack.pop() {
            match self.stack.last_mut() {
                Some(parent) => parent.children.push(done),
                None => self.root = Some(done),
            }
        }
    }

    fn text(&mut self, s: &str, at: usize) -> Result<(), Problem> {
        match self.stack.last_mut() {
            Some(e) => {
                e.text.push_str(s);
                Ok(())
            }
            None if s.trim().is_empty() => Ok(()),
            None => Err(
                malformed("根元素之外有文字", "text outside the root element").at(self.where_(at)),
            ),
        }
    }

    fn resolve(&self, prefix: Option<&str>, element: bool) -> Option<String> {
        if prefix.is_none() && !element {
            return None;
        }
        if prefix == Some("xml") {
            return Some("http://www.w3.org/XML/1998/namespace".into());
        }
        for scope in self.scopes.iter().rev() {
            if let Some((_, uri)) = scope.iter().find(|(p, _)| p.as_deref() == prefix) {
                // `xmlns=""` undeclares the default namespace.
                return (!uri.is_empty()).then(|| uri.clone());
            }
        }
        let p = prefix?;
        KNOWN_PREFIXES
            .iter()
            .find(|(known, _)| *known == p)
            .map(|(_, uri)| (*uri).to_owned())
    }
}

fn split(qname: &str) -> (Option<String>, String) {
    match qname.split_once(':') {
        Some((p, local)) => (Some(p.to_owned()), local.to_owned()),
        None => (None, qname.to_owned()),
    }
}

/// The five entities XML predefines; nothing else is ever expanded.
fn predefined(name: &str) -> Option<&'static str> {
    match name {
        "lt" => Some("<"),
        "gt" => Some(">"),
        "amp" => Some("&"),
        "apos" => Some("'"),
        "quot" => Some("\""),
        _ => None,
    }
}

/// XML 1.0's Char production: no NUL or other C0 controls except tab, newline, return.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}
