//! What went wrong with an OpenRosa request, told twice: in Chinese for the cadre (Collect
//! shows the `<message>` of the answer) and in English for the logs and the lead's tests.
//! Messages name paths and form ids, never answers, so no personal data reaches a log.

use std::fmt;

/// Which answer the HTTP layer gives; the words are in [`Problem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not XML, not well-formed, or something the reader refuses (a DOCTYPE, an entity).
    Malformed,
    /// Larger or deeper than the reader takes.
    TooLarge,
    /// The submission names a form (or version) the server never served.
    UnknownForm,
    /// A value the form or the registry does not allow.
    Invalid,
    /// A file the submission names has not arrived (yet): a split upload still going on.
    MissingAttachment,
    /// Something the server cannot do with this form (correcting a check-in …).
    Unsupported,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    /// Where in the document: `/data/meta/instanceID`, `line 3`, a file name.
    pub path: Option<String>,
    pub zh: String,
    pub en: String,
}

impl Problem {
    pub fn new(kind: Kind, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Problem {
            kind,
            path: None,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The text for Collect's screen: Chinese first, the English after it, with the path.
    pub fn message(&self) -> String {
        match &self.path {
            Some(p) => format!("{}（{p}）\n{} ({p})", self.zh, self.en),
            None => format!("{}\n{}", self.zh, self.en),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.en),
            None => f.write_str(&self.en),
        }
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_holds_both_languages_and_the_path() {
        let p = Problem::new(Kind::Invalid, "不是日期", "not a date").at("/data/birth_date");
        assert_eq!(
            p.message(),
            "不是日期（/data/birth_date）\nnot a date (/data/birth_date)"
        );
        assert_eq!(p.to_string(), "/data/birth_date: not a date");
    }
}
