//! Texts of a form in both languages. The registry's names (fields, values, form titles) come
//! from the one list every front end reads (`fieldsync_protocol::labels`); survey definitions
//! bring their own words, hence an owned text.

use fieldsync_protocol::labels::{self, Label};

/// A text in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl From<Label> for Text {
    fn from(l: Label) -> Self {
        Text::new(l.zh, l.en)
    }
}

/// A field's label; `None` for a name no one is shown.
pub fn field(name: &str) -> Option<Text> {
    labels::field(name).map(Text::from)
}

/// An enumeration value's label, by the field it belongs to.
pub fn value(field: &str, v: &str) -> Option<Text> {
    labels::value(field, v).map(Text::from)
}

/// The title of a registry form.
pub fn form_title(form_id: &str) -> Option<Text> {
    labels::form_title(form_id).map(Text::from)
}
