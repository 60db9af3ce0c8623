//! Writing the XML the server serves: forms, form lists, manifests, answers. Output is
//! byte-for-byte deterministic for the same calls (Collect compares forms by their MD5), indented
//! by two spaces, with every text and attribute escaped here and nowhere else.

/// Escapes character data: `&`, `<`, `>` (the last for `]]>`), and carriage returns, which a
/// parser would otherwise fold into newlines.
pub fn escape_text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value for double quotes; tab, newline and return become references,
/// as attribute-value normalisation would turn them into spaces.
pub fn escape_attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            _ => out.push(c),
        }
    }
    out
}

/// An indented document written element by element. Names are the caller's constants;
/// values are escaped.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    open: Vec<String>,
}

impl Writer {
    /// A document starting with the XML declaration.
    pub fn new() -> Self {
        Writer {
            out: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".into(),
            open: Vec::new(),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            self.out.push_str(&escape_attr(v));
            self.out.push('"');
        }
    }

    /// `<name a="…">` on its own line; children follow until [`Writer::close`].
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.indent();
        self.tag(name, attrs);
        self.out.push_str(">\n");
        self.open.push(name.to_owned());
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.indent();
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push_str(">\n");
        }
        self
    }

    /// `<name a="…"/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.indent();
        self.tag(name, attrs);
        self.out.push_str("/>\n");
        self
    }

    /// `<name a="…">text</name>`; empty text writes `<name/>`.
    pub fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        if text.is_empty() {
            return self.empty(name, attrs);
        }
        self.indent();
        self.tag(name, attrs);
        self.out.push('>');
        self.out.push_str(&escape_text(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// Mixed content on one line: `<label>住户 <output value="…"/></label>`; `parts` are
    /// text (escaped) or ready-made markup from [`Writer::inline_empty`].
    pub fn mixed(&mut self, name: &str, attrs: &[(&str, &str)], parts: &[Inline]) -> &mut Self {
        self.indent();
        self.tag(name, attrs);
        self.out.push('>');
        for p in parts {
            match p {
                Inline::Text(t) => self.out.push_str(&escape_text(t)),
                Inline::Empty(n, a) => {
                    let mut w = Writer::default();
                    w.tag(
                        n,
                        &a.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
                    );
                    self.out.push_str(&w.out);
                    self.out.push_str("/>");
                }
            }
        }
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// The document, every open element closed.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

/// A piece of mixed content.
#[derive(Clone, Debug)]
pub enum Inline {
    Text(String),
    /// An empty element with attributes (`<output value="…"/>`).
    Empty(&'static str, Vec<(&'static str, String)>),
}
